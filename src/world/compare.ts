/**
 * The ZipLoRA paper's comparison, reproduced on the world: for subject x style pairs
 * of the seeded bank, render the same prompts and seeds with the direct merge (both
 * LoRAs at weight 1, the paper's baseline), with ZipLoRA's learned mergers, and with
 * each LoRA alone, and judge every image with the world's classifier:
 *
 * - subject fidelity: the instance head names the subject's instance (the world's DINO);
 * - style fidelity: the style head names the style (CLIP-I against the style image);
 * - text fidelity: on re-contextualisation prompts, the context head names the
 *   prompt's context (CLIP-T).
 *
 * Also ZipLoRA's retention of each concept (subject-only and style-only prompts with
 * the merged LoRA), the style-strength sweep (w_s), and per-pair zip time and peak
 * memory. Rates come with Wilson 95% intervals; ZipLoRA minus direct with a paired
 * bootstrap interval over the (pair, prompt, seed) units both methods share.
 *
 * @example
 *   const r = await compareMerges({ model: 'models/world', seeds: 'models/world/loras', pairs: 16, samples: 4 });
 *   r.methods.ziplora.subject; // { rate: 0.62, low: 0.55, high: 0.68, n: 256 }
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { composeGrid, type RawImage } from '../engine/image/index.ts';
import { pipelineLoraLayers, readLorasForModel } from '../engine/lora/apply.ts';
import type { LoraSource } from '../engine/lora/plan.ts';
import { Classifier } from '../engine/train/classifier.ts';
import { DiffusionPipeline } from '../engine/pipeline/text-to-image.ts';
import { zipLoras, ZIP_DEFAULTS } from '../engine/ziplora/zip.ts';
import { cosineMeans } from '../engine/ziplora/stats.ts';
import { getContext, getInstance, getStyle } from './catalog.ts';
import { WORLD_SAMPLING } from './sampling.ts';
import { createRandom } from '../engine/pipeline/random.ts';

export interface CompareOptions {
  model: string;
  /** Folder with the seeded LoRAs' manifest.json. */
  seeds: string;
  /** Classifier folder (default <model>/classifier). */
  classifier?: string;
  /** Subject x style pairs, taken in a round-robin over the first subjects and styles (default 16 = 4 x 4). */
  pairs?: number;
  /** Images per prompt and method (default 4). */
  samples?: number;
  /** Denoising steps and guidance (default: the world model's, `WORLD_SAMPLING`). */
  steps?: number;
  guidance?: number;
  zipSteps?: number;
  /** ZipLoRA's learning rate (default the paper's 0.01). */
  zipLearningRate?: number;
  /** Pairs the style-strength sweep runs on (default 4). */
  sweepPairs?: number;
  sweep?: readonly number[];
  seed?: number;
  log?: (line: string) => void;
  /** Write a grid image of one sample per pair and method here. */
  gridPath?: string;
}

export interface Rate {
  rate: number;
  low: number;
  high: number;
  n: number;
}

export interface MethodScores {
  subject: Rate;
  style: Rate;
  /** Only on re-contextualisation prompts. */
  context: Rate;
}

export type Method = 'direct' | 'ziplora' | 'subject-only' | 'style-only';
export const METHODS: readonly Method[] = ['direct', 'ziplora', 'subject-only', 'style-only'];

export interface PairReport {
  subject: string;
  style: string;
  zipSeconds: number;
  zipSteps: number;
  peakRssGiB: number;
  cosineBefore: number;
  cosineAfter: number;
  maxMove: number[];
  stuck: boolean;
  /** Per method: hits / images. */
  scores: Record<Method, { subject: number; style: number; context: number; n: number; nContext: number }>;
}

export interface CompareReport {
  settings: { pairs: number; samples: number; steps: number; guidance: number; zipSteps: number; prompts: string[]; scheduler: string };
  methods: Record<Method, MethodScores>;
  /** ZipLoRA minus direct, paired bootstrap 95% interval. */
  difference: { subject: Rate; style: Rate; context: Rate };
  /** The merged LoRA (ZipLoRA and direct) with prompts of one concept, against that LoRA alone. */
  retention: {
    subjectPrompt: Record<'ziplora' | 'direct' | 'subject-only', Rate>;
    stylePrompt: Record<'ziplora' | 'direct' | 'style-only', Rate>;
  };
  sweep: { styleWeight: number; subject: Rate; style: Rate; context: Rate }[];
  pairs: PairReport[];
  seconds: number;
}

