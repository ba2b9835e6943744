/**
 * The local web channel: one chat channel shared by every browser tab, on the same
 * command core, job queue and bank as Discord and Slack. A tab posts a command line,
 * a button click or a form submit; the core's public replies become channel messages
 * (stored, so reloads and restarts keep them) that every subscriber receives, and
 * private (ephemeral) replies and forms go back to the tab that acted, only. Messages
 * of renders in flight are redrawn as the render moves (./follow.ts) until it ends;
 * after a restart, `start` follows the renders still running again.
 *
 * Files: a message's images and attachments name storage keys; `fileFor` answers
 * only keys a message (or the bank gallery, through `allowKeys`) has referenced.
 *
 * @example
 *   const channel = new WebChannel({ core, bank, store: new ChannelStore(bank.db), events });
 *   await channel.start();
 *   const off = channel.subscribe((e) => send(e), { id: 'u1', name: 'Ann' });
 *   const { message } = await channel.command({ id: 'u1', name: 'Ann' }, '/zip subject:corgi style:watercolor prompt:"a corgi surfing"');
 */
import { randomBytes } from 'node:crypto';
import type { Bank } from '../../bank/index.ts';
import type { ChannelStore } from '../../bank/channel.ts';
import type { ChannelMessage } from '../../bank/schema.ts';
import { describeError, ZipbankError } from '../../errors/index.ts';
import type { JobEvents } from '../../jobs/events.ts';
import type { Log } from '../../jobs/types.ts';
import {
  decodeCustomId,
  findCommand,
  isRefusal,
  parseCommandText,
  type Attachment,
  type BotCore,
  type Button,
  type CardField,
  type FormReply,
  type InteractionContext,
  type MessageReply,
  type RawOptions,
  type Reply,
} from '../core/index.ts';
import { completeLine, type Completion } from './complete.ts';
import { RenderFollower, type FollowerOptions } from '../core/follow.ts';

export interface WebUser {
  /** Stable id the page keeps in localStorage. */
  id: string;
  name: string;
}

export interface WebCard {
  title: string;
  description?: string | undefined;
  fields: CardField[];
  /** Image URLs on this server. */
  images: string[];
  footer?: string | undefined;
}

export interface WebAttachment {
  name: string;
  contentType: string;
  url: string;
  image: boolean;
}

/** A message as the page draws it. */
export interface WebMessage {
  id: string;
  /** Goes up with every edit: a page keeps the highest it has seen. */
  version: number;
  seq?: number | undefined;
  createdAt: string;
  updatedAt: string;
  /** Who made the bot answer, and how (`/zip ...`, `clicked V2`). */
  by?: { id: string; name: string; action: string } | undefined;
  ephemeral: boolean;
  text: string;
  cards: WebCard[];
  attachments: WebAttachment[];
  buttons: Button[][];
  renderId?: string | undefined;
  /** Still being redrawn (a render in flight). */
  live: boolean;
}

export type ChannelEvent = { type: 'message'; message: WebMessage } | { type: 'presence'; online: string[] };
export type ChannelListener = (e: ChannelEvent) => void;

/** What the tab that acted gets back: a message (public, or private to it) or a form to open. */
export interface ActionResult {
  message?: WebMessage;
  form?: FormReply;
}

export interface StagedAttachment {
  id: string;
  filename: string;
  size: number;
}

export interface WebChannelOptions {
  core: BotCore;
  bank: Pick<Bank, 'options'>;
  store: ChannelStore;
  events?: JobEvents | undefined;
  /** Community id of the local channel (default `web:local`). */
  communityId?: string;
  /** Channel id (default `main`). */
  channelId?: string;
  /**
   * Interactions handled at once (default 8); the rest wait in arrival order. The
   * embedded PGlite runs one query at a time and does not serve waiting callers in
   * order, so one at a time there keeps the slowest acknowledgement close to the
   * typical one.
   */
  concurrency?: number;
  /** Redraw pacing of renders in flight (see ./follow.ts). */
  follow?: Pick<FollowerOptions, 'intervalMs' | 'queueIntervalMs' | 'pollMs' | 'concurrency'>;
  log?: Log;
}

