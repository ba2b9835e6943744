/** BotStateStore (src/bank/bot-state.ts): set, read back, replace, delete; on PGlite and, when a server is there, PostgreSQL. */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openTestBank, type Backend, type TestBank } from '../support/bank.ts';

function botStateSuite(backend: Backend, pgUrl: string): void {
  describe(`bot state on ${backend}`, () => {
    let t: TestBank;
    beforeAll(async () => {
      t = await openTestBank(backend, pgUrl);
    });
    afterAll(async () => t?.close());

    it('reads back what was set, replaces on set, forgets on delete', async () => {
      const s = t.bank.botState;
      expect(await s.get('discord:commands:global')).toBeUndefined();
      await s.set('discord:commands:global', { hash: 'a1', count: 3 });
      expect(await s.get('discord:commands:global')).toEqual({ hash: 'a1', count: 3 });
      await s.set('discord:commands:global', 'b2');
      expect(await s.get('discord:commands:global')).toBe('b2');
      expect(await s.get('discord:commands:guild:1')).toBeUndefined();
      await s.delete('discord:commands:global');
      expect(await s.get('discord:commands:global')).toBeUndefined();
    });

    it('lists keys by prefix, treating % and _ in the prefix as plain characters', async () => {
      const s = t.bank.botState;
      for (const k of ['p:guild:2', 'p:guild:1', 'p:global', 'pXguild:3', 'q_a:1', 'qba:1', 'r%:1', 'rx:1']) await s.set(k, 1);
      expect(await s.keys('p:guild:')).toEqual(['p:guild:1', 'p:guild:2']);
      expect(await s.keys('q_a')).toEqual(['q_a:1']);
      expect(await s.keys('r%')).toEqual(['r%:1']);
      expect(await s.keys('none:')).toEqual([]);
    });
  });
}

botStateSuite('pglite', '');
const url = inject('pgUrl');
if (url) botStateSuite('postgres', url);
