/**
 * Plain TypeScript shapes of an ONNX model, as `decodeModel` returns them and
 * `encodeModel` takes them. Optional fields are absent when the file does not set
 * them. 64-bit integers that fit a JS number are numbers; larger ones (e.g. the
 * INT64_MAX that exporters put in Slice ends) are bigints.
 *
 * @example
 *   const m: OnnxModel = { irVersion: 10, opsetImport: [{ domain: '', version: 17 }], graph };
 */

export type Int64 = number | bigint;

/** Element types by their onnxruntime names. */
export type DType =
  | 'float32'
  | 'uint8'
  | 'int8'
  | 'uint16'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'string'
  | 'bool'
  | 'float16'
  | 'float64'
  | 'uint32'
  | 'uint64'
  | 'bfloat16';

/** TensorProto.DataType numbers. */
export const ONNX_DTYPE: Readonly<Record<DType, number>> = Object.freeze({
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  string: 8,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
  bfloat16: 16,
});

/** Bytes per element (0 for string). */
export const DTYPE_BYTES: Readonly<Record<DType, number>> = Object.freeze({
  float32: 4,
  uint8: 1,
  int8: 1,
  uint16: 2,
  int16: 2,
  int32: 4,
  int64: 8,
  string: 0,
  bool: 1,
  float16: 2,
  float64: 8,
  uint32: 4,
  uint64: 8,
  bfloat16: 2,
});

const BY_NUMBER = new Map<number, DType>(Object.entries(ONNX_DTYPE).map(([k, v]) => [v, k as DType]));

/** The DType of a TensorProto.DataType number, or undefined for types zipbank does not handle (complex, float8, int4). */
export function dtypeFromOnnx(n: number): DType | undefined {
  return BY_NUMBER.get(n);
}

/** AttributeProto.AttributeType numbers. */
export const ATTR_TYPE = Object.freeze({
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
  SPARSE_TENSOR: 11,
  SPARSE_TENSORS: 12,
  TYPE_PROTO: 13,
  TYPE_PROTOS: 14,
});

export const DATA_LOCATION_EXTERNAL = 1;

export interface StringEntry {
  key: string;
  value: string;
}

export interface OpsetId {
  /** '' (or absent) is the default ai.onnx domain. */
  domain?: string;
  version: number;
}

export interface OnnxTensor {
  name?: string;
  /** TensorProto.DataType number (see ONNX_DTYPE). */
  dataType: number;
  dims: number[];
  rawData?: Uint8Array;
  floatData?: number[];
  int32Data?: number[];
  int64Data?: Int64[];
  doubleData?: number[];
  uint64Data?: Int64[];
  stringData?: Uint8Array[];
  /** DATA_LOCATION_EXTERNAL when `externalData` holds location/offset/length. */
  dataLocation?: number;
  externalData?: StringEntry[];
  docString?: string;
  metadataProps?: StringEntry[];
}

export interface OnnxSparseTensor {
  values?: OnnxTensor;
  indices?: OnnxTensor;
  dims: number[];
}

export interface OnnxDim {
  dimValue?: number;
  dimParam?: string;
  denotation?: string;
}

export interface OnnxType {
  tensorType?: { elemType: number; shape?: { dim: OnnxDim[] } };
  sparseTensorType?: { elemType: number; shape?: { dim: OnnxDim[] } };
  sequenceType?: { elemType?: OnnxType };
  mapType?: { keyType: number; valueType?: OnnxType };
  optionalType?: { elemType?: OnnxType };
  denotation?: string;
}

export interface OnnxValueInfo {
  name: string;
  type?: OnnxType;
  docString?: string;
  metadataProps?: StringEntry[];
}

export interface OnnxAttribute {
  name: string;
  /** ATTR_TYPE number. */
  type: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: OnnxTensor;
  g?: OnnxGraph;
  floats?: number[];
  ints?: Int64[];
  strings?: Uint8Array[];
  tensors?: OnnxTensor[];
  graphs?: OnnxGraph[];
  tp?: OnnxType;
  typeProtos?: OnnxType[];
  sparseTensor?: OnnxSparseTensor;
  sparseTensors?: OnnxSparseTensor[];
  refAttrName?: string;
  docString?: string;
}

export interface OnnxNode {
  name?: string;
  opType: string;
  domain?: string;
  overload?: string;
  input: string[];
  output: string[];
  attribute: OnnxAttribute[];
  docString?: string;
  metadataProps?: StringEntry[];
}

export interface OnnxGraph {
  name: string;
  node: OnnxNode[];
  initializer: OnnxTensor[];
  sparseInitializer?: OnnxSparseTensor[];
  input: OnnxValueInfo[];
  output: OnnxValueInfo[];
  valueInfo: OnnxValueInfo[];
  docString?: string;
  metadataProps?: StringEntry[];
}

export interface OnnxFunction {
  name: string;
  domain?: string;
  overload?: string;
  input: string[];
  output: string[];
  attribute: string[];
  attributeProto: OnnxAttribute[];
  node: OnnxNode[];
  valueInfo: OnnxValueInfo[];
  opsetImport: OpsetId[];
  docString?: string;
  metadataProps?: StringEntry[];
}

export interface OnnxModel {
  irVersion: number;
  opsetImport: OpsetId[];
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: number;
  docString?: string;
  graph: OnnxGraph;
  metadataProps?: StringEntry[];
  functions?: OnnxFunction[];
}
