/**
 * The text clean-up and word split of CLIPTokenizerFast, as the Rust `tokenizers`
 * library runs them:
 *   normalizer:    NFC, then every run of whitespace becomes one space, then lowercase;
 *   pre-tokenizer: keep only the matches of
 *                  's|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
 *                  (the whitespace between them is dropped).
 *
 * Whitespace is the Oniguruma Unicode `\s` of the reference (tab..CR, NEL, and the
 * Zs/Zl/Zp categories). It differs from JavaScript's `\s`, which also counts U+FEFF
 * and not U+0085, so the class is spelled out.
 *
 * The reference split pattern also lists `<|startoftext|>` and `<|endoftext|>`; it is
 * followed by the byte-level GPT-2 split, which cuts such a match back into `<|`,
 * the letters and `|>` exactly as the pattern below does, so both give the same words.
 *
 * @example
 *   normalizeText('A  photo\u00a0of ÉTÉ'); // 'a photo of été'
 *   splitWords("it's 42!!"); // ['it', "'s", '4', '2', '!!']
 */
const WS = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

const WHITESPACE_RUNS = new RegExp(`[${WS}]+`, 'gu');

const WORDS = new RegExp(`'s|'t|'re|'ve|'m|'ll|'d|\\p{L}+|\\p{N}|[^${WS}\\p{L}\\p{N}]+`, 'gu');

const CAPITAL_SIGMA = '\u03a3';

/**
 * Lowercases one code point at a time, as Rust's `char::to_lowercase` does. The only
 * context-dependent rule of `String.prototype.toLowerCase` is the Greek final sigma,
 * so the per-character path is taken only when a capital sigma is present.
 */
function lowercase(text: string): string {
  if (!text.includes(CAPITAL_SIGMA)) return text.toLowerCase();
  let out = '';
  for (const ch of text) out += ch.toLowerCase();
  return out;
}

export function normalizeText(text: string): string {
  return lowercase(text.normalize('NFC').replace(WHITESPACE_RUNS, ' '));
}

/** Calls `onWord` for each pre-token of normalized text; stops early when it returns false. */
export function forEachWord(normalized: string, onWord: (word: string) => boolean | void): void {
  for (const m of normalized.matchAll(WORDS)) {
    if (onWord(m[0]) === false) break;
  }
}

export function splitWords(normalized: string): string[] {
  const words: string[] = [];
  forEachWord(normalized, (w) => {
    words.push(w);
  });
  return words;
}
