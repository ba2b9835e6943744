import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import {
  ATTR_TYPE,
  GraphBuilder,
  ONNX_DTYPE,
  attr,
  decodeModel,
  encodeModel,
  encodeValues,
  readTensorValues,
  type OnnxModel,
  type OnnxTensor,
} from '../../../src/engine/onnx/index.ts';
import { onnxType } from '../../../src/engine/onnx/schema.ts';
import { isZipbankError } from '../../../src/errors/index.ts';

const FIXTURE = new URL('../../../../shared/fixtures/onnx/ddpm_mnist_unet_batch8_Andrew2077.onnx', import.meta.url);
const INT64_MAX = 9223372036854775807n;

function tinyModel(): OnnxModel {
  const g = new GraphBuilder('tiny');
  g.output(g.op('Relu', [g.input('x', 'float32', ['n', 2])], {}, { output: { shape: ['n', 2] } }), 'y');
  return g.build();
}

describe('decodeModel on a PyTorch export', () => {
  const bytes = readFileSync(FIXTURE);
  const model = decodeModel(bytes, { name: 'ddpm' });

  it('reads the model header, graph and io', () => {
    expect(model.irVersion).toBe(8);
    expect(model.opsetImport).toEqual([{ version: 15 }]);
    expect(model.producerName).toBe('pytorch');
    expect(model.graph.node).toHaveLength(437);
    expect(model.graph.initializer).toHaveLength(153);
    expect(model.graph.input.map((i) => [i.name, i.type?.tensorType?.elemType, i.type?.tensorType?.shape?.dim.map((d) => d.dimValue)])).toEqual([
      ['input', ONNX_DTYPE.float32, [8, 1, 28, 28]],
      ['input.1', ONNX_DTYPE.int64, [8, 1]],
    ]);
    expect(model.graph.output.map((o) => o.name)).toEqual(['output']);
  });

  it('reads initializers and Constant tensors', () => {
    const emb = model.graph.initializer.find((t) => t.name === 'time_embed.weight')!;
    expect(emb.dims).toEqual([100, 100]);
    expect(readTensorValues(emb)).toHaveLength(10000);
    const constants = model.graph.node.filter((n) => n.opType === 'Constant');
    expect(constants.length).toBeGreaterThan(0);
    expect(constants.every((n) => n.attribute[0]?.type === ATTR_TYPE.TENSOR && n.attribute[0].t !== undefined)).toBe(true);
  });

  it('re-encodes to the same bytes', () => {
    expect(Buffer.compare(Buffer.from(encodeModel(model)), bytes)).toBe(0);
  });
});

