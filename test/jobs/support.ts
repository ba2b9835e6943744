/** Helpers for the job tests: a hand-moved clock, a deferred, owners, and emptying the queue. */
import { sql } from 'drizzle-orm';
import { queryRows, type Database } from '../../src/bank/db.ts';
import type { JobOwner } from '../../src/bank/jobs.ts';
import type { Clock } from '../../src/jobs/types.ts';

export class FakeClock implements Clock {
  constructor(public ms = Date.UTC(2030, 0, 1)) {}
  now(): Date {
    return new Date(this.ms);
  }
  advance(ms: number): Date {
    this.ms += ms;
    return this.now();
  }
}

export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve(v: T): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

export const user = (id: string, communityId?: string): JobOwner => ({ platform: 'test', userId: id, ...(communityId ? { communityId } : {}) });

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function until<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 5_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}

export async function emptyQueue(db: Database): Promise<void> {
  await queryRows(db, sql`delete from jobs`);
  await queryRows(db, sql`delete from job_owners`);
  await queryRows(db, sql`delete from communities`);
}

export const quiet = () => {};
