/** `zipbank bank ...`: upload, browse, rate, report and remove LoRAs in the bank. */
import { loadConfig } from '../../config.ts';
import { Bank, CLI_ACTOR, REPORT_REASONS, type Actor } from '../../bank/index.ts';
import type { LoraSummary } from '../../bank/search.ts';
import type { Lora } from '../../bank/schema.ts';
import { parseArgs, UsageError, type FlagSpec } from '../args.ts';
import type { CliIO, Command } from '../command.ts';

const USAGE = `usage: zipbank bank <subcommand> [options]

  add <file.safetensors> --name <name> --kind subject|style|other
      [--prompt "a photo of sks corgi"] [--images a.png b.png ...] [--display-name "..."]
      [--description "..."] [--tags a,b] [--trigger word ...] [--nsfw] [--license <name>]
      [--no-commercial] [--no-derivatives] [--credit-required] [--json]
  search <text> [--kind k] [--base sd15|sd2|sdxl] [--tag t ...] [--sort relevance|popular|rating|newest]
      [--limit n] [--cursor c] [--nsfw] [--json]
  list [--kind k] [--base b] [--tag t ...] [--sort popular|rating|newest] [--limit n] [--cursor c] [--nsfw] [--json]
  autocomplete <prefix> [--kind k] [--base b] [--json]
  show <name> [--json]
  rate <name> <1-5> [--as platform:id]
  report <name> <${REPORT_REASONS.join('|')}> [--details "..."] [--as platform:id]
  remove <name> [--reason "..."] [--as platform:id] [--roles id,id] [--community platform:id]

The CLI acts as the operator (cli:local, an admin by default; see ZIPBANK_ADMINS) unless --as names another user.`;

const common: Record<string, FlagSpec> = { json: { type: 'boolean' } };
const filters: Record<string, FlagSpec> = {
  kind: { type: 'string' },
  base: { type: 'string' },
  tag: { type: 'string', multiple: true },
  sort: { type: 'string' },
  limit: { type: 'number' },
  cursor: { type: 'string' },
  nsfw: { type: 'boolean' },
};

function actorFrom(flags: Record<string, unknown>): Actor {
  const as = flags.as as string | undefined;
  const base: Actor = as
    ? (() => {
        const m = /^([a-z]+):(.+)$/.exec(as);
        if (!m) throw new UsageError(`--as expects platform:id (e.g. discord:1234), got "${as}"`);
        return { platform: m[1]!, userId: m[2]! };
      })()
    : { ...CLI_ACTOR };
  if (flags.roles) base.roleIds = String(flags.roles).split(',').filter(Boolean);
  if (flags.community) base.communityId = String(flags.community);
  return base;
}

function oneOf<T extends string>(flag: string, v: unknown, allowed: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!allowed.includes(v as T)) throw new UsageError(`--${flag} must be one of ${allowed.join(', ')}, got "${String(v)}"`);
  return v as T;
}

function stars(mean: number, count: number): string {
  return count ? `${mean.toFixed(1)}★ (${count})` : 'unrated';
}

function line(l: LoraSummary): string {
  return `${l.name.padEnd(20)} ${l.kind.padEnd(7)} ${l.baseModel.padEnd(5)} ${String(l.usesCount).padStart(6)} uses  ${stars(l.ratingMean, l.ratingCount).padEnd(12)} ${l.displayName}`;
}

