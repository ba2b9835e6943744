/**
 * Host tensors: typed arrays with an element type and dims, the only tensor type
 * the rest of zipbank passes to and gets from sessions. float16 data is held as
 * its bit patterns in a Uint16Array.
 *
 * @example
 *   const x = tensor('float32', new Float32Array(8 * 784), [8, 1, 28, 28]);
 *   const t = tensor('int64', BigInt64Array.from([1n, 2n]), [2, 1]);
 *   const out = await session.run({ input: x, 'input.1': t });
 *   asFloat32(out.output!);   // Float32Array, whatever the output's float type
 */
import { ZipbankError } from '../../errors/index.ts';
import { halfToFloat } from '../weights/dtype.ts';
import type { DType } from '../onnx/types.ts';
import { ortTensor, type OrtTensor, type OrtTensorType } from './ort.ts';

/** Element types a session takes and returns. */
export type TensorDType = Exclude<DType, 'bfloat16' | 'string'>;

export interface TensorArrays {
  float32: Float32Array;
  float64: Float64Array;
  float16: Uint16Array;
  int8: Int8Array;
  uint8: Uint8Array;
  int16: Int16Array;
  uint16: Uint16Array;
  int32: Int32Array;
  uint32: Uint32Array;
  int64: BigInt64Array;
  uint64: BigUint64Array;
  bool: Uint8Array;
}

export interface HostTensor<T extends TensorDType = TensorDType> {
  readonly dtype: T;
  readonly dims: readonly number[];
  readonly data: TensorArrays[T];
}

const ARRAY_TYPES: { [K in TensorDType]: new (n: number) => TensorArrays[K] } = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
};

/** A host tensor; checks that the array type and length fit the dtype and dims. */
export function tensor<T extends TensorDType>(dtype: T, data: TensorArrays[T], dims: readonly number[]): HostTensor<T> {
  const expected = dims.reduce((a, b) => a * b, 1);
  if (!(data instanceof ARRAY_TYPES[dtype]) || data.length !== expected) {
    throw new ZipbankError('runtime.bad-tensor', {
      dtype,
      dims: [...dims],
      reason: `got a ${data.constructor.name} of ${data.length} elements, needs a ${ARRAY_TYPES[dtype].name} of ${expected}`,
    });
  }
  return { dtype, dims: [...dims], data };
}

/** A zero-filled host tensor. */
export function zeros<T extends TensorDType>(dtype: T, dims: readonly number[]): HostTensor<T> {
  return tensor(dtype, new ARRAY_TYPES[dtype](dims.reduce((a, b) => a * b, 1)), dims);
}

/** The onnxruntime tensor for a host tensor (shares the data). */
export function toOrtTensor(t: HostTensor): OrtTensor {
  return ortTensor(t.dtype as OrtTensorType, t.data, t.dims);
}

/** The host tensor for an onnxruntime output (shares the data). */
export function fromOrtTensor(t: OrtTensor, name: string): HostTensor {
  const dtype = t.type as TensorDType;
  if (!(dtype in ARRAY_TYPES)) throw new ZipbankError('runtime.bad-tensor', { dtype: t.type, dims: [...t.dims], reason: `output ${name} has an unsupported type` });
  return { dtype, dims: [...t.dims], data: t.data as TensorArrays[typeof dtype] };
}

/** The values as Float32Array: float32 as is, float16 and others converted (int64 through Number). */
export function asFloat32(t: HostTensor): Float32Array {
  const d = t.data;
  if (d instanceof Float32Array) return d;
  if (t.dtype === 'float16') return Float32Array.from(d as Uint16Array, halfToFloat);
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) return Float32Array.from(d, Number);
  return Float32Array.from(d as ArrayLike<number>);
}
