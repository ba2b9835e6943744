/**
 * The world's train/held-out split, mirroring the ZipLoRA setting: the base model
 * learns the classes, the contexts and the generic styles from captions; the named
 * instances (their distinctive attribute values) and the held-out styles are never
 * in its training data, so only a LoRA can teach them. A fixed eighth of the
 * class x context x generic-style combinations is also left out of base training,
 * to measure the base model on caption combinations it never saw; every pair of
 * (class, context), (class, style), (context, style) is still trained on.
 *
 * @example
 *   const s = sampleBaseScene(123);           // a base training scene
 *   isHeldOutCombo(s.classId, s.contextId, s.styleId); // false
 *   heldOutCombos().length;                   // 48 of 384 combinations
 */
import { CLASSES, CONTEXTS, INSTANCES, STYLES, type WorldInstance, type WorldStyle } from './catalog.ts';
import { Rng, deriveSeed } from './rng.ts';
import { sampleScene, type Scene } from './scene.ts';

/** Styles the base model is trained on. */
export const BASE_STYLES: readonly WorldStyle[] = STYLES.filter((s) => !s.heldOut);
/** Styles only a LoRA teaches. */
export const HELD_OUT_STYLES: readonly WorldStyle[] = STYLES.filter((s) => s.heldOut);
/** Every named instance is held out (its distinctive values never appear in base training). */
export const HELD_OUT_INSTANCES: readonly WorldInstance[] = INSTANCES;

export interface Combo {
  classId: string;
  contextId: string;
  styleId: string;
}

function comboIndex(classId: string, contextId: string, styleId: string): [number, number, number] {
  return [CLASSES.findIndex((c) => c.id === classId), CONTEXTS.findIndex((c) => c.id === contextId), BASE_STYLES.findIndex((s) => s.id === styleId)];
}

/**
 * True for a class x context x generic-style combination left out of base training:
 * (class + 2 context + 3 style) mod (number of generic styles) = 0, a design in which
 * each (class, context) pair loses exactly one style and each (context, style) pair
 * exactly one class. Combinations with a held-out style are not "combos" (false).
 */
export function isHeldOutCombo(classId: string, contextId: string, styleId: string): boolean {
  const [c, x, s] = comboIndex(classId, contextId, styleId);
  if (c < 0 || x < 0 || s < 0) return false;
  return (c + 2 * x + 3 * s) % BASE_STYLES.length === 0;
}

/** The combinations excluded from base training (to evaluate unseen caption combinations). */
export function heldOutCombos(): Combo[] {
  const out: Combo[] = [];
  for (const c of CLASSES) {
    for (const x of CONTEXTS) {
      for (const s of BASE_STYLES) if (isHeldOutCombo(c.id, x.id, s.id)) out.push({ classId: c.id, contextId: x.id, styleId: s.id });
    }
  }
  return out;
}

/**
 * A scene of the base training distribution: class and context uniform, a generic
 * style uniform among those not held out for that (class, context), attributes
 * without instance-only values. Deterministic in `seed`; `scene.seed === seed`.
 */
export function sampleBaseScene(seed: number): Scene {
  const r = new Rng(deriveSeed(seed, 'base-combo'));
  const classId = r.pick(CLASSES).id;
  const contextId = r.pick(CONTEXTS).id;
  const styles = BASE_STYLES.filter((s) => !isHeldOutCombo(classId, contextId, s.id));
  const styleId = r.pick(styles).id;
  return sampleScene(seed, { classId, contextId, styleId, split: 'base' });
}

/** A scene of a held-out combination (for evaluating the base model): one of heldOutCombos(), drawn from the seed. */
export function sampleHeldOutComboScene(seed: number): Scene {
  const combos = heldOutCombos();
  const combo = new Rng(deriveSeed(seed, 'held-combo')).pick(combos);
  return sampleScene(seed, { ...combo, split: 'base' });
}
