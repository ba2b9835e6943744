/**
 * npm run bench:lora (CPU; printed, not asserted)
 * - UNet step time, batch 2 (classifier-free guidance), 77 text tokens, float32 on
 *   CPU, in the same run: the base model without LoRA; one injected LoRA; a merged
 *   pair (factors concatenated, one slot, as `lora merge` writes it and `--lora a
 *   --lora b` renders it); the same pair baked into the weights. For tiny-sd15 at its
 *   sample size and the full SD 1.5 architecture at 512x512 (latents 64x64) with
 *   random weights. Target: injected <= 10% slower per step than the base model.
 * - Switching to another LoRA pair: new feeds + the first step on the same session,
 *   against building a new session (graph + session + first step). Target: no rebuild.
 * - Baking: the cost of a new baked session per LoRA set against the per-step saving,
 *   and the number of steps after which baking pays.
 *
 * Environment: BENCH_KEEP=1 keeps the temp folder; BENCH_SD15=0 skips the full-size
 * model; BENCH_RANK (per LoRA on SD 1.5, default 16, attention projections as in the
 * paper); BENCH_TINY_RANK (default 2: about the same rank-to-width ratio on tiny-sd15's
 * 32/64 channels as 16 on SD 1.5's 320-1280); BENCH_RUNS (tiny timed runs, default 20); BENCH_SD15_RUNS (default 3);
 * BENCH_FUSED=0 uses the plain-ONNX attention (default fused, as the pipeline on CPU).
 * Step times are the best of the runs: the cores are shared, interference only slows.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { readLorasForModel } from '../src/engine/lora/apply.ts';
import { bakedWeights } from '../src/engine/lora/bake.ts';
import { loraFeeds } from '../src/engine/lora/feeds.ts';
import { loraContext } from '../src/engine/lora/inject.ts';
import { planLoras, type LoraSource } from '../src/engine/lora/plan.ts';
import { randomLora } from '../src/engine/lora/random.ts';
import { writeLora } from '../src/engine/lora/write.ts';
import type { LayerContext } from '../src/engine/models/layers.ts';
import { openModelFolder, type ModelFolder } from '../src/engine/models/load.ts';
import { moduleTableFromConfigs } from '../src/engine/models/modules.ts';
import { presetRawConfigs } from '../src/engine/models/presets.ts';
import { writeRandomModel, type RandomPreset } from '../src/engine/models/random.ts';
import { buildUNetGraph } from '../src/engine/models/unet/graph.ts';
import type { WeightSource } from '../src/engine/onnx/external.ts';
import { randn } from '../src/engine/pipeline/random.ts';
import { createSession, ortVersion, tensor, type Feeds, type Session } from '../src/engine/runtime/index.ts';

const KEEP = Boolean(process.env.BENCH_KEEP);
const WITH_SD15 = process.env.BENCH_SD15 !== '0';
const RANK = Number(process.env.BENCH_RANK ?? 16);
const TINY_RANK = Number(process.env.BENCH_TINY_RANK ?? 2);
const TINY_RUNS = Number(process.env.BENCH_RUNS ?? 20);
const SD15_RUNS = Number(process.env.BENCH_SD15_RUNS ?? 3);
const FUSED = process.env.BENCH_FUSED !== '0';
const BATCH = 2;
const SEQUENCE = 77;
const TARGET = 0.1;

const seconds = (ms: number) => ms / 1000;
const since = (t0: number) => seconds(performance.now() - t0);
const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');

interface Built {
  session: Session;
  buildSeconds: number;
  createSeconds: number;
}

interface Row {
  model: string;
  variant: string;
  rank: string;
  build: number;
  create: number;
  first: number;
  best: number;
  median: number;
  /** The base model's best step in the same rounds. */
  baseBest?: number;
}

const pct = (x: number, base: number) => `${x >= base ? '+' : ''}${((100 * (x - base)) / base).toFixed(1)}%`;

/** Graph build and session creation, timed apart. */
async function build(folder: ModelFolder, weights: WeightSource, layers?: LayerContext): Promise<Built> {
  const t0 = performance.now();
  const { model } = buildUNetGraph(folder.configs.unet, { weights, fusedAttention: FUSED, ...(layers ? { layers } : {}) });
  const buildSeconds = since(t0);
  const t1 = performance.now();
  const session = await createSession({ model, name: 'unet', externalDataDir: folder.root }, { provider: 'cpu' });
  return { session, buildSeconds, createSeconds: since(t1) };
}

function unetInputs(folder: ModelFolder): Feeds {
  const cfg = folder.configs.unet;
  const latent = cfg.sampleSize ?? 64;
  const feeds: Feeds = {
    sample: tensor('float32', randn(1, BATCH * cfg.inChannels * latent * latent), [BATCH, cfg.inChannels, latent, latent]),
    timestep: tensor('float32', new Float32Array(BATCH).fill(500), [BATCH]),
    encoder_hidden_states: tensor('float32', randn(2, BATCH * SEQUENCE * cfg.crossAttentionDim[0]!), [BATCH, SEQUENCE, cfg.crossAttentionDim[0]!]),
  };
  return feeds;
}

