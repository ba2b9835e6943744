/**
 * Moving the world model to a GPU machine for more training and back
 * (bench/gpu-train.sh runs the training there, tools/world-device.ts is the command
 * line; docs/gpu.md):
 *
 * packWorldModel writes a small copy of the model folder: UNet and VAE weights as float16
 * (the training upcasts; the copy is a starting point, not the shipped model), and
 * the text encoder with only the token-embedding rows that the base split's captions
 * (for --images renders) use; the other rows are zeros, so they compress to nothing.
 * Their ids go to DEST/transport.json.
 *
 * mergeWorldModel takes what the GPU machine returned (RETURNED/unet.safetensors,
 * text_encoder.safetensors, classifier/, world-denoiser.json, world-classifier.json;
 * each optional) into the model folder: trained tensors as returned (float32); of the
 * token table only the packed rows (the others keep their float32 values); world.json
 * gets the returned `base.continued` rounds and the retrained classifier's entry.
 * Every tensor's name and shape is checked before anything is written.
 */
import { copyFile, cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ClipTokenizer } from '../engine/pipeline/tokenizer.ts';
import { fromFloat32 } from '../engine/weights/dtype.ts';
import { SafetensorsFile, encodeSafetensors, type TensorToWrite } from '../engine/weights/safetensors.ts';
import { deriveSeed } from './rng.ts';
import { captionOf } from './scene.ts';
import { sampleBaseScene } from './split.ts';
import { Classifier } from '../engine/train/classifier.ts';
import type { WorldReport } from './train.ts';
import { pathExists } from '../util/fs.ts';

const TOKEN_TABLE = 'text_model.embeddings.token_embedding.weight';
const FILES = { unet: 'unet/diffusion_pytorch_model.safetensors', text: 'text_encoder/model.safetensors', vae: 'vae/diffusion_pytorch_model.safetensors' };

type Tensors = Map<string, { values: Float32Array; shape: number[] }>;

async function read(file: string): Promise<{ tensors: Tensors; metadata: Record<string, string> }> {
  const f = await SafetensorsFile.open(file);
  try {
    const tensors: Tensors = new Map();
    for (const t of f.tensors) tensors.set(t.name, { values: await f.readFloat32(t.name), shape: [...t.shape] });
    return { tensors, metadata: { ...f.metadata } };
  } finally {
    await f.close();
  }
}

async function write(file: string, t: Tensors, metadata: Record<string, string>, dtype: 'F32' | 'F16'): Promise<void> {
  const list: TensorToWrite[] = [...t].map(([name, v]) => ({ name, dtype, shape: v.shape, data: fromFloat32(v.values, dtype) }));
  try {
    await writeFile(`${file}.partial`, encodeSafetensors(list, metadata));
    await rename(`${file}.partial`, file);
  } catch (e) {
    await rm(`${file}.partial`, { force: true });
    throw e;
  }
}

/** Token ids of every caption of the first `n` base-split scenes (as trainWorld renders them), and of the empty caption. */
export async function captionTokenIds(model: string, n: number, seed = 1): Promise<number[]> {
  const tok = await ClipTokenizer.fromFolder(join(model, 'tokenizer'));
  const ids = new Set<number>(tok.encodeForModel('').ids);
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const c = captionOf(sampleBaseScene(deriveSeed(seed, `base:${i}`)), { color: (deriveSeed(seed, `color:${i}`) & 1) === 1 });
    if (seen.has(c)) continue;
    seen.add(c);
    for (const id of tok.encodeForModel(c).ids) ids.add(id);
  }
  return [...ids].sort((a, b) => a - b);
}

/** See the file comment. Returns the packed token rows. */
export async function packWorldModel(model: string, dest: string, images: number): Promise<number[]> {
  await rm(dest, { recursive: true, force: true });
  for (const d of ['unet', 'vae', 'text_encoder']) {
    await mkdir(join(dest, d), { recursive: true });
    await copyFile(join(model, d, 'config.json'), join(dest, d, 'config.json'));
  }
  await cp(join(model, 'tokenizer'), join(dest, 'tokenizer'), { recursive: true });
  await cp(join(model, 'scheduler'), join(dest, 'scheduler'), { recursive: true });
  await copyFile(join(model, 'model_index.json'), join(dest, 'model_index.json'));
  await copyFile(join(model, 'world.json'), join(dest, 'world.json')).catch(() => {});
  for (const k of ['unet', 'vae'] as const) {
    const { tensors, metadata } = await read(join(model, FILES[k]));
    await write(join(dest, FILES[k]), tensors, metadata, 'F16');
  }
  const rows = await captionTokenIds(model, images);
  const { tensors, metadata } = await read(join(model, FILES.text));
  const table = tensors.get(TOKEN_TABLE);
  if (!table) throw new Error(`${model}/${FILES.text} has no ${TOKEN_TABLE}`);
  const hidden = table.shape[1]!;
  const kept = new Float32Array(table.values.length);
  for (const r of rows) kept.set(table.values.subarray(r * hidden, (r + 1) * hidden), r * hidden);
  tensors.set(TOKEN_TABLE, { values: kept, shape: table.shape });
  await write(join(dest, FILES.text), tensors, metadata, 'F16');
  await writeFile(join(dest, 'transport.json'), `${JSON.stringify({ images, rows }, null, 1)}\n`);
  return rows;
}

function sameShapes(a: Tensors, b: Tensors, what: string): void {
  for (const [n, t] of a) {
    const o = b.get(n);
    if (!o) throw new Error(`${what}: the returned file lacks ${n}`);
    if (o.shape.join('x') !== t.shape.join('x')) throw new Error(`${what}: ${n} is [${o.shape}] in the returned file, [${t.shape}] in the model`);
  }
  if (b.size !== a.size) throw new Error(`${what}: the returned file has ${b.size} tensors, the model ${a.size}`);
}

