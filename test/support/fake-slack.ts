/**
 * A fake Slack on loopback for the Slack adapter's tests: an HTTP server that
 * implements the Web API methods the adapter calls (auth.test, chat.postMessage,
 * chat.postEphemeral, chat.update, views.open, users.info, conversations.open,
 * files.getUploadURLExternal, the upload URL it hands out, files.completeUploadExternal,
 * apps.connections.open), the response_url endpoint, and a Socket Mode WebSocket.
 * It records every call (with its HTTP status and time) and keeps the messages as
 * edited (a message with an image block whose host is `unreachable...` is refused
 * with invalid_blocks, as Slack does when it cannot fetch the image). Faults can be injected per method (a 429 with Retry-After, a 500, or a
 * Slack error; a failed call changes nothing), and answers delayed.
 *
 * Also: helpers that sign requests as Slack does (v0 HMAC-SHA256 with the signing
 * secret) and build slash-command and interaction bodies.
 *
 * @example
 *   const slack = await FakeSlack.start({ token: 'xoxb-test', users: { U1: { name: 'ann' } } });
 *   const bot = await startSlackBot({ ..., clientOptions: { slackApiUrl: slack.apiUrl } });
 *   slack.fail('chat.update', { status: 429, retryAfter: 1 });
 *   const res = await postSigned(`http://127.0.0.1:${bot.port}/slack/events`, SECRET, commandBody({ command: '/zip', text: '...' }));
 *   await slack.waitFor(() => slack.ok('files.completeUploadExternal').length === 1);
 */
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface FakeCall {
  method: string;
  params: Record<string, unknown>;
  status: number;
  /** Slack error of an ok:false answer. */
  error?: string | undefined;
  at: number;
}

export interface FakeMessage {
  channel: string;
  ts: string;
  threadTs?: string | undefined;
  text: string;
  blocks: Block[];
  /** Every state the message had, first the posted one. */
  versions: { text: string; blocks: Block[]; at: number }[];
}

export interface FakeEphemeral {
  channel: string;
  user: string;
  text: string;
  blocks: Block[];
  at: number;
}

export interface FakeFile {
  id: string;
  filename: string;
  length: number;
  bytes?: Buffer | undefined;
}

export interface FakeShare {
  channel: string;
  threadTs?: string | undefined;
  comment?: string | undefined;
  files: FakeFile[];
  at: number;
}

export interface FakeUser {
  name?: string;
  real_name?: string;
  is_admin?: boolean;
  is_owner?: boolean;
  profile?: { display_name?: string; real_name?: string };
}

export type Block = { type: string; [k: string]: unknown };
export type Fault = { status: 429; retryAfter: number } | { status: 500 } | { error: string };

interface FaultRule {
  method: string;
  fault: Fault;
  remaining: number;
  when?: ((params: Record<string, unknown>) => boolean) | undefined;
}

