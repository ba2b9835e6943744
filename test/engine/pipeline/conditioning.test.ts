/**
 * The conditioning helpers on hand-made tensors: SDXL time ids, the feature-axis
 * concatenation (encoder 1 then encoder 2), which outputs each family takes, and
 * when the unconditional branch is zeros, an encoding of the negative prompt, or absent.
 */
import { describe, expect, it } from 'vitest';
import {
  buildConditioning,
  combineEncoderOutputs,
  concatLastAxis,
  sdxlTimeIds,
  stackRepeated,
  type EncoderOutput,
  type Embeddings,
  type F32Tensor,
} from '../../../src/engine/pipeline/conditioning.ts';

const t = (dims: number[], f: (i: number) => number): F32Tensor => ({
  data: Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => f(i)),
  dims,
});

describe('sdxlTimeIds', () => {
  it.each([
    { o: { width: 1024, height: 768 }, ids: [768, 1024, 0, 0, 768, 1024] },
    { o: { width: 64, height: 64 }, ids: [64, 64, 0, 0, 64, 64] },
    { o: { width: 1024, height: 1024, originalSize: { width: 512, height: 640 } }, ids: [640, 512, 0, 0, 1024, 1024] },
    { o: { width: 1024, height: 1024, cropTopLeft: { top: 16, left: 32 } }, ids: [1024, 1024, 16, 32, 1024, 1024] },
    { o: { width: 832, height: 1216, targetSize: { width: 1024, height: 1024 } }, ids: [1024, 1024, 0, 0, 1024, 1024] },
  ])('$o -> $ids', ({ o, ids }) => {
    expect([...sdxlTimeIds(o)]).toEqual(ids);
  });
});

describe('concatLastAxis', () => {
  it('puts encoder 1 features first, then encoder 2, per position', () => {
    const a = t([2, 3, 2], (i) => 100 + i);
    const b = t([2, 3, 3], (i) => -(i + 1));
    const c = concatLastAxis([a, b]);
    expect(c.dims).toEqual([2, 3, 5]);
    expect([...c.data.subarray(0, 10)]).toEqual([100, 101, -1, -2, -3, 102, 103, -4, -5, -6]);
    expect([...c.data.subarray(25)]).toEqual([110, 111, -16, -17, -18]);
  });

  it('refuses shapes that differ before the last axis', () => {
    expect(() => concatLastAxis([t([1, 3, 2], () => 0), t([1, 4, 2], () => 0)])).toThrow(RangeError);
  });
});

describe('combineEncoderOutputs', () => {
  const out = (tag: number, width: number, proj?: number): EncoderOutput => ({
    lastHiddenState: t([1, 4, width], () => tag + 0.5),
    penultimateHiddenState: t([1, 4, width], () => tag),
    ...(proj ? { textEmbeds: t([1, proj], () => tag * 10) } : {}),
  });

  it('SD takes the last hidden state of its one encoder', () => {
    const e = combineEncoderOutputs('sd', [out(1, 3)]);
    expect(e.hidden.dims).toEqual([1, 4, 3]);
    expect(e.hidden.data.every((v) => v === 1.5)).toBe(true);
    expect(e.pooled).toBeUndefined();
  });

  it('SDXL concatenates the penultimate states (768 + 1280 = 2048) and pools from encoder 2', () => {
    const e = combineEncoderOutputs('sdxl', [out(1, 768), out(2, 1280, 1280)]);
    expect(e.hidden.dims).toEqual([1, 4, 2048]);
    const row = e.hidden.data.subarray(0, 2048);
    expect(row.subarray(0, 768).every((v) => v === 1)).toBe(true);
    expect(row.subarray(768).every((v) => v === 2)).toBe(true);
    expect(e.pooled!.dims).toEqual([1, 1280]);
    expect(e.pooled!.data.every((v) => v === 20)).toBe(true);
  });
});

describe('buildConditioning', () => {
  /** A fake encoder: row i of the batch is filled with (text length + 1) * 10 + i. */
  const fake = () => {
    const calls: string[][] = [];
    const encode = async (texts: string[]): Promise<Embeddings> => {
      calls.push(texts);
      const fill = (w: number) => ({ data: Float32Array.from({ length: texts.length * 2 * w }, (_, j) => (texts[Math.floor(j / (2 * w))]!.length + 1) * 10), dims: [texts.length, 2, w] });
      return { hidden: fill(3), pooled: { data: Float32Array.from(texts, (s) => s.length + 1), dims: [texts.length, 1] } };
    };
    return { calls, encode };
  };

  it.each([
    { name: 'SDXL, empty negative, force zeros: zeros', family: 'sdxl', negative: '', force: true, calls: [['a corgi']], zeros: true },
    { name: 'SDXL, empty negative, no force: encodes ""', family: 'sdxl', negative: '', force: false, calls: [['', 'a corgi']], zeros: false },
    { name: 'SDXL, a negative prompt: encodes it', family: 'sdxl', negative: 'blurry', force: true, calls: [['blurry', 'a corgi']], zeros: false },
    { name: 'SD, empty negative: encodes "" (no zeros in SD)', family: 'sd', negative: '', force: true, calls: [['', 'a corgi']], zeros: false },
  ] as const)('$name', async ({ family, negative, force, calls, zeros }) => {
    const f = fake();
    const c = await buildConditioning({ family, prompt: 'a corgi', negativePrompt: negative, guidance: 5, forceZerosForEmptyPrompt: force, encode: f.encode });
    expect(f.calls).toEqual(calls);
    expect(c.cond.hidden.dims).toEqual([1, 2, 3]);
    expect(c.cond.hidden.data.every((v) => v === 80)).toBe(true);
    expect(c.uncond!.hidden.dims).toEqual([1, 2, 3]);
    const expected = zeros ? 0 : (negative.length + 1) * 10;
    expect(c.uncond!.hidden.data.every((v) => v === expected)).toBe(true);
    expect([...c.uncond!.pooled!.data]).toEqual([zeros ? 0 : negative.length + 1]);
  });

  it.each([1, 0.5, 0])('guidance %s: no unconditional branch, one encoding', async (guidance) => {
    const f = fake();
    const c = await buildConditioning({ family: 'sdxl', prompt: 'x', negativePrompt: 'y', guidance, forceZerosForEmptyPrompt: true, encode: f.encode });
    expect(c.uncond).toBeUndefined();
    expect(f.calls).toEqual([['x']]);
  });
});

describe('stackRepeated', () => {
  it('builds the UNet batch [uncond x n, cond x n]', () => {
    const s = stackRepeated([t([1, 2], () => 0), t([1, 2], () => 1)], 3);
    expect(s.dims).toEqual([6, 2]);
    expect([...s.data]).toEqual([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
  });
});
