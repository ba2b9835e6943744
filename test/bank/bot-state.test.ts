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
  });
}

botStateSuite('pglite', '');
const url = inject('pgUrl');
if (url) botStateSuite('postgres', url);
