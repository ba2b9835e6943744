/**
 * Discord interactions on the command core: slash commands (attachments downloaded
 * first), autocomplete, buttons and the Remix modal, each answered within Discord's
 * 3 seconds, and render messages edited in place until the render ends.
 *
 * First response: the core is given `quickMs` (default 1.5 s) to answer. An answer
 * in time is sent as the response itself (public, or ephemeral for refusals), so
 * nobody sees a "thinking" message that then vanishes; when it brings stored files,
 * the interaction is deferred with the flag now known and the files follow in the
 * edit. A slower answer (e.g. a large LoRA to download) gets a public defer first; if
 * it then turns out private (a refusal), the deferred reply is deleted and the answer
 * comes as an ephemeral follow-up. The Remix button never defers: its modal must be
 * the first response. A Cancel button defers as an update of its message.
 *
 * Render messages: the message id is bound to the render (core.bindMessage), written
 * to the ledger (./ledger.ts) and a RenderFollower redraws it. Edits use the
 * interaction's token (webhook route) for its first 14 minutes, then the bot token
 * (channel message route). The ledger entry goes once the final edit has landed, so
 * after a restart `start()` follows again, with the bot token, the renders still in
 * flight and those that ended while the bot was down or closing (their final edit,
 * grid included, comes then).
 *
 * The Remix button's modal must be the first response: the core gets `modalMs`
 * (default 2.5 s) for it, else the user is told privately to try again. Role ids come
 * from the interaction's own payload (`member.roles`, through `noteRaw`), not from
 * discord.js's role cache, which may lack a role.
 *
 * @example
 *   const adapter = new DiscordAdapter({ core, bank, rest: client.rest, applicationId, events, publicUrl });
 *   client.on(Events.Raw, (packet) => adapter.noteRaw(packet));
 *   client.on(Events.InteractionCreate, (i) => void adapter.handle(i));
 *   await adapter.start();          // renders in flight before a restart, and undelivered ends
 *   await adapter.close();
 */
import { randomBytes } from 'node:crypto';
import {
  ApplicationCommandOptionType,
  ComponentType,
  DiscordAPIError,
  MessageFlags,
  PermissionFlagsBits,
  Routes,
  TextInputStyle,
  type APIModalInteractionResponseCallbackData,
  type Attachment as DiscordAttachment,
  type AutocompleteInteraction,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type CommandInteractionOption,
  type Interaction,
  type ModalSubmitInteraction,
  type REST,
} from 'discord.js';
import type { Bank } from '../../bank/index.ts';
import { describeError, isZipbankError, ZipbankError } from '../../errors/index.ts';
import type { JobEvents } from '../../jobs/events.ts';
import type { Log } from '../../jobs/types.ts';
import {
  decodeCustomId,
  isRefusal,
  RenderFollower,
  say,
  type AttachmentInput,
  type BotCore,
  type FollowerOptions,
  type FormReply,
  type InteractionContext,
  type MessageReply,
  type OptionValue,
  type Reply,
} from '../core/index.ts';
import { DiscordLedger, type LedgerEntry } from './ledger.ts';
import { createOptions, DEFAULT_ATTACHMENT_LIMIT, hasFiles, replyOptions, restPayload, toDiscordMessage, type DiscordMessage } from './payload.ts';
import { discordText } from './texts.ts';

export interface DiscordAdapterOptions {
  core: BotCore;
  /** Files (`store`), upload limits (`options`), and the ledger of undelivered render ends (`db`, bot_state). */
  bank: Pick<Bank, 'store' | 'options' | 'db'>;
  /** REST with the bot token (edits after an interaction token expired, and after restarts). */
  rest: REST;
  applicationId: string;
  events?: JobEvents | undefined;
  /** Web channel base URL: links to files over the upload limit. */
  publicUrl?: string | undefined;
  log?: Log | undefined;
  follow?: Pick<FollowerOptions, 'intervalMs' | 'queueIntervalMs' | 'pollMs' | 'concurrency'> | undefined;
  /** Time the core gets before the interaction is deferred (default 1500 ms; Discord allows 3 s in all). */
  quickMs?: number | undefined;
  /** Interaction tokens live 15 minutes; edits later than this (default 14 min) use the bot token. */
  tokenLifetimeMs?: number | undefined;
  /** The Remix modal must come within this (default 2500 ms; Discord allows 3 s), else the user is asked to click again. */
  modalMs?: number | undefined;
  /** Autocomplete answers later than this (default 2500 ms) are empty. */
  autocompleteMs?: number | undefined;
  /** Downloading an attached file (default 120 s). */
  downloadTimeoutMs?: number | undefined;
  /** This process runs these shards of `count`: `start()` follows only their guilds' renders (DMs: shard 0). */
  shards?: { ids: readonly number[]; count: number } | undefined;
}

