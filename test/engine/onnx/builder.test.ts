import { describe, expect, it } from 'vitest';
import {
  ATTR_TYPE,
  GraphBuilder,
  Value,
  add,
  attr,
  conv,
  linear,
  matmul,
  memoryWeights,
  reshape,
  split,
  toAttribute,
  type Dim,
  type OnnxAttribute,
} from '../../../src/engine/onnx/index.ts';
import { broadcastShapes, concatShape, convShape, matmulShape, reshapeShape, sliceShape } from '../../../src/engine/onnx/shapes.ts';
import { isZipbankError, type ErrorCode } from '../../../src/errors/index.ts';
import { runGraph } from './run-graph.ts';

function expectCode(fn: () => unknown, code: ErrorCode, text?: string): void {
  try {
    fn();
  } catch (e) {
    expect(isZipbankError(e, code), String(e)).toBe(true);
    if (text) expect((e as Error).message).toContain(text);
    return;
  }
  expect.unreachable(`expected ${code}`);
}

const weights = memoryWeights({
  'block.conv.weight': { dtype: 'float32', shape: [2, 1, 1, 1], values: [2, 3] },
  'block.conv.bias': { dtype: 'float32', shape: [2], values: [0.5, -1] },
  'half.weight': { dtype: 'float16', shape: [2, 2], values: [1, 2, 3, 4] },
});

