/** Messages for safetensors parsing and validation (src/engine/weights). */
const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

export const safetensorsMessages = {
  'safetensors.empty': (d: { file: string }) =>
    `${d.file} is empty (0 bytes). Upload the .safetensors file again; the transfer may have failed.`,
  'safetensors.too-small': (d: { file: string; size: number }) =>
    `${d.file} is only ${d.size} bytes: too small to hold a safetensors header. It is not a safetensors file, or it was cut off.`,
  'safetensors.pickle': (d: { file: string; kind: 'pickle' | 'zip' }) =>
    `${d.file} is a ${d.kind === 'zip' ? 'PyTorch zip checkpoint (.pt/.ckpt/.bin)' : 'Python pickle'}, not safetensors, whatever its name says. ` +
    `Pickle files can run code when loaded, so they are refused. Convert it to .safetensors first (for example with the safetensors library's convert script).`,
  'safetensors.header-too-large': (d: { file: string; headerLength: number; limit: number }) =>
    `${d.file}: the header claims ${d.headerLength} bytes, over the ${mib(d.limit)} limit. This is not a valid safetensors file.`,
  'safetensors.header-past-eof': (d: { file: string; headerLength: number; size: number }) =>
    `${d.file}: the header claims ${d.headerLength} bytes but the file has only ${d.size} bytes. The file is truncated or not safetensors.`,
  'safetensors.header-json': (d: { file: string; reason: string }) =>
    `${d.file}: the header is not valid JSON (${d.reason}). The file is corrupt or not safetensors.`,
  'safetensors.header-shape': (d: { file: string; reason: string }) =>
    `${d.file}: the header is malformed: ${d.reason}.`,
  'safetensors.unknown-dtype': (d: { file: string; tensor: string; dtype: string }) =>
    `${d.file}: tensor "${d.tensor}" has dtype "${d.dtype}", which zipbank does not know. Supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL, F8_E4M3, F8_E5M2.`,
  'safetensors.span-size': (d: { file: string; tensor: string; shape: number[]; dtype: string; expected: number; actual: number }) =>
    `${d.file}: tensor "${d.tensor}" (${d.dtype} [${d.shape.join(', ')}]) needs ${d.expected} bytes but its span holds ${d.actual}. The header is inconsistent.`,
  'safetensors.truncated': (d: { file: string; tensor: string; end: number; size: number }) =>
    `${d.file} is truncated: tensor "${d.tensor}" ends at byte ${d.end} of ${d.size}. Upload the complete file.`,
  'safetensors.overlap': (d: { file: string; tensor: string; other: string }) =>
    `${d.file}: tensors "${d.tensor}" and "${d.other}" overlap in the file. The header is corrupt.`,
  'safetensors.gap': (d: { file: string; at: number; tensor: string }) =>
    `${d.file}: ${d.at} byte(s) of the data area before tensor "${d.tensor}" belong to no tensor. The file is corrupt (the safetensors format stores tensors back to back).`,
  'safetensors.trailing': (d: { file: string; end: number; size: number }) =>
    `${d.file}: tensor data ends at byte ${d.end} but the file has ${d.size} bytes. The file has trailing garbage or a corrupt header.`,
  'safetensors.no-tensors': (d: { file: string }) => `${d.file} holds no tensors.`,
  'safetensors.io': (d: { file: string; reason: string }) => `cannot read ${d.file}: ${d.reason}`,
  'safetensors.missing-tensor': (d: { file: string; tensor: string }) => `${d.file} has no tensor "${d.tensor}".`,
};