async function timed(s: Session, feeds: Feeds): Promise<number> {
  const t0 = performance.now();
  await s.run(feeds);
  return since(t0);
}

/** The variant's first run, then `runs` rounds of one base run and one variant run (the same conditions for both). */
async function versusBase(base: Session, baseFeeds: Feeds, s: Session, feeds: Feeds, runs: number): Promise<{ first: number; times: number[]; baseTimes: number[] }> {
  const first = await timed(s, feeds);
  const times: number[] = [];
  const baseTimes: number[] = [];
  for (let i = 0; i < runs; i++) {
    baseTimes.push(await timed(base, baseFeeds));
    times.push(await timed(s, feeds));
  }
  const sort = (xs: number[]) => xs.sort((a, b) => a - b);
  return { first, times: sort(times), baseTimes: sort(baseTimes) };
}

async function writeLoras(work: string, preset: RandomPreset, rank: number, seeds: number[]): Promise<string[]> {
  const table = moduleTableFromConfigs(presetRawConfigs(preset));
  const files: string[] = [];
  for (const seed of seeds) {
    const file = path.join(work, `${preset}-lora-${seed}.safetensors`);
    await writeLora(file, randomLora({ family: 'sd15', rank, targets: 'attn', seed, table }), 'kohya');
    files.push(file);
  }
  return files;
}

async function benchModel(work: string, preset: RandomPreset, rank: number, runs: number, rows: Row[]): Promise<void> {
  const out = path.join(work, preset);
  const t0 = performance.now();
  await writeRandomModel({ preset, seed: 1, out, dtype: preset === 'sd15' ? 'fp16' : 'fp32' });
  const folder = await openModelFolder(out, { components: ['unet'] });
  const weights = folder.components.unet!.weights;
  const latent = folder.configs.unet.sampleSize ?? 64;
  console.log(`${preset}: random model written in ${since(t0).toFixed(1)} s; latents ${latent}x${latent}, batch ${BATCH}, ${FUSED ? 'fused' : 'plain'} attention`);
  const files = await writeLoras(work, preset, rank, [1, 2, 3, 4]);
  const loras = await readLorasForModel(folder, files.map((p) => ({ path: p, weight: 1 })));
  const [a, b, c, d] = loras as [LoraSource, LoraSource, LoraSource, LoraSource];
  const inputs = unetInputs(folder);
  const row = (variant: string, rank: string, x: Built, s: { first: number; times: number[]; baseTimes?: number[] }) => {
    const r: Row = { model: preset, variant, rank, build: x.buildSeconds, create: x.createSeconds, first: s.first, best: s.times[0]!, median: s.times[Math.floor(s.times.length / 2)]! };
    if (s.baseTimes) r.baseBest = s.baseTimes[0]!;
    rows.push(r);
    const vs = r.baseBest ? ` (base in the same rounds ${r.baseBest.toFixed(3)} s: ${pct(r.best, r.baseBest)})` : '';
    console.log(`  ${variant}: best ${r.best.toFixed(3)} s${vs}, first ${s.first.toFixed(3)} s, graph ${x.buildSeconds.toFixed(2)} s + session ${x.createSeconds.toFixed(1)} s`);
  };

  const base = await build(folder, weights);
  const first = await timed(base.session, inputs);
  const alone: number[] = [];
  for (let i = 0; i < Math.min(runs, 3); i++) alone.push(await timed(base.session, inputs));
  row('base (no LoRA)', '-', base, { first, times: alone.sort((x, y) => x - y) });

  const one = planLoras([a], { components: ['unet'] }).unet!;
  const single = await build(folder, weights, loraContext(one));
  row('one injected LoRA', `${rank} (R=${one.rank})`, single, await versusBase(base.session, inputs, single.session, { ...inputs, ...(await loraFeeds(one, [a])) }, runs));
  await single.session.dispose();

  const pairPlan = planLoras([a, b], { components: ['unet'] }).unet!;
  const pair = await build(folder, weights, loraContext(pairPlan));
  const tFeeds = performance.now();
  const pairFeeds = await loraFeeds(pairPlan, [a, b]);
  const pairFeedSeconds = since(tFeeds);
  const pairSteps = await versusBase(base.session, inputs, pair.session, { ...inputs, ...pairFeeds }, runs);
  const newSession = pair.buildSeconds + pair.createSeconds + pairFeedSeconds + pairSteps.first;
  row('merged pair, injected', `${rank}+${rank} (R=${pairPlan.rank})`, pair, pairSteps);

  const other = planLoras([c, d], { components: ['unet'] }).unet!;
  const reused = loraContext(other) === loraContext(pairPlan);
  const tSwitch = performance.now();
  const otherFeeds = await loraFeeds(other, [c, d]);
  const feedSeconds = since(tSwitch);
  const switchFirst = await timed(pair.session, { ...inputs, ...otherFeeds });
  await pair.session.dispose();
  console.log(
    `  switch to another pair: ${reused ? 'same plan, same session' : 'NEW PLAN'}; feeds ${feedSeconds.toFixed(3)} s + first step ${switchFirst.toFixed(3)} s = ${(feedSeconds + switchFirst).toFixed(3)} s, ` +
      `vs new session (graph + session + feeds + first step) ${newSession.toFixed(1)} s`,
  );
  switches.push({ model: preset, reused, feed: feedSeconds, first: switchFirst, rebuild: newSession });

  const tBake = performance.now();
  const bakedSource = await bakedWeights(weights, folder.root, 'unet', [a, b]);
  const bakeSeconds = since(tBake);
  const baked = await build(folder, bakedSource);
  row('merged pair, baked', `${rank}+${rank} (dense)`, baked, await versusBase(base.session, inputs, baked.session, inputs, runs));
  await baked.session.dispose();
  await base.session.dispose();
  bakes.push({ model: preset, bake: bakeSeconds });
}

