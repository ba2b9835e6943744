/**
 * A core reply as a Discord message: text (at most 2000 characters, no mentions
 * parsed), cards as embeds (each card's first image shown inside it from an
 * uploaded file), buttons as action rows (5 per row, 5 rows), and files read from
 * the bank's file store by storage key.
 *
 * Files must fit the interaction's `attachment_size_limit` (10 MiB unless the server
 * is boosted). An image over it is sent as WebP when that fits; otherwise a render's
 * image (a `renders/….png` key, which the web server serves to anyone) is linked on
 * the web channel (ZIPBANK_PUBLIC_URL). Other files (an exported LoRA, statistics)
 * are never linked, since a link would make a private file public: the message says
 * the file is too large and where to get it. Every such change is written in the
 * message.
 *
 * @example
 *   const m = await toDiscordMessage(reply, { read: (key) => bank.store.read(key), limitBytes: interaction.attachmentSizeLimit, publicUrl });
 *   await interaction.reply(replyOptions(m));                          // the first response
 *   await rest.patch(Routes.channelMessage(ch, id), restPayload(m));     // a later edit with the bot token
 */
import { createHash } from 'node:crypto';
import {
  ButtonStyle,
  ComponentType,
  MessageFlags,
  type APIActionRowComponent,
  type APIButtonComponentWithCustomId,
  type APIEmbed,
  type APIEmbedField,
  type RawFile,
} from 'discord.js';
import { composeGrid } from '../../engine/image/index.ts';
import type { Button, Card, MessageReply } from '../core/index.ts';
import { discordText } from './texts.ts';

/** Discord's default upload limit per file (an interaction says the server's own). */
export const DEFAULT_ATTACHMENT_LIMIT = 10 * 2 ** 20;
/** At most this much in one request, whatever the per-file limit. */
export const MAX_REQUEST_BYTES = 25 * 2 ** 20;

export const LIMITS = {
  content: 2000,
  embeds: 10,
  embedTitle: 256,
  embedDescription: 4096,
  embedFields: 25,
  fieldName: 256,
  fieldValue: 1024,
  footer: 2048,
  rows: 5,
  buttonsPerRow: 5,
  buttonLabel: 80,
  customId: 100,
  files: 10,
} as const;

export interface DiscordFile {
  name: string;
  data: Buffer;
  contentType: string;
}

export interface DiscordMessage {
  content: string;
  embeds: APIEmbed[];
  components: APIActionRowComponent<APIButtonComponentWithCustomId>[];
  files: DiscordFile[];
  ephemeral: boolean;
  /** Files that were shrunk, linked or left out, as written at the end of `content`. */
  notes: string[];
}

export interface PayloadOptions {
  /** Bytes of a stored file (`bank.store.read`). */
  read: (key: string) => Promise<Buffer>;
  /** Largest file this message may carry (the interaction's attachment_size_limit). */
  limitBytes?: number | undefined;
  /** Base URL of the web channel, for links to files that do not fit. */
  publicUrl?: string | undefined;
  /** An image re-encoded as WebP at `quality` (default: the engine's image module). */
  toWebp?: (image: Buffer, quality: number) => Promise<Buffer>;
}

const STYLES: Record<Button['style'], ButtonStyle.Primary | ButtonStyle.Secondary | ButtonStyle.Success | ButtonStyle.Danger> = {
  primary: ButtonStyle.Primary,
  secondary: ButtonStyle.Secondary,
  success: ButtonStyle.Success,
  danger: ButtonStyle.Danger,
};

const WEBP_QUALITIES = [85, 60, 40];

function clamp(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : `${chars.slice(0, max - 1).join('')}…`;
}

const defaultWebp = (image: Buffer, quality: number) => composeGrid([image], { format: 'webp', quality });

function safeName(name: string): string {
  return name.replace(/[^\w.-]+/g, '_').replace(/^\.+/, '').slice(0, 100) || 'file';
}

/** Storage keys of renders' images: the only files the web server serves to anyone (ChannelStore.isRenderImage). */
const RENDER_IMAGE_KEY = /^renders\/[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f]{64}\.png$/;

/** May this stored file be linked publicly when it cannot be uploaded? Only a render's image. */
export function isLinkable(key: string | undefined): key is string {
  return !!key && RENDER_IMAGE_KEY.test(key);
}

function isImage(name: string, contentType: string): boolean {
  return contentType.startsWith('image/') || /\.(png|jpe?g|webp)$/i.test(name);
}

/** Buttons as action rows: at most 5 rows of 5, labels and ids within Discord's limits. */
export function toComponents(rows: readonly (readonly Button[])[]): APIActionRowComponent<APIButtonComponentWithCustomId>[] {
  return rows
    .filter((r) => r.length > 0)
    .slice(0, LIMITS.rows)
    .map((row) => ({
      type: ComponentType.ActionRow,
      components: row.slice(0, LIMITS.buttonsPerRow).map(
        (b): APIButtonComponentWithCustomId => ({
          type: ComponentType.Button,
          custom_id: b.id.slice(0, LIMITS.customId),
          label: clamp(b.label, LIMITS.buttonLabel),
          style: STYLES[b.style],
          ...(b.disabled ? { disabled: true } : {}),
        }),
      ),
    }));
}

function toEmbed(card: Card, image: string | undefined): APIEmbed {
  const fields: APIEmbedField[] = card.fields.slice(0, LIMITS.embedFields).map((f) => ({
    name: clamp(f.name || '\u200b', LIMITS.fieldName),
    value: clamp(f.value || '\u200b', LIMITS.fieldValue),
    ...(f.inline ? { inline: true } : {}),
  }));
  return {
    title: clamp(card.title, LIMITS.embedTitle),
    ...(card.description ? { description: clamp(card.description, LIMITS.embedDescription) } : {}),
    ...(fields.length ? { fields } : {}),
    ...(image ? { image: { url: `attachment://${image}` } } : {}),
    ...(card.footer ? { footer: { text: clamp(card.footer, LIMITS.footer) } } : {}),
  };
}

