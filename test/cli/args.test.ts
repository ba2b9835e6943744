import { describe, expect, it } from 'vitest';
import { parseArgs, requireFlag, UsageError } from '../../src/cli/args.ts';

describe('parseArgs', () => {
  const spec = {
    out: { type: 'string' as const },
    steps: { type: 'number' as const },
    force: { type: 'boolean' as const },
    images: { type: 'string' as const, multiple: true, greedy: true },
  };

  it('reads --flag value, --flag=value, booleans, greedy lists and positionals', () => {
    const p = parseArgs(['a', '--out', 'x.png', '--steps=20', '--force', '--images', '1.png', '2.png', '--force=no', '--', '--raw'], spec);
    expect(p.flags).toEqual({ out: 'x.png', steps: 20, force: false, images: ['1.png', '2.png'] });
    expect(p.positionals).toEqual(['a', '--raw']);
  });

  it('names the flag that is unknown, missing its value or not a number', () => {
    expect(() => parseArgs(['--nope'], spec)).toThrow(new UsageError('unknown option --nope'));
    expect(() => parseArgs(['--out'], spec)).toThrow(/--out needs a value/);
    expect(() => parseArgs(['--out', '--force'], spec)).toThrow(/--out needs a value/);
    expect(() => parseArgs(['--steps', 'twenty'], spec)).toThrow(/--steps expects a number, got "twenty"/);
  });
});

describe('requireFlag', () => {
  it('returns a given string and refuses a missing or empty one by name', () => {
    const { flags } = parseArgs(['--out', 'x.png', '--images', 'a.png'], {
      out: { type: 'string' },
      kind: { type: 'string' },
      images: { type: 'string', multiple: true },
    });
    expect(requireFlag(flags, 'out')).toBe('x.png');
    expect(() => requireFlag(flags, 'kind')).toThrow(new UsageError('--kind is required'));
    expect(() => requireFlag({ kind: '' }, 'kind')).toThrow(UsageError);
    // a list is not one string value
    expect(() => requireFlag(flags, 'images')).toThrow(/--images is required/);
  });
});
