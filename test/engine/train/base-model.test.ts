/**
 * trainBaseModel on a small synthetic dataset (red or green squares with captions):
 * a run cut short resumes where it stopped and finishes, the trained folder loads
 * and renders with the pipeline, the VAE's scaling factor is measured from its
 * latents, and the VAE's loss falls when it trains for a few dozen steps.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DiffusionPipeline } from '../../../src/engine/pipeline/text-to-image.ts';
import { LATENTS_MIRRORED, budgetedTotal, latentFramePixels, learningRate, subjectMask, trainBaseModel, type ImageDataset } from '../../../src/engine/train/base-model.ts';
import { SafetensorsFile } from '../../../src/engine/weights/safetensors.ts';

function squares(n: number, s = 64): ImageDataset {
  const pixels = new Uint8Array(n * s * s * 3);
  const captions: string[] = [];
  for (let k = 0; k < n; k++) {
    const red = k % 2 === 0;
    const o = 8 + (k % 5) * 4;
    for (let y = 0; y < s; y++) {
      for (let x = 0; x < s; x++) {
        const p = (k * s * s + y * s + x) * 3;
        const inside = x > o && x < o + 28 && y > o && y < o + 28;
        pixels[p] = inside && red ? 220 : 30;
        pixels[p + 1] = inside && !red ? 200 : 40;
        pixels[p + 2] = 90;
      }
    }
    captions.push(red ? 'a red square' : 'a green square');
  }
  return { size: s, count: n, pixels, captions };
}

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('learningRate', () => {
  it('warms up linearly, then decays by a cosine to 10% of the peak', () => {
    expect(learningRate(1, 0, 100, 10)).toBeCloseTo(0.1);
    expect(learningRate(1, 9, 100, 10)).toBeCloseTo(1);
    expect(learningRate(1, 10, 100, 10)).toBeCloseTo(1);
    expect(learningRate(1, 55, 100, 10)).toBeCloseTo(0.55);
    expect(learningRate(1, 100, 100, 10)).toBeCloseTo(0.1);
  });
});

describe('budgetedTotal', () => {
  it('ends the schedule where the rest of the budget runs out, within [done, steps]', () => {
    // 10 s spent of 60 at 0.5 s/step after 20 steps: 100 more.
    expect(budgetedTotal(1000, 20, 10, 0.5, 60)).toBe(120);
    expect(budgetedTotal(50, 20, 10, 0.5, 60)).toBe(50);
    expect(budgetedTotal(1000, 20, 60, 0.5, 60)).toBe(20);
    expect(budgetedTotal(1000, 20, 59.9, 0.5, 60)).toBe(20);
    expect(budgetedTotal(1000, 20, 58, 0.5, 60)).toBe(24);
  });
});

describe('subjectMask', () => {
  it('weights the cells inside the box, in the stored (mirrored) frame, with mean 1', () => {
    // Box over the image's left quarter, full height: 64 px, 16 latent cells of 4 px.
    const m = subjectMask([0, 0, 16, 64], 64, 16, 4);
    const mean = m.reduce((a, b) => a + b, 0) / m.length;
    expect(mean).toBeCloseTo(1, 6);
    const heavy = [...new Set(Array.from(m.subarray(0, 16), (v, x) => (v > 1 ? x : -1)).filter((x) => x >= 0))];
    // Cell centres 2, 6, 10, 14 px are inside; mirrored they are the last four columns.
    expect(heavy).toEqual(LATENTS_MIRRORED ? [12, 13, 14, 15] : [0, 1, 2, 3]);
    expect(m[15]! / m[0]!).toBeCloseTo(LATENTS_MIRRORED ? 4 : 1 / 4, 6);
    // The same frame as the stored latents: a mark on the image's left quarter lands in the columns the mask weights.
    const img = squares(1);
    img.pixels.fill(0);
    for (let y = 0; y < 64; y++) for (let x = 0; x < 16; x++) img.pixels[(y * 64 + x) * 3] = 255;
    const px = latentFramePixels(img, [0]);
    const marked = Array.from({ length: 16 }, (_, cx) => px[(32 * 64 + cx * 4 + 1)]! > 0);
    expect(marked.map((on, x) => (on ? x : -1)).filter((x) => x >= 0)).toEqual(heavy);
    // Weight 1 is the plain loss.
    expect(Array.from(subjectMask([0, 0, 16, 64], 64, 16, 1))).toEqual(Array.from({ length: 256 }, () => 1));
  });
});

describe('trainBaseModel', () => {
  it('trains with a subject-weighted loss and a faster token table, and refuses the weight without boxes', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'zipbank-base-')), 'model');
    dirs.push(join(out, '..'));
    const data = squares(8);
    // Bad settings are refused before anything is written.
    await expect(trainBaseModel({ out, preset: 'world', data, denoiser: { tokenLrScale: 0 } })).rejects.toThrow(/denoiser.tokenLrScale must be a positive number, got 0/);
    await expect(trainBaseModel({ out, preset: 'world', data, denoiser: { batch: 2.5 } })).rejects.toThrow(/denoiser.batch must be a positive whole number/);
    await expect(stat(out)).rejects.toThrow(/ENOENT/);
    const boxes = new Float32Array(8 * 4);
    for (let k = 0; k < 8; k++) boxes.set([8 + (k % 5) * 4, 8 + (k % 5) * 4, 36 + (k % 5) * 4, 36 + (k % 5) * 4], k * 4);
    await expect(trainBaseModel({ out, preset: 'world', data, seed: 2, vae: { steps: 1, batch: 2 }, denoiser: { steps: 2, batch: 2, subjectWeight: 3 } })).rejects.toThrow(/subjectWeight 3 needs data.subjectBoxes/);
    const r = await trainBaseModel({ out, preset: 'world', data: { ...data, subjectBoxes: boxes }, seed: 2, vae: { steps: 1, batch: 2 }, denoiser: { steps: 3, batch: 2, subjectWeight: 3, tokenLrScale: 10 } });
    expect(r.complete).toBe(true);
    expect(r.denoiser!.steps).toBe(3);
    expect(Number.isFinite(r.denoiser!.finalLoss)).toBe(true);
  }, 120_000);

  it('resumes a run cut short, finishes, and the folder renders', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'zipbank-base-')), 'model');
    dirs.push(join(out, '..'));
    const data = squares(24);
    const o = { out, preset: 'world', data, seed: 5, vae: { steps: 4, batch: 2 }, denoiser: { steps: 4, batch: 2 }, checkpointEvery: 2 };
    const first = await trainBaseModel({ ...o, maxStepsThisRun: 3 });
    expect(first.complete).toBe(false);
    expect(first.vae?.steps).toBe(3);
    const second = await trainBaseModel(o);
    expect(second.complete).toBe(true);
    expect(second.vae?.resumedFrom).toBe(3);
    expect(second.vae?.steps).toBe(1);
    expect(second.denoiser?.steps).toBe(4);
    const vaeCfg = JSON.parse(await readFile(join(out, 'vae', 'config.json'), 'utf8')) as { scaling_factor: number };
    expect(vaeCfg.scaling_factor).toBe(second.scalingFactor);
    expect(vaeCfg.scaling_factor).toBeGreaterThan(0);
    const f = await SafetensorsFile.open(join(out, 'unet', 'diffusion_pytorch_model.safetensors'));
    expect(f.metadata.trained_by).toBe('zipbank');
    expect(f.metadata.steps).toBe('4');
    await f.close();
    // A third call has nothing left to do.
    const third = await trainBaseModel(o);
    expect(third.complete).toBe(true);
    expect(third.vae).toBeUndefined();
    expect(third.denoiser).toBeUndefined();

    const pipe = await DiffusionPipeline.load(out, { device: 'cpu' });
    const r = await pipe.generate({ prompt: 'a red square', steps: 3, seed: 1, count: 1, width: 64, height: 64 });
    expect(r.images[0]!.width).toBe(64);
    await pipe.dispose();
  }, 120_000);

  it('a budgeted denoiser phase stops on time, in its own work folder, from the folder weights', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'zipbank-base-')), 'model');
    dirs.push(join(out, '..'));
    const data = squares(16);
    await trainBaseModel({ out, preset: 'world', data, seed: 3, vae: { steps: 2, batch: 2 }, denoiser: { steps: 2, batch: 2 } });
    const work = join(out, '..', 'more');
    const { writeFile, mkdir, readdir } = await import('node:fs/promises');
    await mkdir(work);
    const vaeCfg = JSON.parse(await readFile(join(out, 'vae', 'config.json'), 'utf8')) as { scaling_factor: number };
    await writeFile(join(work, 'state.json'), JSON.stringify({ vaeDone: true, scalingFactor: vaeCfg.scaling_factor }));
    const t0 = performance.now();
    const r = await trainBaseModel({ out, preset: 'world', data, seed: 3, workDir: work, denoiser: { steps: 100_000, batch: 2, budgetSeconds: 4, warmup: 2 } });
    const seconds = (performance.now() - t0) / 1000;
    expect(r.complete).toBe(true);
    expect(r.vae).toBeUndefined();
    // How many steps fit in 4 s depends on the machine's load; that the budget, not the
    // step count, ended it is what matters.
    expect(r.denoiser!.steps).toBeGreaterThanOrEqual(1);
    expect(r.denoiser!.steps).toBeLessThan(100_000);
    expect(r.denoiser!.resumedFrom).toBe(0);
    // the report says what the weights were trained with (the preset's defaults and the given ones)
    expect(r.denoiser!.settings).toEqual({ images: data.count, batch: 2, lr: 1e-3, warmup: 2, subjectWeight: 1, tokenLrScale: 1, captionDropout: 0.1, minSnrGamma: 5, emaDecay: 0.999 });
    expect(seconds).toBeLessThan(60);
    expect((await readdir(work)).sort()).toEqual(['denoiser.ckpt.safetensors', 'latents.f32', 'state.json']);
    const f = await SafetensorsFile.open(join(out, 'unet', 'diffusion_pytorch_model.safetensors'));
    expect(f.metadata.steps).toBe(String(r.denoiser!.steps));
    await f.close();
  }, 120_000);

  it('a denoiser run resumed from its checkpoint ends with exactly the weights of an uninterrupted one', async () => {
    // The token table is updated row-sparsely (rows that ever had a gradient); a resume rebuilds that set from Adam's state.
    const root = await mkdtemp(join(tmpdir(), 'zipbank-base-'));
    dirs.push(root);
    // Many words, two captions a step: rows touched before the cut are missing from the steps after it.
    const words = ['a red square', 'a green square', 'a blue box', 'a tiny cube', 'a large tile', 'a dark patch'];
    const data = { ...squares(12), captions: Array.from({ length: 12 }, (_, k) => words[k % 6]!) };
    const o = (out: string) => ({ out, preset: 'world', data, seed: 4, vae: { steps: 2, batch: 2 }, denoiser: { steps: 6, batch: 2, warmup: 2 }, checkpointEvery: 100 });
    await trainBaseModel(o(join(root, 'a')));
    const cut = await trainBaseModel({ ...o(join(root, 'b')), maxStepsThisRun: 3 });
    expect(cut.complete).toBe(false);
    expect(cut.denoiser!.steps).toBe(3);
    // Its Adam state and schedule belong to its settings: another learning rate is refused, not mixed in.
    const b = o(join(root, 'b'));
    await expect(trainBaseModel({ ...b, denoiser: { ...b.denoiser, lr: 2e-3 } })).rejects.toThrow(/started with lr 0\.001, not lr 0\.002.*delete .*denoiser\.ckpt\.safetensors/);
    // An option given as undefined is the default, as if it were left out.
    const done = await trainBaseModel({ ...b, denoiser: { ...b.denoiser, subjectWeight: undefined, tokenLrScale: undefined } });
    expect(done.complete).toBe(true);
    expect(done.denoiser!.resumedFrom).toBe(3);
    for (const f of ['unet/diffusion_pytorch_model.safetensors', 'text_encoder/model.safetensors']) {
      const [a, b] = await Promise.all([readFile(join(root, 'a', f)), readFile(join(root, 'b', f))]);
      expect(a.equals(b), f).toBe(true);
    }
  }, 120_000);

  it('the VAE learns: its loss falls on the squares', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'zipbank-base-')), 'model');
    dirs.push(join(out, '..'));
    const r = await trainBaseModel({ out, preset: 'world', data: squares(32), seed: 2, vae: { steps: 60, batch: 4, lr: 3e-3, warmup: 5 }, maxStepsThisRun: 60, denoiser: { steps: 1, batch: 1 } });
    expect(r.vae!.finalLoss).toBeLessThan(r.vae!.firstLoss * 0.5);
  }, 120_000);
});