interface Wanted {
  name: string;
  contentType: string;
  key?: string | undefined;
  data?: Uint8Array | undefined;
}

/** The reply as a Discord message, its files read and fitted to the limit. */
export async function toDiscordMessage(reply: MessageReply, o: PayloadOptions): Promise<DiscordMessage> {
  const limit = Math.min(o.limitBytes && o.limitBytes > 0 ? o.limitBytes : DEFAULT_ATTACHMENT_LIMIT, MAX_REQUEST_BYTES);
  const toWebp = o.toWebp ?? defaultWebp;
  const used = new Set<string>();
  const unique = (name: string) => {
    const clean = safeName(name);
    let n = clean;
    for (let i = 2; used.has(n.toLowerCase()); i++) n = clean.replace(/(\.[^.]*)?$/, (ext) => `-${i}${ext}`);
    used.add(n.toLowerCase());
    return n;
  };

  // What to send: each card's images (the first shown in the card), then the reply's attachments.
  const cards = reply.cards.slice(0, LIMITS.embeds);
  const wanted: (Wanted & { card?: number })[] = [];
  cards.forEach((c, i) => {
    for (const key of c.imageKeys) {
      const ext = key.slice(key.lastIndexOf('.') + 1) || 'png';
      const hash = createHash('sha256').update(key).digest('hex').slice(0, 8);
      wanted.push({ name: `zipbank-${hash}.${ext}`, contentType: ext === 'png' ? 'image/png' : 'application/octet-stream', key, ...(wanted.some((w) => w.card === i) ? {} : { card: i }) });
    }
  });
  for (const a of reply.attachments) wanted.push({ name: a.name, contentType: a.contentType, key: a.key, data: a.data });

  const files: DiscordFile[] = [];
  const notes: string[] = [];
  const cardImage = new Map<number, string>();
  let total = 0;
  for (const w of wanted) {
    const name = safeName(w.name);
    let data: Buffer;
    try {
      data = w.data ? Buffer.from(w.data) : w.key ? await o.read(w.key) : Buffer.alloc(0);
    } catch {
      notes.push(discordText('attach.missing', { name }));
      continue;
    }
    let file: DiscordFile | undefined;
    const room = Math.min(limit, MAX_REQUEST_BYTES - total);
    if (data.byteLength <= room && files.length < LIMITS.files) {
      file = { name: unique(name), data, contentType: w.contentType };
    } else if (isImage(name, w.contentType) && files.length < LIMITS.files) {
      for (const q of WEBP_QUALITIES) {
        const webp = await toWebp(data, q).catch(() => undefined);
        if (webp && webp.byteLength <= room) {
          file = { name: unique(name.replace(/\.[^.]*$/, '') + '.webp'), data: webp, contentType: 'image/webp' };
          notes.push(discordText('attach.webp', { name, size: data.byteLength, limit }));
          break;
        }
      }
    }
    if (!file) {
      const base = o.publicUrl?.replace(/\/+$/, '');
      if (!isLinkable(w.key)) notes.push(discordText('attach.not-linked', { name, size: data.byteLength, limit, web: base }));
      else if (base) notes.push(discordText('attach.link', { name, size: data.byteLength, limit, url: `${base}/files/${w.key}` }));
      else notes.push(discordText('attach.too-large', { name, size: data.byteLength, limit }));
      continue;
    }
    total += file.data.byteLength;
    files.push(file);
    if (w.card !== undefined) cardImage.set(w.card, file.name);
  }

  const text = [reply.text, ...notes].filter(Boolean).join('\n');
  return {
    content: clamp(text, LIMITS.content),
    embeds: cards.map((c, i) => toEmbed(c, cardImage.get(i))),
    components: toComponents(reply.buttons),
    files,
    ephemeral: reply.ephemeral,
    notes,
  };
}

/** No @everyone, role or user pings from prompts and names. */
const NO_MENTIONS = { parse: [] as never[] };

/** Options for discord.js `editReply` and `update` (files replace the message's old ones; an edit cannot change the ephemeral flag). */
export function replyOptions(m: DiscordMessage) {
  return {
    content: m.content,
    embeds: m.embeds,
    components: m.components,
    files: m.files.map((f) => ({ attachment: f.data, name: f.name, contentType: f.contentType })),
    attachments: [],
    allowedMentions: NO_MENTIONS,
  };
}

/** Options for discord.js `reply` and `followUp`: a new message, ephemeral or not. */
export function createOptions(m: DiscordMessage) {
  return { ...replyOptions(m), ...(m.ephemeral ? { flags: MessageFlags.Ephemeral as const } : {}) };
}

/** Body and files for a raw REST message edit (webhook or channel route): the message's files are replaced by these. */
export function restPayload(m: DiscordMessage): { body: Record<string, unknown>; files: RawFile[] } {
  return {
    body: {
      content: m.content,
      embeds: m.embeds,
      components: m.components,
      attachments: m.files.map((f, i) => ({ id: String(i), filename: f.name })),
      allowed_mentions: NO_MENTIONS,
    },
    files: m.files.map((f) => ({ name: f.name, data: f.data, contentType: f.contentType })),
  };
}

/** Stored files a reply would send (reading them may take longer than a first response allows). */
export function hasFiles(reply: MessageReply): boolean {
  return reply.attachments.length > 0 || reply.cards.some((c) => c.imageKeys.length > 0);
}
