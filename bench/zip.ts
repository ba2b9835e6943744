/**
 * npm run bench:zip (CPU; printed, not asserted)
 * - One ZipLoRA step (two single-LoRA target forward passes at batch 1, and one
 *   forward + backward pass of the merged UNet at batch 2 through our autodiff graph)
 *   divided by one plain UNet forward pass (batch 1, the pipeline's inference session)
 *   of the same model at the same size, in the same run. Target <= 8x.
 * - Peak memory (max RSS of a child process doing only that) of a zip with 2 steps
 *   against a child doing only forward passes, same model and size.
 * - Full zip time: 100 steps for tiny-sd15 and tiny-sdxl (measured), and the full
 *   SD 1.5 architecture (random fp16 weights computed in float32) at BENCH_SD15_SIZE
 *   (default 256x256): BENCH_SD15_STEPS steps measured (default 2) and 100 extrapolated
 *   from their median. At 512x512 (BENCH_SD15_SIZE=512) the low-memory mode fits a
 *   24 GiB machine only just (peak RSS about 22.7 GiB measured (ps, during a step); the objective's forward +
 *   backward pass alone peaks at 19.2 GiB with pre-packing), hence the smaller default.
 *
 * SD 1.5 runs in the low-memory mode (the pipeline's render sessions released before the
 * zip, no weight pre-packing in the zip's sessions): three prepacked copies of a
 * full-size UNet plus training activations do not fit 24 GiB.
 * Environment: BENCH_SD15=0 skips SD 1.5; BENCH_TINY=0 skips the tiny models; BENCH_SD15_SIZE (default 512);
 * BENCH_SD15_STEPS; BENCH_KEEP=1 keeps the temp folder; BENCH_MEMORY=0 skips the
 * memory children. LoRAs: seeded random, attention projections (the paper's scope),
 * rank 4 on the tiny models and 16 on SD 1.5.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomLora } from '../src/engine/lora/random.ts';
import { readLorasForModel } from '../src/engine/lora/apply.ts';
import { writeLora } from '../src/engine/lora/write.ts';
import { moduleTableFromConfigs } from '../src/engine/models/modules.ts';
import { presetRawConfigs } from '../src/engine/models/presets.ts';
import { writeRandomModel, type RandomPreset } from '../src/engine/models/random.ts';
import { randn } from '../src/engine/pipeline/random.ts';
import { DiffusionPipeline } from '../src/engine/pipeline/text-to-image.ts';
import { ortVersion, tensor, type Feeds } from '../src/engine/runtime/index.ts';
import { zipLoras, type ZipInput } from '../src/engine/ziplora/zip.ts';

const SELF = fileURLToPath(import.meta.url);
const WITH_SD15 = process.env.BENCH_SD15 !== '0';
const WITH_TINY = process.env.BENCH_TINY !== '0';
const SD15_SIZE = Number(process.env.BENCH_SD15_SIZE ?? 256);
const SD15_STEPS = Number(process.env.BENCH_SD15_STEPS ?? 2);
const MEMORY = process.env.BENCH_MEMORY !== '0';
const KEEP = Boolean(process.env.BENCH_KEEP);
const TARGET_RATIO = 8;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const gib = (kb: number) => `${(kb / 1024 / 1024).toFixed(2)} GiB`;

interface Setup {
  pipe: DiffusionPipeline;
  inputs: ZipInput[];
  size: number;
}

async function setup(dir: string, preset: RandomPreset, size: number): Promise<Setup> {
  const pipe = await DiffusionPipeline.load(dir, { device: 'cpu', warm: false, log: () => {} });
  const table = moduleTableFromConfigs(presetRawConfigs(preset));
  const rank = preset === 'sd15' ? 16 : 4;
  const family = 'sd15' as const;
  const files: string[] = [];
  for (const seed of [1, 2]) {
    const file = path.join(dir, `lora-${seed}.safetensors`);
    await writeLora(file, randomLora({ family: preset === 'tiny-sdxl' ? 'sdxl' : family, rank, seed, table, alpha: rank * 2 }), 'kohya');
    files.push(file);
  }
  const loras = await readLorasForModel(pipe.model.folder, files.map((p) => ({ path: p, weight: 1 })));
  return {
    pipe,
    size,
    inputs: [
      { lora: loras[0]!.lora, role: 'subject', prompt: 'a photo of sks dog' },
      { lora: loras[1]!.lora, role: 'style', prompt: 'a cat in sks style' },
    ],
  };
}

/** Best of `runs` plain UNet forward passes at batch 1. */
async function forwardSeconds(s: Setup, runs: number): Promise<number> {
  const m = s.pipe.model;
  const unet = (await m.sessions()).unet;
  const lat = s.size / m.vaeFactor;
  const cfg = m.folder.configs.unet;
  const cond = await s.pipe.conditioning({ prompt: 'a photo', guidance: 1 });
  const feeds: Feeds = {
    sample: tensor('float32', randn(1, cfg.inChannels * lat * lat), [1, cfg.inChannels, lat, lat]),
    timestep: tensor('float32', new Float32Array([500]), [1]),
    encoder_hidden_states: tensor('float32', cond.cond.hidden.data, cond.cond.hidden.dims),
  };
  if (m.family === 'sdxl') {
    feeds.text_embeds = tensor('float32', cond.cond.pooled!.data, cond.cond.pooled!.dims);
    feeds.time_ids = tensor('float32', Float32Array.from([s.size, s.size, 0, 0, s.size, s.size]), [1, 6]);
  }
  await unet.run(feeds);
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await unet.run(feeds);
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return best;
}