describe('GraphBuilder naming and structure', () => {
  it('names nodes by scope and parameters by module path', () => {
    const g = new GraphBuilder('names', { weights });
    const x = g.input('x', 'float32', [1, 1, 2, 2]);
    const y = g.scope('block', () => g.scope('conv', () => conv(x, g.param('weight'), g.param('bias'))));
    const z = g.scope('block', () => [add(y, 1), add(y, 2)]);
    g.output(z[0]!, 'a');
    g.output(z[1]!);
    const m = g.build();
    expect(m.graph.initializer.map((t) => t.name)).toEqual(expect.arrayContaining(['block.conv.weight', 'block.conv.bias']));
    expect(m.graph.node.map((n) => n.name)).toEqual(['block.conv/Conv', 'block/Add', 'block/Add_1', 'output/a']);
    expect(m.graph.output.map((o) => o.name)).toEqual(['a', 'block/Add_1']);
    expect(m.graph.output[0]!.type!.tensorType!.shape!.dim).toEqual([{ dimValue: 1 }, { dimValue: 2 }, { dimValue: 2 }, { dimValue: 2 }]);
    expect(m.opsetImport).toEqual([{ domain: '', version: 17 }]);
    expect(m.irVersion).toBe(10);
  });

  it('creates each parameter once and scopes names with "."', () => {
    const g = new GraphBuilder('params', { weights });
    const a = g.scope('block.conv', () => g.param('weight', { shape: [2, 1, 1, 1] }));
    const b = g.scope('block', () => g.scope('conv', () => g.param('weight')));
    expect(a).toBe(b);
    expect(g.scoped('w')).toBe('w');
    expect(g.scope('a', () => g.scope('b', () => [g.scopePath, g.scoped('c')]))).toEqual(['a.b', 'a.b.c']);
  });

  it('casts a float16 weight in-graph when float32 is asked for, and says so', async () => {
    const logs: string[] = [];
    const g = new GraphBuilder('cast', { weights, log: (m) => logs.push(m) });
    const x = g.input('x', 'float32', [1, 2]);
    const w = g.param('half.weight', { dtype: 'float32' });
    expect(w.dtype).toBe('float32');
    expect(g.param('half.weight', { dtype: 'float32' })).toBe(w);
    expect(g.param('half.weight').dtype).toBe('float16');
    const [out] = await runGraph(g, [matmul(x, w)], { x: { shape: [1, 2], data: Float64Array.from([1, 1]) } });
    expect(Array.from(out!.data)).toEqual([4, 6]);
    expect(logs.join()).toContain('1 weights are cast in-graph');
  });

  it('shares scalar and ints constants', () => {
    const g = new GraphBuilder('consts');
    expect(g.scalar(1)).toBe(g.scalar(1));
    expect(g.scalar(1)).not.toBe(g.scalar(1, 'float16'));
    expect(g.scalar(0)).not.toBe(g.scalar(-0));
    expect(g.ints([1, 2])).toBe(g.ints([1, 2]));
    const c = g.scope('s', () => g.constant([1, 2, 3, 4], { shape: [2, 2], name: 'table' }));
    expect(c.name).toBe('s.table');
    expect(g.scope('s', () => g.constant([1], { name: 'table' })).name).toBe('s.table_1');
    expect(g.constant(new Int32Array(2)).dtype).toBe('int32');
  });

  it('adds an opset import for each extra domain', () => {
    const g = new GraphBuilder('ms', { opset: 18 });
    const x = g.input('x', 'float32', [2]);
    g.output(g.op('FastGelu', [x], {}, { domain: 'com.microsoft' }));
    expect(g.build().opsetImport).toEqual([{ domain: '', version: 18 }, { domain: 'com.microsoft', version: 1 }]);
    expect(g.build({ domains: { 'com.microsoft': 2 } }).opsetImport[1]).toEqual({ domain: 'com.microsoft', version: 2 });
  });

  it('emits multi-output nodes with op names and optional inputs', () => {
    const g = new GraphBuilder('multi');
    const x = g.input('x', 'float32', [4]);
    const outs = g.ops('Split', [x, g.ints([2, 2])], { axis: 0 }, { outputs: 2, name: 'halves' });
    expect(outs.map((v) => v.name)).toEqual(['halves:0', 'halves:1']);
    const r = g.op('Resize', [x, null, g.constant([2])], { mode: 'nearest' });
    g.output(r);
    expect(g.build().graph.node.at(-1)!.input).toEqual(['x', '', 'const']);
    expect(String(g)).toContain('2 nodes');
  });

  it.each<{ name: string; code: ErrorCode; run: () => unknown }>([
    { name: 'duplicate input', code: 'onnx.duplicate-name', run: () => { const g = new GraphBuilder('d'); g.input('x', 'float32', [1]); g.input('x', 'float32', [1]); } },
    { name: 'value of another graph', code: 'onnx.foreign-value', run: () => add(new GraphBuilder('a').input('x', 'float32', [1]), new GraphBuilder('b').input('y', 'float32', [1])) },
    { name: 'missing weight', code: 'onnx.missing-weight', run: () => new GraphBuilder('w', { weights }).param('nope') },
    { name: 'no weight source', code: 'onnx.missing-weight', run: () => new GraphBuilder('w').param('nope') },
    { name: 'weight shape', code: 'onnx.weight-shape', run: () => new GraphBuilder('w', { weights }).param('block.conv.bias', { shape: [3] }) },
    { name: 'build without outputs', code: 'onnx.invalid-op', run: () => new GraphBuilder('e').build() },
    { name: 'opset out of range', code: 'onnx.unsupported-opset', run: () => new GraphBuilder('o', { opset: 13 }) },
    { name: 'matmul inner dims', code: 'onnx.invalid-op', run: () => { const g = new GraphBuilder('m'); matmul(g.input('a', 'float32', [2, 3]), g.input('b', 'float32', [4, 5])); } },
    { name: 'mixed dtypes', code: 'onnx.invalid-op', run: () => { const g = new GraphBuilder('m'); add(g.input('a', 'float32', [2]), g.input('b', 'float16', [2])); } },
    { name: 'impossible reshape', code: 'onnx.invalid-op', run: () => { const g = new GraphBuilder('r'); reshape(g.input('a', 'float32', [2, 3]), [4, -1]); } },
    { name: 'uneven split', code: 'onnx.invalid-op', run: () => { const g = new GraphBuilder('s'); split(g.input('a', 'float32', [5]), 2); } },
    { name: 'linear with 1-D weight', code: 'onnx.invalid-op', run: () => { const g = new GraphBuilder('l'); linear(g.input('a', 'float32', [5]), g.input('w', 'float32', [5])); } },
    { name: 'static dim of a symbolic one', code: 'onnx.dynamic-shape', run: () => new GraphBuilder('d').input('a', 'float32', ['n', 3]).staticShape() },
    { name: 'wrong initializer size', code: 'onnx.invalid-op', run: () => new GraphBuilder('i').initializer('w', { dtype: 'float32', shape: [3], raw: new Uint8Array(8) }) },
    { name: 'bad attribute', code: 'onnx.bad-attribute', run: () => toAttribute('x', [1, 'a'] as never) },
  ])('refuses $name with $code', ({ run, code }) => {
    expectCode(run, code);
  });
});

describe('Value', () => {
  it('reports dims, static shapes and a readable form', () => {
    const v = new GraphBuilder('v').input('x', 'float32', ['n', 3, null]);
    expect([v.rank, v.dim(0), v.dim(-2), v.dim(5), v.staticDim(1)]).toEqual([3, 'n', 3, null, 3]);
    expect(String(v)).toBe('x: float32[n, 3, ?]');
    expect(new Value({ name: 'g' }, 'u', 'int64', undefined).dim(0)).toBeNull();
  });
});