type Repliable = ChatInputCommandInteraction | ButtonInteraction | ModalSubmitInteraction;

/** A raw gateway INTERACTION_CREATE's id and member role ids, if that is what `packet` is. */
export function rawInteractionRoles(packet: unknown): { id: string; roles: string[] } | undefined {
  const p = packet as { t?: unknown; d?: { id?: unknown; member?: { roles?: unknown } | null } | null } | null;
  if (!p || p.t !== 'INTERACTION_CREATE' || !p.d || typeof p.d.id !== 'string') return undefined;
  const roles = p.d.member?.roles;
  if (!Array.isArray(roles) || !roles.every((r): r is string => typeof r === 'string')) return undefined;
  return { id: p.d.id, roles };
}

/** Where a followed render's message is, and how it may be edited. */
interface Target {
  channelId: string | undefined;
  token: string | undefined;
  /** The message on the token's webhook: `@original` (the interaction's response, or the message a button updated) or a follow-up's id. */
  webhookRef: string;
  tokenUntil: number;
  limit: number;
}

const FIFTEEN_MINUTES = 15 * 60_000;

/** The shard that receives a guild's events: (guild_id >> 22) % shard_count. */
export function shardOf(guildId: string, shardCount: number): number {
  return Number((BigInt(guildId) >> 22n) % BigInt(Math.max(1, shardCount)));
}

/** The options the user typed, below any subcommand. */
export function leafOptions(data: readonly CommandInteractionOption[]): readonly CommandInteractionOption[] {
  const first = data[0];
  if (first && (first.type === ApplicationCommandOptionType.Subcommand || first.type === ApplicationCommandOptionType.SubcommandGroup)) return leafOptions(first.options ?? []);
  return data;
}

/** `bank search` for /bank search. */
export function commandPath(i: ChatInputCommandInteraction | AutocompleteInteraction): string {
  return [i.commandName, i.options.getSubcommandGroup(false), i.options.getSubcommand(false)].filter(Boolean).join(' ');
}

/**
 * Who acted, where: the core's context (community `discord:<guild id>`; roles and
 * Manage Messages for moderation). `rawRoleIds` are the role ids of the interaction's
 * payload (`member.roles`): every role the member has, where discord.js's
 * `roles.cache` holds only the roles its guild cache knows.
 */
export function contextOf(i: Interaction, rawRoleIds?: readonly string[]): InteractionContext {
  const member = i.member;
  let roleIds: string[] | undefined;
  let name: string | undefined;
  if (member) {
    const roles = member.roles;
    roleIds = rawRoleIds ? [...rawRoleIds] : Array.isArray(roles) ? [...roles] : [...roles.cache.keys()].filter((id) => id !== i.guildId);
    name = 'displayName' in member ? member.displayName : (member.nick ?? undefined);
  }
  return {
    user: {
      platform: 'discord',
      id: i.user.id,
      name: name ?? i.user.globalName ?? i.user.username,
      ...(roleIds ? { roleIds } : {}),
      isModerator: i.memberPermissions?.has(PermissionFlagsBits.ManageMessages) ?? false,
    },
    communityId: i.guildId ? `discord:${i.guildId}` : undefined,
    channelId: i.channelId ?? undefined,
  };
}