/** Storage keys a message may name (the bank's content-addressed layout). */
export const STORAGE_KEY = /^(loras|images|renders|zips)\/[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f]{64}\.(png|safetensors|json)$/;
const CONTENT_TYPES: Record<string, string> = { png: 'image/png', safetensors: 'application/octet-stream', json: 'application/json' };
const MAX_KEYS = 20_000;
const MAX_BLOBS = 64;
const STAGE_TTL_MS = 15 * 60_000;
const STAGED_PER_USER = 2;

export function contentTypeOf(key: string): string {
  return CONTENT_TYPES[key.slice(key.lastIndexOf('.') + 1)] ?? 'application/octet-stream';
}

interface Staged extends StagedAttachment {
  userId: string;
  data: Uint8Array;
  expires: number;
}

export class WebChannel {
  readonly communityId: string;
  readonly channelId: string;
  /** Key of this channel's messages in the store: `web:local/main`. */
  readonly key: string;
  private readonly core: BotCore;
  private readonly store: ChannelStore;
  private readonly log: Log;
  private readonly follower: RenderFollower;
  private readonly listeners = new Map<ChannelListener, WebUser | undefined>();
  private readonly keys = new Map<string, { contentType: string; name?: string | undefined }>();
  private readonly blobs = new Map<string, { data: Uint8Array; contentType: string; name: string }>();
  private readonly staged = new Map<string, Staged>();
  private readonly maxUploadBytes: number;
  private readonly gate: Gate;

  constructor(o: WebChannelOptions) {
    this.core = o.core;
    this.store = o.store;
    this.communityId = o.communityId ?? 'web:local';
    this.channelId = o.channelId ?? 'main';
    this.key = `${this.communityId}/${this.channelId}`;
    this.maxUploadBytes = o.bank.options.maxUploadBytes;
    this.gate = new Gate(o.concurrency ?? 8);
    this.log = o.log ?? ((level, message) => level !== 'debug' && console.error(`[zipbank web] ${level}: ${message}`));
    this.follower = new RenderFollower({
      ...o.follow,
      events: o.events,
      log: this.log,
      status: (id) => this.core.renderStatus(id),
      update: (f, reply) => this.edit(f.messageId, reply).then(() => undefined),
    });
  }

  /** Follow again the renders still queued or running whose message is in this channel (after a restart). */
  async start(): Promise<number> {
    let n = 0;
    for (const r of await this.core.activeRenders('web')) {
      if (!r.messageId || r.communityId !== this.communityId || (r.channelId ?? this.channelId) !== this.channelId) continue;
      const m = await this.store.get(r.messageId);
      if (!m || m.channelId !== this.key) continue;
      this.follower.follow(r.id, m.id);
      n++;
    }
    return n;
  }

  async close(): Promise<void> {
    await this.follower.close();
    for (const l of [...this.listeners.keys()]) this.listeners.delete(l);
  }

  /** Renders whose messages are being redrawn now. */
  get following(): number {
    return this.follower.size;
  }

  /** Receive every public message (new or edited) and presence changes; `who` counts as online while subscribed. */
  subscribe(listener: ChannelListener, who?: WebUser): () => void {
    this.listeners.set(listener, who);
    if (who) this.broadcast({ type: 'presence', online: this.online() });
    return () => {
      if (!this.listeners.delete(listener)) return;
      if (who) this.broadcast({ type: 'presence', online: this.online() });
    };
  }

  /** Display names of the subscribed people, each once, sorted. */
  online(): string[] {
    return [...new Set([...this.listeners.values()].filter((u): u is WebUser => !!u).map((u) => u.name))].sort((a, b) => a.localeCompare(b));
  }

  /** The latest messages (before `beforeSeq`), oldest first. */
  async history(limit = 100, beforeSeq?: number): Promise<WebMessage[]> {
    const rows = await this.store.recent(this.key, Math.max(1, Math.min(limit, 500)), beforeSeq);
    return rows.map((m) => this.viewRow(m));
  }

