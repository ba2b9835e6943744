import { mkdtemp, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClipTokenizer } from '../../../src/engine/pipeline/tokenizer.ts';
import type { TokenizerFiles } from '../../../src/engine/pipeline/tokenizer.ts';
import { isZipbankError } from '../../../src/errors/index.ts';

const fixtures = fileURLToPath(new URL('../../../../shared/fixtures/', import.meta.url));
const clipDir = join(fixtures, 'clip-tokenizer');
const modelsDir = join(fixtures, 'models');

interface Case {
  name: string;
  text: string;
  ids: number[];
  tokens: string[];
}
interface PaddedCase {
  name: string;
  text: string;
  max_length: number;
  pad_id: number;
  truncated: boolean;
  ids: number[];
  attention_mask: number[];
  n_real_tokens: number;
}
interface NotIncluded {
  what: string;
  text: string;
  ids_stated?: number[];
}
const cases = JSON.parse(await readFile(join(clipDir, 'cases.json'), 'utf8')) as {
  cases: Case[];
  padded: PaddedCase[];
  not_included: NotIncluded[];
};

const vocabJson = await readFile(join(clipDir, 'vocab.json'), 'utf8');
const mergesTxt = await readFile(join(clipDir, 'merges.txt'), 'utf8');

/** The shared vocab and merges with the special-token configs of another tokenizer folder. */
async function withConfigsOf(configDir: string): Promise<ClipTokenizer> {
  const files: TokenizerFiles = {
    dir: configDir,
    vocabJson,
    mergesTxt,
    specialTokensMapJson: await readFile(join(configDir, 'special_tokens_map.json'), 'utf8'),
    tokenizerConfigJson: await readFile(join(configDir, 'tokenizer_config.json'), 'utf8'),
  };
  return ClipTokenizer.fromFiles(files);
}

let sd15: ClipTokenizer;
let sdxl2: ClipTokenizer;
beforeAll(async () => {
  sd15 = await ClipTokenizer.fromFolder(clipDir);
  sdxl2 = await withConfigsOf(join(modelsDir, 'sdxl-base-1.0', 'tokenizer_2'));
});

describe('ClipTokenizer.encode matches the reference ids', () => {
  it.each(cases.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(sd15.encode(c.text)).toEqual(c.ids);
    expect(sd15.tokenize(c.text)).toEqual(c.tokens);
  });

  it('covers all 26 cases', () => {
    expect(cases.cases).toHaveLength(26);
  });

  it('gives bos + eos for an empty or blank prompt', () => {
    expect(sd15.encode('')).toEqual([49406, 49407]);
    expect(sd15.encode(' \t\n')).toEqual([49406, 49407]);
  });
});

describe('ClipTokenizer.encodeForModel pads and truncates to 77', () => {
  it.each(cases.padded.map((c) => [`${c.name} pad ${c.pad_id}`, c] as const))('%s', (_name, c) => {
    const tok = c.pad_id === 0 ? sdxl2 : sd15;
    expect(tok.pad).toBe(c.pad_id);
    const out = tok.encodeForModel(c.text, { maxLength: c.max_length });
    expect(Array.from(out.ids)).toEqual(c.ids);
    expect(Array.from(out.attentionMask)).toEqual(c.attention_mask);
    expect(out.truncated).toBe(c.truncated);
    expect(out.length).toBe(c.n_real_tokens);
    expect(out.eosIndex).toBe(c.n_real_tokens - 1);
    if (c.pad_id === 49407) expect(out.eosIndex).toBe(c.ids.indexOf(Math.max(...c.ids)));
  });

  it('defaults to model_max_length (77)', () => {
    expect(sd15.modelMaxLength).toBe(77);
    expect(sd15.encodeForModel('a cat').ids).toHaveLength(77);
  });

  it.each([
    ['exactly 75 tokens', '1 '.repeat(75), false],
    ['76 tokens', '1 '.repeat(76), true],
  ])('%s', (_name, text, truncated) => {
    const out = sd15.encodeForModel(text);
    expect(out.truncated).toBe(truncated);
    expect(out.ids[76]).toBe(49407);
    expect(out.eosIndex).toBe(76);
  });

  it('pools at the first end-of-text when the prompt contains one', () => {
    const out = sd15.encodeForModel('a <|endoftext|> b', { maxLength: 8 });
    expect(Array.from(out.ids)).toEqual([49406, 320, 49407, 321, 49407, 49407, 49407, 49407]);
    expect(out.eosIndex).toBe(2);
    expect(out.length).toBe(5);
  });

  it.each([1, 0, -3, 2.5, Number.NaN])('refuses maxLength %s', (maxLength) => {
    expect(() => sd15.encodeForModel('a', { maxLength })).toThrow(expect.objectContaining({ code: 'tokenizer.invalid-max-length' }));
  });
});