/** The core's form as a Discord modal (title 45 characters, 5 text inputs). */
export function modalOf(f: FormReply): APIModalInteractionResponseCallbackData {
  const cut = (s: string, n: number) => ([...s].length <= n ? s : [...s].slice(0, n).join(''));
  return {
    custom_id: f.id,
    title: cut(f.title, 45),
    components: f.fields.slice(0, 5).map((field) => ({
      type: ComponentType.ActionRow,
      components: [
        {
          type: ComponentType.TextInput,
          custom_id: field.id,
          label: cut(field.label, 45),
          style: field.style === 'short' ? TextInputStyle.Short : TextInputStyle.Paragraph,
          required: field.required,
          ...(field.value ? { value: cut(field.value, 4000) } : {}),
          ...(field.maxLength ? { max_length: Math.min(field.maxLength, 4000) } : {}),
          ...(field.placeholder ? { placeholder: cut(field.placeholder, 100) } : {}),
        },
      ],
    })),
  };
}

class DownloadFailed extends Error {}

/** A Discord API answer saying the message can never be edited again (deleted, or its channel gone or closed to the bot). */
function messageGone(e: unknown): boolean {
  return e instanceof DiscordAPIError && ((e.status === 404 && (e.code === 10008 || e.code === 10003)) || (e.status === 403 && e.code === 50001));
}

function privateText(text: string): MessageReply {
  return { kind: 'message', text, ephemeral: true, cards: [], attachments: [], buttons: [] };
}

function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), Math.max(0, ms))));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

export class DiscordAdapter {
  private readonly follower: RenderFollower;
  private readonly targets = new Map<string, Target>();
  private readonly inflight = new Set<Promise<void>>();
  private readonly ledger: DiscordLedger;
  /** Member role ids from raw INTERACTION_CREATE payloads, until the interaction is handled (the latest 1000). */
  private readonly rawRoles = new Map<string, string[]>();
  private readonly log: Log;
  private readonly quickMs: number;
  private readonly modalMs: number;
  private readonly tokenLifetimeMs: number;
  private closed = false;

  constructor(private readonly o: DiscordAdapterOptions) {
    this.log = o.log ?? ((level, message) => level !== 'debug' && console.error(`[zipbank discord] ${level}: ${message}`));
    this.quickMs = o.quickMs ?? 1500;
    this.modalMs = o.modalMs ?? 2500;
    this.ledger = new DiscordLedger(o.bank.db, { log: this.log });
    this.tokenLifetimeMs = o.tokenLifetimeMs ?? FIFTEEN_MINUTES - 60_000;
    this.follower = new RenderFollower({
      ...o.follow,
      events: o.events,
      log: this.log,
      status: (id) => o.core.renderStatus(id),
      update: (f, reply) => this.edit(f.renderId, f.messageId, reply),
    });
  }

  /** Renders whose messages are being redrawn now. */
  get following(): number {
    return this.follower.size;
  }

  /**
   * Follow again (after a restart) this process's renders whose message is on Discord:
   * those still in flight, and those whose end was not delivered (the ledger); how many.
   */
  async start(): Promise<number> {
    const seen = new Set<string>();
    const resume = (renderId: string, channelId: string, messageId: string) => {
      if (seen.has(renderId)) return;
      seen.add(renderId);
      if (!this.targets.has(renderId)) this.targets.set(renderId, { channelId, token: undefined, webhookRef: messageId, tokenUntil: 0, limit: DEFAULT_ATTACHMENT_LIMIT });
      this.follower.follow(renderId, messageId);
    };
    let stored: LedgerEntry[] = [];
    try {
      stored = await this.ledger.load((communityId) => this.owns(communityId));
    } catch (e) {
      this.log('warn', `discord: could not read the renders whose end was not delivered: ${describeError(e)}`);
    }
    for (const r of await this.o.core.activeRenders('discord')) {
      if (!r.messageId || !r.channelId || !this.owns(r.communityId)) continue;
      if (!this.ledger.has(r.id)) this.ledger.add({ renderId: r.id, channelId: r.channelId, messageId: r.messageId, communityId: r.communityId, at: r.createdAt.getTime() });
      resume(r.id, r.channelId, r.messageId);
    }
    for (const e of stored) resume(e.renderId, e.channelId, e.messageId);
    return seen.size;
  }

