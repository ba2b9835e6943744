import { searchSuite } from './search.suite.ts';
import { uploadSuite } from './upload.suite.ts';
import { jobsSuite } from './jobs.suite.ts';

searchSuite('pglite', '');
uploadSuite('pglite', '');
jobsSuite('pglite', '');
