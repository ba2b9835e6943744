/** Block Kit from the core's replies and forms: markup, limits, buttons, images only by URL, and the modals read back. */
import { describe, expect, it } from 'vitest';
import {
  formFieldsOf,
  formView,
  LIMITS,
  messagePayload,
  mrkdwn,
  selectOptions,
  viewMeta,
  zipOptionsOf,
  zipView,
  type KnownBlock,
} from '../../../src/bot/slack/blocks.ts';
import type { Card, MessageReply } from '../../../src/bot/core/index.ts';

const reply = (extra: Partial<MessageReply> = {}): MessageReply => ({ kind: 'message', text: '', ephemeral: false, cards: [], attachments: [], buttons: [], ...extra });
const card = (i: number, extra: Partial<Card> = {}): Card => ({
  title: `card ${i}`,
  description: `about ${i}`,
  fields: [
    { name: 'Seed', value: String(i), inline: true },
    { name: 'Negative', value: 'blurry' },
  ],
  imageKeys: [`renders/aa/bb/${String(i).padStart(64, '0')}.png`],
  footer: `#${i}`,
  ...extra,
});
const types = (blocks: KnownBlock[]) => blocks.map((b) => b.type);

describe('mrkdwn', () => {
  it("turns the core's bold into Slack's and escapes what Slack reads as markup", () => {
    expect(mrkdwn('**cat × flower** #1a2b3c4d: “a <b> & c” for Ann')).toBe('*cat × flower* #1a2b3c4d: “a &lt;b&gt; &amp; c” for Ann');
    expect(mrkdwn('`/zip` needs `subject`')).toBe('`/zip` needs `subject`');
    // Inside code, stars stay as typed.
    expect(mrkdwn('`**x**` and **y**')).toBe('`**x**` and *y*');
    expect(mrkdwn('2 ** 3 is not bold')).toBe('2 ** 3 is not bold');
  });
});

