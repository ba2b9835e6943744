/**
 * Token strings back to text, as CLIPTokenizerFast decodes: byte-level tokens become
 * bytes (a token with a character outside the byte alphabet, such as an added token,
 * keeps its own UTF-8 bytes), the bytes are read as UTF-8 with U+FFFD for invalid
 * sequences, every `</w>` becomes a space, the ends are trimmed, and optionally the
 * classic clean-up joins " ." " ," " ?" " !" " 's" ... to the previous word.
 *
 * @example
 *   decodeTokens(['a</w>', 'photo</w>', '.</w>'], true); // 'a photo.'
 */
import { CHAR_TO_BYTE, utf8Bytes } from './bytes.ts';
import { END_OF_WORD } from './bpe.ts';

const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

const CLEAN_UPS: readonly [string, string][] = [
  [' .', '.'],
  [' ?', '?'],
  [' !', '!'],
  [' ,', ','],
  [" ' ", "'"],
  [" n't", "n't"],
  [" 'm", "'m"],
  [" 's", "'s"],
  [" 've", "'ve"],
  [" 're", "'re"],
];

function tokenBytes(token: string, out: number[]): void {
  const start = out.length;
  for (const ch of token) {
    const b = CHAR_TO_BYTE.get(ch);
    if (b === undefined) {
      out.length = start;
      for (const raw of utf8Bytes(token)) out.push(raw);
      return;
    }
    out.push(b);
  }
}

export function decodeTokens(tokens: readonly string[], cleanUpSpaces: boolean): string {
  const bytes: number[] = [];
  for (const t of tokens) tokenBytes(t, bytes);
  let text = utf8.decode(Uint8Array.from(bytes)).replaceAll(END_OF_WORD, ' ').trim();
  if (cleanUpSpaces) for (const [from, to] of CLEAN_UPS) text = text.replaceAll(from, to);
  return text;
}