  /** A command line typed by `user` (`/zip subject:corgi ...`), with files staged by `stage`. */
  command(user: WebUser, line: string, attachmentIds: readonly string[] = []): Promise<ActionResult> {
    return this.gate.run(() => this.runCommand(user, line, attachmentIds));
  }

  private async runCommand(user: WebUser, line: string, attachmentIds: readonly string[]): Promise<ActionResult> {
    const text = line.trim();
    const action = text.slice(0, 2000);
    const m = /^\/(\S+)\s*([\s\S]*)$/.exec(text);
    if (!m) return this.deliver(user, action, privateText(new ZipbankError('web.not-a-command', { text: text.slice(0, 40) }).message));
    const ctx = this.ctx(user);
    if (attachmentIds.length === 0) return this.deliver(user, action, await this.core.handleText(ctx, m[1]!, m[2]!));
    let parsed;
    try {
      parsed = parseCommandText(m[1]!, m[2]!);
    } catch (e) {
      if (isRefusal(e)) return this.deliver(user, action, privateText(e.message));
      throw e;
    }
    const fileOptions = findCommand(parsed.command)?.options.filter((o) => o.type === 'attachment') ?? [];
    if (fileOptions.length === 0) return this.deliver(user, action, privateText(new ZipbankError('web.attachment-unused', { command: parsed.command }).message));
    const options: Record<string, RawOptions[string]> = { ...parsed.options };
    for (const [i, id] of attachmentIds.slice(0, fileOptions.length).entries()) {
      const s = this.takeStaged(user, id);
      if (!s) return this.deliver(user, action, privateText(new ZipbankError('web.attachment-gone', {}).message));
      options[fileOptions[i]!.name] = { filename: s.filename, data: s.data };
    }
    const shown = `${action} ${attachmentIds.length === 1 ? '(1 file)' : `(${attachmentIds.length} files)`}`;
    return this.deliver(user, shown, await this.core.handle({ ...ctx, type: 'command', command: parsed.command, options }));
  }

  /** A button under a message (`messageId`, when the message is in this channel) clicked by `user`. */
  button(user: WebUser, customId: string, messageId?: string): Promise<ActionResult> {
    return this.gate.run(() => this.runButton(user, customId, messageId));
  }

  private async runButton(user: WebUser, customId: string, messageId?: string): Promise<ActionResult> {
    const source = messageId ? await this.store.get(messageId) : undefined;
    if (messageId && !messageId.startsWith('eph-') && (!source || source.channelId !== this.key)) {
      throw new ZipbankError('web.message-not-found', { id: messageId.slice(0, 40) });
    }
    const label = source ? buttonLabel(source.reply as unknown as MessageReply, customId) : undefined;
    const a = decodeCustomId(customId);
    const action = `clicked ${label ?? a?.action ?? 'a button'}${a ? ` on #${a.renderId.replace(/-/g, '').slice(0, 8)}` : ''}`;
    const reply = await this.core.handle({ ...this.ctx(user), type: 'button', customId });
    return this.deliver(user, action, reply, source);
  }

  /** A form (opened by a button) submitted by `user`. */
  form(user: WebUser, customId: string, fields: Readonly<Record<string, string>>): Promise<ActionResult> {
    return this.gate.run(() => this.runForm(user, customId, fields));
  }

  private async runForm(user: WebUser, customId: string, fields: Readonly<Record<string, string>>): Promise<ActionResult> {
    const a = decodeCustomId(customId);
    const action = a?.action === 'remix-submit' ? `remixed #${a.renderId.replace(/-/g, '').slice(0, 8)}` : 'submitted a form';
    const reply = await this.core.handle({ ...this.ctx(user), type: 'form', customId, fields });
    return this.deliver(user, action, reply);
  }

  /** Autocomplete for the line being typed, at the cursor. */
  complete(user: WebUser, text: string, cursor: number): Promise<Completion> {
    return completeLine(this.core, this.ctx(user), text.slice(0, 4000), cursor);
  }

