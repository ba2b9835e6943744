/**
 * Training everything the world needs, on our engine, from a seed:
 *
 * 1. the measuring classifiers (one network, four heads: subject class, named
 *    instance or none, style, context), on renders of ALL the world (held-out
 *    instances and styles included: they must recognise what LoRAs will teach),
 *    with blur augmentation so generated (softer) images are judged fairly;
 *    held-out accuracy on fresh renders;
 * 2. the base model (`trainBaseModel`, preset 'world'): VAE, then CLIP text encoder
 *    + UNet, on the BASE split only (no named instance, no held-out style, no
 *    held-out class x context x style combination);
 * 3. the quality check: images generated from the held-out combinations' captions,
 *    judged by the classifiers (class, context and style accuracy), and a grid.
 *
 * Every stage is resumable: rendered datasets are cached, the classifier and the
 * base model checkpoint; a rerun with the same options continues. Results go to
 * `<out>/world.json`.
 *
 * @example
 *   const report = await trainWorld({ out: 'models/world', seed: 1, log: console.log });
 *   report.quality.classAccuracy;   // on held-out caption combinations
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { composeGrid, type RawImage } from '../engine/image/index.ts';
import { DiffusionPipeline } from '../engine/pipeline/text-to-image.ts';
import { createRandom } from '../engine/pipeline/random.ts';
import { budgetedTotal, decoderRefineSettings, learningRate, refineVaeDecoder, trainBaseModel, type BaseTrainReport, type PhaseReport, type TrainProgress } from '../engine/train/base-model.ts';
import { Classifier, ClassifierTrainer, argmax, type ClassifierSpec, type Labels } from '../engine/train/classifier.ts';
import { loadCheckpoint, saveCheckpoint } from '../engine/train/checkpoint.ts';
import { defaultProvider } from '../engine/runtime/index.ts';
import { CLASSES, CONTEXTS, INSTANCES, STYLES } from './catalog.ts';
import { renderScenes } from './render.ts';
import { captionOf, sampleScene, type Scene } from './scene.ts';
import { heldOutCombos, sampleBaseScene } from './split.ts';
import { deriveSeed } from './rng.ts';
import { WORLD_SAMPLING, writeWorldSamplingDefaults } from './sampling.ts';
import { stripUndefined } from '../util/objects.ts';
import { pathExists } from '../util/fs.ts';

export const WORLD_SIZE = 64;

export interface WorldTrainOptions {
  /** Model folder (diffusers layout); the classifier goes to <out>/classifier. */
  out: string;
  seed?: number;
  /** Base-model training images (rendered once, cached). Default 12000. */
  baseImages?: number;
  /** Classifier training images. Default 16000. */
  classifierImages?: number;
  classifierSteps?: number;
  classifierBatch?: number;
  /** Fresh renders to measure the classifier on. Default 1200. */
  classifierTestImages?: number;
  vae?: Parameters<typeof trainBaseModel>[0]['vae'];
  denoiser?: Parameters<typeof trainBaseModel>[0]['denoiser'];
  /** Generated samples per held-out combination for the quality check. Default 4. */
  evalPerCombo?: number;
  /** Denoising steps of the quality check. Default 20. */
  evalSteps?: number;
  /** Classifier-free guidance of the quality check. Default: the bot's for the world model (`WORLD_SAMPLING`). */
  evalGuidance?: number;
  /** Scheduler of the quality check. Default: the bot's for the world model. */
  evalScheduler?: string;
  /** Where to write the samples grid (PNG). Default <out>/samples.png. */
  gridPath?: string;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

export interface HeadAccuracy {
  [head: string]: number;
}

export interface QualityReport {
  samples: number;
  combos: number;
  classAccuracy: number;
  contextAccuracy: number;
  styleAccuracy: number;
  /** Same, per class / context / style id. */
  perClass: Record<string, number>;
  perContext: Record<string, number>;
  perStyle: Record<string, number>;
  seconds: number;
  guidance: number;
  steps: number;
  /** Absent in reports written before the scheduler was recorded (they used PNDM, the model's config). */
  scheduler?: string;
}

export interface WorldReport {
  seed: number;
  createdAt: string;
  machine: string;
  datasets: { baseImages: number; classifierImages: number; renderSeconds: number };
  classifier: {
    steps: number;
    seconds: number;
    testImages: number;
    accuracy: HeadAccuracy;
    accuracyBlurred: HeadAccuracy;
    /** Set when the classifier was retrained (`retrainClassifier`). */
    retrained?: { images: number; batch: number; channels: number[]; depth: number | number[]; provider: string; machine: string };
  };
  base: BaseTrainReport & { seconds: number; continued?: ContinuedRun[]; decoderRefined?: DecoderRun[] };
  quality?: QualityReport;
}

const HEADS = () => [
  { name: 'class', labels: CLASSES.map((c) => c.id) },
  { name: 'instance', labels: ['none', ...INSTANCES.map((i) => i.id)] },
  { name: 'style', labels: STYLES.map((s) => s.id) },
  { name: 'context', labels: CONTEXTS.map((c) => c.id) },
];

