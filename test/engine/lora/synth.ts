/** Test helper: write small synthetic safetensors files from a name -> shape spec. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fromFloat32 } from '../../../src/engine/weights/dtype.ts';
import { encodeSafetensors } from '../../../src/engine/weights/safetensors.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'zipbank-lora-'));
let counter = 0;

export type Spec = Record<string, number[] | { shape: number[]; dtype?: 'F32' | 'F16' | 'BF16' | 'I32'; values?: number[] }>;

/** Deterministic pseudo-random values in [-1, 1). */
export function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

/** Write a safetensors file; tensors get deterministic values unless given. */
export function synth(spec: Spec, metadata: Record<string, string> = {}, name = `f${counter++}.safetensors`): string {
  let seed = 1;
  const tensors = Object.entries(spec).map(([n, s]) => {
    const o = Array.isArray(s) ? { shape: s } : s;
    const dtype = o.dtype ?? 'F32';
    const count = o.shape.reduce((a, x) => a * x, 1);
    const v = o.values ? Float32Array.from(o.values) : values(count, seed++);
    const data = dtype === 'I32' ? new Uint8Array(Int32Array.from(v).buffer) : fromFloat32(v, dtype);
    return { name: n, dtype, shape: o.shape, data };
  });
  const file = path.join(dir, name);
  writeFileSync(file, encodeSafetensors(tensors, metadata));
  return file;
}

/** kohya LoRA factor shapes for a linear module. */
export function kohyaLinear(key: string, out: number, inp: number, r: number, alpha?: number): Spec {
  return {
    [`${key}.lora_down.weight`]: [r, inp],
    [`${key}.lora_up.weight`]: [out, r],
    ...(alpha !== undefined ? { [`${key}.alpha`]: { shape: [], values: [alpha] } } : {}),
  };
}