  /** Keep a file for the user's next command (a LoRA for `/bank upload`), for 15 minutes. */
  stage(user: WebUser, filename: string, data: Uint8Array): StagedAttachment {
    if (data.byteLength > this.maxUploadBytes) throw new ZipbankError('web.attachment-too-large', { size: data.byteLength, max: this.maxUploadBytes });
    const now = Date.now();
    for (const [id, s] of this.staged) if (s.expires < now) this.staged.delete(id);
    const mine = [...this.staged.values()].filter((s) => s.userId === user.id).sort((a, b) => a.expires - b.expires);
    for (const old of mine.slice(0, Math.max(0, mine.length - STAGED_PER_USER + 1))) this.staged.delete(old.id);
    const s: Staged = {
      id: randomBytes(9).toString('base64url'),
      filename: filename.replace(/[\\/\0]/g, '_').slice(0, 200) || 'upload.safetensors',
      size: data.byteLength,
      userId: user.id,
      data,
      expires: now + STAGE_TTL_MS,
    };
    this.staged.set(s.id, s);
    return { id: s.id, filename: s.filename, size: s.size };
  }

  /**
   * What `/files/<key>` may serve: keys a message of this channel names (or the
   * gallery showed), and any render's images (linked from the chat platforms), with
   * their content type and download name; undefined otherwise.
   */
  async fileFor(key: string): Promise<{ contentType: string; name?: string | undefined } | undefined> {
    if (!STORAGE_KEY.test(key)) return undefined;
    const known = this.keys.get(key);
    if (known) return known;
    // Renders' images are linked from Discord and Slack too (ZIPBANK_PUBLIC_URL) when too large to upload.
    if (!(await this.store.references(this.key, key)) && !(key.endsWith('.png') && (await this.store.isRenderImage(key)))) return undefined;
    return this.remember(key, contentTypeOf(key));
  }

  /** Bytes a reply carried instead of a storage key (kept in memory, the latest 64). */
  blob(id: string): { data: Uint8Array; contentType: string; name: string } | undefined {
    return this.blobs.get(id);
  }

  /** Keys the bank gallery shows (LoRA preview images) may be served too. */
  allowKeys(keys: Iterable<string>): void {
    for (const k of keys) if (STORAGE_KEY.test(k)) this.remember(k, contentTypeOf(k));
  }

  private ctx(user: WebUser): InteractionContext {
    return { user: { platform: 'web', id: user.id, name: user.name }, communityId: this.communityId, channelId: this.channelId };
  }

  private takeStaged(user: WebUser, id: string): Staged | undefined {
    const s = this.staged.get(id);
    if (!s || s.userId !== user.id || s.expires < Date.now()) return undefined;
    this.staged.delete(id);
    return s;
  }

  private async deliver(user: WebUser, action: string, reply: Reply, source?: ChannelMessage): Promise<ActionResult> {
    if (reply.kind === 'form') return { form: reply };
    const by = { id: user.id, name: user.name, action };
    const stored = this.storable(reply);
    if (reply.ephemeral) {
      const now = new Date().toISOString();
      return { message: this.view(stored, { id: `eph-${randomBytes(6).toString('hex')}`, version: 1, createdAt: now, updatedAt: now, by, ephemeral: true }) };
    }
    const renderId = reply.follow?.renderId;
    let row: ChannelMessage | undefined;
    if (reply.replace && source) {
      row = await this.store.edit(source.id, stored as unknown as Record<string, unknown>);
    }
    row ??= await this.store.post({
      channelId: this.key,
      invokerPlatform: 'web',
      invokerId: user.id,
      invokerName: user.name,
      invocation: action,
      reply: stored as unknown as Record<string, unknown>,
      renderId: renderId ?? null,
    });
    if (renderId) {
      await this.core.bindMessage(renderId, { channelId: this.channelId, messageId: row.id });
      this.follower.follow(renderId, row.id, reply);
    }
    const message = this.viewRow(row);
    this.broadcast({ type: 'message', message });
    return { message };
  }

