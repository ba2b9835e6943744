/**
 * The feeds of an injection plan (see `inject.ts`) for a set of LoRAs.
 *
 * One slot: the LoRAs are concatenated along the rank, each with its weight and
 * scale folded into its up columns and its coefficients folded into its down rows
 * (down_k diag(m_k)), so `m` is fed as ones. This is exactly the merged LoRA that
 * `merge.ts` exports. One slot per LoRA: slot k holds LoRA k's factors with
 * w_k · scale_k folded into up, and `m` is fed from its coefficients: the layout for
 * optimising mergers, where `coefficientFeeds` refreshes only the m inputs.
 * Dense ('full') branches sum the same terms as a dense dW. Unused rank rows and
 * columns are zeros. float16 plans get float16 feeds.
 *
 * @example
 *   const plans = planLoras(sources);
 *   const feeds = await loraFeeds(plans.unet!, sources);
 *   await session.run({ ...unetInputs, ...feeds });
 */
import { tensor, type Feeds, type HostTensor } from '../runtime/index.ts';
import { floatToHalf } from '../weights/dtype.ts';
import { SafetensorsFile } from '../weights/safetensors.ts';
import { inputShape, loraInputName, type InjectionPlan, type PlannedModule } from './inject.ts';
import { checkCoefficients, scaleColumns } from './coefficients.ts';
import { componentPath, type LoraSource } from './plan.ts';
import { denseDelta, loraFactors, matmul } from './tensors.ts';
import type { LoraModule } from './types.ts';

/** Float32 values of one module's update from one LoRA: low-rank or dense, with w · scale in `up` (or `delta`). */
type Part = { dense: false; rank: number; down: Float32Array; up: Float32Array } | { dense: true; delta: Float32Array };

function hostTensor(plan: InjectionPlan, values: Float32Array, dims: number[]): HostTensor {
  if (plan.dtype === 'float32') return tensor('float32', values, dims);
  const half = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) half[i] = floatToHalf(values[i]!);
  return tensor('float16', half, dims);
}

function scale(a: Float32Array, s: number): Float32Array {
  if (s !== 1) for (let i = 0; i < a.length; i++) a[i]! *= s;
  return a;
}

async function readPart(st: SafetensorsFile, m: LoraModule, weight: number): Promise<Part> {
  const s = weight * m.scale;
  if (m.kind === 'lora') {
    const f = await loraFactors(st, m);
    return { dense: false, rank: f.rank, down: f.down, up: scale(f.up, s) };
  }
  return { dense: true, delta: scale((await denseDelta(st, m)).data, s) };
}

function sourceWeight(s: LoraSource): number {
  const w = s.weight ?? 1;
  if (!Number.isFinite(w)) throw new RangeError(`LoRA weight must be a finite number, got ${w} for ${s.lora.file}`);
  return w;
}

/** Slot values for one module from the parts that adapt it, optionally folding coefficients. */
function slotValues(plan: InjectionPlan, pm: PlannedModule, parts: { part: Part; m?: Float32Array }[]): Record<string, Float32Array> {
  const { outFeatures: out, inFeatures: inp, kernel } = pm.base;
  const kk = pm.base.kind === 'conv' ? kernel[0] * kernel[1] : 1;
  const inFlat = inp * kk;
  if (pm.kind === 'full') {
    const delta = new Float32Array(out * inFlat);
    for (const { part, m } of parts) {
      const d = part.dense ? part.delta : matmul(part.up, part.down, out, part.rank, inFlat);
      if (m) scaleColumns(d, out, m, kk);
      for (let i = 0; i < d.length; i++) delta[i]! += d[i]!;
    }
    return { delta };
  }
  const R = plan.rank;
  const down = new Float32Array(R * inFlat);
  const up = new Float32Array(out * R);
  let offset = 0;
  for (const { part, m } of parts) {
    if (part.dense) throw new RangeError(`loraFeeds: ${pm.path} is planned low-rank but a LoRA adapts it with a dense update`);
    const r = part.rank;
    if (offset + r > R) throw new RangeError(`loraFeeds: ${pm.path} needs rank ${offset + r}; the plan's bucket is ${R}`);
    const d = part.down.slice();
    if (m) scaleColumns(d, r, m, kk);
    down.set(d, offset * inFlat);
    for (let o = 0; o < out; o++) for (let j = 0; j < r; j++) up[o * R + offset + j] = part.up[o * r + j]!;
    offset += r;
  }
  return { down, up };
}

