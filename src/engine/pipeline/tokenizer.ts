/**
 * The CLIP BPE tokenizer of Stable Diffusion's text encoders, giving the same ids as
 * huggingface CLIPTokenizerFast (the Rust `tokenizers` library): NFC + whitespace
 * collapse + lowercase, the CLIP word split, byte-level BPE with `</w>`, then
 * `<|startoftext|>` ... `<|endoftext|>`. The pieces live in ./tokenizer/.
 *
 * @example
 *   const tok = await ClipTokenizer.fromFolder('models/sd15/tokenizer');
 *   tok.encode('a photo of a cat'); // [49406, 320, 1125, 539, 320, 2368, 49407]
 *   const input = tok.encodeForModel('a photo of a cat');
 *   input.ids.length; // 77, padded with tok.pad
 *   input.eosIndex; // 6: where the text encoder pools
 *   tok.decode(input.ids); // 'a photo of a cat'
 */
import { ZipbankError } from '../../errors/index.ts';
import { splitOnAddedTokens } from './tokenizer/added-tokens.ts';
import type { TokenPattern } from './tokenizer/added-tokens.ts';
import { BytePairEncoder } from './tokenizer/bpe.ts';
import { decodeTokens } from './tokenizer/decode.ts';
import { parseTokenizerFiles, readTokenizerFolder } from './tokenizer/files.ts';
import type { TokenizerFiles, TokenizerSpec } from './tokenizer/files.ts';
import { forEachWord, normalizeText } from './tokenizer/normalize.ts';

export type { TokenizerFiles } from './tokenizer/files.ts';
export { normalizeText, splitWords } from './tokenizer/normalize.ts';

export interface EncodeForModelOptions {
  /** Total length with start and end tokens. Default: the folder's `model_max_length` (77). */
  maxLength?: number;
}

/** What a CLIP text encoder takes for one prompt. */
export interface ModelInput {
  /** `[bos, ...tokens, eos, pad, pad, ...]`, exactly `maxLength` long. */
  ids: Int32Array;
  /** 1 for bos, tokens and eos; 0 for padding. */
  attentionMask: Int32Array;
  /**
   * Index of the first end-of-text id, where the text encoder pools. Equal to
   * argmax(ids) as SD's CLIP computes it, since the end-of-text id is the largest id.
   */
  eosIndex: number;
  /** Whether tokens were cut to fit `maxLength - 2`. */
  truncated: boolean;
  /** Number of non-padding positions (tokens + 2). */
  length: number;
}

export interface DecodeOptions {
  /** Drop bos/eos/pad and other special tokens. Default true (the reference defaults to false). */
  skipSpecialTokens?: boolean;
  /** Join " ." " ," " 's" ... as transformers does. Default: the folder's `clean_up_tokenization_spaces` (true). */
  cleanUpSpaces?: boolean;
}

export class ClipTokenizer {
  readonly bos: number;
  readonly eos: number;
  readonly pad: number;
  readonly unk: number;
  /** Default `maxLength` of `encodeForModel`. */
  readonly modelMaxLength: number;
  /** One more than the largest id. */
  readonly vocabSize: number;
  readonly dir: string;

  private readonly bpe: BytePairEncoder;
  private readonly tokens: readonly (string | undefined)[];
  private readonly rawPatterns: TokenPattern[];
  private readonly normalizedPatterns: TokenPattern[];
  private readonly specialIds: ReadonlySet<number>;
  private readonly cleanUpSpaces: boolean;

  private constructor(spec: TokenizerSpec) {
    this.dir = spec.dir;
    this.bos = spec.bos;
    this.eos = spec.eos;
    this.pad = spec.pad;
    this.unk = spec.unk;
    this.modelMaxLength = spec.modelMaxLength;
    this.cleanUpSpaces = spec.cleanUpSpaces;
    this.tokens = spec.tokens;
    this.vocabSize = spec.tokens.length;
    this.bpe = new BytePairEncoder(spec.vocab, spec.merges, `${spec.dir}/vocab.json`);
    this.rawPatterns = spec.addedTokens.filter((t) => !t.normalized);
    this.normalizedPatterns = spec.addedTokens
      .filter((t) => t.normalized)
      .map((t) => ({ content: normalizeText(t.content), id: t.id }));
    this.specialIds = new Set(spec.addedTokens.filter((t) => t.special).map((t) => t.id));
  }

