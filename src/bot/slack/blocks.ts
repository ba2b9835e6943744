/**
 * Slack Block Kit for the core's replies and forms: a `MessageReply` becomes the
 * `text` (notification fallback) and `blocks` of chat.postMessage / chat.update
 * (sections for the text and cards, image blocks only for images with a public URL,
 * a context line for footers, one actions block per button row with the core's
 * custom id as action_id, disabled buttons left out), within Slack's limits (50
 * blocks, 3000 characters per section, 10 fields, 75 per button label). The core's
 * `**bold**` becomes Slack's `*bold*`, and `&`, `<`, `>` are escaped.
 *
 * Modals: `/zip` without arguments opens `zipView` (external selects served by the
 * core's autocomplete, prompt, negative prompt, seed, count); a core `FormReply`
 * (Remix) opens `formView`, whose callback_id is the form's custom id. The channel
 * to answer in travels in the view's private_metadata.
 *
 * @example
 *   const { text, blocks } = messagePayload(reply, { imageUrl: (key) => `https://bank.example/files/${key}` });
 *   await client.chat.postMessage({ channel, text, blocks });
 *   await client.views.open({ trigger_id, view: zipView({ c: channel }) });
 *   const options = zipOptionsOf(view.state.values); // { subject: 'corgi', style: 'watercolor', prompt: '...' }
 */
import type { types } from '@slack/bolt';
import { findCommand, MAX_PROMPT, MAX_SEED } from '../core/commands.ts';
import type { Button, Card, Choice, FormReply, MessageReply } from '../core/types.ts';

export type KnownBlock = types.KnownBlock;
export type ModalView = types.ModalView;
type PlainText = types.PlainTextElement;

/** Slack's limits (Block Kit reference). */
export const LIMITS = {
  blocks: 50,
  sectionText: 3000,
  fieldText: 2000,
  fields: 10,
  buttonText: 75,
  actionId: 255,
  altText: 2000,
  contextText: 3000,
  modalTitle: 24,
  optionText: 75,
  optionValue: 150,
  placeholder: 150,
  inputLength: 3000,
  metadata: 3000,
} as const;

/** The zip modal's callback id, and the prefix of its inputs' action ids (`zb-zip:subject`). */
export const ZIP_VIEW = 'zb-zip';
export const ZIP_ACTION = 'zb-zip:';
/** The zip modal's inputs, in order. */
export const ZIP_FIELDS = ['subject', 'style', 'prompt', 'negative', 'seed', 'count'] as const;

/** What a modal carries back on submit: the conversation to answer in (and the thread). */
export interface ViewMeta {
  c: string;
  t?: string | undefined;
}

export interface BlockOptions {
  /** A public URL for a stored image (Slack fetches it), or undefined: no image block. */
  imageUrl?: ((key: string) => string | undefined) | undefined;
}

export interface MessagePayload {
  text: string;
  blocks: KnownBlock[];
}

/** Cut to `max` characters (code points), ending in `…` when cut. */
export function truncate(s: string, max: number): string {
  const cps = [...s];
  return cps.length <= max ? s : `${cps.slice(0, Math.max(0, max - 1)).join('')}…`;
}

