/**
 * The CLIP tokenizer vocabulary shipped with zipbank (OpenAI CLIP, MIT; licence in
 * ./clip-vocab/LICENSE): the vocab.json and merges.txt of every SD 1.x / SDXL
 * tokenizer folder. `writeClipTokenizerFolder` makes a complete diffusers
 * tokenizer folder from them.
 *
 * @example
 *   await writeClipTokenizerFolder('out/tokenizer_2', { pad: '!' });   // SDXL's second tokenizer
 *   const tok = await ClipTokenizer.fromFolder('out/tokenizer_2');   // tok.pad === 0
 */
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Absolute path of the shipped vocab.json / merges.txt / LICENSE. */
export const CLIP_VOCAB_DIR = fileURLToPath(new URL('./clip-vocab/', import.meta.url));

export interface ClipTokenizerFolderOptions {
  /** The padding token: '<|endoftext|>' (SD 1.x, SDXL tokenizer) or '!' (SDXL tokenizer_2, id 0). Default '<|endoftext|>'. */
  pad?: '<|endoftext|>' | '!';
}

const token = (content: string) => ({ content, lstrip: false, normalized: true, rstrip: false, single_word: false });

/** special_tokens_map.json and tokenizer_config.json as SD model folders ship them. */
export function clipTokenizerConfigs(o: ClipTokenizerFolderOptions = {}): { specialTokensMap: object; tokenizerConfig: object } {
  const pad = o.pad ?? '<|endoftext|>';
  const bos = token('<|startoftext|>');
  const eos = token('<|endoftext|>');
  return {
    specialTokensMap: { bos_token: bos, eos_token: eos, pad_token: pad, unk_token: eos },
    tokenizerConfig: {
      add_prefix_space: false,
      bos_token: { __type: 'AddedToken', ...bos },
      clean_up_tokenization_spaces: true,
      do_lower_case: true,
      eos_token: { __type: 'AddedToken', ...eos },
      errors: 'replace',
      model_max_length: 77,
      pad_token: pad,
      tokenizer_class: 'CLIPTokenizer',
      unk_token: { __type: 'AddedToken', ...eos },
    },
  };
}

/** Writes vocab.json, merges.txt, special_tokens_map.json and tokenizer_config.json into `dir`. */
export async function writeClipTokenizerFolder(dir: string, o: ClipTokenizerFolderOptions = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  await copyFile(path.join(CLIP_VOCAB_DIR, 'vocab.json'), path.join(dir, 'vocab.json'));
  await copyFile(path.join(CLIP_VOCAB_DIR, 'merges.txt'), path.join(dir, 'merges.txt'));
  const { specialTokensMap, tokenizerConfig } = clipTokenizerConfigs(o);
  await writeFile(path.join(dir, 'special_tokens_map.json'), JSON.stringify(specialTokensMap, null, 2) + '\n');
  await writeFile(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig, null, 2) + '\n');
}
