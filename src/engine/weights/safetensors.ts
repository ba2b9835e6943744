/**
 * Safetensors: read and validate a header without loading the file, read single
 * tensors, hash the file in one bounded-memory pass, and write files.
 *
 * Layout: 8-byte little-endian header length N, N bytes of JSON, then the data
 * area. Each tensor's `data_offsets` are relative to the data area.
 *
 * @example
 *   const st = await readSafetensorsHeader('lora.safetensors');
 *   for (const t of st.tensors) console.log(t.name, t.dtype, t.shape);
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { ZipbankError } from '../../errors/index.ts';
import { DTYPE_SIZES, isDtype, toFloat32, type Dtype } from './dtype.ts';

/** The reference reader refuses headers over 100 MB. */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorInfo {
  name: string;
  dtype: Dtype;
  shape: number[];
  /** Absolute byte offsets in the file, [begin, end). */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** Name used in messages (the file's base name unless given). */
  file: string;
  path: string;
  size: number;
  headerLength: number;
  /** Absolute offset of the data area. */
  dataOffset: number;
  /** Tensors in file order. */
  tensors: TensorInfo[];
  byName: Map<string, TensorInfo>;
  metadata: Record<string, string>;
}

export interface ReadHeaderOptions {
  /** Name to use in error messages (defaults to the base name of the path). */
  displayName?: string;
  maxHeaderBytes?: number;
}

function sniffForeign(file: string, head: Uint8Array): void {
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) {
    throw new ZipbankError('safetensors.pickle', { file, kind: 'zip' });
  }
  // Pickle protocol 2-5 opcode PROTO, or protocol 0/1 streams that start with '(' / '}' / ']' followed by opcodes.
  if (head.length >= 2 && head[0] === 0x80 && head[1]! >= 2 && head[1]! <= 5) {
    throw new ZipbankError('safetensors.pickle', { file, kind: 'pickle' });
  }
}

/**
 * Validate a parsed header JSON against the file size and return the tensor table.
 * Checks: known dtypes, integer shapes, span size = prod(shape) * dtype size,
 * spans inside the file, no overlaps, no gaps, no trailing bytes.
 */
export function validateHeader(
  file: string,
  json: unknown,
  headerLength: number,
  size: number,
): { tensors: TensorInfo[]; metadata: Record<string, string> } {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ZipbankError('safetensors.header-shape', { file, reason: 'the header is not a JSON object' });
  }
  const dataOffset = 8 + headerLength;
  const dataSize = size - dataOffset;
  const metadata: Record<string, string> = {};
  const tensors: TensorInfo[] = [];
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
        throw new ZipbankError('safetensors.header-shape', { file, reason: '__metadata__ is not an object' });
      }
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') {
          throw new ZipbankError('safetensors.header-shape', { file, reason: `__metadata__ value "${k}" is not a string` });
        }
        metadata[k] = v;
      }
      continue;
    }
    if (typeof raw !== 'object' || raw === null) {
      throw new ZipbankError('safetensors.header-shape', { file, reason: `entry "${name}" is not an object` });
    }
    const { dtype, shape, data_offsets: offsets } = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== 'string') {
      throw new ZipbankError('safetensors.header-shape', { file, reason: `tensor "${name}" has no dtype` });
    }
    if (!isDtype(dtype)) throw new ZipbankError('safetensors.unknown-dtype', { file, tensor: name, dtype });
    if (!Array.isArray(shape) || !shape.every((n) => Number.isSafeInteger(n) && n >= 0)) {
      throw new ZipbankError('safetensors.header-shape', { file, reason: `tensor "${name}" has an invalid shape` });
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((n) => Number.isSafeInteger(n) && n >= 0) ||
      offsets[1] < offsets[0]
    ) {
      throw new ZipbankError('safetensors.header-shape', { file, reason: `tensor "${name}" has invalid data_offsets` });
    }
    const [b, e] = offsets as [number, number];
    const expected = (shape as number[]).reduce((a, n) => a * n, 1) * DTYPE_SIZES[dtype];
    if (e - b !== expected) {
      throw new ZipbankError('safetensors.span-size', {
        file,
        tensor: name,
        shape: shape as number[],
        dtype,
        expected,
        actual: e - b,
      });
    }
    if (e > dataSize) {
      throw new ZipbankError('safetensors.truncated', { file, tensor: name, end: dataOffset + e, size });
    }
    tensors.push({ name, dtype, shape: shape as number[], begin: dataOffset + b, end: dataOffset + e });
  }
  const sorted = [...tensors].sort((x, y) => x.begin - y.begin || x.end - y.end);
  let cursor = dataOffset;
  let prev: TensorInfo | undefined;
  for (const t of sorted) {
    if (t.begin < cursor && prev) throw new ZipbankError('safetensors.overlap', { file, tensor: t.name, other: prev.name });
    if (t.begin > cursor) throw new ZipbankError('safetensors.gap', { file, at: t.begin - cursor, tensor: t.name });
    cursor = t.end;
    prev = t;
  }
  if (cursor !== size) throw new ZipbankError('safetensors.trailing', { file, end: cursor, size });
  tensors.sort((x, y) => x.begin - y.begin);
  return { tensors, metadata };
}

