/**
 * Tensor payloads: JS numbers to little-endian raw bytes of an ONNX element type
 * (float16 and bfloat16 included) and back, for constants and for reading
 * initializers of parsed models.
 *
 * @example
 *   const raw = encodeValues([1, 0.5], 'float16');   // 4 bytes
 *   readTensorValues({ dataType: 10, dims: [2], rawData: raw });   // Float32Array [1, 0.5]
 */
import { bf16ToFloat, floatToBf16, floatToHalf, halfToFloat } from '../weights/dtype.ts';
import { ZipbankError } from '../../errors/index.ts';
import { DATA_LOCATION_EXTERNAL, DTYPE_BYTES, dtypeFromOnnx, type DType, type OnnxTensor } from './types.ts';

/** Values a constant can be made of. */
export type Values = ArrayLike<number> | BigInt64Array | readonly bigint[];

/** The dtype a typed array stands for, when its type says so. */
export function dtypeOfArray(values: Values): DType | undefined {
  if (values instanceof Float32Array) return 'float32';
  if (values instanceof Float64Array) return 'float64';
  if (values instanceof Int32Array) return 'int32';
  if (values instanceof BigInt64Array) return 'int64';
  if (values instanceof Int8Array) return 'int8';
  if (values instanceof Uint8Array) return 'uint8';
  if (values instanceof Int16Array) return 'int16';
  if (values instanceof Uint32Array) return 'uint32';
  if (values instanceof BigUint64Array) return 'uint64';
  return undefined;
}

const asNumber = (v: number | bigint) => (typeof v === 'bigint' ? Number(v) : v);
const asBig = (v: number | bigint) => (typeof v === 'bigint' ? v : BigInt(Math.trunc(v)));

/** Encode values as raw little-endian bytes of `dtype` (floats are rounded to the type, integers truncated). */
export function encodeValues(values: Values, dtype: DType): Uint8Array {
  const n = values.length;
  const src = values as ArrayLike<number | bigint>;
  const out = new Uint8Array(n * DTYPE_BYTES[dtype]);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    const v = src[i]!;
    switch (dtype) {
      case 'float32': dv.setFloat32(i * 4, asNumber(v), true); break;
      case 'float64': dv.setFloat64(i * 8, asNumber(v), true); break;
      case 'float16': dv.setUint16(i * 2, floatToHalf(asNumber(v)), true); break;
      case 'bfloat16': dv.setUint16(i * 2, floatToBf16(asNumber(v)), true); break;
      case 'int64': dv.setBigInt64(i * 8, asBig(v), true); break;
      case 'uint64': dv.setBigUint64(i * 8, asBig(v), true); break;
      case 'int32': dv.setInt32(i * 4, asNumber(v), true); break;
      case 'uint32': dv.setUint32(i * 4, asNumber(v), true); break;
      case 'int16': dv.setInt16(i * 2, asNumber(v), true); break;
      case 'uint16': dv.setUint16(i * 2, asNumber(v), true); break;
      case 'int8': dv.setInt8(i, asNumber(v)); break;
      case 'uint8': dv.setUint8(i, asNumber(v)); break;
      case 'bool': dv.setUint8(i, asNumber(v) ? 1 : 0); break;
      case 'string': throw new ZipbankError('onnx.unsupported-dtype', { what: 'a constant', dtype });
    }
  }
  return out;
}

/** Decode raw little-endian bytes of `dtype` into JS numbers (float16/bfloat16 widened; int64 as Number). */
export function decodeValues(raw: Uint8Array, dtype: DType): Float64Array {
  const size = DTYPE_BYTES[dtype];
  const n = size ? raw.byteLength / size : 0;
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    switch (dtype) {
      case 'float32': out[i] = dv.getFloat32(i * 4, true); break;
      case 'float64': out[i] = dv.getFloat64(i * 8, true); break;
      case 'float16': out[i] = halfToFloat(dv.getUint16(i * 2, true)); break;
      case 'bfloat16': out[i] = bf16ToFloat(dv.getUint16(i * 2, true)); break;
      case 'int64': out[i] = Number(dv.getBigInt64(i * 8, true)); break;
      case 'uint64': out[i] = Number(dv.getBigUint64(i * 8, true)); break;
      case 'int32': out[i] = dv.getInt32(i * 4, true); break;
      case 'uint32': out[i] = dv.getUint32(i * 4, true); break;
      case 'int16': out[i] = dv.getInt16(i * 2, true); break;
      case 'uint16': out[i] = dv.getUint16(i * 2, true); break;
      case 'int8': out[i] = dv.getInt8(i); break;
      case 'uint8':
      case 'bool': out[i] = dv.getUint8(i); break;
      case 'string': break;
    }
  }
  return out;
}

/**
 * The values of an in-memory TensorProto (raw_data or the typed *_data fields; float16
 * and bfloat16 stored in int32_data as bit patterns are widened). External tensors
 * must be inlined first (see `inlineExternalData`).
 */
export function readTensorValues(t: OnnxTensor): Float64Array {
  const dtype = dtypeFromOnnx(t.dataType);
  if (!dtype || dtype === 'string') {
    throw new ZipbankError('onnx.unsupported-dtype', { what: `tensor ${t.name ?? '(unnamed)'}`, dtype: String(dtype ?? t.dataType) });
  }
  if (t.dataLocation === DATA_LOCATION_EXTERNAL) {
    throw new ZipbankError('onnx.external-data', { tensor: t.name ?? '(unnamed)', reason: 'its data is external; inline it first' });
  }
  if (t.rawData) return decodeValues(t.rawData, dtype);
  if (t.floatData) return Float64Array.from(t.floatData);
  if (t.doubleData) return Float64Array.from(t.doubleData);
  if (t.int64Data) return Float64Array.from(t.int64Data, Number);
  if (t.uint64Data) return Float64Array.from(t.uint64Data, Number);
  if (t.int32Data) {
    if (dtype === 'float16') return Float64Array.from(t.int32Data, halfToFloat);
    if (dtype === 'bfloat16') return Float64Array.from(t.int32Data, bf16ToFloat);
    return Float64Array.from(t.int32Data);
  }
  return new Float64Array(0);
}
