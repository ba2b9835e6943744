import { describe, inject, it } from 'vitest';
import { searchSuite } from './search.suite.ts';
import { uploadSuite } from './upload.suite.ts';
import { jobsSuite } from './jobs.suite.ts';
import { rendersSuite } from './renders.suite.ts';

const url = inject('pgUrl');
if (url) {
  searchSuite('postgres', url);
  uploadSuite('postgres', url);
  jobsSuite('postgres', url);
  rendersSuite('postgres', url);
} else {
  describe.skip('bank on postgres (no server: see test/setup/postgres.ts)', () => it('skipped', () => {}));
}
