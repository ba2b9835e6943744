/**
 * The Slack adapter's behaviour on a Bolt `App`: slash commands (`/zip`, `/bank`,
 * `/remix`, parsed from their text by the core), buttons (block_actions with the
 * core's custom ids as action_id), modals (the `/zip` form with external selects
 * served by the core's autocomplete, and the core's Remix form), and renders
 * followed to their end. Every listener acks first (Slack allows 3 s), then works;
 * an external select's options are the ack itself, so they are whatever the core
 * found within `optionsMs` (none when it found nothing in time).
 *
 * Replies: public ones are channel messages (chat.postMessage), private ones
 * ephemeral (chat.postEphemeral; the command's response_url when the app cannot
 * post there). Files go up with files.uploadV2: public ones into the channel, private
 * ones into the user's direct messages (Slack has no private files in a channel).
 * A render's message is edited in place (chat.update) as the render moves, through
 * a per-channel pacer (about one edit per second per channel, Retry-After honoured,
 * the final state always sent); when the render ends its images are uploaded once.
 * Messages of renders in flight are kept in the bank (`core.bindMessage`, plus a
 * ledger in bot_state), so a restarted adapter follows them again.
 *
 * @example
 *   const adapter = new SlackAdapter({ core, bank, client, updates, quick, events, log });
 *   adapter.register(app);
 *   await app.start();
 *   await adapter.resume();
 *   // ...
 *   await app.stop();
 *   await adapter.close(); // at most closeTimeoutMs (default 10 s)
 */
import type { App, BlockAction, BlockSuggestion, RespondFn, SlashCommand, ViewSubmitAction, webApi } from '@slack/bolt';
import type { Bank } from '../../bank/index.ts';
import { BotStateStore } from '../../bank/bot-state.ts';
import { shortId } from '../../bank/renders.ts';
import { describeError, ZipbankError, type ErrorCode, type ErrorDetails } from '../../errors/index.ts';
import type { JobEvents } from '../../jobs/events.ts';
import type { Log } from '../../jobs/types.ts';
import { decodeCustomId, encodeCustomId, say, type Attachment, type BotCore, type Choice, type InteractionContext, type MessageReply, type Reply } from '../core/index.ts';
import { RenderFollower, type FollowerOptions } from '../core/follow.ts';
import {
  formFieldsOf,
  formView,
  hasImageBlocks,
  messagePayload,
  mrkdwn,
  selectOptions,
  viewMeta,
  ZIP_ACTION,
  ZIP_VIEW,
  zipOptionsOf,
  zipView,
  type BlockOptions,
  type MessagePayload,
  type ModalView,
  type StateValues,
} from './blocks.ts';
import { RenderLedger } from './ledger.ts';
import { slackErrorOf, UpdatePacer, type PushOutcome, type UpdateTarget } from './pacer.ts';
import { SlackUsers, type UsersInfoAnswer } from './users.ts';

type WebClient = webApi.WebClient;

/** The commands the adapter answers (their names in the Slack app's manifest). */
export const SLACK_COMMANDS = ['zip', 'bank', 'remix'] as const;

export interface SlackAdapterOptions {
  core: BotCore;
  bank: Bank;
  /** Posts, uploads, modals, look-ups (Slack's default retries and 429 handling). */
  client: WebClient;
  /** chat.update only: rejects 429s and does not retry, so the pacer decides (newest state, Retry-After). */
  updates: WebClient;
  /**
   * views.open and users.info, which hold an interaction (a trigger_id lives 3 s): a
   * short timeout, at most one retry, 429s rejected, and a queue of its own that
   * `client`'s 429 pauses do not hold. Default: `client`.
   */
  quick?: WebClient | undefined;
  events?: JobEvents | undefined;
  log?: Log | undefined;
  /** Public URL of a stored image (image blocks), or none. */
  imageUrl?: BlockOptions['imageUrl'];
  /** Result images: into the channel (default) or the thread of the render's message. */
  resultsIn?: 'channel' | 'thread';
  /** Least time between two edits in one channel (default 1000 ms). */
  updateGapMs?: number;
  /** Failed edits: attempts and first backoff (defaults 5, 1000 ms). */
  updateRetry?: { maxAttempts?: number; backoffMs?: number };
  follow?: Pick<FollowerOptions, 'intervalMs' | 'queueIntervalMs' | 'pollMs' | 'concurrency'>;
  /** users.info cache (default 10 minutes). */
  userCacheMs?: number;
  /** An external select's options: those the core found within this time (default 2500 ms; Slack waits 3 s). */
  optionsMs?: number;
  /** `close` waits at most this long for edits and uploads in flight (default 10 s), then gives up on them, logging what was left. */
  closeTimeoutMs?: number;
}

