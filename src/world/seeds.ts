/**
 * The seeded bank: the LoRAs a new install starts with, trained on the bundled world
 * model with our engine the way the ZipLoRA paper trains its inputs. Subjects are
 * the world's named instances (held out of the base model's data) learned
 * DreamBooth-style from 4 renders with the instance prompt "a sks <class>"; styles
 * are the held-out styles, each learned from ONE render captioned like the base
 * model's data ("a cat on a table, watercolor painting").
 *
 * `trainSeedLoras` writes `<out>/<name>.safetensors`, `<out>/<name>.references/*.png`
 * and `<out>/manifest.json` (what `seedBank` in src/bank/seed.ts registers on first
 * start). It resumes: a LoRA whose file exists is kept.
 *
 * @example
 *   await trainSeedLoras({ model: 'models/world', out: 'models/world/loras', log: console.log });
 *   SEED_LORAS.map((s) => s.name); // ['corgi', 'tabby', ..., 'watercolor', ...]
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeImage } from '../engine/image/index.ts';
import { writeLora } from '../engine/lora/write.ts';
import { DiffusionPipeline } from '../engine/pipeline/text-to-image.ts';
import { LORA_TRAIN_DEFAULTS, trainLora } from '../engine/train/lora.ts';
import { getClass, getInstance, getStyle } from './catalog.ts';
import { renderScene } from './render.ts';
import { deriveSeed } from './rng.ts';
import { captionOf, sampleScene, type Scene } from './scene.ts';
import { WORLD_SIZE } from './train.ts';
import { pathExists } from '../util/fs.ts';

/**
 * Every linear and conv layer, not only the attention projections (the paper's scope):
 * the world UNet is so narrow (32-128 channels) that rank-8 attention-only LoRAs of 400
 * steps did not reproduce even their own training image, and scored 0% subject
 * fidelity in bench:merge.
 */
export const SEED_TARGETS = 'all' as const;

/** The rare token of the subject LoRAs' instance prompts ("a sks dog"). */
export const SUBJECT_TOKEN = 'sks';

export interface SeedLora {
  /** The bank name users type. */
  name: string;
  kind: 'subject' | 'style';
  /** The world's instance (subjects) or held-out style (styles). */
  worldId: string;
  displayName: string;
  description: string;
  tags: string[];
}

const subject = (instanceId: string, displayName: string, description: string): SeedLora => {
  const inst = getInstance(instanceId);
  return { name: inst.name, kind: 'subject', worldId: inst.id, displayName, description, tags: ['world', getClass(inst.classId).noun] };
};
const style = (styleId: string, displayName: string): SeedLora => {
  const s = getStyle(styleId);
  return { name: s.name, kind: 'style', worldId: s.id, displayName, description: `${s.description} (learned from one image)`, tags: ['world', 'style'] };
};

/** Six subjects and six styles: every held-out style, and six of the eight named instances (one per class). */
export const SEED_LORAS: readonly SeedLora[] = [
  subject('corgi', 'Corgi', 'an orange dog with a white chest and a red collar (learned from 4 images)'),
  subject('tabby', 'Tabby', 'the striped tabby cat (learned from 4 images)'),
  subject('polka-pot', 'Polka pot', 'the polka-dot teapot (learned from 4 images)'),
  subject('moonshot', 'Moonshot', 'the moonshot rocket (learned from 4 images)'),
  subject('bolt', 'Bolt', 'the bolt car (learned from 4 images)'),
  subject('clownfish', 'Clownfish', 'the clownfish (learned from 4 images)'),
  style('watercolor', 'Watercolor'),
  style('pixel-art', 'Pixel art'),
  style('neon', 'Neon'),
  style('stained-glass', 'Stained glass'),
  style('woodcut', 'Woodcut'),
  style('mosaic', 'Mosaic'),
];

export interface SeedReference {
  scene: Scene;
  prompt: string;
}

/** Contexts of a subject's 4 references (varied, so the LoRA learns the subject, not a background). */
const SUBJECT_CONTEXTS = ['beach', 'snow', 'forest', 'table'] as const;

/** What a seed LoRA is trained on: 4 renders of the instance in a plain style, or 1 render in the style. */
export function seedReferences(s: SeedLora, seed = 1): SeedReference[] {
  if (s.kind === 'subject') {
    return SUBJECT_CONTEXTS.map((contextId, k) => {
      const scene = sampleScene(deriveSeed(seed, `seed-ref:${s.name}:${k}`), { instanceId: s.worldId, contextId, styleId: 'photo', split: 'all' });
      return { scene, prompt: captionOf(scene, { instanceToken: SUBJECT_TOKEN }) };
    });
  }
  // One image of a generic class (a cat on a table), as the paper's single style image.
  const scene = sampleScene(deriveSeed(seed, `seed-ref:${s.name}`), { classId: 'cat', contextId: 'table', styleId: s.worldId, split: 'base' });
  return [{ scene, prompt: captionOf(scene) }];
}

/** The prompt a LoRA is trained with and zipped with: "a sks dog" / "a cat on a table, watercolor painting". */
export function seedInstancePrompt(s: SeedLora, seed = 1): string {
  if (s.kind === 'subject') return `a ${SUBJECT_TOKEN} ${getClass(getInstance(s.worldId).classId).noun}`;
  return seedReferences(s, seed)[0]!.prompt;
}

