/**
 * Initializers as ONNX external data: a tensor whose bytes stay in the original
 * safetensors file, named by (location, offset, length). `location` is relative to
 * the folder onnxruntime resolves external data against: the model file's folder,
 * or, for a model given as bytes, the session's external-data folder (see
 * `runtime/session.ts`). Checked with onnxruntime-node 1.30: unaligned offsets
 * work from a model path and from bytes with the session config entry
 * `session.model_external_initializers_file_folder_path`; bytes without that
 * entry fail to load ("external data path ... escapes working directory").
 *
 * @example
 *   const header = await readSafetensorsHeader(`${root}/unet/diffusion_pytorch_model.safetensors`);
 *   const weights = safetensorsWeights({ header, location: 'unet/diffusion_pytorch_model.safetensors' });
 *   const g = new GraphBuilder('unet', { weights });
 *   g.scope('conv_in', () => g.param('weight'));   // external initializer 'conv_in.weight'
 */
import { open } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { ZipbankError } from '../../errors/index.ts';
import type { Dtype as SafetensorsDtype } from '../weights/dtype.ts';
import type { SafetensorsHeader } from '../weights/safetensors.ts';
import { decodeValues, encodeValues, type Values } from './tensor-data.ts';
import { DATA_LOCATION_EXTERNAL, DTYPE_BYTES, ONNX_DTYPE, dtypeFromOnnx, type DType, type OnnxGraph, type OnnxModel, type OnnxTensor } from './types.ts';

/** Where an initializer's bytes live. */
export interface ExternalRef {
  /** Path relative to the external-data folder, '/'-separated. */
  location: string;
  /** Absolute byte offset in that file. */
  offset: number;
  length: number;
}

/** How to make an initializer: values, raw little-endian bytes, or an external span. */
export type InitializerSpec = { dtype: DType; shape: readonly number[] } & (
  | { values: Values; raw?: undefined; external?: undefined }
  | { raw: Uint8Array; values?: undefined; external?: undefined }
  | { external: ExternalRef; values?: undefined; raw?: undefined }
);

/** Weights by full parameter name (e.g. 'down_blocks.0.resnets.0.conv1.weight'). */
export interface WeightSource {
  get(name: string): InitializerSpec | undefined;
  /** For messages, e.g. the file names. */
  readonly description: string;
}

const FROM_SAFETENSORS: Partial<Record<SafetensorsDtype, DType>> = {
  F64: 'float64',
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  U16: 'uint16',
  U32: 'uint32',
  U64: 'uint64',
  BOOL: 'bool',
};

/** The ONNX element type of a safetensors dtype (undefined for float8). */
export function dtypeFromSafetensors(d: SafetensorsDtype): DType | undefined {
  return FROM_SAFETENSORS[d];
}

/**
 * Weights that point into safetensors files (several for sharded checkpoints or a
 * model made of components). The first file holding a name wins.
 */
export function safetensorsWeights(
  files: { header: SafetensorsHeader; location: string } | readonly { header: SafetensorsHeader; location: string }[],
): WeightSource {
  const list = Array.isArray(files) ? files : [files as { header: SafetensorsHeader; location: string }];
  return {
    description: list.map((f) => f.location).join(', '),
    get(name) {
      for (const { header, location } of list) {
        const t = header.byName.get(name);
        if (!t) continue;
        const dtype = dtypeFromSafetensors(t.dtype);
        if (!dtype) throw new ZipbankError('onnx.unsupported-dtype', { what: `weight ${name} in ${header.file}`, dtype: t.dtype });
        return { dtype, shape: t.shape, external: { location, offset: t.begin, length: t.end - t.begin } };
      }
      return undefined;
    },
  };
}

/** Weights held in memory (tests, generated or random weights). */
export function memoryWeights(weights: Record<string, InitializerSpec>, description = 'in-memory weights'): WeightSource {
  return { description, get: (name) => weights[name] };
}

