import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The shared fixtures (`../shared/fixtures` next to the checkout), overridable with ZIPBANK_FIXTURES. */
export const FIXTURES = process.env.ZIPBANK_FIXTURES ?? resolve(REPO_ROOT, '../shared/fixtures');
export const fixture = (...parts: string[]): string => resolve(FIXTURES, ...parts);
