/**
 * Cuts text at whole occurrences of added tokens (leftmost match first, the longest
 * one when several start at the same place), as the reference's added vocabulary does.
 *
 * @example
 *   splitOnAddedTokens('a<|endoftext|>b', [{ content: '<|endoftext|>', id: 49407 }]);
 *   // ['a', 49407, 'b']
 */
export interface TokenPattern {
  content: string;
  id: number;
}

/** Text pieces (strings) and matched token ids (numbers), in order; empty pieces are left out. */
export function splitOnAddedTokens(text: string, patterns: readonly TokenPattern[]): (string | number)[] {
  if (patterns.length === 0) return text === '' ? [] : [text];
  const out: (string | number)[] = [];
  const next = patterns.map((p) => (p.content === '' ? -1 : text.indexOf(p.content)));
  let start = 0;
  for (;;) {
    let best = -1;
    for (let k = 0; k < patterns.length; k++) {
      if (next[k]! !== -1 && next[k]! < start) next[k] = text.indexOf(patterns[k]!.content, start);
      const i = next[k]!;
      if (i === -1) continue;
      if (best === -1 || i < next[best]! || (i === next[best]! && patterns[k]!.content.length > patterns[best]!.content.length)) best = k;
    }
    if (best === -1) break;
    const at = next[best]!;
    const match = patterns[best]!;
    if (at > start) out.push(text.slice(start, at));
    out.push(match.id);
    start = at + match.content.length;
  }
  if (start < text.length) out.push(text.slice(start));
  return out;
}