describe('attribute typing', () => {
  const rows: { name: string; value: Parameters<typeof toAttribute>[1]; expected: Partial<OnnxAttribute> }[] = [
    { name: 'pads', value: [1, 1, 1, 1], expected: { type: ATTR_TYPE.INTS, ints: [1, 1, 1, 1] } },
    { name: 'epsilon', value: 1, expected: { type: ATTR_TYPE.FLOAT, f: 1 } },
    { name: 'axis', value: -1, expected: { type: ATTR_TYPE.INT, i: -1 } },
    { name: 'ratio', value: 0.5, expected: { type: ATTR_TYPE.FLOAT, f: 0.5 } },
    { name: 'other', value: 0.5, expected: { type: ATTR_TYPE.FLOAT, f: 0.5 } },
    { name: 'scales', value: [1, 2], expected: { type: ATTR_TYPE.FLOATS, floats: [1, 2] } },
    { name: 'coeffs', value: [0.5, 2], expected: { type: ATTR_TYPE.FLOATS, floats: [0.5, 2] } },
    { name: 'vals', value: new Float32Array([1, 2]), expected: { type: ATTR_TYPE.FLOATS, floats: [1, 2] } },
    { name: 'perm', value: [], expected: { type: ATTR_TYPE.INTS, ints: [] } },
    { name: 'transB', value: true, expected: { type: ATTR_TYPE.INT, i: 1 } },
    { name: 'big', value: 2n ** 62n, expected: { type: ATTR_TYPE.INT, i: 2n ** 62n } },
    { name: 'names', value: ['a', 'b'], expected: { type: ATTR_TYPE.STRINGS } },
    { name: 'count', value: attr.float(3), expected: { type: ATTR_TYPE.FLOAT, f: 3 } },
    { name: 'alpha', value: attr.int(3), expected: { type: ATTR_TYPE.INT, i: 3 } },
    { name: 'list', value: attr.floats([1]), expected: { type: ATTR_TYPE.FLOATS, floats: [1] } },
    { name: 'mode', value: attr.string('linear'), expected: { type: ATTR_TYPE.STRING } },
    { name: 'labels', value: attr.strings(['x']), expected: { type: ATTR_TYPE.STRINGS } },
  ];
  it.each(rows)('$name = $value', ({ name, value, expected }) => {
    expect(toAttribute(name, value)).toMatchObject({ name, ...expected });
  });
});

describe('shape inference', () => {
  const fail = (r: string): never => {
    throw new Error(r);
  };
  it.each<{ name: string; got: () => readonly Dim[] | undefined; expected: Dim[] | undefined }>([
    { name: 'broadcast with symbols', got: () => broadcastShapes([2, 1, 'n'], [3, 1], fail), expected: [2, 3, 'n'] },
    { name: 'broadcast symbol against number', got: () => broadcastShapes(['n'], [4], fail), expected: [4] },
    { name: 'broadcast two symbols', got: () => broadcastShapes(['a'], ['b'], fail), expected: [null] },
    { name: 'broadcast unknown rank', got: () => broadcastShapes(undefined, [1], fail), expected: undefined },
    { name: 'matmul vector', got: () => matmulShape([3], [3, 4], fail), expected: [4] },
    { name: 'matmul batch broadcast', got: () => matmulShape([2, 1, 5, 3], [7, 3, 4], fail), expected: [2, 7, 5, 4] },
    { name: 'conv symbolic spatial', got: () => convShape(['n', 4, 'h', 9], 8, { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], dilations: [1, 1] }), expected: ['n', 8, null, 5] },
    { name: 'reshape with symbolic input', got: () => reshapeShape(['n', 4, 6], [0, -1], fail), expected: ['n', null] },
    { name: 'concat with symbols', got: () => concatShape([['n', 2], [null, 3]], 1, fail), expected: ['n', 5] },
    { name: 'slice negative step', got: () => sliceShape([5], [4], [-6], [0], [-2], fail), expected: [3] },
  ])('$name', ({ got, expected }) => {
    expect(got()).toEqual(expected);
  });

  it.each([
    () => broadcastShapes([2], [3], fail),
    () => matmulShape([], [3], fail),
    () => reshapeShape([2, 3], [-1, -1], fail),
    () => concatShape([[2], [2, 3]], 0, fail),
    () => sliceShape([3], [0], [1], [0], [0], fail),
  ])('refuses impossible shapes (%#)', (f) => {
    expect(f).toThrow();
  });
});
