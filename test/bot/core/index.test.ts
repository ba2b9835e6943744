/** BotCore never throws at an adapter: refusals and internal failures become private replies; autocomplete failures, no choices. */
import { describe, expect, it } from 'vitest';
import type { Bank } from '../../../src/bank/index.ts';
import type { JobQueue } from '../../../src/bank/jobs.ts';
import { BotCore, type MessageReply } from '../../../src/bot/core/index.ts';
import type { LogLevel } from '../../../src/jobs/types.ts';

function broken(): { core: BotCore; logs: [LogLevel, string][] } {
  const logs: [LogLevel, string][] = [];
  const fail = async () => {
    throw new Error('connection to the database lost');
  };
  const bank = { community: fail, find: fail, autocomplete: fail, renders: { find: fail } } as unknown as Bank;
  const core = new BotCore({ bank, queue: {} as JobQueue, log: (level, message) => logs.push([level, message]) });
  return { core, logs };
}

const user = { platform: 'test', id: 'ann' };

describe('BotCore failures', () => {
  it('turns an internal failure into a private reply with a reference, and logs it', async () => {
    const { core, logs } = broken();
    const r = (await core.handle({ type: 'command', command: 'zip', options: { subject: 'a', style: 'b', prompt: 'c' }, user, communityId: 'test:c' })) as MessageReply;
    expect(r).toMatchObject({ kind: 'message', ephemeral: true });
    const ref = /reference ([0-9a-f]{8})/.exec(r.text)?.[1];
    expect(ref).toBeDefined();
    expect(r.text).not.toContain('database');
    expect(logs).toHaveLength(1);
    expect(logs[0]![0]).toBe('error');
    expect(logs[0]![1]).toContain(`[${ref}] /zip: Error: connection to the database lost`);
  });

  it('refuses before touching the database when the options are wrong', async () => {
    const { core, logs } = broken();
    const r = (await core.handle({ type: 'command', command: 'zip', options: { subject: 'a' }, user })) as MessageReply;
    expect(r).toMatchObject({ ephemeral: true, text: expect.stringContaining('needs `style`') });
    expect(logs).toEqual([]);
  });

  it('answers render status and autocomplete even when the database fails', async () => {
    const { core, logs } = broken();
    expect(await core.renderStatus('1a2b3c4d')).toMatchObject({ ephemeral: true, text: expect.stringContaining('something went wrong') });
    expect(await core.autocomplete({ command: 'zip', option: 'subject', value: 'co', user })).toEqual([]);
    expect(logs.map((l) => l[0])).toEqual(['error', 'warn']);
  });
});
