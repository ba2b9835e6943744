/**
 * The local web server of `npm start`: the page (a chat channel and the bank as a
 * gallery), the bank browser's JSON API, and the channel's API. No framework: Node's
 * http module. Browser -> server: JSON POSTs (and raw file bodies for attachments);
 * server -> browser: Server-Sent Events (`/api/channel/events`: `hello` with the
 * history and who is online, then `message` for every new or edited public message,
 * `presence` when people come and go). Private replies only ever travel in the
 * answer to the POST of the tab that acted.
 *
 * Every POST must carry the header `x-zipbank: 1` (a cross-site form cannot set it,
 * so other sites cannot post commands through a visitor's browser). Files are served
 * from the bank's storage only for keys a message or the gallery referenced.
 *
 * @example
 *   const server = await startWebServer({ bank, host: '127.0.0.1', port: 8080, channel });
 *   console.log(server.url);
 *   await server.close();
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Bank } from '../../bank/index.ts';
import { describeError, isZipbankError, ZipbankError } from '../../errors/index.ts';
import { STORAGE_KEY, contentTypeOf, type ChannelEvent, type WebChannel, type WebUser } from './channel.ts';
import { PAGE_HTML } from './page.ts';

export interface WebServer {
  url: string;
  close(): Promise<void>;
}

export interface WebServerOptions {
  bank: Bank;
  host: string;
  port: number;
  /** The chat channel; without it only the bank browser is served. */
  channel?: WebChannel | undefined;
  /** SSE keep-alive comment interval (default 15 s). */
  keepAliveMs?: number;
}

const JSON_LIMIT = 256 * 1024;
const KINDS = ['subject', 'style', 'other'] as const;
const BASES = ['sd15', 'sd2', 'sdxl', 'world'] as const;
const SORTS = ['relevance', 'popular', 'rating', 'newest'] as const;
const USER_ID = /^[A-Za-z0-9_-]{6,64}$/;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(data);
}

function pick<T extends string>(v: string | null, allowed: readonly T[]): T | undefined {
  return v && (allowed as readonly string[]).includes(v) ? (v as T) : undefined;
}

function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > max) {
      reject(new ZipbankError('web.body-too-large', { max }));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        reject(new ZipbankError('web.body-too-large', { max }));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const body = await readBody(req, JSON_LIMIT);
  try {
    const v: unknown = JSON.parse(body.toString('utf8'));
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new ZipbankError('web.bad-request', { reason: 'the body is not a JSON object' });
}

/** The acting person: `{ id, name }` from the page (an id it keeps, a display name it asks for). */
export function userOf(v: unknown): WebUser {
  const u = (v ?? {}) as { id?: unknown; name?: unknown };
  const id = typeof u.id === 'string' ? u.id : '';
  const name = typeof u.name === 'string' ? u.name.replace(/[\p{Cc}\p{Cf}]/gu, '').trim() : '';
  if (!USER_ID.test(id)) throw new ZipbankError('web.bad-request', { reason: 'no valid user id' });
  if (name.length < 1 || [...name].length > 32) throw new ZipbankError('web.bad-user', {});
  return { id, name };
}

function str(body: Record<string, unknown>, key: string, max = 4000): string {
  const v = body[key];
  if (typeof v !== 'string' || v.length > max) throw new ZipbankError('web.bad-request', { reason: `"${key}" must be text` });
  return v;
}

function stringRecord(v: unknown): Record<string, string> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new ZipbankError('web.bad-request', { reason: '"fields" must be an object' });
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x.slice(0, 4000);
  return out;
}

