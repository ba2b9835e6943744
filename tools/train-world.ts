/**
 * npm run train:world [-- --out models/world --seed 1 --fresh --quick ...]
 *
 * Renders the world's datasets, trains the measuring classifiers and the bundled
 * base model (VAE, then CLIP text encoder + UNet) on this machine's CPU with our
 * engine, checks the model's quality on held-out caption combinations, and writes
 * <out>/world.json and <out>/samples.png (copied to docs/world/samples.png).
 * Interrupt it at any time (Ctrl-C saves a checkpoint): a rerun resumes. To end the
 * text encoder + UNet phase early, rerun with --denoiser-steps <steps done so far>.
 *
 *   --out <folder>            model folder (default models/world)
 *   --seed N                  default 1
 *   --fresh                   delete <out> first
 *   --quick                   a few steps of everything (checks the whole path in ~1 min)
 *   --base-images N           default 12000      --classifier-images N   default 16000
 *   --classifier-steps N      default 1500       --vae-steps N           default 1200
 *   --denoiser-steps N        default 3000       --denoiser-batch N      default 32
 *   --denoiser-lr X           default 1e-3       --subject-weight W, --token-lr-scale K
 *                             (default 1: see --more-denoiser) for the text encoder + UNet
 *   --keep-work               keep <out>/.train (datasets, checkpoints) after success
 *   --refine-classifier N     only train the saved classifier N more steps (from step
 *                             --from, default 1500; --classifier-lr, default 1e-3, cosine
 *                             to a tenth; --classifier-batch, --classifier-images) and
 *                             measure it again
 *   --check-quality           only run the quality check of a trained model again (with
 *                             the saved classifier) and update <out>/world.json
 *   --guidance G, --scheduler S, --steps N
 *                             sampling of the quality check (default: the bot's for the
 *                             world model, src/world/sampling.ts)
 *   --per-combo N             samples per held-out combination in the check (default 4)
 *   --classifier-breakdown N  only print the saved classifier's class accuracy per style
 *                             and class on N fresh renders of the world and of the base split
 *   --retrain-classifier      only train a new classifier from scratch (replaces the saved
 *                             one once measured), with --classifier-steps/-batch/-images and
 *                             --classifier-depth N or N,N,... (layers per stage, default 1),
 *                             --classifier-channels 32,64,... and --budget-minutes M
 *   --more-denoiser           only train the text encoder + UNet further from the folder's
 *                             weights (fresh optimiser, own warm-up and cosine), with
 *                             --denoiser-steps/-batch, --denoiser-lr, --base-images and
 *                             --budget-minutes M, --subject-weight W (loss weight of the
 *                             subject's box, default 1) and --token-lr-scale K (token
 *                             table learning rate x K); appended to world.json's base.continued
 *   --refine-decoder          only train the VAE decoder further, encoder frozen (so the
 *                             UNet stays valid), on renders of the whole world, with
 *                             --decoder-steps N, --decoder-lr, --decoder-batch,
 *                             --decoder-crop, --decoder-images and --budget-minutes M;
 *                             appended to world.json's base.decoderRefined
 *   --check-vae N             only measure what the VAE lets through: the classifier on N
 *                             renders per held-out combination, as rendered and after a
 *                             VAE round trip (writes <out>/vae-check.png)
 *   --budget-minutes M        wall-clock budget of those training loops
 *   --device D                auto | cuda | webgpu | cpu (sets ZIPBANK_DEVICE)
 * After --retrain-classifier, --more-denoiser or --refine-decoder, run --check-quality for new numbers.
 */
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { BUNDLED_WORLD_MODEL } from '../src/config.ts';
import { parseArgs } from '../src/cli/args.ts';
import { readFile, writeFile } from 'node:fs/promises';
import { Classifier, DEFAULT_CHANNELS } from '../src/engine/train/classifier.ts';
import { checkQuality, classifierBreakdown, cleanTrainingFiles, continueDenoiser, refineClassifier, refineDecoder, retrainClassifier, trainWorld, type WorldReport } from '../src/world/train.ts';
import { vaeRoundTrip } from '../src/world/vae-check.ts';

