/**
 * The web channel end to end in a real browser: Playwright (playwright-core) driving
 * Debian's Chromium headless, against `startWebApp` with the in-process worker on the
 * real engine (a seeded tiny SD 1.5 model and seeded LoRAs in the bank; ZipLoRA in 3
 * steps, 4 images of 32x32 in 2 steps). Ann types /zip with autocomplete, sees the
 * progress and the grid, opens Remix, edits the prompt, and sees the child render;
 * Bob, in another browser context (his own localStorage and name), sees both live.
 *
 * Without /usr/bin/chromium the suite is skipped (install it: apt-get install
 * chromium), or fails when ZIPBANK_REQUIRE_BROWSER=1 (CI).
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startWebApp, type WebApp } from '../../../src/bot/web/app.ts';
import { engineFixture, type EngineFixture } from '../../jobs/engine/support.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const HOW = `Debian's Chromium is not at ${CHROMIUM}; install it with: apt-get install chromium`;
const have = existsSync(CHROMIUM);
const required = process.env.ZIPBANK_REQUIRE_BROWSER === '1';

if (!have && !required) {
  describe.skip(`web channel in a browser (skipped: ${HOW})`, () => it('skipped', () => {}));
} else if (!have) {
  describe('web channel in a browser', () => {
    it('needs Chromium (ZIPBANK_REQUIRE_BROWSER=1)', () => {
      throw new Error(HOW);
    });
  });
} else {
  describe('web channel in a browser', () => {
    let f: EngineFixture;
    let app: WebApp;
    let browser: Browser;

    beforeAll(async () => {
      const [fixture, pw] = await Promise.all([engineFixture(), import('playwright-core')]);
      f = fixture;
      await f.addLora('corgi', 'subject', 21);
      await f.addLora('watercolor', 'style', 22);
      app = await startWebApp({
        bank: f.t.bank,
        handler: f.handler(),
        worker: { pollMs: 50, progressThrottleMs: 50 },
        core: { renderDefaults: { sd15: { width: 32, height: 32, steps: 2, count: 4, scheduler: 'euler' } } },
        channel: { follow: { intervalMs: 100, pollMs: 1000 } },
        log: () => {},
      });
      browser = await pw.chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS, env: { ...process.env, HOME: mkdtempSync(join(tmpdir(), 'zipbank-chromium-')) } });
    });
    afterAll(async () => {
      await browser?.close();
      await app?.close();
      await f?.close();
    });

    /** A person in their own browser context: opens the page and joins with a display name. */
    async function enter(name: string): Promise<Page> {
      const context = await browser.newContext();
      const page = await context.newPage();
      page.on('pageerror', (e) => console.error(`[${name}'s page] ${e.message}`));
      await page.goto(app.url);
      await page.locator('#nameInput').fill(name);
      await page.getByRole('button', { name: 'Join the channel' }).click();
      // (Browser-side code is given as text: this project's TypeScript has no DOM types.)
      await page.waitForFunction("document.body.dataset.connected === '1'");
      // Record every text a message shows, to check the progress that went by.
      await page.evaluate(`
        window.seen = [];
        new MutationObserver(() => {
          for (const el of document.querySelectorAll('#log .msg .text')) if (window.seen.at(-1) !== el.textContent) window.seen.push(el.textContent);
        }).observe(document.getElementById('log'), { subtree: true, childList: true, characterData: true });
      `);
      return page;
    }

    /** Type into the composer and take the autocomplete choice that shows `choice`. */
    async function typeAndPick(page: Page, text: string, choice: string): Promise<void> {
      await page.locator('#input').pressSequentially(text);
      await page.locator('#popup div.sel', { hasText: choice }).waitFor();
      await page.keyboard.press('Tab');
    }

    const grid = (page: Page, renderId: string) => page.locator(`.msg[data-render-id="${renderId}"][data-live="0"] img.grid`);
    const loaded = (page: Page, renderId: string) =>
      page.waitForFunction(`(() => {
        const img = document.querySelector('.msg[data-render-id="${renderId}"][data-live="0"] img.grid');
        return !!img && img.complete && img.naturalWidth === 64;
      })()`);

    it('zips, renders and remixes from the page, and a second person sees it all live', async () => {
      const ann = await enter('Ann');
      const bob = await enter('Bob');
      await bob.locator('#online', { hasText: 'Ann, Bob' }).waitFor();

      // Ann: /zip with autocomplete for both LoRAs.
      await ann.locator('#input').click();
      await typeAndPick(ann, '/zip subject:co', 'corgi');
      await typeAndPick(ann, 'style:wat', 'watercolor');
      await ann.locator('#input').pressSequentially('prompt:"a sks dog surfing in sks style"');
      expect(await ann.locator('#input').inputValue()).toBe('/zip subject:corgi style:watercolor prompt:"a sks dog surfing in sks style"');
      await ann.keyboard.press('Enter');

      const first = ann.locator('.msg[data-render-id]').first();
      await first.waitFor();
      const renderId = (await first.getAttribute('data-render-id'))!;
      await grid(ann, renderId).waitFor({ timeout: 45_000 });
      await loaded(ann, renderId);
      const doneText = await ann.locator(`.msg[data-render-id="${renderId}"] .text`).textContent();
      expect(doneText).toContain('“a sks dog surfing in sks style” for Ann');
      const annSeen = (await ann.evaluate('window.seen')) as string[];
      expect(annSeen.some((s) => /queued|starting|zipping|rendering/.test(s))).toBe(true);
      expect(annSeen.some((s) => /(zipping|rendering) [▰▱]+ \d+\/\d+/.test(s))).toBe(true);

      // Bob saw the same message live, with Ann's command above it.
      await loaded(bob, renderId);
      expect(await bob.locator(`.msg[data-render-id="${renderId}"] .invoke`).textContent()).toContain('Ann used /zip subject:corgi style:watercolor');
      const bobSeen = (await bob.evaluate('window.seen')) as string[];
      expect(bobSeen.some((s) => /(zipping|rendering) [▰▱]+ \d+\/\d+/.test(s))).toBe(true);

      // Ann: Remix, edit the prompt, submit.
      await ann.locator(`.msg[data-render-id="${renderId}"] button`, { hasText: 'Remix' }).click();
      const dialog = ann.locator('#formDialog');
      await dialog.waitFor();
      expect(await dialog.locator('h3').textContent()).toMatch(/^Remix #[0-9a-f]{8}$/);
      const prompt = dialog.locator('textarea[name="prompt"]');
      expect(await prompt.inputValue()).toBe('a sks dog surfing in sks style');
      await prompt.fill('a sks dog skiing in sks style');
      await dialog.getByRole('button', { name: 'Submit' }).click();

      const child = ann.locator('.msg[data-render-id]').nth(1);
      await child.waitFor();
      const childId = (await child.getAttribute('data-render-id'))!;
      expect(childId).not.toBe(renderId);
      await loaded(ann, childId);
      const childText = await ann.locator(`.msg[data-render-id="${childId}"]`).textContent();
      expect(childText).toContain('“a sks dog skiing in sks style” for Ann');
      expect(childText).toContain('Remix of');
      expect(childText).toContain(`#${renderId.replace(/-/g, '').slice(0, 8)}`);

      // Bob sees the child too, both grids drawn.
      await loaded(bob, childId);
      expect(await bob.locator('img.grid').count()).toBe(2);
      expect(await bob.locator(`.msg[data-render-id="${childId}"] .invoke`).textContent()).toMatch(/Ann remixed #[0-9a-f]{8}/);

      // A private refusal shows in Ann's tab only.
      await ann.locator('#input').fill('/zip subject:nobody style:watercolor prompt:x');
      await ann.keyboard.press('Enter');
      await ann.locator('.msg.eph', { hasText: 'no subject LoRA named "nobody"' }).waitFor();
      await ann.locator('#input').fill('/bank top');
      await ann.keyboard.press('Enter');
      await ann.keyboard.press('Enter'); // the first Enter took the completion `/bank top `
      await bob.locator('.msg', { hasText: 'top LoRAs by uses' }).waitFor();
      expect(await bob.locator('.msg', { hasText: 'nobody' }).count()).toBe(0);
    });
  });
}
