/**
 * Everything `npm start` runs in one process, wired together: the command core, the
 * web channel (messages stored in the bank's database, renders in flight followed
 * again after a restart), the web server, and an in-process worker (concurrency 1)
 * that runs the queue's jobs with the given handler, sharing job events with the
 * channel so progress shows at once. Workers in other processes (`zipbank worker`)
 * may serve the same queue; their progress reaches the page by polling.
 *
 * @example
 *   const app = await startWebApp({ bank, host: '127.0.0.1', port: 8080, handler: noEngineHandler() });
 *   console.log(app.url);
 *   await app.close({ graceMs: 10_000 });
 */
import type { Bank } from '../../bank/index.ts';
import { ChannelStore } from '../../bank/channel.ts';
import { JobQueue } from '../../bank/jobs.ts';
import { JobEvents } from '../../jobs/events.ts';
import type { JobHandler, Log } from '../../jobs/types.ts';
import { Worker, type WorkerOptions } from '../../jobs/worker.ts';
import { BotCore, type BotCoreOptions } from '../core/index.ts';
import { WebChannel, type WebChannelOptions } from './channel.ts';
import { startWebServer, type WebServer } from './server.ts';

export interface WebAppOptions {
  bank: Bank;
  host?: string;
  /** 0: any free port. */
  port?: number;
  /** Runs queued jobs in this process; omit to leave them to `zipbank worker` processes. */
  handler?: JobHandler | undefined;
  worker?: Omit<WorkerOptions, 'events' | 'log'>;
  core?: Omit<BotCoreOptions, 'bank' | 'queue' | 'events' | 'log'>;
  /** Channel settings; `concurrency` defaults to 1 on PGlite (one query at a time), 8 on PostgreSQL. */
  channel?: Pick<WebChannelOptions, 'communityId' | 'channelId' | 'follow' | 'concurrency'>;
  log?: Log;
}

export interface WebApp {
  url: string;
  core: BotCore;
  channel: WebChannel;
  events: JobEvents;
  worker: Worker | undefined;
  /** Renders followed again at start (still running when the last process stopped). */
  resumed: number;
  /**
   * Stop: the server first (no new commands), then the worker (running jobs get
   * `graceMs` to finish, then go back to the queue), then the channel's redraws.
   * Calling again while the grace runs cuts it short.
   */
  close(opts?: { graceMs?: number }): Promise<void>;
}

export async function startWebApp(o: WebAppOptions): Promise<WebApp> {
  const log: Log = o.log ?? ((level, message) => level !== 'debug' && console.error(`[zipbank] ${level}: ${message}`));
  const events = new JobEvents((e) => log('warn', `a job event listener failed: ${String(e)}`));
  const queue = new JobQueue(o.bank.db);
  const core = new BotCore({ ...o.core, bank: o.bank, queue, events, log });
  const concurrency = o.channel?.concurrency ?? (o.bank.driver === 'pglite' ? 1 : 8);
  const channel = new WebChannel({ ...o.channel, concurrency, core, bank: o.bank, store: new ChannelStore(o.bank.db), events, log });
  const resumed = await channel.start();
  let server: WebServer;
  try {
    server = await startWebServer({ bank: o.bank, host: o.host ?? '127.0.0.1', port: o.port ?? 0, channel });
  } catch (e) {
    await channel.close();
    throw e;
  }
  const worker = o.handler ? new Worker(queue, o.handler, { concurrency: 1, ...o.worker, events, log }) : undefined;
  worker?.start();
  let closing: Promise<void> | undefined;
  return {
    url: server.url,
    core,
    channel,
    events,
    worker,
    resumed,
    close(opts = {}) {
      if (closing) {
        void worker?.stop();
        return closing;
      }
      closing = (async () => {
        await server.close();
        await worker?.stop({ graceMs: opts.graceMs ?? 0 });
        await channel.close();
      })();
      return closing;
    },
  };
}
