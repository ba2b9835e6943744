/**
 * A fake Discord on loopback that the unmodified discord.js client talks to through
 * its documented options (`rest.api`; the gateway URL comes from GET /gateway/bot).
 *
 * REST (under /api/v10): GET /gateway/bot, /users/@me, /applications/@me; global and
 * guild command lists (GET, bulk PUT); interaction callbacks (message, defer, update,
 * deferred update, autocomplete, modal; once per interaction, within 3 s, or
 * "already acknowledged" / "unknown interaction" as Discord answers); webhook message
 * routes of the interaction token (GET/PATCH/DELETE @original or an id, POST
 * follow-ups; the token expires after `tokenLifetimeMs`); channel message edits with
 * the bot token; multipart uploads (payload_json + files[n]); a CDN path for files a
 * test attaches to a command. Faults: the next matching requests answer 429 with
 * Retry-After, or 500.
 *
 * Gateway (ws): hello, identify -> READY and GUILD_CREATE for the shard's guilds,
 * heartbeat ACKs, resume (replays the events the connection missed, then RESUMED).
 * Tests push INTERACTION_CREATE events (a command with typed options from the
 * registered definitions, autocomplete, a click on a button of a stored message, a
 * modal submit), drop a connection, and read what the bot did: every REST call,
 * every callback, message state, uploads.
 *
 * @example
 *   const fake = await FakeDiscord.start({ token: TOKEN });
 *   const bot = await startDiscordBot({ ..., rest: { api: fake.api } });
 *   const ix = fake.command({ name: 'zip', options: { subject: 'cat', style: 'flower', prompt: 'a cat' } });
 *   await fake.waitFor(() => fake.original(ix)?.attachments.length);
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, WebSocket } from 'ws';

type Json = any;

const DISCORD_EPOCH = 1420070400000n;
const EPHEMERAL = 64;
const LOADING = 128;
export const MIB = 2 ** 20;

export interface FakeUser {
  id: string;
  username: string;
  /** Member permissions bit set, as Discord sends it (a decimal string). */
  permissions?: string;
  roles?: string[];
  nick?: string;
}

export interface FakeGuild {
  id: string;
  name: string;
  channelId: string;
}

export interface UploadedFile {
  field: string;
  name: string;
  size: number;
  data: Buffer;
  contentType: string;
}

export interface RecordedCall {
  method: string;
  /** Path below /api/v10, decoded (`/webhooks/1/tok/messages/@original`). */
  route: string;
  query: string;
  status: number;
  auth: string | undefined;
  body: Json;
  files: UploadedFile[];
  at: number;
}

export interface FakeAttachment {
  id: string;
  filename: string;
  size: number;
  url: string;
  proxy_url: string;
  content_type: string;
}

export interface FakeMessage {
  id: string;
  channelId: string;
  guildId: string | undefined;
  content: string;
  embeds: Json[];
  components: Json[];
  attachments: FakeAttachment[];
  flags: number;
  interactionId: string | undefined;
  deleted: boolean;
  /** Every successful edit, and through which route. */
  edits: { via: 'webhook' | 'bot' | 'update'; at: number; content: string; attachments: string[] }[];
}

export interface Callback {
  type: number;
  at: number;
  data: Json;
  files: UploadedFile[];
}

export interface FakeInteraction {
  id: string;
  token: string;
  type: number;
  createdAt: number;
  payload: Json;
  callbacks: Callback[];
  originalId: string | undefined;
  followups: string[];
  /** Autocomplete answer. */
  choices: { name: string; value: string | number }[] | undefined;
  /** The modal shown, if any. */
  modal: Json | undefined;
}

export interface Fault {
  method?: string;
  route: RegExp;
  status: number;
  /** Seconds (429). */
  retryAfter?: number;
  /** Only requests that upload files. */
  withFiles?: boolean;
  times: number;
}

interface Session {
  id: string;
  shard: [number, number];
  seq: number;
  log: { s: number; t: string; d: Json }[];
  ws: WebSocket | undefined;
}

export interface GatewayEvent {
  type: 'identify' | 'resume' | 'resume-refused' | 'connect' | 'disconnect';
  shard?: [number, number];
  intents?: number;
  sessionId?: string;
  at: number;
}

