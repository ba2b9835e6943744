/**
 * inferGraph against onnxruntime: every node output of real graphs (the exported
 * DDPM UNet, our tiny SD 1.5 / SDXL UNets and CLIP text encoders) and of small
 * hand-made graphs is made a graph output and run once on CPU; dims, dtypes and the
 * statically folded values must equal what the runtime produces, exactly. Plus the coded
 * errors for bad input sizes and unsupported ops.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isZipbankError } from '../../../src/errors/index.ts';
import { buildClipTextGraph } from '../../../src/engine/models/clip/graph.ts';
import { clipTextParams } from '../../../src/engine/models/clip/params.ts';
import { presetConfigs } from '../../../src/engine/models/presets.ts';
import type { UNetConfig } from '../../../src/engine/models/unet/config.ts';
import { buildUNetGraph } from '../../../src/engine/models/unet/graph.ts';
import { unetParams } from '../../../src/engine/models/unet/params.ts';
import { inferGraph, type TensorInfo } from '../../../src/engine/onnx/infer.ts';
import { attr, decodeModel, encodeValues, ONNX_DTYPE, toAttributes, type Attrs, type DType, type OnnxGraph, type OnnxModel, type OnnxNode, type OnnxTensor, type OnnxValueInfo } from '../../../src/engine/onnx/index.ts';
import { createRandom } from '../../../src/engine/pipeline/random.ts';
import { createSession, tensor, type Feeds, type HostTensor } from '../../../src/engine/runtime/index.ts';
import { halfToFloat } from '../../../src/engine/weights/dtype.ts';
import { randomParams } from '../models/graph-support.ts';

const DDPM = '/work/shared/fixtures/onnx/ddpm_mnist_unet_batch8_Andrew2077.onnx';

function numbers(t: HostTensor): Float64Array {
  if (t.dtype === 'float16') return Float64Array.from(t.data as Uint16Array, halfToFloat);
  return Float64Array.from(t.data as ArrayLike<number | bigint>, Number);
}

/**
 * Runs `model` with every node output as a graph output and checks each against
 * `info`. Returns how many outputs were checked and how many had folded values.
 */
async function crossCheck(model: OnnxModel, feeds: Feeds, info: Map<string, TensorInfo>): Promise<{ outputs: number; values: number }> {
  const names = [...new Set(model.graph.node.flatMap((n) => n.output.filter((o) => o)))];
  const output: OnnxValueInfo[] = names.map((name) => {
    const declared = model.graph.output.find((o) => o.name === name);
    return declared ?? { name, type: { tensorType: { elemType: ONNX_DTYPE[info.get(name)!.dtype] } } };
  });
  const all: OnnxModel = { ...model, graph: { ...model.graph, output } };
  const session = await createSession({ model: all, name: model.graph.name }, { provider: 'cpu', intraOpThreads: 1 });
  let values = 0;
  try {
    const out = await session.run(feeds);
    const mismatches: string[] = [];
    for (const name of names) {
      const got = out[name]!;
      const want = info.get(name)!;
      if (got.dtype !== want.dtype || got.dims.join() !== want.shape.join()) {
        mismatches.push(`${name}: runtime ${got.dtype}[${got.dims.join(', ')}], inferred ${want.dtype}[${want.shape.join(', ')}]`);
        continue;
      }
      if (!want.value) continue;
      values++;
      const real = numbers(got);
      const bad = Array.from(want.value).findIndex((v, i) => {
        const r = real[i]!;
        if (Number.isNaN(v) || Number.isNaN(r)) return Number.isNaN(v) !== Number.isNaN(r);
        return v !== r;
      });
      if (bad >= 0) mismatches.push(`${name}: value [${bad}] runtime ${real[bad]}, inferred ${want.value[bad]}`);
    }
    expect(mismatches).toEqual([]);
  } finally {
    await session.dispose();
  }
  return { outputs: names.length, values };
}

