/**
 * npm run train:seeds [-- --model models/world --out models/world/loras --steps 400 --only corgi,watercolor]
 *
 * Trains the seeded bank's LoRAs on the bundled world model (six subjects from four
 * renders each, six styles from one render each; see src/world/seeds.ts) and writes
 * them with their reference images and manifest.json, which `npm start` registers in
 * an empty bank. Resumes: LoRAs already written are kept (delete one to retrain it).
 */
import { parseArgs } from '../src/cli/args.ts';
import { BUNDLED_MODEL_DIR } from '../src/engine/models/bundled.ts';
import { trainSeedLoras } from '../src/world/seeds.ts';
import { join } from 'node:path';

const { flags } = parseArgs(process.argv.slice(2), {
  model: { type: 'string' },
  out: { type: 'string' },
  steps: { type: 'number' },
  rank: { type: 'number' },
  lr: { type: 'number' },
  seed: { type: 'number' },
  only: { type: 'string' },
});
const model = (flags.model as string | undefined) ?? BUNDLED_MODEL_DIR;
const abort = new AbortController();
process.once('SIGINT', () => abort.abort(new Error('interrupted: rerun to continue')));
const t0 = performance.now();
const m = await trainSeedLoras({
  model,
  out: (flags.out as string | undefined) ?? join(model, 'loras'),
  ...(typeof flags.steps === 'number' ? { steps: flags.steps } : {}),
  ...(typeof flags.rank === 'number' ? { rank: flags.rank } : {}),
  ...(typeof flags.lr === 'number' ? { learningRate: flags.lr } : {}),
  ...(typeof flags.seed === 'number' ? { seed: flags.seed } : {}),
  ...(typeof flags.only === 'string' ? { only: flags.only.split(',').map((s) => s.trim()) } : {}),
  log: (l) => console.log(`[${((performance.now() - t0) / 60000).toFixed(1)} min] ${l}`),
  signal: abort.signal,
});
console.log(`${m.loras.length} seeded LoRAs; total ${((performance.now() - t0) / 60000).toFixed(1)} min`);
