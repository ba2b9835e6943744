import { describe, expect, it } from 'vitest';
import { CLASSES, CONTEXTS, INSTANCES, STYLES } from '../../src/world/catalog.ts';
import { sampleScene } from '../../src/world/scene.ts';
import { BASE_STYLES, HELD_OUT_INSTANCES, HELD_OUT_STYLES, heldOutCombos, isHeldOutCombo, sampleBaseScene, sampleHeldOutComboScene } from '../../src/world/split.ts';

const distinctiveOf = (classId: string) => INSTANCES.filter((i) => i.classId === classId).flatMap((i) => Object.entries(i.distinctive));

describe('world/split', () => {
  it('partitions the styles and holds out every instance', () => {
    expect(BASE_STYLES.length + HELD_OUT_STYLES.length).toBe(STYLES.length);
    expect(BASE_STYLES.every((s) => !s.heldOut) && HELD_OUT_STYLES.every((s) => s.heldOut)).toBe(true);
    expect(HELD_OUT_INSTANCES.map((i) => i.id)).toEqual(INSTANCES.map((i) => i.id));
  });

  it('holds out 10-15% of class x context x generic-style combinations and still trains every pair', () => {
    const held = heldOutCombos();
    const total = CLASSES.length * CONTEXTS.length * BASE_STYLES.length;
    expect(held.length / total).toBeGreaterThanOrEqual(0.1);
    expect(held.length / total).toBeLessThanOrEqual(0.15);
    const key = (a: string, b: string) => `${a}|${b}`;
    const trained = { cx: new Set<string>(), cs: new Set<string>(), xs: new Set<string>() };
    for (const c of CLASSES) for (const x of CONTEXTS) for (const s of BASE_STYLES) {
      if (isHeldOutCombo(c.id, x.id, s.id)) continue;
      trained.cx.add(key(c.id, x.id));
      trained.cs.add(key(c.id, s.id));
      trained.xs.add(key(x.id, s.id));
    }
    expect(trained.cx.size).toBe(CLASSES.length * CONTEXTS.length);
    expect(trained.cs.size).toBe(CLASSES.length * BASE_STYLES.length);
    expect(trained.xs.size).toBe(CONTEXTS.length * BASE_STYLES.length);
    expect(isHeldOutCombo('dog', 'beach', 'watercolor')).toBe(false);
  });

  it('never yields a held-out style, an instance-only value or an excluded combination in 2000 base scenes', () => {
    const seen = { classes: new Set<string>(), contexts: new Set<string>(), styles: new Set<string>() };
    for (let seed = 0; seed < 2000; seed++) {
      const s = sampleBaseScene(seed);
      expect(s.seed).toBe(seed);
      expect(s.instanceId).toBeUndefined();
      expect(HELD_OUT_STYLES.some((h) => h.id === s.styleId)).toBe(false);
      expect(isHeldOutCombo(s.classId, s.contextId, s.styleId)).toBe(false);
      for (const [key, value] of distinctiveOf(s.classId)) expect(s.attributes[key as keyof typeof s.attributes], `${seed}`).not.toBe(value);
      seen.classes.add(s.classId);
      seen.contexts.add(s.contextId);
      seen.styles.add(s.styleId);
      // plain sampleScene in the base split keeps the same guarantees (apart from combos)
      const p = sampleScene(seed);
      expect(HELD_OUT_STYLES.some((h) => h.id === p.styleId)).toBe(false);
      for (const [key, value] of distinctiveOf(p.classId)) expect(p.attributes[key as keyof typeof p.attributes]).not.toBe(value);
    }
    expect(seen.classes.size).toBe(CLASSES.length);
    expect(seen.contexts.size).toBe(CONTEXTS.length);
    expect(seen.styles.size).toBe(BASE_STYLES.length);
  });

  it('the "all" split does reach held-out styles and instance-only values', () => {
    const all = Array.from({ length: 600 }, (_, i) => sampleScene(i, { split: 'all' }));
    expect(all.some((s) => HELD_OUT_STYLES.some((h) => h.id === s.styleId))).toBe(true);
    expect(all.some((s) => distinctiveOf(s.classId).some(([k, v]) => s.attributes[k as keyof typeof s.attributes] === v))).toBe(true);
  });

  it('samples evaluation scenes from the held-out combinations only', () => {
    for (let seed = 0; seed < 200; seed++) {
      const s = sampleHeldOutComboScene(seed);
      expect(isHeldOutCombo(s.classId, s.contextId, s.styleId)).toBe(true);
    }
  });
});
