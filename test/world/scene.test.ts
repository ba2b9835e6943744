import { describe, expect, it } from 'vitest';
import { isZipbankError } from '../../src/errors/index.ts';
import { ATTRIBUTE_KEYS, CLASSES, CONTEXTS, INSTANCES, STYLES, getClass, getContext, getStyle } from '../../src/world/catalog.ts';
import { captionOf, sampleScene } from '../../src/world/scene.ts';

function zipErr(f: () => unknown): { code: string; message: string } {
  try {
    f();
  } catch (e) {
    if (isZipbankError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected a ZipbankError');
}

describe('world/catalog', () => {
  it('has at least 8 classes, 6 instances, 8 generic and 6 held-out styles, 6 contexts, with unique ids and names', () => {
    expect(CLASSES.length).toBeGreaterThanOrEqual(8);
    expect(INSTANCES.length).toBeGreaterThanOrEqual(6);
    expect(STYLES.filter((s) => !s.heldOut).length).toBeGreaterThanOrEqual(8);
    expect(STYLES.filter((s) => s.heldOut).length).toBeGreaterThanOrEqual(6);
    expect(CONTEXTS.length).toBeGreaterThanOrEqual(6);
    for (const list of [CLASSES.map((c) => c.id), INSTANCES.map((i) => i.id), INSTANCES.map((i) => i.name), STYLES.map((s) => s.id), STYLES.map((s) => s.name), CONTEXTS.map((c) => c.id)]) {
      expect(new Set(list).size).toBe(list.length);
    }
    // one instance per class for at least 6 classes
    expect(new Set(INSTANCES.map((i) => i.classId)).size).toBeGreaterThanOrEqual(6);
  });

  it('gives every instance valid attributes and at least one distinctive value that is its own', () => {
    for (const inst of INSTANCES) {
      const cls = getClass(inst.classId);
      for (const key of ATTRIBUTE_KEYS) expect(cls.options[key], `${inst.id}.${key}`).toContain(inst.attributes[key]);
      const distinct = Object.entries(inst.distinctive);
      expect(distinct.length, inst.id).toBeGreaterThan(0);
      for (const [key, value] of distinct) expect(inst.attributes[key as (typeof ATTRIBUTE_KEYS)[number]]).toBe(value);
      expect(inst.description.length).toBeGreaterThan(10);
    }
  });

  it('looks styles and contexts up by id or name and refuses unknown ones, listing the valid ones', () => {
    expect(getStyle('pixel-art').heldOut).toBe(true);
    expect(getContext('beach').phrase).toBe('on the beach');
    const e = zipErr(() => getStyle('cubism'));
    expect(e.code).toBe('world.unknown');
    expect(e.message).toMatch(/unknown style "cubism".*watercolor.*pixel-art/);
    expect(zipErr(() => getClass('dragon')).message).toMatch(/unknown class "dragon"; the world's classes are: dog, cat/);
  });
});

describe('world/scene', () => {
  it('is deterministic in the seed and varies across seeds', () => {
    expect(sampleScene(123)).toEqual(sampleScene(123));
    const many = Array.from({ length: 200 }, (_, i) => sampleScene(i));
    for (const key of ['classId', 'styleId', 'contextId'] as const) {
      expect(new Set(many.map((s) => s[key])).size, key).toBeGreaterThan(5);
    }
    expect(new Set(many.map((s) => s.layout.cx.toFixed(3))).size).toBeGreaterThan(150);
  });

  it('keeps the other aspects when one is fixed (independent streams)', () => {
    const a = sampleScene(9, { classId: 'dog' });
    const b = sampleScene(9, { classId: 'dog', styleId: 'neon' });
    expect(b.attributes).toEqual(a.attributes);
    expect(b.layout).toEqual(a.layout);
    expect(b.contextId).toBe(a.contextId);
    expect(sampleScene(9, { contextId: 'snow' }).layout).toEqual(sampleScene(9).layout);
  });

  it('keeps the subject mostly inside the canvas with small rotations', () => {
    for (let i = 0; i < 500; i++) {
      const { layout: l } = sampleScene(i);
      expect(l.cx - l.size / 2).toBeGreaterThanOrEqual(0);
      expect(l.cx + l.size / 2).toBeLessThanOrEqual(64);
      expect(l.cy - l.size / 2).toBeGreaterThanOrEqual(0);
      expect(l.cy + l.size / 2).toBeLessThanOrEqual(64);
      expect(Math.abs(l.rotation)).toBeLessThanOrEqual(8);
    }
  });

  it('uses an instance\'s fixed attributes and refuses contradictions and bad values', () => {
    const s = sampleScene(4, { instanceId: 'corgi', styleId: 'watercolor' });
    expect(s).toMatchObject({ classId: 'dog', instanceId: 'corgi', styleId: 'watercolor', attributes: INSTANCES[0]!.attributes });
    expect(sampleScene(4, { instanceId: 'polka-pot' }).instanceId).toBe('polka');
    expect(zipErr(() => sampleScene(1, { instanceId: 'corgi', classId: 'cat' })).code).toBe('world.conflict');
    expect(zipErr(() => sampleScene(1, { instanceId: 'rex' })).message).toMatch(/unknown instance "rex".*corgi/);
    const bad = zipErr(() => sampleScene(1, { classId: 'dog', attributes: { body: 'plaid' } }));
    expect(bad.code).toBe('world.bad-attribute');
    expect(bad.message).toMatch(/a dog cannot have body "plaid".*brown/);
    expect(zipErr(() => sampleScene(1.5)).code).toBe('world.conflict');
    expect(zipErr(() => sampleScene(1, { split: 'train' as 'base' })).code).toBe('world.conflict');
    expect(zipErr(() => sampleScene(1, { contextId: 'moon' })).message).toMatch(/unknown context "moon".*beach/);
    expect(sampleScene(2, { classId: 'cat', attributes: { body: 'black' } }).attributes.body).toBe('black');
  });

  it('captions with the class noun, context phrase and style phrase, short enough for CLIP', () => {
    for (let i = 0; i < 300; i++) {
      const s = sampleScene(i, { split: 'all' });
      const cap = captionOf(s);
      expect(cap).toContain(` ${getClass(s.classId).noun} `);
      expect(cap).toContain(getContext(s.contextId).phrase);
      expect(cap.endsWith(getStyle(s.styleId).phrase)).toBe(true);
      expect(cap.split(/\s+/).length).toBeLessThanOrEqual(12);
    }
    const s = sampleScene(7, { instanceId: 'corgi', contextId: 'beach', styleId: 'cartoon' });
    expect(captionOf(s)).toBe('a dog on the beach, cartoon style');
    expect(captionOf(s, { instanceToken: 'sks' })).toBe('a sks dog on the beach, cartoon style');
    expect(captionOf(s, { color: true })).toBe('an orange dog on the beach, cartoon style');
  });
});
