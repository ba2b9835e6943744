/**
 * `zipbank model <subcommand>`: model architectures.
 *
 * @example
 *   zipbank model inspect --preset sd15
 *   zipbank model inspect ./stable-diffusion-xl-base-1.0 --json
 *   zipbank model random --preset tiny-sd15 --seed 7 --out ./models/tiny
 */
import { parseArgs, UsageError } from '../args.ts';
import { dispatch, type CliIO, type Command, type Subcommand } from '../command.ts';
import { readPipelineFolder } from '../../engine/models/folder.ts';
import { inspectArchitecture, type ArchitectureSummary } from '../../engine/models/inspect.ts';
import { PRESET_IDS, presetConfigs } from '../../engine/models/presets.ts';
import { RANDOM_PRESETS, writeRandomModel, type RandomModelProgress } from '../../engine/models/random.ts';

const usage = `usage: zipbank model <subcommand> [options]

subcommands:
  inspect --preset <${PRESET_IDS.join('|')}> [--json]
  inspect <diffusers folder> [--json]
      Tensor and parameter counts per component, computed from config.json files
      (the folder needs model_index.json and each component's config.json).
  random --preset <${RANDOM_PRESETS.join('|')}> --out <folder> [--seed N] [--dtype fp32|fp16]
      Write a complete diffusers model folder with seeded random weights (for tests
      and benchmarks). Same preset, seed and dtype: byte-identical files. fp16 uses the
      .fp16.safetensors variant names. sd15 needs ~4 GB (fp32), sdxl ~14 GB (fp32).`;

type Sub = Subcommand;

const subcommands: Record<string, Sub> = {
  inspect: runInspect,
  random: runRandom,
};

async function runRandom(args: string[], io: CliIO): Promise<number> {
  const { flags, positionals } = parseArgs(args, { preset: { type: 'string' }, seed: { type: 'string' }, dtype: { type: 'string' }, out: { type: 'string' } });
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const preset = flags.preset as string | undefined;
  const out = flags.out as string | undefined;
  if (!preset) throw new UsageError('--preset is required');
  if (!out) throw new UsageError('--out is required');
  const dtype = (flags.dtype as string | undefined) ?? 'fp32';
  if (dtype !== 'fp32' && dtype !== 'fp16') throw new UsageError(`--dtype must be fp32 or fp16, got "${dtype}"`);
  const seedText = (flags.seed as string | undefined) ?? '0';
  if (!/^\d+$/.test(seedText) || BigInt(seedText) >= 1n << 64n) throw new UsageError(`--seed must be an integer from 0 to 2^64 - 1, got "${seedText}"`);
  const started = Date.now();
  const result = await writeRandomModel({ preset, out, seed: BigInt(seedText), dtype, onProgress: progressPrinter(io) });
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  io.out(`wrote ${result.out}: ${preset}, seed ${seedText}, ${dtype}, ${result.files.length} files, ${size(result.weightBytes)} of weights in ${secs} s`);
  return 0;
}

/** One line per weight file and one per tenth of the total. */
function progressPrinter(io: CliIO): (p: RandomModelProgress) => void {
  let file = '';
  let tenth = 0;
  return (p) => {
    if (p.file !== file) {
      file = p.file;
      io.err(`writing ${p.file} (${size(p.fileBytes)})`);
    }
    if (p.total < 64 * 2 ** 20) return;
    const now = Math.floor((10 * p.written) / p.total);
    if (now > tenth) {
      tenth = now;
      io.err(`  ${now * 10}%  ${size(p.written)} / ${size(p.total)}`);
    }
  };
}

function size(bytes: number): string {
  return bytes >= 1 << 30 ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

async function runInspect(args: string[], io: CliIO): Promise<number> {
  const { flags, positionals } = parseArgs(args, { preset: { type: 'string' }, json: { type: 'boolean' } });
  const preset = flags.preset as string | undefined;
  if ((preset === undefined) === (positionals.length === 0)) {
    throw new UsageError('give either --preset <name> or one diffusers folder');
  }
  if (positionals.length > 1) throw new UsageError(`expected one folder, got ${positionals.length}`);
  const source = preset !== undefined ? `preset ${preset}` : positionals[0]!;
  const cfgs = preset !== undefined ? presetConfigs(preset) : await readPipelineFolder(positionals[0]!);
  const summary = inspectArchitecture(cfgs);
  if (flags.json) io.out(JSON.stringify({ source, ...summary }, null, 2));
  else printTable(io, source, summary);
  return 0;
}

function printTable(io: CliIO, source: string, s: ArchitectureSummary): void {
  const fmt = (n: number) => n.toLocaleString('en-US');
  const rows: string[][] = [
    ['component', 'class', 'tensors', 'parameters'],
    ...s.components.map((c) => [c.folder, c.className, fmt(c.tensors), fmt(c.parameters)]),
    ['total', '', fmt(s.total.tensors), fmt(s.total.parameters)],
  ];
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  io.out(source);
  for (const r of rows) {
    io.out(
      [r[0]!.padEnd(widths[0]!), r[1]!.padEnd(widths[1]!), r[2]!.padStart(widths[2]!), r[3]!.padStart(widths[3]!)].join('  ').trimEnd(),
    );
  }
}

const command: Command = {
  name: 'model',
  summary: 'inspect model architectures; write seeded random models',
  usage,
  run: dispatch(subcommands, (m) => new UsageError(m)),
};

export default command;
