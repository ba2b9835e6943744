/**
 * The multi-head classifier learns two independent questions about synthetic
 * images (shape: square/ring/bar; colour: red/green/blue, at random positions and
 * backgrounds), reaches high accuracy on fresh images, and a saved classifier
 * predicts exactly what the trained weights predict.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RawImage } from '../../../src/engine/image/index.ts';
import { createRandom } from '../../../src/engine/pipeline/random.ts';
import { Classifier, ClassifierTrainer, imagesToTensor, initClassifier, saveClassifier, type Labels } from '../../../src/engine/train/classifier.ts';

const S = 32;
const SHAPES = ['square', 'ring', 'bar'];
const COLOURS = ['red', 'green', 'blue'];
const RGB = [
  [220, 40, 40],
  [40, 200, 60],
  [50, 70, 230],
];

function sample(seed: number): { image: RawImage; labels: Labels } {
  const r = createRandom(seed);
  const shape = Math.floor(r.uniform() * 3);
  const colour = Math.floor(r.uniform() * 3);
  const cx = 10 + r.uniform() * 12;
  const cy = 10 + r.uniform() * 12;
  const bg = 90 + Math.floor(r.uniform() * 80);
  const data = new Uint8Array(S * S * 3);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      const dx = x - cx;
      const dy = y - cy;
      const inside = shape === 0 ? Math.abs(dx) < 6 && Math.abs(dy) < 6 : shape === 1 ? Math.abs(Math.hypot(dx, dy) - 6) < 1.5 : Math.abs(dx) < 9 && Math.abs(dy) < 2.5;
      for (let c = 0; c < 3; c++) data[(y * S + x) * 3 + c] = inside ? RGB[colour]![c]! : bg;
    }
  }
  return { image: { width: S, height: S, data }, labels: { shape, colour } };
}

const spec = { size: S, heads: [{ name: 'shape', labels: SHAPES }, { name: 'colour', labels: COLOURS }], channels: [16, 16, 32, 32] };
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('classifier', () => {
  it('learns two heads, generalises to fresh images, and round-trips through its folder', async () => {
    const B = 32;
    const t = await ClassifierTrainer.create(spec, { batch: B, lr: 3e-3, seed: 1 });
    for (let s = 0; s < 250; s++) {
      const batch = Array.from({ length: B }, (_, i) => sample(s * B + i));
      await t.step(imagesToTensor(batch.map((b) => b.image), S), batch.map((b) => b.labels));
    }
    const dir = await mkdtemp(join(tmpdir(), 'zipbank-cls-'));
    dirs.push(dir);
    await t.save(dir);
    const trained = await Classifier.fromWeights(spec, t.weights);
    await t.close();
    const test = Array.from({ length: 100 }, (_, i) => sample(1_000_000 + i));
    const preds = await trained.classify(test.map((x) => x.image));
    for (const head of ['shape', 'colour']) {
      const acc = test.filter((x, i) => trained.label(preds[i]!, head) === spec.heads.find((h) => h.name === head)!.labels[x.labels[head]!]).length / test.length;
      expect(acc, head).toBeGreaterThan(0.9);
    }
    const loaded = await Classifier.load(dir);
    const again = await loaded.classify(test.slice(0, 5).map((x) => x.image));
    for (let i = 0; i < 5; i++) expect(Array.from(again[i]!.shape!)).toEqual(Array.from(preds[i]!.shape!));
    expect(() => loaded.label(again[0]!, 'nope')).toThrow(/no head nope/);
    await trained.close();
    await loaded.close();
  }, 120_000);

  it('stacks `depth` layers per stage (the first keeps depth-1 names), trains, and saves the depth', async () => {
    const deep = { ...spec, channels: [8, 16], depth: 2 };
    const t = await ClassifierTrainer.create(deep, { batch: 8, lr: 3e-3, seed: 2 });
    expect([...t.weights.keys()].filter((n) => n.endsWith('conv.weight'))).toEqual(['trunk.0.conv.weight', 'trunk.0.1.conv.weight', 'trunk.1.conv.weight', 'trunk.1.1.conv.weight']);
    expect(t.weights.get('trunk.1.1.conv.weight')!.length).toBe(16 * 16 * 9);
    const batch = Array.from({ length: 8 }, (_, i) => sample(500 + i));
    const px = imagesToTensor(batch.map((b) => b.image), S);
    const first = await t.step(px, batch.map((b) => b.labels));
    let last = first;
    for (let s = 0; s < 30; s++) last = await t.step(px, batch.map((b) => b.labels));
    expect(last.loss).toBeLessThan(first.loss * 0.5);
    const dir = await mkdtemp(join(tmpdir(), 'zipbank-cls-deep-'));
    dirs.push(dir);
    await t.save(dir);
    const loaded = await Classifier.load(dir);
    expect(loaded.spec.depth).toBe(2);
    const direct = await Classifier.fromWeights(deep, t.weights);
    const [a, b] = [await loaded.classify([batch[0]!.image]), await direct.classify([batch[0]!.image])];
    expect(Array.from(a[0]!.shape!)).toEqual(Array.from(b[0]!.shape!));
    await Promise.all([t.close(), loaded.close(), direct.close()]);
    await expect(ClassifierTrainer.create({ ...spec, depth: 0 }, { batch: 1, lr: 1e-3, seed: 1 })).rejects.toThrow(/depth 0 must be an integer from 1 to 8/);
  }, 60_000);

  it('takes one depth per stage, saves the list, and refuses a list of the wrong length', async () => {
    const perStage = { ...spec, channels: [8, 16, 16], depth: [1, 2, 3] };
    const w = initClassifier(perStage, 4);
    expect([...w.keys()].filter((n) => n.endsWith('conv.weight'))).toEqual(['trunk.0.conv.weight', 'trunk.1.conv.weight', 'trunk.1.1.conv.weight', 'trunk.2.conv.weight', 'trunk.2.1.conv.weight', 'trunk.2.2.conv.weight']);
    const direct = await Classifier.fromWeights(perStage, w);
    const dir = await mkdtemp(join(tmpdir(), 'zipbank-cls-stages-'));
    dirs.push(dir);
    await saveClassifier(dir, perStage, w);
    const loaded = await Classifier.load(dir);
    expect(loaded.spec.depth).toEqual([1, 2, 3]);
    const img = sample(900).image;
    const [a, b] = [await loaded.classify([img]), await direct.classify([img])];
    expect(Array.from(a[0]!.shape!)).toEqual(Array.from(b[0]!.shape!));
    await Promise.all([loaded.close(), direct.close()]);
    expect(() => initClassifier({ ...perStage, depth: [1, 2] }, 1)).toThrow(/depth lists 2 stages but channels has 3/);
  });

  it('refuses images of the wrong size and missing labels', async () => {
    expect(() => imagesToTensor([{ width: 8, height: 8, data: new Uint8Array(192) }], S)).toThrow(/8x8/);
    const t = await ClassifierTrainer.create(spec, { batch: 1, lr: 1e-3, seed: 1 });
    await expect(t.step(new Float32Array(3 * S * S), [{ shape: 0 }])).rejects.toThrow(/no valid colour label/);
    await t.close();
  });
});
