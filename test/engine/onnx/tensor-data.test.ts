import { describe, expect, it } from 'vitest';
import { DTYPE_BYTES, ONNX_DTYPE, decodeValues, dtypeFromOnnx, dtypeOfArray, encodeValues, readTensorValues, type DType } from '../../../src/engine/onnx/index.ts';
import { isZipbankError } from '../../../src/errors/index.ts';

describe('encodeValues / decodeValues', () => {
  it.each<{ dtype: DType; values: number[]; back?: number[] }>([
    { dtype: 'float32', values: [1.5, -0.25, 3e10], back: [1.5, -0.25, Math.fround(3e10)] },
    { dtype: 'float64', values: [0.1, -1e300] },
    { dtype: 'float16', values: [1, -0.5, 65504], back: [1, -0.5, 65504] },
    { dtype: 'float16', values: [0.1], back: [0.0999755859375] },
    { dtype: 'bfloat16', values: [1, -2, 3.5] },
    { dtype: 'int64', values: [-3, 2 ** 40] },
    { dtype: 'uint64', values: [7] },
    { dtype: 'int32', values: [-5, 70000] },
    { dtype: 'uint32', values: [4e9] },
    { dtype: 'int16', values: [-300] },
    { dtype: 'uint16', values: [60000] },
    { dtype: 'int8', values: [-7] },
    { dtype: 'uint8', values: [200] },
    { dtype: 'bool', values: [0, 3], back: [0, 1] },
  ])('$dtype $values', ({ dtype, values, back }) => {
    const raw = encodeValues(values, dtype);
    expect(raw.byteLength).toBe(values.length * DTYPE_BYTES[dtype]);
    expect(Array.from(decodeValues(raw, dtype))).toEqual(back ?? values);
    expect(Array.from(readTensorValues({ dataType: ONNX_DTYPE[dtype], dims: [values.length], rawData: raw }))).toEqual(back ?? values);
  });

  it('takes bigints for 64-bit integers', () => {
    const raw = encodeValues(BigInt64Array.from([-(2n ** 62n), 5n]), 'int64');
    expect(new DataView(raw.buffer).getBigInt64(0, true)).toBe(-(2n ** 62n));
  });

  it('refuses string constants and external tensors', () => {
    expect(() => encodeValues([1], 'string')).toThrow(/string/);
    try {
      readTensorValues({ name: 'w', dataType: 1, dims: [1], dataLocation: 1, externalData: [{ key: 'location', value: 'x' }] });
      expect.unreachable();
    } catch (e) {
      expect(isZipbankError(e, 'onnx.external-data')).toBe(true);
    }
    expect(() => readTensorValues({ dataType: 14, dims: [1] })).toThrow(/14/);
  });

  it.each<[ArrayLike<number> | BigInt64Array, DType | undefined]>([
    [new Float32Array(1), 'float32'],
    [new Float64Array(1), 'float64'],
    [new Int32Array(1), 'int32'],
    [new BigInt64Array(1), 'int64'],
    [new Int8Array(1), 'int8'],
    [new Uint8Array(1), 'uint8'],
    [new Int16Array(1), 'int16'],
    [new Uint32Array(1), 'uint32'],
    [new BigUint64Array(1) as unknown as BigInt64Array, 'uint64'],
    [[1], undefined],
  ])('dtypeOfArray(%o) = %s', (values, dtype) => {
    expect(dtypeOfArray(values)).toBe(dtype);
  });

  it('maps ONNX type numbers both ways', () => {
    for (const [name, n] of Object.entries(ONNX_DTYPE)) expect(dtypeFromOnnx(n)).toBe(name);
    expect(dtypeFromOnnx(17)).toBeUndefined();
  });
});
