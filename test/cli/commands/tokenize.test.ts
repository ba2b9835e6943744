import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/cli/main.ts';

// Only this command, so the test does not depend on the other commands' imports.
vi.mock('../../../src/cli/commands/index.ts', () => ({
  loadCommands: async () => [(await import('../../../src/cli/commands/tokenize.ts')).default],
}));

const fixtures = fileURLToPath(new URL('../../../../shared/fixtures/', import.meta.url));
const clipDir = join(fixtures, 'clip-tokenizer');
const sdxlDir = join(fixtures, 'models', 'sdxl-base-1.0');

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['tokenize', ...argv], { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** A model folder like SDXL's: tokenizer/ and tokenizer_2/, sharing the CLIP vocabulary. */
let model: string;
let empty: string;
beforeAll(async () => {
  const root = await mkdtemp(join(tmpdir(), 'zipbank-tokenize-'));
  model = join(root, 'sdxl');
  empty = join(root, 'empty');
  await mkdir(empty);
  for (const sub of ['tokenizer', 'tokenizer_2']) {
    await mkdir(join(model, sub), { recursive: true });
    for (const f of ['vocab.json', 'merges.txt']) await copyFile(join(clipDir, f), join(model, sub, f));
    for (const f of ['special_tokens_map.json', 'tokenizer_config.json']) await copyFile(join(sdxlDir, sub, f), join(model, sub, f));
  }
  return () => rm(root, { recursive: true, force: true });
});

describe('zipbank tokenize', () => {
  it('prints the ids from a tokenizer folder', async () => {
    const r = await run('How are you doing?', '--tokenizer', clipDir);
    expect(r).toEqual({ code: 0, out: 'tokenizer: 49406 829 631 592 1960 286 49407', err: '' });
  });

  it('prints JSON with tokens', async () => {
    const r = await run('Hello World', '--tokenizer', clipDir, '--json');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.out);
    expect(json.text).toBe('Hello World');
    expect(json.tokenizers[0]).toMatchObject({ name: 'tokenizer', ids: [49406, 3306, 1002, 49407], truncated: false });
    expect(json.tokenizers[0].tokens).toEqual(['<|startoftext|>', 'hello</w>', 'world</w>', '<|endoftext|>']);
  });

  it('reads tokenizer/ and tokenizer_2/ of a model folder, each with its own pad id', async () => {
    const r = await run('How are you doing?', '--model', model, '--padded', '--json');
    expect(r.code).toBe(0);
    const [one, two] = JSON.parse(r.out).tokenizers;
    for (const t of [one, two]) {
      expect(t.ids).toHaveLength(77);
      expect(t.ids.slice(0, 7)).toEqual([49406, 829, 631, 592, 1960, 286, 49407]);
      expect(t.eosIndex).toBe(6);
      expect(t.attentionMask.filter((m: number) => m === 1)).toHaveLength(7);
    }
    expect(one.ids[76]).toBe(49407);
    expect(two.ids[76]).toBe(0);
  });

  it('labels both lines in plain output', async () => {
    const r = await run('a cat', '--model', model);
    expect(r.out.split('\n')).toEqual(['tokenizer:   49406 320 2368 49407', 'tokenizer_2: 49406 320 2368 49407']);
  });

  it('warns when the prompt is longer than the text encoder takes', async () => {
    const r = await run('1 '.repeat(80), '--tokenizer', clipDir);
    expect(r.code).toBe(0);
    expect(r.out.split(' ')).toHaveLength(1 + 82);
    expect(r.err).toContain('over 77 tokens');
  });

  it.each([
    ['neither --model nor --tokenizer', ['a cat'], 2, /--model <diffusers model folder> or --tokenizer/],
    ['both --model and --tokenizer', ['a cat', '--model', 'x', '--tokenizer', 'y'], 2, /either --model or --tokenizer/],
    ['no text', ['--tokenizer', 'x'], 2, /missing the text/],
    ['a model folder without tokenizer/', ['a cat', '--model', 'EMPTY'], 1, /has no vocab\.json.*tokenizer\/ subfolder/],
  ])('refuses %s', async (_name, argv, code, message) => {
    const r = await run(...argv.map((a) => (a === 'EMPTY' ? empty : a)));
    expect(r.code).toBe(code);
    expect(r.err).toMatch(message);
  });

  it('is listed by zipbank help', async () => {
    const out: string[] = [];
    await main(['help'], { out: (l) => out.push(l), err: () => undefined });
    expect(out.join('\n')).toMatch(/tokenize\s+print the CLIP token ids/);
  });
});