export function classifierSpec(): ClassifierSpec {
  return { size: WORLD_SIZE, heads: HEADS() };
}

/** The labels of a scene for the classifier's heads. */
export function sceneLabels(s: Scene): Labels {
  return {
    class: CLASSES.findIndex((c) => c.id === s.classId),
    instance: s.instanceId ? 1 + INSTANCES.findIndex((i) => i.id === s.instanceId) : 0,
    style: STYLES.findIndex((x) => x.id === s.styleId),
    context: CONTEXTS.findIndex((c) => c.id === s.contextId),
  };
}

/** A scene of the classifier's distribution: every style, context and class; a named instance 40% of the time. */
export function classifierScene(seed: number): Scene {
  const r = createRandom(deriveSeed(seed, 'classifier'));
  const styleId = STYLES[Math.floor(r.uniform() * STYLES.length)]!.id;
  const contextId = CONTEXTS[Math.floor(r.uniform() * CONTEXTS.length)]!.id;
  if (r.uniform() < 0.4) return sampleScene(seed, { instanceId: INSTANCES[Math.floor(r.uniform() * INSTANCES.length)]!.id, styleId, contextId, split: 'all' });
  return sampleScene(seed, { classId: CLASSES[Math.floor(r.uniform() * CLASSES.length)]!.id, styleId, contextId, split: 'base' });
}

/** Render scenes into one HWC uint8 buffer, cached in `file` (with the captions/labels in `file.json`). */
async function renderCached(file: string, scenes: () => Scene[], meta: (s: Scene, i: number) => unknown, log: (l: string) => void): Promise<{ pixels: Uint8Array; meta: unknown[]; seconds: number }> {
  const per = WORLD_SIZE * WORLD_SIZE * 3;
  if ((await pathExists(file)) && (await pathExists(`${file}.json`))) {
    const m = JSON.parse(await readFile(`${file}.json`, 'utf8')) as unknown[];
    const buf = await readFile(file);
    if (buf.byteLength === m.length * per) return { pixels: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), meta: m, seconds: 0 };
  }
  // The work folder may not exist yet (e.g. refining the classifier of a bundled model).
  await mkdir(dirname(file), { recursive: true });
  const t0 = performance.now();
  const list = scenes();
  const pixels = new Uint8Array(list.length * per);
  const chunk = 500;
  for (let k = 0; k < list.length; k += chunk) {
    const imgs = await renderScenes(list.slice(k, k + chunk), WORLD_SIZE, Math.max(2, availableParallelism()));
    imgs.forEach((im, i) => pixels.set(im.data, (k + i) * per));
    log(`  rendered ${Math.min(k + chunk, list.length)}/${list.length}`);
  }
  await writeFile(`${file}.partial`, pixels);
  await rename(`${file}.partial`, file);
  await writeFile(`${file}.json`, JSON.stringify(list.map(meta)));
  return { pixels, meta: list.map(meta), seconds: (performance.now() - t0) / 1000 };
}

/** The base split's training renders and their captions (cached in `work`). */
function baseDataset(work: string, seed: number, n: number, log: (l: string) => void) {
  return renderCached(
    join(work, `base-${seed}-${n}.u8`),
    () => Array.from({ length: n }, (_, i) => sampleBaseScene(deriveSeed(seed, `base:${i}`))),
    (s, i) => captionOf(s, { color: (deriveSeed(seed, `color:${i}`) & 1) === 1 }),
    log,
  );
}

/** The subject's box of each base-split image, [x0, y0, x1, y1] in pixels (from the scenes' layouts; nothing is rendered). */
export function baseSubjectBoxes(seed: number, n: number): Float32Array {
  const out = new Float32Array(n * 4);
  const px = WORLD_SIZE / 64;
  for (let i = 0; i < n; i++) {
    const { cx, cy, size } = sampleBaseScene(deriveSeed(seed, `base:${i}`)).layout;
    out.set([(cx - size / 2) * px, (cy - size / 2) * px, (cx + size / 2) * px, (cy + size / 2) * px], i * 4);
  }
  return out;
}

/** The classifier's training renders and their labels (cached in `work`). */
function classifierDataset(work: string, seed: number, n: number, log: (l: string) => void) {
  return renderCached(join(work, `classifier-${seed}-${n}.u8`), () => Array.from({ length: n }, (_, i) => classifierScene(deriveSeed(seed, `cls:${i}`))), (s) => sceneLabels(s), log);
}

