/** Button ids: every action round-trips, stays under Discord's 100 characters, and foreign or damaged ids are rejected. */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { compactToUuid, decodeCustomId, encodeCustomId, uuidToCompact, type ButtonAction } from '../../../src/bot/core/custom-ids.ts';

describe('custom ids', () => {
  const id = '123e4567-e89b-12d3-a456-426614174000';
  const actions: ButtonAction[] = [
    { action: 'full', renderId: id, index: 1 },
    { action: 'full', renderId: id, index: 4 },
    { action: 'variation', renderId: id, index: 3 },
    { action: 'reroll', renderId: id },
    { action: 'strength', renderId: id, delta: -1 },
    { action: 'strength', renderId: id, delta: 1 },
    { action: 'remix', renderId: id },
    { action: 'remix-submit', renderId: id },
    { action: 'export', renderId: id },
    { action: 'stats', renderId: id },
    { action: 'cancel', renderId: id },
  ];

  it.each(actions)('round-trips %o', (a) => {
    const s = encodeCustomId(a);
    expect(s.length).toBeLessThanOrEqual(32);
    expect(s).toMatch(/^zb1:/);
    expect(decodeCustomId(s)).toEqual(a);
  });

  it('gives each action a distinct id', () => {
    expect(new Set(actions.map(encodeCustomId)).size).toBe(actions.length);
  });

  it('round-trips random uuids', () => {
    for (let i = 0; i < 200; i++) {
      const u = randomUUID();
      expect(compactToUuid(uuidToCompact(u))).toBe(u);
    }
  });

  it.each([
    'other-bot:button',
    'zb1:v',
    `zb1:q:${uuidToCompact(id)}`,
    `zb1:v:${uuidToCompact(id)}`,
    `zb1:v:${uuidToCompact(id)}:0`,
    `zb1:u:${uuidToCompact(id)}:x`,
    `zb1:s:${uuidToCompact(id)}:*`,
    `zb1:r:${uuidToCompact(id)}:1`,
    `zb1:r:${uuidToCompact(id).slice(1)}`,
    `zb1:r:${uuidToCompact(id)}:1:2`,
    `zb2:r:${uuidToCompact(id)}`,
  ])('rejects %s', (s) => {
    expect(decodeCustomId(s)).toBeUndefined();
  });
});