interface Entry {
  name: string;
  kind: 'subject' | 'style';
  file: string;
  instancePrompt: string;
  triggerWords: string[];
  references: { file: string; prompt: string }[];
}

/** Wilson score interval (95%) of k hits in n. */
export function wilson(k: number, n: number, z = 1.96): Rate {
  if (n === 0) return { rate: NaN, low: NaN, high: NaN, n: 0 };
  const p = k / n;
  const d = 1 + (z * z) / n;
  const c = (p + (z * z) / (2 * n)) / d;
  const h = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / d;
  return { rate: p, low: Math.max(0, c - h), high: Math.min(1, c + h), n };
}

/** Mean of a - b over paired 0/1 outcomes with a bootstrap 95% interval (seeded). */
export function pairedDifference(a: readonly number[], b: readonly number[], seed = 1, rounds = 2000): Rate {
  const n = Math.min(a.length, b.length);
  if (n === 0) return { rate: NaN, low: NaN, high: NaN, n: 0 };
  const d = Array.from({ length: n }, (_, i) => a[i]! - b[i]!);
  const mean = d.reduce((s, x) => s + x, 0) / n;
  const r = createRandom(seed);
  const means: number[] = [];
  for (let k = 0; k < rounds; k++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += d[Math.floor(r.uniform() * n)]!;
    means.push(s / n);
  }
  means.sort((x, y) => x - y);
  return { rate: mean, low: means[Math.floor(0.025 * rounds)]!, high: means[Math.floor(0.975 * rounds)]!, n };
}

/** Re-contextualisation contexts of the prompts (plus one prompt without a context). */
const CONTEXTS = ['beach', 'snow', 'night'] as const;

