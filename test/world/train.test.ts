/**
 * trainWorld (src/world/train.ts) end to end at a tiny size: datasets rendered and
 * cached, the classifier, the VAE, the text encoder + UNet, the quality check and
 * world.json; the result is a model folder the engine loads and renders with; a
 * second call resumes (nothing retrained). classifierBreakdown on the bundled
 * classifier: per-style and per-class shares consistent with the overall number.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DiffusionPipeline } from '../../src/engine/pipeline/text-to-image.ts';
import { Classifier } from '../../src/engine/train/classifier.ts';
import { BUNDLED_WORLD_MODEL } from '../../src/config.ts';
import { SafetensorsFile } from '../../src/engine/weights/safetensors.ts';
import { BASE_STYLES } from '../../src/world/split.ts';
import { WORLD_SAMPLING } from '../../src/world/sampling.ts';
import { classifierBreakdown, continueDenoiser, refineClassifier, refineDecoder, retrainClassifier, trainWorld, type WorldReport } from '../../src/world/train.ts';

const QUICK = {
  seed: 3,
  baseImages: 48,
  classifierImages: 48,
  classifierSteps: 4,
  classifierBatch: 8,
  classifierTestImages: 16,
  vae: { steps: 3, batch: 2 },
  denoiser: { steps: 3, batch: 2 },
  evalPerCombo: 1,
  evalSteps: 2,
};

describe('trainWorld (tiny)', () => {
  let out: string | undefined;
  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('trains every part, writes a loadable model folder and world.json, and resumes without retraining', async () => {
    out = await mkdtemp(join(tmpdir(), 'zb-world-'));
    const lines: string[] = [];
    const r = await trainWorld({ out, ...QUICK, log: (l) => lines.push(l) });
    expect(r.base.complete).toBe(true);
    expect(r.classifier.steps).toBe(4);
    expect(r.base.vae?.steps).toBe(3);
    expect(r.base.denoiser?.steps).toBe(3);
    expect(Number.isFinite(r.base.denoiser!.finalLoss)).toBe(true);
    expect(r.quality?.samples).toBe(48);
    for (const k of ['classAccuracy', 'contextAccuracy', 'styleAccuracy'] as const) expect(r.quality![k]).toBeGreaterThanOrEqual(0);
    const saved = JSON.parse(await readFile(join(out, 'world.json'), 'utf8')) as WorldReport;
    expect(saved.quality?.samples).toBe(48);
    expect([saved.quality?.steps, saved.quality?.guidance, saved.quality?.scheduler]).toEqual([2, WORLD_SAMPLING.guidance, WORLD_SAMPLING.scheduler]);
    await stat(join(out, 'samples.png'));
    await stat(join(out, 'classifier', 'model.safetensors'));

    const pipe = await DiffusionPipeline.load(out, { device: 'cpu', log: () => {} });
    try {
      const g = await pipe.generate({ prompt: 'a dog on the beach, cartoon style', steps: 2, seed: 1 });
      expect([g.width, g.height]).toEqual([64, 64]);
      // The folder carries the world's sampling defaults (model_index.json).
      expect(pipe.model.renderDefaults).toEqual({ steps: WORLD_SAMPLING.steps, guidance: WORLD_SAMPLING.guidance, scheduler: WORLD_SAMPLING.scheduler });
    } finally {
      await pipe.dispose();
    }

    const files = ['unet/diffusion_pytorch_model.safetensors', 'vae/diffusion_pytorch_model.safetensors', 'text_encoder/model.safetensors', 'classifier/model.safetensors'];
    const digest = async () => Promise.all(files.map(async (f) => createHash('sha256').update(await readFile(join(out!, f))).digest('hex')));
    const before = await digest();
    const r2 = await trainWorld({ out, ...QUICK });
    expect(r2.base.complete).toBe(true);
    // Nothing was trained again: every weight file is byte for byte the same.
    expect(await digest()).toEqual(before);

    // More text encoder + UNet training from the exported weights: a round, recorded, then a fresh round.
    const more = await continueDenoiser({ out, seed: 3, images: 48, steps: 3, batch: 2 });
    expect(more.complete).toBe(true);
    expect(more.vae).toBeUndefined();
    expect(more.denoiser?.steps).toBe(3);
    const afterMore = await digest();
    expect(afterMore[0]).not.toBe(before[0]);
    expect(afterMore[1]).toBe(before[1]);
    await expect(stat(join(out, '.train', 'more'))).rejects.toThrow();
    await continueDenoiser({ out, seed: 3, images: 48, steps: 2, batch: 2 });
    const w1 = JSON.parse(await readFile(join(out, 'world.json'), 'utf8')) as WorldReport;
    expect(w1.base.continued?.map((c) => c.steps)).toEqual([3, 2]);
    expect(w1.base.continued?.[0]).toMatchObject({ provider: 'cpu', seed: 3 });
    await expect(continueDenoiser({ out, images: 48 })).rejects.toThrow(/steps, a budget, or both/);

    // A deeper classifier from scratch, time-boxed, replaces the old one once measured.
    const cls = await retrainClassifier({ out, seed: 3, images: 48, budgetSeconds: 2, batch: 4, depth: 2, channels: [8, 8, 16, 16, 16], testImages: 16 });
    expect(cls.steps).toBeGreaterThan(0);
    expect(cls.retrained).toMatchObject({ images: 48, batch: 4, depth: 2, channels: [8, 8, 16, 16, 16] });
    const loaded = await Classifier.load(join(out, 'classifier'));
    expect(loaded.spec.depth).toBe(2);
    await loaded.close();
    await expect(stat(join(out, 'classifier.new'))).rejects.toThrow();
    const w2 = JSON.parse(await readFile(join(out, 'world.json'), 'utf8')) as WorldReport;
    expect(w2.classifier.retrained?.depth).toBe(2);
    expect(w2.base.continued).toHaveLength(2);

    // The VAE decoder alone, on renders of the whole world: recorded, encoder untouched.
    const vaeFile = join(out, 'vae', 'diffusion_pytorch_model.safetensors');
    const encoderOf = async () => {
      const f = await SafetensorsFile.open(vaeFile);
      try {
        return await f.readFloat32('encoder.conv_in.weight');
      } finally {
        await f.close();
      }
    };
    const enc = await encoderOf();
    const dec = await refineDecoder({ out, seed: 3, images: 48, steps: 2, batch: 2, crop: 32 });
    expect(dec.complete).toBe(true);
    expect(Array.from(await encoderOf())).toEqual(Array.from(enc));
    const w3 = JSON.parse(await readFile(join(out, 'world.json'), 'utf8')) as WorldReport;
    expect(w3.base.decoderRefined).toMatchObject([{ steps: 2, batch: 2, crop: 32, images: 48, seed: 3, provider: 'cpu' }]);
    await expect(refineDecoder({ out, images: 48 })).rejects.toThrow(/steps, a budget, or both/);

    // Refining the classifier of a folder without a work folder (as bundled) renders into a new one.
    await rm(join(out, '.train'), { recursive: true, force: true });
    // Bad decoder settings are refused before the dataset is rendered: no work folder appears.
    await expect(refineDecoder({ out, steps: 2, crop: 18, images: 48 })).rejects.toThrow(/crop 18 must be a multiple/);
    await expect(refineDecoder({ out, steps: 2, images: 0 })).rejects.toThrow(/images must be a positive whole number/);
    await expect(stat(join(out, '.train'))).rejects.toThrow();
    const refined = await refineClassifier({ out, seed: 3, steps: 2, from: 4, batch: 4, classifierImages: 48, classifierTestImages: 16 });
    expect(refined.accuracy.class).toBeGreaterThanOrEqual(0);
  }, 300_000);
});

describe('classifierBreakdown', () => {
  it('gives per-style and per-class class accuracy on the whole world and on the base split', async () => {
    const c = await Classifier.load(join(BUNDLED_WORLD_MODEL, 'classifier'));
    try {
      const n = 40;
      const b = await classifierBreakdown(c, 1, n);
      for (const r of [b.world, b.baseSplit]) {
        expect(r.overall).toBeGreaterThanOrEqual(0);
        expect(r.overall).toBeLessThanOrEqual(1);
        // The overall share is a weighted mean of the per-key shares.
        for (const per of [r.perClass, r.perStyle]) {
          const v = Object.values(per);
          expect(v.length).toBeGreaterThan(1);
          expect(r.overall).toBeGreaterThanOrEqual(Math.min(...v));
          expect(r.overall).toBeLessThanOrEqual(Math.max(...v));
        }
      }
      // The base split only has the generic styles.
      const base = new Set(BASE_STYLES.map((s) => s.id));
      expect(Object.keys(b.baseSplit.perStyle).every((k) => base.has(k))).toBe(true);
      expect(Object.keys(b.world.perStyle).some((k) => !base.has(k))).toBe(true);
      // The bundled classifier names the class of real renders (91% on 600; chance is 1/8).
      expect(b.world.overall).toBeGreaterThan(0.7);
      // Deterministic.
      expect(await classifierBreakdown(c, 1, n)).toEqual(b);
    } finally {
      await c.close();
    }
  }, 120_000);
});
