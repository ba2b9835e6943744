/**
 * Vitest global setup: provides `pgUrl` to the database suites.
 * - TEST_DATABASE_URL set (as `.ci/run` does): use that server.
 * - else: start a throwaway local server if PostgreSQL's binaries are installed.
 * - else: Postgres suites are skipped with a warning; ZIPBANK_REQUIRE_PG=1 makes that an error.
 */
import type { TestProject } from 'vitest/node';
import { startTempPostgres, type TempPostgres } from '../support/postgres.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string;
  }
}

let server: TempPostgres | undefined;

export default async function setup(project: TestProject): Promise<() => void> {
  let url = process.env.TEST_DATABASE_URL ?? '';
  if (!url) {
    try {
      server = await startTempPostgres();
      url = server.url;
    } catch (e) {
      if (process.env.ZIPBANK_REQUIRE_PG === '1') throw e;
      console.warn(`\n[zipbank tests] PostgreSQL suites SKIPPED: ${(e as Error).message}\n`);
    }
  }
  project.provide('pgUrl', url);
  return () => server?.stop();
}