/** [B, 3, S, S] in [-1, 1] from cached images, random flips, and a 3x3 box blur on `blurShare` of them. */
function classifierBatch(pixels: Uint8Array, idx: readonly number[], r: ReturnType<typeof createRandom>, blurShare: number): Float32Array {
  const S = WORLD_SIZE;
  const plane = S * S;
  const out = new Float32Array(idx.length * 3 * plane);
  idx.forEach((k, b) => {
    const flip = r.uniform() < 0.5;
    const blurred = r.uniform() < blurShare;
    const base = k * plane * 3;
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        const sx = flip ? S - 1 - x : x;
        for (let c = 0; c < 3; c++) {
          let v: number;
          if (blurred) {
            let sum = 0;
            let n = 0;
            for (let dy = -1; dy <= 1; dy++) {
              for (let dx = -1; dx <= 1; dx++) {
                const yy = y + dy;
                const xx = sx + dx;
                if (yy < 0 || yy >= S || xx < 0 || xx >= S) continue;
                sum += pixels[base + (yy * S + xx) * 3 + c]!;
                n++;
              }
            }
            v = sum / n;
          } else v = pixels[base + (y * S + sx) * 3 + c]!;
          out[b * 3 * plane + c * plane + y * S + x] = (v / 255) * 2 - 1;
        }
      }
    }
  });
  return out;
}

function blurImage(im: RawImage): RawImage {
  const S = im.width;
  const px = classifierBatch(im.data, [0], { uniform: () => 0.75 } as ReturnType<typeof createRandom>, 1);
  // classifierBatch flips when uniform() < 0.5; 0.75 keeps the orientation and blurs (0.75 < 1).
  const data = new Uint8Array(S * S * 3);
  for (let i = 0; i < S * S; i++) for (let c = 0; c < 3; c++) data[i * 3 + c] = Math.round(((px[c * S * S + i]! + 1) / 2) * 255);
  return { width: S, height: im.height, data };
}

/** Accuracy per head on `n` fresh renders (seeds no training draw uses), plain and blurred. */
async function heldOutAccuracy(c: Classifier, seed: number, n: number): Promise<{ accuracy: HeadAccuracy; accuracyBlurred: HeadAccuracy }> {
  const scenes = Array.from({ length: n }, (_, i) => classifierScene(deriveSeed(seed + 7919, `cls-test:${i}`)));
  const images = await renderScenes(scenes, WORLD_SIZE);
  const labels = scenes.map(sceneLabels);
  return { accuracy: await measureClassifier(c, images, labels), accuracyBlurred: await measureClassifier(c, images.map(blurImage), labels) };
}

async function measureClassifier(c: Classifier, images: RawImage[], labels: Labels[]): Promise<HeadAccuracy> {
  const preds = await c.classify(images);
  const acc: HeadAccuracy = {};
  for (const h of c.spec.heads) acc[h.name] = labels.filter((l, i) => argmax(preds[i]![h.name]!) === l[h.name]).length / labels.length;
  return acc;
}

export async function trainWorld(o: WorldTrainOptions): Promise<WorldReport> {
  const seed = o.seed ?? 1;
  const log = o.log ?? (() => {});
  const work = join(o.out, '.train');
  await mkdir(work, { recursive: true });
  const nBase = o.baseImages ?? 12000;
  const nCls = o.classifierImages ?? 16000;

  // ---- datasets ----
  log(`world: rendering ${nBase} base-split images and ${nCls} classifier images at ${WORLD_SIZE}x${WORLD_SIZE} (cached in ${work})`);
  const base = await baseDataset(work, seed, nBase, log);
  const cls = await classifierDataset(work, seed, nCls, log);
  const renderSeconds = base.seconds + cls.seconds;

  // ---- classifier ----
  const spec = classifierSpec();
  const clsDir = join(o.out, 'classifier');
  const steps = o.classifierSteps ?? 1500;
  const B = o.classifierBatch ?? 64;
  const ckpt = join(work, 'classifier.ckpt.safetensors');
  let clsSeconds = 0;
  if (!(await pathExists(join(clsDir, 'model.safetensors')))) {
    const t0 = performance.now();
    const trainer = await ClassifierTrainer.create(spec, { batch: B, lr: 2e-3, seed });
    const saved = await loadCheckpoint(ckpt);
    if (saved) trainer.restore(saved);
    const labels = cls.meta as Labels[];
    for (let s = trainer.updates; s < steps; s++) {
      if (o.signal?.aborted) {
        await saveCheckpoint(ckpt, trainer.checkpoint());
        throw o.signal.reason ?? new Error('aborted');
      }
      const r = createRandom(deriveSeed(seed, `cls-step:${s}`));
      const idx = Array.from({ length: B }, () => Math.floor(r.uniform() * nCls) % nCls);
      const res = await trainer.step(classifierBatch(cls.pixels, idx, r, 0.5), idx.map((i) => labels[i]!), learningRate(2e-3, s, steps, 50));
      if ((s + 1) % 50 === 0 || s + 1 === steps) log(`classifier ${s + 1}/${steps} loss ${res.loss.toFixed(3)} acc ${Object.entries(res.accuracy).map(([k, v]) => `${k} ${(v * 100).toFixed(0)}%`).join(' ')}`);
      if ((s + 1) % 250 === 0) await saveCheckpoint(ckpt, trainer.checkpoint());
    }
    await trainer.save(clsDir);
    await trainer.close();
    clsSeconds = (performance.now() - t0) / 1000;
  }
  const classifier = await Classifier.load(clsDir);
  const nTest = o.classifierTestImages ?? 1200;
  const { accuracy, accuracyBlurred } = await heldOutAccuracy(classifier, seed, nTest);
  log(`classifier held-out accuracy: ${fmtAcc(accuracy)}; blurred: ${fmtAcc(accuracyBlurred)}`);

  // ---- base model ----
  const t0 = performance.now();
  const baseReport = await trainBaseModel({
    out: o.out,
    preset: 'world',
    data: {
      size: WORLD_SIZE,
      count: nBase,
      pixels: base.pixels,
      captions: base.meta as string[],
      ...((o.denoiser?.subjectWeight ?? 1) !== 1 ? { subjectBoxes: baseSubjectBoxes(seed, nBase) } : {}),
    },
    seed,
    ...(o.vae ? { vae: o.vae } : {}),
    ...(o.denoiser ? { denoiser: o.denoiser } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    onProgress: progressLog(log, (p) => (p.secondsPerStep ? ` ${p.secondsPerStep.toFixed(2)} s/step, eta ${Math.round((p.etaSeconds ?? 0) / 60)} min` : '')),
  });
  const report: WorldReport = {
    seed,
    createdAt: new Date().toISOString(),
    machine: machineName(),
    datasets: { baseImages: nBase, classifierImages: nCls, renderSeconds },
    classifier: { steps, seconds: clsSeconds, testImages: nTest, accuracy, accuracyBlurred },
    base: { ...baseReport, seconds: (performance.now() - t0) / 1000 },
  };
  const previous = await readPrevious(join(o.out, 'world.json'));
  if (previous) {
    // Keep the timings of stages finished in earlier (resumed) runs.
    if (!clsSeconds) report.classifier.seconds = previous.classifier.seconds;
    if (!renderSeconds) report.datasets.renderSeconds = previous.datasets.renderSeconds;
    report.base.vae ??= previous.base.vae;
    report.base.denoiser ??= previous.base.denoiser;
  }
  if (baseReport.complete) {
    await writeWorldSamplingDefaults(o.out);
    report.quality = await checkQuality(o, classifier, seed, log);
  }
  await classifier.close();
  await writeFile(join(o.out, 'world.json'), `${JSON.stringify(report, null, 2)}\n`);
  return report;
}

async function readPrevious(path: string): Promise<WorldReport | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as WorldReport;
  } catch {
    return undefined;
  }
}

