/** Messages for LoRA format reading, detection and application (src/engine/lora). */
const SERVED = 'zipbank serves Stable Diffusion 1.5, 2.x and SDXL LoRAs';
const familyName = (f: string): string =>
  ({ sd15: 'SD 1.5', sd2: 'SD 2.x', sdxl: 'SDXL' })[f] ?? f;
const shape = (s: readonly number[]): string => `[${s.join(', ')}]`;
const list = (xs: readonly string[], n = 3): string =>
  xs.slice(0, n).map((x) => `"${x}"`).join(', ') + (xs.length > n ? ` and ${xs.length - n} more` : '');

export const loraMessages = {
  'lora.not-lora': (d: { file: string; reason: string }) =>
    `${d.file} is not a LoRA zipbank can read: ${d.reason}.`,
  'lora.not-sd': (d: { file: string; architecture: string; evidence: string }) =>
    `${d.file} is a ${d.architecture} LoRA (it has tensors like "${d.evidence}"), not Stable Diffusion; ${SERVED}. ` +
    `Upload a LoRA trained on one of those base models.`,
  'lora.double-prefix': (d: { file: string; prefix: string; example: string }) =>
    `${d.file} has a broken conversion: its tensor names repeat the component prefix ("${d.prefix}", e.g. "${d.example}"). ` +
    `The tool that converted it added the prefix twice. Convert the original LoRA again, or fix the names and upload it again.`,
  'lora.missing-pair': (d: { file: string; module: string; present: string; missing: string }) =>
    `${d.file}: module "${d.module}" has "${d.present}" but no "${d.missing}". The file is incomplete or was cut while converting.`,
  'lora.rank-mismatch': (d: { file: string; module: string; down: number[]; up: number[] }) =>
    `${d.file}: module "${d.module}" has a down factor ${shape(d.down)} and an up factor ${shape(d.up)} of different ranks. The file is corrupt.`,
  'lora.bad-tensor': (d: { file: string; tensor: string; reason: string }) =>
    `${d.file}: tensor "${d.tensor}" ${d.reason}. The file is corrupt or not a LoRA.`,
  'lora.unsupported-algo': (d: { file: string; algo: string; example: string }) =>
    `${d.file} uses ${d.algo} (tensor "${d.example}"), which zipbank cannot apply yet. ` +
    `Supported: LoRA/LoCon, LoHa, LoKr and full-difference modules.`,
  'lora.unknown-module': (d: { file: string; family: string; modules: string[] }) =>
    `${d.file} adapts modules that ${familyName(d.family)} does not have: ${list(d.modules)}. ` +
    `It was trained for another model or converted with the wrong names.`,
  'lora.shape-mismatch': (d: { file: string; family: string; module: string; lora: number[]; base: number[] }) =>
    `${d.file}: module "${d.module}" is ${shape(d.lora)} in the LoRA but ${shape(d.base)} in ${familyName(d.family)}. ` +
    `The LoRA was trained for another base model.`,
  'lora.family-not-served': (d: { file: string; family: string; served: string[] }) =>
    `${d.file} is an ${familyName(d.family)} LoRA; this bank serves ${d.served.map(familyName).join(', ')}. ` +
    `Upload a LoRA for one of those base models.`,
  'lora.inconsistent': (d: { file: string; reason: string }) =>
    `${d.file} mixes tensors of different base models (${d.reason}). It is not a usable LoRA.`,
  'lora.safeloras-order': (d: { file: string; reason: string }) =>
    `${d.file} is a "safeloras" file (cloneofsimo/lora) whose numbered modules cannot be matched to the base model: ${d.reason}. ` +
    `Convert it to the kohya or diffusers format with the tool that trained it.`,
  'lora.bad-spec': (d: { spec: string; reason: string }) =>
    `"${d.spec}" is not a LoRA spec: ${d.reason}. Write file.safetensors or file.safetensors:0.8 (the weight, default 1).`,
  'lora.bad-mergers': (d: { file: string; reason: string }) =>
    `${d.file} does not hold usable merger coefficients: ${d.reason}. Compute them again for these two LoRAs.`,
  'lora.merge-algo': (d: { file: string; module: string; algo: string }) =>
    `${d.file}: module "${d.module}" is ${d.algo}, not a low-rank LoRA; a merge concatenates LoRA factors and never builds dense updates. ` +
    `Merge LoRA/LoCon files, or render the two files together with --lora instead.`,
  'lora.merge-family': (d: { files: string[]; families: string[] }) =>
    `${d.files.join(' and ')} are for different base models (${d.families.map(familyName).join(' and ')}); only LoRAs of the same base model can be merged.`,
  'lora.wrong-model': (d: { file: string; lora: string; model: string }) =>
    `${d.file} is an ${familyName(d.lora)} LoRA (its module names say so); the loaded model is ${familyName(d.model)}-shaped. Use a LoRA trained for this model.`,
};
