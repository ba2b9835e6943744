/**
 * The bot's commands in one table: names, options, types, choices, ranges and
 * descriptions. Adapters translate it into Discord application commands or Slack
 * slash-command help; the core validates every request against it (Discord checks
 * ranges in its client only, Slack not at all). Names and sizes respect Discord's
 * limits (names 1-32 characters, descriptions 1-100, 25 options, 25 choices).
 *
 * @example
 *   const def = findCommand('bank rate');   // the leaf command with its options
 *   for (const top of COMMANDS) register(top.name, top.description, top.subcommands ?? top.options);
 */
import { REPORT_REASONS } from '../../bank/moderation.ts';

export type OptionType = 'string' | 'integer' | 'number' | 'boolean' | 'attachment';

/** Which bank entries an option's autocomplete offers. */
export type AutocompleteSource = 'subject' | 'style' | 'lora';

export interface OptionDef {
  name: string;
  type: OptionType;
  description: string;
  required?: boolean;
  choices?: readonly { name: string; value: string }[];
  /** Numbers: inclusive range. */
  min?: number;
  max?: number;
  /** Strings: length range. */
  minLength?: number;
  maxLength?: number;
  autocomplete?: AutocompleteSource;
}

export interface LeafCommand {
  /** Path as adapters name it: `zip`, `bank search`. */
  path: string;
  name: string;
  description: string;
  options: readonly OptionDef[];
  /**
   * Slack text: bare words fill these options in order (`/bank rate corgi 5`); the
   * last one, when a string, takes all remaining words (`/zip ... a corgi surfing`).
   */
  positional?: readonly string[];
}

export interface TopCommand {
  name: string;
  description: string;
  /** Either options (a leaf) or subcommands. */
  options?: readonly OptionDef[];
  positional?: readonly string[];
  subcommands?: readonly Omit<LeafCommand, 'path'>[];
}

export const METHODS = ['ziplora', 'direct'] as const;
export const KINDS = ['subject', 'style', 'other'] as const;
export const BASE_MODELS = ['sd15', 'sd2', 'sdxl', 'world'] as const;
export const MAX_SEED = 4_294_967_295;
export const MAX_PROMPT = 1000;
export const STRENGTH_STEP = 0.25;

const choices = (values: readonly string[]) => values.map((v) => ({ name: v, value: v }));
const loraName = (what: string): OptionDef => ({
  name: 'name',
  type: 'string',
  description: `the LoRA to ${what} (its bank name)`,
  required: true,
  maxLength: 32,
  autocomplete: 'lora',
});