const { flags } = parseArgs(process.argv.slice(2), {
  out: { type: 'string' },
  seed: { type: 'number' },
  fresh: { type: 'boolean' },
  quick: { type: 'boolean' },
  'base-images': { type: 'number' },
  'classifier-images': { type: 'number' },
  'classifier-steps': { type: 'number' },
  'vae-steps': { type: 'number' },
  'denoiser-steps': { type: 'number' },
  'denoiser-batch': { type: 'number' },
  'keep-work': { type: 'boolean' },
  'refine-classifier': { type: 'number' },
  'classifier-lr': { type: 'number' },
  guidance: { type: 'number' },
  scheduler: { type: 'string' },
  steps: { type: 'number' },
  'per-combo': { type: 'number' },
  from: { type: 'number' },
  'check-quality': { type: 'boolean' },
  'classifier-breakdown': { type: 'number' },
  'retrain-classifier': { type: 'boolean' },
  'more-denoiser': { type: 'boolean' },
  'budget-minutes': { type: 'number' },
  'denoiser-lr': { type: 'number' },
  'subject-weight': { type: 'number' },
  'token-lr-scale': { type: 'number' },
  'classifier-batch': { type: 'number' },
  'classifier-depth': { type: 'string' },
  'classifier-channels': { type: 'string' },
  device: { type: 'string' },
  'refine-decoder': { type: 'boolean' },
  'decoder-steps': { type: 'number' },
  'decoder-lr': { type: 'number' },
  'decoder-batch': { type: 'number' },
  'decoder-crop': { type: 'number' },
  'decoder-images': { type: 'number' },
  'check-vae': { type: 'number' },
});
if (typeof flags.device === 'string') process.env.ZIPBANK_DEVICE = flags.device;
const out = String(flags.out ?? 'models/world');
const quick = flags.quick === true;
const num = (k: string, full: number, small: number) => (typeof flags[k] === 'number' ? (flags[k] as number) : quick ? small : full);
if (typeof flags['refine-classifier'] === 'number') {
  const t = performance.now();
  await refineClassifier({
    out,
    steps: flags['refine-classifier'],
    from: typeof flags.from === 'number' ? flags.from : 1500,
    ...(typeof flags['classifier-lr'] === 'number' ? { lr: flags['classifier-lr'] } : {}),
    ...(typeof flags['classifier-batch'] === 'number' ? { batch: flags['classifier-batch'] } : {}),
    ...(typeof flags['classifier-images'] === 'number' ? { classifierImages: flags['classifier-images'] } : {}),
    log: (l) => console.log(`[${((performance.now() - t) / 60000).toFixed(1)} min] ${l}`),
  });
  process.exit(0);
}
const budget = typeof flags['budget-minutes'] === 'number' ? { budgetSeconds: flags['budget-minutes'] * 60 } : {};
const opt = <T>(k: string, key: string): Record<string, T> => (flags[k] !== undefined ? { [key]: flags[k] as T } : {});
if (typeof flags['check-vae'] === 'number') {
  const classifier = await Classifier.load(join(out, 'classifier'));
  try {
    const r = await vaeRoundTrip({ out, classifier, seed: typeof flags.seed === 'number' ? flags.seed : 1, perCombo: flags['check-vae'], gridPath: join(out, 'vae-check.png') });
    const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
    const per = (m: Record<string, number>) => Object.entries(m).map(([k, v]) => `${k} ${(v * 100).toFixed(0)}`).join(', ');
    console.log(`${r.images} renders of the held-out combinations; round trip mean abs error ${r.meanAbsError.toFixed(2)} / 255 (${r.seconds.toFixed(0)} s)`);
    for (const [name, h] of [['as rendered', r.original], ['VAE round trip', r.roundTrip]] as const) {
      console.log(`${name}: class ${pct(h.class)}, context ${pct(h.context)}, style ${pct(h.style)}`);
      console.log(`  per class: ${per(h.perClass)}`);
      console.log(`  per style: ${per(h.perStyle)}`);
    }
    console.log(`RESULT vae-check ${JSON.stringify(r)}`);
  } finally {
    await classifier.close();
  }
  process.exit(0);
}
if (flags['refine-decoder'] === true) {
  if (flags['decoder-steps'] === undefined && flags['budget-minutes'] === undefined) {
    console.error('--refine-decoder: give --decoder-steps N, --budget-minutes M, or both');
    process.exit(2);
  }
  const t = performance.now();
  const log = (l: string) => console.log(`[${((performance.now() - t) / 60000).toFixed(1)} min] ${l}`);
  const r = await refineDecoder({ out, seed: typeof flags.seed === 'number' ? flags.seed : 1, ...budget, ...opt('decoder-steps', 'steps'), ...opt('decoder-lr', 'lr'), ...opt('decoder-batch', 'batch'), ...opt('decoder-crop', 'crop'), ...opt('decoder-images', 'images'), log });
  console.log(`RESULT decoder ${JSON.stringify(r)}`);
  process.exit(0);
}
if (flags['retrain-classifier'] === true || flags['more-denoiser'] === true) {
  const t = performance.now();
  const log = (l: string) => console.log(`[${((performance.now() - t) / 60000).toFixed(1)} min] ${l}`);
  const seed = typeof flags.seed === 'number' ? flags.seed : 1;
  if (flags['retrain-classifier'] === true) {
    const channels = typeof flags['classifier-channels'] === 'string' ? flags['classifier-channels'].split(',').map(Number) : undefined;
    if (channels && (channels.length < 2 || channels.some((c) => !Number.isInteger(c) || c < 8 || c % 8 !== 0))) {
      console.error(`--classifier-channels ${flags['classifier-channels']}: give 2 or more multiples of 8, e.g. 32,64,128,128,256`);
      process.exit(2);
    }
    const depthFlag = flags['classifier-depth'];
    const depthList = typeof depthFlag === 'string' ? depthFlag.split(',').map(Number) : undefined;
    if (depthList && depthList.some((d) => !Number.isInteger(d) || d < 1 || d > 8)) {
      console.error(`--classifier-depth ${depthFlag}: give layers per stage, 1 to 8: one number for every stage (2) or one per stage (1,1,2,2,2)`);
      process.exit(2);
    }
    const stages = (channels ?? DEFAULT_CHANNELS).length;
    if (depthList && depthList.length !== 1 && depthList.length !== stages) {
      console.error(`--classifier-depth ${depthFlag}: ${depthList.length} depths for ${stages} stages (--classifier-channels); give one number, or one per stage`);
      process.exit(2);
    }
    const depth = depthList ? (depthList.length === 1 ? depthList[0]! : depthList) : undefined;
    const r = await retrainClassifier({ out, seed, ...budget, ...opt('classifier-steps', 'steps'), ...opt('classifier-batch', 'batch'), ...opt('classifier-images', 'images'), ...(depth !== undefined ? { depth } : {}), ...(channels ? { channels } : {}), log });
    console.log(`RESULT classifier ${JSON.stringify(r)}`);
  }
  if (flags['more-denoiser'] === true) {
    if (flags['denoiser-steps'] === undefined && flags['budget-minutes'] === undefined) {
      console.error('--more-denoiser: give --denoiser-steps N, --budget-minutes M, or both');
      process.exit(2);
    }
    const r = await continueDenoiser({ out, seed, ...budget, ...opt('denoiser-steps', 'steps'), ...opt('denoiser-batch', 'batch'), ...opt('denoiser-lr', 'lr'), ...opt('base-images', 'images'), ...opt('subject-weight', 'subjectWeight'), ...opt('token-lr-scale', 'tokenLrScale'), log });
    console.log(`RESULT denoiser ${JSON.stringify(r)}`);
  }
  process.exit(0);
}
if (typeof flags['classifier-breakdown'] === 'number') {
  const classifier = await Classifier.load(join(out, 'classifier'));
  const b = await classifierBreakdown(classifier, typeof flags.seed === 'number' ? flags.seed : 1, flags['classifier-breakdown']);
  await classifier.close();
  const pct = (r: Record<string, number>) => Object.entries(r).map(([k, v]) => `${k} ${(v * 100).toFixed(0)}%`).join(', ');
  for (const [name, r] of [['whole world', b.world], ['base split', b.baseSplit]] as const) {
    console.log(`${name}: class right ${(r.overall * 100).toFixed(1)}%`);
    console.log(`  per style: ${pct(r.perStyle)}`);
    console.log(`  per class: ${pct(r.perClass)}`);
  }
  process.exit(0);
}
if (flags['check-quality'] === true) {
  const classifier = await Classifier.load(join(out, 'classifier'));
  const perCombo = flags['per-combo'];
  if (perCombo !== undefined && (typeof perCombo !== 'number' || !Number.isInteger(perCombo) || perCombo < 1 || perCombo > 64)) {
    console.error(`--per-combo ${String(perCombo)}: give the samples per held-out combination, 1 to 64 (default 4)`);
    process.exit(2);
  }
  const q = await checkQuality({ out, gridPath: join(out, 'samples.png'), ...opt<number>('guidance', 'evalGuidance'), ...opt<string>('scheduler', 'evalScheduler'), ...opt<number>('steps', 'evalSteps'), ...opt<number>('per-combo', 'evalPerCombo') }, classifier, typeof flags.seed === 'number' ? flags.seed : 1, (l) => console.log(l));
  await classifier.close();
  const reportPath = join(out, 'world.json');
  const report = JSON.parse(await readFile(reportPath, 'utf8')) as WorldReport;
  report.quality = q;
  await writeFile(reportPath, `${JSON.stringify(report, null, 2)}\n`);
  // docs/ shows the bundled model only, not a copy being tried out.
  if (resolve(out) === resolve(BUNDLED_WORLD_MODEL)) {
    await mkdir('docs/world', { recursive: true });
    await copyFile(join(out, 'samples.png'), 'docs/world/samples.png');
  }
  process.exit(0);
}
if (flags.fresh === true) await rm(out, { recursive: true, force: true });
const abort = new AbortController();
process.once('SIGINT', () => {
  console.log('\nstopping at the next step (checkpoint saved; rerun to resume)...');
  abort.abort(new Error('interrupted'));
});
const t0 = performance.now();
const stamp = () => `[${((performance.now() - t0) / 60000).toFixed(1)} min]`;
const report = await trainWorld({
  out,
  seed: typeof flags.seed === 'number' ? flags.seed : 1,
  baseImages: num('base-images', 12000, 96),
  classifierImages: num('classifier-images', 16000, 96),
  classifierSteps: num('classifier-steps', 1500, 10),
  ...(quick ? { classifierBatch: 8, classifierTestImages: 48, evalPerCombo: 1, evalSteps: 4 } : {}),
  vae: { steps: num('vae-steps', 1200, 4), ...(quick ? { batch: 2 } : {}) },
  denoiser: { steps: num('denoiser-steps', 3000, 4), batch: num('denoiser-batch', 32, 2), ...opt<number>('denoiser-lr', 'lr'), ...opt<number>('subject-weight', 'subjectWeight'), ...opt<number>('token-lr-scale', 'tokenLrScale') },
  log: (line) => console.log(`${stamp()} ${line}`),
  signal: abort.signal,
});
const min = (s: number | undefined) => (s === undefined ? 'n/a' : `${(s / 60).toFixed(1)} min`);
console.log('\nworld training report');
console.log(`  datasets rendered: ${min(report.datasets.renderSeconds)}`);
console.log(`  classifier: ${report.classifier.steps} steps in ${min(report.classifier.seconds)}; held-out accuracy ${JSON.stringify(report.classifier.accuracy)}`);
console.log(`  VAE: ${report.base.vae ? `${report.base.vae.steps} steps in ${min(report.base.vae.seconds)}, final loss ${report.base.vae.finalLoss.toFixed(4)}` : 'n/a'}`);
console.log(`  text encoder + UNet: ${report.base.denoiser ? `${report.base.denoiser.steps} steps in ${min(report.base.denoiser.seconds)}, final loss ${report.base.denoiser.finalLoss.toFixed(4)}` : 'n/a'}`);
if (report.quality) {
  const q = report.quality;
  console.log(`  quality (${q.samples} samples, ${q.combos} held-out combinations, ${q.steps} steps of ${q.scheduler ?? 'pndm'}, guidance ${q.guidance}): class ${(q.classAccuracy * 100).toFixed(1)}% (target 80), context ${(q.contextAccuracy * 100).toFixed(1)}% (target 80), style ${(q.styleAccuracy * 100).toFixed(1)}% (target 70)`);
  if (!quick && resolve(out) === resolve(BUNDLED_WORLD_MODEL)) {
    await mkdir('docs/world', { recursive: true });
    await copyFile(join(out, 'samples.png'), 'docs/world/samples.png');
  }
  if (flags['keep-work'] !== true && !quick) await cleanTrainingFiles(out);
} else {
  console.log('  not complete: rerun to resume');
}
console.log(`  total this run: ${min((performance.now() - t0) / 1000)}`);
