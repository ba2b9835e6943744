import { searchSuite } from './search.suite.ts';
import { uploadSuite } from './upload.suite.ts';
import { jobsSuite } from './jobs.suite.ts';
import { rendersSuite } from './renders.suite.ts';

searchSuite('pglite', '');
uploadSuite('pglite', '');
jobsSuite('pglite', '');
rendersSuite('pglite', '');