export async function compareMerges(o: CompareOptions): Promise<CompareReport> {
  const t0 = performance.now();
  const log = o.log ?? (() => {});
  const samples = o.samples ?? 4;
  const steps = o.steps ?? WORLD_SAMPLING.steps;
  const guidance = o.guidance ?? WORLD_SAMPLING.guidance;
  const zipSteps = o.zipSteps ?? ZIP_DEFAULTS.steps;
  const sweepWeights = o.sweep ?? [0, 0.25, 0.5, 0.75, 1];
  const baseSeed = o.seed ?? 1000;
  const scheduler = WORLD_SAMPLING.scheduler;
  const manifest = JSON.parse(await readFile(join(o.seeds, 'manifest.json'), 'utf8')) as { loras: Entry[] };
  const subjects = manifest.loras.filter((e) => e.kind === 'subject');
  const styles = manifest.loras.filter((e) => e.kind === 'style');
  const want = Math.min(o.pairs ?? 16, subjects.length * styles.length);
  const side = Math.ceil(Math.sqrt(want));
  const pairs: [Entry, Entry][] = [];
  for (let i = 0; i < subjects.length && pairs.length < want; i++) {
    for (let j = 0; j < styles.length && pairs.length < want; j++) if (i < side && j < side) pairs.push([subjects[i]!, styles[j]!]);
  }
  const pipe = await DiffusionPipeline.load(o.model, { device: 'cpu', log: () => {} });
  const classifier = await Classifier.load(o.classifier ?? join(o.model, 'classifier'));
  const outcome = { subject: new Map<Method, number[]>(), style: new Map<Method, number[]>(), context: new Map<Method, number[]>() };
  for (const m of METHODS) for (const k of ['subject', 'style', 'context'] as const) outcome[k].set(m, []);
  const retSubject = new Map<string, number[]>();
  const retStyle = new Map<string, number[]>();
  const sweep = new Map<number, { subject: number[]; style: number[]; context: number[] }>(sweepWeights.map((w) => [w, { subject: [], style: [], context: [] }]));
  const reports: PairReport[] = [];
  const gridImages: RawImage[] = [];
  let prompts: string[] = [];
  try {
    for (const [pi, [sub, sty]] of pairs.entries()) {
      const instance = getInstance(sub.name);
      const style = getStyle(sty.name);
      const [subSrc, stySrc] = await readLorasForModel(pipe.model.folder, [
        { path: join(o.seeds, sub.file), weight: 1 },
        { path: join(o.seeds, sty.file), weight: 1 },
      ]);
      // Zip, with time and peak memory.
      let peak = process.memoryUsage().rss;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);
      const tz = performance.now();
      const zr = await zipLoras(pipe, {
        inputs: [
          { lora: subSrc!.lora, role: 'subject', prompt: sub.instancePrompt, images: await Promise.all(sub.references.map((r) => readFile(join(o.seeds, r.file)))) },
          { lora: stySrc!.lora, role: 'style', prompt: sty.instancePrompt, images: await Promise.all(sty.references.map((r) => readFile(join(o.seeds, r.file)))) },
        ],
        steps: zipSteps,
        ...(o.zipLearningRate !== undefined ? { learningRate: o.zipLearningRate } : {}),
        sparsity: false,
        seed: pi,
      });
      const zipSeconds = (performance.now() - tz) / 1000;
      clearInterval(sampler);
      peak = Math.max(peak, process.memoryUsage().rss);
      const zipped = zr.sources;
      const direct: LoraSource[] = [{ lora: subSrc!.lora, weight: 1 }, { lora: stySrc!.lora, weight: 1 }];
      const sets: Record<Method, LoraSource[]> = { direct, ziplora: zipped, 'subject-only': [direct[0]!], 'style-only': [direct[1]!] };
      const subjectWords = sub.triggerWords[0]!;
      const stylePhrase = sty.triggerWords[0]!;
      const pairPrompts = [`a ${subjectWords}, ${stylePhrase}`, ...CONTEXTS.map((c) => `a ${subjectWords} ${getContext(c).phrase}, ${stylePhrase}`)];
      prompts = pairPrompts.map((p) => p.replace(subjectWords, '<subject>').replace(stylePhrase, '<style>'));
      const contextOf = (k: number) => (k === 0 ? undefined : CONTEXTS[k - 1]);
      const render = async (sources: LoraSource[], prompt: string, seed: number) => {
        const layers = await pipelineLoraLayers(pipe.model, sources);
        return (await pipe.generate({ prompt, seed, steps, guidance, count: samples, scheduler, layers })).images;
      };
      const judge = async (images: RawImage[]) => (await classifier.classify(images)).map((p) => ({ instance: classifier.label(p, 'instance'), style: classifier.label(p, 'style'), context: classifier.label(p, 'context') }));
      const scores = {} as PairReport['scores'];
      for (const m of METHODS) {
        const s = { subject: 0, style: 0, context: 0, n: 0, nContext: 0 };
        for (const [k, prompt] of pairPrompts.entries()) {
          const images = await render(sets[m], prompt, baseSeed + 100 * k);
          if (k === 1) gridImages.push(images[0]!);
          for (const j of await judge(images)) {
            const hitS = j.instance === instance.id ? 1 : 0;
            const hitY = j.style === style.id ? 1 : 0;
            outcome.subject.get(m)!.push(hitS);
            outcome.style.get(m)!.push(hitY);
            s.subject += hitS;
            s.style += hitY;
            s.n++;
            const ctx = contextOf(k);
            if (ctx) {
              const hitC = j.context === ctx ? 1 : 0;
              outcome.context.get(m)!.push(hitC);
              s.context += hitC;
              s.nContext++;
            }
          }
        }
        scores[m] = s;
      }
      // Retention: one concept's prompt with the merged LoRA vs that LoRA alone.
      const subjectPrompt = `a ${subjectWords} on the beach, soft photo`;
      // Another class and context than the style's one training image (a cat on a table).
      const stylePrompt = `a house in the forest, ${stylePhrase}`;
      for (const [m, sources] of [['ziplora', zipped], ['direct', direct], ['subject-only', [direct[0]!]]] as const) {
        for (const j of await judge(await render([...sources], subjectPrompt, baseSeed + 7))) (retSubject.get(m) ?? retSubject.set(m, []).get(m)!).push(j.instance === instance.id ? 1 : 0);
      }
      for (const [m, sources] of [['ziplora', zipped], ['direct', direct], ['style-only', [direct[1]!]]] as const) {
        for (const j of await judge(await render([...sources], stylePrompt, baseSeed + 9))) (retStyle.get(m) ?? retStyle.set(m, []).get(m)!).push(j.style === style.id ? 1 : 0);
      }
      // Style-strength sweep on the first pairs (re-contextualisation prompts).
      if (pi < (o.sweepPairs ?? 4)) {
        for (const w of sweepWeights) {
          const sources = zipped.map((s, i) => (i === 1 ? { ...s, weight: w } : s));
          for (const [k, prompt] of pairPrompts.entries()) {
            if (k === 0) continue;
            const acc = sweep.get(w)!;
            for (const j of await judge(await render(sources, prompt, baseSeed + 100 * k))) {
              acc.subject.push(j.instance === instance.id ? 1 : 0);
              acc.style.push(j.style === style.id ? 1 : 0);
              acc.context.push(j.context === contextOf(k) ? 1 : 0);
            }
          }
        }
      }
      const st = zr.stats;
      const cos = cosineMeans(st);
      reports.push({
        subject: sub.name,
        style: sty.name,
        zipSeconds,
        zipSteps: st.steps,
        peakRssGiB: peak / 2 ** 30,
        cosineBefore: cos.before,
        cosineAfter: cos.after,
        maxMove: st.maxMove,
        stuck: st.stuck,
        scores,
      });
      const pct = (k: number, n: number) => `${((100 * k) / Math.max(1, n)).toFixed(0)}%`;
      log(
        `${sub.name} x ${sty.name}: zip ${zipSeconds.toFixed(1)} s (${st.steps} steps, |cos| ${cos.before.toFixed(2)} -> ${cos.after.toFixed(2)}, peak RSS ${(peak / 2 ** 30).toFixed(2)} GiB); ` +
          METHODS.map((m) => `${m} S ${pct(scores[m].subject, scores[m].n)} Y ${pct(scores[m].style, scores[m].n)} T ${pct(scores[m].context, scores[m].nContext)}`).join(' | '),
      );
    }
  } finally {
    await classifier.close();
    await pipe.dispose();
  }
  if (o.gridPath && gridImages.length > 0) {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(o.gridPath, await composeGrid(gridImages, { cols: METHODS.length }));
  }
  const rateOf = (xs: readonly number[]) => wilson(xs.reduce((a, b) => a + b, 0), xs.length);
  const methods = Object.fromEntries(
    METHODS.map((m) => [m, { subject: rateOf(outcome.subject.get(m)!), style: rateOf(outcome.style.get(m)!), context: rateOf(outcome.context.get(m)!) }]),
  ) as Record<Method, MethodScores>;
  return {
    settings: { pairs: pairs.length, samples, steps, guidance, zipSteps, prompts, scheduler },
    methods,
    difference: {
      subject: pairedDifference(outcome.subject.get('ziplora')!, outcome.subject.get('direct')!),
      style: pairedDifference(outcome.style.get('ziplora')!, outcome.style.get('direct')!),
      context: pairedDifference(outcome.context.get('ziplora')!, outcome.context.get('direct')!),
    },
    retention: {
      subjectPrompt: { ziplora: rateOf(retSubject.get('ziplora') ?? []), direct: rateOf(retSubject.get('direct') ?? []), 'subject-only': rateOf(retSubject.get('subject-only') ?? []) },
      stylePrompt: { ziplora: rateOf(retStyle.get('ziplora') ?? []), direct: rateOf(retStyle.get('direct') ?? []), 'style-only': rateOf(retStyle.get('style-only') ?? []) },
    },
    sweep: sweepWeights.map((w) => {
      const a = sweep.get(w)!;
      return { styleWeight: w, subject: rateOf(a.subject), style: rateOf(a.style), context: rateOf(a.context) };
    }),
    pairs: reports,
    seconds: (performance.now() - t0) / 1000,
  };
}