/** Read <out>/world.json, change it, write it back (nothing when the folder has none). */
async function updateWorldReport(out: string, change: (w: WorldReport) => void): Promise<void> {
  const path = join(out, 'world.json');
  const previous = await readPrevious(path);
  if (!previous) return;
  change(previous);
  await writeFile(path, `${JSON.stringify(previous, null, 2)}\n`);
}

/** A training progress callback that logs at most every 15 s (and the last step): phase, step, loss, then `detail`. */
function progressLog(log: (l: string) => void, detail: (p: TrainProgress) => string): (p: TrainProgress) => void {
  let last = 0;
  return (p) => {
    const now = performance.now();
    if (now - last < 15_000 && p.step !== p.total) return;
    last = now;
    log(`${p.phase} ${p.step}/${p.total}${p.loss !== undefined ? ` loss ${p.loss.toFixed(4)}` : ''}${detail(p)}`);
  };
}

function fmtAcc(a: HeadAccuracy): string {
  return Object.entries(a)
    .map(([k, v]) => `${k} ${(v * 100).toFixed(1)}%`)
    .join(', ');
}

/**
 * More classifier training from the saved weights (fresh batches: the step seeds
 * continue after `from`), then the held-out accuracy again; updates world.json's
 * classifier entry when it exists.
 */
export async function refineClassifier(o: { out: string; seed?: number; steps: number; from: number; lr?: number; batch?: number; classifierImages?: number; classifierTestImages?: number; log?: (l: string) => void }): Promise<{ accuracy: HeadAccuracy; accuracyBlurred: HeadAccuracy; seconds: number }> {
  const seed = o.seed ?? 1;
  const log = o.log ?? (() => {});
  const t0 = performance.now();
  const work = join(o.out, '.train');
  const nCls = o.classifierImages ?? 16000;
  const cls = await classifierDataset(work, seed, nCls, log);
  const clsDir = join(o.out, 'classifier');
  const loaded = await Classifier.load(clsDir);
  const weights = await loaded.weights();
  await loaded.close();
  const B = o.batch ?? 64;
  const lr = o.lr ?? 1e-3;
  const trainer = await ClassifierTrainer.create(loaded.spec, { batch: B, lr, seed, weights });
  const labels = cls.meta as Labels[];
  for (let s = 0; s < o.steps; s++) {
    const r = createRandom(deriveSeed(seed, `cls-step:${o.from + s}`));
    const idx = Array.from({ length: B }, () => Math.floor(r.uniform() * nCls) % nCls);
    const res = await trainer.step(classifierBatch(cls.pixels, idx, r, 0.5), idx.map((i) => labels[i]!), learningRate(lr, s, o.steps, 0));
    if ((s + 1) % 50 === 0 || s + 1 === o.steps) log(`classifier (refine) ${s + 1}/${o.steps} loss ${res.loss.toFixed(3)} acc ${Object.entries(res.accuracy).map(([k, v]) => `${k} ${(v * 100).toFixed(0)}%`).join(' ')}`);
  }
  await trainer.save(clsDir);
  await trainer.close();
  const classifier = await Classifier.load(clsDir);
  const { accuracy, accuracyBlurred } = await heldOutAccuracy(classifier, seed, o.classifierTestImages ?? 1200);
  await classifier.close();
  const seconds = (performance.now() - t0) / 1000;
  log(`classifier held-out accuracy after ${o.steps} more steps: ${fmtAcc(accuracy)}; blurred: ${fmtAcc(accuracyBlurred)}`);
  await updateWorldReport(o.out, (w) => {
    w.classifier = { ...w.classifier, steps: w.classifier.steps + o.steps, seconds: w.classifier.seconds + seconds, accuracy, accuracyBlurred };
  });
  return { accuracy, accuracyBlurred, seconds };
}