const escapeText = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The core's markup (`**bold**`, backticks) as Slack mrkdwn, with `&`, `<` and `>` escaped. */
export function mrkdwn(text: string): string {
  return text
    .split(/(`[^`\n]*`)/)
    .map((part, i) => (i % 2 === 1 ? escapeText(part) : escapeText(part).replace(/\*\*(?=\S)([^\n]*?\S)\*\*/g, '*$1*')))
    .join('');
}

const plain = (text: string, max: number = LIMITS.buttonText): PlainText => ({ type: 'plain_text', text: truncate(text, max), emoji: true });

/** Text cut into chunks of at most `max` characters, on line breaks where possible. */
export function chunkText(text: string, max = LIMITS.sectionText): string[] {
  const out: string[] = [];
  let rest = text;
  while ([...rest].length > max) {
    const head = [...rest].slice(0, max).join('');
    const cut = head.lastIndexOf('\n');
    const at = cut > max / 2 ? cut : head.length;
    out.push(rest.slice(0, at));
    rest = rest.slice(at).replace(/^\n/, '');
  }
  if (rest.trim() || out.length === 0) out.push(rest);
  return out;
}

function cardBlocks(card: Card, o: BlockOptions): KnownBlock[] {
  const blocks: KnownBlock[] = [];
  const lines = [`*${mrkdwn(card.title)}*`];
  if (card.description) lines.push(mrkdwn(card.description));
  const fields = card.fields.filter((f) => f.inline === true);
  for (const f of card.fields) if (!fields.includes(f)) lines.push(`*${mrkdwn(f.name)}:* ${mrkdwn(f.value)}`);
  const [first, ...more] = chunkText(lines.join('\n'));
  const asField = (f: Card['fields'][number]) => ({ type: 'mrkdwn' as const, text: truncate(`*${mrkdwn(f.name)}*\n${mrkdwn(f.value)}`, LIMITS.fieldText) });
  blocks.push({ type: 'section', text: { type: 'mrkdwn', text: first! }, ...(fields.length ? { fields: fields.slice(0, LIMITS.fields).map(asField) } : {}) });
  for (const t of more) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: t } });
  for (let i = LIMITS.fields; i < fields.length; i += LIMITS.fields) blocks.push({ type: 'section', fields: fields.slice(i, i + LIMITS.fields).map(asField) });
  for (const key of card.imageKeys) {
    const url = o.imageUrl?.(key);
    if (url) blocks.push({ type: 'image', image_url: url, alt_text: truncate(card.title, LIMITS.altText) });
  }
  if (card.footer) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: truncate(mrkdwn(card.footer), LIMITS.contextText) }] });
  return blocks;
}

function buttonElement(b: Button): types.Button {
  return {
    type: 'button',
    action_id: b.id.slice(0, LIMITS.actionId),
    value: b.id,
    text: plain(b.label),
    ...(b.style === 'primary' || b.style === 'danger' ? { style: b.style } : {}),
  };
}

/** Actions blocks for the button rows (disabled buttons left out: Slack has no disabled state). */
export function buttonBlocks(rows: readonly (readonly Button[])[]): KnownBlock[] {
  return rows
    .map((row) => row.filter((b) => !b.disabled).map(buttonElement))
    .filter((els) => els.length > 0)
    .map((elements) => ({ type: 'actions', elements }));
}

/** The reply as chat.postMessage / chat.update / chat.postEphemeral arguments (at most 50 blocks). */
export function messagePayload(reply: MessageReply, o: BlockOptions = {}): MessagePayload {
  const text = mrkdwn(reply.text);
  const head: KnownBlock[] = reply.text.trim() ? chunkText(text).map((t) => ({ type: 'section', text: { type: 'mrkdwn', text: t } })) : [];
  const actions = buttonBlocks(reply.buttons).slice(0, 5);
  const cards = reply.cards.map((c) => cardBlocks(c, o));
  const room = LIMITS.blocks - actions.length;
  const blocks: KnownBlock[] = head.slice(0, Math.max(1, room - 1));
  let shown = 0;
  for (const cb of cards) {
    // Keep one block free for the "more" line when cards are left out.
    const reserve = shown + 1 < cards.length ? 1 : 0;
    if (blocks.length + cb.length + reserve > room) break;
    blocks.push(...cb);
    shown++;
  }
  if (shown < cards.length) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `… ${cards.length - shown} more not shown` }] });
  blocks.push(...actions);
  return { text: truncate(text || reply.cards[0]?.title || ' ', 3000), blocks: blocks.slice(0, LIMITS.blocks) };
}

/** Whether the payload shows images by URL (Slack refuses the whole message when it cannot fetch one). */
export function hasImageBlocks(p: MessagePayload): boolean {
  return p.blocks.some((b) => b.type === 'image');
}

function metadata(meta: ViewMeta): string {
  return JSON.stringify(meta).slice(0, LIMITS.metadata);
}

/** The conversation a modal answers in, from its private_metadata. */
export function viewMeta(privateMetadata: string | undefined): ViewMeta | undefined {
  try {
    const m = JSON.parse(privateMetadata ?? '') as Partial<ViewMeta>;
    return typeof m.c === 'string' && m.c ? { c: m.c, ...(typeof m.t === 'string' ? { t: m.t } : {}) } : undefined;
  } catch {
    return undefined;
  }
}

const describe = (option: string) => findCommand('zip')?.options.find((o) => o.name === option)?.description ?? option;
const label = (option: string) => option.charAt(0).toUpperCase() + option.slice(1);

/** The `/zip` modal: subject and style from the bank (external selects), prompt, negative prompt, seed, count. */
export function zipView(meta: ViewMeta): ModalView {
  const select = (option: 'subject' | 'style'): KnownBlock => ({
    type: 'input',
    block_id: option,
    label: plain(label(option), 2000),
    hint: plain(describe(option), 2000),
    element: { type: 'external_select', action_id: `${ZIP_ACTION}${option}`, min_query_length: 0, placeholder: plain(`type to search the bank`, LIMITS.placeholder) },
  });
  const text = (option: 'prompt' | 'negative', optional: boolean): KnownBlock => ({
    type: 'input',
    block_id: option,
    optional,
    label: plain(option === 'negative' ? 'Negative prompt' : 'Prompt', 2000),
    hint: plain(describe(option), 2000),
    element: { type: 'plain_text_input', action_id: `${ZIP_ACTION}${option}`, multiline: true, max_length: MAX_PROMPT },
  });
  return {
    type: 'modal',
    callback_id: ZIP_VIEW,
    title: plain('Zip two LoRAs', LIMITS.modalTitle),
    submit: plain('Render', LIMITS.modalTitle),
    close: plain('Cancel', LIMITS.modalTitle),
    private_metadata: metadata(meta),
    blocks: [
      select('subject'),
      select('style'),
      text('prompt', false),
      text('negative', true),
      {
        type: 'input',
        block_id: 'seed',
        optional: true,
        label: plain('Seed', 2000),
        hint: plain(describe('seed'), 2000),
        element: { type: 'number_input', action_id: `${ZIP_ACTION}seed`, is_decimal_allowed: false, min_value: '0', max_value: String(MAX_SEED) },
      },
      {
        type: 'input',
        block_id: 'count',
        optional: true,
        label: plain('Images', 2000),
        hint: plain(describe('count'), 2000),
        element: {
          type: 'static_select',
          action_id: `${ZIP_ACTION}count`,
          options: ['1', '2', '3', '4'].map((n) => ({ text: plain(n), value: n })),
        },
      },
    ],
  };
}

/** One input's value as Slack reports it in `view.state.values` (selects: the chosen option's value). */
export interface StateValue {
  type?: string;
  value?: string | null;
  selected_option?: { value?: string } | null;
}
export type StateValues = Readonly<Record<string, Readonly<Record<string, StateValue>>>>;

function valueOf(v: StateValue | undefined): string | undefined {
  if (!v) return undefined;
  const s = v.selected_option ? v.selected_option.value : v.value;
  return typeof s === 'string' ? s : undefined;
}

/** The zip modal's filled inputs as /zip options (strings, as Slack text gives them; empty ones left out). */
export function zipOptionsOf(values: StateValues | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of ZIP_FIELDS) {
    const v = valueOf(values?.[f]?.[`${ZIP_ACTION}${f}`])?.trim();
    if (v) out[f] = v;
  }
  return out;
}

/** A core form (the Remix form) as a modal; its callback_id is the form's custom id. */
export function formView(form: FormReply, meta: ViewMeta): ModalView {
  return {
    type: 'modal',
    callback_id: form.id,
    title: plain(form.title, LIMITS.modalTitle),
    submit: plain('Submit', LIMITS.modalTitle),
    close: plain('Cancel', LIMITS.modalTitle),
    private_metadata: metadata(meta),
    blocks: form.fields.map(
      (f): KnownBlock => ({
        type: 'input',
        block_id: f.id,
        optional: !f.required,
        label: plain(f.label, 2000),
        element: {
          type: 'plain_text_input',
          action_id: f.id,
          multiline: f.style === 'paragraph',
          ...(f.value ? { initial_value: truncate(f.value, Math.min(f.maxLength ?? LIMITS.inputLength, LIMITS.inputLength)) } : {}),
          ...(f.maxLength ? { max_length: Math.min(f.maxLength, LIMITS.inputLength) } : {}),
          ...(f.placeholder ? { placeholder: plain(f.placeholder, LIMITS.placeholder) } : {}),
        },
      }),
    ),
  };
}

/** A submitted form modal's fields, by field id (an emptied field is ''). */
export function formFieldsOf(values: StateValues | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [blockId, actions] of Object.entries(values ?? {})) {
    const v = actions[blockId];
    if (v) out[blockId] = valueOf(v) ?? '';
  }
  return out;
}

/** Autocomplete choices as the options of an external select. */
export function selectOptions(choices: readonly Choice[]): { text: PlainText; value: string }[] {
  return choices.slice(0, 100).map((c) => ({ text: plain(c.name, LIMITS.optionText), value: c.value.slice(0, LIMITS.optionValue) }));
}