async function readExactly(fh: FileHandle, length: number, position: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/** Read and fully validate the header of a safetensors file. Reads only the header bytes. */
export async function readSafetensorsHeader(path: string, options: ReadHeaderOptions = {}): Promise<SafetensorsHeader> {
  const file = options.displayName ?? basename(path);
  const limit = options.maxHeaderBytes ?? MAX_HEADER_BYTES;
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw new ZipbankError('safetensors.io', { file, reason: (e as NodeJS.ErrnoException).code ?? String(e) }, { cause: e });
  }
  try {
    const { size } = await fh.stat();
    if (size === 0) throw new ZipbankError('safetensors.empty', { file });
    const head = await readExactly(fh, Math.min(size, 16), 0);
    sniffForeign(file, head);
    if (size < 8) throw new ZipbankError('safetensors.too-small', { file, size });
    const n = head.readBigUInt64LE(0);
    if (n > BigInt(limit)) {
      throw new ZipbankError('safetensors.header-too-large', { file, headerLength: Number(n), limit });
    }
    const headerLength = Number(n);
    if (8 + headerLength > size) {
      throw new ZipbankError('safetensors.header-past-eof', { file, headerLength, size });
    }
    const text = (await readExactly(fh, headerLength, 8)).toString('utf8');
    if (!text.trimStart().startsWith('{')) {
      throw new ZipbankError('safetensors.header-json', { file, reason: 'it does not start with "{"' });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new ZipbankError('safetensors.header-json', { file, reason: (e as Error).message }, { cause: e });
    }
    const { tensors, metadata } = validateHeader(file, json, headerLength, size);
    return {
      file,
      path,
      size,
      headerLength,
      dataOffset: 8 + headerLength,
      tensors,
      byName: new Map(tensors.map((t) => [t.name, t])),
      metadata,
    };
  } finally {
    await fh.close();
  }
}

export interface SafetensorsHashes {
  /** SHA-256 of the whole file, hex. */
  sha256: string;
  /** SHA-256 of the data area only (kohya's "addnet" hash): unchanged by metadata edits. */
  tensorSha256: string;
}

/** Hash a (validated) safetensors file in one streaming pass; memory stays bounded. */
export async function hashSafetensors(header: Pick<SafetensorsHeader, 'path' | 'dataOffset'>): Promise<SafetensorsHashes> {
  const whole = createHash('sha256');
  const data = createHash('sha256');
  let pos = 0;
  const stream = createReadStream(header.path, { highWaterMark: 1 << 20 });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    whole.update(chunk);
    const start = Math.max(0, header.dataOffset - pos);
    if (start < chunk.length) data.update(start === 0 ? chunk : chunk.subarray(start));
    pos += chunk.length;
  }
  return { sha256: whole.digest('hex'), tensorSha256: data.digest('hex') };
}

/** Random access to the tensors of one validated file. */
export class SafetensorsFile {
  private constructor(
    readonly header: SafetensorsHeader,
    private readonly fh: FileHandle,
  ) {}

  static async open(path: string, options: ReadHeaderOptions = {}): Promise<SafetensorsFile> {
    const header = await readSafetensorsHeader(path, options);
    const fh = await open(path, 'r');
    return new SafetensorsFile(header, fh);
  }

  get tensors(): TensorInfo[] {
    return this.header.tensors;
  }

  get metadata(): Record<string, string> {
    return this.header.metadata;
  }

  info(name: string): TensorInfo {
    const t = this.header.byName.get(name);
    if (!t) throw new ZipbankError('safetensors.missing-tensor', { file: this.header.file, tensor: name });
    return t;
  }

  has(name: string): boolean {
    return this.header.byName.has(name);
  }

  /** The tensor's raw little-endian bytes. */
  async readRaw(name: string): Promise<Buffer> {
    const t = this.info(name);
    return readExactly(this.fh, t.end - t.begin, t.begin);
  }

  /** The tensor as Float32 (F16/BF16/F64 converted). */
  async readFloat32(name: string): Promise<Float32Array> {
    const t = this.info(name);
    return toFloat32(await this.readRaw(name), t.dtype);
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

export interface TensorToWrite {
  name: string;
  dtype: Dtype;
  shape: number[];
  /** Raw little-endian bytes, exactly prod(shape) * dtype size. */
  data: Uint8Array;
}

/**
 * Serialise tensors to safetensors bytes (tensors in the given order, header padded
 * with spaces to a multiple of 8 as the reference writer does).
 */
export function encodeSafetensors(tensors: TensorToWrite[], metadata?: Record<string, string>): Buffer {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const expected = t.shape.reduce((a, n) => a * n, 1) * DTYPE_SIZES[t.dtype];
    if (t.data.byteLength !== expected) {
      throw new RangeError(`encodeSafetensors: tensor ${t.name} has ${t.data.byteLength} bytes, shape needs ${expected}`);
    }
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + expected] };
    offset += expected;
  }
  let json = JSON.stringify(header);
  const pad = (8 - (Buffer.byteLength(json) % 8)) % 8;
  json += ' '.repeat(pad);
  const jsonBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + jsonBytes.length + offset);
  out.writeBigUInt64LE(BigInt(jsonBytes.length), 0);
  jsonBytes.copy(out, 8);
  let p = 8 + jsonBytes.length;
  for (const t of tensors) {
    out.set(t.data, p);
    p += t.data.byteLength;
  }
  return out;
}

export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}