describe('special tokens', () => {
  it.each([
    ['<|endoftext|> in raw text', 'a<|endoftext|>b', [49406, 320, 49407, 321, 49407]],
    ['<|startoftext|> in raw text', 'a <|startoftext|>', [49406, 320, 49406, 49407]],
    ['bos is matched after lowercasing (normalized: true)', '<|STARTOFTEXT|>', [49406, 49406, 49407]],
  ])('%s', (_name, text, ids) => {
    expect(sd15.encode(text)).toEqual(ids);
  });

  it('SDXL tokenizer_2 reads its pad token "!" as a token (the owlvit case)', () => {
    const c = cases.not_included.find((n) => n.ids_stated !== undefined)!;
    expect(sdxl2.encode(c.text)).toEqual(c.ids_stated);
    expect(sd15.encode(c.text)).toEqual(cases.cases.find((k) => k.name === 'PUNCTUATION')!.ids);
  });

  it.each([
    ['sd15/tokenizer', join(modelsDir, 'sd15', 'tokenizer'), 49407],
    ['sdxl-base-1.0/tokenizer', join(modelsDir, 'sdxl-base-1.0', 'tokenizer'), 49407],
    ['sdxl-base-1.0/tokenizer_2', join(modelsDir, 'sdxl-base-1.0', 'tokenizer_2'), 0],
  ])('pad id of %s', async (_name, dir, pad) => {
    const tok = await withConfigsOf(dir);
    expect([tok.bos, tok.eos, tok.pad]).toEqual([49406, 49407, pad]);
  });

  it("uses CLIPTokenizer's defaults without config files", () => {
    const tok = ClipTokenizer.fromFiles({ dir: 'mem', vocabJson, mergesTxt });
    expect([tok.bos, tok.eos, tok.pad, tok.unk]).toEqual([49406, 49407, 49407, 49407]);
    expect(tok.encode('How are you doing?')).toEqual(cases.cases[0]!.ids);
  });
});

describe('normalization edge cases', () => {
  it.each([
    ['U+FEFF is not whitespace for the reference', '\ufeffa', ['ï', '»', '¿</w>', 'a</w>']],
    ['U+0085 is whitespace for the reference', 'a\u0085b', ['a</w>', 'b</w>']],
    ['capital sigma lowercases per character (no final sigma)', 'ΣΑΣ', ['Ï', 'ĥ', 'Î', '±', 'Ï', 'ĥ</w>']],
    ['NFC composes before BPE', 'caf' + 'e\u0301', ['cafe</w>'.replace('e</w>', 'Ã©</w>')]],
  ])('%s', (_name, text, tokens) => {
    expect(sd15.tokenize(text)).toEqual(tokens);
  });
});