  /** A raw gateway packet (discord.js `Events.Raw`): keeps an INTERACTION_CREATE's member role ids for `handle`. */
  noteRaw(packet: unknown): void {
    const raw = rawInteractionRoles(packet);
    if (!raw || this.closed) return;
    this.rawRoles.set(raw.id, raw.roles);
    while (this.rawRoles.size > 1000) this.rawRoles.delete(this.rawRoles.keys().next().value!);
  }

  /** Answer one interaction (never throws; failures are logged). */
  handle(i: Interaction): Promise<void> {
    const rawRoles = this.rawRoles.get(i.id);
    this.rawRoles.delete(i.id);
    if (this.closed) return Promise.resolve();
    const p = this.dispatch(i, Date.now(), contextOf(i, rawRoles))
      .catch((e: unknown) => this.log('warn', `interaction ${i.id} (${describeInteraction(i)}): ${describeError(e)}`))
      .finally(() => this.inflight.delete(p));
    this.inflight.add(p);
    return p;
  }

  /** Stop: interactions being answered get up to `graceMs` (default 5 s), then redraws stop (undelivered ends stay in the ledger). */
  async close(graceMs = 5000): Promise<void> {
    this.closed = true;
    this.rawRoles.clear();
    await within(Promise.allSettled([...this.inflight]), graceMs);
    await this.follower.close();
    await this.ledger.flush();
  }

  private owns(communityId: string | null | undefined): boolean {
    const s = this.o.shards;
    if (!s || s.count <= 1) return true;
    const guild = communityId?.startsWith('discord:') ? communityId.slice('discord:'.length) : undefined;
    return s.ids.includes(guild && /^\d+$/.test(guild) ? shardOf(guild, s.count) : 0);
  }

  private async dispatch(i: Interaction, received: number, ctx: InteractionContext): Promise<void> {
    if (i.isAutocomplete()) return this.autocomplete(i, ctx);
    if (i.isChatInputCommand()) return this.command(i, received, ctx);
    if (i.isButton()) return this.button(i, received, ctx);
    if (i.isModalSubmit()) return this.form(i, received, ctx);
  }

  private async autocomplete(i: AutocompleteInteraction, ctx: InteractionContext): Promise<void> {
    const focused = i.options.getFocused(true);
    const options: Record<string, OptionValue> = {};
    for (const o of leafOptions(i.options.data)) {
      if (o.name !== focused.name && (typeof o.value === 'string' || typeof o.value === 'number' || typeof o.value === 'boolean')) options[o.name] = o.value;
    }
    const choices =
      (await within(
        this.o.core.autocomplete({ ...ctx, command: commandPath(i), option: focused.name, value: String(focused.value ?? ''), options }),
        this.o.autocompleteMs ?? 2500,
      )) ?? [];
    await i.respond(
      choices
        .filter((c) => c.name.length > 0 && c.value.length > 0 && c.value.length <= 100)
        .slice(0, 25)
        .map((c) => ({ name: [...c.name].length > 100 ? `${[...c.name].slice(0, 99).join('')}…` : c.name, value: c.value })),
    );
  }

  private async command(i: ChatInputCommandInteraction, received: number, ctx: InteractionContext): Promise<void> {
    const work = (async (): Promise<Reply> => {
      const options: Record<string, OptionValue> = {};
      for (const o of leafOptions(i.options.data)) {
        if (o.type === ApplicationCommandOptionType.Attachment) {
          if (o.attachment) options[o.name] = await this.download(o.attachment);
        } else if (o.value !== undefined && o.value !== null) {
          options[o.name] = o.value;
        }
      }
      return this.o.core.handle({ ...ctx, type: 'command', command: commandPath(i), options });
    })().catch((e: unknown) => this.failure(e));
    await this.respond(i, work, 'reply', received);
  }

  private async button(i: ButtonInteraction, received: number, ctx: InteractionContext): Promise<void> {
    const action = decodeCustomId(i.customId)?.action;
    const work = this.o.core.handle({ ...ctx, type: 'button', customId: i.customId });
    if (action === 'remix') {
      // The modal must be the first response (it cannot follow a defer): the core gets until
      // `modalMs`, within Discord's 3 s; later, the user is asked to click again.
      const reply = await within(work, this.modalMs - (Date.now() - received));
      await this.answerFirst(i, reply ?? privateText(discordText('remix.slow', {})), received);
      return;
    }
    await this.respond(i, work, action === 'cancel' ? 'update' : 'reply', received);
  }