/** When, where and how a training round on a world folder ran, as world.json keeps it. */
interface RoundRecord {
  /** The seed of the round's renders and sampling (its dataset: `--seed`). Absent in records older than the field. */
  seed?: number;
  seconds: number;
  firstLoss: number;
  finalLoss: number;
  provider: string;
  machine: string;
  at: string;
}

/** One round of `continueDenoiser`, as world.json keeps it. */
export interface ContinuedRun extends RoundRecord {
  steps: number;
  batch: number;
  lr: number;
  images: number;
  /** Loss weight of the subject's region (1: plain loss). */
  subjectWeight?: number;
  /** Learning-rate multiplier of the token table. */
  tokenLrScale?: number;
}

function machineName(): string {
  return `${cpus().length} cores, ${cpus()[0]?.model ?? 'cpu'}`;
}

async function providerName(): Promise<string> {
  return (await defaultProvider()).provider;
}

/** What every extra training round on a world folder takes. */
interface TrainingRoundOptions {
  /** The world model's folder (its .train/ caches the renders and checkpoints). */
  out: string;
  seed?: number;
  /** Wall-clock budget of the training loop, seconds (the schedule ends where it runs out). */
  budgetSeconds?: number;
  batch?: number;
  lr?: number;
  log?: (l: string) => void;
  signal?: AbortSignal;
}

export interface RetrainClassifierOptions extends TrainingRoundOptions {
  /** Training renders (cached in <out>/.train). Default 16000. */
  images?: number;
  /** Steps at most. Default 1500, or 1e6 with a budget. */
  steps?: number;
  channels?: number[];
  depth?: number | number[];
  testImages?: number;
}

/**
 * A new measuring classifier from scratch (e.g. deeper, on more renders, on a GPU),
 * replacing <out>/classifier only once it is trained and measured; world.json's
 * classifier entry is updated. Quality numbers measured with the old classifier are
 * stale afterwards: run `checkQuality` again.
 */
export async function retrainClassifier(o: RetrainClassifierOptions): Promise<WorldReport['classifier']> {
  const seed = o.seed ?? 1;
  const log = o.log ?? (() => {});
  const t0 = performance.now();
  const work = join(o.out, '.train');
  await mkdir(work, { recursive: true });
  const nCls = o.images ?? 16000;
  const cls = await classifierDataset(work, seed, nCls, log);
  const base = classifierSpec();
  const spec: ClassifierSpec = { ...base, ...(o.channels ? { channels: o.channels } : {}), ...(o.depth ? { depth: o.depth } : {}) };
  const B = o.batch ?? 64;
  const lr = o.lr ?? 2e-3;
  const maxSteps = o.steps ?? (o.budgetSeconds !== undefined ? 1_000_000 : 1500);
  const warmup = 50;
  const trainer = await ClassifierTrainer.create(spec, { batch: B, lr, seed });
  const labels = cls.meta as Labels[];
  const tTrain = performance.now();
  let total = maxSteps;
  let s = 0;
  let recent: number[] = [];
  try {
    for (; s < total; s++) {
      if (o.signal?.aborted) throw o.signal.reason ?? new Error('aborted');
      const t = performance.now();
      const r = createRandom(deriveSeed(seed, `cls-retrain:${s}`));
      const idx = Array.from({ length: B }, () => Math.floor(r.uniform() * nCls) % nCls);
      const res = await trainer.step(classifierBatch(cls.pixels, idx, r, 0.5), idx.map((i) => labels[i]!), learningRate(lr, s, total, warmup));
      recent = [...recent.slice(-19), (performance.now() - t) / 1000];
      if (o.budgetSeconds !== undefined) total = budgetedTotal(maxSteps, s + 1, (performance.now() - tTrain) / 1000, recent.reduce((a, b) => a + b, 0) / recent.length, o.budgetSeconds);
      if ((s + 1) % 50 === 0 || s + 1 === total) log(`classifier ${s + 1}/${total} loss ${res.loss.toFixed(3)} acc ${Object.entries(res.accuracy).map(([k, v]) => `${k} ${(v * 100).toFixed(0)}%`).join(' ')} (${(recent.at(-1)! * 1000).toFixed(0)} ms/step)`);
    }
    const fresh = join(o.out, 'classifier.new');
    await rm(fresh, { recursive: true, force: true });
    await trainer.save(fresh);
    await trainer.close();
    const classifier = await Classifier.load(fresh);
    const nTest = o.testImages ?? 1200;
    const { accuracy, accuracyBlurred } = await heldOutAccuracy(classifier, seed, nTest);
    await classifier.close();
    const clsDir = join(o.out, 'classifier');
    await rm(`${clsDir}.old`, { recursive: true, force: true });
    if (await pathExists(clsDir)) await rename(clsDir, `${clsDir}.old`);
    await rename(fresh, clsDir);
    await rm(`${clsDir}.old`, { recursive: true, force: true });
    const entry: WorldReport['classifier'] = {
      steps: s,
      seconds: (performance.now() - t0) / 1000,
      testImages: nTest,
      accuracy,
      accuracyBlurred,
      retrained: { images: nCls, batch: B, channels: spec.channels ?? [32, 32, 64, 128, 128], depth: spec.depth ?? 1, provider: await providerName(), machine: machineName() },
    };
    log(`classifier (retrained, ${s} steps) held-out accuracy: ${fmtAcc(accuracy)}; blurred: ${fmtAcc(accuracyBlurred)}`);
    await updateWorldReport(o.out, (w) => {
      w.classifier = entry;
    });
    return entry;
  } catch (e) {
    await trainer.close().catch(() => {});
    throw e;
  }
}

