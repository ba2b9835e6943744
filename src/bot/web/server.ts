/**
 * The local web page served by `npm start`: browse and search the bank in a
 * browser, with a JSON API the page uses. The chat channel (commands, renders) is
 * added on top of this server by the bot.
 *
 * @example
 *   const server = await startWebServer({ bank, host: '127.0.0.1', port: 8080 });
 *   console.log(server.url);
 *   await server.close();
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Bank } from '../../bank/index.ts';
import { describeError, isZipbankError } from '../../errors/index.ts';
import { PAGE_HTML } from './page.ts';

export interface WebServer {
  url: string;
  close(): Promise<void>;
}

export interface WebServerOptions {
  bank: Bank;
  host: string;
  port: number;
}

type Handler = (url: URL, res: ServerResponse) => Promise<void>;

function json(res: ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(data);
}

const KINDS = ['subject', 'style', 'other'] as const;
const BASES = ['sd15', 'sd2', 'sdxl'] as const;
const SORTS = ['relevance', 'popular', 'rating', 'newest'] as const;

function pick<T extends string>(v: string | null, allowed: readonly T[]): T | undefined {
  return v && (allowed as readonly string[]).includes(v) ? (v as T) : undefined;
}

function routes(bank: Bank): Record<string, Handler> {
  return {
    '/': async (_url, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(PAGE_HTML);
    },
    '/api/health': async (_url, res) => json(res, 200, { ok: true, database: bank.driver, ...(await bank.stats()) }),
    '/api/loras': async (url, res) => {
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
      json(res, 200, page);
    },
    '/api/autocomplete': async (url, res) => {
      const p = url.searchParams;
      json(res, 200, await bank.autocomplete(p.get('prefix') ?? '', { kind: pick(p.get('kind'), KINDS), baseModel: pick(p.get('base'), BASES) }));
    },
  };
}

export async function startWebServer(options: WebServerOptions): Promise<WebServer> {
  const { bank } = options;
  const table = routes(bank);
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://local');
    if (req.method !== 'GET') return json(res, 405, { error: 'only GET is served here' });
    try {
      const exact = table[url.pathname];
      if (exact) return await exact(url, res);
      const show = /^\/api\/loras\/([a-z0-9_-]{1,32})$/.exec(url.pathname);
      if (show) return json(res, 200, await bank.show(show[1]!));
      const file = /^\/files\/(images\/[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f]{64}\.png)$/.exec(url.pathname);
      if (file) {
        const data = await bank.store.read(file[1]!).catch(() => undefined);
        if (!data) return json(res, 404, { error: 'no such image' });
        res.writeHead(200, { 'content-type': 'image/png', 'cache-control': 'public, max-age=31536000, immutable' });
        res.end(data);
        return;
      }
      json(res, 404, { error: `nothing at ${url.pathname}` });
    } catch (e) {
      if (isZipbankError(e)) return json(res, e.code === 'bank.not-found' ? 404 : 400, { error: e.message, code: e.code });
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
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
