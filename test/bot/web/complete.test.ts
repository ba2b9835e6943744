/** completeLine: what the composer offers at the cursor, and which range it replaces. */
import { describe, expect, it } from 'vitest';
import type { AutocompleteRequest, BotCore } from '../../../src/bot/core/index.ts';
import { completeLine } from '../../../src/bot/web/complete.ts';

function fakeCore() {
  const asked: AutocompleteRequest[] = [];
  const core: Pick<BotCore, 'autocomplete'> = {
    async autocomplete(req) {
      asked.push(req);
      const names = req.option === 'style' ? ['watercolor', 'water-ink'] : ['corgi', 'cat'];
      return names.filter((n) => n.startsWith(req.value)).map((n) => ({ name: `${n} · SD 1.5`, value: n }));
    },
  };
  return { core, asked };
}
const ctx = { user: { platform: 'web', id: 'ann-0001', name: 'Ann' }, communityId: 'web:local', channelId: 'main' };
const at = async (text: string, cursor = text.length) => {
  const f = fakeCore();
  return { ...(await completeLine(f.core, ctx, text, cursor)), asked: f.asked };
};

describe('completeLine', () => {
  it('offers commands after a slash, replacing the whole first word', async () => {
    const c = await at('/');
    expect(c.items.map((i) => i.label)).toEqual(['/zip', '/bank search', '/bank show', '/bank top', '/bank upload', '/bank rate', '/bank report', '/bank remove', '/remix history']);
    const z = await at('/zi');
    expect(z).toMatchObject({ start: 0, end: 3, items: [{ label: '/zip', insert: '/zip ' }] });
    expect((await at('/re')).items.map((i) => i.insert)).toEqual(['/remix history ']);
  });

  it('offers subcommands, then the options not given yet (required ones first)', async () => {
    expect((await at('/bank r')).items.map((i) => i.insert)).toEqual(['/bank rate ', '/bank report ', '/bank remove ']);
    const o = await at('/bank rate ');
    expect(o.items.map((i) => i.insert)).toEqual(['name:', 'stars:']);
    const zip = await at('/zip subject:corgi pr');
    expect(zip).toMatchObject({ start: 19, end: 21, items: [{ insert: 'prompt:', detail: 'what to draw (required)' }] });
    const rest = (await at('/zip subject:corgi style:watercolor prompt:"x" ')).items.map((i) => i.insert);
    expect(rest).toEqual(['negative:', 'seed:', 'count:', 'strength:', 'steps:', 'method:']);
  });

  it('asks the core for bank names with the other options typed, and replaces the whole token', async () => {
    const c = await at('/zip subject:corgi style:wat prompt:"a b"', 28);
    expect(c.items.map((i) => i.insert)).toEqual(['style:watercolor ', 'style:water-ink ']);
    expect(c).toMatchObject({ start: 19, end: 28, hint: expect.stringMatching(/^style: style LoRA.*\(required\)$/) });
    expect(c.asked).toEqual([{ ...ctx, command: 'zip', option: 'style', value: 'wat', options: { subject: 'corgi', prompt: 'a b' } }]);
    // `name` in /bank commands: any kind.
    const show = await at('/bank show co');
    expect(show.asked[0]).toMatchObject({ command: 'bank show', option: 'name', value: 'co' });
    expect(show.items.map((i) => i.insert)).toEqual(['corgi ']);
    expect((await at('/bank show n')).items.map((i) => i.insert)).toEqual(['name:']);
  });

  it('offers fixed choices and booleans; nothing for free text and nothing outside commands', async () => {
    expect((await at('/bank top sort:r')).items.map((i) => i.insert)).toEqual(['sort:rating ']);
    expect((await at('/bank upload nsfw:')).items.map((i) => i.insert)).toEqual(['nsfw:true ', 'nsfw:false ']);
    const p = await at('/zip prompt:"a corgi');
    expect(p.items).toEqual([]);
    expect(p.hint).toBe('prompt: what to draw (required)');
    expect((await at('hello /zip')).items).toEqual([]);
    expect((await at('/nope x')).items).toEqual([]);
  });

  it('completes an option name being edited in the middle of the line', async () => {
    const text = '/zip sub:corgi';
    const c = await at(text, 8);
    expect(c).toMatchObject({ start: 5, end: 9, items: [{ insert: 'subject:' }] });
  });
});