// ---------------------------------------------------------------------------
// Real graphs

function unetFeeds(cfg: UNetConfig, batch: number, seq: number, seed: number): { feeds: Feeds; shapes: Record<string, number[]> } {
  const rng = createRandom(seed);
  const f = (dims: number[]) => tensor('float32', rng.normals(dims.reduce((a, b) => a * b, 1)), dims);
  const feeds: Feeds = {
    sample: f([batch, cfg.inChannels, 16, 16]),
    timestep: tensor('float32', Float32Array.from({ length: batch }, (_, i) => 999 - 250.5 * i), [batch]),
    encoder_hidden_states: f([batch, seq, cfg.crossAttentionDim[0]!]),
  };
  if (cfg.addition) {
    feeds.text_embeds = f([batch, cfg.addition.projectionInputDim - 6 * cfg.addition.timeEmbedDim]);
    feeds.time_ids = tensor('float32', Float32Array.from({ length: batch * 6 }, (_, i) => [1024, 768, 0, 16, 1024, 1024][i % 6]!), [batch, 6]);
  }
  return { feeds, shapes: Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, [...t.dims]])) };
}

describe('inferGraph on real graphs, checked against onnxruntime', () => {
  it('the exported DDPM MNIST UNet (opset 15: Pow/ReduceMean/Sqrt norms, ConvTranspose, Gather embedding)', async () => {
    const model = decodeModel(new Uint8Array(readFileSync(DDPM)));
    const info = inferGraph(model.graph);
    expect(info.get('output')).toEqual({ dtype: 'float32', shape: [8, 1, 28, 28] });
    const rng = createRandom(3);
    const feeds: Feeds = {
      input: tensor('float32', rng.normals(8 * 28 * 28), [8, 1, 28, 28]),
      'input.1': tensor('int64', BigInt64Array.from({ length: 8 }, (_, i) => BigInt(i * 13)), [8, 1]),
    };
    const r = await crossCheck(model, feeds, info);
    expect(r.outputs).toBeGreaterThan(400);
    expect(r.values).toBeGreaterThan(5); // the Constant reshape targets
  });

  it.each([
    ['tiny-sd15', false],
    ['tiny-sdxl', false],
    ['tiny-sd15', true],
  ] as const)('%s UNet (fused attention %s) at sample [2, 4, 16, 16]', async (id, fused) => {
    const cfg = presetConfigs(id).unet;
    const { model } = buildUNetGraph(cfg, { weights: randomParams(unetParams(cfg), 5).weights, fusedAttention: fused, opset: fused ? 17 : id === 'tiny-sdxl' ? 18 : 17 });
    const { feeds, shapes } = unetFeeds(cfg, 2, 8, 11);
    const info = inferGraph(model.graph, shapes);
    expect(info.get('out_sample')).toEqual({ dtype: 'float32', shape: [2, cfg.outChannels, 16, 16] });
    const r = await crossCheck(model, feeds, info);
    expect(r.outputs).toBeGreaterThan(500);
    expect(r.values).toBeGreaterThan(30); // Shape -> ... -> Reshape targets
  });

  it.each(['tiny-sd15', 'tiny-sdxl'])('%s CLIP text encoder(s) at input_ids [2, 77]', async (id) => {
    const cfgs = presetConfigs(id);
    for (const cfg of [cfgs.textEncoder, cfgs.textEncoder2].filter((c) => c !== undefined)) {
      const { model } = buildClipTextGraph(cfg, { weights: randomParams(clipTextParams(cfg), 2).weights });
      const ids = new Int32Array(2 * 77).fill(cfg.vocabSize - 1);
      ids.set([49406, 320, 1125, 49407].map((t) => Math.min(t, cfg.vocabSize - 1)), 0);
      ids.set([49406, 530, 49407].map((t) => Math.min(t, cfg.vocabSize - 1)), 77);
      const info = inferGraph(model.graph, { input_ids: [2, 77] });
      const r = await crossCheck(model, { input_ids: tensor('int32', ids, [2, 77]) }, info);
      expect(r.outputs).toBeGreaterThan(50);
    }
  });
});

