/**
 * Special and added tokens from special_tokens_map.json and tokenizer_config.json,
 * resolved the way transformers does: tokens listed in `added_tokens_decoder` first
 * (by id), then the bos/eos/unk/pad/... tokens, with special_tokens_map.json winning
 * over tokenizer_config.json, and CLIPTokenizer's defaults (`<|startoftext|>`, and
 * `<|endoftext|>` for eos, unk and pad) when neither file names one.
 *
 * Every resolved token is matched whole in the input text before normalization
 * (`normalized: false`, the default for special tokens) or after it (`normalized: true`).
 * So SDXL's tokenizer_2, whose pad token is "!", reads every "!" as the token "!".
 *
 * @example
 *   const s = resolveSpecialTokens({ dir, vocab, specialTokensMap, tokenizerConfig });
 *   s.pad; // 49407 for SD 1.5, 0 for SDXL tokenizer_2
 */
import { ZipbankError } from '../../../errors/index.ts';

export interface AddedToken {
  content: string;
  id: number;
  /** Matched after the normalizer (true) or in the raw text (false). */
  normalized: boolean;
  /** Special tokens are dropped by `decode` when it skips special tokens. */
  special: boolean;
}

export interface SpecialTokens {
  addedTokens: AddedToken[];
  bos: number;
  eos: number;
  pad: number;
  unk: number;
  /** `model_max_length`, else 77. */
  modelMaxLength: number;
  /** `clean_up_tokenization_spaces`, else true. */
  cleanUpSpaces: boolean;
}

const ROLES = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'] as const;
type Role = (typeof ROLES)[number];

const CLIP_DEFAULTS: Partial<Record<Role, string>> = {
  bos_token: '<|startoftext|>',
  eos_token: '<|endoftext|>',
  unk_token: '<|endoftext|>',
  pad_token: '<|endoftext|>',
};

export const DEFAULT_MAX_LENGTH = 77;

type Json = Record<string, unknown>;

const asObject = (v: unknown): Json | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;

/** A token as written in the config files: a string or an AddedToken object. */
function readToken(value: unknown, special: boolean): { content: string; normalized: boolean } | undefined {
  if (typeof value === 'string') return { content: value, normalized: !special };
  const obj = asObject(value);
  if (!obj || typeof obj.content !== 'string') return undefined;
  return { content: obj.content, normalized: typeof obj.normalized === 'boolean' ? obj.normalized : !special };
}

export function resolveSpecialTokens(input: {
  dir: string;
  vocab: ReadonlyMap<string, number>;
  specialTokensMap?: unknown;
  tokenizerConfig?: unknown;
}): SpecialTokens {
  const map = asObject(input.specialTokensMap) ?? {};
  const config = asObject(input.tokenizerConfig) ?? {};
  const added: AddedToken[] = [];
  const byContent = new Map<string, AddedToken>();
  const add = (t: AddedToken) => {
    if (byContent.has(t.content) || t.content === '') return;
    byContent.set(t.content, t);
    added.push(t);
  };

  const decoder = asObject(config.added_tokens_decoder) ?? {};
  const declared = Object.entries(decoder)
    .map(([key, value]) => ({ id: Number(key), obj: asObject(value) }))
    .filter((e) => Number.isInteger(e.id) && e.id >= 0 && e.obj !== undefined)
    .sort((a, b) => a.id - b.id);
  for (const { id, obj } of declared) {
    const special = obj!.special === true;
    const token = readToken(obj, special);
    if (token) add({ ...token, id, special });
  }

  const idOf = (role: string, content: string): number => {
    const id = byContent.get(content)?.id ?? input.vocab.get(content);
    if (id === undefined) throw new ZipbankError('tokenizer.unknown-special-token', { dir: input.dir, role, token: content });
    return id;
  };
  const roleIds: Partial<Record<Role, number>> = {};
  const addSpecial = (role: string, value: unknown) => {
    const token = readToken(value, true);
    if (!token) return undefined;
    const id = idOf(role, token.content);
    add({ ...token, id, special: true });
    return id;
  };
  for (const role of ROLES) {
    const value = [map[role], config[role], CLIP_DEFAULTS[role]].find((v) => readToken(v, true) !== undefined);
    const id = addSpecial(role.replace('_token', ''), value);
    if (id !== undefined) roleIds[role] = id;
  }
  const extra = map.additional_special_tokens ?? config.additional_special_tokens;
  if (Array.isArray(extra)) for (const value of extra) addSpecial('additional special', value);

  const maxLength = config.model_max_length;
  return {
    addedTokens: added,
    bos: roleIds.bos_token!,
    eos: roleIds.eos_token!,
    unk: roleIds.unk_token!,
    pad: roleIds.pad_token!,
    modelMaxLength:
      typeof maxLength === 'number' && Number.isInteger(maxLength) && maxLength >= 2 && maxLength <= 1_000_000 ? maxLength : DEFAULT_MAX_LENGTH,
    cleanUpSpaces: typeof config.clean_up_tokenization_spaces === 'boolean' ? config.clean_up_tokenization_spaces : true,
  };
}
