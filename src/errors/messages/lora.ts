/** Messages for LoRA format reading, detection and application (src/engine/lora). */
export const loraMessages = {
  'lora.not-lora': (d: { file: string; reason: string }) =>
    `${d.file} is not a LoRA zipbank can read: ${d.reason}.`,
};
