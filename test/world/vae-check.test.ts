/**
 * vaeRoundTrip on the bundled model: the classifier's scores on held-out renders as
 * rendered and after the VAE's round trip, the round trip's pixel error, the grid.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { BUNDLED_WORLD_MODEL } from '../../src/config.ts';
import { Classifier } from '../../src/engine/train/classifier.ts';
import { CLASSES } from '../../src/world/catalog.ts';
import { heldOutCombos } from '../../src/world/split.ts';
import { vaeRoundTrip } from '../../src/world/vae-check.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('vaeRoundTrip', () => {
  it('scores renders before and after the VAE, and draws them side by side', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'zipbank-vaecheck-'));
    dirs.push(dir);
    const c = await Classifier.load(join(BUNDLED_WORLD_MODEL, 'classifier'));
    try {
      const gridPath = join(dir, 'grid.png');
      const r = await vaeRoundTrip({ out: BUNDLED_WORLD_MODEL, classifier: c, seed: 2, perCombo: 1, gridPath });
      expect(r.images).toBe(heldOutCombos().length);
      for (const h of [r.original, r.roundTrip]) {
        expect(Object.keys(h.perClass).sort()).toEqual(CLASSES.map((k) => k.id).sort());
        for (const x of [h.class, h.context, h.style]) expect(x).toBeGreaterThanOrEqual(0);
        for (const x of [h.class, h.context, h.style]) expect(x).toBeLessThanOrEqual(1);
      }
      // The classifier reads the style and context of clean renders (near 100%).
      expect(r.original.style).toBeGreaterThan(0.9);
      expect(r.original.context).toBeGreaterThan(0.9);
      // A trained VAE: small but real error (0 would mean the images were not passed through it).
      expect(r.meanAbsError).toBeGreaterThan(1);
      expect(r.meanAbsError).toBeLessThan(40);
      const meta = await sharp(gridPath).metadata();
      expect(meta.width).toBeGreaterThanOrEqual(8 * 64);
      expect(meta.height).toBeGreaterThanOrEqual(8 * 64);
      await expect(vaeRoundTrip({ out: BUNDLED_WORLD_MODEL, classifier: c, perCombo: 0 })).rejects.toThrow(/perCombo must be a positive whole number/);
    } finally {
      await c.close();
    }
  }, 120_000);
});