  private async form(i: ModalSubmitInteraction, received: number, ctx: InteractionContext): Promise<void> {
    const fields: Record<string, string> = {};
    for (const [id, f] of i.fields.fields) if ('value' in f && typeof f.value === 'string') fields[id] = f.value;
    await this.respond(i, this.o.core.handle({ ...ctx, type: 'form', customId: i.customId, fields }), 'reply', received);
  }

  /** The core's answer if it comes within `quickMs`, as the first response; else defer, then deliver. */
  private async respond(i: Repliable, work: Promise<Reply>, mode: 'reply' | 'update', received: number): Promise<void> {
    const quick = await within(work, this.quickMs - (Date.now() - received));
    if (quick) return this.answerFirst(i, quick, received);
    if (mode === 'update' && i.isButton()) await i.deferUpdate();
    else await i.deferReply();
    await this.answerDeferred(i, await work, mode, received);
  }

  private async answerFirst(i: Repliable, reply: Reply, received: number): Promise<void> {
    if (reply.kind === 'form') {
      if (i.isModalSubmit()) await i.reply({ content: discordText('form.late', {}), flags: MessageFlags.Ephemeral });
      else await i.showModal(modalOf(reply));
      return;
    }
    const update = !!reply.replace && i.isButton() && !reply.ephemeral;
    if (hasFiles(reply)) {
      // Reading and uploading files may outlast the first-response window: defer with the flag now known.
      if (update) await (i as ButtonInteraction).deferUpdate();
      else await i.deferReply(reply.ephemeral ? { flags: MessageFlags.Ephemeral } : {});
      return this.answerDeferred(i, reply, update ? 'update' : 'reply', received);
    }
    const m = await this.message(reply, i.attachmentSizeLimit);
    if (update) {
      await (i as ButtonInteraction).update(replyOptions(m));
      return this.track(i, reply, (i as ButtonInteraction).message.id, '@original', received);
    }
    const res = await i.reply({ ...createOptions(m), withResponse: true });
    const id = res.resource?.message?.id ?? (reply.follow ? (await i.fetchReply()).id : undefined);
    return this.track(i, reply, id, '@original', received);
  }

  private async answerDeferred(i: Repliable, reply: Reply, mode: 'reply' | 'update', received: number): Promise<void> {
    const message: MessageReply = reply.kind === 'form' ? privateText(discordText('form.late', {})) : reply;
    const m = await this.message(message, i.attachmentSizeLimit);
    if (mode === 'update') {
      if (message.replace && !m.ephemeral) {
        const edited = await i.editReply(replyOptions(m));
        return this.track(i, message, edited.id, '@original', received);
      }
      const posted = await i.followUp(createOptions(m));
      return this.track(i, message, posted.id, posted.id, received);
    }
    const deferredEphemeral = i.ephemeral ?? false;
    if (m.ephemeral === deferredEphemeral) {
      const edited = await i.editReply(replyOptions(m));
      return this.track(i, message, edited.id, '@original', received);
    }
    if (m.ephemeral) {
      // Deferred in public, answered in private: the public "thinking" reply goes, the answer comes to the user alone.
      await i.deleteReply();
      await i.followUp(createOptions(m));
      return;
    }
    const posted = await i.followUp(createOptions(m));
    return this.track(i, message, posted.id, posted.id, received);
  }

  /** Bind and follow the render a public message shows. */
  private async track(i: Repliable, reply: MessageReply, messageId: string | undefined, webhookRef: string, received: number): Promise<void> {
    if (reply.ephemeral || !reply.follow || !messageId) return;
    const renderId = reply.follow.renderId;
    const since = Math.min(received, i.createdTimestamp);
    this.targets.set(renderId, {
      channelId: i.channelId ?? undefined,
      token: i.token,
      webhookRef,
      tokenUntil: since + this.tokenLifetimeMs,
      limit: i.attachmentSizeLimit || DEFAULT_ATTACHMENT_LIMIT,
    });
    await this.o.core.bindMessage(renderId, { channelId: i.channelId ?? undefined, messageId });
    // Until its final edit lands, the render's message is in the ledger: a restart delivers the end.
    if (i.channelId) this.ledger.add({ renderId, channelId: i.channelId, messageId, communityId: i.guildId ? `discord:${i.guildId}` : null, at: since });
    this.follower.follow(renderId, messageId, reply);
  }

