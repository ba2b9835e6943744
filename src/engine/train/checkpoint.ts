/**
 * Training checkpoints as one safetensors file: every parameter (`param/<name>`),
 * Adam's moments (`adam.m/<name>`, `adam.v/<name>`), and in the metadata the step,
 * Adam's t and the caller's JSON (seed, data position, losses). Written to a
 * `.partial` file and renamed, so a run killed while saving keeps the previous one.
 *
 * @example
 *   await saveCheckpoint('out/vae.ckpt.safetensors', trainer.checkpoint({ seed: 1 }));
 *   const c = await loadCheckpoint('out/vae.ckpt.safetensors');   // undefined if absent
 *   if (c) trainer.restore(c);
 */
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SafetensorsFile, encodeSafetensors, type TensorToWrite } from '../weights/safetensors.ts';
import type { AdamState } from './adam.ts';

export interface Checkpoint {
  /** Optimiser updates done. */
  step: number;
  params: Map<string, { values: Float32Array; shape: number[] }>;
  adam: AdamState;
  meta: Record<string, unknown>;
}

const bytes = (v: Float32Array) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

export async function saveCheckpoint(path: string, c: Checkpoint): Promise<void> {
  const tensors: TensorToWrite[] = [];
  for (const [name, p] of c.params) {
    tensors.push({ name: `param/${name}`, dtype: 'F32', shape: p.shape, data: bytes(p.values) });
    const m = c.adam.m.get(name);
    const v = c.adam.v.get(name);
    if (m && v) {
      tensors.push({ name: `adam.m/${name}`, dtype: 'F32', shape: p.shape, data: bytes(m) });
      tensors.push({ name: `adam.v/${name}`, dtype: 'F32', shape: p.shape, data: bytes(v) });
    }
  }
  const metadata = { format: 'zipbank-checkpoint-1', step: String(c.step), adam_t: String(c.adam.t), meta: JSON.stringify(c.meta) };
  await mkdir(dirname(path), { recursive: true });
  const partial = `${path}.partial`;
  try {
    await writeFile(partial, encodeSafetensors(tensors, metadata));
    await rename(partial, path);
  } catch (e) {
    await rm(partial, { force: true });
    throw e;
  }
}

/** The checkpoint at `path`, or undefined when there is none. */
export async function loadCheckpoint(path: string): Promise<Checkpoint | undefined> {
  try {
    await stat(path);
  } catch {
    return undefined;
  }
  const f = await SafetensorsFile.open(path);
  try {
    const md = f.metadata;
    if (md.format !== 'zipbank-checkpoint-1') throw new Error(`${path} is not a zipbank training checkpoint (metadata format ${md.format ?? 'missing'})`);
    const params = new Map<string, { values: Float32Array; shape: number[] }>();
    const m = new Map<string, Float32Array>();
    const v = new Map<string, Float32Array>();
    for (const t of f.tensors) {
      const slash = t.name.indexOf('/');
      const kind = t.name.slice(0, slash);
      const name = t.name.slice(slash + 1);
      const values = await f.readFloat32(t.name);
      if (kind === 'param') params.set(name, { values, shape: [...t.shape] });
      else if (kind === 'adam.m') m.set(name, values);
      else if (kind === 'adam.v') v.set(name, values);
    }
    return { step: Number(md.step), params, adam: { t: Number(md.adam_t), m, v }, meta: JSON.parse(md.meta ?? '{}') as Record<string, unknown> };
  } finally {
    await f.close();
  }
}
