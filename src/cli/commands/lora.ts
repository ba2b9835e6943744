/**
 * `zipbank lora <subcommand>`: LoRA files.
 *
 * @example
 *   zipbank lora inspect corgi.safetensors
 *   zipbank lora inspect corgi.safetensors --json
 *   zipbank lora random --rank 4 --targets attn --format kohya --family sd15 --seed 1 --out rand.safetensors
 *   zipbank lora merge --subject corgi.safetensors --style watercolor.safetensors --method direct --w-style 0.8 --out merged.safetensors
 */
import { parseArgs, UsageError } from '../args.ts';
import { dispatch, type CliIO, type Command, type Subcommand } from '../command.ts';
import { modelModuleTable, readLorasForModel } from '../../engine/lora/apply.ts';
import { layoutOf, type UNetLayout } from '../../engine/lora/keymap-sdxl.ts';
import { inspectLora, type LoraInspection } from '../../engine/lora/inspect.ts';
import { checkMergersFit, mergeLoras } from '../../engine/lora/merge.ts';
import { readMergers, roleCoefficients } from '../../engine/lora/mergers.ts';
import type { LoraSource } from '../../engine/lora/plan.ts';
import { readLora } from '../../engine/lora/read.ts';
import { randomLora } from '../../engine/lora/random.ts';
import { writeLora } from '../../engine/lora/write.ts';
import { readPipelineFolder } from '../../engine/models/folder.ts';
import type { BaseFamily } from '../../engine/models/modules.ts';

const FAMILIES = ['sd15', 'sd2', 'sdxl', 'world'] as const;

const usage = `usage: zipbank lora <subcommand> [options]

subcommands:
  inspect <file.safetensors> [--json]
      Format, base model, adapted modules per component, ranks, alphas, dtypes,
      size, metadata summary and trigger words. Reads the header only.
  random --rank <n> --family <${FAMILIES.join('|')}> --seed <n> --out <file.safetensors>
         [--targets attn|all] [--format kohya|peft] [--alpha <n>] [--dtype F32|F16|BF16]
      Write a seeded random LoRA (attn: to_q/to_k/to_v/to_out.0 of every UNet
      attention, the default; all: every UNet Linear and Conv2d) with ss_* metadata.
  merge --subject <a.safetensors> --style <b.safetensors> --out <merged.safetensors>
        [--method direct|ziplora] [--w-subject 1] [--w-style 1] [--coefficients <zip.safetensors>]
        [--format kohya|peft] [--dtype F32|F16|BF16] [--model <folder>]
      Merge two LoRAs into one standard LoRA of rank r_subject + r_style, without
      forming dense updates: direct (paper Eq. 1: w_s dW_s + w_c dW_c, the default) or
      ziplora (each LoRA's columns scaled by its merger vectors from --coefficients;
      --w-style is the style strength). The file records both sources (names and
      tensor hashes), the method and the weights in its metadata. --model reads the
      LoRAs against a model folder's modules (default: the SD presets).`;

type Sub = Subcommand;

const LABEL: Record<string, string> = { sd15: 'SD 1.5', sd2: 'SD 2.x', sdxl: 'SDXL', unknown: 'unknown' };

function mib(n: number): string {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
}

function printInspection(io: CliIO, i: LoraInspection): void {
  const m = i.metadata;
  const rows: [string, string | undefined][] = [
    ['file', i.file],
    ['format', i.format],
    ['base model', LABEL[i.baseModel] ?? i.baseModel],
    ['modules', `${i.modules.total} (unet ${i.modules.unet}, text_encoder ${i.modules.textEncoder}, text_encoder_2 ${i.modules.textEncoder2})`],
    ['algorithms', Object.entries(i.algos).map(([a, n]) => `${a} ${n}`).join(', ')],
    ['ranks', i.ranks.join(', ')],
    ['alphas', i.alphas.join(', ')],
    ['dtypes', i.dtypes.join(', ')],
    ['size', `${mib(i.sizeBytes)} (${i.tensorCount} tensors)`],
    ['title', m.title],
    ['author', m.author],
    ['license', m.license],
    ['description', m.description],
    ['trigger words', m.triggerWords.length ? m.triggerWords.join(', ') : '(none found)'],
    ['metadata base', m.baseModelClaim],
    ['network', [m.networkModule, m.networkDim !== undefined ? `dim ${m.networkDim}` : undefined, m.networkAlpha !== undefined ? `alpha ${m.networkAlpha}` : undefined].filter(Boolean).join(', ') || undefined],
    ['resolution', m.resolution],
    ['tags', m.tags.length ? m.tags.join(', ') : undefined],
    ['thumbnail', m.hasThumbnail ? 'yes' : undefined],
    ['embeddings', i.textualInversionTokens?.join(', ')],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) if (v !== undefined && v !== '') io.out(`${k.padEnd(w)}  ${v}`);
  for (const warning of i.warnings) io.out(`warning: ${warning}`);
}

async function runInspect(args: string[], io: CliIO): Promise<number> {
  const { flags, positionals } = parseArgs(args, { json: { type: 'boolean' } });
  if (positionals.length !== 1) throw new UsageError(`expected one file, got ${positionals.length}`);
  const info = await inspectLora(positionals[0]!);
  if (flags.json) io.out(JSON.stringify(info, null, 2));
  else printInspection(io, info);
  return 0;
}

