import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.ts';
import { openDatabase } from '../../../src/bank/db.ts';
import { JobQueue } from '../../../src/bank/jobs.ts';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('zipbank worker (CLI, embedded PGlite on disk)', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'zb-worker-'));
    process.env.ZIPBANK_DATA_DIR = dataDir;
    delete process.env.DATABASE_URL;
  });

  it('--once with ZIPBANK_MODELS=none fails queued render jobs with jobs.no-engine (never a fake result) and exits', async () => {
    process.env.ZIPBANK_MODELS = 'none';
    let db = await openDatabase({ dataDir });
    const job = await new JobQueue(db.db).enqueue({ kind: 'render', owner: { platform: 'web', userId: 'ann' } });
    await db.close();

    const r = await run('worker', '--once', '--concurrency', '2').finally(() => delete process.env.ZIPBANK_MODELS);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/render, zip jobs from pglite .* concurrency 2/);
    expect(r.out).toMatch(/queue idle after 1 job/);

    db = await openDatabase({ dataDir });
    const after = await new JobQueue(db.db).get(job.id);
    await db.close();
    expect(after).toMatchObject({ status: 'failed', errorCode: 'jobs.no-engine', result: null, attempts: 1 });
  });

  it('runs render jobs on the engine when ZIPBANK_MODELS names a model; stand-alone zip jobs still get jobs.no-engine', async () => {
    let db = await openDatabase({ dataDir });
    const queue = new JobQueue(db.db);
    const render = await queue.enqueue({ kind: 'render', owner: { platform: 'web', userId: 'ann' } });
    const zip = await queue.enqueue({ kind: 'zip', owner: { platform: 'web', userId: 'bob' } });
    await db.close();

    process.env.ZIPBANK_MODELS = `sd15=${join(dataDir, 'models', 'tiny')}`;
    let r: Awaited<ReturnType<typeof run>>;
    try {
      r = await run('worker', '--once', '--zip-steps', '5');
    } finally {
      delete process.env.ZIPBANK_MODELS;
    }
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/engine on auto: sd15 = .*models\/tiny/);
    expect(r.out).toMatch(/queue idle after 2 job/);

    db = await openDatabase({ dataDir });
    const q = new JobQueue(db.db);
    const [a, b] = [await q.get(render.id), await q.get(zip.id)];
    await db.close();
    // The engine ran it: a render job without a render row is refused by the engine, not by the no-engine stand-in.
    expect(a).toMatchObject({ status: 'failed', errorCode: 'render-job.no-render', attempts: 1 });
    expect(b).toMatchObject({ status: 'failed', errorCode: 'jobs.no-engine', attempts: 1 });
  });

  it('says in its usage how the engine is configured', async () => {
    const r = await run('help', 'worker');
    expect(r.out + r.err).toMatch(/ZIPBANK_MODELS/);
    expect(r.out + r.err).toMatch(/--zip-steps N/);
  });

  it.each([
    [['--zip-steps', '0'], /--zip-steps = 0 is invalid/],
    [['--concurrency', '0'], /--concurrency = 0 is invalid: expected a whole number >= 1/],
    [['--kinds', ','], /--kinds = "," is invalid/],
    [['--bogus'], /unknown option --bogus/],
  ])('refuses bad options %j', async (args, message) => {
    const r = await run('worker', ...args);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(message);
  });
});
