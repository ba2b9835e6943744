import { describe, expect, it } from 'vitest';
import { stripUndefined } from '../../src/util/objects.ts';

describe('stripUndefined', () => {
  it('drops undefined fields and keeps every other value, falsy ones included', () => {
    const out = stripUndefined({ a: undefined, b: null, c: 0, d: '', e: false, f: 2 });
    expect(out).toEqual({ b: null, c: 0, d: '', e: false, f: 2 });
    expect(Object.keys(out)).not.toContain('a');
  });

  it('lets defaults survive an explicit undefined when spread over them', () => {
    const defaults = { lr: 1e-3, batch: 32 };
    const given: { lr?: number | undefined; batch?: number | undefined } = { lr: undefined, batch: 8 };
    expect({ ...defaults, ...given }.lr).toBeUndefined();
    expect({ ...defaults, ...stripUndefined(given) }).toEqual({ lr: 1e-3, batch: 8 });
  });

  it('does not change its input', () => {
    const input = { a: undefined, b: 1 };
    stripUndefined(input);
    expect(Object.keys(input)).toEqual(['a', 'b']);
  });
});
