/**
 * GPU benchmark entry: bundled with esbuild by bench/gpu-bundle.sh and run by
 * bench/gpu.sh on an offline GPU machine (it also runs from the repository:
 * `node bin/run-ts.js bench/gpu.ts --preset tiny-sdxl --device cpu`).
 *
 * 1. chooses the execution provider (--device auto: CUDA if onnxruntime's CUDA
 *    provider library is installed and works, else WebGPU, else CPU) and says why;
 * 2. writes random weights of the preset's architecture (writeRandomModel, fp16 by
 *    default) into --work, unless --model names an existing folder;
 * 3. renders one image: text encoders, --steps UNet steps at batch 2 (classifier-free
 *    guidance), VAE decoder; prints seconds per step;
 * 4. prints one line `RESULT {json}`; on failure `FAILED at <phase>: <message>` and exit 1.
 *
 * Options: --preset sdxl|sd15|tiny-sdxl|tiny-sd15 (default sdxl), --device
 * auto|cuda|webgpu|cpu (default auto), --steps N (4), --size PX (the preset's
 * sample_size in pixels: 1024 for sdxl, 64 for the tiny ones), --dtype fp16|fp32 (fp16; float32 compute on CPU),
 * --attention fused|plain|both (fused; fused falls back to plain where the provider
 * lacks com.microsoft MultiHeadAttention), --work DIR (a new temp folder), --model DIR, --keep.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ZipbankError } from '../src/errors/index.ts';
import { openModelFolder } from '../src/engine/models/load.ts';
import { presetConfigs } from '../src/engine/models/presets.ts';
import { isRandomPreset, writeRandomModel } from '../src/engine/models/random.ts';
import { vaeSpatialFactor } from '../src/engine/models/vae/graph.ts';
import { chooseProvider, ortVersion } from '../src/engine/runtime/index.ts';
import { render } from './support/render.ts';

const { values: args } = parseArgs({
  options: {
    preset: { type: 'string', default: 'sdxl' },
    device: { type: 'string', default: 'auto' },
    steps: { type: 'string', default: '4' },
    size: { type: 'string' },
    dtype: { type: 'string', default: 'fp16' },
    attention: { type: 'string', default: 'fused' },
    work: { type: 'string' },
    model: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});

let phase = 'arguments';
const log = (line: string) => console.log(line);

function describe(e: unknown): string {
  if (e instanceof ZipbankError) return `${e.name}: ${e.message}\n  details: ${JSON.stringify(e.details)}${e.cause instanceof Error ? `\n  cause: ${e.cause.message}` : ''}`;
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}

async function main(): Promise<void> {
  const preset = args.preset!;
  if (!isRandomPreset(preset)) throw new Error(`--preset ${preset}: use sdxl, sd15, tiny-sdxl or tiny-sd15`);
  if (args.dtype !== 'fp16' && args.dtype !== 'fp32') throw new Error(`--dtype ${args.dtype}: use fp16 or fp32`);
  if (!['fused', 'plain', 'both'].includes(args.attention!)) throw new Error(`--attention ${args.attention}: use fused, plain or both`);
  const steps = Number(args.steps);
  const configs = presetConfigs(preset);
  const factor = vaeSpatialFactor(configs.vae!);
  const multiple = factor * 2 ** (configs.unet.blockOutChannels.length - 1);
  const size = Number(args.size ?? (configs.unet.sampleSize ?? 64) * factor);
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`--steps ${args.steps}: a positive integer`);
  if (!Number.isInteger(size) || size % multiple !== 0) throw new Error(`--size ${size}: a multiple of ${multiple} for ${preset}`);
  log(`zipbank GPU bench: preset ${preset}, ${size}x${size}, ${steps} steps, weights ${args.dtype}, onnxruntime-node ${ortVersion}, Node ${process.version}`);

  phase = 'provider';
  const choice = await chooseProvider({ device: args.device, log: (_level, message) => log(`provider: ${message}`) });
  log(`provider: ${choice.provider}`);
  const dtype = choice.provider === 'cpu' || args.dtype === 'fp32' ? 'float32' : 'float16';

  const work = args.work ?? (await mkdtemp(path.join(tmpdir(), 'zipbank-gpu-bench-')));
  let folderPath = args.model;
  try {
    if (!folderPath) {
      phase = 'random weights';
      folderPath = path.join(work, `${preset}-${args.dtype}`);
      const t0 = performance.now();
      let shown = 0;
      const r = await writeRandomModel({
        preset,
        seed: 1,
        dtype: args.dtype,
        out: folderPath,
        onProgress: (p) => {
          const pct = Math.floor((10 * p.written) / p.total);
          if (pct > shown) log(`random weights: ${(shown = pct) * 10}% of ${(p.total / 2 ** 30).toFixed(2)} GiB`);
        },
      });
      log(`random weights: ${(r.weightBytes / 2 ** 30).toFixed(2)} GiB in ${((performance.now() - t0) / 1000).toFixed(1)} s into ${folderPath}`);
    }
    phase = 'open model folder';
    const folder = await openModelFolder(folderPath);
    for (const attention of args.attention === 'both' ? (['fused', 'plain'] as const) : [args.attention as 'fused' | 'plain']) {
      const result = await render(folder, {
        provider: choice.provider,
        dtype,
        fusedAttention: attention === 'fused',
        steps,
        size,
        log,
        ortLog: choice.provider === 'cpu' ? 'fatal' : 'warning',
        phase: (name) => (phase = name),
      });
      const sorted = [...result.stepSeconds].sort((a, b) => a - b);
      const later = result.stepSeconds.slice(1);
      const mean = later.length ? later.reduce((a, b) => a + b, 0) / later.length : result.stepSeconds[0]!;
      log(`seconds per step (batch 2, ${result.attention} attention): first ${result.stepSeconds[0]!.toFixed(3)}, mean of the rest ${mean.toFixed(3)}, best ${sorted[0]!.toFixed(3)}`);
      log(`image: ${result.image.finite}/${result.image.total} finite values, mean ${result.image.mean.toFixed(3)}, range [${result.image.min.toFixed(2)}, ${result.image.max.toFixed(2)}]`);
      log(
        `RESULT ${JSON.stringify({ preset, provider: choice.provider, dtype, attention: result.attention, size, steps, stepSeconds: result.stepSeconds, meanStepSeconds: mean, unetCreateSeconds: result.unetCreateSeconds, textSeconds: result.textSeconds, vaeCreateSeconds: result.vaeCreateSeconds, vaeSeconds: result.vaeSeconds, peakRssBytes: process.resourceUsage().maxRSS * 1024 })}`,
      );
    }
  } finally {
    if (!args.keep && !args.work) await rm(work, { recursive: true, force: true });
  }
}

try {
  await main();
} catch (e) {
  console.log(`FAILED at ${phase}: ${describe(e)}`);
  process.exitCode = 1;
}