export interface FakeSlackOptions {
  token: string;
  appToken?: string;
  teamId?: string;
  users?: Record<string, FakeUser>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

/** Form fields, JSON-decoded where the Web API client JSON-encoded them (blocks, view, files). */
function parseForm(body: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(body)) {
    if (/^[[{]/.test(v)) {
      try {
        out[k] = JSON.parse(v);
        continue;
      } catch {
        // a plain string after all
      }
    }
    out[k] = v;
  }
  return out;
}

/** Slack fetches the images of image blocks when a message is posted; here hosts named `unreachable...` fail. */
function imagesReachable(blocks: unknown): boolean {
  return !(Array.isArray(blocks) && blocks.some((b: Block) => b.type === 'image' && /^https?:\/\/unreachable/.test(String(b.image_url))));
}

export class FakeSlack {
  readonly calls: FakeCall[] = [];
  readonly messages: FakeMessage[] = [];
  readonly ephemerals: FakeEphemeral[] = [];
  readonly views: { triggerId: string; view: Record<string, unknown>; at: number }[] = [];
  readonly responses: { id: string; body: Record<string, unknown>; at: number }[] = [];
  readonly files = new Map<string, FakeFile>();
  readonly shares: FakeShare[] = [];
  readonly users: Record<string, FakeUser>;
  readonly url: string;
  private readonly faults: FaultRule[] = [];
  private readonly delays: { method: string; ms: number; remaining: number }[] = [];
  private readonly sockets = new Set<WebSocket>();
  private readonly acks = new Map<string, (payload: unknown) => void>();
  private counter = 0;

  private constructor(
    private readonly server: Server,
    private readonly wss: WebSocketServer,
    private readonly o: FakeSlackOptions,
  ) {
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    this.users = o.users ?? {};
  }

  static async start(o: FakeSlackOptions): Promise<FakeSlack> {
    const server = createServer();
    const wss = new WebSocketServer({ noServer: true });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const fake = new FakeSlack(server, wss, o);
    server.on('request', (req, res) => void fake.handle(req, res));
    server.on('upgrade', (req, socket, head) => {
      if (!req.url?.startsWith('/socket')) return socket.destroy();
      wss.handleUpgrade(req, socket, head, (ws) => fake.connected(ws));
    });
    return fake;
  }

  /** The Web API base URL (`clientOptions.slackApiUrl`). */
  get apiUrl(): string {
    return `${this.url}/api/`;
  }

  /** A fresh response_url. */
  responseUrl(): string {
    return `${this.url}/respond/${++this.counter}`;
  }

  /** Fail the next `times` calls of `method` (`upload` for the upload URL) that `when` accepts. */
  fail(method: string, fault: Fault, o: { times?: number; when?: (params: Record<string, unknown>) => boolean } = {}): void {
    this.faults.push({ method, fault, remaining: o.times ?? 1, when: o.when });
  }

  /** Answer the next `times` calls of `method` only after `ms` (a slow Slack). */
  delay(method: string, ms: number, o: { times?: number } = {}): void {
    this.delays.push({ method, ms, remaining: o.times ?? 1 });
  }

  /** Calls of `method` (successful ones: `ok`). */
  called(method: string): FakeCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  ok(method: string): FakeCall[] {
    return this.called(method).filter((c) => c.status === 200 && !c.error);
  }

  message(channel: string, ts: string): FakeMessage | undefined {
    return this.messages.find((m) => m.channel === channel && m.ts === ts);
  }

  /** Poll until `probe` gives something truthy. */
  async waitFor<T>(probe: () => T | undefined | null | false, timeoutMs = 10_000, what = 'condition'): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = probe();
      if (v) return v;
      if (Date.now() > end) throw new Error(`fake Slack: timed out waiting for ${what}; calls: ${this.calls.map((c) => `${c.method}:${c.status}${c.error ? `:${c.error}` : ''}`).join(', ')}`);
      await sleep(10);
    }
  }

  /** Socket Mode: deliver an envelope to the connected app; resolves with the payload of its ack. */
  async sendEnvelope(type: string, payload: unknown): Promise<unknown> {
    const ws = await this.waitFor(() => [...this.sockets][0], 10_000, 'a Socket Mode connection');
    const id = randomBytes(8).toString('hex');
    const acked = new Promise<unknown>((resolve) => this.acks.set(id, resolve));
    ws.send(JSON.stringify({ envelope_id: id, type, payload, accepts_response_payload: type !== 'events_api' }));
    return acked;
  }

  get socketCount(): number {
    return this.sockets.size;
  }