export const COMMANDS: readonly TopCommand[] = [
  {
    name: 'zip',
    description: 'merge a subject LoRA and a style LoRA with ZipLoRA and render a prompt',
    options: [
      { name: 'subject', type: 'string', description: 'subject LoRA from the bank (a dog, a plush toy)', required: true, maxLength: 32, autocomplete: 'subject' },
      { name: 'style', type: 'string', description: 'style LoRA from the bank (watercolor, pixel art)', required: true, maxLength: 32, autocomplete: 'style' },
      { name: 'prompt', type: 'string', description: 'what to draw', required: true, minLength: 1, maxLength: MAX_PROMPT },
      { name: 'negative', type: 'string', description: 'what to steer away from', maxLength: MAX_PROMPT },
      { name: 'seed', type: 'integer', description: 'starting seed (image i uses seed + i); default random', min: 0, max: MAX_SEED },
      { name: 'count', type: 'integer', description: 'number of images, 1 to 4', min: 1, max: 4 },
      { name: 'strength', type: 'number', description: 'style strength from 0 (subject only) to 1 (full style)', min: 0, max: 1 },
      { name: 'steps', type: 'integer', description: 'denoising steps', min: 1, max: 100 },
      { name: 'method', type: 'string', description: 'ziplora (learned merge) or direct (plain sum)', choices: choices(METHODS) },
    ],
    positional: ['prompt'],
  },
  {
    name: 'bank',
    description: 'browse, rate and manage the community LoRA bank',
    subcommands: [
      {
        name: 'search',
        description: 'search the bank by name, tags, trigger words and description',
        options: [
          { name: 'query', type: 'string', description: 'words to look for', maxLength: 100 },
          { name: 'kind', type: 'string', description: 'only this kind', choices: choices(KINDS) },
          { name: 'base', type: 'string', description: 'only this base model', choices: choices(BASE_MODELS) },
        ],
        positional: ['query'],
      },
      { name: 'show', description: "one LoRA's card: previews, trigger words, rating", options: [loraName('show')], positional: ['name'] },
      {
        name: 'top',
        description: 'the most used, best rated or newest LoRAs',
        options: [
          { name: 'kind', type: 'string', description: 'only this kind', choices: choices(KINDS) },
          { name: 'sort', type: 'string', description: 'popular (default), rating or newest', choices: choices(['popular', 'rating', 'newest']) },
        ],
        positional: ['kind'],
      },
      {
        name: 'upload',
        description: 'add a LoRA (.safetensors) to the bank',
        options: [
          { name: 'file', type: 'attachment', description: 'the LoRA file (.safetensors)', required: true },
          { name: 'name', type: 'string', description: 'bank name: 2-32 lowercase letters, digits, - or _', required: true, minLength: 2, maxLength: 32 },
          { name: 'kind', type: 'string', description: 'subject, style or other', required: true, choices: choices(KINDS) },
          { name: 'description', type: 'string', description: 'what it draws', maxLength: 500 },
          { name: 'trigger', type: 'string', description: 'trigger words, comma-separated', maxLength: 200 },
          { name: 'tags', type: 'string', description: 'tags, comma-separated', maxLength: 200 },
          { name: 'nsfw', type: 'boolean', description: 'it makes adult content' },
          { name: 'visibility', type: 'string', description: 'public (default) or only this community', choices: choices(['public', 'community']) },
        ],
        positional: ['name', 'kind'],
      },
      {
        name: 'rate',
        description: 'rate a LoRA from 1 to 5 stars',
        options: [loraName('rate'), { name: 'stars', type: 'integer', description: '1 to 5', required: true, min: 1, max: 5 }],
        positional: ['name', 'stars'],
      },
      {
        name: 'report',
        description: 'report a LoRA to the moderators',
        options: [
          loraName('report'),
          { name: 'reason', type: 'string', description: 'why', required: true, choices: choices(REPORT_REASONS) },
          { name: 'details', type: 'string', description: 'anything moderators should know', maxLength: 1000 },
        ],
        positional: ['name', 'reason', 'details'],
      },
      {
        name: 'remove',
        description: 'remove a LoRA (its uploader or a moderator)',
        options: [loraName('remove'), { name: 'reason', type: 'string', description: 'why', maxLength: 300 }],
        positional: ['name', 'reason'],
      },
    ],
  },
  {
    name: 'remix',
    description: 'renders made from other renders',
    subcommands: [
      {
        name: 'history',
        description: "a render's lineage: parents, children, who changed what",
        options: [{ name: 'render', type: 'string', description: 'render id or short id (#1a2b3c4d)', required: true, maxLength: 36 }],
        positional: ['render'],
      },
    ],
  },
];

/** Every leaf command, by path. */
export const LEAVES: ReadonlyMap<string, LeafCommand> = new Map(
  COMMANDS.flatMap((top): LeafCommand[] =>
    top.subcommands
      ? top.subcommands.map((s) => ({ ...s, path: `${top.name} ${s.name}` }))
      : [{ path: top.name, name: top.name, description: top.description, options: top.options ?? [], ...(top.positional ? { positional: top.positional } : {}) }],
  ).map((leaf) => [leaf.path, leaf] as const),
);

export function findCommand(path: string): LeafCommand | undefined {
  return LEAVES.get(path.trim().replace(/^\//, '').replace(/\s+/g, ' ').toLowerCase());
}

export function findTop(name: string): TopCommand | undefined {
  const n = name.trim().replace(/^\//, '').toLowerCase();
  return COMMANDS.find((c) => c.name === n);
}
