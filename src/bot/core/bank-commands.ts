/**
 * `/bank search|show|top|upload|rate|report|remove`: cards with a LoRA's preview
 * images, kind, base model, trigger words, rating and uses; uploads from a chat
 * attachment through the bank's own validation; ratings, reports, and removal by
 * the uploader or a moderator. The bank's refusals (bad file, name taken, not
 * allowed) come back as its coded errors and are shown as they are.
 *
 * @example
 *   const reply = await bankCommand(deps, ix, 'bank rate', { name: 'corgi', stars: 5 });
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { actorKey, type Actor } from '../../bank/actor.ts';
import { removeLora } from '../../bank/moderation.ts';
import type { LoraSummary, SortOrder } from '../../bank/search.ts';
import type { Lora } from '../../bank/schema.ts';
import { actorOf, communityOf, textReply, type CoreDeps } from './context.ts';
import { say } from './messages.ts';
import { attachmentOf, booleanOf, numberOf, stringOf, type OptionValues } from './options.ts';
import { isModeratorOf } from './policy.ts';
import type { Card, InteractionContext, MessageReply } from './types.ts';

const LIST_LIMIT = 5;

type CardLora = Pick<
  LoraSummary,
  'name' | 'displayName' | 'kind' | 'baseModel' | 'description' | 'tags' | 'triggerWords' | 'nsfw' | 'usesCount' | 'ratingCount' | 'ratingMean' | 'uploaderName' | 'uploaderId'
> &
  Partial<Pick<Lora, 'licenseName'>>;

/** A LoRA's card; preview images only when `showImages` (NSFW entries outside NSFW communities show none). */
export function loraCard(l: CardLora, previews: readonly string[], showImages: boolean): Card {
  const fields = [
    { name: say('label.kind'), value: l.kind, inline: true },
    { name: say('label.base'), value: say('label.base-model', { base: l.baseModel }), inline: true },
    { name: say('label.rating'), value: say('rating.value', { mean: l.ratingMean, count: l.ratingCount }), inline: true },
    { name: say('label.uses'), value: String(l.usesCount), inline: true },
  ];
  if (l.triggerWords.length) fields.push({ name: say('label.triggers'), value: l.triggerWords.map((w) => `\`${w}\``).join(', '), inline: false });
  if (l.tags.length) fields.push({ name: say('label.tags'), value: l.tags.join(', '), inline: false });
  if (l.licenseName) fields.push({ name: say('label.license'), value: l.licenseName, inline: true });
  fields.push({ name: say('label.uploader'), value: l.uploaderName ?? l.uploaderId, inline: true });
  const title = `${l.displayName !== l.name ? `${l.displayName} (${l.name})` : l.name}${l.nsfw ? ` · ${say('label.nsfw')}` : ''}`;
  return { title, ...(l.description ? { description: l.description.slice(0, 400) } : {}), fields, imageKeys: showImages ? [...previews] : [] };
}

async function listReply(d: CoreDeps, items: LoraSummary[], title: string, empty: string): Promise<MessageReply> {
  if (items.length === 0) return textReply(empty, { ephemeral: true });
  // Listings come from a search that already left NSFW entries out unless the community allows them.
  const previews = await d.bank.previews(items.map((i) => i.id), 1);
  const cards = items.map((i) => loraCard(i, previews.get(i.id) ?? [], true));
  return textReply(title, { cards });
}

async function search(d: CoreDeps, ix: InteractionContext, v: OptionValues): Promise<MessageReply> {
  const community = await communityOf(d, ix.communityId);
  const query = stringOf(v, 'query') || undefined;
  const page = await d.bank.search({
    ...(query ? { text: query } : {}),
    kind: stringOf(v, 'kind') as 'subject' | 'style' | 'other' | undefined,
    baseModel: stringOf(v, 'base') as 'sd15' | 'sd2' | 'sdxl' | 'world' | undefined,
    nsfw: community?.nsfwAllowed ?? false,
    ...(ix.communityId ? { communityId: ix.communityId } : {}),
    limit: LIST_LIMIT,
  });
  const more = page.nextCursor !== undefined;
  return listReply(d, page.items, say('bank.search.title', { query, count: page.items.length, more }), say('bank.search.none', { query }));
}

async function top(d: CoreDeps, ix: InteractionContext, v: OptionValues): Promise<MessageReply> {
  const community = await communityOf(d, ix.communityId);
  const kind = stringOf(v, 'kind') as 'subject' | 'style' | 'other' | undefined;
  const sort = (stringOf(v, 'sort') ?? 'popular') as SortOrder;
  const page = await d.bank.search({
    kind,
    sort,
    nsfw: community?.nsfwAllowed ?? false,
    ...(ix.communityId ? { communityId: ix.communityId } : {}),
    limit: LIST_LIMIT,
  });
  return listReply(d, page.items, say('bank.top.title', { sort, kind }), say('bank.search.none', { query: undefined }));
}