// ---------------------------------------------------------------------------
// Small graphs

let counter = 0;
const node = (opType: string, input: string[], output: string[], attrs?: Attrs, domain?: string): OnnxNode => ({
  opType,
  input,
  output,
  attribute: toAttributes(attrs),
  name: `${opType}_${counter++}`,
  ...(domain ? { domain } : {}),
});

const init = (name: string, dtype: DType, dims: number[], values: number[] | bigint[]): OnnxTensor => ({
  name,
  dataType: ONNX_DTYPE[dtype],
  dims,
  rawData: encodeValues(values, dtype),
});

const vi = (name: string, dtype: DType, dims: (number | string)[]): OnnxValueInfo => ({
  name,
  type: { tensorType: { elemType: ONNX_DTYPE[dtype], shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
});

function model(nodes: OnnxNode[], inputs: OnnxValueInfo[], initializers: OnnxTensor[] = [], opset = 17): OnnxModel {
  const graph: OnnxGraph = { name: 'small', node: nodes, initializer: initializers, input: inputs, output: [], valueInfo: [] };
  return { irVersion: 8, opsetImport: [{ domain: '', version: opset }, { domain: 'com.microsoft', version: 1 }], graph };
}

const iota = (n: number) => Array.from({ length: n }, (_, i) => i);
const floats = (dims: number[], seed = 1) => tensor('float32', createRandom(seed).normals(dims.reduce((a, b) => a * b, 1)), dims);

/** inferGraph, then the onnxruntime cross-check; returns the inferred table. */
async function check(m: OnnxModel, feeds: Feeds, shapes?: Record<string, number[]>): Promise<Map<string, TensorInfo>> {
  const info = inferGraph(m.graph, shapes ?? Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, [...t.dims]])));
  await crossCheck(m, feeds, info);
  return info;
}

const shapeOf = (info: Map<string, TensorInfo>, name: string) => info.get(name)?.shape;
const valueOf = (info: Map<string, TensorInfo>, name: string) => {
  const v = info.get(name)?.value;
  return v ? Array.from(v) : undefined;
};

function expectCoded(fn: () => unknown, reason: RegExp, detail: Partial<Record<'node' | 'op', string>> = {}) {
  try {
    fn();
  } catch (e) {
    expect(isZipbankError(e, 'onnx.infer-failed')).toBe(true);
    const d = (e as { details: { reason: string; node: string; op: string } }).details;
    expect(d.reason).toMatch(reason);
    if (detail.node) expect(d.node).toBe(detail.node);
    if (detail.op) expect(d.op).toBe(detail.op);
    return;
  }
  throw new Error('expected an onnx.infer-failed error');
}

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