export interface ContinueDenoiserOptions extends TrainingRoundOptions {
  /** Base-split renders (cached in <out>/.train). Default 12000. */
  images?: number;
  /** Steps at most. Default 1e6 with a budget, else required. */
  steps?: number;
  warmup?: number;
  /** Loss weight of the subject's box relative to the background (see trainBaseModel). Default 1. */
  subjectWeight?: number;
  /** Learning-rate multiplier of the token-embedding table. Default 1. */
  tokenLrScale?: number;
}

/**
 * More text encoder + UNet training of a trained world model, from the folder's
 * exported (EMA) weights with a fresh optimiser and its own warm-up and cosine
 * schedule, e.g. on a GPU machine within a time budget. Interrupted rounds resume
 * (checkpoints in <out>/.train/more); a finished round writes the folder's weights,
 * is appended to world.json's `base.continued`, and the next call starts a new round.
 * The quality numbers are stale afterwards: run `checkQuality` again.
 */
export async function continueDenoiser(o: ContinueDenoiserOptions): Promise<BaseTrainReport> {
  const seed = o.seed ?? 1;
  const log = o.log ?? (() => {});
  if (o.steps === undefined && o.budgetSeconds === undefined) throw new RangeError('continueDenoiser: give steps, a budget, or both');
  const t0 = performance.now();
  const work = join(o.out, '.train');
  const more = join(work, 'more');
  await mkdir(more, { recursive: true });
  const nBase = o.images ?? 12000;
  const base = await baseDataset(work, seed, nBase, log);
  const statePath = join(more, 'state.json');
  if (!(await pathExists(statePath))) {
    const vae = JSON.parse(await readFile(join(o.out, 'vae', 'config.json'), 'utf8')) as { scaling_factor?: number };
    if (typeof vae.scaling_factor !== 'number') throw new RangeError(`continueDenoiser: ${o.out}/vae/config.json has no scaling_factor: train the model first (npm run train:world)`);
    await writeFile(statePath, JSON.stringify({ vaeDone: true, scalingFactor: vae.scaling_factor }));
  }
  const d = {
    steps: o.steps ?? 1_000_000,
    batch: o.batch ?? 32,
    lr: o.lr ?? 1e-3,
    warmup: o.warmup ?? 100,
    subjectWeight: o.subjectWeight ?? 1,
    tokenLrScale: o.tokenLrScale ?? 1,
    ...(o.budgetSeconds !== undefined ? { budgetSeconds: o.budgetSeconds } : {}),
  };
  const report = await trainBaseModel({
    out: o.out,
    preset: 'world',
    workDir: more,
    data: { size: WORLD_SIZE, count: nBase, pixels: base.pixels, captions: base.meta as string[], ...(d.subjectWeight !== 1 ? { subjectBoxes: baseSubjectBoxes(seed, nBase) } : {}) },
    // Other batches than the first round's.
    seed: deriveSeed(seed, 'denoiser-more') % 2 ** 31,
    denoiser: d,
    ...(o.signal ? { signal: o.signal } : {}),
    onProgress: progressLog(log, (p) => (p.secondsPerStep ? ` ${p.secondsPerStep.toFixed(3)} s/step${p.split ? ` (batch ${p.split.batch.toFixed(3)}, graph ${p.split.graph.toFixed(3)}, update ${p.split.update.toFixed(3)})` : ''}` : '')),
  });
  if (!report.complete) return report;
  const r = report.denoiser as PhaseReport;
  const run: ContinuedRun = {
    steps: r.steps + r.resumedFrom,
    batch: d.batch,
    lr: d.lr,
    images: nBase,
    ...(d.subjectWeight !== 1 ? { subjectWeight: d.subjectWeight } : {}),
    ...(d.tokenLrScale !== 1 ? { tokenLrScale: d.tokenLrScale } : {}),
    seed,
    seconds: (performance.now() - t0) / 1000,
    firstLoss: r.firstLoss,
    finalLoss: r.finalLoss,
    provider: await providerName(),
    machine: machineName(),
    at: new Date().toISOString(),
  };
  log(`text encoder + UNet: ${run.steps} more steps of batch ${run.batch} in ${(run.seconds / 60).toFixed(1)} min on ${run.provider}; loss ${run.firstLoss.toFixed(4)} -> ${run.finalLoss.toFixed(4)}`);
  await updateWorldReport(o.out, (w) => {
    w.base.continued = [...(w.base.continued ?? []), run];
  });
  // The next call starts a new round from the weights just written.
  await rm(more, { recursive: true, force: true });
  return report;
}