function card(l: Lora, images: { prompt: string | null; width: number; height: number; storageKey: string }[], io: CliIO): void {
  io.out(`${l.displayName}  (${l.name})`);
  io.out(`  kind ${l.kind}, base model ${l.baseModel}, format ${l.format}, ${l.moduleCount} modules (UNet ${l.unetModules}, text encoders ${l.textEncoderModules})`);
  io.out(`  rank ${l.ranks.join('/') || '-'}, alpha ${l.alphas.join('/') || '-'}, ${(l.sizeBytes / 2 ** 20).toFixed(2)} MiB`);
  if (l.instancePrompt) io.out(`  instance prompt: ${l.instancePrompt}`);
  if (l.triggerWords.length) io.out(`  trigger words: ${l.triggerWords.join(', ')}`);
  if (l.tags.length) io.out(`  tags: ${l.tags.join(', ')}`);
  if (l.description) io.out(`  ${l.description}`);
  io.out(`  ${stars(l.ratingMean, l.ratingCount)}, ${l.usesCount} uses, ${l.nsfw ? 'NSFW, ' : ''}${l.visibility}, uploaded by ${l.uploaderName ?? l.uploaderId} (${l.uploaderPlatform}) on ${l.createdAt.toISOString().slice(0, 10)}`);
  io.out(`  licence: ${l.licenseName ?? 'unspecified'}; commercial use: ${l.allowCommercialUse}; derivatives: ${l.allowDerivatives ? 'yes' : 'no'}; credit required: ${l.allowNoCredit ? 'no' : 'yes'}`);
  io.out(`  sha256 ${l.fileSha256}  tensors ${l.tensorSha256.slice(0, 12)}`);
  for (const w of l.warnings) io.out(`  warning: ${w}`);
  for (const [i, img] of images.entries()) io.out(`  reference image ${i + 1}: ${img.width}x${img.height} ${img.storageKey}${img.prompt ? `  "${img.prompt}"` : ''}`);
}

async function withBank<T>(fn: (bank: Bank) => Promise<T>): Promise<T> {
  const bank = await Bank.open(loadConfig());
  try {
    return await fn(bank);
  } finally {
    await bank.close();
  }
}