function choice<T extends string>(flag: string, v: unknown, allowed: readonly T[], def?: T): T {
  if (v === undefined && def !== undefined) return def;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new UsageError(`--${flag} must be one of ${allowed.join(', ')}${v === undefined ? '' : `, got "${String(v)}"`}`);
  }
  return v as T;
}

async function runRandom(args: string[], io: CliIO): Promise<number> {
  const { flags, positionals } = parseArgs(args, {
    rank: { type: 'number' },
    targets: { type: 'string' },
    format: { type: 'string' },
    family: { type: 'string' },
    seed: { type: 'number' },
    alpha: { type: 'number' },
    dtype: { type: 'string' },
    out: { type: 'string' },
  });
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const rank = flags.rank as number | undefined;
  if (rank === undefined || !Number.isInteger(rank) || rank < 1) throw new UsageError('--rank must be a positive integer');
  const seed = flags.seed as number | undefined;
  if (seed === undefined || !Number.isInteger(seed)) throw new UsageError('--seed must be an integer');
  const out = flags.out as string | undefined;
  if (!out) throw new UsageError('--out <file.safetensors> is required');
  const family: BaseFamily = choice('family', flags.family, FAMILIES);
  const targets = choice('targets', flags.targets, ['attn', 'all'] as const, 'attn');
  const format = choice('format', flags.format, ['kohya', 'peft'] as const, 'kohya');
  const dtype = choice('dtype', flags.dtype, ['F32', 'F16', 'BF16'] as const, 'F32');
  const alpha = flags.alpha as number | undefined;
  if (alpha !== undefined && !(alpha > 0)) throw new UsageError('--alpha must be positive');
  const lora = randomLora({ family, rank, targets, seed, dtype, ...(alpha !== undefined ? { alpha } : {}) });
  await writeLora(out, lora, format);
  io.out(`wrote ${out}: ${format} ${LABEL[family]} LoRA, ${lora.modules.length} modules (${targets}), rank ${rank}, alpha ${alpha ?? rank}, ${dtype}, seed ${seed}`);
  return 0;
}

async function runMerge(args: string[], io: CliIO): Promise<number> {
  const { flags, positionals } = parseArgs(args, {
    subject: { type: 'string' },
    style: { type: 'string' },
    method: { type: 'string' },
    'w-subject': { type: 'number' },
    'w-style': { type: 'number' },
    coefficients: { type: 'string' },
    format: { type: 'string' },
    dtype: { type: 'string' },
    model: { type: 'string' },
    out: { type: 'string' },
  });
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const subject = flags.subject as string | undefined;
  const style = flags.style as string | undefined;
  const out = flags.out as string | undefined;
  if (!subject || !style) throw new UsageError('--subject <a.safetensors> and --style <b.safetensors> are required');
  if (!out) throw new UsageError('--out <merged.safetensors> is required');
  const coefficients = flags.coefficients as string | undefined;
  const method = choice('method', flags.method, ['direct', 'ziplora'] as const, coefficients ? 'ziplora' : 'direct');
  if (method === 'ziplora' && !coefficients) throw new UsageError('--method ziplora needs --coefficients <merger vectors file>');
  if (method === 'direct' && coefficients) throw new UsageError('--coefficients is for --method ziplora; a direct merge has none');
  const format = choice('format', flags.format, ['kohya', 'peft'] as const, 'kohya');
  const dtype = choice('dtype', flags.dtype, ['F32', 'F16', 'BF16'] as const, 'F32');
  const weights = [flags['w-subject'] ?? 1, flags['w-style'] ?? 1] as number[];

  const model = flags.model as string | undefined;
  let sources: LoraSource[];
  let layout: UNetLayout | undefined;
  if (model) {
    const configs = await readPipelineFolder(model);
    layout = layoutOf(modelModuleTable(configs).keys());
    sources = await readLorasForModel({ configs }, [subject, style].map((path, k) => ({ path, weight: weights[k]! })));
  } else {
    const first = await readLora(subject);
    const families = first.baseModel === 'unknown' ? {} : { families: [first.baseModel] };
    sources = [{ lora: first, weight: weights[0]! }, { lora: await readLora(style, families), weight: weights[1]! }];
  }
  if (coefficients) {
    const set = await readMergers(coefficients);
    if (set.roles.length !== 2) throw new UsageError(`${coefficients} has mergers for ${set.roles.length} LoRAs (${set.roles.join(', ')}); merge takes two`);
    checkMergersFit(coefficients, set.vectors, sources);
    sources = sources.map((s, k) => ({ ...s, coefficients: roleCoefficients(set, k) }));
  }
  const merged = await mergeLoras(sources, { method, roles: ['subject', 'style'], ...(coefficients ? { coefficientsFile: coefficients } : {}), ...(layout ? { layout } : {}), dtype });
  await writeLora(out, merged, format);
  const ranks = [...new Set(merged.modules.map((m) => m.rank))].sort((a, b) => a - b);
  io.out(
    `wrote ${out}: ${format} ${LABEL[merged.family]} LoRA, ${merged.modules.length} modules, rank ${ranks.join('/')}, ` +
      `${method} merge of ${sources.map((s, k) => `${k === 0 ? 'subject' : 'style'} ${s.lora.file} (weight ${s.weight})`).join(' and ')}`,
  );
  return 0;
}

const subcommands: Record<string, Sub> = { inspect: runInspect, random: runRandom, merge: runMerge };

const command: Command = {
  name: 'lora',
  summary: 'inspect LoRA files (format, base model, modules), merge two, and write random ones',
  usage,
  run: dispatch(subcommands, (m) => new UsageError(m)),
};

export default command;
