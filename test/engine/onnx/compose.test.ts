/**
 * chainModels / cutAt: a chained pair computes what running the two models one after
 * the other computes, colliding names are prefixed (weights with distinct names keep
 * theirs), and a cut tensor becomes an input that replaces its producer.
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder, add, gather, gemm, mul, tanh } from '../../../src/engine/onnx/index.ts';
import { chainModels, cutAt } from '../../../src/engine/onnx/compose.ts';
import { ONNX_DTYPE } from '../../../src/engine/onnx/types.ts';
import { asFloat32, createSession, tensor } from '../../../src/engine/runtime/index.ts';

function first() {
  const g = new GraphBuilder('first');
  const x = g.input('x', 'float32', [2, 3]);
  const w = g.initializer('w1', { dtype: 'float32', shape: [3, 4], values: Float32Array.from({ length: 12 }, (_, i) => (i - 6) / 7) });
  g.output(tanh(gemm(x, w)), 'hidden');
  g.output(mul(x, 2), 'double');
  return g.build();
}

function second() {
  const g = new GraphBuilder('second');
  const h = g.input('h', 'float32', [2, 4]);
  const w = g.initializer('w2', { dtype: 'float32', shape: [4, 2], values: Float32Array.from({ length: 8 }, (_, i) => (i - 3) / 5) });
  const d = gemm(h, w);
  g.output(add(d, 1), 'y');
  // 'double' collides with an output of the first model.
  g.output(mul(d, 2), 'double');
  return g.build();
}

const xs = Float32Array.from([0.1, -0.4, 0.9, 1.2, 0.3, -0.7]);

describe('chainModels', () => {
  it('computes the second model on the first model’s tensor', async () => {
    const a = await createSession({ model: first(), name: 'a' });
    const b = await createSession({ model: second(), name: 'b' });
    const hidden = (await a.run({ x: tensor('float32', xs, [2, 3]) })).hidden!;
    const want = asFloat32((await b.run({ h: hidden })).y!);
    const chained = chainModels(first(), second(), { connect: { h: 'hidden' } });
    expect(chained.graph.input.map((i) => i.name)).toEqual(['x']);
    // Weights keep their names; the colliding constant of the second model is prefixed.
    expect(chained.graph.initializer.map((t) => t.name)).toEqual(['w1', 'const_float32', 'w2', 'b/const_float32', 'const_float32_1']);
    const outs = chained.graph.output.map((o) => o.name);
    expect(outs).toEqual(['hidden', 'double', 'y', 'b/double']);
    const c = await createSession({ model: chained, name: 'c' });
    const got = await c.run({ x: tensor('float32', xs, [2, 3]) });
    expect(Array.from(asFloat32(got.y!))).toEqual(Array.from(want));
    expect(Array.from(asFloat32(got.double!))).toEqual(Array.from(xs, (v) => v * 2));
    for (const s of [a, b, c]) await s.dispose();
  });

  it('refuses unknown inputs and sources', () => {
    expect(() => chainModels(first(), second(), { connect: { nope: 'hidden' } })).toThrow(/no input nope/);
    expect(() => chainModels(first(), second(), { connect: { h: 'nope' } })).toThrow(/no tensor nope/);
  });
});

describe('cutAt', () => {
  it('feeds a gathered tensor instead of the lookup, and drops the table', async () => {
    const g = new GraphBuilder('lookup');
    const ids = g.input('ids', 'int64', [2]);
    const table = g.initializer('table', { dtype: 'float32', shape: [5, 3], values: Float32Array.from({ length: 15 }, (_, i) => i) });
    const rows = gather(table, ids, 0);
    g.output(mul(rows, 3), 'y');
    const model = g.build();
    const name = model.graph.node.find((n) => n.opType === 'Gather')!.output[0]!;
    const cut = cutAt(model, name, { elemType: ONNX_DTYPE.float32, dims: [2, 3] });
    expect(cut.graph.node.some((n) => n.opType === 'Gather')).toBe(false);
    expect(cut.graph.initializer.map((t) => t.name)).not.toContain('table');
    expect(cut.graph.input.map((i) => i.name)).toEqual([name]);
    const s = await createSession({ model: cut, name: 'cut' });
    const got = asFloat32((await s.run({ [name]: tensor('float32', Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]) })).y!);
    expect(Array.from(got)).toEqual([3, 6, 9, 12, 15, 18]);
    await s.dispose();
    expect(() => cutAt(model, 'nope', { elemType: ONNX_DTYPE.float32, dims: [1] })).toThrow(/no node produces nope/);
  });
});
