/**
 * Reads a CLIP tokenizer folder (the `tokenizer/` of a diffusers model): vocab.json,
 * merges.txt, and the optional special_tokens_map.json and tokenizer_config.json.
 * Reading (`readTokenizerFolder`) and parsing (`parseTokenizerFiles`) are separate so
 * tests and callers holding the files in memory skip the disk.
 *
 * @example
 *   const spec = parseTokenizerFiles(await readTokenizerFolder('models/sd15/tokenizer'));
 *   spec.bos; // 49406
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ZipbankError } from '../../../errors/index.ts';
import { resolveSpecialTokens } from './special-tokens.ts';
import type { SpecialTokens } from './special-tokens.ts';

export interface TokenizerFiles {
  /** The folder, for messages. */
  dir: string;
  vocabJson: string;
  mergesTxt: string;
  specialTokensMapJson?: string;
  tokenizerConfigJson?: string;
}

export interface TokenizerSpec extends SpecialTokens {
  dir: string;
  vocab: Map<string, number>;
  /** id -> token string; holes for ids the vocabulary skips. */
  tokens: (string | undefined)[];
  /** Flat [left, right, merged] id triples in rank order. */
  merges: Int32Array;
}

async function readOptional(dir: string, file: string): Promise<string | undefined> {
  try {
    return await readFile(join(dir, file), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ZipbankError('tokenizer.io', { file: join(dir, file), reason: (e as Error).message }, { cause: e });
  }
}

async function readRequired(dir: string, file: string): Promise<string> {
  const text = await readOptional(dir, file);
  if (text === undefined) throw new ZipbankError('tokenizer.missing-file', { dir, file });
  return text;
}

export async function readTokenizerFolder(dir: string): Promise<TokenizerFiles> {
  // allSettled, then the first failure in file order: with Promise.all the error named
  // whichever read failed first, so an empty folder reported vocab.json or merges.txt at random.
  const settled = await Promise.allSettled([
    readRequired(dir, 'vocab.json'),
    readRequired(dir, 'merges.txt'),
    readOptional(dir, 'special_tokens_map.json'),
    readOptional(dir, 'tokenizer_config.json'),
  ]);
  const values = settled.map((r) => {
    if (r.status === 'rejected') throw r.reason;
    return r.value;
  });
  const [vocabJson, mergesTxt, specialTokensMapJson, tokenizerConfigJson] = values;
  return { dir, vocabJson: vocabJson as string, mergesTxt: mergesTxt as string, specialTokensMapJson, tokenizerConfigJson };
}

export function parseJsonFile(text: string, file: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new ZipbankError('tokenizer.bad-json', { file, reason: (e as Error).message }, { cause: e });
  }
}

function parseVocab(text: string, file: string): { vocab: Map<string, number>; tokens: (string | undefined)[] } {
  const raw = parseJsonFile(text, file);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ZipbankError('tokenizer.bad-vocab', { file, reason: 'it is not a JSON object of token -> id' });
  }
  const entries = raw as Record<string, unknown>;
  const keys = Object.keys(entries);
  const vocab = new Map<string, number>();
  const tokens = new Array<string | undefined>(keys.length);
  for (const token of keys) {
    const id = entries[token];
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= 0x200000) {
      throw new ZipbankError('tokenizer.bad-vocab', { file, reason: `token ${JSON.stringify(token)} has id ${JSON.stringify(id)}` });
    }
    vocab.set(token, id);
    tokens[id] = token;
  }
  if (vocab.size === 0) throw new ZipbankError('tokenizer.bad-vocab', { file, reason: 'it is empty' });
  return { vocab, tokens };
}

function parseMerges(text: string, file: string, vocab: ReadonlyMap<string, number>): Int32Array {
  const lines = text.split('\n');
  const out = new Int32Array(lines.length * 3);
  let n = 0;
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line === '' || line.startsWith('#version')) continue;
    const space = line.indexOf(' ');
    if (space <= 0 || space === line.length - 1 || line.indexOf(' ', space + 1) !== -1) {
      throw new ZipbankError('tokenizer.bad-merges', { file, line: i + 1, reason: `${JSON.stringify(line)} is not two tokens separated by one space` });
    }
    const left = line.slice(0, space);
    const right = line.slice(space + 1);
    for (const token of [left, right, left + right]) {
      const id = vocab.get(token);
      if (id === undefined) {
        throw new ZipbankError('tokenizer.bad-merges', { file, line: i + 1, reason: `${JSON.stringify(token)} is not in vocab.json` });
      }
      out[n++] = id;
    }
  }
  return out.slice(0, n);
}

export function parseTokenizerFiles(files: TokenizerFiles): TokenizerSpec {
  const { dir } = files;
  const { vocab, tokens } = parseVocab(files.vocabJson, join(dir, 'vocab.json'));
  const merges = parseMerges(files.mergesTxt, join(dir, 'merges.txt'), vocab);
  const special = resolveSpecialTokens({
    dir,
    vocab,
    specialTokensMap: files.specialTokensMapJson === undefined ? undefined : parseJsonFile(files.specialTokensMapJson, join(dir, 'special_tokens_map.json')),
    tokenizerConfig: files.tokenizerConfigJson === undefined ? undefined : parseJsonFile(files.tokenizerConfigJson, join(dir, 'tokenizer_config.json')),
  });
  for (const t of special.addedTokens) tokens[t.id] ??= t.content;
  return { dir, vocab, tokens, merges, ...special };
}
