/**
 * Byte-level alphabet of GPT-2 style BPE: every byte 0..255 is shown as one printable
 * Unicode character, so the vocabulary never contains spaces or control characters.
 * Printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves; the
 * other 68 bytes take the code points 256, 257, ... in byte order (space is 'Ġ').
 *
 * @example
 *   BYTE_TO_CHAR[0x20]; // 'Ġ'
 *   CHAR_TO_BYTE.get('Ġ'); // 32
 */
function buildByteToChar(): string[] {
  const table: string[] = new Array<string>(256);
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let extra = 0;
  for (let b = 0; b < 256; b++) table[b] = String.fromCodePoint(printable(b) ? b : 256 + extra++);
  return table;
}

export const BYTE_TO_CHAR: readonly string[] = buildByteToChar();

export const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

const encoder = new TextEncoder();

/** The UTF-8 bytes of `text`, with a shortcut for ASCII. */
export function utf8Bytes(text: string): Uint8Array {
  const n = text.length;
  let ascii = true;
  for (let i = 0; i < n; i++) {
    if (text.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (!ascii) return encoder.encode(text);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = text.charCodeAt(i);
  return out;
}
