/**
 * npm run bench:world (CPU; printed, not asserted)
 * - The bundled model's training times per component, from models/world/world.json
 *   (written by `npm run train:world` on the machine that trained it), and the
 *   quality it reached on held-out caption combinations.
 * - Measured now: seconds per training step of each component at the training batch
 *   sizes (a few steps from the trained weights; nothing is saved), and the render
 *   time of a 2x2 grid at 64x64 with 20 steps (target < 5 s), median of 3.
 * Environment: BENCH_MODEL (default models/world).
 */
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { composeGrid } from '../src/engine/image/index.ts';
import { DiffusionPipeline } from '../src/engine/pipeline/text-to-image.ts';
import { ortVersion } from '../src/engine/runtime/index.ts';
import { trainBaseModel } from '../src/engine/train/base-model.ts';
import { renderScenes } from '../src/world/render.ts';
import { captionOf } from '../src/world/scene.ts';
import { sampleBaseScene } from '../src/world/split.ts';
import type { WorldReport } from '../src/world/train.ts';

const MODEL = process.env.BENCH_MODEL ?? 'models/world';
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const min = (s: number | undefined) => (s === undefined ? 'n/a' : `${(s / 60).toFixed(1)} min`);

console.log(`bench:world — ${cpus().length} cores (${cpus()[0]?.model}), onnxruntime ${ortVersion}, model ${MODEL}`);
let report: WorldReport | undefined;
try {
  report = JSON.parse(await readFile(join(MODEL, 'world.json'), 'utf8')) as WorldReport;
} catch {
  console.log(`no ${MODEL}/world.json: train it with npm run train:world`);
}
if (report) {
  console.log(`\ntraining (recorded ${report.createdAt} on ${report.machine}, seed ${report.seed})`);
  console.log(`  render datasets (${report.datasets.baseImages} + ${report.datasets.classifierImages} images): ${min(report.datasets.renderSeconds)}`);
  console.log(`  classifiers: ${report.classifier.steps} steps, ${min(report.classifier.seconds)}; held-out accuracy ${Object.entries(report.classifier.accuracy).map(([k, v]) => `${k} ${(v * 100).toFixed(1)}%`).join(', ')}`);
  const b = report.base;
  console.log(`  VAE: ${b.vae ? `${b.vae.steps} steps, ${min(b.vae.seconds)}` : 'n/a'}; latents ${min(b.latentSeconds)}`);
  console.log(`  text encoder + UNet: ${b.denoiser ? `${b.denoiser.steps} steps, ${min(b.denoiser.seconds)}` : 'n/a'}`);
  // The rounds after the first run (train:world --more-denoiser / --refine-decoder) are part of what the bundled weights cost.
  for (const [i, r] of (b.continued ?? []).entries()) {
    console.log(`  text encoder + UNet, round ${i + 2}: ${r.steps} steps of batch ${r.batch}, lr ${r.lr}${r.subjectWeight ? `, subject weight ${r.subjectWeight}` : ''}${r.tokenLrScale ? `, token lr x${r.tokenLrScale}` : ''}${r.seed !== undefined ? `, seed ${r.seed}` : ''}, ${min(r.seconds)} on ${r.provider}`);
  }
  for (const r of b.decoderRefined ?? []) console.log(`  VAE decoder refinement: ${r.steps} steps of batch ${r.batch}, ${min(r.seconds)} on ${r.provider}`);
  const rounds = [...(b.continued ?? []), ...(b.decoderRefined ?? [])].reduce((a, r) => a + r.seconds, 0);
  const first = (report.datasets.renderSeconds ?? 0) + (report.classifier.seconds ?? 0) + (b.vae?.seconds ?? 0) + (b.latentSeconds ?? 0) + (b.denoiser?.seconds ?? 0) + (report.quality?.seconds ?? 0);
  console.log(`  total: ${min(first + rounds)} (first run ${min(first)}, later rounds ${min(rounds)}; target: under 120 min of CPU)`);
  if (report.quality) {
    const q = report.quality;
    console.log(`  quality on ${q.samples} samples (${q.combos} held-out combinations; ${q.steps} steps of ${q.scheduler ?? 'pndm'}, guidance ${q.guidance}): class ${(q.classAccuracy * 100).toFixed(1)}% (>= 80), context ${(q.contextAccuracy * 100).toFixed(1)}% (>= 80), style ${(q.styleAccuracy * 100).toFixed(1)}% (>= 70)`);
  }
}

// Seconds per training step now, from a copy of the trained weights (a few steps, not saved).
const dir = await mkdtemp(join(tmpdir(), 'zipbank-bench-world-'));
try {
  const copy = join(dir, 'model');
  await cp(MODEL, copy, { recursive: true, filter: (src) => !src.includes('.train') });
  const scenes = Array.from({ length: 256 }, (_, i) => sampleBaseScene(i));
  const t0 = performance.now();
  const imgs = await renderScenes(scenes, 64);
  console.log(`\nworld renders: ${(256 / ((performance.now() - t0) / 1000)).toFixed(0)} images/s at 64x64`);
  const pixels = new Uint8Array(256 * 64 * 64 * 3);
  imgs.forEach((im, i) => pixels.set(im.data, i * 64 * 64 * 3));
  const data = { size: 64, count: 256, pixels, captions: scenes.map((s) => captionOf(s)) };
  const perStep: Record<string, number[]> = { vae: [], denoiser: [] };
  await trainBaseModel({
    out: copy,
    preset: 'world',
    data,
    vae: { steps: 8, batch: 16 },
    denoiser: { steps: 6, batch: 32 },
    checkpointEvery: 1000,
    onProgress: (p) => {
      if ((p.phase === 'vae' || p.phase === 'denoiser') && p.step > 2 && p.secondsPerStep) perStep[p.phase]!.push(p.secondsPerStep);
    },
  });
  console.log(`training step now: VAE ${median(perStep.vae!).toFixed(2)} s (batch 16, 32x32 crops), text encoder + UNet ${median(perStep.denoiser!).toFixed(2)} s (batch 32)`);
} finally {
  await rm(dir, { recursive: true, force: true });
}

// Render a 2x2 grid, 20 steps, 64x64, with the model's own scheduler and guidance (model_index.json).
const pipe = await DiffusionPipeline.load(MODEL, { device: 'cpu', log: () => {} });
const times: number[] = [];
for (let i = 0; i < 3; i++) {
  const t0 = performance.now();
  const r = await pipe.generate({ prompt: 'a dog on the beach, cartoon style', steps: 20, count: 4, seed: 1 + i, width: 64, height: 64 });
  await composeGrid(r.images, { cols: 2 });
  times.push((performance.now() - t0) / 1000);
}
await pipe.dispose();
console.log(`2x2 grid, 64x64, 20 steps (the model's defaults): ${median(times).toFixed(2)} s median of 3 (${times.map((t) => t.toFixed(2)).join(', ')}) (target < 5 s)`);
