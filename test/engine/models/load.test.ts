import { cp, mkdtemp, readFile, rm, truncate, unlink, writeFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isZipbankError } from '../../../src/errors/index.ts';
import { buildClipTextGraph } from '../../../src/engine/models/clip/graph.ts';
import { openModelFolder } from '../../../src/engine/models/load.ts';
import { writeRandomModel } from '../../../src/engine/models/random.ts';
import { ClipTokenizer } from '../../../src/engine/pipeline/tokenizer.ts';
import { tensor } from '../../../src/engine/runtime/index.ts';
import { SafetensorsFile, encodeSafetensors, type TensorToWrite } from '../../../src/engine/weights/safetensors.ts';
import { fromFloat32, toFloat32 } from '../../../src/engine/weights/dtype.ts';
import { maxAbsDiff } from '../onnx/reference.ts';
import { runModel } from './graph-support.ts';

let work: string;
let fp32: string;
let fp16: string;
let sdxl: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'zipbank-load-'));
  fp32 = path.join(work, 'fp32');
  fp16 = path.join(work, 'fp16');
  sdxl = path.join(work, 'sdxl');
  await writeRandomModel({ preset: 'tiny-sd15', seed: 4, out: fp32 });
  await writeRandomModel({ preset: 'tiny-sd15', seed: 4, out: fp16, dtype: 'fp16' });
  await writeRandomModel({ preset: 'tiny-sdxl', seed: 4, out: sdxl, dtype: 'fp16' });
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

let copies = 0;
async function copyOf(src: string): Promise<string> {
  const dir = path.join(work, `case-${copies++}`);
  await cp(src, dir, { recursive: true });
  return dir;
}

/** Rewrites a safetensors file with its tensors edited. */
async function rewrite(file: string, edit: (tensors: TensorToWrite[]) => TensorToWrite[]): Promise<void> {
  const f = await SafetensorsFile.open(file);
  const tensors: TensorToWrite[] = [];
  for (const t of f.tensors) tensors.push({ name: t.name, dtype: t.dtype, shape: [...t.shape], data: await f.readRaw(t.name) });
  await f.close();
  await writeFile(file, encodeSafetensors(edit(tensors)));
}

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    if (isZipbankError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected a ZipbankError');
}

const TE = 'text_encoder/model.safetensors';
const UNET = 'unet/diffusion_pytorch_model.safetensors';