describe('encodeModel / decodeModel round trip', () => {
  it('keeps every attribute type, including int64 beyond 2^53', () => {
    const g = new GraphBuilder('attrs');
    const x = g.input('x', 'float32', [1]);
    const sub = new GraphBuilder('branch');
    sub.output(sub.input('z', 'float32', [1]));
    const t: OnnxTensor = { name: 't', dataType: ONNX_DTYPE.float32, dims: [2], floatData: [1.5, -2] };
    g.output(
      g.op('Custom', [x], {
        f: 0.25,
        i: INT64_MAX,
        neg: -(2n ** 63n),
        s: 'nearest',
        t: attr.tensor(t),
        g: attr.graph(sub.buildGraph()),
        floats: [0.5, 1.5],
        ints: attr.ints([1, -1, INT64_MAX]),
        strings: ['a', 'b'],
        flag: true,
      }, { domain: 'test.domain' }),
    );
    const model = g.build({ domains: { 'test.domain': 3 }, metadata: { purpose: 'test' }, docString: 'doc' });
    const back = decodeModel(encodeModel(model));
    expect(back.opsetImport).toEqual([{ domain: '', version: 17 }, { domain: 'test.domain', version: 3 }]);
    expect(back.metadataProps).toEqual([{ key: 'purpose', value: 'test' }]);
    expect(back.docString).toBe('doc');
    const node = back.graph.node[0]!;
    const a = Object.fromEntries(node.attribute.map((x) => [x.name, x]));
    expect(a.f).toMatchObject({ type: ATTR_TYPE.FLOAT, f: 0.25 });
    expect(a.i).toMatchObject({ type: ATTR_TYPE.INT, i: INT64_MAX });
    expect(a.neg!.i).toBe(-(2n ** 63n));
    expect(new TextDecoder().decode(a.s!.s)).toBe('nearest');
    expect(a.t!.t).toMatchObject({ name: 't', dims: [2], floatData: [1.5, -2] });
    expect(a.g!.g!.name).toBe('branch');
    expect(a.floats!.floats).toEqual([0.5, 1.5]);
    expect(a.ints!.ints).toEqual([1, -1, INT64_MAX]);
    expect(a.strings!.strings!.map((b) => new TextDecoder().decode(b))).toEqual(['a', 'b']);
    expect(a.flag).toMatchObject({ type: ATTR_TYPE.INT, i: 1 });
    expect(node.domain).toBe('test.domain');
  });

  it.each<{ name: string; tensor: OnnxTensor; values: number[] }>([
    { name: 'raw_data float16', tensor: { dataType: ONNX_DTYPE.float16, dims: [2], rawData: encodeValues([1, -0.5], 'float16') }, values: [1, -0.5] },
    { name: 'float_data', tensor: { dataType: ONNX_DTYPE.float32, dims: [2], floatData: [3, 4] }, values: [3, 4] },
    { name: 'int32_data', tensor: { dataType: ONNX_DTYPE.int32, dims: [3], int32Data: [1, -2, 3] }, values: [1, -2, 3] },
    { name: 'int32_data holding float16 bits', tensor: { dataType: ONNX_DTYPE.float16, dims: [1], int32Data: [0x3c00] }, values: [1] },
    { name: 'int64_data', tensor: { dataType: ONNX_DTYPE.int64, dims: [2], int64Data: [5, -7] }, values: [5, -7] },
    { name: 'double_data', tensor: { dataType: ONNX_DTYPE.float64, dims: [1], doubleData: [0.1] }, values: [0.1] },
    { name: 'uint64_data', tensor: { dataType: ONNX_DTYPE.uint64, dims: [1], uint64Data: [42] }, values: [42] },
  ])('keeps tensor payloads: $name', ({ tensor, values }) => {
    const model = tinyModel();
    model.graph.initializer.push({ ...tensor, name: 'w' });
    const back = decodeModel(encodeModel(model)).graph.initializer.find((t) => t.name === 'w')!;
    expect(back.dims).toEqual(tensor.dims);
    expect(Array.from(readTensorValues(back))).toEqual(values);
  });

  it('keeps external data entries and string data', () => {
    const model = tinyModel();
    model.graph.initializer.push({
      name: 'ext',
      dataType: ONNX_DTYPE.float32,
      dims: [4],
      dataLocation: 1,
      externalData: [
        { key: 'location', value: 'w.safetensors' },
        { key: 'offset', value: '195' },
        { key: 'length', value: '16' },
      ],
    });
    model.graph.initializer.push({ name: 's', dataType: ONNX_DTYPE.string, dims: [1], stringData: [new TextEncoder().encode('hi')] });
    const back = decodeModel(encodeModel(model)).graph.initializer;
    expect(back[0]).toMatchObject({ name: 'ext', dataLocation: 1, externalData: model.graph.initializer[0]!.externalData });
    expect(new TextDecoder().decode(back[1]!.stringData![0])).toBe('hi');
  });

  it('keeps symbolic and static dims of graph inputs', () => {
    const back = decodeModel(encodeModel(tinyModel()));
    expect(back.graph.input[0]!.type!.tensorType!.shape!.dim).toEqual([{ dimParam: 'n' }, { dimValue: 2 }]);
  });
});

describe('parsing tolerates what it does not know', () => {
  it('skips unknown fields at every level', () => {
    const model = tinyModel();
    const unknown = protobuf.Writer.create()
      .uint32((99 << 3) | 0).uint64(12345)
      .uint32((98 << 3) | 2).bytes(new Uint8Array([1, 2, 3]))
      .uint32((97 << 3) | 5).fixed32(7)
      .uint32((96 << 3) | 1).fixed64(8)
      .finish();
    const graphBytes = onnxType('GraphProto').encode(model.graph).finish();
    const { graph: _g, ...header } = model;
    const head = encodeModel({ ...header, graph: undefined as never });
    const bytes = Buffer.concat([
      unknown,
      head,
      protobuf.Writer.create().uint32((7 << 3) | 2).bytes(Buffer.concat([graphBytes, unknown])).finish(),
      unknown,
    ]);
    const back = decodeModel(bytes);
    expect(back.graph.node.map((n) => n.opType)).toEqual(['Relu', 'Identity']);
    expect(back.irVersion).toBe(model.irVersion);
  });

  it.each([
    { name: 'garbage', bytes: new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff]) },
    { name: 'a model without a graph', bytes: protobuf.Writer.create().uint32(8).uint32(8).finish() },
    { name: 'a truncated model', bytes: readFileSync(FIXTURE).subarray(0, 1000) },
  ])('refuses $name with onnx.bad-model', ({ bytes }) => {
    try {
      decodeModel(bytes, { name: 'x.onnx' });
      expect.unreachable();
    } catch (e) {
      expect(isZipbankError(e, 'onnx.bad-model')).toBe(true);
      expect((e as Error).message).toContain('x.onnx');
    }
  });
});
