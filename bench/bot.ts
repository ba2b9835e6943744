/**
 * npm run bench:bot (prints, asserts nothing)
 * - Acknowledgement time of the web channel: 50 simulated users, each with a live
 *   tab (an SSE stream), issuing /zip over HTTP; the time from the POST until its
 *   answer (the first reply: the render's progress message), p50/p90/p99/max.
 *   Steady: all 50 active at once, each sending a /zip after an exponential pause
 *   (mean BENCH_THINK_S, 10 s) for BENCH_SECONDS (20 s): target p99 under 200 ms
 *   (Discord's and Slack's deadline is 3 s). Burst: all 50 at the same instant,
 *   BENCH_ROUNDS (2) each back to back: the channel's capacity, and the wait of the
 *   last in line. The in-process worker runs meanwhile with a fast engine double, so
 *   progress redraws and broadcasts load the process as they would.
 * - Queue throughput and fairness: 5 users x 20 /zip commands posted user by user,
 *   then one worker with the engine double (a JobHandler that sleeps a few ms and
 *   marks the render done): the order in which users are served, jobs/s, and how long
 *   until every message showed its result in a tab.
 * On PGlite (in memory, the embedded default) and PostgreSQL (BENCH_DATABASE_URL,
 * else a throwaway local server when initdb is installed).
 *
 * Knobs: BENCH_USERS (50), BENCH_THINK_S (10), BENCH_SECONDS (20), BENCH_ROUNDS (2), BENCH_JOB_MS (5).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { openDatabase, queryRows, type OpenedDatabase } from '../src/bank/db.ts';
import { Bank } from '../src/bank/index.ts';
import { leaseOf } from '../src/bank/jobs.ts';
import { EngineRows } from '../src/bank/engine-rows.ts';
import { LocalFileStore } from '../src/bank/storage.ts';
import { loras, renders } from '../src/bank/schema.ts';
import { startWebApp, type WebApp } from '../src/bot/web/app.ts';
import type { WebMessage } from '../src/bot/web/channel.ts';
import { encodeImage } from '../src/engine/image/index.ts';
import { JobQueue, Worker, type JobHandler } from '../src/jobs/index.ts';
import { findPgBin, startTempPostgres } from '../test/support/postgres.ts';
import { freshPostgresDatabase } from '../test/support/bank.ts';

const USERS = Number(process.env.BENCH_USERS ?? 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const THINK_S = Number(process.env.BENCH_THINK_S ?? 10);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const JOB_MS = Number(process.env.BENCH_JOB_MS ?? 5);
const quiet = () => {};
const LIMITS = { concurrentPerUser: 1000, jobsPerHourPerUser: 100_000, concurrentPerCommunity: 100_000, jobsPerHourPerCommunity: 1_000_000 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The engine double: a few ms of "work", one progress report, then the render row marked done with a stored grid. */
function fastEngine(bank: Bank, gridKey: string, served?: string[]): JobHandler {
  const rows = new EngineRows(bank.db);
  return {
    kinds: ['render'],
    async run(job, ctx) {
      const r = await rows.startRender(job.renderId!, leaseOf(job));
      if (!r) throw new Error(`render ${job.renderId} not runnable`);
      await sleep(JOB_MS);
      await ctx.progress({ phase: 'rendering', step: 1, total: 1 });
      await bank.db.update(renders).set({ status: 'done', imageKeys: [gridKey], gridKey, finishedAt: new Date(), updatedAt: new Date() }).where(eq(renders.id, r.id));
      served?.push(job.ownerId);
      return { renderId: r.id };
    },
  };
}

async function seedBank(opened: OpenedDatabase): Promise<{ bank: Bank; gridKey: string }> {
  const bank = new Bank(opened.db, new LocalFileStore(mkdtempSync(join(tmpdir(), 'zipbank-bench-bot-'))), { families: ['sd15'], maxUploadBytes: 1 << 20, admins: [] }, opened);
  const lora = (name: string, kind: 'subject' | 'style', i: number) => ({
    name,
    displayName: name,
    kind,
    baseModel: 'sd15' as const,
    format: 'kohya',
    moduleCount: 1,
    uploaderPlatform: 'bench',
    uploaderId: 'bench',
    fileSha256: String(i).repeat(64).slice(0, 64),
    tensorSha256: String(i + 5).repeat(64).slice(0, 64),
    sizeBytes: 1,
    storageKey: `loras/00/00/${String(i).repeat(64).slice(0, 64)}.safetensors`,
  });
  await bank.db.insert(loras).values([lora('corgi', 'subject', 1), lora('watercolor', 'style', 2)]);
  const png = await encodeImage({ width: 64, height: 64, data: new Uint8Array(64 * 64 * 3).fill(128) });
  const { key } = await bank.store.putBuffer(png, 'renders', 'png');
  return { bank, gridKey: key };
}

