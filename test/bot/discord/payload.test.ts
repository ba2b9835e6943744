/**
 * Core replies as Discord messages: text, embeds with the card image uploaded and
 * shown from `attachment://`, buttons as action rows, Discord's size limits, and
 * files over the interaction's upload limit (WebP when that fits, else a link to the
 * web channel for a render's image only, else a note; an exported LoRA or a stats
 * file is never linked).
 */
import { describe, expect, it } from 'vitest';
import { ButtonStyle, ComponentType, MessageFlags } from 'discord.js';
import { composeGrid } from '../../../src/engine/image/index.ts';
import type { MessageReply } from '../../../src/bot/core/index.ts';
import { createOptions, DEFAULT_ATTACHMENT_LIMIT, isLinkable, replyOptions, restPayload, toComponents, toDiscordMessage } from '../../../src/bot/discord/payload.ts';
import { tinyPng } from '../web/support.ts';

const GRID = `renders/ab/cd/${'a'.repeat(64)}.png`;
const LORA = `zips/ab/cd/${'b'.repeat(64)}.safetensors`;

function reply(extra: Partial<MessageReply> = {}): MessageReply {
  return { kind: 'message', text: 'hello', ephemeral: false, cards: [], attachments: [], buttons: [], ...extra };
}

function store(files: Record<string, Buffer>) {
  const reads: string[] = [];
  return {
    reads,
    read: async (key: string) => {
      reads.push(key);
      const f = files[key];
      if (!f) throw new Error(`no file ${key}`);
      return f;
    },
  };
}

