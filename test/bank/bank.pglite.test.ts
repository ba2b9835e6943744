import { searchSuite } from './search.suite.ts';
import { uploadSuite } from './upload.suite.ts';

searchSuite('pglite', '');
uploadSuite('pglite', '');
