/**
 * Scenes of the procedural world: what one image shows (a subject with its
 * attributes, a style, a context, a layout), drawn deterministically from a seed,
 * and its caption. Each aspect draws from its own seeded stream, so fixing the style
 * (or class, or context) of a seed leaves the other aspects as they were.
 *
 * `split: 'base'` (the default) constrains the RANDOM draws to the base model's
 * training distribution: no held-out style and no instance-only attribute value.
 * What the caller asks for explicitly (a held-out style, an instance) is honoured.
 *
 * @example
 *   const s = sampleScene(7, { classId: 'dog', contextId: 'beach' });
 *   captionOf(s);                          // 'a dog on the beach, cartoon style' (style drawn from the seed)
 *   const c = sampleScene(7, { instanceId: 'corgi', styleId: 'watercolor' });
 *   captionOf(c, { instanceToken: 'sks' }); // 'a sks dog on the beach, watercolor painting'
 */
import { ZipbankError } from '../errors/index.ts';
import {
  ATTRIBUTE_KEYS,
  CLASSES,
  CONTEXTS,
  STYLES,
  getClass,
  getContext,
  getInstance,
  getStyle,
  instanceOnlyValues,
  type Attributes,
} from './catalog.ts';
import { Rng, deriveSeed } from './rng.ts';

/** Where the subject sits, in world units (the canvas is 64 x 64 units at any pixel size). */
export interface Layout {
  /** Centre of the subject's box. */
  cx: number;
  cy: number;
  /** Side of the subject's square box. */
  size: number;
  /** Mirror left-right. */
  flip: boolean;
  /** Degrees, clockwise, about the box centre. */
  rotation: number;
}

export interface Scene {
  /** Drives the layout, the background's details and the style's texture. */
  seed: number;
  classId: string;
  /** Set when the scene shows a named (held-out) instance. */
  instanceId?: string;
  attributes: Attributes;
  styleId: string;
  contextId: string;
  layout: Layout;
}

export type Split = 'base' | 'all';

export interface SceneOptions {
  classId?: string;
  /** A named instance (id or name): fixes the class and all attributes. */
  instanceId?: string;
  styleId?: string;
  contextId?: string;
  /** Fix some attributes; the rest are drawn. */
  attributes?: Partial<Attributes>;
  layout?: Partial<Layout>;
  /** 'base' (default): random draws stay in the base training distribution. */
  split?: Split;
}

/** The attribute values of a class that random draws may take in `split`. */
export function attributeChoices(classId: string, key: (typeof ATTRIBUTE_KEYS)[number], split: Split): string[] {
  const all = getClass(classId).options[key];
  if (split === 'all') return [...all];
  const held = new Set(instanceOnlyValues(classId, key));
  return all.filter((v) => !held.has(v));
}

/** Random layout of the subject: box 34-44 units, bottom 52-60 units down, +-7 degrees, flipped half the time. */
export function sampleLayout(seed: number): Layout {
  const r = new Rng(deriveSeed(seed, 'layout'));
  const size = r.range(34, 44);
  const bottom = r.range(52, 60);
  const half = size / 2;
  const cx = r.range(half + 2, 64 - half - 2);
  return { cx, cy: bottom - half, size, flip: r.bool(), rotation: r.range(-7, 7) };
}

function checkSplit(split: unknown): Split {
  if (split === undefined || split === 'base' || split === 'all') return split ?? 'base';
  throw new ZipbankError('world.conflict', { detail: `split must be "base" or "all", got "${String(split)}"` });
}

/** A scene drawn from `seed` (any integer), with the given aspects fixed. */
export function sampleScene(seed: number, c: SceneOptions = {}): Scene {
  if (!Number.isSafeInteger(seed)) throw new ZipbankError('world.conflict', { detail: `the seed must be an integer, got ${seed}` });
  const split = checkSplit(c.split);
  const instance = c.instanceId !== undefined ? getInstance(c.instanceId) : undefined;
  let classId: string;
  if (instance) {
    if (c.classId !== undefined && getClass(c.classId).id !== instance.classId) {
      throw new ZipbankError('world.conflict', { detail: `instance "${instance.name}" is a ${instance.classId}, not a ${c.classId}` });
    }
    if (c.attributes !== undefined) {
      throw new ZipbankError('world.conflict', { detail: `instance "${instance.name}" has fixed attributes; do not pass attributes with it` });
    }
    classId = instance.classId;
  } else {
    classId = c.classId !== undefined ? getClass(c.classId).id : new Rng(deriveSeed(seed, 'class')).pick(CLASSES).id;
  }
  const cls = getClass(classId);

  let attributes: Attributes;
  if (instance) {
    attributes = { ...instance.attributes };
  } else {
    const r = new Rng(deriveSeed(seed, 'attributes'));
    const drawn = {} as Attributes;
    for (const key of ATTRIBUTE_KEYS) {
      const choice = r.pick(attributeChoices(classId, key, split));
      const fixed = c.attributes?.[key];
      if (fixed !== undefined && !cls.options[key].includes(fixed)) {
        throw new ZipbankError('world.bad-attribute', { classId, key, value: fixed, known: cls.options[key] });
      }
      drawn[key] = fixed ?? choice;
    }
    attributes = drawn;
  }

  const styles = split === 'base' ? STYLES.filter((s) => !s.heldOut) : STYLES;
  const styleId = c.styleId !== undefined ? getStyle(c.styleId).id : new Rng(deriveSeed(seed, 'style')).pick(styles).id;
  const contextId = c.contextId !== undefined ? getContext(c.contextId).id : new Rng(deriveSeed(seed, 'context')).pick(CONTEXTS).id;
  const layout = { ...sampleLayout(seed), ...c.layout };

  const scene: Scene = { seed, classId, attributes, styleId, contextId, layout };
  if (instance) scene.instanceId = instance.id;
  return scene;
}

function article(word: string): string {
  return /^[aeiou]/i.test(word) ? 'an' : 'a';
}

export interface CaptionOptions {
  /** A rare token for the subject (DreamBooth): "a sks dog ...". */
  instanceToken?: string;
  /** Name the body colour: "an orange dog ...". */
  color?: boolean;
}

/** The scene's caption: "a dog on the beach, cartoon style" (about 10 CLIP tokens). */
export function captionOf(scene: Scene, o: CaptionOptions = {}): string {
  const noun = getClass(scene.classId).noun;
  const words = [o.instanceToken, o.color ? scene.attributes.body : undefined, noun].filter((w): w is string => !!w && w.length > 0);
  const subject = `${article(words[0]!)} ${words.join(' ')}`;
  return `${subject} ${getContext(scene.contextId).phrase}, ${getStyle(scene.styleId).phrase}`;
}
