/**
 * ONNX model serialization: `encodeModel` writes ModelProto bytes, `decodeModel`
 * parses them (fields outside the schema in `./schema.ts` are skipped, so files
 * from newer exporters still parse).
 *
 * @example
 *   const model = decodeModel(await readFile('unet.onnx'), { name: 'unet.onnx' });
 *   model.graph.node.length;
 *   await writeFile('copy.onnx', encodeModel(model));
 */
import type protobuf from 'protobufjs';
import { ZipbankError } from '../../errors/index.ts';
import { onnxType } from './schema.ts';
import type { Int64, OnnxModel } from './types.ts';

const INT64_TYPES = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

type Wire = Record<string, unknown>;

interface LongLike {
  toNumber(): number;
  toString(): string;
}

function fromLong(v: unknown): Int64 {
  if (typeof v === 'number') return v;
  const l = v as LongLike;
  const n = l.toNumber();
  return Number.isSafeInteger(n) ? n : BigInt(l.toString());
}

function toLong(v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

function convertField(field: protobuf.Field, v: unknown, dir: 'in' | 'out'): unknown {
  const t = field.resolvedType;
  if (t && 'fieldsArray' in t) return walk(t as protobuf.Type, v as Wire, dir);
  if (INT64_TYPES.has(field.type)) return dir === 'in' ? fromLong(v) : toLong(v);
  return v;
}

/** Copy a message, converting 64-bit integers (Long <-> number/bigint) and recursing into sub-messages. */
function walk(type: protobuf.Type, msg: Wire, dir: 'in' | 'out'): Wire {
  const out: Wire = {};
  for (const field of type.fieldsArray) {
    const name = field.name;
    if (!Object.prototype.hasOwnProperty.call(msg, name)) continue;
    const v = msg[name];
    if (v === undefined || v === null) continue;
    const simple = !field.resolvedType && !INT64_TYPES.has(field.type);
    if (field.repeated) {
      const arr = v as unknown[];
      if (arr.length === 0) continue;
      out[name] = simple ? arr : arr.map((x) => convertField(field, x, dir));
    } else {
      out[name] = simple ? v : convertField(field, v, dir);
    }
  }
  return out;
}

function defaults(model: Wire): OnnxModel {
  const m = model as unknown as OnnxModel;
  m.opsetImport ??= [];
  fillGraph(m.graph);
  for (const fn of m.functions ?? []) {
    fn.input ??= [];
    fn.output ??= [];
    fn.attribute ??= [];
    fn.attributeProto ??= [];
    fn.node ??= [];
    fn.valueInfo ??= [];
    fn.opsetImport ??= [];
    fn.node.forEach(fillNode);
  }
  return m;
}

function fillGraph(g: OnnxModel['graph']): void {
  g.name ??= '';
  g.node ??= [];
  g.initializer ??= [];
  g.input ??= [];
  g.output ??= [];
  g.valueInfo ??= [];
  for (const t of g.initializer) t.dims ??= [];
  g.node.forEach(fillNode);
}

function fillNode(n: OnnxModel['graph']['node'][number]): void {
  n.input ??= [];
  n.output ??= [];
  n.attribute ??= [];
  for (const a of n.attribute) {
    if (a.g) fillGraph(a.g);
    a.graphs?.forEach(fillGraph);
    if (a.t) a.t.dims ??= [];
  }
}

export interface DecodeOptions {
  /** Name used in error messages (a file name, or a description). */
  name?: string;
}

/** Parse ModelProto bytes. Throws `onnx.bad-model` for bytes that are not an ONNX model. */
export function decodeModel(bytes: Uint8Array, options: DecodeOptions = {}): OnnxModel {
  const name = options.name ?? 'the model';
  const type = onnxType('ModelProto');
  let msg: protobuf.Message;
  try {
    msg = type.decode(bytes);
  } catch (e) {
    throw new ZipbankError('onnx.bad-model', { model: name, reason: (e as Error).message }, { cause: e });
  }
  const wire = walk(type, msg as unknown as Wire, 'in');
  if (!wire.graph) throw new ZipbankError('onnx.bad-model', { model: name, reason: 'it has no graph' });
  return defaults(wire);
}

/** Serialize a model to ModelProto bytes. */
export function encodeModel(model: OnnxModel): Uint8Array {
  const type = onnxType('ModelProto');
  return type.encode(walk(type, model as unknown as Wire, 'out')).finish();
}