export interface RefineDecoderOptions extends TrainingRoundOptions {
  /** Renders of the whole world (all classes, instances, styles, contexts; cached in <out>/.train). Default 16000. */
  images?: number;
  /** Steps at most. Default 1e6 with a budget, else required. */
  steps?: number;
  crop?: number;
}

/** One round of `refineDecoder`, as world.json keeps it. */
export interface DecoderRun extends RoundRecord {
  steps: number;
  batch: number;
  lr: number;
  crop: number;
  images: number;
}

/**
 * Sharpen a trained world model's VAE decoder with its encoder frozen (see
 * refineVaeDecoder): the UNet's latents decode to crisper subjects without retraining
 * anything else. Trains on renders of the whole world, so instances and held-out styles
 * (what LoRAs teach) decode well too. Interrupted rounds resume; a finished round is
 * appended to world.json's `base.decoderRefined`. Run `checkQuality` again afterwards.
 */
export async function refineDecoder(o: RefineDecoderOptions): Promise<PhaseReport & { complete: boolean }> {
  const seed = o.seed ?? 1;
  const log = o.log ?? (() => {});
  if (o.steps === undefined && o.budgetSeconds === undefined) throw new RangeError('refineDecoder: give steps, a budget, or both');
  const t0 = performance.now();
  const n = o.images ?? 16000;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`refineDecoder: images must be a positive whole number, got ${n}`);
  // Refuse bad settings before rendering the dataset (minutes of work).
  const checked = decoderRefineSettings('world', { ...stripUndefined({ batch: o.batch, lr: o.lr, crop: o.crop }), steps: o.steps ?? 1_000_000 }, WORLD_SIZE);
  const v = { steps: checked.steps, batch: checked.batch, lr: checked.lr, crop: checked.crop };
  const work = join(o.out, '.train');
  await mkdir(work, { recursive: true });
  const data = await classifierDataset(work, seed, n, log);
  const r = await refineVaeDecoder({
    out: o.out,
    preset: 'world',
    workDir: work,
    data: { size: WORLD_SIZE, count: n, pixels: data.pixels, captions: [] },
    seed: deriveSeed(seed, 'vae-decoder') % 2 ** 31,
    ...v,
    ...(o.budgetSeconds !== undefined ? { budgetSeconds: o.budgetSeconds } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    onProgress: progressLog(log, (p) => (p.secondsPerStep ? ` ${p.secondsPerStep.toFixed(3)} s/step` : '')),
  });
  if (!r.complete) return r;
  const run: DecoderRun = {
    steps: r.steps + r.resumedFrom,
    batch: v.batch,
    lr: v.lr,
    crop: v.crop,
    images: n,
    seed,
    seconds: (performance.now() - t0) / 1000,
    firstLoss: r.firstLoss,
    finalLoss: r.finalLoss,
    provider: await providerName(),
    machine: machineName(),
    at: new Date().toISOString(),
  };
  log(`VAE decoder: ${run.steps} more steps of batch ${run.batch} (crop ${run.crop}) in ${(run.seconds / 60).toFixed(1)} min on ${run.provider}; loss ${run.firstLoss.toFixed(4)} -> ${run.finalLoss.toFixed(4)}`);
  await updateWorldReport(o.out, (w) => {
    w.base.decoderRefined = [...(w.base.decoderRefined ?? []), run];
  });
  return r;
}

export interface ClassBreakdown {
  /** Class accuracy over all images of the split. */
  overall: number;
  perStyle: Record<string, number>;
  perClass: Record<string, number>;
}

/**
 * How well the classifier's class head does on real renders, per style and per class,
 * on the classifier's own distribution (every style, context and class) and on the
 * base split (what the bundled model learns to draw): the ceiling of the class number
 * that `checkQuality` can show.
 */
