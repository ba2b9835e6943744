/** SQL helpers shared by the job queue's files: row mapping and instants. */
import { getTableColumns, sql, type SQL } from 'drizzle-orm';
import { jobs, type Job } from './schema.ts';

const COLUMNS = Object.entries(getTableColumns(jobs));

/** Map a raw `jobs` row (snake_case, driver values: pg and PGlite differ) to the drizzle `Job` shape. */
export function toJob(raw: Record<string, unknown>): Job {
  const out: Record<string, unknown> = {};
  for (const [key, col] of COLUMNS) {
    const v = raw[col.name];
    out[key] = v === null || v === undefined ? null : col.mapFromDriverValue(v instanceof Date ? v.toISOString() : v);
  }
  return out as Job;
}

/** The instant to use: the injected one, or the database's clock. */
export function at(now: Date | undefined): SQL {
  return now ? sql`${now.toISOString()}::timestamptz` : sql`now()`;
}

export function plusMs(now: Date | undefined, ms: SQL | number): SQL {
  return sql`(${at(now)} + (${ms})::double precision * interval '1 millisecond')`;
}