  /**
   * Loads vocab.json, merges.txt and the optional special_tokens_map.json and
   * tokenizer_config.json of a tokenizer folder.
   * @example
   *   const tok2 = await ClipTokenizer.fromFolder('models/sdxl/tokenizer_2'); // tok2.pad === 0
   */
  static async fromFolder(dir: string): Promise<ClipTokenizer> {
    return ClipTokenizer.fromFiles(await readTokenizerFolder(dir));
  }

  /** Builds a tokenizer from the folder's files already in memory. */
  static fromFiles(files: TokenizerFiles): ClipTokenizer {
    return new ClipTokenizer(parseTokenizerFiles(files));
  }

  /**
   * The ids of `text` with bos and eos, neither truncated nor padded.
   * @example tok.encode('How are you doing?'); // [49406, 829, 631, 592, 1960, 286, 49407]
   */
  encode(text: string): number[] {
    const ids = [this.bos];
    this.encodeContent(text, Infinity, ids);
    ids.push(this.eos);
    return ids;
  }

  /**
   * The token strings of `text`, without bos and eos.
   * @example tok.tokenize("you should've"); // ['you</w>', 'should</w>', "'ve</w>"]
   */
  tokenize(text: string): string[] {
    const ids: number[] = [];
    this.encodeContent(text, Infinity, ids);
    return ids.map((id) => this.tokens[id]!);
  }

  /**
   * `[bos] + tokens[:maxLength - 2] + [eos]`, padded to `maxLength` with the pad id.
   * @example
   *   const { ids, attentionMask, eosIndex, truncated } = tok.encodeForModel('a cat', { maxLength: 77 });
   */
  encodeForModel(text: string, opts: EncodeForModelOptions = {}): ModelInput {
    const maxLength = opts.maxLength ?? this.modelMaxLength;
    if (!Number.isInteger(maxLength) || maxLength < 2) throw new ZipbankError('tokenizer.invalid-max-length', { maxLength });
    const room = maxLength - 2;
    const content: number[] = [];
    this.encodeContent(text, room + 1, content);
    const truncated = content.length > room;
    const n = Math.min(content.length, room);
    const ids = new Int32Array(maxLength).fill(this.pad);
    const attentionMask = new Int32Array(maxLength);
    ids[0] = this.bos;
    for (let i = 0; i < n; i++) ids[i + 1] = content[i]!;
    ids[n + 1] = this.eos;
    attentionMask.fill(1, 0, n + 2);
    return { ids, attentionMask, eosIndex: ids.indexOf(this.eos), truncated, length: n + 2 };
  }

  /**
   * Text from ids (any array-like of ids, e.g. `encodeForModel(...).ids`).
   * @example tok.decode(tok.encode('hello, world!')); // 'hello, world!'
   */
  decode(ids: ArrayLike<number>, opts: DecodeOptions = {}): string {
    const skip = opts.skipSpecialTokens ?? true;
    const tokens: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const token = this.tokens[id];
      if (token === undefined) throw new ZipbankError('tokenizer.unknown-id', { id, vocabSize: this.vocabSize });
      if (!(skip && this.specialIds.has(id))) tokens.push(token);
    }
    return decodeTokens(tokens, opts.cleanUpSpaces ?? this.cleanUpSpaces);
  }

  /** The token string of one id, or undefined. */
  idToToken(id: number): string | undefined {
    return this.tokens[id];
  }

  /** Appends the ids of `text` (no bos/eos) to `out`, stopping once `out` holds `limit` ids. */
  private encodeContent(text: string, limit: number, out: number[]): void {
    for (const raw of splitOnAddedTokens(text, this.rawPatterns)) {
      if (out.length >= limit) return;
      if (typeof raw === 'number') {
        out.push(raw);
        continue;
      }
      for (const piece of splitOnAddedTokens(normalizeText(raw), this.normalizedPatterns)) {
        if (out.length >= limit) return;
        if (typeof piece === 'number') {
          out.push(piece);
          continue;
        }
        forEachWord(piece, (word) => {
          for (const id of this.bpe.encodeWord(word)) out.push(id);
          return out.length < limit;
        });
      }
    }
  }
}