describe('messagePayload', () => {
  it('gives a section for the text, a card with fields, a footer, and one actions block per row', () => {
    const p = messagePayload(
      reply({
        text: '**cat × flower** #1: done',
        cards: [card(1)],
        buttons: [
          [
            { id: 'zb1:u:a:1', label: 'U1', style: 'secondary' },
            { id: 'zb1:x:a', label: 'Cancel', style: 'danger' },
          ],
          [
            { id: 'zb1:s:a:-', label: 'Style −', style: 'secondary', disabled: true },
            { id: 'zb1:m:a', label: '🎛️ Remix', style: 'primary' },
          ],
          [{ id: 'zb1:s:a:+', label: 'off', style: 'secondary', disabled: true }],
        ],
      }),
    );
    expect(p.text).toBe('*cat × flower* #1: done');
    // No public URL: no image block.
    expect(types(p.blocks)).toEqual(['section', 'section', 'context', 'actions', 'actions']);
    const sec = p.blocks[1] as { text: { text: string }; fields: { text: string }[] };
    expect(sec.text.text).toBe('*card 1*\nabout 1\n*Negative:* blurry');
    expect(sec.fields.map((f) => f.text)).toEqual(['*Seed*\n1']);
    const rows = p.blocks.filter((b) => b.type === 'actions') as { elements: { action_id: string; style?: string; text: { text: string } }[] }[];
    expect(rows[0]!.elements.map((e) => [e.action_id, e.style])).toEqual([
      ['zb1:u:a:1', undefined],
      ['zb1:x:a', 'danger'],
    ]);
    // Disabled buttons are left out; a row of only disabled ones disappears.
    expect(rows[1]!.elements.map((e) => e.text.text)).toEqual(['🎛️ Remix']);
  });

  it('shows images only when they have a public URL', () => {
    const p = messagePayload(reply({ text: 'x', cards: [card(1)] }), { imageUrl: (k) => `https://bank.example/files/${k}` });
    const img = p.blocks.find((b) => b.type === 'image') as { image_url: string; alt_text: string };
    expect(img).toMatchObject({ image_url: expect.stringMatching(/^https:\/\/bank\.example\/files\/renders\//), alt_text: 'card 1' });
  });

  it('keeps to 50 blocks, says how many cards were left out, and keeps the buttons', () => {
    const buttons = Array.from({ length: 5 }, (_, r) => Array.from({ length: 5 }, (_, i) => ({ id: `zb1:b:${r}${i}`, label: `B${r}${i}`, style: 'secondary' as const })));
    const p = messagePayload(reply({ text: 'many', cards: Array.from({ length: 30 }, (_, i) => card(i)), buttons }), { imageUrl: (k) => `https://x/${k}` });
    expect(p.blocks.length).toBeLessThanOrEqual(LIMITS.blocks);
    expect(p.blocks.filter((b) => b.type === 'actions')).toHaveLength(5);
    const more = p.blocks.filter((b) => b.type === 'context').at(-1) as { elements: { text: string }[] };
    // 3 blocks per card (section, image, footer): 50 - 5 rows - 1 text - 1 "more" line leaves room for 14 cards.
    expect(more.elements[0]!.text).toBe('… 16 more not shown');
    expect(p.blocks).toHaveLength(1 + 14 * 3 + 1 + 5);
  });

  it('splits long text into sections of at most 3000 characters', () => {
    const long = Array.from({ length: 200 }, (_, i) => `line ${i} ${'x'.repeat(40)}`).join('\n');
    const p = messagePayload(reply({ text: long }));
    const texts = p.blocks.map((b) => (b as { text: { text: string } }).text.text);
    expect(texts.length).toBeGreaterThan(1);
    expect(texts.every((t) => t.length <= 3000)).toBe(true);
    expect(texts.join('\n')).toBe(long);
    expect(p.text.length).toBeLessThanOrEqual(3000);
  });
});

describe('modals', () => {
  it('the /zip modal: external selects for subject and style, prompt, negative, seed and count; read back as options', () => {
    const v = zipView({ c: 'C1' });
    expect(v).toMatchObject({ type: 'modal', callback_id: 'zb-zip', private_metadata: '{"c":"C1"}' });
    expect(v.blocks.map((b) => (b as { block_id: string }).block_id)).toEqual(['subject', 'style', 'prompt', 'negative', 'seed', 'count']);
    const el = (i: number) => (v.blocks[i] as { element: { type: string; action_id: string } }).element;
    expect([el(0).type, el(1).type, el(4).type, el(5).type]).toEqual(['external_select', 'external_select', 'number_input', 'static_select']);
    expect(el(0).action_id).toBe('zb-zip:subject');
    expect(viewMeta(v.private_metadata)).toEqual({ c: 'C1' });
    expect(viewMeta('nonsense')).toBeUndefined();

    const options = zipOptionsOf({
      subject: { 'zb-zip:subject': { type: 'external_select', selected_option: { value: 'cat' } } },
      style: { 'zb-zip:style': { type: 'external_select', selected_option: { value: 'flower' } } },
      prompt: { 'zb-zip:prompt': { type: 'plain_text_input', value: ' a cat surfing ' } },
      negative: { 'zb-zip:negative': { type: 'plain_text_input', value: null } },
      seed: { 'zb-zip:seed': { type: 'number_input', value: '7' } },
      count: { 'zb-zip:count': { type: 'static_select', selected_option: null } },
    });
    expect(options).toEqual({ subject: 'cat', style: 'flower', prompt: 'a cat surfing', seed: '7' });
  });

  it("a core form becomes a modal with the form's id as callback_id; an emptied field reads as ''", () => {
    const v = formView(
      {
        kind: 'form',
        id: 'zb1:mf:abc',
        title: 'Remix #1a2b3c4d with a very long title here',
        fields: [
          { id: 'prompt', label: 'Prompt', style: 'paragraph', value: 'a cat', required: true, maxLength: 1000 },
          { id: 'negative', label: 'Negative prompt', style: 'paragraph', value: '', required: false, maxLength: 1000 },
        ],
      },
      { c: 'C1', t: '1.2' },
    );
    expect(v.callback_id).toBe('zb1:mf:abc');
    expect([...v.title.text].length).toBeLessThanOrEqual(24);
    expect(v.blocks[0]).toMatchObject({ block_id: 'prompt', optional: false, element: { action_id: 'prompt', multiline: true, initial_value: 'a cat', max_length: 1000 } });
    expect(v.blocks[1]).toMatchObject({ block_id: 'negative', optional: true });
    expect((v.blocks[1] as unknown as { element: Record<string, unknown> }).element.initial_value).toBeUndefined();
    expect(viewMeta(v.private_metadata)).toEqual({ c: 'C1', t: '1.2' });
    expect(formFieldsOf({ prompt: { prompt: { value: 'a cat skiing' } }, negative: { negative: { value: null } } })).toEqual({ prompt: 'a cat skiing', negative: '' });
  });

  it('autocomplete choices become select options within Slack limits', () => {
    expect(selectOptions([{ name: 'cat — Tabby Cat'.padEnd(100, '!'), value: 'cat' }])).toEqual([
      { text: { type: 'plain_text', text: expect.stringMatching(/^cat — Tabby Cat!+…$/), emoji: true }, value: 'cat' },
    ]);
    expect([...selectOptions([{ name: 'x'.repeat(100), value: 'x' }])[0]!.text.text].length).toBe(75);
  });
});