describe('toDiscordMessage', () => {
  it('maps text, a card with its image, buttons and attachments', async () => {
    const png = await tinyPng(1, 16);
    const s = store({ [GRID]: png, [LORA]: Buffer.from('lora') });
    const m = await toDiscordMessage(
      reply({
        text: '**cat × flower** done',
        cards: [{ title: 'cat × flower', description: 'a cat', fields: [{ name: 'Seed', value: '7', inline: true }, { name: 'Negative', value: '' }], imageKeys: [GRID], footer: '#1a2b3c4d' }],
        attachments: [{ name: 'cat flower.safetensors', contentType: 'application/octet-stream', key: LORA }],
        buttons: [[{ id: 'zb1:u:x:1', label: 'U1', style: 'secondary' }, { id: 'zb1:m:x', label: 'Remix', style: 'primary', disabled: true }], [{ id: 'zb1:x:x', label: 'Cancel', style: 'danger' }]],
      }),
      { read: s.read },
    );
    expect(m.content).toBe('**cat × flower** done');
    expect(m.files.map((f) => f.name)).toEqual([expect.stringMatching(/^zipbank-[0-9a-f]{8}\.png$/), 'cat_flower.safetensors']);
    expect(m.files[0]!.data.equals(png)).toBe(true);
    expect(m.embeds).toEqual([
      {
        title: 'cat × flower',
        description: 'a cat',
        fields: [{ name: 'Seed', value: '7', inline: true }, { name: 'Negative', value: '\u200b' }],
        image: { url: `attachment://${m.files[0]!.name}` },
        footer: { text: '#1a2b3c4d' },
      },
    ]);
    expect(m.components).toEqual([
      {
        type: ComponentType.ActionRow,
        components: [
          { type: ComponentType.Button, custom_id: 'zb1:u:x:1', label: 'U1', style: ButtonStyle.Secondary },
          { type: ComponentType.Button, custom_id: 'zb1:m:x', label: 'Remix', style: ButtonStyle.Primary, disabled: true },
        ],
      },
      { type: ComponentType.ActionRow, components: [{ type: ComponentType.Button, custom_id: 'zb1:x:x', label: 'Cancel', style: ButtonStyle.Danger }] },
    ]);
    expect(m.notes).toEqual([]);
  });

  it("holds everything to Discord's limits", async () => {
    const button = (i: number) => ({ id: `b${i}`, label: 'L'.repeat(100), style: 'secondary' as const });
    const m = await toDiscordMessage(
      reply({
        text: 'x'.repeat(3000),
        cards: Array.from({ length: 12 }, (_, i) => ({ title: `t${i}`.repeat(200), fields: Array.from({ length: 30 }, () => ({ name: 'n', value: 'v'.repeat(2000) })), imageKeys: [] })),
        buttons: Array.from({ length: 7 }, (_, r) => Array.from({ length: 6 }, (_, i) => button(r * 10 + i))),
      }),
      { read: store({}).read },
    );
    expect([...m.content]).toHaveLength(2000);
    expect(m.content.endsWith('…')).toBe(true);
    expect(m.embeds).toHaveLength(10);
    expect(m.embeds[0]!.title!.length).toBeLessThanOrEqual(256);
    expect(m.embeds[0]!.fields).toHaveLength(25);
    expect(m.embeds[0]!.fields![0]!.value.length).toBeLessThanOrEqual(1024);
    expect(m.components).toHaveLength(5);
    expect(m.components.every((r) => r.components.length === 5)).toBe(true);
    expect(m.components[0]!.components[0]!.label!.length).toBe(80);
    expect(toComponents([[], [button(1)]])).toHaveLength(1);
  });

  it('sends an image over the upload limit as WebP when that fits, and says so', async () => {
    const png = await tinyPng(3, 64);
    const webp = await composeGrid([png], { format: 'webp', quality: 85 });
    expect(webp.byteLength).toBeLessThan(png.byteLength); // the case under test
    const m = await toDiscordMessage(reply({ cards: [{ title: 'grid', fields: [], imageKeys: [GRID] }] }), { read: store({ [GRID]: png }).read, limitBytes: webp.byteLength });
    expect(m.files).toHaveLength(1);
    expect(m.files[0]!.name).toMatch(/\.webp$/);
    expect(m.files[0]!.contentType).toBe('image/webp');
    expect(m.files[0]!.data.subarray(8, 12).toString()).toBe('WEBP');
    expect(m.embeds[0]!.image).toEqual({ url: `attachment://${m.files[0]!.name}` });
    expect(m.content).toMatch(/upload limit: sent as WebP instead\.$/);
  });

  it("links a render's image that cannot fit to the web channel, never another file, or says it could not be attached", async () => {
    const png = await tinyPng(3, 64);
    const s = store({ [GRID]: png, [LORA]: Buffer.alloc(200) });
    const r = reply({ cards: [{ title: 'grid', fields: [], imageKeys: [GRID] }], attachments: [{ name: 'merged.safetensors', contentType: 'application/octet-stream', key: LORA }] });
    const linked = await toDiscordMessage(r, { read: s.read, limitBytes: 10, publicUrl: 'https://zip.example.org/' });
    expect(linked.files).toEqual([]);
    expect(linked.embeds[0]!.image).toBeUndefined();
    expect(linked.notes).toEqual([
      expect.stringMatching(new RegExp(`^zipbank-[0-9a-f]{8}\\.png \\(0\\.0 MiB\\) is over this server's 0\\.0 MiB upload limit: https://zip\\.example\\.org/files/${GRID.replace(/\./g, '\\.')}$`)),
      // An exported LoRA is private: the web server would not serve it, and a public link would leak it.
      "merged.safetensors (0.0 MiB) is too large for this server's 0.0 MiB upload limit, and only render images are linked publicly: " +
        "get it on zipbank's web channel (https://zip.example.org) or with the `zipbank` CLI on the bot's host.",
    ]);
    expect(linked.content).not.toContain(LORA);
    expect(linked.content.split('\n')).toEqual(['hello', ...linked.notes]);

    const unlinked = await toDiscordMessage(r, { read: s.read, limitBytes: 10 });
    expect(unlinked.notes).toEqual([
      expect.stringContaining('no web address is configured'),
      "merged.safetensors (0.0 MiB) is too large for this server's 0.0 MiB upload limit, and only render images are linked publicly: get it on zipbank's web channel or with the `zipbank` CLI on the bot's host.",
    ]);
    const gone = await toDiscordMessage(reply({ attachments: [{ name: 'x.png', contentType: 'image/png', key: GRID }] }), { read: store({}).read });
    expect(gone.notes).toEqual(['x.png is no longer in the file store.']);
  });

  it("links only renders' images: not statistics plots, stats files, LoRAs, or anything outside renders/", () => {
    expect(isLinkable(GRID)).toBe(true);
    expect(isLinkable(`renders/00/ff/${'0'.repeat(64)}.png`)).toBe(true);
    for (const key of [
      LORA,
      `zips/ab/cd/${'c'.repeat(64)}.png`, // a statistics plot
      `zips/ab/cd/${'c'.repeat(64)}.json`,
      `loras/ab/cd/${'c'.repeat(64)}.safetensors`,
      `renders/ab/cd/${'c'.repeat(64)}.safetensors`,
      `renders/ab/cd/${'c'.repeat(64)}.json`,
      `renders/../zips/${'c'.repeat(64)}.png`,
      `renders/ab/cd/${'c'.repeat(64)}.png?x=1`,
      '',
      undefined,
    ]) {
      expect(isLinkable(key), String(key)).toBe(false);
    }
  });

  it('keeps one request within 25 MiB: what does not fit is linked', async () => {
    const big = Buffer.alloc(10 * 2 ** 20, 1);
    const keys = [1, 2, 3].map((i) => `renders/ab/cd/${String(i).repeat(64)}.png`);
    const m = await toDiscordMessage(reply({ attachments: keys.map((key, i) => ({ name: `f${i}.png`, contentType: 'image/png', key })) }), {
      read: store(Object.fromEntries(keys.map((k) => [k, big]))).read,
      limitBytes: 50 * 2 ** 20,
      publicUrl: 'https://zip.example.org',
      toWebp: async () => {
        throw new Error('not an image');
      },
    });
    expect(m.files.map((f) => f.name)).toEqual(['f0.png', 'f1.png']);
    expect(m.notes).toEqual([expect.stringContaining(`https://zip.example.org/files/${keys[2]}`)]);
  });

  it('gives discord.js and raw REST the same message, ephemeral only where a message is created', async () => {
    const png = await tinyPng(2, 8);
    const m = await toDiscordMessage(reply({ ephemeral: true, attachments: [{ name: 'a.png', contentType: 'image/png', data: png }] }), { read: store({}).read });
    expect(DEFAULT_ATTACHMENT_LIMIT).toBe(10 * 2 ** 20);
    expect(createOptions(m)).toMatchObject({ content: 'hello', flags: MessageFlags.Ephemeral, allowedMentions: { parse: [] }, files: [{ name: 'a.png' }] });
    expect(replyOptions(m)).not.toHaveProperty('flags');
    const rest = restPayload(m);
    expect(rest.body).toMatchObject({ content: 'hello', attachments: [{ id: '0', filename: 'a.png' }], allowed_mentions: { parse: [] } });
    expect(rest.files).toEqual([{ name: 'a.png', data: png, contentType: 'image/png' }]);
  });
});
