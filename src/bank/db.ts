/**
 * Opening the bank's database: embedded PGlite (default, a folder under the data
 * dir) or PostgreSQL through `pg` (`DATABASE_URL`). Migrations from `migrations/`
 * are applied on open, on both drivers. This is the only place that imports the
 * database drivers.
 *
 * @example
 *   const bank = await openDatabase({ databaseUrl: undefined, dataDir: './data' });
 *   await bank.db.select().from(loras);
 *   await bank.close();
 */
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import type { SQL } from 'drizzle-orm';
import * as schema from './schema.ts';
import { ZipbankError } from '../errors/index.ts';

export type Schema = typeof schema;
export type Database = PgDatabase<PgQueryResultHKT, Schema>;

export interface OpenedDatabase {
  db: Database;
  driver: 'pglite' | 'postgres';
  /** Where the data lives, for logs (a folder, `memory`, or the URL without password). */
  location: string;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** PostgreSQL URL; unset = PGlite. */
  databaseUrl?: string | undefined;
  /** Folder for PGlite's data (`<dataDir>/pglite`); `memory` keeps it in memory (tests). */
  dataDir: string | 'memory';
  /** Max pool size for PostgreSQL. */
  poolSize?: number;
}

export const MIGRATIONS_FOLDER = resolve(dirname(fileURLToPath(import.meta.url)), '../../migrations');

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres';
  }
}

export async function openDatabase(options: DatabaseOptions): Promise<OpenedDatabase> {
  return options.databaseUrl ? openPostgres(options.databaseUrl, options.poolSize ?? 10) : openPglite(options.dataDir);
}

function migrationError(location: string, e: unknown): ZipbankError {
  return new ZipbankError('bank.migration-failed', { location, reason: (e as Error).message }, { cause: e });
}

async function openPostgres(url: string, max: number): Promise<OpenedDatabase> {
  const { default: pg } = await import('pg');
  const { drizzle } = await import('drizzle-orm/node-postgres');
  const { migrate } = await import('drizzle-orm/node-postgres/migrator');
  const location = redact(url);
  const pool = new pg.Pool({ connectionString: url, max });
  pool.on('error', () => {
    // An idle client lost its connection; the pool replaces it on next use.
  });
  let client: InstanceType<typeof pg.Client> & { release(): void };
  try {
    client = await pool.connect();
  } catch (e) {
    await pool.end().catch(() => {});
    throw new ZipbankError('bank.connect-failed', { location, reason: (e as Error).message }, { cause: e });
  }
  try {
    // Several processes (bot + workers) may start together: serialise migrations on one session.
    await client.query('select pg_advisory_lock(7220147)');
    try {
      await migrate(drizzle(client), { migrationsFolder: MIGRATIONS_FOLDER });
    } finally {
      await client.query('select pg_advisory_unlock(7220147)');
    }
  } catch (e) {
    client.release();
    await pool.end().catch(() => {});
    throw migrationError(location, e);
  }
  client.release();
  const db = drizzle(pool, { schema }) as unknown as Database;
  return { db, driver: 'postgres', location, close: () => pool.end() };
}

async function openPglite(dataDir: string): Promise<OpenedDatabase> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const { migrate } = await import('drizzle-orm/pglite/migrator');
  let client: InstanceType<typeof PGlite>;
  let location: string;
  try {
    if (dataDir === 'memory') {
      location = 'memory';
      client = new PGlite();
    } else {
      location = join(dataDir, 'pglite');
      await mkdir(location, { recursive: true });
      client = new PGlite(location);
    }
    await client.waitReady;
  } catch (e) {
    throw new ZipbankError('bank.connect-failed', { location: dataDir, reason: (e as Error).message }, { cause: e });
  }
  const db = drizzle(client, { schema });
  try {
    await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
  } catch (e) {
    await client.close().catch(() => {});
    throw migrationError(location, e);
  }
  return { db: db as unknown as Database, driver: 'pglite', location, close: () => client.close() };
}

/** Run raw SQL and return its rows (both drivers answer `{ rows }`). */
export async function queryRows<T>(db: Database, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as unknown as { rows: T[] };
  return result.rows;
}