const switches: { model: string; reused: boolean; feed: number; first: number; rebuild: number }[] = [];
const bakes: { model: string; bake: number }[] = [];

function report(rows: Row[]): void {
  console.log(`\nUNet step, batch ${BATCH}, ${SEQUENCE} tokens, float32 on CPU, LoRAs on every attention projection (to_q/k/v/out.0)`);
  console.log(`${'model'.padEnd(11)}${'variant'.padEnd(24)}${'rank'.padEnd(18)}${'graph s'.padStart(8)}${'session s'.padStart(10)}${'first s'.padStart(9)}${'best s'.padStart(9)}${'median s'.padStart(10)}${'vs base*'.padStart(9)}`);
  for (const r of rows) {
    const rel = r.baseBest ? pct(r.best, r.baseBest) : '';
    console.log(
      `${r.model.padEnd(11)}${r.variant.padEnd(24)}${r.rank.padEnd(18)}${r.build.toFixed(2).padStart(8)}${r.create.toFixed(1).padStart(10)}${r.first.toFixed(3).padStart(9)}${r.best.toFixed(3).padStart(9)}${r.median.toFixed(3).padStart(10)}${rel.padStart(9)}`,
    );
  }
  console.log("* against the base model's best step in the same alternating rounds\n");
  for (const model of [...new Set(rows.map((r) => r.model))]) {
    const get = (v: string) => rows.find((r) => r.model === model && r.variant.startsWith(v))!;
    for (const v of ['one injected', 'merged pair, injected']) {
      const r = get(v);
      const slower = (r.best - r.baseBest!) / r.baseBest!;
      console.log(`target: ${model} ${v} <= ${TARGET * 100}% slower per step than the base: ${(100 * slower).toFixed(1)}% ${verdict(slower <= TARGET)}`);
    }
    const s = switches.find((x) => x.model === model)!;
    console.log(`target: ${model} switching pairs needs no session rebuild: ${s.reused ? 'reused' : 'rebuilt'} ${verdict(s.reused)} (${(s.feed + s.first).toFixed(2)} s to the first step vs ${s.rebuild.toFixed(1)} s with a new session)`);
    const inj = get('merged pair, injected');
    const baked = get('merged pair, baked');
    const saving = inj.best / inj.baseBest! - baked.best / baked.baseBest!;
    const cost = bakes.find((x) => x.model === model)!.bake + baked.build + baked.create + (baked.first - baked.best) - (s.feed + s.first - inj.best);
    console.log(
      saving > 0
        ? `baking (${model}): ${(100 * saving).toFixed(1)}% of a base step (${(1000 * saving * inj.baseBest!).toFixed(1)} ms) less per step, but ${cost.toFixed(1)} s more per LoRA set (read W, add ΔW, new graph and session): it pays after ${Math.ceil(cost / (saving * inj.baseBest!))} steps with the same LoRAs`
        : `baking (${model}): no faster per step and ${cost.toFixed(1)} s more per LoRA set: injection wins`,
    );
  }
}

async function main(): Promise<void> {
  const work = await mkdtemp(path.join(tmpdir(), 'zipbank-bench-lora-'));
  console.log(`onnxruntime-node ${ortVersion}, Node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'CPU'}, provider cpu`);
  console.log(`random models and LoRAs in ${work}${KEEP ? ' (kept: BENCH_KEEP)' : ''}\n`);
  const rows: Row[] = [];
  try {
    await benchModel(work, 'tiny-sd15', TINY_RANK, TINY_RUNS, rows);
    if (WITH_SD15) await benchModel(work, 'sd15', RANK, SD15_RUNS, rows);
    report(rows);
  } finally {
    if (!KEEP) await rm(work, { recursive: true, force: true });
  }
}

await main();
