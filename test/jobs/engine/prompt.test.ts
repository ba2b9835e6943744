import { describe, expect, it } from 'vitest';
import { withTriggers } from '../../../src/jobs/engine/prompt.ts';

const corgi = { name: 'corgi', displayName: 'Corgi', triggerWords: ['sks dog'] };
const water = { name: 'watercolor', displayName: 'Watercolor', triggerWords: ['watercolor painting'] };

describe('withTriggers', () => {
  it('replaces the subject name by its trigger and appends the style trigger', () => {
    expect(withTriggers('a corgi surfing', corgi, water)).toBe('a sks dog surfing, watercolor painting');
    expect(withTriggers('A Corgi on the beach.', corgi, water)).toBe('A sks dog on the beach, watercolor painting');
  });

  it('puts the subject trigger in front when the name is absent', () => {
    expect(withTriggers('a dog on the beach', corgi, water)).toBe('sks dog, a dog on the beach, watercolor painting');
    expect(withTriggers('', corgi, water)).toBe('sks dog, watercolor painting');
  });

  it('leaves a prompt that has the triggers alone (remixes do not grow)', () => {
    const once = withTriggers('a corgi in the snow', corgi, water);
    expect(withTriggers(once, corgi, water)).toBe(once);
    expect(withTriggers('a sks dog, watercolor painting, snow', corgi, water)).toBe('a sks dog, watercolor painting, snow');
  });

  it('matches whole words only and names with dashes as spaces', () => {
    const pot = { name: 'polka-pot', triggerWords: ['sks teapot'] };
    expect(withTriggers('the polka pot on a table', pot, water)).toBe('the sks teapot on a table, watercolor painting');
    expect(withTriggers('corgis everywhere', corgi, water)).toBe('sks dog, corgis everywhere, watercolor painting');
  });

  it('changes nothing for LoRAs without trigger words', () => {
    expect(withTriggers('a corgi surfing', { name: 'corgi', triggerWords: [] }, { name: 'x', triggerWords: [] })).toBe('a corgi surfing');
  });
});