  /** The follower's redraw: the interaction's webhook while its token lives, else the bot token on the channel route. */
  private async edit(renderId: string, messageId: string, reply: MessageReply): Promise<void> {
    const t = this.targets.get(renderId) ?? { channelId: undefined, token: undefined, webhookRef: messageId, tokenUntil: 0, limit: DEFAULT_ATTACHMENT_LIMIT };
    const { body, files } = restPayload(await this.message(reply, t.limit));
    let done = false;
    if (t.token && Date.now() < t.tokenUntil) {
      try {
        await this.o.rest.patch(Routes.webhookMessage(this.o.applicationId, t.token, t.webhookRef), { body, files, auth: false });
        done = true;
      } catch (e) {
        if (!(e instanceof DiscordAPIError) || (e.status !== 401 && e.status !== 404)) throw e;
        this.log('debug', `render ${renderId}: interaction token no longer valid (${e.message}); editing with the bot token`);
        t.token = undefined;
      }
    }
    if (!done) {
      if (!t.channelId) throw new Error(`no channel known for the message of render ${renderId}`);
      try {
        await this.o.rest.patch(Routes.channelMessage(t.channelId, messageId), { body, files });
      } catch (e) {
        if (!messageGone(e)) throw e;
        // Deleted, or out of the bot's reach for good: nothing more to show there.
        this.log('info', `render ${renderId}: its message can no longer be edited (${(e as Error).message}); no longer following it`);
        this.targets.delete(renderId);
        this.ledger.remove(renderId);
        this.follower.unfollow(renderId);
        return;
      }
    }
    if (!reply.follow) {
      // The end has landed: nothing left for a restart to deliver.
      this.targets.delete(renderId);
      this.ledger.remove(renderId);
    }
  }

  private message(reply: MessageReply, limit: number | undefined): Promise<DiscordMessage> {
    return toDiscordMessage(reply, { read: (key) => this.o.bank.store.read(key), limitBytes: limit, publicUrl: this.o.publicUrl });
  }

  /** An attached file's bytes, from Discord's CDN, within the bank's upload limit. */
  private async download(a: DiscordAttachment): Promise<AttachmentInput> {
    const max = this.o.bank.options.maxUploadBytes;
    if (a.size > max) throw new ZipbankError('bank.file-too-large', { file: a.name, size: a.size, limit: max });
    let res: Response;
    try {
      res = await fetch(a.url, { signal: AbortSignal.timeout(this.o.downloadTimeoutMs ?? 120_000) });
    } catch (e) {
      throw new DownloadFailed(discordText('download.failed', { name: a.name, reason: describeError(e).replace(/^unexpected error: /, '') }));
    }
    if (!res.ok || !res.body) throw new DownloadFailed(discordText('download.failed', { name: a.name, reason: `HTTP ${res.status}` }));
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > max) throw new ZipbankError('bank.file-too-large', { file: a.name, size, limit: max });
      chunks.push(chunk);
    }
    return { filename: a.name, data: Buffer.concat(chunks), ...(a.contentType ? { contentType: a.contentType } : {}) };
  }

  private failure(e: unknown): MessageReply {
    if (e instanceof DownloadFailed) return privateText(e.message);
    if (isZipbankError(e) || isRefusal(e)) return privateText(e.message);
    const ref = randomBytes(4).toString('hex');
    this.log('error', `[${ref}] ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return privateText(say('error.internal', { ref }));
  }
}

function describeInteraction(i: Interaction): string {
  if (i.isChatInputCommand() || i.isAutocomplete()) return `/${commandPath(i)}`;
  if (i.isButton() || i.isModalSubmit()) return i.customId;
  return `type ${i.type}`;
}
