/**
 * `zipbank tokenize "<text>"`: the CLIP token ids of a prompt, from a tokenizer folder
 * or from a diffusers model folder (its tokenizer/ and, for SDXL, tokenizer_2/).
 *
 * @example
 *   zipbank tokenize "a photo of a cat" --tokenizer models/sd15/tokenizer
 *   // tokenizer: 49406 320 1125 539 320 2368 49407
 *   zipbank tokenize "a photo of a cat" --model models/sdxl --padded --json
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs, UsageError } from '../args.ts';
import type { Command } from '../command.ts';
import { ClipTokenizer } from '../../engine/pipeline/tokenizer.ts';

const usage = `usage: zipbank tokenize "<text>" (--model <folder> | --tokenizer <folder>) [--padded] [--json]

Prints the CLIP token ids of <text>, with the start (49406) and end (49407) tokens.

  --model <folder>      a diffusers model folder: uses <folder>/tokenizer, and also
                        <folder>/tokenizer_2 when it exists (SDXL)
  --tokenizer <folder>  a tokenizer folder holding vocab.json and merges.txt
  --padded              truncate and pad to the model length (77), as the text encoder sees it
  --json                print JSON: ids, tokens, and with --padded the attention mask and eos index`;

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function tokenizerFolders(model: string | undefined, tokenizer: string | undefined): Promise<{ name: string; dir: string }[]> {
  if (model !== undefined && tokenizer !== undefined) throw new UsageError('pass either --model or --tokenizer, not both');
  if (tokenizer !== undefined) return [{ name: 'tokenizer', dir: tokenizer }];
  if (model === undefined) {
    throw new UsageError('no tokenizer: pass --model <diffusers model folder> or --tokenizer <folder with vocab.json and merges.txt>');
  }
  const folders = [{ name: 'tokenizer', dir: join(model, 'tokenizer') }];
  const second = join(model, 'tokenizer_2');
  if (await isDir(second)) folders.push({ name: 'tokenizer_2', dir: second });
  return folders;
}

const command: Command = {
  name: 'tokenize',
  summary: 'print the CLIP token ids of a prompt',
  usage,
  async run(args, io) {
    const { flags, positionals } = parseArgs(args, {
      model: { type: 'string' },
      tokenizer: { type: 'string' },
      padded: { type: 'boolean' },
      json: { type: 'boolean' },
    });
    if (positionals.length === 0) throw new UsageError('missing the text to tokenize');
    const text = positionals.join(' ');
    const folders = await tokenizerFolders(flags.model as string | undefined, flags.tokenizer as string | undefined);
    const results = [];
    for (const { name, dir } of folders) {
      const tok = await ClipTokenizer.fromFolder(dir);
      const tokens = (ids: ArrayLike<number>) => Array.from(ids, (id) => tok.idToToken(id) ?? '');
      if (flags.padded) {
        const m = tok.encodeForModel(text);
        const ids = Array.from(m.ids);
        const extra = { attentionMask: Array.from(m.attentionMask), eosIndex: m.eosIndex };
        results.push({ name, dir, ids, tokens: tokens(ids), ...extra, maxLength: tok.modelMaxLength, truncated: m.truncated });
      } else {
        const ids = tok.encode(text);
        results.push({ name, dir, ids, tokens: tokens(ids), maxLength: tok.modelMaxLength, truncated: ids.length > tok.modelMaxLength });
      }
    }
    if (flags.json) {
      io.out(JSON.stringify({ text, tokenizers: results }, null, 2));
      return 0;
    }
    const width = Math.max(...results.map((r) => r.name.length));
    for (const r of results) {
      io.out(`${`${r.name}:`.padEnd(width + 1)} ${r.ids.join(' ')}`);
      if (r.truncated) {
        io.err(`zipbank tokenize: ${r.name}: the prompt is over ${r.maxLength} tokens; the text encoder sees only the first ${r.maxLength - 2} between the start and end tokens.`);
      }
    }
    return 0;
  },
};

export default command;
