/** The command table fits what Discord accepts and what adapters assume. */
import { describe, expect, it } from 'vitest';
import { COMMANDS, LEAVES, findCommand, type OptionDef } from '../../../src/bot/core/commands.ts';

const NAME = /^[a-z0-9_-]{1,32}$/;

describe('command definitions', () => {
  const leaves = [...LEAVES.values()];

  it('has the commands of the product', () => {
    expect([...LEAVES.keys()].sort()).toEqual(
      ['bank remove', 'bank report', 'bank rate', 'bank search', 'bank show', 'bank top', 'bank upload', 'remix history', 'zip'].sort(),
    );
    expect(findCommand('zip')!.options.map((o) => o.name)).toEqual(['subject', 'style', 'prompt', 'negative', 'seed', 'count', 'strength', 'steps', 'method']);
    expect(findCommand('/Bank  Rate')?.path).toBe('bank rate');
  });

  it('respects Discord limits (names, descriptions, counts, required first)', () => {
    for (const top of COMMANDS) {
      expect(top.name).toMatch(NAME);
      expect(top.description.length).toBeGreaterThan(0);
      expect(top.description.length).toBeLessThanOrEqual(100);
      expect(top.subcommands?.length ?? 0).toBeLessThanOrEqual(25);
    }
    for (const leaf of leaves) {
      expect(leaf.name).toMatch(NAME);
      expect(leaf.description.length).toBeLessThanOrEqual(100);
      expect(leaf.options.length).toBeLessThanOrEqual(25);
      const required = leaf.options.map((o: OptionDef) => !!o.required);
      expect(required).toEqual([...required].sort((a, b) => Number(b) - Number(a)));
      expect(new Set(leaf.options.map((o) => o.name)).size).toBe(leaf.options.length);
      for (const o of leaf.options) {
        expect(o.name).toMatch(NAME);
        expect(o.description.length).toBeGreaterThan(0);
        expect(o.description.length).toBeLessThanOrEqual(100);
        expect(o.choices?.length ?? 0).toBeLessThanOrEqual(25);
        if (o.autocomplete) expect(o.choices).toBeUndefined();
      }
      for (const p of leaf.positional ?? []) expect(leaf.options.some((o) => o.name === p)).toBe(true);
    }
  });
});
