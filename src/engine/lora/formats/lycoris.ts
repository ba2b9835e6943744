/**
 * LyCORIS factor sets under kohya naming (`lora_unet_<module>.<part>`):
 * LoHa (hada_w1_a/b, hada_w2_a/b, optional CP cores hada_t1/t2), LoKr (lokr_w1 or
 * lokr_w1_a/b, lokr_w2 or lokr_w2_a/b, optional CP core lokr_t2) and full
 * differences (`diff`). Algorithms zipbank cannot apply (DoRA, OFT/BOFT, GLoRA, IA3)
 * are refused by name.
 *
 * @example
 *   lycorisFactors('x.safetensors', 'lora_unet_conv_in', parts);
 *   // { algo: 'lokr', w1a: {...}, w1b: {...}, w2a: {...}, w2b: {...} }
 */
import { ZipbankError } from '../../../errors/index.ts';
import type { TensorInfo } from '../../weights/safetensors.ts';
import type { Factors } from '../types.ts';
import { ref, requirePair } from './shared.ts';

const UNSUPPORTED: readonly [RegExp, string][] = [
  [/^dora_scale$/, 'DoRA (weight-decomposed LoRA)'],
  [/^(oft_blocks|oft_diag|oft_r|oft_R)$/, 'OFT/BOFT (orthogonal fine-tuning)'],
  [/^[ab][12]\.weight$/, 'GLoRA'],
  [/^on_input$/, 'IA3'],
  [/^lokr_t1$/, 'LoKr with a CP-decomposed first factor (lokr_t1)'],
];

/** Parts every LyCORIS/kohya module may carry besides its factors. */
export const LYCORIS_PARTS = new Set([
  'hada_w1_a', 'hada_w1_b', 'hada_w2_a', 'hada_w2_b', 'hada_t1', 'hada_t2',
  'lokr_w1', 'lokr_w1_a', 'lokr_w1_b', 'lokr_w2', 'lokr_w2_a', 'lokr_w2_b', 'lokr_t2',
  'diff',
]);

/** Throw for parts that belong to an algorithm zipbank cannot apply. */
export function refuseUnsupported(file: string, key: string, parts: Map<string, TensorInfo>): void {
  for (const part of parts.keys()) {
    for (const [re, algo] of UNSUPPORTED) {
      if (re.test(part)) throw new ZipbankError('lora.unsupported-algo', { file, algo, example: `${key}.${part}` });
    }
  }
  // IA3 stores a bare `weight` vector next to `on_input`; a lone `.weight` is the same algorithm.
  if (parts.has('weight') && ![...parts.keys()].some((p) => p.startsWith('lora_') || LYCORIS_PARTS.has(p))) {
    throw new ZipbankError('lora.unsupported-algo', { file, algo: 'IA3', example: `${key}.weight` });
  }
}

/** LoHa, LoKr or full-diff factors of one module, or undefined when it has none of their parts. */
export function lycorisFactors(file: string, key: string, parts: Map<string, TensorInfo>): Factors | undefined {
  const get = (p: string) => {
    const t = parts.get(p);
    return t ? ref(file, t) : undefined;
  };
  const m = (p: string) => `${key}.${p}`;
  if ([...parts.keys()].some((p) => p.startsWith('hada_'))) {
    for (const [a, b] of [['hada_w1_a', 'hada_w1_b'], ['hada_w2_a', 'hada_w2_b'], ['hada_w1_a', 'hada_w2_a']] as const) {
      requirePair(file, key, parts, a, b);
    }
    const [w1a, w1b, w2a, w2b] = [get('hada_w1_a'), get('hada_w1_b'), get('hada_w2_a'), get('hada_w2_b')];
    if (!w1a || !w1b || !w2a || !w2b) {
      throw new ZipbankError('lora.missing-pair', { file, module: key, present: 'hada_t1/hada_t2', missing: 'hada_w1_a, hada_w1_b, hada_w2_a, hada_w2_b' });
    }
    if (parts.has('hada_t1') !== parts.has('hada_t2')) {
      throw new ZipbankError('lora.missing-pair', {
        file,
        module: key,
        present: m(parts.has('hada_t1') ? 'hada_t1' : 'hada_t2'),
        missing: m(parts.has('hada_t1') ? 'hada_t2' : 'hada_t1'),
      });
    }
    const t1 = get('hada_t1');
    const t2 = get('hada_t2');
    return { algo: 'loha', w1a, w1b, w2a, w2b, ...(t1 ? { t1 } : {}), ...(t2 ? { t2 } : {}) };
  }
  if ([...parts.keys()].some((p) => p.startsWith('lokr_'))) {
    requirePair(file, key, parts, 'lokr_w1_a', 'lokr_w1_b');
    requirePair(file, key, parts, 'lokr_w2_a', 'lokr_w2_b');
    if (parts.has('lokr_t2') && !parts.has('lokr_w2_a')) {
      throw new ZipbankError('lora.missing-pair', { file, module: key, present: 'lokr_t2', missing: 'lokr_w2_a + lokr_w2_b' });
    }
    const f: Factors = { algo: 'lokr' };
    for (const [p, k] of [
      ['lokr_w1', 'w1'],
      ['lokr_w1_a', 'w1a'],
      ['lokr_w1_b', 'w1b'],
      ['lokr_w2', 'w2'],
      ['lokr_w2_a', 'w2a'],
      ['lokr_w2_b', 'w2b'],
      ['lokr_t2', 't2'],
    ] as const) {
      const r = get(p);
      if (r) f[k] = r;
    }
    return f;
  }
  const diff = get('diff');
  return diff ? { algo: 'full', diff } : undefined;
}
