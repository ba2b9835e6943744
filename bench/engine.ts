/**
 * npm run bench:engine (CPU; printed, not asserted)
 * - UNet step time, one forward at batch 2 (classifier-free guidance), for tiny-sd15
 *   and tiny-sdxl at their sample_size, and for the full SD 1.5 architecture at
 *   512x512 (latents 64x64) with random weights, with the plain-ONNX and the fused
 *   (com.microsoft MultiHeadAttention) attention.
 * - FLOPs of each step (bench/support/unet-flops.ts) per second, as a ratio to
 *   onnxruntime's own MatMul throughput measured in the same run. Target >= 40%.
 * - Memory: RSS after creating the SD 1.5 UNet session over the weights' size on
 *   disk, in a child process. Target <= 1.3x. fp32 files are what the CPU computes
 *   with; fp16 files are also measured (BENCH_SD15_DTYPE=both, the default): the
 *   graph casts them to float32 at load, so they cost their fp32 size in memory.
 *
 * Environment: BENCH_KEEP=1 keeps the temp folder of random models; BENCH_SD15=0
 * skips the full-size model; BENCH_SD15_DTYPE=fp32|both; BENCH_RUNS (tiny timed runs,
 * default 10); BENCH_SD15_RUNS (default 2). Step times are the best of the runs:
 * this machine's cores are shared, and interference only ever makes runs slower.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { openModelFolder } from '../src/engine/models/load.ts';
import { presetConfigs } from '../src/engine/models/presets.ts';
import { writeRandomModel, type RandomPreset } from '../src/engine/models/random.ts';
import { vaeSpatialFactor } from '../src/engine/models/vae/graph.ts';
import { ortVersion } from '../src/engine/runtime/index.ts';
import { matmulPeak } from './support/peak.ts';
import { unetFlops } from './support/unet-flops.ts';
import type { StepReport, StepRequest } from './support/unet-step.ts';

const KEEP = Boolean(process.env.BENCH_KEEP);
const WITH_SD15 = process.env.BENCH_SD15 !== '0';
const SD15_DTYPES = (process.env.BENCH_SD15_DTYPE ?? 'both') === 'both' ? (['fp32', 'fp16'] as const) : (['fp32'] as const);
const TINY_RUNS = Number(process.env.BENCH_RUNS ?? 10);
const SD15_RUNS = Number(process.env.BENCH_SD15_RUNS ?? 2);
const BATCH = 2;
const SEQUENCE = 77;
const TARGET_RATIO = 0.4;
const TARGET_MEMORY = 1.3;

const repo = path.resolve(import.meta.dirname, '..');
const run = promisify(execFile);
const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');

/** One UNet measurement in a fresh child process (see support/unet-step.ts). */
async function childStep(request: StepRequest): Promise<StepReport> {
  const { stdout } = await run(process.execPath, [path.join(repo, 'bin/run-ts.js'), path.join(repo, 'bench/support/unet-step.ts'), JSON.stringify(request)], {
    cwd: repo,
    maxBuffer: 1 << 20,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as StepReport;
}

/** Best MatMul throughput over a few tries, B as a graph input and as a pre-packed constant. */
async function peak(): Promise<{ input: number; constant: number }> {
  let input = 0;
  let constant = 0;
  for (let i = 0; i < 2; i++) {
    input = Math.max(input, (await matmulPeak({ n: 2048, runs: 8 })).flopsPerSecond);
    constant = Math.max(constant, (await matmulPeak({ n: 2048, runs: 8, constantB: true })).flopsPerSecond);
  }
  return { input, constant };
}

async function weightBytes(folder: string): Promise<number> {
  const m = await openModelFolder(folder, { components: ['unet'] });
  let total = 0;
  for (const f of m.components.unet!.files) total += (await stat(path.join(m.root, f.location))).size;
  return total;
}

interface StepRow {
  model: string;
  pixels: number;
  latent: number;
  attention: 'plain' | 'fused';
  best: number;
  median: number;
  flops: number;
}

interface MemoryRow {
  dtype: string;
  disk: number;
  report: StepReport;
}

async function main(): Promise<void> {
  const work = await mkdtemp(path.join(tmpdir(), 'zipbank-bench-engine-'));
  console.log(`onnxruntime-node ${ortVersion}, Node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'CPU'}, provider cpu`);
  console.log(`random models in ${work}${KEEP ? ' (kept: BENCH_KEEP)' : ''}\n`);
  const steps: StepRow[] = [];
  const memory: MemoryRow[] = [];
  try {
    const peakBefore = await peak();
    const presets: { preset: RandomPreset; runs: number; dtypes: readonly ('fp32' | 'fp16')[] }[] = [
      { preset: 'tiny-sd15', runs: TINY_RUNS, dtypes: ['fp32'] },
      { preset: 'tiny-sdxl', runs: TINY_RUNS, dtypes: ['fp32'] },
    ];
    if (WITH_SD15) presets.push({ preset: 'sd15', runs: SD15_RUNS, dtypes: SD15_DTYPES });
    for (const { preset, runs, dtypes } of presets) {
      const configs = presetConfigs(preset);
      const cfg = configs.unet;
      const latent = cfg.sampleSize ?? 64;
      const pixels = latent * vaeSpatialFactor(configs.vae!);
      const flops = unetFlops(cfg, { batch: BATCH, latent, sequence: SEQUENCE }).total;
      for (const dtype of dtypes) {
        const folder = path.join(work, `${preset}-${dtype}`);
        const t0 = performance.now();
        const written = await writeRandomModel({ preset, seed: 1, dtype, out: folder });
        console.log(`${preset} ${dtype}: wrote ${gib(written.weightBytes)} of random weights in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
        const disk = await weightBytes(folder);
        if (dtype === 'fp16') {
          memory.push({ dtype, disk, report: await childStep({ model: folder, batch: BATCH, runs: 0, warmup: 0 }) });
          continue;
        }
        for (const attention of ['plain', 'fused'] as const) {
          const report = await childStep({ model: folder, batch: BATCH, runs, warmup: preset === 'sd15' ? 1 : 2, fusedAttention: attention === 'fused' });
          const sorted = [...report.stepSeconds].sort((a, b) => a - b);
          steps.push({ model: preset, pixels, latent, attention, best: sorted[0]!, median: sorted[Math.floor(sorted.length / 2)]!, flops });
          console.log(`  ${attention} attention: best ${sorted[0]!.toFixed(3)} s of ${sorted.length} steps, session created in ${report.createSeconds.toFixed(1)} s`);
          if (preset === 'sd15' && attention === 'plain') memory.push({ dtype, disk, report });
        }
      }
    }
    const peakAfter = await peak();
    const matmulInput = Math.max(peakBefore.input, peakAfter.input);
    const matmulConstant = Math.max(peakBefore.constant, peakAfter.constant);
    printSteps(steps, matmulInput, matmulConstant);
    printMemory(memory);
  } finally {
    if (!KEEP) await rm(work, { recursive: true, force: true });
  }
}

function printSteps(rows: StepRow[], input: number, constant: number): void {
  const best = Math.max(input, constant);
  console.log(`\nonnxruntime MatMul 2048x2048 fp32: ${(input / 1e9).toFixed(1)} GFLOP/s with B as an input, ${(constant / 1e9).toFixed(1)} GFLOP/s with B a pre-packed constant; peak = ${(best / 1e9).toFixed(1)} GFLOP/s`);
  console.log(`\nUNet step, batch ${BATCH} (CFG), ${SEQUENCE} text tokens, float32 on CPU (FLOPs: convs, linears, attention matmuls)`);
  console.log(`${'model'.padEnd(10)}${'image'.padEnd(10)}${'latent'.padEnd(8)}${'attention'.padEnd(11)}${'best s'.padStart(9)}${'median s'.padStart(10)}${'GFLOP'.padStart(10)}${'GFLOP/s'.padStart(9)}${'of peak'.padStart(9)}`);
  for (const r of rows) {
    const rate = r.flops / r.best;
    console.log(
      `${r.model.padEnd(10)}${`${r.pixels}x${r.pixels}`.padEnd(10)}${`${r.latent}x${r.latent}`.padEnd(8)}${r.attention.padEnd(11)}${r.best.toFixed(3).padStart(9)}${r.median.toFixed(3).padStart(10)}${(r.flops / 1e9).toFixed(1).padStart(10)}${(rate / 1e9).toFixed(1).padStart(9)}${`${((100 * rate) / best).toFixed(0)}%`.padStart(9)}`,
    );
  }
  for (const r of rows.filter((x) => x.model === 'sd15')) {
    const ratio = r.flops / r.best / best;
    console.log(`target: SD 1.5 UNet step (${r.attention} attention) >= ${TARGET_RATIO * 100}% of MatMul peak: ${(ratio * 100).toFixed(0)}% ${verdict(ratio >= TARGET_RATIO)}`);
  }
}

function printMemory(rows: MemoryRow[]): void {
  if (rows.length === 0) return;
  console.log('\nSD 1.5 UNet session (child process, float32 compute): memory after creation');
  console.log(`${'files'.padEnd(7)}${'on disk'.padStart(11)}${'create s'.padStart(10)}${'peak RSS'.padStart(11)}${'x disk'.padStart(8)}${'RSS now'.padStart(10)}${'anon'.padStart(10)}${'file'.padStart(9)}${'node alone'.padStart(12)}`);
  for (const { dtype, disk, report: r } of rows) {
    console.log(
      `${dtype.padEnd(7)}${mib(disk).padStart(11)}${r.createSeconds.toFixed(1).padStart(10)}${mib(r.maxRssAfterCreate).padStart(11)}${(r.maxRssAfterCreate / disk).toFixed(2).padStart(8)}${mib(r.rssAfterCreate).padStart(10)}${mib(r.rssAnonAfterCreate).padStart(10)}${mib(r.rssFileAfterCreate).padStart(9)}${mib(r.maxRssBefore).padStart(12)}`,
    );
  }
  const fp32 = rows.find((r) => r.dtype === 'fp32');
  if (fp32) {
    const copied = fp32.report.rssAnonAfterCreate >= 0.9 * fp32.disk;
    console.log(
      copied
        ? 'onnxruntime reads the external weights into its own (anonymous) memory: RssAnon ~ the weights, RssFile ~ the shared libraries; the file pages are not kept mapped'
        : 'the weights stay file-backed (mapped), not copied into anonymous memory',
    );
    if (fp32.report.maxRssAfterRuns > 0 && fp32.report.stepSeconds.length > 0) console.log(`peak RSS after the timed steps (activations, plain attention): ${mib(fp32.report.maxRssAfterRuns)}`);
    const ratio = fp32.report.maxRssAfterCreate / fp32.disk;
    console.log(`target: peak RSS after creating the SD 1.5 UNet session <= ${TARGET_MEMORY}x the fp32 weights on disk: ${ratio.toFixed(2)}x ${verdict(ratio <= TARGET_MEMORY)}`);
  }
  const fp16 = rows.find((r) => r.dtype === 'fp16');
  if (fp16) console.log(`fp16 files on CPU: ${(fp16.report.maxRssAfterCreate / fp16.disk).toFixed(2)}x their size (cast to float32 at load): CPU users should keep fp32 files`);
}

await main();
