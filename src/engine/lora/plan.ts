/**
 * Injection plans for a set of LoRAs: per component, the union of the modules they
 * adapt, each module's branch kind, and the rank bucket. With one slot (rendering)
 * the LoRAs are concatenated along the rank, so R is the bucket of the largest summed
 * rank; with one slot per LoRA (ZipLoRA's mergers as separate inputs) R is the bucket
 * of the largest single rank. A module that any LoRA adapts with LoHa, LoKr or a full
 * difference gets a dense branch.
 *
 * @example
 *   const plans = planLoras([{ lora: subject }, { lora: style, weight: 0.8 }], { dtype: 'float32' });
 *   plans.unet!.rank;       // rankBucket(r_subject + r_style)
 *   plans.text_encoder;     // undefined when neither adapts it
 */
import type { ComputeDType } from '../models/model-graph.ts';
import { makePlan, rankBucket, type BranchKind, type InjectionPlan, type PlannedModule } from './inject.ts';
import { COMPONENTS, type Component, type LoraFile, type LoraModule } from './types.ts';

/** One LoRA as applied: its file, its weight, and optional per-module coefficients. */
export interface LoraSource {
  lora: LoraFile;
  /** Multiplies the update (w · scale · B A). Default 1. */
  weight?: number;
  /** Coefficients m [in] by module target (ZipLoRA mergers). Modules without one use 1. */
  coefficients?: ReadonlyMap<string, Float32Array>;
}

export interface PlanLorasOptions {
  /** Compute type of the graphs. Default 'float32'. */
  dtype?: ComputeDType;
  /** 'merged' (default): one slot, factors concatenated; 'per-lora': one slot per LoRA. */
  slots?: 'merged' | 'per-lora';
  /** Pad to at least this rank (keeps one graph across LoRA sets of different ranks). */
  minRank?: number;
  /** Components to plan. Default all. */
  components?: readonly Component[];
}

/** The module's path inside its component. */
export function componentPath(m: Pick<LoraModule, 'target' | 'component'>): string {
  return m.target.slice(m.component.length + 1);
}

/** One plan per component that any source adapts. */
export function planLoras(sources: readonly LoraSource[], o: PlanLorasOptions = {}): Partial<Record<Component, InjectionPlan>> {
  const perLora = o.slots === 'per-lora';
  const out: Partial<Record<Component, InjectionPlan>> = {};
  for (const component of o.components ?? COMPONENTS) {
    const modules = new Map<string, PlannedModule>();
    const ranks = new Map<string, number>();
    let maxRank = 0;
    for (const s of sources) {
      for (const m of s.lora.modules) {
        if (m.component !== component) continue;
        const path = componentPath(m);
        const prev = modules.get(path);
        if (prev && (prev.base.outFeatures !== m.base.outFeatures || prev.base.inFeatures !== m.base.inFeatures || prev.base.kind !== m.base.kind)) {
          throw new RangeError(`planLoras: ${m.target} has different shapes in ${sources[0]!.lora.file} and ${s.lora.file}`);
        }
        const kind: BranchKind = prev?.kind === 'full' || m.kind === 'full' ? 'full' : 'lora';
        modules.set(path, { path, kind, base: m.base });
        const r = perLora ? m.rank : (ranks.get(path) ?? 0) + m.rank;
        if (m.kind === 'lora') {
          ranks.set(path, r);
          maxRank = Math.max(maxRank, r);
        }
      }
    }
    if (modules.size === 0) continue;
    const rank = rankBucket(Math.max(maxRank, o.minRank ?? 0));
    out[component] = makePlan(component, modules.values(), { rank, slots: perLora ? sources.length : 1, dtype: o.dtype ?? 'float32' });
  }
  return out;
}
