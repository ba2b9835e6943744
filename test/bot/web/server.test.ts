import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebServer, type WebServer } from '../../../src/bot/web/server.ts';
import { openTestBank, type TestBank } from '../../support/bank.ts';
import { fixture } from '../../support/paths.ts';
import sharp from 'sharp';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('local web page (bank browser, no channel)', () => {
  let t: TestBank;
  let server: WebServer;
  beforeAll(async () => {
    t = await openTestBank('pglite', '');
    const img = join(mkdtempSync(join(tmpdir(), 'zb-web-')), 'ref.png');
    await sharp({ create: { width: 16, height: 16, channels: 3, background: '#f00' } }).png().toFile(img);
    await t.bank.add({
      file: fixture('lora', 'sd15_diffusers-attnproc_catundchat.safetensors'),
      name: 'cat',
      kind: 'subject',
      description: 'a tabby cat',
      uploader: { platform: 'web', userId: 'u' },
      images: [{ file: img, prompt: 'a photo of sks cat' }],
    });
    server = await startWebServer({ bank: t.bank, host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  const get = (path: string) => fetch(new URL(path, server.url));

  it('serves the page and a health check', async () => {
    const page = await get('/');
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('<title>zipbank</title>');
    expect(await (await get('/api/health')).json()).toEqual({ ok: true, database: 'external', channel: false, loras: 1, subjects: 1, styles: 0 });
  });

  it('searches, autocompletes, shows a card and serves its reference image', async () => {
    const page = (await (await get('/api/loras?q=tabby')).json()) as { items: { name: string; preview: string | null }[] };
    expect(page.items.map((i) => i.name)).toEqual(['cat']);
    // The gallery's preview image is served once the gallery has shown it.
    expect(page.items[0]!.preview).toMatch(/^\/files\/images\/.+\.png$/);
    expect((await get(page.items[0]!.preview!)).headers.get('content-type')).toBe('image/png');
    expect(await (await get('/api/autocomplete?prefix=ca')).json()).toEqual([{ name: 'cat', displayName: 'cat', kind: 'subject', baseModel: 'sd15' }]);
    const card = (await (await get('/api/loras/cat')).json()) as { lora: { name: string }; images: { storageKey: string }[] };
    expect(card.lora.name).toBe('cat');
    const img = await get(`/files/${card.images[0]!.storageKey}`);
    expect(img.headers.get('content-type')).toBe('image/png');
    expect((await sharp(Buffer.from(await img.arrayBuffer())).metadata()).width).toBe(16);
  });

  it('answers errors as JSON with the right status', async () => {
    const missing = await get('/api/loras/nope');
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: string }).error).toMatch(/no LoRA named "nope"/);
    expect((await get('/api/loras?cursor=junk&sort=popular')).status).toBe(400);
    expect((await get('/files/../../etc/passwd')).status).toBe(404);
    expect((await fetch(new URL('/api/loras', server.url), { method: 'POST' })).status).toBe(405);
    expect((await fetch(new URL('/api/loras', server.url), { method: 'DELETE' })).status).toBe(405);
    // No chat channel on this server: its API is not there.
    expect((await get('/api/channel/messages')).status).toBe(404);
    const stray = await t.bank.store.putBuffer(await sharp({ create: { width: 4, height: 4, channels: 3, background: '#00f' } }).png().toBuffer(), 'images', 'png');
    expect((await get(`/files/${stray.key}`)).status).toBe(404);
  });
});