  /** The follower's redraw: store the new reply and send it to every tab. */
  private async edit(messageId: string, reply: MessageReply): Promise<WebMessage | undefined> {
    const row = await this.store.edit(messageId, this.storable(reply) as unknown as Record<string, unknown>);
    if (!row) return undefined;
    const message = this.viewRow(row);
    this.broadcast({ type: 'message', message });
    return message;
  }

  /** The reply without file bytes (they go to the blob map, named by id). */
  private storable(reply: MessageReply): MessageReply {
    if (!reply.attachments.some((a) => a.data)) return reply;
    return {
      ...reply,
      attachments: reply.attachments.map((a) => {
        if (!a.data) return a;
        const id = randomBytes(9).toString('base64url');
        this.blobs.set(id, { data: a.data, contentType: a.contentType, name: a.name });
        while (this.blobs.size > MAX_BLOBS) this.blobs.delete(this.blobs.keys().next().value!);
        return { name: a.name, contentType: a.contentType, blob: id } as Attachment;
      }),
    };
  }

  private viewRow(m: ChannelMessage): WebMessage {
    const reply = m.reply as unknown as MessageReply;
    return this.view(reply, {
      id: m.id,
      version: m.version,
      seq: m.seq,
      createdAt: m.createdAt.toISOString(),
      updatedAt: m.updatedAt.toISOString(),
      by: { id: m.invokerId, name: m.invokerName ?? m.invokerId, action: m.invocation },
      ephemeral: false,
      renderId: m.renderId ?? undefined,
    });
  }

  private view(reply: MessageReply, meta: Omit<WebMessage, 'text' | 'cards' | 'attachments' | 'buttons' | 'live'>): WebMessage {
    const url = (key: string, contentType: string, name?: string) => {
      this.remember(key, contentType, name);
      return `/files/${key}`;
    };
    const cards: WebCard[] = (reply.cards ?? []).map((c) => ({
      title: c.title,
      description: c.description,
      fields: c.fields ?? [],
      images: (c.imageKeys ?? []).filter((k) => STORAGE_KEY.test(k)).map((k) => url(k, contentTypeOf(k))),
      footer: c.footer,
    }));
    const attachments: WebAttachment[] = [];
    for (const a of reply.attachments ?? []) {
      const blob = (a as Attachment & { blob?: string }).blob;
      const href = a.key && STORAGE_KEY.test(a.key) ? url(a.key, a.contentType, a.name) : blob ? `/blobs/${blob}` : undefined;
      if (href) attachments.push({ name: a.name, contentType: a.contentType, url: href, image: a.contentType.startsWith('image/') });
    }
    return {
      ...meta,
      text: reply.text ?? '',
      cards,
      attachments,
      buttons: reply.buttons ?? [],
      live: !!reply.follow,
      renderId: meta.renderId ?? reply.follow?.renderId,
    };
  }

  private remember(key: string, contentType: string, name?: string): { contentType: string; name?: string | undefined } {
    const entry = { contentType, name: name ?? this.keys.get(key)?.name };
    this.keys.delete(key);
    this.keys.set(key, entry);
    while (this.keys.size > MAX_KEYS) this.keys.delete(this.keys.keys().next().value!);
    return entry;
  }

  private broadcast(e: ChannelEvent): void {
    for (const l of [...this.listeners.keys()]) {
      try {
        l(e);
      } catch (err) {
        this.log('warn', `a channel listener failed: ${describeError(err)}`);
      }
    }
  }
}

/** At most `n` tasks at once; the others start in arrival order, each after a turn of the event loop. */
class Gate {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly n: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.n) await new Promise<void>((r) => this.waiting.push(r));
    else this.active++;
    // Let the event loop take in new requests first: PGlite answers in microtasks, so a
    // chain of waiting tasks would otherwise never give the loop a turn and requests
    // that arrived later could not even join the line.
    await new Promise<void>((r) => setImmediate(r));
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

function privateText(text: string): MessageReply {
  return { kind: 'message', text, ephemeral: true, cards: [], attachments: [], buttons: [] };
}

function buttonLabel(reply: MessageReply | undefined, customId: string): string | undefined {
  for (const row of reply?.buttons ?? []) for (const b of row) if (b.id === customId) return b.label;
  return undefined;
}