describe('decode', () => {
  it.each([
    'a photo of a cat',
    'hello, world!',
    'a corgi surfing at sunset, watercolor. is it good? yes!',
    "you're late and it's fine",
    'masterpiece, 8 k, best quality, by greg rutkowski',
  ])('round-trips ascii %j', (text) => {
    expect(sd15.decode(sd15.encode(text))).toBe(text);
    expect(sd15.decode(sd15.encodeForModel(text).ids)).toBe(text);
  });

  it.each([
    ['lowercases and collapses whitespace', '  A  Photo\n of  a CAT ', 'a photo of a cat'],
    ['a word ends before punctuation inside a word', 'def main(): return 0', 'def main (): return 0'],
    ['digits are single tokens', 'cat 42', 'cat 4 2'],
    ['brackets are words of their own', '(best quality)', '( best quality )'],
    ['multi-byte text', '生活的真谛是 ✨ €4', '生活的真谛是 ✨ € 4'],
  ])('decodes %s as the reference does', (_name, text, decoded) => {
    expect(sd15.decode(sd15.encode(text))).toBe(decoded);
  });

  it('keeps special tokens on request, as the reference decodes', () => {
    expect(sd15.decode(sd15.encode('How are you doing?'), { skipSpecialTokens: false })).toBe(
      '<|startoftext|>how are you doing? <|endoftext|>',
    );
  });

  it('refuses an unknown id', () => {
    expect(() => sd15.decode([49406, 50000])).toThrow(expect.objectContaining({ code: 'tokenizer.unknown-id' }));
  });
});

describe('loading errors', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zipbank-tok-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('names the missing file', async () => {
    const err = await ClipTokenizer.fromFolder(dir).catch((e: unknown) => e);
    expect(isZipbankError(err, 'tokenizer.missing-file')).toBe(true);
    expect((err as Error).message).toContain('vocab.json');
  });

  it.each([
    ['vocab not an object', { vocabJson: '[1, 2]' }, 'tokenizer.bad-vocab'],
    ['vocab not JSON', { vocabJson: '{"a": ' }, 'tokenizer.bad-json'],
    ['vocab without byte tokens', { vocabJson: '{"a": 0, "b": 1, "ab": 2, "<|startoftext|>": 3, "<|endoftext|>": 4}', mergesTxt: 'a b\n' }, 'tokenizer.bad-vocab'],
    ['merge with three parts', { mergesTxt: '#version: 0.2\ni n x\n' }, 'tokenizer.bad-merges'],
    ['merge out of vocabulary', { mergesTxt: '#version: 0.2\nqqq zzz\n' }, 'tokenizer.bad-merges'],
    ['pad token not in vocab', { specialTokensMapJson: '{"pad_token": "<pad>"}' }, 'tokenizer.unknown-special-token'],
    ['config not JSON', { tokenizerConfigJson: '{' }, 'tokenizer.bad-json'],
  ])('%s', (_name, override, code) => {
    expect(() => ClipTokenizer.fromFiles({ dir: 'mem', vocabJson, mergesTxt, ...override })).toThrow(expect.objectContaining({ code }));
  });

  it('loads a folder copied to disk', async () => {
    for (const f of ['vocab.json', 'merges.txt', 'special_tokens_map.json', 'tokenizer_config.json']) {
      await copyFile(join(clipDir, f), join(dir, f));
    }
    await writeFile(join(dir, 'extra.txt'), 'ignored');
    const tok = await ClipTokenizer.fromFolder(dir);
    expect(tok.encode('Hello World')).toEqual([49406, 3306, 1002, 49407]);
  });
});

describe('performance', () => {
  it('loads the 1 MB vocab and 500 KB merges in under 300 ms', async () => {
    let best = Infinity;
    for (let i = 0; i < 2; i++) {
      const t0 = performance.now();
      await ClipTokenizer.fromFolder(clipDir);
      best = Math.min(best, performance.now() - t0);
    }
    expect(best).toBeLessThan(300);
  });

  it('tokenizes a 77-token prompt in well under a millisecond after warm-up', () => {
    const prompt = cases.padded.find((c) => c.truncated)!.text;
    for (let i = 0; i < 200; i++) sd15.encodeForModel(prompt);
    const n = 2000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) sd15.encodeForModel(prompt);
    expect((performance.now() - t0) / n).toBeLessThan(0.25);
  });

  it('handles a 100k-character word without quadratic blow-up', () => {
    const t0 = performance.now();
    const ids = sd15.encode('ab'.repeat(50_000));
    expect(ids.length).toBeGreaterThan(2);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});
