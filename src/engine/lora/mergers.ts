/**
 * The compact ZipLoRA artifact: the merger vectors alone, one per LoRA per adapted
 * module, in a small safetensors file (for SDXL's 560 attention projections about
 * 0.8M values per LoRA, a few MB), instead of a merged model.
 *
 * Layout: tensor `<module target>.m.<k>` = m_k [in] for the k-th LoRA of `roles`
 * (0 = subject, 1 = style for a pair); `__metadata__.zipbank_mergers` is JSON
 * { format: 'zipbank-mergers', version: 1, roles }, plus free-form metadata.
 *
 * @example
 *   await writeMergers('zip.safetensors', { roles: ['subject', 'style'], vectors: new Map([[target, [mc, ms]]]) });
 *   const z = await readMergers('zip.safetensors');
 *   roleCoefficients(z, 1).get(target);   // ms
 */
import { writeFile } from 'node:fs/promises';
import { ZipbankError } from '../../errors/index.ts';
import { fromFloat32 } from '../weights/dtype.ts';
import { SafetensorsFile, encodeSafetensors, type TensorToWrite } from '../weights/safetensors.ts';

export const MERGERS_KEY = 'zipbank_mergers';

export interface MergerSet {
  /** What each LoRA is, in order, e.g. ['subject', 'style']. */
  roles: string[];
  /** Per module target, one vector per role. */
  vectors: Map<string, Float32Array[]>;
  metadata?: Record<string, string>;
}

export interface WriteMergersOptions {
  /** Default 'F32'. */
  dtype?: 'F32' | 'F16';
}

const NAME = /^(.+)\.m\.(\d+)$/;

/** Serialise merger vectors to safetensors bytes. */
export function encodeMergers(set: MergerSet, o: WriteMergersOptions = {}): Buffer {
  const dtype = o.dtype ?? 'F32';
  if (set.roles.length === 0) throw new RangeError('encodeMergers: no roles');
  const tensors: TensorToWrite[] = [];
  for (const [target, vs] of [...set.vectors].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (vs.length !== set.roles.length) throw new RangeError(`encodeMergers: ${target} has ${vs.length} vectors for ${set.roles.length} roles`);
    vs.forEach((v, k) => {
      if (v.length !== vs[0]!.length) throw new RangeError(`encodeMergers: ${target}: vectors of different lengths`);
      tensors.push({ name: `${target}.m.${k}`, dtype, shape: [v.length], data: fromFloat32(v, dtype) });
    });
  }
  const metadata = { ...set.metadata, [MERGERS_KEY]: JSON.stringify({ format: 'zipbank-mergers', version: 1, roles: set.roles }) };
  return encodeSafetensors(tensors, metadata);
}

export async function writeMergers(file: string, set: MergerSet, o: WriteMergersOptions = {}): Promise<void> {
  await writeFile(file, encodeMergers(set, o));
}

function rolesOf(file: string, metadata: Record<string, string>): string[] {
  const raw = metadata[MERGERS_KEY];
  if (raw === undefined) throw new ZipbankError('lora.bad-mergers', { file, reason: `its metadata has no "${MERGERS_KEY}" entry (is it a LoRA rather than a merger file?)` });
  let info: unknown;
  try {
    info = JSON.parse(raw);
  } catch {
    throw new ZipbankError('lora.bad-mergers', { file, reason: `"${MERGERS_KEY}" is not JSON` });
  }
  const roles = (info as { roles?: unknown }).roles;
  if (!Array.isArray(roles) || roles.length === 0 || !roles.every((r) => typeof r === 'string')) {
    throw new ZipbankError('lora.bad-mergers', { file, reason: `"${MERGERS_KEY}" lists no roles` });
  }
  return roles as string[];
}

/** Read and check a merger file: every module has one vector per role, all of one length. */
export async function readMergers(path: string): Promise<MergerSet> {
  const st = await SafetensorsFile.open(path);
  const file = st.header.file;
  try {
    const { [MERGERS_KEY]: _, ...metadata } = st.metadata;
    const roles = rolesOf(file, st.metadata);
    const vectors = new Map<string, Float32Array[]>();
    for (const t of st.tensors) {
      const m = NAME.exec(t.name);
      const k = m ? Number(m[2]) : -1;
      if (!m || k >= roles.length) throw new ZipbankError('lora.bad-mergers', { file, reason: `tensor "${t.name}" is not <module>.m.<0..${roles.length - 1}>` });
      if (t.shape.length !== 1) throw new ZipbankError('lora.bad-mergers', { file, reason: `tensor "${t.name}" has shape [${t.shape.join(', ')}]; a merger vector is 1-D` });
      const list = vectors.get(m[1]!) ?? [];
      list[k] = await st.readFloat32(t.name);
      vectors.set(m[1]!, list);
    }
    for (const [target, vs] of vectors) {
      const missing = roles.findIndex((_r, k) => vs[k] === undefined);
      if (missing >= 0) throw new ZipbankError('lora.bad-mergers', { file, reason: `${target} has no vector for the ${roles[missing]} LoRA` });
      if (vs.some((v) => v.length !== vs[0]!.length)) throw new ZipbankError('lora.bad-mergers', { file, reason: `${target} has vectors of different lengths` });
    }
    return { roles, vectors, metadata };
  } finally {
    await st.close();
  }
}

/** The vectors of one LoRA (by role index or name), by module target. */
export function roleCoefficients(set: MergerSet, role: number | string): Map<string, Float32Array> {
  const k = typeof role === 'number' ? role : set.roles.indexOf(role);
  if (k < 0 || k >= set.roles.length) throw new RangeError(`roleCoefficients: no role ${String(role)} in ${set.roles.join(', ')}`);
  return new Map([...set.vectors].map(([t, vs]) => [t, vs[k]!]));
}