describe('inferGraph on small graphs', () => {
  it('broadcasts elementwise ops and folds int64 arithmetic (Div truncates toward zero, Mod follows the divisor)', async () => {
    const m = model(
      [
        node('Add', ['x', 'y'], ['s']),
        node('Div', ['a', 'b'], ['q']),
        node('Mod', ['a', 'b'], ['r']),
        node('Mul', ['a', 'b'], ['p']),
        node('Less', ['a', 'b'], ['lt']),
        node('Where', ['lt', 'a', 'b'], ['w']),
        node('Cast', ['f'], ['fi'], { to: ONNX_DTYPE.int32 }),
        node('Max', ['a', 'b', 'c'], ['mx']),
      ],
      [vi('x', 'float32', [2, 1, 3]), vi('y', 'float32', [4, 'k'])],
      [
        init('a', 'int64', [2, 1], [7, -7]),
        init('b', 'int64', [3], [2, -3, 5]),
        init('c', 'int64', [], [0]),
        init('f', 'float32', [4], [1.7, -1.7, 2.5, -0.2]),
      ],
    );
    const info = await check(m, { x: floats([2, 1, 3]), y: floats([4, 1], 2) });
    expect(shapeOf(info, 's')).toEqual([2, 4, 3]);
    expect(valueOf(info, 'q')).toEqual([3, -2, 1, -3, 2, -1]);
    expect(valueOf(info, 'r')).toEqual([1, -2, 2, 1, -1, 3]);
    expect(valueOf(info, 'w')).toEqual([2, -3, 5, -7, -7, -7]);
    expect(valueOf(info, 'fi')).toEqual([1, -1, 2, 0]);
    expect(info.get('lt')?.dtype).toBe('bool');
    expect(valueOf(info, 'mx')).toEqual([7, 7, 7, 2, 0, 5]);
    expectCoded(() => inferGraph(m.graph, { x: [2, 1, 3], y: [4, 2] }), /do not broadcast/, { op: 'Add' });
  });

  it('folds Shape -> Gather -> Unsqueeze -> Concat -> Reshape with symbolic input dims (Reshape 0 and -1)', async () => {
    const m = model(
      [
        node('Shape', ['x'], ['sh']),
        node('Gather', ['sh', 'i0'], ['b'], { axis: 0 }),
        node('Shape', ['x'], ['tail'], { start: -2 }),
        node('ReduceProd', ['tail'], ['hw'], { keepdims: 1 }),
        node('Unsqueeze', ['b', 'ax0'], ['b1']),
        node('Concat', ['b1', 'minus1', 'hw'], ['target'], { axis: 0 }),
        node('Reshape', ['x', 'target'], ['y']),
        node('Reshape', ['x', 'zeros'], ['z']),
        node('Reshape', ['e', 'zeros2'], ['ez'], { allowzero: 1 }),
        node('Size', ['x'], ['n']),
        node('ConstantOfShape', ['tail'], ['ones'], { value: attr.tensor(init('v', 'int32', [1], [3])) }),
      ],
      [vi('x', 'float32', ['batch', 3, 'height', 'width']), vi('e', 'float32', [0, 4])],
      [
        init('i0', 'int64', [], [0]),
        init('ax0', 'int64', [1], [0]),
        init('minus1', 'int64', [1], [-1]),
        init('zeros', 'int64', [3], [0, 0, -1]),
        init('zeros2', 'int64', [2], [4, 0]),
      ],
    );
    const info = await check(m, { x: floats([2, 3, 5, 4]), e: tensor('float32', new Float32Array(0), [0, 4]) });
    expect(valueOf(info, 'target')).toEqual([2, -1, 20]);
    expect(shapeOf(info, 'y')).toEqual([2, 3, 20]);
    expect(shapeOf(info, 'z')).toEqual([2, 3, 20]);
    expect(shapeOf(info, 'ez')).toEqual([4, 0]);
    expect(valueOf(info, 'n')).toEqual([120]);
    expect(info.get('ones')).toEqual({ dtype: 'int32', shape: [5, 4], value: new Float64Array(20).fill(3) });
  });

  it('Slice with negative starts, INT64_MAX / INT64_MIN ends, negative and positive steps (inputs and opset-1 attributes)', async () => {
    const m = model(
      [
        node('Slice', ['v', 'st', 'en', 'ax', 'sp'], ['s1']),
        node('Slice', ['v', 'st2', 'en2'], ['s2']),
        node('Slice', ['x', 'st', 'en', 'ax', 'sp'], ['s3']),
      ],
      [vi('x', 'float32', [10, 6])],
      [
        init('v', 'int64', [10, 6], iota(60)),
        init('st', 'int64', [2], [-1, 1]),
        init('en', 'int64', [2], [INT64_MIN, INT64_MAX]),
        init('ax', 'int64', [2], [0, -1]),
        init('sp', 'int64', [2], [-3, 2]),
        init('st2', 'int64', [2], [8, -100]),
        init('en2', 'int64', [2], [INT64_MAX, -4n]),
      ],
    );
    const info = await check(m, { x: floats([10, 6]) });
    expect(shapeOf(info, 's1')).toEqual([4, 3]);
    expect(valueOf(info, 's1')).toEqual([55, 57, 59, 37, 39, 41, 19, 21, 23, 1, 3, 5]);
    expect(valueOf(info, 's2')).toEqual([48, 49, 54, 55]);
    expect(shapeOf(info, 's3')).toEqual([4, 3]);

    const old = model([node('Slice', ['x'], ['y'], { starts: [1], ends: [1000], axes: [1] })], [vi('x', 'float32', [2, 6])], [], 9);
    expect(inferGraph(old.graph).get('y')?.shape).toEqual([2, 5]);
  });

  it('Split with a split input, equally, and with num_outputs (opset 18, uneven)', async () => {
    const m13 = model(
      [node('Split', ['x', 'sizes'], ['a', 'b', 'c'], { axis: 1 }), node('Split', ['x'], ['d', 'e'], { axis: -1 }), node('Split', ['v'], ['v1', 'v2'])],
      [vi('x', 'float32', [2, 'c', 4])],
      [init('sizes', 'int64', [3], [1, 2, 3]), init('v', 'int64', [4], [5, 6, 7, 8])],
      13,
    );
    const info = await check(m13, { x: floats([2, 6, 4]) });
    expect([shapeOf(info, 'a'), shapeOf(info, 'b'), shapeOf(info, 'c')]).toEqual([[2, 1, 4], [2, 2, 4], [2, 3, 4]]);
    expect([shapeOf(info, 'd'), shapeOf(info, 'e')]).toEqual([[2, 6, 2], [2, 6, 2]]);
    expect([valueOf(info, 'v1'), valueOf(info, 'v2')]).toEqual([[5, 6], [7, 8]]);

    const m18 = model([node('Split', ['x'], ['a', 'b', 'c'], { axis: 1, num_outputs: 3 })], [vi('x', 'float32', [2, 7])], [], 18);
    const i18 = await check(m18, { x: floats([2, 7]) });
    expect([shapeOf(i18, 'a'), shapeOf(i18, 'b'), shapeOf(i18, 'c')]).toEqual([[2, 3], [2, 3], [2, 1]]);

    expectCoded(() => inferGraph(m13.graph, { x: [2, 5, 4] }), /do not add up/, { op: 'Split' });
  });

  it('Conv and ConvTranspose with stride 2, pads and output_padding; auto_pad SAME_UPPER', async () => {
    const m = model(
      [
        node('ConvTranspose', ['x', 'w', 'bias'], ['y'], { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] }),
        node('ConvTranspose', ['x', 'w'], ['y2'], { strides: [2, 2], auto_pad: 'SAME_UPPER' }),
        node('Conv', ['y', 'wc'], ['z'], { strides: [2, 2], pads: [1, 0, 1, 0], dilations: [1, 2] }),
        node('Conv', ['y', 'wc'], ['z2'], { strides: [3, 3], auto_pad: 'SAME_UPPER' }),
      ],
      [vi('x', 'float32', [1, 'c', 'h', 'w'])],
      [init('w', 'float32', [2, 3, 3, 3], Array(54).fill(0.1)), init('bias', 'float32', [3], [1, 2, 3]), init('wc', 'float32', [4, 3, 3, 3], Array(108).fill(0.2))],
    );
    const info = await check(m, { x: floats([1, 2, 5, 6]) });
    expect(shapeOf(info, 'y')).toEqual([1, 3, 10, 12]);
    expect(shapeOf(info, 'y2')).toEqual([1, 3, 10, 12]);
    expect(shapeOf(info, 'z')).toEqual([1, 4, 5, 4]);
    expect(shapeOf(info, 'z2')).toEqual([1, 4, 4, 4]);
    expectCoded(() => inferGraph(m.graph, { x: [1, 3, 5, 6] }), /channels/, { op: 'ConvTranspose' });
  });

  it('Resize by scales and by sizes; Pad, Tile, Expand, Transpose, Range, CumSum folds', async () => {
    const m = model(
      [
        node('Resize', ['x', '', 'scales'], ['r1'], { mode: 'nearest' }),
        node('Resize', ['x', '', '', 'sizes'], ['r2'], { mode: 'linear' }),
        node('Pad', ['v', 'pads', 'pv'], ['p']),
        node('Pad', ['v', 'pads'], ['pr'], { mode: 'reflect' }),
        node('Tile', ['v', 'reps'], ['t']),
        node('Expand', ['col', 'eshape'], ['ex']),
        node('Transpose', ['v'], ['tr']),
        node('Range', ['r0', 'r9', 'r2s'], ['rg']),
        node('CumSum', ['rg', 'ax0'], ['cs'], { exclusive: 1 }),
      ],
      [vi('x', 'float32', [1, 2, 3, 4])],
      [
        init('scales', 'float32', [4], [1, 1, 2, 1.5]),
        init('sizes', 'int64', [4], [1, 2, 5, 7]),
        init('v', 'int64', [2, 3], [1, 2, 3, 4, 5, 6]),
        init('pads', 'int64', [4], [1, 0, 0, 2]),
        init('pv', 'int64', [], [-1]),
        init('reps', 'int64', [2], [2, 1]),
        init('col', 'int64', [2, 1], [7, 8]),
        init('eshape', 'int64', [3], [2, 1, 3]),
        init('r0', 'int64', [], [0]),
        init('r9', 'int64', [], [9]),
        init('r2s', 'int64', [], [2]),
        init('ax0', 'int32', [], [0]),
      ],
      13,
    );
    const info = await check(m, { x: floats([1, 2, 3, 4]) });
    expect(shapeOf(info, 'r1')).toEqual([1, 2, 6, 6]);
    expect(shapeOf(info, 'r2')).toEqual([1, 2, 5, 7]);
    expect(valueOf(info, 'p')).toEqual([-1, -1, -1, -1, -1, 1, 2, 3, -1, -1, 4, 5, 6, -1, -1]);
    expect(shapeOf(info, 'pr')).toEqual([3, 5]);
    expect(valueOf(info, 't')).toEqual([1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6]);
    expect(valueOf(info, 'ex')).toEqual([7, 7, 7, 8, 8, 8, 7, 7, 7, 8, 8, 8]);
    expect(valueOf(info, 'tr')).toEqual([1, 4, 2, 5, 3, 6]);
    expect(valueOf(info, 'rg')).toEqual([0, 2, 4, 6, 8]);
    expect(valueOf(info, 'cs')).toEqual([0, 0, 2, 6, 12]);
  });

  it('ReduceMean keepdims 0/1 with attribute axes (opset 13) and input axes (opset 18); ArgMax; LayerNormalization statistics', async () => {
    const m13 = model(
      [
        node('ReduceMean', ['x'], ['k1'], { axes: [1, -1], keepdims: 1 }),
        node('ReduceMean', ['x'], ['k0'], { axes: [1], keepdims: 0 }),
        node('ReduceMean', ['x'], ['all'], { keepdims: 0 }),
        node('ReduceSum', ['v', 'ax'], ['sum'], { keepdims: 0 }),
        node('ArgMax', ['x'], ['am'], { axis: 2, keepdims: 0 }),
        node('LayerNormalization', ['x', 'g', 'b'], ['ln', 'mean', 'inv'], { axis: -2, epsilon: 1e-5 }),
      ],
      [vi('x', 'float32', [2, 3, 4])],
      [init('v', 'int64', [2, 3], [1, 2, 3, 4, 5, 6]), init('ax', 'int64', [1], [1]), init('g', 'float32', [3, 4], Array(12).fill(1)), init('b', 'float32', [4], [0, 0, 0, 0])],
      17,
    );
    const i13 = await check(m13, { x: floats([2, 3, 4]) });
    expect(shapeOf(i13, 'k1')).toEqual([2, 1, 1]);
    expect(shapeOf(i13, 'k0')).toEqual([2, 4]);
    expect(shapeOf(i13, 'all')).toEqual([]);
    expect(valueOf(i13, 'sum')).toEqual([6, 15]);
    expect(i13.get('am')).toEqual({ dtype: 'int64', shape: [2, 3] });
    expect(shapeOf(i13, 'mean')).toEqual([2, 1, 1]);

    const m18 = model(
      [
        node('ReduceMean', ['x', 'axes'], ['k1'], { keepdims: 1 }),
        node('ReduceMean', ['x', 'axes'], ['k0'], { keepdims: 0 }),
        node('ReduceMax', ['x', 'none'], ['same'], { noop_with_empty_axes: 1 }),
      ],
      [vi('x', 'float32', [2, 3, 4])],
      [init('axes', 'int64', [2], [0, -1]), init('none', 'int64', [0], [])],
      18,
    );
    const i18 = await check(m18, { x: floats([2, 3, 4]) });
    expect(shapeOf(i18, 'k1')).toEqual([1, 3, 1]);
    expect(shapeOf(i18, 'k0')).toEqual([3]);
    expect(shapeOf(i18, 'same')).toEqual([2, 3, 4]);
  });

  it('Gather/GatherND/GatherElements, Squeeze/Unsqueeze (inputs), Flatten, MatMul/Gemm, OneHot, ScatterND, Constant forms', async () => {
    const m = model(
      [
        node('Gather', ['v', 'gi'], ['g'], { axis: 1 }),
        node('GatherND', ['v', 'ndi'], ['gnd']),
        node('GatherElements', ['v', 'gei'], ['ge'], { axis: 1 }),
        node('Unsqueeze', ['v', 'uax'], ['u']),
        node('Squeeze', ['u', 'uax'], ['sq']),
        node('Flatten', ['x'], ['fl'], { axis: -1 }),
        node('MatMul', ['x', 'mw'], ['mm']),
        node('MatMul', ['vec', 'mw'], ['mv']),
        node('Gemm', ['fl', 'gw', 'gb'], ['gm'], { transB: 1 }),
        node('OneHot', ['oi', 'depth', 'ov'], ['oh'], { axis: 0 }),
        node('ScatterND', ['x', 'sni', 'snu'], ['sn']),
        node('Constant', [], ['c1'], { value_floats: [0.5, 2] }),
        node('Constant', [], ['c2'], { value_int: 7 }),
        node('Neg', ['c1'], ['nc']),
        node('Softmax', ['x'], ['sm'], { axis: 1 }),
      ],
      [vi('x', 'float32', [2, 3, 4]), vi('vec', 'float32', [4])],
      [
        init('v', 'int64', [2, 3], [1, 2, 3, 4, 5, 6]),
        init('gi', 'int64', [2, 2], [2, -3, 0, 1]),
        init('ndi', 'int64', [2, 2], [1, 2, 0, 0]),
        init('gei', 'int64', [2, 2], [2, 0, 1, 1]),
        init('uax', 'int64', [2], [-1, 0]),
        init('mw', 'float32', [4, 5], Array(20).fill(1)),
        init('gw', 'float32', [7, 4], Array(28).fill(1)),
        init('gb', 'float32', [7], Array(7).fill(0.5)),
        init('oi', 'int64', [3], [0, 2, 1]),
        init('depth', 'int64', [], [4]),
        init('ov', 'float32', [2], [0, 1]),
        init('sni', 'int64', [1, 1], [1]),
        init('snu', 'float32', [1, 3, 4], Array(12).fill(9)),
      ],
      17,
    );
    const info = await check(m, { x: floats([2, 3, 4]), vec: floats([4], 4) });
    expect(valueOf(info, 'g')).toEqual([3, 1, 1, 2, 6, 4, 4, 5]);
    expect(valueOf(info, 'gnd')).toEqual([6, 1]);
    expect(valueOf(info, 'ge')).toEqual([3, 1, 5, 5]);
    expect(shapeOf(info, 'u')).toEqual([1, 2, 3, 1]);
    expect(valueOf(info, 'sq')).toEqual([1, 2, 3, 4, 5, 6]);
    expect(shapeOf(info, 'fl')).toEqual([6, 4]);
    expect(shapeOf(info, 'mm')).toEqual([2, 3, 5]);
    expect(shapeOf(info, 'mv')).toEqual([5]);
    expect(shapeOf(info, 'gm')).toEqual([6, 7]);
    expect(shapeOf(info, 'oh')).toEqual([4, 3]);
    expect(valueOf(info, 'nc')).toEqual([-0.5, -2]);
    expect(info.get('c2')).toEqual({ dtype: 'int64', shape: [], value: Float64Array.of(7) });
  });

  it('com.microsoft MultiHeadAttention: [B, S, hidden of v]', async () => {
    const m = model([node('MultiHeadAttention', ['q', 'k', 'v'], ['o'], { num_heads: 2 }, 'com.microsoft')], [vi('q', 'float32', [2, 5, 8]), vi('k', 'float32', [2, 7, 8]), vi('v', 'float32', [2, 7, 6])]);
    const info = await check(m, { q: floats([2, 5, 8]), k: floats([2, 7, 8], 2), v: floats([2, 7, 6], 3) });
    expect(shapeOf(info, 'o')).toEqual([2, 5, 6]);
  });

  it('refuses bad input sizes, data-dependent sizes and unknown ops with onnx.infer-failed', () => {
    const g = model([node('Relu', ['x'], ['y'])], [vi('x', 'float32', ['batch', 3, 'n']), vi('m', 'float32', ['batch'])]).graph;
    expectCoded(() => inferGraph(g, { x: [2, 3, 4] }), /symbolic \("batch"\)/, { node: 'm', op: 'graph input' });
    expectCoded(() => inferGraph(g, { x: [2, 4, 4], m: [2] }), /declared dim 1 = 3/, { node: 'x' });
    expectCoded(() => inferGraph(g, { x: [2, 3], m: [2] }), /rank 2/);
    expectCoded(() => inferGraph(g, { x: [2, 3, 4], m: [3] }), /"batch" is 2/);
    expectCoded(() => inferGraph(g, { x: [2, 3, 4], m: [2], q: [1] }), /no graph input "q"/);
    expect(inferGraph(g, { x: [2, 3, 4], m: [2] }).get('y')).toEqual({ dtype: 'float32', shape: [2, 3, 4] });

    const dyn = model([node('Reshape', ['x', 's'], ['y'])], [vi('x', 'float32', [6]), vi('s', 'int64', [2])]).graph;
    expectCoded(() => inferGraph(dyn), /shape input "s" is not known statically/, { op: 'Reshape' });
    const bad = model([node('Reshape', ['x', 's'], ['y'])], [vi('x', 'float32', [6])], [init('s', 'int64', [2], [4, -1])]).graph;
    expectCoded(() => inferGraph(bad), /cannot take target \[4, -1\]/);
    const unknown = model([node('Einsum', ['x'], ['y'], { equation: 'ij->ji' })], [vi('x', 'float32', [2, 3])]).graph;
    expectCoded(() => inferGraph(unknown), /not supported/, { op: 'Einsum' });
    const foreign = model([node('Relu', ['x'], ['y'], undefined, 'com.example')], [vi('x', 'float32', [2])]).graph;
    expectCoded(() => inferGraph(foreign), /not supported/, { op: 'com.example.Relu' });
    const missing = model([node('Relu', ['nowhere'], ['y'])], [vi('x', 'float32', [2])]).graph;
    expectCoded(() => inferGraph(missing), /"nowhere" is not a graph input/);
  });
});
