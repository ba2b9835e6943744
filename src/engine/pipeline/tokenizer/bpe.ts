/**
 * Byte-level BPE over one pre-token, with the end-of-word suffix `</w>` on its last
 * byte. Merges are applied lowest rank first (rank = line order in merges.txt), ties
 * broken leftmost first, which is the order of the reference Rust implementation.
 * Results are cached per word.
 *
 * @example
 *   const bpe = new BytePairEncoder(vocab, merges); // merges: [left, right, merged] id triples
 *   bpe.encodeWord('hello'); // [3306]  ('hello</w>')
 */
import { BYTE_TO_CHAR, utf8Bytes } from './bytes.ts';
import { ZipbankError } from '../../../errors/index.ts';

export const END_OF_WORD = '</w>';

const PAIR_SHIFT = 0x200000;
const POS_SHIFT = 0x100000000;
const CACHE_LIMIT = 20_000;
const CACHEABLE_WORD_LENGTH = 256;

const pairKey = (left: number, right: number) => left * PAIR_SHIFT + right;

function byteToken(vocab: ReadonlyMap<string, number>, token: string, file: string): number {
  const id = vocab.get(token);
  if (id === undefined) throw new ZipbankError('tokenizer.bad-vocab', { file, reason: `the byte token ${JSON.stringify(token)} is missing` });
  return id;
}

/** A binary min-heap of non-negative numbers. */
class NumberHeap {
  private readonly items: number[] = [];

  get size(): number {
    return this.items.length;
  }

  push(value: number): void {
    const a = this.items;
    let i = a.push(value) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (a[parent]! <= value) break;
      a[i] = a[parent]!;
      i = parent;
    }
    a[i] = value;
  }

  pop(): number {
    const a = this.items;
    const top = a[0]!;
    const last = a.pop()!;
    const n = a.length;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && a[child + 1]! < a[child]!) child++;
      if (a[child]! >= last) break;
      a[i] = a[child]!;
      i = child;
    }
    a[i] = last;
    return top;
  }
}

export class BytePairEncoder {
  private readonly ranks = new Map<number, number>();
  private readonly mergedIds: Int32Array;
  private readonly byteIds = new Int32Array(256);
  private readonly lastByteIds = new Int32Array(256);
  private readonly cache = new Map<string, readonly number[]>();

  /**
   * @param vocab token -> id; must hold all 512 byte tokens (each byte alone and with `</w>`).
   * @param merges flat [left, right, merged] id triples, in rank order; a repeated pair keeps its last rank.
   * @param file where the vocabulary came from, for errors.
   */
  constructor(vocab: ReadonlyMap<string, number>, merges: Int32Array, file = 'vocab.json') {
    for (let b = 0; b < 256; b++) {
      const ch = BYTE_TO_CHAR[b]!;
      this.byteIds[b] = byteToken(vocab, ch, file);
      this.lastByteIds[b] = byteToken(vocab, ch + END_OF_WORD, file);
    }
    const count = merges.length / 3;
    this.mergedIds = new Int32Array(count);
    for (let r = 0; r < count; r++) {
      this.ranks.set(pairKey(merges[3 * r]!, merges[3 * r + 1]!), r);
      this.mergedIds[r] = merges[3 * r + 2]!;
    }
  }

  /** The ids of one pre-token (a word of normalized text, before the byte mapping). */
  encodeWord(word: string): readonly number[] {
    const hit = this.cache.get(word);
    if (hit) return hit;
    const ids = this.merge(utf8Bytes(word));
    if (word.length < CACHEABLE_WORD_LENGTH) {
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(word, ids);
    }
    return ids;
  }

  private merge(bytes: Uint8Array): number[] {
    const n = bytes.length;
    if (n === 0) return [];
    const ids = new Int32Array(n);
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      ids[i] = i === n - 1 ? this.lastByteIds[bytes[i]!]! : this.byteIds[bytes[i]!]!;
      prev[i] = i - 1;
      next[i] = i + 1;
    }
    const heap = new NumberHeap();
    const offer = (pos: number, right: number) => {
      const rank = this.ranks.get(pairKey(ids[pos]!, ids[right]!));
      if (rank !== undefined) heap.push(rank * POS_SHIFT + pos);
    };
    for (let i = 0; i + 1 < n; i++) offer(i, i + 1);
    while (heap.size > 0) {
      const top = heap.pop();
      const rank = Math.floor(top / POS_SHIFT);
      const pos = top - rank * POS_SHIFT;
      if (ids[pos]! < 0) continue;
      const right = next[pos]!;
      if (right >= n || this.ranks.get(pairKey(ids[pos]!, ids[right]!)) !== rank) continue;
      ids[pos] = this.mergedIds[rank]!;
      ids[right] = -1;
      const after = next[right]!;
      next[pos] = after;
      if (after < n) prev[after] = pos;
      if (prev[pos]! >= 0) offer(prev[pos]!, pos);
      if (after < n) offer(pos, after);
    }
    const out: number[] = [];
    for (let i = 0; i < n; i = next[i]!) out.push(ids[i]!);
    return out;
  }
}
