import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isZipbankError } from '../../../src/errors/index.ts';
import { openModelFolder } from '../../../src/engine/models/load.ts';
import { clipTextParams } from '../../../src/engine/models/clip/params.ts';
import { presetConfigs } from '../../../src/engine/models/presets.ts';
import { initRules } from '../../../src/engine/models/random-init.ts';
import { writeRandomModel, type RandomModelProgress } from '../../../src/engine/models/random.ts';
import { ClipTokenizer } from '../../../src/engine/pipeline/tokenizer.ts';
import { CLIP_VOCAB_DIR } from '../../../src/engine/pipeline/tokenizer/clip-vocab.ts';
import { SafetensorsFile } from '../../../src/engine/weights/safetensors.ts';
import { floatToHalf, halfToFloat } from '../../../src/engine/weights/dtype.ts';
import { fixture } from '../../support/paths.ts';

let work: string;
const dir = (name: string) => path.join(work, name);

async function hashes(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const rel of (await readdir(root, { recursive: true, withFileTypes: true })).filter((e) => e.isFile())) {
    const full = path.join(rel.parentPath, rel.name);
    out[path.relative(root, full)] = createHash('sha256').update(await readFile(full)).digest('hex');
  }
  return out;
}

const md5 = async (file: string) => createHash('md5').update(await readFile(file)).digest('hex');

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'zipbank-random-'));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('writeRandomModel', () => {
  it('same seed: byte-identical files; another seed: other weights, same configs', async () => {
    await writeRandomModel({ preset: 'tiny-sd15', seed: 11, out: dir('a') });
    await writeRandomModel({ preset: 'tiny-sd15', seed: 11, out: dir('b') });
    await writeRandomModel({ preset: 'tiny-sd15', seed: 12, out: dir('c') });
    const [a, b, c] = await Promise.all([hashes(dir('a')), hashes(dir('b')), hashes(dir('c'))]);
    expect(a).toEqual(b);
    expect(Object.keys(a)).toHaveLength(12);
    for (const [file, h] of Object.entries(a)) {
      if (file.endsWith('.safetensors')) expect(c[file], file).not.toBe(h);
      else expect(c[file], file).toBe(h);
    }
  });

  it('writes the diffusers layout of SD 1.5 and SDXL folders', async () => {
    const r = await writeRandomModel({ preset: 'tiny-sdxl', seed: 1, out: dir('xl'), dtype: 'fp16' });
    expect(r.files).toEqual([
      'model_index.json',
      'scheduler/scheduler_config.json',
      ...['tokenizer', 'tokenizer_2'].flatMap((t) => ['vocab.json', 'merges.txt', 'special_tokens_map.json', 'tokenizer_config.json'].map((f) => `${t}/${f}`)),
      'unet/config.json',
      'text_encoder/config.json',
      'text_encoder_2/config.json',
      'vae/config.json',
      'unet/diffusion_pytorch_model.fp16.safetensors',
      'text_encoder/model.fp16.safetensors',
      'text_encoder_2/model.fp16.safetensors',
      'vae/diffusion_pytorch_model.fp16.safetensors',
    ]);
    const index = JSON.parse(await readFile(dir('xl/model_index.json'), 'utf8')) as Record<string, unknown>;
    expect(index).toMatchObject({ _class_name: 'StableDiffusionXLPipeline', text_encoder_2: ['transformers', 'CLIPTextModelWithProjection'], tokenizer_2: ['transformers', 'CLIPTokenizer'] });
    const scheduler = JSON.parse(await readFile(dir('xl/scheduler/scheduler_config.json'), 'utf8')) as unknown;
    expect(scheduler).toEqual(JSON.parse(await readFile(fixture('models/sdxl-base-1.0/scheduler/scheduler_config.json'), 'utf8')));
    for (const t of ['tokenizer', 'tokenizer_2']) {
      expect(await md5(dir(`xl/${t}/vocab.json`))).toBe('a3933521163a0e76cee6094f1d72a9cc');
      expect(await md5(dir(`xl/${t}/merges.txt`))).toBe('d2bc10797e70c920c14c69729ecdab34');
      for (const f of ['special_tokens_map.json', 'tokenizer_config.json']) {
        expect(JSON.parse(await readFile(dir(`xl/${t}/${f}`), 'utf8')), `${t}/${f}`).toEqual(JSON.parse(await readFile(fixture(`models/sdxl-base-1.0/${t}/${f}`), 'utf8')));
      }
    }
    await writeRandomModel({ preset: 'tiny-sd15', seed: 1, out: dir('sd') });
    const sdIndex = JSON.parse(await readFile(dir('sd/model_index.json'), 'utf8')) as Record<string, unknown>;
    expect(sdIndex).toMatchObject({ _class_name: 'StableDiffusionPipeline', scheduler: ['diffusers', 'PNDMScheduler'], safety_checker: [null, null] });
    expect(JSON.parse(await readFile(dir('sd/scheduler/scheduler_config.json'), 'utf8'))).toEqual(
      JSON.parse(await readFile(fixture('models/sd15/scheduler/scheduler_config.json'), 'utf8')),
    );
  });

  it('the folder loads with openModelFolder and its tokenizers give the reference ids', async () => {
    const m = await openModelFolder(dir('xl'));
    expect(Object.keys(m.components).sort()).toEqual(['textEncoder', 'textEncoder2', 'unet', 'vae']);
    const cases = JSON.parse(await readFile(fixture('clip-tokenizer/cases.json'), 'utf8')) as { padded: { text: string; pad_id: number; max_length: number; ids: number[] }[] };
    const tok = await ClipTokenizer.fromFolder(m.tokenizer!);
    const tok2 = await ClipTokenizer.fromFolder(m.tokenizer2!);
    expect([tok.pad, tok2.pad]).toEqual([49407, 0]);
    for (const c of cases.padded) {
      const t = c.pad_id === 0 ? tok2 : tok;
      expect(Array.from(t.encodeForModel(c.text, { maxLength: c.max_length }).ids), c.text).toEqual(c.ids);
    }
  });

  it('values follow the init rules; fp16 files hold the fp32 values rounded', async () => {
    const f32 = await SafetensorsFile.open(dir('a/text_encoder/model.safetensors'));
    await writeRandomModel({ preset: 'tiny-sd15', seed: 11, out: dir('a16'), dtype: 'fp16' });
    const f16 = await SafetensorsFile.open(dir('a16/text_encoder/model.fp16.safetensors'));
    const rules = initRules(clipTextParams(presetConfigs('tiny-sd15').textEncoder!));
    try {
      for (const t of f32.tensors) {
        const v = await f32.readFloat32(t.name);
        const rule = rules.get(t.name)!;
        if (rule.kind === 'uniform') {
          const center = rule.center ?? 0;
          const peak = v.reduce((m, x) => Math.max(m, Math.abs(x - center)), 0);
          expect(peak, t.name).toBeLessThanOrEqual(rule.bound * (1 + 1e-6));
          expect(peak, t.name).toBeGreaterThan(rule.bound * 0.5);
        } else {
          expect(new Set(v), t.name).toEqual(new Set([0]));
        }
        const half = await f16.readFloat32(t.name);
        let differing = 0;
        for (let i = 0; i < v.length; i++) if (half[i] !== halfToFloat(floatToHalf(v[i]!))) differing++;
        expect(differing, t.name).toBe(0);
      }
      expect(rules.get('text_model.encoder.layers.0.layer_norm1.weight')).toEqual({ kind: 'uniform', bound: 0.1, center: 1 });
      expect(rules.get('text_model.encoder.layers.0.layer_norm1.bias')).toEqual({ kind: 'uniform', bound: 0.1 });
      expect(rules.get('text_model.encoder.layers.0.mlp.fc2.bias')).toEqual({ kind: 'uniform', bound: 1 / 8 });
    } finally {
      await f32.close();
      await f16.close();
    }
  });

  it('reports progress up to the total', async () => {
    const seen: RandomModelProgress[] = [];
    const r = await writeRandomModel({ preset: 'tiny-sd15', out: dir('p'), onProgress: (p) => seen.push({ ...p }) });
    expect(seen.at(-1)!.written).toBe(r.weightBytes);
    expect(seen.every((p, i) => i === 0 || p.written >= seen[i - 1]!.written)).toBe(true);
    expect(new Set(seen.map((p) => p.file)).size).toBe(3);
  });

  it.each([
    ['a non-empty output folder', { preset: 'tiny-sd15', out: 'full' }, 'model.output-not-empty'],
    ['an unknown preset', { preset: 'sd3', out: 'x1' }, 'model.unknown-preset'],
    ['a preset without random support', { preset: 'sd2', out: 'x2' }, 'model.random-preset'],
  ] as const)('refuses %s', async (_label, o, code) => {
    await mkdir(dir('full'), { recursive: true });
    await writeFile(dir('full/keep.txt'), 'x');
    const e = await writeRandomModel({ preset: o.preset, out: dir(o.out) }).then(() => undefined, (err: unknown) => err);
    expect(isZipbankError(e, code)).toBe(true);
  });

  it('ships the tokenizer vocabulary with its licence', async () => {
    expect(await md5(path.join(CLIP_VOCAB_DIR, 'vocab.json'))).toBe('a3933521163a0e76cee6094f1d72a9cc');
    expect(await md5(path.join(CLIP_VOCAB_DIR, 'merges.txt'))).toBe('d2bc10797e70c920c14c69729ecdab34');
    expect(await readFile(path.join(CLIP_VOCAB_DIR, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n\nCopyright \(c\) 2021 OpenAI/);
    expect(CLIP_VOCAB_DIR).not.toContain('shared');
  });
});