async function run(argv: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'add': {
      const { flags, positionals } = parseArgs(rest, {
        ...common,
        name: { type: 'string' },
        kind: { type: 'string' },
        prompt: { type: 'string' },
        images: { type: 'string', multiple: true, greedy: true },
        'display-name': { type: 'string' },
        description: { type: 'string' },
        tags: { type: 'string' },
        trigger: { type: 'string', multiple: true },
        nsfw: { type: 'boolean' },
        license: { type: 'string' },
        'no-commercial': { type: 'boolean' },
        'no-derivatives': { type: 'boolean' },
        'credit-required': { type: 'boolean' },
        as: { type: 'string' },
        community: { type: 'string' },
        'community-only': { type: 'boolean' },
      });
      const file = positionals[0];
      if (!file || positionals.length > 1) throw new UsageError('add takes exactly one .safetensors file');
      if (!flags.name) throw new UsageError('add needs --name (the short name people type in chat)');
      const kind = oneOf('kind', flags.kind, ['subject', 'style', 'other'] as const);
      if (!kind) throw new UsageError('add needs --kind subject|style|other');
      const images = (flags.images as string[] | undefined) ?? [];
      const result = await withBank((bank) =>
        bank.add({
          file,
          name: String(flags.name),
          kind,
          instancePrompt: flags.prompt as string | undefined,
          displayName: flags['display-name'] as string | undefined,
          description: flags.description as string | undefined,
          tags: flags.tags ? String(flags.tags).split(',') : undefined,
          triggerWords: flags.trigger as string[] | undefined,
          nsfw: Boolean(flags.nsfw),
          license: {
            name: flags.license as string | undefined,
            allowCommercialUse: flags['no-commercial'] ? 'none' : 'sell',
            allowDerivatives: !flags['no-derivatives'],
            allowNoCredit: !flags['credit-required'],
          },
          visibility: flags['community-only'] ? 'community' : 'public',
          uploader: actorFrom(flags),
          images: images.map((f) => ({ file: f, prompt: flags.prompt as string | undefined })),
        }),
      );
      if (flags.json) {
        io.out(JSON.stringify({ duplicate: result.duplicate, lora: result.lora, images: result.images, inspection: result.inspection }, null, 2));
      } else {
        io.out(
          result.duplicate
            ? `already in the bank as "${result.lora.name}" (same tensors); nothing added.`
            : `added "${result.lora.name}": ${result.lora.kind}, ${result.lora.baseModel}, ${result.inspection.format}, ${result.lora.moduleCount} modules, rank ${result.lora.ranks.join('/')}`,
        );
        for (const w of result.inspection.warnings) io.out(`warning: ${w}`);
      }
      return 0;
    }
    case 'search':
    case 'list': {
      const { flags, positionals } = parseArgs(rest, { ...common, ...filters });
      const text = positionals.join(' ');
      if (sub === 'search' && !text) throw new UsageError('search needs some text');
      const page = await withBank((bank) =>
        bank.search({
          text: sub === 'search' ? text : undefined,
          kind: oneOf('kind', flags.kind, ['subject', 'style', 'other'] as const),
          baseModel: oneOf('base', flags.base, ['sd15', 'sd2', 'sdxl', 'world'] as const),
          tags: flags.tag as string[] | undefined,
          sort: oneOf('sort', flags.sort, ['relevance', 'popular', 'rating', 'newest'] as const),
          limit: flags.limit as number | undefined,
          cursor: flags.cursor as string | undefined,
          nsfw: Boolean(flags.nsfw),
        }),
      );
      if (flags.json) {
        io.out(JSON.stringify(page, null, 2));
      } else {
        if (page.items.length === 0) io.out(sub === 'search' ? `nothing in the bank matches "${text}".` : 'the bank is empty.');
        for (const l of page.items) io.out(line(l));
        if (page.nextCursor) io.out(`more: --cursor ${page.nextCursor}`);
      }
      return 0;
    }
    case 'autocomplete': {
      const { flags, positionals } = parseArgs(rest, { ...common, kind: filters.kind!, base: filters.base! });
      const items = await withBank((bank) =>
        bank.autocomplete(positionals.join(' '), {
          kind: oneOf('kind', flags.kind, ['subject', 'style', 'other'] as const),
          baseModel: oneOf('base', flags.base, ['sd15', 'sd2', 'sdxl', 'world'] as const),
        }),
      );
      if (flags.json) io.out(JSON.stringify(items, null, 2));
      else for (const i of items) io.out(`${i.name.padEnd(20)} ${i.kind.padEnd(7)} ${i.baseModel.padEnd(5)} ${i.displayName}`);
      return 0;
    }
    case 'show': {
      const { flags, positionals } = parseArgs(rest, common);
      if (positionals.length !== 1) throw new UsageError('show takes one name');
      const d = await withBank((bank) => bank.show(positionals[0]!));
      if (flags.json) io.out(JSON.stringify(d, null, 2));
      else card(d.lora, d.images, io);
      return 0;
    }
    case 'rate': {
      const { positionals, flags } = parseArgs(rest, { as: { type: 'string' } });
      if (positionals.length !== 2) throw new UsageError('rate takes a name and 1-5 stars');
      const n = Number(positionals[1]);
      const r = await withBank((bank) => bank.rate(positionals[0]!, actorFrom(flags), n));
      io.out(`rated "${positionals[0]}" ${r.stars}★; now ${stars(r.ratingMean, r.ratingCount)}`);
      return 0;
    }
    case 'report': {
      const { positionals, flags } = parseArgs(rest, { as: { type: 'string' }, details: { type: 'string' } });
      if (positionals.length !== 2) throw new UsageError(`report takes a name and a reason (${REPORT_REASONS.join(', ')})`);
      const r = await withBank((bank) => bank.report(positionals[0]!, actorFrom(flags), positionals[1]!, flags.details as string | undefined));
      io.out(`reported "${positionals[0]}" (${r.openReports} open report(s)); moderators will look at it.`);
      return 0;
    }
    case 'remove': {
      const { positionals, flags } = parseArgs(rest, {
        as: { type: 'string' },
        roles: { type: 'string' },
        community: { type: 'string' },
        reason: { type: 'string' },
      });
      if (positionals.length !== 1) throw new UsageError('remove takes one name');
      await withBank((bank) => bank.remove(positionals[0]!, actorFrom(flags), (flags.reason as string | undefined) ?? 'removed'));
      io.out(`removed "${positionals[0]}" from the bank.`);
      return 0;
    }
    default:
      throw new UsageError(sub ? `unknown subcommand "${sub}"` : 'missing subcommand');
  }
}

const command: Command = {
  name: 'bank',
  summary: 'upload, search, show, rate, report and remove LoRAs in the community bank',
  usage: USAGE,
  run,
};
export default command;