  async close(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private connected(ws: WebSocket): void {
    this.sockets.add(ws);
    ws.on('close', () => this.sockets.delete(ws));
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as { envelope_id?: string; payload?: unknown };
      if (m.envelope_id) this.acks.get(m.envelope_id)?.(m.payload ?? {});
    });
    ws.send(JSON.stringify({ type: 'hello', num_connections: 1, connection_info: { app_id: 'A1' }, debug_info: { host: 'fake' } }));
  }

  private nextTs(): string {
    const n = ++this.counter;
    return `${1_700_000_000 + n}.${String(n).padStart(6, '0')}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const path = new URL(req.url ?? '/', this.url).pathname;
    const at = Date.now();
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };

    if (path.startsWith('/respond/')) {
      const body = JSON.parse(raw.toString('utf8') || '{}') as Record<string, unknown>;
      this.responses.push({ id: path.slice('/respond/'.length), body, at });
      this.calls.push({ method: 'response_url', params: body, status: 200, at });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
      return;
    }

    if (path.startsWith('/upload/')) {
      const id = path.slice('/upload/'.length);
      if (this.injected('upload', { id }, at, res)) return;
      const file = this.files.get(id);
      if (!file) {
        this.calls.push({ method: 'upload', params: { id }, status: 404, at });
        res.writeHead(404).end();
        return;
      }
      const form = await new Response(raw, { headers: { 'content-type': req.headers['content-type'] ?? '' } }).formData();
      const part = [...form.values()].find((v) => typeof v !== 'string') as Blob | undefined;
      file.bytes = part ? Buffer.from(await part.arrayBuffer()) : raw;
      this.calls.push({ method: 'upload', params: { id, bytes: file.bytes.length }, status: 200, at });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`OK - ${file.bytes.length}`);
      return;
    }

    if (!path.startsWith('/api/')) {
      res.writeHead(404).end();
      return;
    }
    const method = path.slice('/api/'.length);
    const params = parseForm(raw.toString('utf8'));
    const slow = this.delays.find((d) => d.method === method && d.remaining > 0);
    if (slow) {
      slow.remaining--;
      await sleep(slow.ms);
    }
    if (this.injected(method, params, at, res)) return;
    const auth = req.headers.authorization ?? '';
    const expected = method === 'apps.connections.open' ? this.o.appToken : this.o.token;
    const answer = (body: Record<string, unknown>) => {
      const error = body.ok === false ? String(body.error) : undefined;
      this.calls.push({ method, params, status: 200, error, at });
      json(200, body);
    };
    if (!expected || auth !== `Bearer ${expected}`) return answer({ ok: false, error: 'invalid_auth' });

    switch (method) {
      case 'auth.test':
        return answer({ ok: true, url: 'https://fake.slack.test/', team: 'Fake Team', team_id: this.o.teamId ?? 'T1', user: 'zipbank', user_id: 'UBOT', bot_id: 'BBOT' });
      case 'apps.connections.open':
        return answer({ ok: true, url: `${this.url.replace(/^http/, 'ws')}/socket` });
      case 'chat.postMessage': {
        const channel = String(params.channel ?? '');
        // Posting to a user id lands in the app's direct messages with them.
        const ch = channel.startsWith('U') ? `D${channel.slice(1)}` : channel;
        if (!ch.startsWith('C') && !ch.startsWith('D')) return answer({ ok: false, error: 'channel_not_found' });
        if (ch.startsWith('CPRIV')) return answer({ ok: false, error: 'not_in_channel' });
        if (!imagesReachable(params.blocks)) return answer({ ok: false, error: 'invalid_blocks' });
        const ts = this.nextTs();
        const text = String(params.text ?? '');
        const blocks = (params.blocks as Block[] | undefined) ?? [];
        this.messages.push({ channel: ch, ts, threadTs: params.thread_ts as string | undefined, text, blocks, versions: [{ text, blocks, at }] });
        return answer({ ok: true, channel: ch, ts, message: { text, ts } });
      }
      case 'chat.postEphemeral': {
        const channel = String(params.channel ?? '');
        if (channel.startsWith('CPRIV')) return answer({ ok: false, error: 'not_in_channel' });
        this.ephemerals.push({ channel, user: String(params.user ?? ''), text: String(params.text ?? ''), blocks: (params.blocks as Block[] | undefined) ?? [], at });
        return answer({ ok: true, message_ts: this.nextTs() });
      }
      case 'chat.update': {
        const m = this.message(String(params.channel ?? ''), String(params.ts ?? ''));
        if (!m) return answer({ ok: false, error: 'message_not_found' });
        if (!imagesReachable(params.blocks)) return answer({ ok: false, error: 'invalid_blocks' });
        m.text = String(params.text ?? '');
        m.blocks = (params.blocks as Block[] | undefined) ?? [];
        m.versions.push({ text: m.text, blocks: m.blocks, at });
        return answer({ ok: true, channel: m.channel, ts: m.ts, text: m.text });
      }
      case 'views.open': {
        const triggerId = String(params.trigger_id ?? '');
        if (!triggerId) return answer({ ok: false, error: 'invalid_trigger_id' });
        const view = params.view as Record<string, unknown>;
        this.views.push({ triggerId, view, at });
        return answer({ ok: true, view: { ...view, id: `V${++this.counter}` } });
      }
      case 'users.info': {
        const id = String(params.user ?? '');
        const u = this.users[id];
        return answer(u ? { ok: true, user: { id, ...u } } : { ok: false, error: 'user_not_found' });
      }
      case 'conversations.open':
        return answer({ ok: true, channel: { id: `D${String(params.users ?? '').replace(/^U/, '')}` } });
      case 'files.getUploadURLExternal': {
        const id = `F${++this.counter}`;
        this.files.set(id, { id, filename: String(params.filename ?? ''), length: Number(params.length ?? 0) });
        return answer({ ok: true, upload_url: `${this.url}/upload/${id}`, file_id: id });
      }
      case 'files.completeUploadExternal': {
        const list = (params.files as { id: string; title?: string }[] | undefined) ?? [];
        const files = list.map((f) => this.files.get(f.id));
        if (files.some((f) => !f?.bytes)) return answer({ ok: false, error: 'file_not_uploaded' });
        const channel = params.channel_id as string | undefined;
        if (channel) {
          this.shares.push({ channel, threadTs: params.thread_ts as string | undefined, comment: params.initial_comment as string | undefined, files: files as FakeFile[], at });
        }
        return answer({ ok: true, files: list.map((f) => ({ id: f.id, title: f.title })) });
      }
      default:
        return answer({ ok: false, error: 'unknown_method' });
    }
  }

  /** Answer with an injected fault when one applies (recorded, no effect). */
  private injected(method: string, params: Record<string, unknown>, at: number, res: ServerResponse): boolean {
    const rule = this.faults.find((f) => f.method === method && f.remaining > 0 && (!f.when || f.when(params)));
    if (!rule) return false;
    rule.remaining--;
    const f = rule.fault;
    if ('error' in f) {
      this.calls.push({ method, params, status: 200, error: f.error, at });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: false, error: f.error }));
    } else if (f.status === 429) {
      this.calls.push({ method, params, status: 429, error: 'ratelimited', at });
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': String(f.retryAfter) });
      res.end(JSON.stringify({ ok: false, error: 'ratelimited' }));
    } else {
      this.calls.push({ method, params, status: 500, at });
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('internal error');
    }
    return true;
  }
}

/** Slack's request signature headers for `body` (v0, HMAC-SHA256 with the signing secret). */
export function slackSignature(secret: string, body: string, timestamp = Math.floor(Date.now() / 1000)): Record<string, string> {
  const sig = `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  return { 'x-slack-signature': sig, 'x-slack-request-timestamp': String(timestamp) };
}