async function zipSteps(s: Setup, steps: number) {
  let last = 0;
  const times: number[] = [];
  const targetTimes: number[] = [];
  let buildSeconds = 0;
  const t0 = performance.now();
  const r = await zipLoras(s.pipe, {
    inputs: s.inputs,
    steps,
    seed: 1,
    width: s.size,
    height: s.size,
    referenceSteps: 1,
    cosineThreshold: 0,
    sparsity: false,
    releaseRenderSessions: s.size >= 256,
    prepack: s.size < 256,
    onProgress: (p) => {
      const now = performance.now();
      if (p.phase === 'building') last = now;
      if (p.phase === 'targets') {
        // Low-memory mode: the targets of every step first (the same passes, moved ahead).
        targetTimes.push((now - last) / 1000);
        last = now;
      }
      if (p.phase === 'optimizing') {
        if (p.step === 1) buildSeconds = (now - last) / 1000;
        else times.push((now - last) / 1000);
        if (process.env.BENCH_VERBOSE) console.log(`    step ${p.step}: ${((now - last) / 1000).toFixed(2)} s`);
        last = now;
      }
    },
  });
  return { total: (performance.now() - t0) / 1000, times, targetTimes, buildSeconds, stats: r.stats };
}

/** Child: do only one thing and report max RSS. */
async function child(mode: string, preset: RandomPreset, dir: string, size: number): Promise<void> {
  const s = await setup(dir, preset, size);
  if (mode === 'forward') await forwardSeconds(s, 2);
  else await zipSteps(s, 2);
  console.log(JSON.stringify({ maxRssKb: process.resourceUsage().maxRSS }));
  await s.pipe.dispose();
}

function measureChild(mode: string, preset: RandomPreset, dir: string, size: number): number | string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', SELF, '--child', mode, preset, dir, String(size)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  if (r.status !== 0 || !line) return `failed (exit ${r.status ?? r.signal}): ${r.stderr.split('\n').filter(Boolean).slice(-2).join(' | ')}`;
  return (JSON.parse(line) as { maxRssKb: number }).maxRssKb;
}

async function benchPreset(work: string, preset: RandomPreset, size: number | undefined, steps: number): Promise<void> {
  const dir = path.join(work, preset);
  const t0 = performance.now();
  await writeRandomModel({ preset, seed: 1, out: dir, dtype: preset === 'sd15' ? 'fp16' : 'fp32' });
  const s0 = await setup(dir, preset, 0);
  const sz = size ?? s0.pipe.defaults.width;
  const s = { ...s0, size: sz };
  console.log(`\n${preset}: random model in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${sz}x${sz} pixels, latents ${sz / s.pipe.model.vaeFactor}x${sz / s.pipe.model.vaeFactor}`);
  const forward = await forwardSeconds(s, preset === 'sd15' ? 2 : 10);
  const z = await zipSteps(s, steps);
  // In low-memory mode the first target interval also holds the target session's creation.
  const targets = z.targetTimes.length > 1 ? median(z.targetTimes.slice(1)) : 0;
  const step = median(z.times.length ? z.times : [NaN]) + targets;
  if (z.targetTimes.length) console.log(`  (low-memory mode: targets precomputed, ${targets.toFixed(2)} s per step, added to the step)`);
  const ratio = step / forward;
  console.log(`  plain UNet forward (batch 1, best):     ${forward.toFixed(3)} s`);
  console.log(`  ZipLoRA step (median of ${z.times.length}):          ${step.toFixed(3)} s  = ${ratio.toFixed(2)}x a forward pass (target <= ${TARGET_RATIO}x: ${ratio <= TARGET_RATIO ? 'met' : 'MISSED'})`);
  console.log(`  objective graph + sessions + first step: ${z.buildSeconds.toFixed(1)} s (${z.stats.layers.length} LoRA layers)`);
  if (steps >= 100) console.log(`  full zip, ${z.stats.steps} steps:             ${z.total.toFixed(1)} s measured (mean |cos| ${(z.stats.layers.reduce((a, l) => a + l.cosAfter, 0) / z.stats.layers.length).toFixed(3)}, max |m-1| ${z.stats.maxMove.map((v) => v.toFixed(2)).join('/')})`);
  else console.log(`  full zip, 100 steps:                   ${(z.buildSeconds + 100 * step).toFixed(0)} s extrapolated (build + 100 x median step; ${steps} steps measured, ${z.total.toFixed(1)} s with references)`);
  await s.pipe.dispose();
  if (MEMORY) {
    const fwd = measureChild('forward', preset, dir, sz);
    const stp = measureChild('step', preset, dir, sz);
    const show = (v: number | string) => (typeof v === 'number' ? gib(v) : v);
    console.log(`  peak RSS, forward-only process:        ${show(fwd)}`);
    console.log(`  peak RSS, 2-step zip process:          ${show(stp)}${typeof fwd === 'number' && typeof stp === 'number' ? ` (${(stp / fwd).toFixed(2)}x)` : ''}`);
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--child') return child(args[1]!, args[2] as RandomPreset, args[3]!, Number(args[4]));
  console.log(`bench:zip on ${cpus().length} CPU(s), onnxruntime ${ortVersion}, float32 CPU provider`);
  const work = await mkdtemp(path.join(tmpdir(), 'zipbank-bench-zip-'));
  try {
    if (WITH_TINY) {
      await benchPreset(work, 'tiny-sd15', undefined, 100);
      await benchPreset(work, 'tiny-sdxl', undefined, 100);
    }
    if (WITH_SD15) await benchPreset(work, 'sd15', SD15_SIZE, SD15_STEPS);
  } finally {
    if (KEEP) console.log(`kept ${work}`);
    else await rm(work, { recursive: true, force: true });
  }
}

await main();
