import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  GraphBuilder,
  encodeModel,
  externalRef,
  externalTensor,
  gemm,
  inlineExternalData,
  linear,
  safetensorsWeights,
  type OnnxModel,
} from '../../../src/engine/onnx/index.ts';
import { asFloat32, createSession, tensor, type ModelSource } from '../../../src/engine/runtime/index.ts';
import { fromFloat32, halfToFloat, floatToHalf } from '../../../src/engine/weights/dtype.ts';
import { encodeSafetensors, readSafetensorsHeader } from '../../../src/engine/weights/safetensors.ts';
import { isZipbankError } from '../../../src/errors/index.ts';

const IN = 5;
const OUT = 3;
const W = Float32Array.from({ length: OUT * IN }, (_, i) => Math.sin(i + 1) * 0.8);
const B = Float32Array.from({ length: OUT }, (_, i) => i - 1.25);
const X = Float32Array.from({ length: 2 * IN }, (_, i) => Math.cos(i) * 2);

/** x @ w^T + b in float64. */
function reference(w: ArrayLike<number>, b: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let n = 0; n < 2; n++) {
    for (let o = 0; o < OUT; o++) {
      let s = b[o]!;
      for (let i = 0; i < IN; i++) s += X[n * IN + i]! * w[o * IN + i]!;
      out.push(s);
    }
  }
  return out;
}

let dir: string;
let model: OnnxModel;
let halfModel: OnnxModel;
const logs: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zipbank-external-'));
  await mkdir(join(dir, 'unet'));
  // A 3-byte tensor first, so every float tensor after it starts at an unaligned offset.
  const file = encodeSafetensors([
    { name: 'pad', dtype: 'U8', shape: [3], data: new Uint8Array([1, 2, 3]) },
    { name: 'fc.weight', dtype: 'F32', shape: [OUT, IN], data: fromFloat32(W, 'F32') },
    { name: 'fc.bias', dtype: 'F32', shape: [OUT], data: fromFloat32(B, 'F32') },
    { name: 'half.weight', dtype: 'F16', shape: [OUT, IN], data: fromFloat32(W, 'F16') },
    { name: 'half.bias', dtype: 'F16', shape: [OUT], data: fromFloat32(B, 'F16') },
  ]);
  await writeFile(join(dir, 'unet', 'weights.safetensors'), file);
  const header = await readSafetensorsHeader(join(dir, 'unet', 'weights.safetensors'));
  const weights = safetensorsWeights({ header, location: 'unet/weights.safetensors' });

  const g = new GraphBuilder('fc', { weights });
  const x = g.input('x', 'float32', ['n', IN]);
  g.scope('fc', () => {
    g.output(linear(x, g.param('weight', { shape: [OUT, IN] }), g.param('bias')), 'matmul');
    g.output(gemm(x, g.param('weight'), g.param('bias'), { transB: true }), 'gemm');
  });
  model = g.build();
  await writeFile(join(dir, 'fc.onnx'), encodeModel(model));

  const h = new GraphBuilder('half', { weights, log: (m) => logs.push(m) });
  const hx = h.input('x', 'float32', [2, IN]);
  h.scope('half', () => h.output(linear(hx, h.param('weight', { dtype: 'float32' }), h.param('bias', { dtype: 'float32' })), 'y'));
  halfModel = h.build();
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function outputs(source: ModelSource): Promise<Record<string, number[]>> {
  const s = await createSession(source, { provider: 'cpu' });
  try {
    const out = await s.run({ x: tensor('float32', X, [2, IN]) });
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Array.from(asFloat32(v))]));
  } finally {
    await s.dispose();
  }
}

function expectClose(got: number[], expected: number[], tol = 1e-5): void {
  expect(got).toHaveLength(expected.length);
  got.forEach((v, i) => expect(Math.abs(v - expected[i]!)).toBeLessThanOrEqual(tol));
}

