/**
 * Child process of bench/engine.ts: open one model folder's UNet, build its graph
 * (float32 compute on CPU), create the session, and report as one JSON line the
 * session creation time and memory right after it (peak RSS, and current RSS split
 * into anonymous and file-backed pages from /proc), then time UNet steps. Running
 * alone in its own process keeps other work out of the memory numbers.
 *
 * @example
 *   node bin/run-ts.js bench/support/unet-step.ts '{"model":"/tmp/sd15","batch":2,"runs":2}'
 */
import { readFileSync } from 'node:fs';
import { openModelFolder } from '../../src/engine/models/load.ts';
import { buildUNetGraph } from '../../src/engine/models/unet/graph.ts';
import { randn } from '../../src/engine/pipeline/random.ts';
import { createSession, tensor, type Feeds } from '../../src/engine/runtime/index.ts';

export interface StepRequest {
  model: string;
  /** Samples per UNet call (2 = one image with classifier-free guidance). */
  batch: number;
  /** Latent height and width. Default: the config's sample_size. */
  latent?: number;
  /** Text tokens. Default 77. */
  sequence?: number;
  fusedAttention?: boolean;
  warmup?: number;
  /** Timed runs; 0 measures only session creation and memory. */
  runs: number;
}

export interface StepReport {
  latent: number;
  createSeconds: number;
  /** Bytes. */
  maxRssBefore: number;
  maxRssAfterCreate: number;
  rssAfterCreate: number;
  rssAnonAfterCreate: number;
  rssFileAfterCreate: number;
  maxRssAfterRuns: number;
  stepSeconds: number[];
}

/** VmRSS, RssAnon and RssFile in bytes (zeros where /proc is missing). */
export function procRss(): { rss: number; anon: number; file: number } {
  let text = '';
  try {
    text = readFileSync('/proc/self/status', 'utf8');
  } catch {
    return { rss: 0, anon: 0, file: 0 };
  }
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') };
}

const maxRss = () => process.resourceUsage().maxRSS * 1024;

async function main(request: StepRequest): Promise<StepReport> {
  const maxRssBefore = maxRss();
  const folder = await openModelFolder(request.model, { components: ['unet'] });
  const cfg = folder.configs.unet;
  const { model, inputs } = buildUNetGraph(cfg, { weights: folder.components.unet!.weights, fusedAttention: request.fusedAttention ?? false });
  const t0 = performance.now();
  const session = await createSession({ model, name: 'unet', externalDataDir: folder.root }, { provider: 'cpu' });
  const createSeconds = (performance.now() - t0) / 1000;
  const maxRssAfterCreate = maxRss();
  const after = procRss();

  const latent = request.latent ?? cfg.sampleSize ?? 64;
  const dims: Record<string, number> = { batch: request.batch, height: latent, width: latent, sequence: request.sequence ?? 77 };
  const feeds: Feeds = {};
  inputs.forEach((input, i) => {
    const shape = input.shape.map((d) => (typeof d === 'number' ? d : dims[String(d)]!));
    const n = shape.reduce((a, b) => a * b, 1);
    const values =
      input.name === 'timestep' ? Float32Array.from({ length: n }, () => 500) : input.name === 'time_ids' ? Float32Array.from({ length: n }, (_, j) => [1024, 1024, 0, 0, 1024, 1024][j % 6]!) : randn(100 + i, n);
    feeds[input.name] = tensor('float32', values, shape);
  });
  const stepSeconds: number[] = [];
  for (let i = 0; i < (request.warmup ?? 1) + request.runs; i++) {
    const s0 = performance.now();
    await session.run(feeds);
    if (i >= (request.warmup ?? 1)) stepSeconds.push((performance.now() - s0) / 1000);
  }
  await session.dispose();
  return {
    latent,
    createSeconds,
    maxRssBefore,
    maxRssAfterCreate,
    rssAfterCreate: after.rss,
    rssAnonAfterCreate: after.anon,
    rssFileAfterCreate: after.file,
    maxRssAfterRuns: maxRss(),
    stepSeconds,
  };
}

if (process.argv[1]?.endsWith('unet-step.ts')) {
  const report = await main(JSON.parse(process.argv[2] ?? '{}') as StepRequest);
  process.stdout.write(`${JSON.stringify(report)}\n`);
}
