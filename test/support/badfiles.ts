/** Hand-made broken files for the refusal tests, written into a temp folder. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSafetensors } from '../../src/engine/weights/safetensors.ts';

function rawSafetensors(header: object, dataBytes: number, pad = true): Buffer {
  let json = JSON.stringify(header);
  if (pad) json += ' '.repeat((8 - (json.length % 8)) % 8);
  const h = Buffer.from(json);
  const out = Buffer.alloc(8 + h.length + dataBytes);
  out.writeBigUInt64LE(BigInt(h.length));
  h.copy(out, 8);
  return out;
}

export function goodTinyLora(): Buffer {
  const f32 = (n: number, seed: number) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = Math.sin(seed * 1000 + i) * 0.1;
    return new Uint8Array(a.buffer);
  };
  return encodeSafetensors([
    { name: 'w.lora_down.weight', dtype: 'F32', shape: [2, 4], data: f32(8, 1) },
    { name: 'w.lora_up.weight', dtype: 'F32', shape: [4, 2], data: f32(8, 2) },
  ]);
}

export interface BadFile {
  name: string;
  file: string;
  code: string;
  /** A fragment the message must contain. */
  says: string;
}

export function writeBadFiles(): BadFile[] {
  const dir = mkdtempSync(join(tmpdir(), 'zipbank-bad-'));
  const files: [string, Buffer, string, string][] = [];
  const good = goodTinyLora();
  files.push(['empty.safetensors', Buffer.alloc(0), 'safetensors.empty', '0 bytes']);
  files.push(['tiny.safetensors', Buffer.from([1, 2, 3]), 'safetensors.too-small', 'too small']);
  files.push(['truncated.safetensors', good.subarray(0, good.length - 10), 'safetensors.truncated', 'ends at byte']);
  const past = Buffer.alloc(64);
  past.writeBigUInt64LE(10_000n);
  files.push(['header-past-eof.safetensors', past, 'safetensors.header-past-eof', 'claims 10000 bytes']);
  const huge = Buffer.alloc(64);
  huge.writeBigUInt64LE(200_000_000n);
  files.push(['header-huge.safetensors', huge, 'safetensors.header-too-large', 'limit']);
  const notJson = Buffer.alloc(8 + 16);
  notJson.writeBigUInt64LE(16n);
  Buffer.from('{"a": [1, 2,,]} ').copy(notJson, 8);
  files.push(['not-json.safetensors', notJson, 'safetensors.header-json', 'not valid JSON']);
  files.push([
    'overlap.safetensors',
    rawSafetensors(
      {
        a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
        b: { dtype: 'F32', shape: [4], data_offsets: [8, 24] },
      },
      24,
    ),
    'safetensors.overlap',
    'overlap',
  ]);
  files.push([
    'unknown-dtype.safetensors',
    rawSafetensors({ a: { dtype: 'F12', shape: [4], data_offsets: [0, 6] } }, 6),
    'safetensors.unknown-dtype',
    'F12',
  ]);
  files.push([
    'span-size.safetensors',
    rawSafetensors({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 12] } }, 12),
    'safetensors.span-size',
    'needs 16 bytes',
  ]);
  files.push([
    'gap.safetensors',
    rawSafetensors({ a: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, 16),
    'safetensors.gap',
    'belong to no tensor',
  ]);
  files.push([
    'trailing.safetensors',
    Buffer.concat([good, Buffer.alloc(5)]),
    'safetensors.trailing',
    'trailing',
  ]);
  // A pickle (protocol 2) and a torch zip checkpoint, named .safetensors.
  files.push(['pickle.safetensors', Buffer.from([0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e, 0, 0, 0, 0]), 'safetensors.pickle', 'pickle']);
  files.push(['zip.safetensors', Buffer.from('PK\x03\x04\x14\x00\x00\x00archive/data.pkl', 'latin1'), 'safetensors.pickle', 'zip']);
  return files.map(([name, data, code, says]) => {
    const file = join(dir, name);
    writeFileSync(file, data);
    return { name, file, code, says };
  });
}
