/**
 * `zipbank model <subcommand>`: model architectures.
 *
 * @example
 *   zipbank model inspect --preset sd15
 *   zipbank model inspect ./stable-diffusion-xl-base-1.0 --json
 */
import { parseArgs, UsageError } from '../args.ts';
import type { CliIO, Command } from '../command.ts';
import { readPipelineFolder } from '../../engine/models/folder.ts';
import { inspectArchitecture, type ArchitectureSummary } from '../../engine/models/inspect.ts';
import { PRESET_IDS, presetConfigs } from '../../engine/models/presets.ts';

const usage = `usage: zipbank model <subcommand> [options]

subcommands:
  inspect --preset <${PRESET_IDS.join('|')}> [--json]
  inspect <diffusers folder> [--json]
      Tensor and parameter counts per component, computed from config.json files
      (the folder needs model_index.json and each component's config.json).`;

type Sub = (args: string[], io: CliIO) => Promise<number>;

const subcommands: Record<string, Sub> = {
  inspect: runInspect,
};

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
  summary: 'inspect model architectures (tensor and parameter counts)',
  usage,
  async run(args, io) {
    const [sub, ...rest] = args;
    if (!sub) throw new UsageError('missing subcommand');
    const run = subcommands[sub];
    if (!run) throw new UsageError(`unknown subcommand "${sub}"`);
    return run(rest, io);
  },
};

export default command;