export interface BoltAnswer {
  status: number;
  text: string;
  ms: number;
}

/** POST a form body to a Bolt HTTP receiver, signed with `secret` (or with the given headers instead). */
export async function postSigned(url: string, secret: string | undefined, body: string, headers?: Record<string, string>): Promise<BoltAnswer> {
  const t0 = performance.now();
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(headers ?? (secret ? slackSignature(secret, body) : {})) },
    body,
  });
  const text = await res.text();
  return { status: res.status, text, ms: performance.now() - t0 };
}

export interface CommandFields {
  command: string;
  text: string;
  user_id?: string;
  user_name?: string;
  channel_id?: string;
  team_id?: string;
  trigger_id?: string;
  response_url?: string;
}

/** The fields of a slash command as Slack sends them. */
export function commandFields(c: CommandFields): Record<string, string> {
  return {
    token: 'deprecated-verification-token',
    team_id: c.team_id ?? 'T1',
    team_domain: 'fake',
    channel_id: c.channel_id ?? 'C1',
    channel_name: 'general',
    user_id: c.user_id ?? 'UANN',
    user_name: c.user_name ?? 'ann',
    command: c.command,
    text: c.text,
    api_app_id: 'A1',
    is_enterprise_install: 'false',
    response_url: c.response_url ?? 'http://127.0.0.1:9/unused',
    trigger_id: c.trigger_id ?? `trig-${randomBytes(4).toString('hex')}`,
  };
}

/** A slash command's form body. */
export function commandBody(c: CommandFields): string {
  return new URLSearchParams(commandFields(c)).toString();
}

/** An interaction (block_actions, view_submission, block_suggestion) as Slack posts it: `payload=<json>`. */
export function payloadBody(payload: unknown): string {
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}
