import { searchSuite } from './search.suite.ts';

searchSuite('pglite', '');
