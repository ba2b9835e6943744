/** Messages for the LoRA bank (src/bank). */
export const bankMessages = {
  'bank.not-found': (d: { name: string }) => `no LoRA named "${d.name}" in the bank. Try \`bank search ${d.name}\`.`,
};