/** An external-data TensorProto. */
export function externalTensor(name: string, dtype: DType, shape: readonly number[], ref: ExternalRef): OnnxTensor {
  const expected = shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
  if (ref.length !== expected) {
    throw new ZipbankError('onnx.external-data', {
      tensor: name,
      reason: `${ref.length} bytes at ${ref.location}:${ref.offset} but ${dtype}[${shape.join(', ')}] needs ${expected}`,
    });
  }
  return {
    name,
    dataType: ONNX_DTYPE[dtype],
    dims: [...shape],
    dataLocation: DATA_LOCATION_EXTERNAL,
    externalData: [
      { key: 'location', value: ref.location },
      { key: 'offset', value: String(ref.offset) },
      { key: 'length', value: String(ref.length) },
    ],
  };
}

/** The (location, offset, length) of an external tensor, or undefined for an in-memory one. */
export function externalRef(t: OnnxTensor): ExternalRef | undefined {
  if (t.dataLocation !== DATA_LOCATION_EXTERNAL) return undefined;
  const get = (k: string) => t.externalData?.find((e) => e.key === k)?.value;
  const location = get('location');
  if (location === undefined) throw new ZipbankError('onnx.external-data', { tensor: t.name ?? '(unnamed)', reason: 'no location' });
  const offset = Number(get('offset') ?? 0);
  const dtype = dtypeFromOnnx(t.dataType);
  const length = Number(get('length') ?? (dtype ? t.dims.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype] : NaN));
  return { location, offset, length };
}

export interface InlineOptions {
  /** Convert element types while inlining, e.g. { float16: 'float32' }. */
  convert?: Partial<Record<DType, DType>>;
  /** Told how many tensors were inlined and converted. */
  log?: (message: string) => void;
}

/**
 * A copy of the model with every external initializer read from `dir` into raw_data
 * (optionally converted, e.g. float16 -> float32). For small models and for
 * providers that need another element type than the file stores; large models keep
 * external data and cast in-graph instead (`GraphBuilder.param(name, { dtype })`).
 */
export async function inlineExternalData(model: OnnxModel, dir: string, options: InlineOptions = {}): Promise<OnnxModel> {
  let inlined = 0;
  let converted = 0;
  const handles = new Map<string, Awaited<ReturnType<typeof open>>>();
  const inline = async (t: OnnxTensor): Promise<OnnxTensor> => {
    const ref = externalRef(t);
    if (!ref) return t;
    const name = t.name ?? '(unnamed)';
    if (isAbsolute(ref.location) || ref.location.split(/[\\/]/).includes('..')) {
      throw new ZipbankError('onnx.external-data', { tensor: name, reason: `location ${ref.location} leaves the model folder` });
    }
    const path = resolve(dir, ref.location);
    let fh = handles.get(path);
    if (!fh) {
      try {
        fh = await open(path, 'r');
      } catch (e) {
        throw new ZipbankError('onnx.external-data', { tensor: name, reason: `cannot open ${path}: ${(e as Error).message}` }, { cause: e });
      }
      handles.set(path, fh);
    }
    const raw = new Uint8Array(ref.length);
    const { bytesRead } = await fh.read(raw, 0, ref.length, ref.offset);
    if (bytesRead !== ref.length) {
      throw new ZipbankError('onnx.external-data', { tensor: name, reason: `${path} ends before byte ${ref.offset + ref.length}` });
    }
    inlined++;
    const from = dtypeFromOnnx(t.dataType);
    const to = from ? options.convert?.[from] : undefined;
    const { externalData: _e, dataLocation: _d, ...rest } = t;
    if (!from || !to || to === from) return { ...rest, rawData: raw };
    converted++;
    return { ...rest, dataType: ONNX_DTYPE[to], rawData: encodeValues(decodeValues(raw, from), to) };
  };
  const graph = async (g: OnnxGraph): Promise<OnnxGraph> => {
    const initializer: OnnxTensor[] = [];
    for (const t of g.initializer) initializer.push(await inline(t));
    return { ...g, initializer };
  };
  try {
    const out = { ...model, graph: await graph(model.graph) };
    options.log?.(`inlined ${inlined} external initializers from ${dir}${converted ? `, ${converted} converted (${JSON.stringify(options.convert)})` : ''}`);
    return out;
  } finally {
    for (const fh of handles.values()) await fh.close();
  }
}