export async function classifierBreakdown(c: Classifier, seed: number, n: number): Promise<{ world: ClassBreakdown; baseSplit: ClassBreakdown }> {
  const measure = async (scenes: Scene[]): Promise<ClassBreakdown> => {
    const preds = await c.classify(await renderScenes(scenes, WORLD_SIZE));
    const right = scenes.map((s, i) => argmax(preds[i]!.class!) === sceneLabels(s).class);
    const share = (key: (s: Scene) => string) => {
      const m = new Map<string, [number, number]>();
      scenes.forEach((s, i) => {
        const e = m.get(key(s)) ?? [0, 0];
        e[0] += right[i] ? 1 : 0;
        e[1] += 1;
        m.set(key(s), e);
      });
      return Object.fromEntries([...m].sort(([a], [b]) => a.localeCompare(b)).map(([k, [a, t]]) => [k, a / t]));
    };
    return { overall: right.filter(Boolean).length / scenes.length, perStyle: share((s) => s.styleId), perClass: share((s) => s.classId) };
  };
  return {
    world: await measure(Array.from({ length: n }, (_, i) => classifierScene(deriveSeed(seed + 104729, `breakdown-world:${i}`)))),
    baseSplit: await measure(Array.from({ length: n }, (_, i) => sampleBaseScene(deriveSeed(seed + 104729, `breakdown-base:${i}`)))),
  };
}

/** Generate from every held-out combination's caption, classify, and draw a grid. */
export async function checkQuality(o: Pick<WorldTrainOptions, 'out' | 'evalPerCombo' | 'evalSteps' | 'evalGuidance' | 'evalScheduler' | 'gridPath'>, classifier: Classifier, seed: number, log: (l: string) => void): Promise<QualityReport> {
  const t0 = performance.now();
  const per = o.evalPerCombo ?? 4;
  const steps = o.evalSteps ?? WORLD_SAMPLING.steps;
  const scheduler = o.evalScheduler ?? WORLD_SAMPLING.scheduler;
  const pipe = await DiffusionPipeline.load(o.out, { device: 'cpu', log: () => {} });
  const combos = heldOutCombos();
  const guidance = o.evalGuidance ?? WORLD_SAMPLING.guidance;
  const images: RawImage[] = [];
  const truth: { classId: string; contextId: string; styleId: string }[] = [];
  try {
    for (const [k, c] of combos.entries()) {
      const prompt = captionOf(sampleScene(deriveSeed(seed, `eval:${k}`), { ...c, split: 'base' }));
      // Up to 4 images per call; the first call's seed is the same for any `per`, so more samples only add.
      for (let j = 0; j < per; j += 4) {
        const count = Math.min(4, per - j);
        const r = await pipe.generate({ prompt, steps, count, seed: deriveSeed(seed, j === 0 ? `eval-seed:${k}` : `eval-seed:${k}:${j}`) % 2 ** 31, width: WORLD_SIZE, height: WORLD_SIZE, guidance, scheduler });
        images.push(...r.images);
        for (let i = 0; i < count; i++) truth.push(c);
      }
    }
  } finally {
    await pipe.dispose();
  }
  const preds = await classifier.classify(images);
  const hit = (head: string, want: (i: number) => string) => preds.map((p, i) => classifier.label(p, head) === want(i));
  const cls = hit('class', (i) => truth[i]!.classId);
  const ctx = hit('context', (i) => truth[i]!.contextId);
  const sty = hit('style', (i) => truth[i]!.styleId);
  const rate = (xs: boolean[]) => xs.filter(Boolean).length / Math.max(1, xs.length);
  const by = (xs: boolean[], key: (i: number) => string) => {
    const m: Record<string, boolean[]> = {};
    xs.forEach((x, i) => (m[key(i)] ??= []).push(x));
    return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, rate(v)]));
  };
  const q: QualityReport = {
    samples: images.length,
    combos: combos.length,
    classAccuracy: rate(cls),
    contextAccuracy: rate(ctx),
    styleAccuracy: rate(sty),
    perClass: by(cls, (i) => truth[i]!.classId),
    perContext: by(ctx, (i) => truth[i]!.contextId),
    perStyle: by(sty, (i) => truth[i]!.styleId),
    seconds: (performance.now() - t0) / 1000,
    guidance,
    steps,
    scheduler,
  };
  log(`quality on ${q.samples} samples of ${q.combos} held-out combinations: class ${(q.classAccuracy * 100).toFixed(1)}%, context ${(q.contextAccuracy * 100).toFixed(1)}%, style ${(q.styleAccuracy * 100).toFixed(1)}%`);
  const grid = await composeGrid(images.slice(0, Math.min(images.length, 64)), { cols: 8 });
  const gridPath = o.gridPath ?? join(o.out, 'samples.png');
  await writeFile(gridPath, grid);
  return q;
}

/** Remove the training work folder (datasets, checkpoints) once a model is final. */
export async function cleanTrainingFiles(out: string): Promise<void> {
  await rm(join(out, '.train'), { recursive: true, force: true });
}
