/**
 * Seeded random numbers for sampling: initial latents and the fresh noise of
 * ancestral / SDE scheduler steps. xoshiro128** seeded through SplitMix32, with
 * Box-Muller for standard normals. Same seed, same numbers, on every machine
 * (only integer arithmetic and V8's own log/sin/cos are involved).
 *
 * These numbers are not torch's: a diffusers image for seed 42 is not reproduced.
 *
 * @example
 *   const rng = createRandom(42);
 *   const latents = rng.normals(4 * 64 * 64);       // Float32Array, N(0, 1)
 *   scheduler.step(out, t, latents, rng.normal);    // ancestral steps draw from it
 */
import { ZipbankError } from '../../errors/index.ts';

/** A source of standard normal draws, as schedulers take it. */
export type NormalSource = () => number;

export interface Random {
  /** The seed this generator started from. */
  readonly seed: bigint;
  /** Uniform 32-bit unsigned integer. */
  uint32(): number;
  /** Uniform double in [0, 1) with 53 random bits. */
  uniform(): number;
  /** Standard normal draw. Bound: pass `rng.normal` around as a `NormalSource`. */
  readonly normal: NormalSource;
  /** `n` standard normal draws. */
  normals(n: number): Float32Array;
}

const MAX_SEED = (1n << 64n) - 1n;

function toSeed(seed: number | bigint): bigint {
  if (typeof seed === 'bigint') {
    if (seed < 0n || seed > MAX_SEED) throw new ZipbankError('scheduler.invalid-seed', { seed });
    return seed;
  }
  if (!Number.isSafeInteger(seed) || seed < 0) throw new ZipbankError('scheduler.invalid-seed', { seed });
  return BigInt(seed);
}

function splitmix32(state: number): { state: number; value: number } {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return { state: next, value: z >>> 0 };
}

/** A generator seeded with an integer in [0, 2^64). */
export function createRandom(seed: number | bigint): Random {
  const big = toSeed(seed);
  const lo = Number(big & 0xffffffffn);
  const hi = Number(big >> 32n);
  const s = new Uint32Array(4);
  let sm = lo ^ 0x243f6a88;
  for (let i = 0; i < 4; i++) {
    if (i === 2) sm ^= hi;
    const r = splitmix32(sm);
    sm = r.state;
    s[i] = r.value;
  }
  if ((s[0]! | s[1]! | s[2]! | s[3]!) === 0) s[0] = 1;

  const uint32 = (): number => {
    const s0 = s[0]!;
    const s1 = s[1]!;
    const s2 = s[2]!;
    const s3 = s[3]!;
    const x = Math.imul(s1, 5);
    const result = Math.imul((x << 7) | (x >>> 25), 9) >>> 0;
    const t = s1 << 9;
    const n2 = s2 ^ s0;
    const n3 = s3 ^ s1;
    s[1] = s1 ^ n2;
    s[0] = s0 ^ n3;
    s[2] = n2 ^ t;
    s[3] = (n3 << 11) | (n3 >>> 21);
    return result;
  };

  const uniform = (): number => {
    const a = uint32() >>> 5;
    const b = uint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  };

  let spare: number | null = null;
  const normal = (): number => {
    if (spare !== null) {
      const z = spare;
      spare = null;
      return z;
    }
    const u1 = 1 - uniform();
    const u2 = uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    const theta = 2 * Math.PI * u2;
    spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  };

  const normals = (n: number): Float32Array => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = normal();
    return out;
  };

  return { seed: big, uint32, uniform, normal, normals };
}

/** `n` standard normal draws from a fresh generator: `randn(seed, n)` always gives the same array. */
export function randn(seed: number | bigint, n: number): Float32Array {
  return createRandom(seed).normals(n);
}
