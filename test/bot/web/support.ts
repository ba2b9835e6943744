/**
 * Test support for the web channel: an engine double at the job-handler boundary
 * (it moves the render row and reports progress as the engine does, and stores a
 * real PNG grid, in milliseconds), a Server-Sent Events reader for Node, and JSON
 * POST helpers that speak the channel's API.
 */
import { eq } from 'drizzle-orm';
import type { Bank } from '../../../src/bank/index.ts';
import { EngineRows } from '../../../src/bank/engine-rows.ts';
import { leaseOf } from '../../../src/bank/jobs.ts';
import { renders } from '../../../src/bank/schema.ts';
import { encodeImage } from '../../../src/engine/image/index.ts';
import { ZipbankError } from '../../../src/errors/index.ts';
import type { JobHandler } from '../../../src/jobs/types.ts';
import type { WebMessage } from '../../../src/bot/web/channel.ts';

export interface FakeEngine extends JobHandler {
  /** Render ids whose job started, in order. */
  readonly started: string[];
}

export interface FakeEngineOptions {
  zipSteps?: number;
  stepMs?: number;
  /** Awaited after zipping (a render held mid-way until the test lets it go). */
  gate?: () => Promise<void>;
}

function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A tiny solid PNG of one colour per seed. */
export async function tinyPng(seed: number, size = 8): Promise<Buffer> {
  const data = new Uint8Array(size * size * 3);
  for (let i = 0; i < data.length; i += 3) {
    data[i] = (seed * 53) & 255;
    data[i + 1] = (seed * 97) & 255;
    data[i + 2] = (seed * 193) & 255;
  }
  return encodeImage({ width: size, height: size, data });
}

/** Render jobs done by a double: zipping k/N, rendering k/steps, then a stored grid and images; the render row moves like the engine's. */
export function fakeEngine(bank: Bank, o: FakeEngineOptions = {}): FakeEngine {
  const rows = new EngineRows(bank.db);
  const started: string[] = [];
  return {
    kinds: ['render'],
    started,
    async run(job, ctx) {
      const lease = leaseOf(job);
      const render = await rows.startRender(job.renderId!, lease);
      if (!render) throw new ZipbankError('render-job.not-runnable', { id: job.renderId!, status: 'gone' });
      started.push(render.id);
      try {
        const zipSteps = o.zipSteps ?? 2;
        for (let k = 1; k <= zipSteps; k++) {
          await abortable(sleep(o.stepMs ?? 5), ctx.signal);
          await ctx.progress({ phase: 'zipping', step: k, total: zipSteps });
        }
        if (o.gate) await abortable(o.gate(), ctx.signal);
        for (let k = 1; k <= render.steps; k++) {
          await abortable(sleep(o.stepMs ?? 5), ctx.signal);
          await ctx.progress({ phase: 'rendering', step: k, total: render.steps });
        }
        const images = [];
        for (let i = 0; i < render.count; i++) images.push((await bank.store.putBuffer(await tinyPng(render.seed + i), 'renders', 'png')).key);
        const grid = (await bank.store.putBuffer(await tinyPng(render.seed + 100, 16), 'renders', 'png')).key;
        await bank.db.update(renders).set({ status: 'done', imageKeys: images, gridKey: grid, finishedAt: new Date(), updatedAt: new Date() }).where(eq(renders.id, render.id));
        return { renderId: render.id, gridKey: grid, imageKeys: images };
      } catch (e) {
        // As the engine does: a render whose job goes back to the queue is queued again.
        if (ctx.signal.aborted) await rows.settleRender(render.id, lease, 'queued', null);
        throw e;
      }
    },
  };
}

export interface SseEvent {
  event: string;
  data: unknown;
}

/** An EventSource for Node tests: collects events; `next` waits for one matching a predicate. */
export class SseReader {
  readonly events: SseEvent[] = [];
  private readonly ac = new AbortController();
  private waiters: { pred: (e: SseEvent) => boolean; resolve: (e: SseEvent) => void }[] = [];
  private cursor = 0;
  readonly ready: Promise<void>;

  constructor(url: string) {
    this.ready = this.read(url);
  }

  private async read(url: string): Promise<void> {
    const res = await fetch(url, { signal: this.ac.signal, headers: { accept: 'text/event-stream' } });
    if (!res.ok || !res.body) throw new Error(`SSE ${url}: ${res.status}`);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    const pump = async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          buf += decoder.decode(value, { stream: true });
          let cut: number;
          while ((cut = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, cut);
            buf = buf.slice(cut + 2);
            let event = 'message';
            const data: string[] = [];
            for (const line of block.split('\n')) {
              if (line.startsWith('event: ')) event = line.slice(7);
              else if (line.startsWith('data: ')) data.push(line.slice(6));
            }
            if (data.length === 0) continue;
            const e = { event, data: JSON.parse(data.join('\n')) as unknown };
            this.events.push(e);
            this.waiters = this.waiters.filter((w) => {
              if (!w.pred(e)) return true;
              w.resolve(e);
              return false;
            });
          }
        }
      } catch {
        // aborted
      }
    };
    void pump();
  }

  /** The first event (from the last one `next` returned on) matching `pred`. */
  next(pred: (e: SseEvent) => boolean, timeoutMs = 10_000): Promise<SseEvent> {
    for (let i = this.cursor; i < this.events.length; i++) {
      if (pred(this.events[i]!)) {
        this.cursor = i + 1;
        return Promise.resolve(this.events[i]!);
      }
    }
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no matching SSE event in ${timeoutMs} ms; got ${this.events.map((e) => e.event).join(', ')}`)), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (e) => {
          clearTimeout(t);
          this.cursor = this.events.length;
          resolve(e);
        },
      });
    });
  }

  /** Messages received (hello history and message events), latest version per id. */
  messages(): Map<string, WebMessage> {
    const out = new Map<string, WebMessage>();
    const put = (m: WebMessage) => {
      const old = out.get(m.id);
      if (!old || old.version < m.version) out.set(m.id, m);
    };
    for (const e of this.events) {
      if (e.event === 'hello') for (const m of (e.data as { messages: WebMessage[] }).messages) put(m);
      if (e.event === 'message') put((e.data as { message: WebMessage }).message);
    }
    return out;
  }

  close(): void {
    this.ac.abort();
  }
}

/** `message` event about message `id` that satisfies `pred`. */
export const messageEvent =
  (pred: (m: WebMessage) => boolean) =>
  (e: SseEvent): boolean =>
    e.event === 'message' && pred((e.data as { message: WebMessage }).message);

export const ANN = { id: 'ann-000001', name: 'Ann' };
export const BOB = { id: 'bob-000002', name: 'Bob' };

export interface ApiAnswer {
  status: number;
  body: { message?: WebMessage; form?: { id: string; title: string; fields: { id: string; value?: string }[] }; error?: string; code?: string } & Record<string, unknown>;
}

export async function post(base: string, path: string, body: unknown, headers: Record<string, string> = { 'x-zipbank': '1' }): Promise<ApiAnswer> {
  const res = await fetch(new URL(path, base), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as ApiAnswer['body'] };
}
