/**
 * What the VAE lets through: the world's classifier on renders of the quality check's
 * held-out caption combinations, as rendered and after a VAE round trip (encode to the
 * latent mean, decode). Whatever the round trip loses, no base model drawing through
 * this decoder can score: it is the ceiling of `checkQuality`'s numbers.
 *
 * @example
 *   const r = await vaeRoundTrip({ out: 'models/world', classifier, seed: 1, perCombo: 4 });
 *   r.original.class; r.roundTrip.class;   // fractions right
 */
import { writeFile } from 'node:fs/promises';
import { composeGrid, encodeImage, type RawImage } from '../engine/image/index.ts';
import { decodeLatent } from '../engine/pipeline/denoise.ts';
import { encodeImages } from '../engine/pipeline/encode.ts';
import { loadPipelineModel } from '../engine/pipeline/model.ts';
import type { Classifier } from '../engine/train/classifier.ts';
import { renderScenes } from './render.ts';
import { WORLD_SIZE } from './train.ts';
import { deriveSeed } from './rng.ts';
import { sampleScene } from './scene.ts';
import { heldOutCombos } from './split.ts';

export interface HeadScores {
  class: number;
  context: number;
  style: number;
  perClass: Record<string, number>;
  perStyle: Record<string, number>;
}

export interface RoundTripReport {
  images: number;
  original: HeadScores;
  roundTrip: HeadScores;
  /** Mean absolute pixel error of the round trip, 0-255. */
  meanAbsError: number;
  seconds: number;
}

export interface RoundTripOptions {
  /** Model folder (its vae/ is used). */
  out: string;
  classifier: Classifier;
  seed?: number;
  /** Renders per held-out combination. Default 4. */
  perCombo?: number;
  /** Where to write a grid: rows of 8 renders, each followed by a row of their round trips. */
  gridPath?: string;
}

export async function vaeRoundTrip(o: RoundTripOptions): Promise<RoundTripReport> {
  const t0 = performance.now();
  const seed = o.seed ?? 1;
  const per = o.perCombo ?? 4;
  if (!Number.isInteger(per) || per < 1) throw new RangeError(`vaeRoundTrip: perCombo must be a positive whole number, got ${per}`);
  const combos = heldOutCombos();
  const truth = combos.flatMap((c) => Array.from({ length: per }, () => c));
  const scenes = combos.flatMap((c, k) => Array.from({ length: per }, (_, j) => sampleScene(deriveSeed(seed, `vae-check:${k}:${j}`), { ...c, split: 'base' })));
  const size = WORLD_SIZE;
  const originals = await renderScenes(scenes, size);
  const m = await loadPipelineModel(o.out, { device: 'cpu', log: () => {} });
  const trips: RawImage[] = [];
  let err = 0;
  try {
    const s = await m.sessions();
    const lh = size / m.vaeFactor;
    for (const im of originals) {
      const [latent] = await encodeImages(m, [await encodeImage(im)], size, size);
      const back = await decodeLatent(latent!, { vae: s.vae, dtype: m.vaeDtype, scalingFactor: m.scalingFactor, shiftFactor: m.shiftFactor, channels: m.latentChannels, h: lh, w: lh });
      for (let i = 0; i < back.data.length; i++) err += Math.abs(back.data[i]! - im.data[i]!);
      trips.push(back);
    }
  } finally {
    if (m.ownsCache) await m.cache.clear();
  }
  const score = async (images: RawImage[]): Promise<HeadScores> => {
    const preds = await o.classifier.classify(images);
    const hits = (head: string, want: (i: number) => string) => preds.map((p, i) => o.classifier.label(p, head) === want(i));
    const rate = (xs: boolean[]) => xs.filter(Boolean).length / Math.max(1, xs.length);
    const by = (xs: boolean[], key: (i: number) => string) => {
      const g: Record<string, boolean[]> = {};
      xs.forEach((x, i) => (g[key(i)] ??= []).push(x));
      return Object.fromEntries(Object.entries(g).map(([k, v]) => [k, rate(v)]));
    };
    const cls = hits('class', (i) => truth[i]!.classId);
    const sty = hits('style', (i) => truth[i]!.styleId);
    return { class: rate(cls), context: rate(hits('context', (i) => truth[i]!.contextId)), style: rate(sty), perClass: by(cls, (i) => truth[i]!.classId), perStyle: by(sty, (i) => truth[i]!.styleId) };
  };
  const report: RoundTripReport = {
    images: originals.length,
    original: await score(originals),
    roundTrip: await score(trips),
    meanAbsError: err / Math.max(1, originals.reduce((a, im) => a + im.data.length, 0)),
    seconds: (performance.now() - t0) / 1000,
  };
  if (o.gridPath) {
    // Pairs of rows: 8 renders, then their round trips; 4 pairs spread over the combinations.
    const rows: RawImage[] = [];
    const stride = Math.max(1, Math.floor(originals.length / 32));
    for (let r = 0; r < 4; r++) {
      const idx = Array.from({ length: 8 }, (_, j) => ((r * 8 + j) * stride) % originals.length);
      rows.push(...idx.map((i) => originals[i]!), ...idx.map((i) => trips[i]!));
    }
    await writeFile(o.gridPath, await composeGrid(rows, { cols: 8 }));
  }
  return report;
}