export async function startWebServer(options: WebServerOptions): Promise<WebServer> {
  const { bank, channel } = options;
  const streams = new Set<ServerResponse>();
  const frames = new WeakMap<ChannelEvent, string>();
  /** Keys the gallery showed (LoRA preview images), servable without a message naming them. */
  const gallery = new Set<string>();
  const showInGallery = (keys: Iterable<string>) => {
    for (const k of keys) {
      gallery.delete(k);
      gallery.add(k);
    }
    while (gallery.size > 20_000) gallery.delete(gallery.values().next().value!);
  };

  const needChannel = (): WebChannel => {
    if (!channel) throw new HttpError(404, 'this server has no chat channel');
    return channel;
  };

  const get: Record<string, (url: URL, req: IncomingMessage, res: ServerResponse) => Promise<void>> = {
    '/': async (_url, _req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(PAGE_HTML);
    },
    '/api/health': async (_url, _req, res) => json(res, 200, { ok: true, database: bank.driver, channel: !!channel, ...(await bank.stats()) }),
    '/api/loras': async (url, _req, res) => {
      const p = url.searchParams;
      const text = p.get('q') ?? undefined;
      const page = await bank.search({
        text: text || undefined,
        kind: pick(p.get('kind'), KINDS),
        baseModel: pick(p.get('base'), BASES),
        sort: pick(p.get('sort'), SORTS),
        limit: p.get('limit') ? Number(p.get('limit')) : 24,
        cursor: p.get('cursor') ?? undefined,
        nsfw: p.get('nsfw') === '1',
      });
      const previews = await bank.previews(page.items.map((i) => i.id), 1);
      const items = page.items.map((i) => {
        const key = previews.get(i.id)?.[0];
        return { ...i, preview: key && STORAGE_KEY.test(key) ? `/files/${key}` : null };
      });
      showInGallery([...previews.values()].flat());
      json(res, 200, { ...page, items });
    },
    '/api/autocomplete': async (url, _req, res) => {
      const p = url.searchParams;
      json(res, 200, await bank.autocomplete(p.get('prefix') ?? '', { kind: pick(p.get('kind'), KINDS), baseModel: pick(p.get('base'), BASES) }));
    },
    '/api/channel/messages': async (url, _req, res) => {
      const c = needChannel();
      const before = Number(url.searchParams.get('before'));
      const limit = Number(url.searchParams.get('limit') ?? 50);
      json(res, 200, { messages: await c.history(Number.isFinite(limit) ? limit : 50, Number.isInteger(before) && before > 0 ? before : undefined) });
    },
    '/api/channel/events': async (url, req, res) => {
      const c = needChannel();
      let who: WebUser | undefined;
      try {
        who = userOf({ id: url.searchParams.get('userId'), name: url.searchParams.get('userName') });
      } catch {
        who = undefined;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      res.write('retry: 2000\n\n');
      const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      // One event goes to every tab: encode it once.
      const sendEvent = (e: ChannelEvent) => {
        let frame = frames.get(e);
        if (!frame) frames.set(e, (frame = `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`));
        res.write(frame);
      };
      // Subscribe first and hold events until the history is out, so nothing falls in between.
      let held: ChannelEvent[] | undefined = [];
      const off = c.subscribe((e) => {
        if (held) held.push(e);
        else sendEvent(e);
      }, who);
      streams.add(res);
      const ping = setInterval(() => res.write(': ping\n\n'), options.keepAliveMs ?? 15_000);
      const stop = () => {
        clearInterval(ping);
        off();
        streams.delete(res);
      };
      req.on('close', stop);
      res.on('close', stop);
      try {
        send('hello', { messages: await c.history(100), online: c.online() });
      } catch (e) {
        send('failure', { error: describeError(e) });
      }
      for (const e of held) sendEvent(e);
      held = undefined;
    },
  };

  const post: Record<string, (url: URL, req: IncomingMessage, res: ServerResponse) => Promise<void>> = {
    '/api/channel/command': async (_url, req, res) => {
      const c = needChannel();
      const body = await readJson(req);
      const ids = Array.isArray(body.attachments) ? body.attachments.filter((x): x is string => typeof x === 'string').slice(0, 4) : [];
      json(res, 200, await c.command(userOf(body.user), str(body, 'text'), ids));
    },
    '/api/channel/button': async (_url, req, res) => {
      const c = needChannel();
      const body = await readJson(req);
      const messageId = typeof body.messageId === 'string' ? body.messageId.slice(0, 64) : undefined;
      json(res, 200, await c.button(userOf(body.user), str(body, 'customId', 100), messageId));
    },
    '/api/channel/form': async (_url, req, res) => {
      const c = needChannel();
      const body = await readJson(req);
      json(res, 200, await c.form(userOf(body.user), str(body, 'customId', 100), stringRecord(body.fields)));
    },
    '/api/channel/complete': async (_url, req, res) => {
      const c = needChannel();
      const body = await readJson(req);
      const text = str(body, 'text');
      const cursor = typeof body.cursor === 'number' ? body.cursor : text.length;
      json(res, 200, await c.complete(userOf(body.user), text, cursor));
    },
    '/api/channel/attachments': async (url, req, res) => {
      const c = needChannel();
      const p = url.searchParams;
      const user = userOf({ id: p.get('userId'), name: p.get('userName') });
      const data = await readBody(req, bank.options.maxUploadBytes);
      json(res, 200, c.stage(user, p.get('filename') ?? 'upload.safetensors', data));
    },
  };

  const serveFile = async (key: string, res: ServerResponse): Promise<void> => {
    const meta = gallery.has(key) ? { contentType: contentTypeOf(key), name: undefined } : await channel?.fileFor(key);
    if (!meta) throw new HttpError(404, 'no such file');
    const data = await bank.store.read(key).catch(() => undefined);
    if (!data) throw new HttpError(404, 'no such file');
    const headers: Record<string, string> = { 'content-type': meta.contentType, 'cache-control': 'private, max-age=31536000, immutable', 'x-content-type-options': 'nosniff' };
    if (!meta.contentType.startsWith('image/')) {
      const name = (meta.name ?? key.slice(key.lastIndexOf('/') + 1)).replace(/[^\w.-]+/g, '_');
      headers['content-disposition'] = `attachment; filename="${name}"`;
    }
    res.writeHead(200, headers);
    res.end(data);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://local');
    try {
      if (req.method === 'POST') {
        const route = post[url.pathname];
        if (!route) throw new HttpError(get[url.pathname] ? 405 : 404, `nothing to POST at ${url.pathname}`);
        if (req.headers['x-zipbank'] !== '1') throw new HttpError(403, 'POSTs need the header x-zipbank: 1');
        return await route(url, req, res);
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'only GET and POST are served here');
      const exact = get[url.pathname];
      if (exact) return await exact(url, req, res);
      const show = /^\/api\/loras\/([a-z0-9_-]{1,32})$/.exec(url.pathname);
      if (show) {
        const details = await bank.show(show[1]!);
        showInGallery(details.images.map((i) => i.storageKey));
        return json(res, 200, details);
      }
      const file = /^\/files\/(.+)$/.exec(url.pathname);
      if (file) return await serveFile(file[1]!, res);
      const blob = /^\/blobs\/([A-Za-z0-9_-]{1,40})$/.exec(url.pathname);
      if (blob && channel?.blob(blob[1]!)) {
        const b = channel.blob(blob[1]!)!;
        res.writeHead(200, { 'content-type': b.contentType, 'content-disposition': `attachment; filename="${b.name.replace(/[^\w.-]+/g, '_')}"`, 'x-content-type-options': 'nosniff' });
        res.end(b.data);
        return;
      }
      throw new HttpError(404, `nothing at ${url.pathname}`);
    } catch (e) {
      if (res.headersSent) {
        res.end();
        return;
      }
      if (e instanceof HttpError) return json(res, e.status, { error: e.message });
      if (isZipbankError(e)) {
        const status = e.code === 'bank.not-found' || e.code === 'web.message-not-found' ? 404 : e.code === 'web.body-too-large' || e.code === 'web.attachment-too-large' ? 413 : 400;
        return json(res, status, { error: e.message, code: e.code });
      }
      json(res, 500, { error: describeError(e) });
    }
  };
  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}/`,
    close: () =>
      new Promise((resolve) => {
        for (const s of streams) s.end();
        streams.clear();
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