async function reset(db: OpenedDatabase): Promise<void> {
  for (const q of [sql`delete from channel_messages`, sql`delete from jobs`, sql`delete from job_owners`, sql`delete from renders`, sql`delete from loras`]) await queryRows(db.db, q);
}

/** A tab: an SSE stream read to the end, counting messages; `doneIds` collects messages that reached their result. */
function tab(app: WebApp, user: string, doneIds?: Set<string>): { close(): void; events(): number } {
  const ac = new AbortController();
  let n = 0;
  void (async () => {
    try {
      const res = await fetch(new URL(`/api/channel/events?userId=${user}&userName=${user}`, app.url), { signal: ac.signal });
      const reader = res.body!.getReader();
      const dec = new TextDecoder();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += dec.decode(value, { stream: true });
        let cut: number;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          if (!block.startsWith('event: message')) continue;
          n++;
          if (doneIds) {
            const m = (JSON.parse(block.slice(block.indexOf('data: ') + 6)) as { message: WebMessage }).message;
            if (!m.live && m.renderId) doneIds.add(m.id);
          }
        }
      }
    } catch {
      // closed
    }
  })();
  return { close: () => ac.abort(), events: () => n };
}

function zipCommand(app: WebApp, user: string, k: number): Promise<{ ms: number; ok: boolean }> {
  const t0 = performance.now();
  return fetch(new URL('/api/channel/command', app.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-zipbank': '1' },
    body: JSON.stringify({ user: { id: user, name: user }, text: `/zip subject:corgi style:watercolor prompt:"a corgi surfing, take ${k}" seed:${k}` }),
  }).then(async (res) => {
    const body = (await res.json()) as { message?: WebMessage; error?: string };
    const ok = res.ok && !!body.message && !body.message.ephemeral && !!body.message.renderId;
    if (!ok) {
      const text = `${res.status} ${body.message?.text ?? body.error}`.replace(/reference [0-9a-f]{8}/, 'reference …').slice(0, 160);
      oddAnswers.set(text, (oddAnswers.get(text) ?? 0) + 1);
    }
    return { ms: performance.now() - t0, ok };
  });
}

/** Answers that were not the render's message (refusals, failures), by text: printed after each scenario. */
const oddAnswers = new Map<string, number>();
/** Distinct internal errors the server logged. */
const serverErrors = new Set<string>();
function printOdd(): void {
  for (const [text, n] of [...oddAnswers].slice(0, 3)) console.log(`      ${n} x: ${text}`);
  for (const e of [...serverErrors].slice(0, 3)) console.log(`      server log: ${e}`);
  oddAnswers.clear();
  serverErrors.clear();
}

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

/** A user's next command after an exponentially distributed pause (mean `meanMs`). */
const think = (meanMs: number, untilMs: number) => sleep(Math.min(-Math.log(1 - Math.random()) * meanMs, Math.max(0, untilMs - performance.now())));