export interface FakeDiscordOptions {
  token: string;
  applicationId?: string;
  guilds?: FakeGuild[];
  /** GET /gateway/bot's recommended shard count. */
  recommendedShards?: number;
  maxConcurrency?: number;
  /** Interaction token life (Discord: 15 minutes). */
  tokenLifetimeMs?: number;
  /** A callback later than this is refused (Discord: 3 s). */
  callbackWindowMs?: number;
}

let counter = 0;
export function snowflake(at = Date.now()): string {
  return String(((BigInt(at) - DISCORD_EPOCH) << 22n) | BigInt(counter++ & 0x3fffff));
}

/** A guild id whose events go to `shard` of `count` ((id >> 22) % count). */
export function guildIdOnShard(shard: number, count: number, n = 0): string {
  const base = 1n << 38n;
  const hi = base + BigInt(n * count) + ((BigInt(shard) - (base % BigInt(count)) + BigInt(count)) % BigInt(count));
  return String(hi << 22n);
}

export function shardOfGuild(id: string, count: number): number {
  return Number((BigInt(id) >> 22n) % BigInt(count));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class FakeDiscord {
  readonly token: string;
  readonly applicationId: string;
  readonly guilds: FakeGuild[];
  readonly botUser: Json;
  readonly calls: RecordedCall[] = [];
  readonly messages = new Map<string, FakeMessage>();
  readonly interactions = new Map<string, FakeInteraction>();
  readonly uploads: (UploadedFile & { messageId: string })[] = [];
  readonly gatewayLog: GatewayEvent[] = [];
  /** Paths of every download from the fake CDN. */
  readonly cdnHits: string[] = [];
  readonly commands = { global: [] as Json[], guild: new Map<string, Json[]>() };
  /** Bulk overwrites received, per scope (`global` or the guild id). */
  readonly commandPuts: { scope: string; at: number; count: number }[] = [];
  recommendedShards: number;
  tokenLifetimeMs: number;
  callbackWindowMs: number;
  private readonly maxConcurrency: number;
  private readonly faults: Fault[] = [];
  private readonly files = new Map<string, { data: Buffer; contentType: string; name: string; delayMs: number }>();
  private readonly sessions: Session[] = [];
  private readonly guildRoles = new Map<string, Json[]>();
  private readonly sockets = new Set<WebSocket>();
  private server!: Server;
  private wss!: WebSocketServer;
  private port = 0;

  private constructor(o: FakeDiscordOptions) {
    this.token = o.token;
    this.applicationId = o.applicationId ?? snowflake();
    this.guilds = o.guilds ?? [{ id: guildIdOnShard(0, 2), name: 'Zip Club', channelId: snowflake() }];
    this.recommendedShards = o.recommendedShards ?? 1;
    this.maxConcurrency = o.maxConcurrency ?? 16;
    this.tokenLifetimeMs = o.tokenLifetimeMs ?? 15 * 60_000;
    this.callbackWindowMs = o.callbackWindowMs ?? 3000;
    this.botUser = { id: this.applicationId, username: 'zipbank', discriminator: '0', global_name: null, avatar: null, bot: true };
  }

  static async start(o: FakeDiscordOptions): Promise<FakeDiscord> {
    const f = new FakeDiscord(o);
    await f.listen();
    return f;
  }

  get api(): string {
    return `http://127.0.0.1:${this.port}/api`;
  }

  get gatewayUrl(): string {
    return `ws://127.0.0.1:${this.port}/gateway`;
  }

  private listen(): Promise<void> {
    this.server = createServer((req, res) => {
      this.onRequest(req, res).catch((e: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: `fake discord: ${(e as Error).message}`, code: 0 }));
      });
    });
    this.wss = new WebSocketServer({ server: this.server, path: '/gateway' });
    this.wss.on('connection', (ws) => this.onSocket(ws));
    return new Promise((resolve) => {
      this.server.listen(0, '127.0.0.1', () => {
        this.port = (this.server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    await new Promise<void>((r) => this.wss.close(() => r()));
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  // ---- test controls ------------------------------------------------------

  /** The next `times` requests matching answer `status` (429 with Retry-After `retryAfter` seconds). */
  fail(f: Omit<Fault, 'times'> & { times?: number }): void {
    this.faults.push({ ...f, times: f.times ?? 1 });
  }

  /** A file a user attached: served on the fake CDN (after `delayMs`). */
  addFile(name: string, data: Buffer, o: { contentType?: string; delayMs?: number } = {}): FakeAttachment {
    const id = snowflake();
    const contentType = o.contentType ?? 'application/octet-stream';
    this.files.set(id, { data, contentType, name, delayMs: o.delayMs ?? 0 });
    const url = `http://127.0.0.1:${this.port}/cdn/attachments/${id}/${encodeURIComponent(name)}`;
    return { id, filename: name, size: data.byteLength, url, proxy_url: url, content_type: contentType };
  }

  /** A role created in a guild (GUILD_ROLE_CREATE to the guild's shard, as Discord sends with the Guilds intent). */
  addRole(guild: FakeGuild, id: string, name: string, permissions = '0'): void {
    const role = { id, name, color: 0, hoist: false, position: 1, permissions, managed: false, mentionable: false, flags: 0 };
    this.guildRoles.set(guild.id, [...(this.guildRoles.get(guild.id) ?? []), role]);
    const count = this.sessions[this.sessions.length - 1]?.shard[1] ?? 1;
    const s = this.session(shardOfGuild(guild.id, count));
    if (s) this.dispatch(s, 'GUILD_ROLE_CREATE', { guild_id: guild.id, role });
  }

  /** Cut a shard's gateway connection as a network failure would (the client should resume). */
  dropGateway(shard = 0): void {
    const s = this.session(shard);
    s?.ws?.terminate();
  }

  /** Poll until `pred` returns a truthy value. */
  async waitFor<T>(pred: () => T | undefined | null | false | 0 | '', timeoutMs = 10_000, what = 'condition'): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = pred();
      if (v) return v;
      if (Date.now() > end) throw new Error(`fake discord: timed out waiting for ${what}`);
      await sleep(10);
    }
  }

  /** The message an interaction's first response made (or the one it updated). */
  original(ix: FakeInteraction): FakeMessage | undefined {
    return ix.originalId ? this.messages.get(ix.originalId) : undefined;
  }

  /** Calls to routes matching `route` (and method). */
  callsTo(route: RegExp, method?: string): RecordedCall[] {
    return this.calls.filter((c) => route.test(c.route) && (!method || c.method === method));
  }

  // ---- interactions ----------------------------------------------------------

  private base(type: number, o: { user?: FakeUser | undefined; guild?: FakeGuild | null | undefined; attachmentSizeLimit?: number | undefined }): Json {
    const user = o.user ?? { id: '100000000000000001', username: 'ann' };
    const u = { id: user.id, username: user.username, discriminator: '0', global_name: null, avatar: null };
    const g = o.guild === undefined ? this.guilds[0] : o.guild;
    const common = {
      id: snowflake(),
      application_id: this.applicationId,
      type,
      token: `tok-${randomBytes(12).toString('hex')}`,
      version: 1,
      locale: 'en-US',
      entitlements: [],
      app_permissions: '117760',
      attachment_size_limit: o.attachmentSizeLimit ?? 10 * MIB,
    };
    if (!g) {
      const dm = `dm-${user.id}`;
      return { ...common, context: 1, authorizing_integration_owners: { '0': '1' }, channel_id: dm, channel: { id: dm, type: 1, recipients: [u] }, user: u };
    }
    return {
      ...common,
      context: 0,
      authorizing_integration_owners: { '0': g.id },
      guild_id: g.id,
      guild_locale: 'en-US',
      channel_id: g.channelId,
      channel: { id: g.channelId, type: 0, guild_id: g.id, name: 'general', position: 0, permission_overwrites: [], nsfw: false, parent_id: null },
      member: {
        user: u,
        roles: user.roles ?? [],
        permissions: user.permissions ?? '117760',
        nick: user.nick ?? null,
        avatar: null,
        joined_at: new Date(0).toISOString(),
        premium_since: null,
        deaf: false,
        mute: false,
        flags: 0,
        pending: false,
        communication_disabled_until: null,
      },
    };
  }

  private registered(guildId: string | undefined): Json[] {
    return [...this.commands.global, ...(guildId ? (this.commands.guild.get(guildId) ?? []) : [])];
  }

  private commandData(name: string, sub: string | undefined, values: Record<string, unknown>, guildId: string | undefined, focused?: string): Json {
    const cmd = this.registered(guildId).find((c) => c.name === name);
    if (!cmd) throw new Error(`fake discord: /${name} is not registered`);
    let defs: Json[] = cmd.options ?? [];
    if (sub) {
      const s = defs.find((o) => o.type === 1 && o.name === sub);
      if (!s) throw new Error(`fake discord: /${name} ${sub} is not registered`);
      defs = s.options ?? [];
    }
    const resolved: Json = { attachments: {} };
    const options: Json[] = [];
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) continue;
      const def = defs.find((d) => d.name === k);
      if (!def) throw new Error(`fake discord: /${name}${sub ? ` ${sub}` : ''} has no option ${k}`);
      if (def.type === 11) {
        const a = v as FakeAttachment;
        resolved.attachments[a.id] = a;
        options.push({ name: k, type: 11, value: a.id });
      } else {
        options.push({ name: k, type: def.type, value: focused === k ? String(v) : v, ...(focused === k ? { focused: true } : {}) });
      }
    }
    return {
      id: cmd.id,
      name,
      type: 1,
      ...(guildId && !this.commands.global.includes(cmd) ? { guild_id: guildId } : {}),
      options: sub ? [{ type: 1, name: sub, options }] : options,
      ...(Object.keys(resolved.attachments).length ? { resolved } : {}),
    };
  }

  /** A slash command typed by `user` (options typed from the registered definitions). */
  command(o: {
    name: string;
    sub?: string;
    options?: Record<string, string | number | boolean | FakeAttachment | undefined>;
    user?: FakeUser;
    guild?: FakeGuild | null;
    attachmentSizeLimit?: number;
  }): FakeInteraction {
    const p = this.base(2, o);
    p.data = this.commandData(o.name, o.sub, o.options ?? {}, p.guild_id);
    return this.push(p);
  }

  /** Autocomplete while typing option `focused`. */
  autocomplete(o: { name: string; sub?: string; options: Record<string, string | number | boolean>; focused: string; user?: FakeUser; guild?: FakeGuild | null }): FakeInteraction {
    const p = this.base(4, o);
    p.data = this.commandData(o.name, o.sub, o.options, p.guild_id, o.focused);
    return this.push(p);
  }

  /** A click on a button of a stored message (it must be there and enabled). */
  click(messageId: string, customId: string, o: { user?: FakeUser; attachmentSizeLimit?: number } = {}): FakeInteraction {
    const m = this.messages.get(messageId);
    if (!m || m.deleted) throw new Error(`fake discord: no message ${messageId}`);
    const button = m.components.flatMap((r: Json) => r.components ?? []).find((b: Json) => b.custom_id === customId);
    if (!button) throw new Error(`fake discord: message ${messageId} has no button ${customId}`);
    if (button.disabled) throw new Error(`fake discord: button ${customId} is disabled`);
    const p = this.base(3, { ...o, guild: this.guilds.find((g) => g.id === m.guildId) ?? null });
    p.data = { custom_id: customId, component_type: 2 };
    p.message = this.messageJson(m);
    return this.push(p);
  }

  /** A submit of a modal the bot showed (its custom id must have been shown). */
  submit(customId: string, fields: Record<string, string>, o: { user?: FakeUser; guild?: FakeGuild | null } = {}): FakeInteraction {
    const shown = [...this.interactions.values()].some((ix) => ix.modal?.custom_id === customId);
    if (!shown) throw new Error(`fake discord: no modal ${customId} was shown`);
    const p = this.base(5, o);
    p.data = { custom_id: customId, components: Object.entries(fields).map(([id, value]) => ({ type: 1, components: [{ type: 4, custom_id: id, value }] })) };
    return this.push(p);
  }

  private push(payload: Json): FakeInteraction {
    const guildId: string | undefined = payload.guild_id;
    const count = this.sessions[this.sessions.length - 1]?.shard[1] ?? 1;
    const s = this.session(guildId ? shardOfGuild(guildId, count) : 0);
    if (!s) throw new Error('fake discord: no gateway session for that shard');
    const ix: FakeInteraction = {
      id: payload.id,
      token: payload.token,
      type: payload.type,
      createdAt: Date.now(),
      payload,
      callbacks: [],
      originalId: undefined,
      followups: [],
      choices: undefined,
      modal: undefined,
    };
    this.interactions.set(ix.id, ix);
    this.dispatch(s, 'INTERACTION_CREATE', payload);
    return ix;
  }

  // ---- gateway ---------------------------------------------------------------

  private session(shard: number): Session | undefined {
    for (let i = this.sessions.length - 1; i >= 0; i--) if (this.sessions[i]!.shard[0] === shard) return this.sessions[i];
    return undefined;
  }

  private dispatch(s: Session, t: string, d: Json): void {
    const seq = ++s.seq;
    s.log.push({ s: seq, t, d });
    if (s.ws?.readyState === WebSocket.OPEN) s.ws.send(JSON.stringify({ op: 0, t, s: seq, d }));
  }

  private onSocket(ws: WebSocket): void {
    this.sockets.add(ws);
    this.gatewayLog.push({ type: 'connect', at: Date.now() });
    ws.send(JSON.stringify({ op: 10, d: { heartbeat_interval: 41_250 }, s: null, t: null }));
    ws.on('close', () => {
      this.sockets.delete(ws);
      for (const s of this.sessions) if (s.ws === ws) {
        s.ws = undefined;
        this.gatewayLog.push({ type: 'disconnect', shard: s.shard, at: Date.now() });
      }
    });
    ws.on('message', (raw) => {
      const p = JSON.parse(String(raw)) as { op: number; d: Json };
      if (p.op === 1) {
        ws.send(JSON.stringify({ op: 11 }));
      } else if (p.op === 2) {
        if (p.d.token !== this.token) return ws.close(4004, 'Authentication failed');
        const shard: [number, number] = p.d.shard ?? [0, 1];
        const s: Session = { id: randomBytes(8).toString('hex'), shard, seq: 0, log: [], ws };
        this.sessions.push(s);
        this.gatewayLog.push({ type: 'identify', shard, intents: p.d.intents, sessionId: s.id, at: Date.now() });
        const mine = this.guilds.filter((g) => shardOfGuild(g.id, shard[1]) === shard[0]);
        this.dispatch(s, 'READY', {
          v: 10,
          user: this.botUser,
          guilds: mine.map((g) => ({ id: g.id, unavailable: true })),
          session_id: s.id,
          resume_gateway_url: this.gatewayUrl,
          shard,
          application: { id: this.applicationId, flags: 0 },
          private_channels: [],
          relationships: [],
          presences: [],
          guild_join_requests: [],
          user_settings: {},
        });
        for (const g of mine) this.dispatch(s, 'GUILD_CREATE', this.guildJson(g));
      } else if (p.op === 6) {
        const s = this.sessions.find((x) => x.id === p.d.session_id);
        if (!s || p.d.token !== this.token) {
          this.gatewayLog.push({ type: 'resume-refused', at: Date.now() });
          ws.send(JSON.stringify({ op: 9, d: false }));
          return;
        }
        s.ws = ws;
        this.gatewayLog.push({ type: 'resume', shard: s.shard, sessionId: s.id, at: Date.now() });
        for (const e of s.log) if (e.s > Number(p.d.seq ?? 0)) ws.send(JSON.stringify({ op: 0, t: e.t, s: e.s, d: e.d }));
        this.dispatch(s, 'RESUMED', {});
      }
    });
  }

  private guildJson(g: FakeGuild): Json {
    return {
      id: g.id,
      name: g.name,
      icon: null,
      splash: null,
      discovery_splash: null,
      owner_id: '100000000000000009',
      afk_channel_id: null,
      afk_timeout: 300,
      verification_level: 0,
      default_message_notifications: 0,
      explicit_content_filter: 0,
      roles: [{ id: g.id, name: '@everyone', color: 0, hoist: false, position: 0, permissions: '117760', managed: false, mentionable: false, flags: 0 }, ...(this.guildRoles.get(g.id) ?? [])],
      emojis: [],
      features: [],
      mfa_level: 0,
      application_id: null,
      system_channel_id: null,
      system_channel_flags: 0,
      rules_channel_id: null,
      vanity_url_code: null,
      description: null,
      banner: null,
      premium_tier: 0,
      preferred_locale: 'en-US',
      public_updates_channel_id: null,
      nsfw_level: 0,
      stickers: [],
      premium_progress_bar_enabled: false,
      joined_at: new Date(0).toISOString(),
      large: false,
      unavailable: false,
      member_count: 2,
      voice_states: [],
      members: [],
      channels: [{ id: g.channelId, type: 0, guild_id: g.id, name: 'general', position: 0, permission_overwrites: [], nsfw: false, parent_id: null, topic: null, last_message_id: null, rate_limit_per_user: 0 }],
      threads: [],
      presences: [],
      stage_instances: [],
      guild_scheduled_events: [],
    };
  }

  // ---- REST --------------------------------------------------------------------

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);

    const cdn = /^\/cdn\/attachments\/([^/]+)\/[^/]+$/.exec(url.pathname);
    if (cdn && req.method === 'GET') {
      this.cdnHits.push(decodeURIComponent(url.pathname));
      const f = this.files.get(cdn[1]!);
      if (!f) return this.send(res, 404, { message: 'Not found' });
      if (f.delayMs) await sleep(f.delayMs);
      res.writeHead(200, { 'content-type': f.contentType, 'content-length': String(f.data.byteLength) });
      res.end(f.data);
      return;
    }
    if (!url.pathname.startsWith('/api/v10/')) return this.send(res, 404, { message: '404: Not Found', code: 0 });
    const route = url.pathname
      .slice('/api/v10'.length)
      .split('/')
      .map((s) => decodeURIComponent(s))
      .join('/');
    const method = req.method ?? 'GET';
    const auth = req.headers.authorization;
    let body: Json = undefined;
    const files: UploadedFile[] = [];
    const ct = req.headers['content-type'] ?? '';
    if (raw.length > 0 && ct.startsWith('application/json')) body = JSON.parse(raw.toString('utf8'));
    else if (raw.length > 0 && ct.startsWith('multipart/form-data')) {
      const form = await new Request('http://fake/', { method: 'POST', headers: { 'content-type': ct }, body: raw }).formData();
      for (const [field, value] of form.entries()) {
        if (typeof value === 'string') {
          if (field === 'payload_json') body = JSON.parse(value);
        } else {
          const data = Buffer.from(await value.arrayBuffer());
          files.push({ field, name: value.name, size: data.byteLength, data, contentType: value.type });
        }
      }
    }
    const call: RecordedCall = { method, route, query: url.search, status: 0, auth, body, files, at: Date.now() };
    this.calls.push(call);

    const fault = this.faults.find((f) => f.times > 0 && f.route.test(route) && (!f.method || f.method === method) && (!f.withFiles || files.length > 0));
    if (fault) {
      fault.times--;
      call.status = fault.status;
      if (fault.status === 429) {
        const after = fault.retryAfter ?? 0.2;
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': String(after), 'x-ratelimit-scope': 'user' });
        res.end(JSON.stringify({ message: 'You are being rate limited.', retry_after: after, global: false }));
        return;
      }
      return this.send(res, fault.status, { message: `${fault.status}: fake failure`, code: 0 }, call);
    }

    const [status, out] = this.handle(method, route, url, auth, body, files);
    call.status = status;
    this.send(res, status, out);
  }

  private send(res: ServerResponse, status: number, body: Json, call?: RecordedCall): void {
    if (call) call.status = status;
    if (status === 204) {
      res.writeHead(204);
      res.end();
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body ?? {}));
  }

  private handle(method: string, route: string, url: URL, auth: string | undefined, body: Json, files: UploadedFile[]): [number, Json] {
    const botAuth = auth === `Bot ${this.token}`;
    const unauthorized: [number, Json] = [401, { message: '401: Unauthorized', code: 0 }];
    let m: RegExpExecArray | null;

    if (method === 'GET' && route === '/gateway/bot') {
      if (!botAuth) return unauthorized;
      return [200, { url: this.gatewayUrl, shards: this.recommendedShards, session_start_limit: { total: 1000, remaining: 999, reset_after: 14_400_000, max_concurrency: this.maxConcurrency } }];
    }
    if (method === 'GET' && route === '/gateway') return [200, { url: this.gatewayUrl }];
    if (method === 'GET' && route === '/users/@me') return botAuth ? [200, this.botUser] : unauthorized;
    if (method === 'GET' && route === '/applications/@me') {
      return botAuth ? [200, { id: this.applicationId, name: 'zipbank', description: '', bot_public: true, bot_require_code_grant: false, flags: 0, bot: this.botUser }] : unauthorized;
    }

    if ((m = /^\/applications\/(\d+)\/(?:guilds\/(\d+)\/)?commands$/.exec(route))) {
      if (!botAuth) return unauthorized;
      if (m[1] !== this.applicationId) return [403, { message: 'Missing Access', code: 50001 }];
      const guild = m[2];
      if (method === 'GET') return [200, guild ? (this.commands.guild.get(guild) ?? []) : this.commands.global];
      if (method === 'PUT') {
        const list = (body as Json[]).map((c) => ({ ...c, id: snowflake(), application_id: this.applicationId, version: snowflake(), ...(guild ? { guild_id: guild } : {}) }));
        if (guild) this.commands.guild.set(guild, list);
        else this.commands.global = list;
        this.commandPuts.push({ scope: guild ?? 'global', at: Date.now(), count: list.length });
        return [200, list];
      }
    }

    if ((m = /^\/interactions\/(\d+)\/([^/]+)\/callback$/.exec(route)) && method === 'POST') {
      return this.callback(m[1]!, m[2]!, url.searchParams.get('with_response') === 'true', body, files);
    }

    if ((m = /^\/webhooks\/(\d+)\/([^/]+)(?:\/messages\/([^/]+))?$/.exec(route))) {
      const [, app, token, mid] = m;
      const ix = [...this.interactions.values()].find((x) => x.token === token);
      if (app !== this.applicationId || !ix) return [404, { message: 'Unknown Webhook', code: 10015 }];
      if (Date.now() - ix.createdAt > this.tokenLifetimeMs) return [401, { message: 'Invalid Webhook Token', code: 50027 }];
      if (!mid) {
        if (method !== 'POST') return [405, { message: '405: Method Not Allowed', code: 0 }];
        if (ix.callbacks.length === 0) return [404, { message: 'Unknown Message', code: 10008 }];
        const msg = this.create(ix, body ?? {}, files, (body?.flags ?? 0) & EPHEMERAL);
        ix.followups.push(msg.id);
        return [200, this.messageJson(msg)];
      }
      const id = mid === '@original' ? ix.originalId : mid;
      const msg = id ? this.messages.get(id) : undefined;
      if (!msg || msg.deleted || (id !== ix.originalId && !ix.followups.includes(id!))) return [404, { message: 'Unknown Message', code: 10008 }];
      if (method === 'GET') return [200, this.messageJson(msg)];
      if (method === 'DELETE') {
        msg.deleted = true;
        return [204, undefined];
      }
      if (method === 'PATCH') {
        this.apply(msg, body ?? {}, files, 'webhook');
        msg.flags &= ~LOADING;
        return [200, this.messageJson(msg)];
      }
    }

    if ((m = /^\/channels\/([^/]+)\/messages\/(\d+)$/.exec(route))) {
      if (!botAuth) return unauthorized;
      const msg = this.messages.get(m[2]!);
      if (!msg || msg.deleted || msg.channelId !== m[1] || msg.flags & EPHEMERAL) return [404, { message: 'Unknown Message', code: 10008 }];
      if (method === 'GET') return [200, this.messageJson(msg)];
      if (method === 'PATCH') {
        this.apply(msg, body ?? {}, files, 'bot');
        return [200, this.messageJson(msg)];
      }
    }
    return [404, { message: `fake discord: nothing at ${method} ${route}`, code: 0 }];
  }

  private callback(id: string, token: string, withResponse: boolean, body: Json, files: UploadedFile[]): [number, Json] {
    const ix = this.interactions.get(id);
    if (!ix || ix.token !== token) return [404, { message: 'Unknown interaction', code: 10062 }];
    if (Date.now() - ix.createdAt > this.callbackWindowMs) return [404, { message: 'Unknown interaction', code: 10062 }];
    if (ix.callbacks.length > 0) return [400, { message: 'Interaction has already been acknowledged.', code: 40060 }];
    const type = body?.type as number;
    const data = body?.data ?? {};
    const invalid = (why: string): [number, Json] => [400, { message: `Invalid Form Body: ${why}`, code: 50035 }];
    if (ix.type === 4 && type !== 8) return invalid('autocomplete interactions take only choices');
    if (ix.type !== 4 && type === 8) return invalid('choices are for autocomplete');
    if (type === 9 && ix.type === 5) return invalid('a modal cannot answer a modal');
    if ((type === 6 || type === 7) && ix.type !== 3) return invalid('updates are for component interactions');
    ix.callbacks.push({ type, at: Date.now(), data, files });
    let message: FakeMessage | undefined;
    switch (type) {
      case 4:
        message = this.create(ix, data, files, (data.flags ?? 0) & EPHEMERAL);
        ix.originalId = message.id;
        break;
      case 5:
        message = this.create(ix, {}, [], ((data.flags ?? 0) & EPHEMERAL) | LOADING);
        ix.originalId = message.id;
        break;
      case 6:
        ix.originalId = ix.payload.message?.id;
        break;
      case 7:
        message = this.messages.get(ix.payload.message?.id);
        if (message) {
          this.apply(message, data, files, 'update');
          ix.originalId = message.id;
        }
        break;
      case 8:
        if (!Array.isArray(data.choices) || data.choices.length > 25) return invalid('choices: at most 25');
        ix.choices = data.choices;
        break;
      case 9:
        ix.modal = data;
        break;
      default:
        return invalid(`unknown callback type ${type}`);
    }
    if (!withResponse) return [204, undefined];
    return [
      200,
      {
        interaction: {
          id: ix.id,
          type: ix.type,
          activity_instance_id: null,
          response_message_id: message?.id ?? null,
          response_message_loading: type === 5,
          response_message_ephemeral: !!(message && message.flags & EPHEMERAL),
        },
        resource: { type, ...(message ? { message: this.messageJson(message) } : {}) },
      },
    ];
  }

  private create(ix: FakeInteraction, data: Json, files: UploadedFile[], flags: number): FakeMessage {
    const msg: FakeMessage = {
      id: snowflake(),
      channelId: ix.payload.channel_id,
      guildId: ix.payload.guild_id,
      content: '',
      embeds: [],
      components: [],
      attachments: [],
      flags,
      interactionId: ix.id,
      deleted: false,
      edits: [],
    };
    this.messages.set(msg.id, msg);
    this.apply(msg, data, files, undefined);
    return msg;
  }

  private apply(msg: FakeMessage, body: Json, files: UploadedFile[], via: 'webhook' | 'bot' | 'update' | undefined): void {
    if ('content' in body) msg.content = body.content ?? '';
    if ('embeds' in body) msg.embeds = body.embeds ?? [];
    if ('components' in body) msg.components = body.components ?? [];
    const listed: Json[] | undefined = Array.isArray(body.attachments) ? body.attachments : undefined;
    const added = files.map((f) => {
      const n = /^files\[(\d+)\]$/.exec(f.field)?.[1] ?? '';
      const filename = listed?.find((a) => String(a.id) === n)?.filename ?? f.name;
      const id = snowflake();
      this.uploads.push({ ...f, name: filename, messageId: msg.id });
      const url = `http://127.0.0.1:${this.port}/cdn/attachments/${id}/${encodeURIComponent(filename)}`;
      this.files.set(id, { data: f.data, contentType: f.contentType, name: filename, delayMs: 0 });
      return { id, filename, size: f.size, url, proxy_url: url, content_type: f.contentType } satisfies FakeAttachment;
    });
    const kept = listed ? msg.attachments.filter((a) => listed.some((l) => String(l.id) === a.id)) : msg.attachments;
    msg.attachments = [...kept, ...added];
    if (via) msg.edits.push({ via, at: Date.now(), content: msg.content, attachments: msg.attachments.map((a) => a.filename) });
  }

  messageJson(m: FakeMessage): Json {
    return {
      id: m.id,
      type: m.interactionId ? 20 : 0,
      channel_id: m.channelId,
      ...(m.guildId ? { guild_id: m.guildId } : {}),
      author: this.botUser,
      content: m.content,
      timestamp: new Date().toISOString(),
      edited_timestamp: m.edits.length ? new Date(m.edits[m.edits.length - 1]!.at).toISOString() : null,
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: m.attachments,
      embeds: m.embeds,
      components: m.components,
      flags: m.flags,
      pinned: false,
      webhook_id: this.applicationId,
      application_id: this.applicationId,
    };
  }
}