/** One part of a merge: written beside its target first, swapped in only when every part is ready. */
/** A part written beside its target (`<target>.merge-partial`, a file or a folder) before any is swapped in. */
interface Staged {
  target: string;
  prepare(partial: string): Promise<void>;
}

function stagedFile(file: string, t: Tensors, metadata: Record<string, string>): Staged {
  return {
    target: file,
    prepare: async (partial) => {
      const list: TensorToWrite[] = [...t].map(([name, v]) => ({ name, dtype: 'F32', shape: v.shape, data: fromFloat32(v.values, 'F32') }));
      await writeFile(partial, encodeSafetensors(list, metadata));
    },
  };
}

/** File-system moves, replaceable in tests to make a swap fail half way. */
export interface MergeIo {
  rename(from: string, to: string): Promise<void>;
}

/**
 * Prepares every part beside its target, then swaps them all in, keeping the old ones
 * as `<target>.merge-old` until the last swap is done: if any step fails, the parts
 * already swapped in are put back and every partial file removed, so the folder is as
 * it was.
 */
async function swapIn(staged: readonly Staged[], io: MergeIo): Promise<void> {
  const partial = (st: Staged) => `${st.target}.merge-partial`;
  const old = (st: Staged) => `${st.target}.merge-old`;
  const clean = async (path: string) => rm(path, { recursive: true, force: true });
  for (const st of staged) {
    await clean(partial(st));
    await clean(old(st));
  }
  try {
    for (const st of staged) await st.prepare(partial(st));
  } catch (e) {
    for (const st of staged) await clean(partial(st)).catch(() => {});
    throw e;
  }
  try {
    for (const st of staged) {
      if (await pathExists(st.target)) await io.rename(st.target, old(st));
      await io.rename(partial(st), st.target);
    }
  } catch (e) {
    const failures: string[] = [];
    for (const st of staged) {
      try {
        if (await pathExists(old(st))) {
          await clean(st.target);
          await io.rename(old(st), st.target);
        }
        await clean(partial(st));
      } catch (err) {
        failures.push(`${st.target}: ${(err as Error).message}`);
      }
    }
    const msg = (e as Error).message;
    throw new Error(
      failures.length === 0
        ? `merge: swapping the new parts in failed (${msg}); the model folder is unchanged`
        : `merge: swapping the new parts in failed (${msg}), and putting back the old ones failed too: ${failures.join('; ')}. The old parts are the *.merge-old files beside them`,
    );
  }
  for (const st of staged) await clean(old(st));
}

/**
 * See the file comment. Returns the parts merged (unet, text_encoder, classifier). Every
 * part is checked and written beside the model first (the classifier is loaded back);
 * only then are they swapped in, so a bad or unreadable part changes nothing; a swap that
 * fails half way puts the old parts back.
 */
export async function mergeWorldModel(model: string, returned: string, rowsFile?: string, io: MergeIo = { rename }): Promise<string[]> {
  const staged: Staged[] = [];
  const parts: string[] = [];
  const unetBack = join(returned, 'unet.safetensors');
  if (await pathExists(unetBack)) {
    const mine = await read(join(model, FILES.unet));
    const back = await read(unetBack);
    sameShapes(mine.tensors, back.tensors, 'unet');
    staged.push(stagedFile(join(model, FILES.unet), back.tensors, back.metadata));
    parts.push('unet');
  }
  const textBack = join(returned, 'text_encoder.safetensors');
  if (await pathExists(textBack)) {
    const mine = await read(join(model, FILES.text));
    const back = await read(textBack);
    sameShapes(mine.tensors, back.tensors, 'text_encoder');
    const { rows } = JSON.parse(await readFile(rowsFile ?? join(returned, 'transport.json'), 'utf8')) as { rows: number[] };
    const table = mine.tensors.get(TOKEN_TABLE)!;
    const hidden = table.shape[1]!;
    const merged = table.values.slice();
    const trained = back.tensors.get(TOKEN_TABLE)!.values;
    for (const r of rows) merged.set(trained.subarray(r * hidden, (r + 1) * hidden), r * hidden);
    back.tensors.set(TOKEN_TABLE, { values: merged, shape: table.shape });
    staged.push(stagedFile(join(model, FILES.text), back.tensors, back.metadata));
    parts.push('text_encoder');
  }
  const clsBack = join(returned, 'classifier');
  if (await pathExists(join(clsBack, 'model.safetensors'))) {
    staged.push({
      target: join(model, 'classifier'),
      prepare: async (partial) => {
        await cp(clsBack, partial, { recursive: true });
        // Every tensor the config names, with its shape: load it.
        await (await Classifier.load(partial)).close();
      },
    });
    parts.push('classifier');
  }
  const reportPath = join(model, 'world.json');
  const report = JSON.parse(await readFile(reportPath, 'utf8')) as WorldReport;
  const den = join(returned, 'world-denoiser.json');
  if (await pathExists(den)) {
    const r = JSON.parse(await readFile(den, 'utf8')) as WorldReport;
    const known = new Set((report.base.continued ?? []).map((c) => c.at));
    report.base.continued = [...(report.base.continued ?? []), ...(r.base.continued ?? []).filter((c) => !known.has(c.at))];
  }
  const cls = join(returned, 'world-classifier.json');
  if (await pathExists(cls)) report.classifier = (JSON.parse(await readFile(cls, 'utf8')) as WorldReport).classifier;
  staged.push({ target: reportPath, prepare: (partial) => writeFile(partial, `${JSON.stringify(report, null, 2)}\n`) });
  await swapIn(staged, io);
  return parts;
}