function summary(samples: number[], refused: number): string {
  const xs = [...samples].sort((a, b) => a - b);
  const f = (x: number) => `${x.toFixed(0)} ms`;
  return `p50 ${f(pct(xs, 50))}   p90 ${f(pct(xs, 90))}   p99 ${f(pct(xs, 99))}   max ${f(xs.at(-1)!)}${refused ? `   (${refused} not answered with the render's message!)` : ''}`;
}

async function ackLatency(opened: OpenedDatabase): Promise<void> {
  await reset(opened);
  const { bank, gridKey } = await seedBank(opened);
  const app = await startWebApp({ bank, handler: fastEngine(bank, gridKey), core: { limits: LIMITS }, worker: { pollMs: 50 }, log: (l, m) => l === 'error' && serverErrors.add(m.split('\n').slice(0, 2).join(' |').replace(/^\[[0-9a-f]{8}\] /, '')) });
  const users = Array.from({ length: USERS }, (_, i) => `bench-user-${String(i).padStart(3, '0')}`);
  const tabs = users.map((u) => tab(app, u));
  await sleep(300);
  await zipCommand(app, 'bench-warmup', 0); // first queries, JIT
  let k = 1;

  // Steady: every user active at once, each sending a /zip after a pause (exponential, mean THINK_S).
  const steady: number[] = [];
  let refused = 0;
  const until = performance.now() + SECONDS * 1000;
  await Promise.all(
    users.map(async (u) => {
      for (;;) {
        await think(THINK_S * 1000, until);
        if (performance.now() > until) return;
        const s = await zipCommand(app, u, k++);
        steady.push(s.ms);
        if (!s.ok) refused++;
      }
    }),
  );
  console.log(`  acknowledgement (POST /zip until its answer, the progress message), ${USERS} users each with a live tab:`);
  console.log(`    steady, each user a /zip every ~${THINK_S} s for ${SECONDS} s (${steady.length} commands, ${(steady.length / SECONDS).toFixed(1)}/s):  ${summary(steady, refused)}   (target p99 < 200 ms)`);
  printOdd();

  // Burst: all users send at the same instant, ROUNDS times back to back.
  const burst: number[] = [];
  refused = 0;
  const t0 = performance.now();
  await Promise.all(
    users.map(async (u) => {
      for (let r = 0; r < ROUNDS; r++) {
        const s = await zipCommand(app, u, k++);
        burst.push(s.ms);
        if (!s.ok) refused++;
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  console.log(`    burst, all ${USERS} at the same instant, ${ROUNDS} each back to back (${burst.length} commands in ${wall.toFixed(1)} s = ${(burst.length / wall).toFixed(0)}/s, the channel's capacity):  ${summary(burst, refused)}`);
  printOdd();
  await sleep(500);
  console.log(`    meanwhile: the in-process worker finished ${app.worker!.finished} renders; ${tabs.reduce((a, t) => a + t.events(), 0)} message events reached the ${USERS} tabs`);
  for (const t of tabs) t.close();
  await app.close();
}

async function fairness(opened: OpenedDatabase): Promise<void> {
  await reset(opened);
  const { bank, gridKey } = await seedBank(opened);
  const app = await startWebApp({ bank, core: { limits: LIMITS }, channel: { follow: { intervalMs: 100, queueIntervalMs: 1000, pollMs: 5000 } }, log: quiet });
  const doneIds = new Set<string>();
  const watcher = tab(app, 'bench-watcher', doneIds);
  const users = ['u1', 'u2', 'u3', 'u4', 'u5'].map((u) => `bench-${u}`);
  for (const u of users) for (let k = 0; k < 20; k++) await zipCommand(app, u, k);
  const served: string[] = [];
  const worker = new Worker(new JobQueue(bank.db), fastEngine(bank, gridKey, served), { events: app.events, log: quiet, pollMs: 20 });
  const t0 = performance.now();
  const n = await worker.drain();
  const s = (performance.now() - t0) / 1000;
  while (doneIds.size < n && performance.now() - t0 < 60_000) await sleep(20);
  const shown = (performance.now() - t0) / 1000;
  const short = served.map((u) => u.replace('bench-u', ''));
  console.log(`  fairness, 5 users x 20 /zip posted user by user, then 1 worker with a ${JOB_MS} ms engine double:`);
  console.log(`    first 25 served (user): ${short.slice(0, 25).join(' ')}`);
  const firstTurn = users.map((u) => served.indexOf(u) + 1);
  console.log(`    first turn of each user: ${firstTurn.join(', ')}; ${n} jobs in ${s.toFixed(2)} s = ${(n / s).toFixed(0)} jobs/s; every result shown in a tab after ${shown.toFixed(2)} s`);
  watcher.close();
  await app.close();
}

async function onBackend(name: string, opened: OpenedDatabase): Promise<void> {
  console.log(`\n${name}`);
  try {
    await ackLatency(opened);
    await fairness(opened);
  } finally {
    await opened.close();
  }
}

console.log(`zipbank bench:bot (${USERS} users; engine double ${JOB_MS} ms per job)`);
await onBackend('PGlite (in memory, the embedded default)', await openDatabase({ dataDir: 'memory' }));

if (process.env.BENCH_DATABASE_URL || findPgBin()) {
  const server = process.env.BENCH_DATABASE_URL ? undefined : await startTempPostgres();
  try {
    const url = process.env.BENCH_DATABASE_URL ?? (await freshPostgresDatabase(server!.url));
    const opened = await openDatabase({ databaseUrl: url, dataDir: 'unused', poolSize: 10 });
    const [v] = await queryRows<{ server_version: string }>(opened.db, sql`show server_version`);
    await onBackend(`PostgreSQL ${v?.server_version} (local${server ? ', fsync off' : ''}, pool of 10)`, opened);
  } finally {
    server?.stop();
  }
} else {
  console.log('\nPostgreSQL: skipped (no BENCH_DATABASE_URL and no initdb found)');
}