async function show(d: CoreDeps, ix: InteractionContext, name: string): Promise<MessageReply> {
  const actor = actorOf(ix);
  const { lora, images } = await d.bank.show(name, actor);
  const community = await communityOf(d, ix.communityId);
  const keys = images.slice(0, 4).map((i) => i.storageKey);
  const card = loraCard(lora, keys, !lora.nsfw || !!community?.nsfwAllowed);
  return textReply(card.title, { cards: [card] });
}

function csv(s: string | undefined): string[] | undefined {
  if (s === undefined) return undefined;
  return s.split(',').map((x) => x.trim()).filter(Boolean);
}

async function upload(d: CoreDeps, ix: InteractionContext, v: OptionValues): Promise<MessageReply> {
  const file = attachmentOf(v, 'file')!;
  const dir = await mkdtemp(join(tmpdir(), 'zipbank-upload-'));
  const fileName = basename(file.filename).slice(0, 200) || 'upload.safetensors';
  try {
    const path = join(dir, 'upload.safetensors');
    await writeFile(path, file.data);
    const trigger = csv(stringOf(v, 'trigger'));
    const tags = csv(stringOf(v, 'tags'));
    const description = stringOf(v, 'description');
    const nsfw = booleanOf(v, 'nsfw');
    const r = await d.bank.add({
      file: path,
      fileName,
      name: stringOf(v, 'name')!.toLowerCase(),
      kind: stringOf(v, 'kind') as 'subject' | 'style' | 'other',
      uploader: actorOf(ix),
      ...(trigger ? { triggerWords: trigger } : {}),
      ...(tags ? { tags } : {}),
      ...(description ? { description } : {}),
      ...(nsfw !== undefined ? { nsfw } : {}),
      ...(stringOf(v, 'visibility') ? { visibility: stringOf(v, 'visibility') as 'public' | 'community' } : {}),
    });
    const l = r.lora;
    if (r.duplicate) return textReply(say('bank.upload.duplicate', { name: l.name }), { ephemeral: true });
    const text = [say('bank.uploaded', { name: l.name, kind: l.kind, base: say('label.base-model', { base: l.baseModel }) })];
    if (l.warnings.length) text.push(say('bank.upload.warnings', { warnings: l.warnings }));
    return textReply(text.join('\n'), { cards: [loraCard(l, [], false)] });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function remove(d: CoreDeps, ix: InteractionContext, name: string, reason: string): Promise<MessageReply> {
  const actor: Actor = actorOf(ix);
  const lora = await d.bank.require(name, actor);
  const admins = d.bank.options.admins;
  // A platform moderator (e.g. Discord's Manage Messages) of the community the entry came
  // from may remove it too; the bank itself knows only role ids and admins.
  const community = await communityOf(d, lora.communityId);
  const removed = isModeratorOf(ix, lora.communityId, community, admins)
    ? await removeLora(d.bank.db, lora, actor, [...admins, actorKey(actor)], reason)
    : await d.bank.remove(name, actor, reason);
  return textReply(say('bank.removed', { name: removed.name }), { ephemeral: true });
}

export async function bankCommand(d: CoreDeps, ix: InteractionContext, path: string, v: OptionValues): Promise<MessageReply> {
  switch (path) {
    case 'bank search':
      return search(d, ix, v);
    case 'bank top':
      return top(d, ix, v);
    case 'bank show':
      return show(d, ix, stringOf(v, 'name')!);
    case 'bank upload':
      return upload(d, ix, v);
    case 'bank rate': {
      const name = stringOf(v, 'name')!;
      const r = await d.bank.rate(name, actorOf(ix), numberOf(v, 'stars')!);
      return textReply(say('bank.rated', { name, stars: r.stars, rating: say('rating.value', { mean: r.ratingMean, count: r.ratingCount }) }), { ephemeral: true });
    }
    case 'bank report': {
      const name = stringOf(v, 'name')!;
      const r = await d.bank.report(name, actorOf(ix), stringOf(v, 'reason')!, stringOf(v, 'details') ?? '');
      return textReply(say('bank.reported', { name, open: r.openReports }), { ephemeral: true });
    }
    case 'bank remove':
      return remove(d, ix, stringOf(v, 'name')!, stringOf(v, 'reason') || say('bank.removed.default-reason'));
    default:
      throw new Error(`no handler for /${path}`);
  }
}