/**
 * Every input of the plan for these LoRAs. Modules of the sources outside the plan's
 * component are ignored; a module of the component that the plan lacks is an error.
 */
export async function loraFeeds(plan: InjectionPlan, sources: readonly LoraSource[]): Promise<Feeds> {
  if (plan.slots !== 1 && plan.slots !== sources.length) {
    throw new RangeError(`loraFeeds: the plan has ${plan.slots} slots for ${sources.length} LoRAs (use 1, or one per LoRA)`);
  }
  const planned = new Map(plan.modules.map((m) => [m.path, m]));
  const perModule = new Map<string, { slot: number; part: Part; m?: Float32Array }[]>();
  for (const [k, s] of sources.entries()) {
    const weight = sourceWeight(s);
    const mine = s.lora.modules.filter((m) => m.component === plan.component);
    if (mine.length === 0) continue;
    const st = await SafetensorsFile.open(s.lora.path, { displayName: s.lora.file });
    try {
      for (const m of mine) {
        const path = componentPath(m);
        const pm = planned.get(path);
        if (!pm) throw new RangeError(`loraFeeds: ${m.target} of ${s.lora.file} is not in the plan`);
        const coeff = s.coefficients?.get(m.target);
        if (coeff) checkCoefficients(m.target, coeff, m.base.inFeatures);
        const list = perModule.get(path) ?? [];
        list.push({ slot: plan.slots === 1 ? 0 : k, part: await readPart(st, m, weight), ...(coeff ? { m: coeff } : {}) });
        perModule.set(path, list);
      }
    } finally {
      await st.close();
    }
  }
  const feeds: Feeds = {};
  const fold = plan.slots === 1;
  for (const pm of plan.modules) {
    const parts = perModule.get(pm.path) ?? [];
    for (let slot = 0; slot < plan.slots; slot++) {
      const mine = parts.filter((p) => p.slot === slot).map((p) => ({ part: p.part, ...(fold && p.m ? { m: p.m } : {}) }));
      const values = slotValues(plan, pm, mine);
      for (const [part, v] of Object.entries(values)) {
        feeds[loraInputName(pm.path, slot, part as 'down')] = hostTensor(plan, v, inputShape(plan, pm, part as 'down'));
      }
      const m = fold ? undefined : parts.find((p) => p.slot === slot)?.m;
      feeds[loraInputName(pm.path, slot, 'm')] = hostTensor(plan, m ? m.slice() : new Float32Array(pm.base.inFeatures).fill(1), [pm.base.inFeatures]);
    }
  }
  return feeds;
}

/**
 * The `m` inputs of one slot: the given vectors (by target) times `strength`, ones
 * where a module has none. For per-LoRA plans (merger optimisation, style strength).
 */
export function coefficientFeeds(plan: InjectionPlan, slot: number, coefficients?: ReadonlyMap<string, Float32Array>, strength = 1): Feeds {
  if (!Number.isInteger(slot) || slot < 0 || slot >= plan.slots) throw new RangeError(`coefficientFeeds: slot ${slot} is not in 0..${plan.slots - 1}`);
  const feeds: Feeds = {};
  for (const pm of plan.modules) {
    const target = `${plan.component}.${pm.path}`;
    const given = coefficients?.get(target);
    if (given) checkCoefficients(target, given, pm.base.inFeatures);
    const m = given ? Float32Array.from(given, (v) => v * strength) : new Float32Array(pm.base.inFeatures).fill(strength);
    feeds[loraInputName(pm.path, slot, 'm')] = hostTensor(plan, m, [pm.base.inFeatures]);
  }
  return feeds;
}