describe('openModelFolder: good folders', () => {
  it('opens an fp32 folder: configs, checked weights, tokenizer and scheduler paths', async () => {
    const m = await openModelFolder(fp32);
    expect(m.root).toBe(fp32);
    expect(Object.keys(m.components).sort()).toEqual(['textEncoder', 'unet', 'vae']);
    expect(m.components.unet!).toMatchObject({ folder: 'unet', variant: 'plain', dtypes: ['F32'], ignored: [] });
    expect(m.components.unet!.files.map((f) => f.location)).toEqual([UNET]);
    expect(m.components.textEncoder!.weights.get('text_model.final_layer_norm.weight')).toMatchObject({ dtype: 'float32', shape: [32], external: { location: TE } });
    expect(m.tokenizer).toBe(path.join(fp32, 'tokenizer'));
    expect(m.scheduler).toBe(path.join(fp32, 'scheduler'));
    expect(m.tokenizer2).toBeUndefined();
  });

  it.each([
    ['fp16 folder, auto', 'fp16', 'auto', 'fp16', 'F16'],
    ['fp16 folder, fp16', 'fp16', 'fp16', 'fp16', 'F16'],
    ['fp32 folder, fp32', 'fp32', 'fp32', 'plain', 'F32'],
  ] as const)('%s', async (_label, which, variant, found, dtype) => {
    const m = await openModelFolder(which === 'fp16' ? fp16 : fp32, { variant });
    for (const c of Object.values(m.components)) expect(c).toMatchObject({ variant: found, dtypes: [dtype] });
  });

  it('opens only the components asked for', async () => {
    const m = await openModelFolder(sdxl, { components: ['textEncoder2'] });
    expect(Object.keys(m.components)).toEqual(['textEncoder2']);
    expect(m.tokenizer2).toBe(path.join(sdxl, 'tokenizer_2'));
  });

  it('graphs built on its weights run from external data, fp16 files matching fp32 files', async () => {
    const ids = (await ClipTokenizer.fromFolder(path.join(fp32, 'tokenizer'))).encodeForModel('a corgi').ids;
    const outs = [];
    for (const dir of [fp32, fp16]) {
      const m = await openModelFolder(dir);
      const g = buildClipTextGraph(m.configs.textEncoder!, { weights: m.components.textEncoder!.weights });
      outs.push(await runModel(g.model, { input_ids: tensor('int32', ids, [1, 77]) }, m.root));
    }
    expect(maxAbsDiff(outs[0]!.last_hidden_state!.data, outs[1]!.last_hidden_state!.data)).toBeLessThan(1e-2);
  });

  it('BF16 weights are accepted and cast in-graph', async () => {
    const dir = await copyOf(fp32);
    await rewrite(path.join(dir, TE), (ts) => ts.map((t) => ({ ...t, dtype: 'BF16', data: fromFloat32(toFloat32(t.data, 'F32'), 'BF16') })));
    const ids = tensor('int32', new Int32Array(77).fill(49407).fill(49406, 0, 1), [1, 77]);
    const outs = [];
    for (const d of [fp32, dir]) {
      const m = await openModelFolder(d);
      const g = buildClipTextGraph(m.configs.textEncoder!, { weights: m.components.textEncoder!.weights });
      outs.push(await runModel(g.model, { input_ids: ids }, m.root));
      if (d === dir) expect(m.components.textEncoder!.dtypes).toEqual(['BF16']);
    }
    expect(maxAbsDiff(outs[0]!.pooled_output!.data, outs[1]!.pooled_output!.data)).toBeLessThan(5e-2);
  });

  it('reads sharded weights through the index', async () => {
    const dir = await copyOf(fp32);
    const whole = await SafetensorsFile.open(path.join(dir, UNET));
    const all: TensorToWrite[] = [];
    for (const t of whole.tensors) all.push({ name: t.name, dtype: t.dtype, shape: [...t.shape], data: await whole.readRaw(t.name) });
    await whole.close();
    const half = Math.floor(all.length / 2);
    const shards = [all.slice(0, half), all.slice(half)];
    const names = ['diffusion_pytorch_model-00001-of-00002.safetensors', 'diffusion_pytorch_model-00002-of-00002.safetensors'];
    const weightMap: Record<string, string> = {};
    for (const [i, shard] of shards.entries()) {
      await writeFile(path.join(dir, 'unet', names[i]!), encodeSafetensors(shard));
      for (const t of shard) weightMap[t.name] = names[i]!;
    }
    await unlink(path.join(dir, UNET));
    await writeFile(path.join(dir, 'unet/diffusion_pytorch_model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const m = await openModelFolder(dir);
    expect(m.components.unet!.files.map((f) => f.location)).toEqual(names.map((n) => `unet/${n}`));
    expect(m.components.unet!.weights.get(all.at(-1)!.name)!.external!.location).toBe(`unet/${names[1]}`);

    weightMap[all[0]!.name] = names[1]!;
    await writeFile(path.join(dir, 'unet/diffusion_pytorch_model.safetensors.index.json'), JSON.stringify({ weight_map: weightMap }));
    const e = await failure(openModelFolder(dir));
    expect(e.code).toBe('model.bad-shard-index');
    expect(e.message).toContain(`puts tensor ${all[0]!.name} in unet/${names[1]}`);
  });

  it('tolerates the position_ids buffer and legacy VAE attention names', async () => {
    const dir = await copyOf(fp32);
    await rewrite(path.join(dir, TE), (ts) => [...ts, { name: 'text_model.embeddings.position_ids', dtype: 'I64', shape: [1, 77], data: new Uint8Array(77 * 8) }]);
    const legacy: Record<string, string> = { to_q: 'query', to_k: 'key', to_v: 'value', 'to_out.0': 'proj_attn' };
    await rewrite(path.join(dir, 'vae/diffusion_pytorch_model.safetensors'), (ts) =>
      ts.map((t) => ({ ...t, name: t.name.replace(/attentions\.0\.(to_q|to_k|to_v|to_out\.0)\./, (_m, p: string) => `attentions.0.${legacy[p]}.`) })),
    );
    const m = await openModelFolder(dir);
    expect(m.components.textEncoder!.ignored).toEqual(['text_model.embeddings.position_ids']);
    expect(m.components.vae!.weights.get('decoder.mid_block.attentions.0.to_out.0.weight')).toBeDefined();
  });
});

describe('openModelFolder: bad folders name the file and the tensor', () => {
  const cases: [string, (dir: string) => Promise<void>, string, RegExp][] = [
    ['missing weights file', (d) => unlink(path.join(d, 'vae/diffusion_pytorch_model.safetensors')), 'model.missing-weights',
      /no vae weights: none of vae\/diffusion_pytorch_model\.safetensors, vae\/diffusion_pytorch_model\.safetensors\.index\.json, vae\/diffusion_pytorch_model\.fp16\.safetensors/],
    ['only a .bin', async (d) => { await unlink(path.join(d, UNET)); await writeFile(path.join(d, 'unet/diffusion_pytorch_model.bin'), 'x'); }, 'model.missing-weights', /found unet\/diffusion_pytorch_model\.bin; zipbank reads \.safetensors only/],
    ['wrong shape', (d) => rewrite(path.join(d, TE), (ts) => ts.map((t) => (t.name.endsWith('layers.0.mlp.fc1.weight') ? { ...t, shape: [32, 64] } : t))), 'model.tensor-shape',
      /^text_encoder\/model\.safetensors: tensor text_model\.encoder\.layers\.0\.mlp\.fc1\.weight has shape \[32, 64\], the config expects \[64, 32\]/],
    ['truncated', async (d) => { await truncate(path.join(d, UNET), (await stat(path.join(d, UNET))).size - 100); }, 'safetensors.truncated', /^unet\/diffusion_pytorch_model\.safetensors is truncated: tensor "/],
    ['extra tensor', (d) => rewrite(path.join(d, TE), (ts) => [...ts, { name: 'text_model.extra.weight', dtype: 'F32', shape: [2], data: new Uint8Array(8) }]), 'model.unexpected-tensor',
      /^text_encoder\/model\.safetensors: unexpected tensor text_model\.extra\.weight:/],
    ['missing tensors', (d) => rewrite(path.join(d, TE), (ts) => ts.filter((t) => !t.name.includes('layers.1.mlp'))), 'model.missing-tensor',
      /^text_encoder\/model\.safetensors: missing tensor text_model\.encoder\.layers\.1\.mlp\.fc1\.weight \[64, 32\] \(and 3 more\)/],
    ['integer weights', (d) => rewrite(path.join(d, TE), (ts) => ts.map((t) => (t.name === 'text_model.final_layer_norm.bias' ? { ...t, dtype: 'I32' } : t))), 'model.tensor-dtype',
      /tensor text_model\.final_layer_norm\.bias is I32; model weights must be F32, F16 or BF16/],
    ['unsupported config', async (d) => { const f = path.join(d, 'vae/config.json'); await writeFile(f, (await readFile(f, 'utf8')).replace('"act_fn": "silu"', '"act_fn": "gelu"')); }, 'engine.unsupported-config', /vae\/config\.json: act_fn = "gelu" is not supported/],
    ['no model_index.json', (d) => unlink(path.join(d, 'model_index.json')), 'model.missing-file', /cannot read model_index\.json \(file not found\)/],
  ];

  it.each(cases)('%s', async (_label, damage, code, message) => {
    const dir = await copyOf(fp32);
    await damage(dir);
    const e = await failure(openModelFolder(dir));
    expect(e.code).toBe(code);
    expect(e.message).toMatch(message);
  });

  it('variant fp16 on a folder with only fp32 files lists what it tried', async () => {
    const e = await failure(openModelFolder(fp32, { variant: 'fp16' }));
    expect(e.code).toBe('model.missing-weights');
    expect(e.message).toContain('unet/diffusion_pytorch_model.fp16.safetensors, unet/diffusion_pytorch_model.safetensors.index.fp16.json');
    const f = await failure(openModelFolder(fp16, { variant: 'fp32' }));
    expect(f.message).toContain('found unet/diffusion_pytorch_model.fp16.safetensors');
  });
});
