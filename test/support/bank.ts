/** Opening a bank on PGlite (in memory) or on a fresh database of the test Postgres server. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type OpenedDatabase } from '../../src/bank/db.ts';
import { Bank } from '../../src/bank/index.ts';
import { LocalFileStore } from '../../src/bank/storage.ts';

export type Backend = 'pglite' | 'postgres';

/** A fresh, empty database on the given Postgres server (named zbtest_<random>). */
export async function freshPostgresDatabase(serverUrl: string): Promise<string> {
  const name = `zbtest_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`create database ${name}`);
  } finally {
    await client.end();
  }
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function openTestDatabase(backend: Backend, pgUrl: string): Promise<OpenedDatabase> {
  if (backend === 'pglite') return openDatabase({ dataDir: 'memory' });
  return openDatabase({ databaseUrl: await freshPostgresDatabase(pgUrl), dataDir: 'unused', poolSize: 4 });
}

export interface TestBank {
  bank: Bank;
  storageDir: string;
  opened: OpenedDatabase;
  close(): Promise<void>;
}

export async function openTestBank(backend: Backend, pgUrl: string, admins = ['cli:local']): Promise<TestBank> {
  const opened = await openTestDatabase(backend, pgUrl);
  const storageDir = mkdtempSync(join(tmpdir(), 'zipbank-files-'));
  const bank = new Bank(opened.db, new LocalFileStore(storageDir), {
    families: ['sd15', 'sd2', 'sdxl', 'world'],
    maxUploadBytes: 64 << 20,
    admins,
  });
  return { bank, storageDir, opened, close: () => opened.close() };
}