/** The words a prompt needs for the LoRA to show ("sks dog" / "watercolor painting"). */
export function seedTriggerWords(s: SeedLora): string[] {
  if (s.kind === 'subject') return [`${SUBJECT_TOKEN} ${getClass(getInstance(s.worldId).classId).noun}`];
  return [getStyle(s.worldId).phrase];
}

export interface SeedManifestEntry {
  name: string;
  kind: 'subject' | 'style';
  displayName: string;
  description: string;
  tags: string[];
  instancePrompt: string;
  triggerWords: string[];
  /** Relative to the manifest's folder. */
  file: string;
  references: { file: string; prompt: string }[];
  training: { steps: number; rank: number; learningRate: number; batch: number; targets: 'attn' | 'all'; seconds: number; firstLoss: number; finalLoss: number };
}

export interface SeedManifest {
  model: string;
  createdAt: string;
  loras: SeedManifestEntry[];
}

export interface TrainSeedOptions {
  /** The base model folder (default the bundled world model). */
  model: string;
  out: string;
  seed?: number;
  steps?: number;
  rank?: number;
  learningRate?: number;
  /** Only these names (default all). */
  only?: readonly string[];
  log?: (line: string) => void;
  signal?: AbortSignal;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/** Train (or keep) every seed LoRA and write the manifest. */
export async function trainSeedLoras(o: TrainSeedOptions): Promise<SeedManifest> {
  const log = o.log ?? (() => {});
  const seed = o.seed ?? 1;
  await mkdir(o.out, { recursive: true });
  const manifestPath = join(o.out, 'manifest.json');
  const old = (await pathExists(manifestPath)) ? (JSON.parse(await readFile(manifestPath, 'utf8')) as SeedManifest) : undefined;
  const entries = new Map((old?.loras ?? []).map((e) => [e.name, e]));
  const pipe = await DiffusionPipeline.load(o.model, { device: 'cpu', log: () => {} });
  try {
    for (const s of SEED_LORAS) {
      if (o.only && !o.only.includes(s.name)) continue;
      const file = `${s.name}.safetensors`;
      if (entries.has(s.name) && (await pathExists(join(o.out, file)))) {
        log(`${s.name}: kept (delete ${file} to train it again)`);
        continue;
      }
      const refs = seedReferences(s, seed);
      const refDir = join(o.out, `${s.name}.references`);
      await rm(refDir, { recursive: true, force: true });
      await mkdir(refDir, { recursive: true });
      const pngs: Buffer[] = [];
      const references: SeedManifestEntry['references'] = [];
      for (const [k, r] of refs.entries()) {
        const png = await encodeImage(await renderScene(r.scene, WORLD_SIZE));
        const name = `${k + 1}.png`;
        await writeFile(join(refDir, name), png);
        pngs.push(png);
        references.push({ file: `${s.name}.references/${name}`, prompt: r.prompt });
      }
      const prompt = seedInstancePrompt(s, seed);
      const steps = o.steps ?? LORA_TRAIN_DEFAULTS.steps;
      const rank = o.rank ?? LORA_TRAIN_DEFAULTS.rank;
      const learningRate = o.learningRate ?? LORA_TRAIN_DEFAULTS.learningRate;
      const t0 = performance.now();
      let last = 0;
      const r = await trainLora(pipe, {
        kind: s.kind,
        images: pngs,
        prompt,
        steps,
        rank,
        learningRate,
        targets: SEED_TARGETS,
        seed: deriveSeed(seed, `seed-lora:${s.name}`) % 2 ** 31,
        ...(o.signal ? { signal: o.signal } : {}),
        onProgress: (p) => {
          if (performance.now() - last > 15_000 || p.step === p.total) {
            last = performance.now();
            log(`${s.name}: step ${p.step}/${p.total} loss ${p.loss.toFixed(4)} (${p.secondsPerStep.toFixed(2)} s/step)`);
          }
        },
      });
      if (r.stopReason === 'cancelled') throw o.signal?.reason ?? new Error('cancelled');
      const seconds = (performance.now() - t0) / 1000;
      const tmp = join(o.out, `${file}.tmp`);
      await writeLora(tmp, r.lora, 'kohya');
      await rename(tmp, join(o.out, file));
      const tail = r.loss.slice(-Math.max(1, Math.floor(r.loss.length / 10)));
      entries.set(s.name, {
        name: s.name,
        kind: s.kind,
        displayName: s.displayName,
        description: s.description,
        tags: s.tags,
        instancePrompt: prompt,
        triggerWords: seedTriggerWords(s),
        file,
        references,
        training: { steps: r.steps, rank, learningRate, batch: LORA_TRAIN_DEFAULTS.batch, targets: SEED_TARGETS, seconds, firstLoss: mean(r.loss.slice(0, 10)), finalLoss: mean(tail) },
      });
      log(`${s.name}: trained in ${seconds.toFixed(0)} s, loss ${mean(r.loss.slice(0, 10)).toFixed(4)} -> ${mean(tail).toFixed(4)}`);
      // Keep the manifest current after every LoRA (an interrupted run keeps what is done).
      await writeManifest(manifestPath, entries);
    }
  } finally {
    await pipe.dispose();
  }
  return writeManifest(manifestPath, entries);
}

async function writeManifest(path: string, entries: Map<string, SeedManifestEntry>): Promise<SeedManifest> {
  const order = SEED_LORAS.map((s) => s.name);
  const loras = [...entries.values()].sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  const m: SeedManifest = { model: 'world', createdAt: new Date().toISOString(), loras };
  await writeFile(`${path}.tmp`, `${JSON.stringify(m, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
  return m;
}