describe('initializers as external data inside a safetensors file', () => {
  it('points at the tensors\' absolute, unaligned byte spans', async () => {
    const header = await readSafetensorsHeader(join(dir, 'unet', 'weights.safetensors'));
    const w = model.graph.initializer.find((t) => t.name === 'fc.weight')!;
    const ref = externalRef(w)!;
    expect(ref).toEqual({ location: 'unet/weights.safetensors', offset: header.byName.get('fc.weight')!.begin, length: OUT * IN * 4 });
    expect(ref.offset % 4).not.toBe(0);
    expect(model.graph.initializer.every((t) => t.dataLocation === 1 && t.rawData === undefined)).toBe(true);
  });

  it.each<{ name: string; source: () => ModelSource }>([
    { name: 'a model file next to the weights', source: () => ({ path: join(dir, 'fc.onnx') }) },
    { name: 'model bytes with an external-data folder', source: () => ({ bytes: encodeModel(model), name: 'fc', externalDataDir: dir }) },
    { name: 'a built model with an external-data folder', source: () => ({ model, name: 'fc', externalDataDir: dir }) },
  ])('gives the reference numbers from $name', async ({ source }) => {
    const out = await outputs(source());
    const expected = reference(W, B);
    expectClose(out.matmul!, expected);
    expectClose(out.gemm!, expected);
  });

  it('fails with a coded error when model bytes have no external-data folder', async () => {
    const e = await outputs({ bytes: encodeModel(model), name: 'fc-bytes' }).catch((x: unknown) => x);
    expect(isZipbankError(e, 'runtime.session-failed')).toBe(true);
    expect((e as Error).message).toContain('fc-bytes');
  });

  it('casts float16 weights to float32 in-graph (folded at load) and logs it', async () => {
    const round = (a: Float32Array) => Array.from(a, (v) => halfToFloat(floatToHalf(v)));
    const out = await outputs({ model: halfModel, name: 'half', externalDataDir: dir });
    expectClose(out.y!, reference(round(W), round(B)));
    expect(halfModel.graph.node.filter((n) => n.opType === 'Cast')).toHaveLength(2);
    expect(logs.join('\n')).toContain('2 weights are cast in-graph');
  });

  it('inlines external data, converting float16 to float32, for a model that needs no folder', async () => {
    const messages: string[] = [];
    const inlined = await inlineExternalData(halfModel, dir, { convert: { float16: 'float32' }, log: (m) => messages.push(m) });
    expect(inlined.graph.initializer.every((t) => externalRef(t) === undefined && t.dataType === 1)).toBe(true);
    expect(messages[0]).toMatch(/inlined 2 external initializers .* 2 converted/);
    const round = (a: Float32Array) => Array.from(a, (v) => halfToFloat(floatToHalf(v)));
    expectClose((await outputs({ model: inlined, name: 'inlined' })).y!, reference(round(W), round(B)));
    const plain = await inlineExternalData(model, dir);
    expect(plain.graph.initializer.find((t) => t.name === 'fc.bias')!.dataType).toBe(1);
    expectClose((await outputs({ model: plain, name: 'plain' })).matmul!, reference(W, B));
  });

  it('combines several files; the first that holds a name wins', async () => {
    const header = await readSafetensorsHeader(join(dir, 'unet', 'weights.safetensors'));
    const other = { ...header, byName: new Map([['only.here', { ...header.byName.get('fc.bias')!, name: 'only.here' }]]) };
    const w = safetensorsWeights([
      { header: other, location: 'b.safetensors' },
      { header, location: 'a.safetensors' },
    ]);
    expect(w.get('only.here')!.external!.location).toBe('b.safetensors');
    expect(w.get('fc.weight')!.external!.location).toBe('a.safetensors');
    expect(w.get('missing')).toBeUndefined();
    expect(w.description).toBe('b.safetensors, a.safetensors');
    const g = new GraphBuilder('m', { weights: w });
    expect(() => g.param('fc.bias', { shape: [OUT + 1] })).toThrow(/a.safetensors/);
  });

  it.each([
    { name: 'a span of the wrong length', run: () => externalTensor('t', 'float32', [4], { location: 'w', offset: 0, length: 12 }) },
    {
      name: 'a location outside the folder',
      run: () => inlineExternalData({ ...model, graph: { ...model.graph, initializer: [externalTensor('t', 'float32', [1], { location: '../x', offset: 0, length: 4 })] } }, dir),
    },
    {
      name: 'a missing file',
      run: () => inlineExternalData({ ...model, graph: { ...model.graph, initializer: [externalTensor('t', 'float32', [1], { location: 'nope.bin', offset: 0, length: 4 })] } }, dir),
    },
    {
      name: 'a span past the end of the file',
      run: () => inlineExternalData({ ...model, graph: { ...model.graph, initializer: [externalTensor('t', 'float32', [1], { location: 'fc.onnx', offset: 1e6, length: 4 })] } }, dir),
    },
  ])('refuses $name with onnx.external-data', async ({ run }) => {
    const e = await (async () => run())().catch((x: unknown) => x);
    expect(isZipbankError(e, 'onnx.external-data'), String(e)).toBe(true);
  });
});
