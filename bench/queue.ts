/**
 * npm run bench:queue (prints, asserts nothing)
 * - Queue throughput: jobs/s enqueued, and claimed + completed by workers running a
 *   no-op handler (1 worker x 1, 1 worker x 4, and on PostgreSQL 2 processes' worth of
 *   connection pools x 4).
 * - Fairness: 5 users x 20 jobs enqueued user by user, served by one worker with a
 *   fast fake engine: the order in which users are served.
 * On PGlite (in memory) and PostgreSQL (BENCH_DATABASE_URL, else a throwaway local server).
 */
import { sql } from 'drizzle-orm';
import { openDatabase, queryRows, type OpenedDatabase } from '../src/bank/db.ts';
import { handlerFor, JobQueue, Worker } from '../src/jobs/index.ts';
import { startTempPostgres } from '../test/support/postgres.ts';
import { freshPostgresDatabase } from '../test/support/bank.ts';

const JOBS = Number(process.env.BENCH_JOBS ?? 1000);
const USERS = ['u1', 'u2', 'u3', 'u4', 'u5'];
const quiet = () => {};
const noop = handlerFor({ bench: async () => null });

async function reset(db: OpenedDatabase): Promise<void> {
  await queryRows(db.db, sql`delete from jobs`);
  await queryRows(db.db, sql`delete from job_owners`);
}

async function enqueueRate(q: JobQueue, n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await q.enqueue({ kind: 'bench', owner: { platform: 'bench', userId: `u${i % 50}` } });
  return n / ((performance.now() - t0) / 1000);
}

async function throughput(label: string, dbs: OpenedDatabase[], concurrency: number): Promise<void> {
  await reset(dbs[0]!);
  const enq = await enqueueRate(new JobQueue(dbs[0]!.db), JOBS);
  const workers = dbs.map((d, i) => new Worker(new JobQueue(d.db), noop, { id: `bench-${i}`, concurrency, defaultUserCap: 100, log: quiet }));
  const t0 = performance.now();
  const done = (await Promise.all(workers.map((w) => w.drain()))).reduce((a, b) => a + b, 0);
  const s = (performance.now() - t0) / 1000;
  console.log(`  ${label.padEnd(38)} enqueue ${enq.toFixed(0).padStart(5)} jobs/s   claim+complete ${(done / s).toFixed(0).padStart(5)} jobs/s  (${done} jobs)`);
}

async function fairness(db: OpenedDatabase): Promise<void> {
  await reset(db);
  const q = new JobQueue(db.db);
  for (const u of USERS) for (let i = 0; i < 20; i++) await q.enqueue({ kind: 'bench', owner: { platform: 'bench', userId: u } });
  const order: string[] = [];
  const w = new Worker(q, handlerFor({ bench: async (job) => void order.push(job.ownerId) }), { log: quiet });
  const t0 = performance.now();
  await w.drain();
  const ms = performance.now() - t0;
  const gaps = new Map<string, number>();
  const lastAt = new Map<string, number>();
  order.forEach((u, i) => {
    const prev = lastAt.get(u);
    if (prev !== undefined) gaps.set(u, Math.max(gaps.get(u) ?? 0, i - prev));
    lastAt.set(u, i);
  });
  const firstTurn = USERS.map((u) => order.indexOf(u) + 1);
  const lastTurn = USERS.map((u) => lastAt.get(u)! + 1);
  console.log(`  fairness, 5 users x 20 jobs enqueued user by user, 1 worker (${ms.toFixed(0)} ms):`);
  for (let i = 0; i < order.length; i += 25) console.log(`    #${String(i + 1).padStart(3)}: ${order.slice(i, i + 25).map((u) => u.slice(1)).join(' ')}`);
  console.log(`    first turn of each user: ${firstTurn.join(', ')}; last job of each user at: ${lastTurn.join(', ')}; largest gap between a user's turns: ${Math.max(...gaps.values())}`);
}

async function onBackend(name: string, open: () => Promise<OpenedDatabase>, poolsForParallel: number): Promise<void> {
  const dbs = [await open()];
  for (let i = 1; i < poolsForParallel; i++) dbs.push(await open());
  try {
    console.log(`\n${name}`);
    await throughput('1 worker, concurrency 1', dbs.slice(0, 1), 1);
    await throughput('1 worker, concurrency 4', dbs.slice(0, 1), 4);
    if (dbs.length > 1) await throughput(`${dbs.length} workers (own pools), concurrency 4`, dbs, 4);
    await fairness(dbs[0]!);
  } finally {
    for (const d of dbs) await d.close();
  }
}

await onBackend('PGlite (in memory)', () => openDatabase({ dataDir: 'memory' }), 1);

const server = process.env.BENCH_DATABASE_URL ? undefined : await startTempPostgres();
try {
  const url = process.env.BENCH_DATABASE_URL ?? (await freshPostgresDatabase(server!.url));
  const first = await openDatabase({ databaseUrl: url, dataDir: 'unused', poolSize: 8 });
  const [v] = await queryRows<{ server_version: string }>(first.db, sql`show server_version`);
  let opened = 0;
  await onBackend(`PostgreSQL ${v?.server_version} (local, fsync off)`, async () => (opened++ === 0 ? first : openDatabase({ databaseUrl: url, dataDir: 'unused', poolSize: 8 })), 2);
} finally {
  server?.stop();
}
