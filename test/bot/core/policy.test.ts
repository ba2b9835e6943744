/** Community rules and parameter derivation: prompt filter, quotas, NSFW, moderators, defaults, strength steps, seeds. */
import { describe, expect, it } from 'vitest';
import { isRefusal } from '../../../src/bot/core/messages.ts';
import { checkNsfw, checkQuota, DEFAULT_LIMITS, effectiveLimits, filteredTerm, isModeratorOf } from '../../../src/bot/core/policy.ts';
import { renderDefaults, stepStrength, variationSeed } from '../../../src/bot/core/derive.ts';
import type { RenderQuota } from '../../../src/bank/renders.ts';

const code = (f: () => void) => {
  try {
    f();
  } catch (e) {
    if (isRefusal(e)) return e.code;
    throw e;
  }
  return undefined;
};

describe('prompt filter', () => {
  it.each([
    ['a corgi with a gun', ['gun'], 'gun'],
    ['a corgi with a GUN!', ['gun'], 'gun'],
    ['a corgi with a begun task', ['gun'], undefined],
    ['guns and roses', ['gun'], undefined],
    ['guns and roses', ['gun*'], 'gun'],
    ['a corgi in  blood   bath', ['blood bath'], 'blood bath'],
    ['a bloodbath', ['blood bath'], undefined],
    ['ｇｕｎ', ['gun'], 'gun'],
    ['a corgi', ['', '  '], undefined],
    ['c++ (code)', ['c++'], 'c++'],
  ])('%s with %o', (prompt, filter, hit) => {
    expect(filteredTerm(prompt, filter)).toBe(hit);
  });
});

describe('quotas', () => {
  const none: RenderQuota = { userInFlight: 0, userLastHour: 0, userOldestInHour: undefined, communityInFlight: 0, communityLastHour: 0 };
  const now = new Date('2030-01-01T01:00:00Z');
  it.each<[Partial<RenderQuota>, string | undefined]>([
    [{}, undefined],
    [{ userInFlight: 1 }, undefined],
    [{ userInFlight: 2 }, 'quota.user-concurrent'],
    [{ userLastHour: 30, userOldestInHour: new Date('2030-01-01T00:12:30Z') }, 'quota.user-hourly'],
    [{ communityInFlight: 20 }, 'quota.community-concurrent'],
    [{ communityLastHour: 300 }, 'quota.community-hourly'],
  ])('%o -> %s', (c, expected) => {
    expect(code(() => checkQuota({ ...none, ...c }, DEFAULT_LIMITS, now))).toBe(expected);
  });

  it('says when the next hourly slot frees', () => {
    expect(() => checkQuota({ ...none, userLastHour: 30, userOldestInHour: new Date('2030-01-01T00:12:30Z') }, DEFAULT_LIMITS, now)).toThrow(/in 13 minutes/);
  });

  it("takes a community's per-user settings over the bot's", () => {
    const l = effectiveLimits(DEFAULT_LIMITS, { maxConcurrentJobsPerUser: 5, jobsPerHourPerUser: 3 });
    expect(l).toEqual({ ...DEFAULT_LIMITS, concurrentPerUser: 5, jobsPerHourPerUser: 3 });
    expect(effectiveLimits(DEFAULT_LIMITS, undefined)).toBe(DEFAULT_LIMITS);
  });
});

describe('NSFW and moderators', () => {
  it('refuses NSFW LoRAs unless the community allows them', () => {
    const l = [{ name: 'a', nsfw: false }, { name: 'b', nsfw: true }];
    expect(code(() => checkNsfw(l, undefined))).toBe('zip.nsfw');
    expect(code(() => checkNsfw(l, { nsfwAllowed: false }))).toBe('zip.nsfw');
    expect(code(() => checkNsfw(l, { nsfwAllowed: true }))).toBeUndefined();
    expect(code(() => checkNsfw([l[0]!], undefined))).toBeUndefined();
  });

  it('knows moderators by admin list, platform flag or role, inside their community only', () => {
    const ix = (p: object) => ({ user: { platform: 'discord', id: 'u1', ...p }, communityId: 'discord:g1' });
    const c = { moderatorRoleIds: ['mods'] };
    expect(isModeratorOf(ix({}), 'discord:g1', c, [])).toBe(false);
    expect(isModeratorOf(ix({}), 'discord:g1', c, ['discord:u1'])).toBe(true);
    expect(isModeratorOf(ix({ isModerator: true }), 'discord:g1', c, [])).toBe(true);
    expect(isModeratorOf(ix({ roleIds: ['mods'] }), 'discord:g1', c, [])).toBe(true);
    expect(isModeratorOf(ix({ roleIds: ['mods'] }), 'discord:g2', c, [])).toBe(false);
    expect(isModeratorOf(ix({ isModerator: true }), null, c, [])).toBe(false);
  });
});

describe('render parameters', () => {
  it('steps style strength by 0.25 within 0..1', () => {
    expect([stepStrength(1, 1), stepStrength(1, -1), stepStrength(0.1, -1), stepStrength(0, -1), stepStrength(0.6, 1), stepStrength(0.9, 1)]).toEqual([1, 0.75, 0, 0, 0.85, 1]);
  });

  it('gives variations nearby seeds after the render block', () => {
    expect(variationSeed(100, 1, 0)).toBe(104);
    expect(variationSeed(100, 3, 0)).toBe(106);
    expect(variationSeed(100, 3, 2)).toBe(114);
    expect(variationSeed(4_294_967_295, 1, 0)).toBe(3);
  });

  it('layers defaults: table, bot, community (ignoring bad values)', () => {
    expect(renderDefaults('sdxl')).toMatchObject({ width: 1024, guidance: 5, count: 4 });
    expect(renderDefaults('sd15', { steps: 4, width: 64, height: 64 })).toMatchObject({ steps: 4, width: 64, height: 64, guidance: 7.5 });
    const c = { defaults: { steps: 12, count: 2, scheduler: 'euler-a', method: 'direct', guidance: 'lots', width: 333, count2: 9 } };
    expect(renderDefaults('sd15', { steps: 4 }, c)).toMatchObject({ steps: 12, count: 2, scheduler: 'euler-a', method: 'direct', guidance: 7.5, width: 512 });
  });
});