/** Where an answer goes and what Slack gave to answer with. */
interface Where {
  channel: string;
  user: string;
  threadTs?: string | undefined;
  triggerId?: string | undefined;
  respond?: RespondFn | undefined;
  ctx?: InteractionContext | undefined;
  /** The message whose button was clicked. */
  source?: { ts: string; ephemeral: boolean; renderId?: string | undefined } | undefined;
}

/** Slack errors that mean the app cannot post in that conversation. */
const NOT_HERE = new Set(['not_in_channel', 'channel_not_found', 'is_archived', 'restricted_action', 'user_not_in_channel', 'cannot_dm_bot']);

/** `p`'s value, or undefined when it takes over `ms` (p is left to finish on its own). */
export function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

const keyOf = (channel: string, ts: string) => `${channel} ${ts}`;
function targetOf(key: string): UpdateTarget {
  const at = key.indexOf(' ');
  return { channel: key.slice(0, at), ts: key.slice(at + 1) };
}

/** Slack escapes `&`, `<` and `>` in the text it sends. */
export function unescapeText(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

function notice<C extends ErrorCode>(code: C, details: ErrorDetails<C>): MessageReply {
  return { kind: 'message', text: new ZipbankError(code, details).message, ephemeral: true, cards: [], attachments: [], buttons: [] };
}

export class SlackAdapter {
  private readonly core: BotCore;
  private readonly bank: Bank;
  private readonly client: WebClient;
  private readonly updates: WebClient;
  private readonly quick: WebClient;
  private readonly log: Log;
  private readonly optionsMs: number;
  private readonly closeTimeoutMs: number;
  private readonly blocks: BlockOptions;
  private readonly resultsIn: 'channel' | 'thread';
  private readonly pacer: UpdatePacer<MessageReply>;
  private readonly follower: RenderFollower;
  private readonly users: SlackUsers;
  private readonly ledger: RenderLedger;
  /** Renders whose end (final edit, then upload) was started in this process. */
  private readonly finished = new Set<string>();
  private readonly tasks = new Set<Promise<unknown>>();

  constructor(o: SlackAdapterOptions) {
    this.core = o.core;
    this.bank = o.bank;
    this.client = o.client;
    this.updates = o.updates;
    this.quick = o.quick ?? o.client;
    this.optionsMs = o.optionsMs ?? 2500;
    this.closeTimeoutMs = o.closeTimeoutMs ?? 10_000;
    this.log = o.log ?? ((level, message) => level !== 'debug' && console.error(`[zipbank slack] ${level}: ${message}`));
    this.blocks = { imageUrl: o.imageUrl };
    this.resultsIn = o.resultsIn ?? 'channel';
    this.pacer = new UpdatePacer<MessageReply>({
      minGapMs: o.updateGapMs,
      maxAttempts: o.updateRetry?.maxAttempts,
      backoffMs: o.updateRetry?.backoffMs,
      log: this.log,
      send: (t, reply) => this.withImages(reply, (p) => this.updates.chat.update({ channel: t.channel, ts: t.ts, text: p.text, blocks: p.blocks })),
    });
    this.follower = new RenderFollower({
      ...o.follow,
      events: o.events,
      log: this.log,
      status: (id) => this.core.renderStatus(id),
      update: async (f, reply) => {
        const target = targetOf(f.messageId);
        const landed = this.pacer.push(target, reply);
        if (!reply.follow) this.finish(f.renderId, target, reply, landed);
      },
    });
    this.users = new SlackUsers((user) => this.quick.users.info({ user }) as Promise<UsersInfoAnswer>, { ttlMs: o.userCacheMs, log: this.log });
    this.ledger = new RenderLedger(new BotStateStore(this.bank.db), { log: this.log });
  }

  /** Renders whose messages are being redrawn now. */
  get following(): number {
    return this.follower.size;
  }

  /** Edits waiting for their channel's turn. */
  get pendingEdits(): number {
    return this.pacer.pending;
  }

  /** Listen on the app: the commands, zipbank's buttons, the modals' submits and the zip modal's option lists. */
  register(app: App): void {
    app.command(new RegExp(`^/(${SLACK_COMMANDS.join('|')})$`), async ({ command, ack, respond }) => {
      await ack();
      await this.run(`${command.command} ${command.text}`.trim(), respond, () => this.onCommand(command, respond));
    });
    app.action(/^zb1:/, async ({ ack, body, action, respond }) => {
      await ack();
      const id = (action as { action_id: string }).action_id;
      await this.run(`button ${id}`, respond, () => this.onButton(body as BlockAction, id, respond));
    });
    app.view(ZIP_VIEW, async ({ ack, body }) => {
      await ack();
      await this.run('the /zip form', undefined, () => this.onZipSubmit(body as ViewSubmitAction));
    });
    app.view(/^zb1:/, async ({ ack, body }) => {
      await ack();
      await this.run(`form ${body.view.callback_id}`, undefined, () => this.onFormSubmit(body as ViewSubmitAction));
    });
    app.options<'block_suggestion'>({ type: 'block_suggestion', action_id: new RegExp(`^${ZIP_ACTION}`) }, async ({ ack, body }) => {
      const what = (body as BlockSuggestion).action_id;
      const found = this.onOptions(body as BlockSuggestion).catch((e: unknown) => {
        this.log('warn', `slack: options for ${what}: ${describeError(e)}`);
        return [] as Choice[];
      });
      // The options are the ack: Slack shows nothing after 3 s, so answer in time with what there is.
      const choices = await within(found, this.optionsMs);
      if (!choices) this.log('debug', `slack: options for ${what} took over ${this.optionsMs} ms; answered with none`);
      await ack({ options: selectOptions(choices ?? []) });
    });
    app.error(async (e) => this.log('error', `slack: ${describeError(e)}`));
  }

  /** Follow again the renders still in flight whose messages are in Slack, and those whose end was not delivered. */
  async resume(): Promise<number> {
    const seen = new Set<string>();
    let stored: { renderId: string; channel: string; ts: string }[] = [];
    try {
      stored = await this.ledger.load();
    } catch (e) {
      this.log('warn', `slack: could not read the renders in flight: ${describeError(e)}`);
    }
    for (const r of await this.core.activeRenders('slack')) {
      if (!r.channelId || !r.messageId) continue;
      seen.add(r.id);
      this.ledger.add({ renderId: r.id, channel: r.channelId, ts: r.messageId });
      this.follower.follow(r.id, keyOf(r.channelId, r.messageId));
    }
    for (const e of stored) {
      if (seen.has(e.renderId)) continue;
      seen.add(e.renderId);
      this.follower.follow(e.renderId, keyOf(e.channel, e.ts));
    }
    return seen.size;
  }

  /**
   * Stop following; edits in flight and uploads finish, waiting edits are dropped (the
   * next start redraws them). After `closeTimeoutMs` it stops waiting, logging what
   * was left (the ledger keeps those renders for the next start).
   */
  async close(timeoutMs = this.closeTimeoutMs): Promise<void> {
    const done = (async () => {
      await this.follower.close();
      await this.pacer.close();
      while (this.tasks.size > 0) await Promise.allSettled([...this.tasks]);
      await this.ledger.flush();
      return true;
    })();
    if (await within(done, timeoutMs)) return;
    this.log(
      'warn',
      `slack: stopped waiting for Slack after ${timeoutMs} ms; left unfinished: ${this.tasks.size} interaction(s) or upload(s), ${this.pacer.pending} edit(s); ` +
        `${this.ledger.size} render(s) in the ledger are followed again at the next start`,
    );
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.tasks.add(p);
    void p.then(
      () => this.tasks.delete(p),
      () => this.tasks.delete(p),
    );
    return p;
  }

  /** Run one interaction's work; a failure is logged and told to the user when Slack left a way to. */
  private async run(what: string, respond: RespondFn | undefined, work: () => Promise<void>): Promise<void> {
    try {
      await this.track(work());
    } catch (e) {
      const ref = Math.random().toString(16).slice(2, 10);
      this.log('error', `[${ref}] slack ${what.slice(0, 200)}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      await respond?.({ response_type: 'ephemeral', replace_original: false, text: mrkdwn(say('error.internal', { ref })) }).catch(() => undefined);
    }
  }

  private async context(userId: string, teamId: string | undefined, channelId: string | undefined, name: string | undefined, quick = false): Promise<InteractionContext> {
    const info = quick ? this.users.cached(userId) : await this.users.lookup(userId);
    return {
      user: { platform: 'slack', id: userId, name: info?.name ?? name, isModerator: info?.isModerator ?? false },
      ...(teamId ? { communityId: `slack:${teamId}` } : {}),
      ...(channelId ? { channelId } : {}),
    };
  }

  private async onCommand(c: SlashCommand, respond: RespondFn): Promise<void> {
    const name = c.command.replace(/^\//, '').toLowerCase();
    const where: Where = { channel: c.channel_id, user: c.user_id, triggerId: c.trigger_id, respond };
    // The modal first: its trigger_id lives 3 seconds.
    if (name === 'zip' && !c.text.trim()) return this.openView(where, zipView({ c: c.channel_id }));
    where.ctx = await this.context(c.user_id, c.team_id, c.channel_id, c.user_name);
    const text = unescapeText(c.text);
    if (name === 'bank' && /^\s*upload(\s|$)/i.test(text)) return this.deliver(notice('slack.no-file-upload', {}), where);
    await this.deliver(await this.core.handleText(where.ctx, name, text), where);
  }

  private async onButton(body: BlockAction, customId: string, respond: RespondFn): Promise<void> {
    const container = (body.container ?? {}) as { channel_id?: string; message_ts?: string; thread_ts?: string; is_ephemeral?: boolean };
    const channel = body.channel?.id ?? container.channel_id ?? body.user.id;
    const ts = (body.message?.ts as string | undefined) ?? container.message_ts;
    // A button on a reply inside a thread answers in that thread (not on a thread's first message).
    const thread = (body.message?.thread_ts as string | undefined) ?? container.thread_ts;
    const a = decodeCustomId(customId);
    // The Remix form must open within 3 s of the click: no users.info call on its way.
    const ctx = await this.context(body.user.id, body.team?.id ?? body.user.team_id, channel, body.user.name ?? body.user.username, a?.action === 'remix');
    const reply = await this.core.handle({ ...ctx, type: 'button', customId });
    await this.deliver(reply, {
      channel,
      user: body.user.id,
      threadTs: thread && thread !== ts ? thread : undefined,
      triggerId: body.trigger_id,
      respond,
      ctx,
      source: ts ? { ts, ephemeral: !!container.is_ephemeral, renderId: a?.renderId } : undefined,
    });
  }

  private async onZipSubmit(body: ViewSubmitAction): Promise<void> {
    const meta = viewMeta(body.view.private_metadata);
    const channel = meta?.c ?? body.user.id;
    const ctx = await this.context(body.user.id, body.team?.id ?? body.user.team_id, channel, body.user.name);
    const options = zipOptionsOf(body.view.state.values as StateValues);
    const reply = await this.core.handle({ ...ctx, type: 'command', command: 'zip', options });
    await this.deliver(reply, { channel, user: body.user.id, threadTs: meta?.t, triggerId: body.trigger_id, ctx });
  }

  private async onFormSubmit(body: ViewSubmitAction): Promise<void> {
    const meta = viewMeta(body.view.private_metadata);
    const channel = meta?.c ?? body.user.id;
    const ctx = await this.context(body.user.id, body.team?.id ?? body.user.team_id, channel, body.user.name);
    const fields = formFieldsOf(body.view.state.values as StateValues);
    const reply = await this.core.handle({ ...ctx, type: 'form', customId: body.view.callback_id, fields });
    await this.deliver(reply, { channel, user: body.user.id, threadTs: meta?.t, triggerId: body.trigger_id, ctx });
  }

  private async onOptions(body: BlockSuggestion): Promise<Choice[]> {
    const option = body.action_id.slice(ZIP_ACTION.length);
    const meta = viewMeta(body.view?.private_metadata);
    const ctx = await this.context(body.user.id, body.team?.id ?? body.user.team_id, meta?.c, body.user.name, true);
    const typed: Record<string, string> = zipOptionsOf(body.view?.state?.values as StateValues | undefined);
    delete typed[option];
    return this.core.autocomplete({ ...ctx, command: 'zip', option, value: body.value ?? '', options: typed });
  }

  private async deliver(reply: Reply, where: Where): Promise<void> {
    if (reply.kind === 'form') return this.openView(where, formView(reply, { c: where.channel, t: where.threadTs }));
    if (reply.ephemeral) return this.sendPrivate(reply, where);
    if (reply.replace && where.source) return this.replace(reply, where, where.source);
    return this.sendPublic(reply, where);
  }

  private async openView(where: Where, view: ModalView): Promise<void> {
    try {
      if (!where.triggerId) throw new Error('no trigger_id');
      await this.quick.views.open({ trigger_id: where.triggerId, view });
    } catch (e) {
      this.log('warn', `slack: views.open failed: ${describeError(e)}`);
      await this.sendPrivate(notice('slack.modal-failed', { reason: slackErrorOf(e) ?? describeError(e) }), where);
    }
  }

  /** A public reply: a channel message (followed while it shows a render in flight), its files uploaded after it. */
  private async sendPublic(reply: MessageReply, where: Where): Promise<void> {
    try {
      if (reply.attachments.length > 0 && reply.cards.length === 0 && reply.buttons.length === 0 && !reply.follow) {
        // Text and files only (a full-size image): one upload, the text as its comment.
        await this.upload(where.channel, reply.attachments, { comment: mrkdwn(reply.text), threadTs: where.threadTs });
        this.pacer.touch(where.channel);
        return;
      }
      const res = await this.withImages(reply, (p) =>
        this.client.chat.postMessage({
          channel: where.channel,
          text: p.text,
          blocks: p.blocks,
          unfurl_links: false,
          unfurl_media: false,
          ...(where.threadTs ? { thread_ts: where.threadTs } : {}),
        }),
      );
      this.pacer.touch(where.channel);
      const channel = res.channel ?? where.channel;
      const renderId = reply.follow?.renderId;
      if (renderId && res.ts) {
        await this.core.bindMessage(renderId, { channelId: channel, messageId: res.ts });
        this.ledger.add({ renderId, channel, ts: res.ts });
        this.follower.follow(renderId, keyOf(channel, res.ts), reply);
      }
      if (reply.attachments.length > 0) await this.upload(channel, reply.attachments, { threadTs: where.threadTs });
    } catch (e) {
      if (!NOT_HERE.has(slackErrorOf(e) ?? '')) throw e;
      await this.sendPrivate(notice('slack.not-in-channel', {}), where);
      // Nobody could watch a render that was just queued here: cancel it, as its requester.
      const renderId = reply.follow?.renderId;
      if (renderId && where.ctx) await this.core.handle({ ...where.ctx, type: 'button', customId: encodeCustomId({ action: 'cancel', renderId }) });
    }
  }

  /** A reply that replaces the message its button was on (cancel). */
  private async replace(reply: MessageReply, where: Where, source: NonNullable<Where['source']>): Promise<void> {
    const { replace: _, ...state } = reply;
    if (source.ephemeral) {
      const p = messagePayload(state, this.blocks);
      await where.respond?.({ replace_original: true, text: p.text, blocks: p.blocks });
      return;
    }
    const target = { channel: where.channel, ts: source.ts };
    const landed = this.pacer.push(target, state);
    const renderId = state.follow?.renderId ?? source.renderId;
    if (!renderId) return;
    if (state.follow) this.ledger.add({ renderId, ...target });
    // The follower now knows this state, so it does not send it again.
    if (state.follow || this.follower.isFollowing(renderId)) this.follower.follow(renderId, keyOf(target.channel, target.ts), state);
    if (!state.follow) this.finish(renderId, target, state, landed);
  }

  /** A private reply: ephemeral; files go to the user's direct messages. */
  private async sendPrivate(reply: MessageReply, where: Where): Promise<void> {
    let shown = reply;
    if (reply.attachments.length > 0) {
      const note = await this.sendFilesPrivately(where.user, reply);
      shown = { ...reply, text: `${reply.text}\n${note}`, attachments: [] };
    }
    const p = messagePayload(shown, this.blocks);
    try {
      await this.client.chat.postEphemeral({ channel: where.channel, user: where.user, text: p.text, blocks: p.blocks, ...(where.threadTs ? { thread_ts: where.threadTs } : {}) });
    } catch (e) {
      if (where.respond) {
        await where.respond({ response_type: 'ephemeral', replace_original: false, text: p.text, blocks: p.blocks });
        return;
      }
      if (!NOT_HERE.has(slackErrorOf(e) ?? '')) throw e;
      // No response_url (a modal's submit): the app's direct messages with the user.
      await this.client.chat.postMessage({ channel: where.user, text: p.text, blocks: p.blocks });
    }
  }

  private async sendFilesPrivately(user: string, reply: MessageReply): Promise<string> {
    try {
      const dm = await this.client.conversations.open({ users: user });
      if (!dm.channel?.id) throw new Error('conversations.open gave no channel');
      await this.upload(dm.channel.id, reply.attachments, { comment: mrkdwn(reply.text) });
      return new ZipbankError('slack.files-in-dm', {}).message;
    } catch (e) {
      this.log('warn', `slack: private files for ${user}: ${describeError(e)}`);
      return new ZipbankError('slack.files-failed', { reason: slackErrorOf(e) ?? describeError(e) }).message;
    }
  }

  /**
   * A render ended: once its final state has landed (or was given up), upload its
   * images, once per render in this process; the ledger entry goes when done. If the
   * adapter closes first, the ledger keeps it for the next start.
   */
  private finish(renderId: string, target: UpdateTarget, reply: MessageReply, landed: Promise<PushOutcome>): void {
    if (this.finished.has(renderId)) return;
    this.finished.add(renderId);
    while (this.finished.size > 10_000) this.finished.delete(this.finished.values().next().value!);
    void this.track(
      (async () => {
        if ((await landed) === 'closed') {
          this.finished.delete(renderId);
          return;
        }
        const keys = reply.cards.flatMap((c) => c.imageKeys);
        if (keys.length > 0) {
          const name = (i: number) => `zipbank-${shortId(renderId)}${keys.length > 1 ? `-${i + 1}` : ''}.png`;
          try {
            await this.upload(
              target.channel,
              keys.map((key, i) => ({ name: name(i), contentType: 'image/png', key })),
              { comment: mrkdwn(reply.text), threadTs: this.resultsIn === 'thread' ? target.ts : undefined },
            );
            this.pacer.touch(target.channel);
          } catch (e) {
            this.log('warn', `slack: the images of render ${renderId} could not be uploaded: ${describeError(e)}`);
          }
        }
        this.ledger.remove(renderId);
      })(),
    );
  }

  /** files.uploadV2 (getUploadURLExternal, upload, completeUploadExternal): one message with every file. */
  private async upload(channel: string, files: readonly Attachment[], o: { comment?: string | undefined; threadTs?: string | undefined }): Promise<void> {
    const uploads: { file: Buffer; filename: string }[] = [];
    for (const a of files) {
      const data = a.data ? Buffer.from(a.data) : a.key ? await this.bank.store.read(a.key) : undefined;
      if (data) uploads.push({ file: data, filename: a.name });
    }
    if (uploads.length === 0) return;
    await this.client.filesUploadV2({
      channel_id: channel,
      ...(o.threadTs ? { thread_ts: o.threadTs } : {}),
      ...(o.comment ? { initial_comment: o.comment } : {}),
      file_uploads: uploads,
    } as Parameters<WebClient['filesUploadV2']>[0]);
  }

  /** Send with image blocks; when Slack refuses them (it could not fetch a URL), send again without. */
  private async withImages<T>(reply: MessageReply, send: (p: MessagePayload) => Promise<T>): Promise<T> {
    const p = messagePayload(reply, this.blocks);
    try {
      return await send(p);
    } catch (e) {
      if (slackErrorOf(e) !== 'invalid_blocks' || !hasImageBlocks(p)) throw e;
      this.log('warn', 'slack: Slack refused an image URL (is ZIPBANK_PUBLIC_URL reachable from the internet?); sending without images');
      return send(messagePayload(reply, {}));
    }
  }
}
