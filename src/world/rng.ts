/**
 * A small seeded pseudo-random generator for the procedural world (mulberry32 on a
 * 32-bit state) and seed derivation, so that every aspect of a scene (attributes,
 * layout, background details, style texture) draws from its own stream: fixing one
 * aspect never changes the others.
 *
 * @example
 *   const rng = new Rng(deriveSeed(42, 'layout'));
 *   rng.float();            // in [0, 1)
 *   rng.range(-8, 8);       // a float in [-8, 8)
 *   rng.int(1, 6);          // an integer in 1..6
 *   rng.pick(['a', 'b']);   // one element
 */

/** A 32-bit hash of a string (FNV-1a), for deriving seeds from names. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Mixes 32-bit integers into one well-spread 32-bit value (murmur3's finaliser). */
export function mix32(...values: number[]): number {
  let h = 0x9e3779b9;
  for (const v of values) {
    h ^= v >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** A seed for the sub-stream `tag` of `seed` (independent streams per tag). */
export function deriveSeed(seed: number, tag: string): number {
  return mix32(seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0, hashString(tag));
}

export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = mix32(seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0);
  }

  /** A float in [0, 1) (mulberry32). */
  float(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A float in [min, max). */
  range(min: number, max: number): number {
    return min + (max - min) * this.float();
  }

  /** An integer in [min, max] (both inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.float() * (max - min + 1));
  }

  /** True with probability p. */
  bool(p = 0.5): boolean {
    return this.float() < p;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('Rng.pick: empty array');
    return items[Math.floor(this.float() * items.length)]!;
  }

  /** An approximately normal value (sum of uniforms), mean 0, standard deviation 1. */
  normal(): number {
    return (this.float() + this.float() + this.float() + this.float() - 2) * Math.sqrt(3);
  }
}
