/**
 * LoRA branches injected into the engine's graphs, with every factor a graph input.
 * For each planned module and each slot k the hook adds
 *
 *     y + B_k (A_k diag(m_k)) x          ('lora': A_k down [R, in(, kh, kw)], B_k up [out, R])
 *     y + (D_k diag(m_k)) x              ('full': D_k the dense dW [out, in(, kh, kw)])
 *
 * where m_k [in] are per-input-column coefficients (ZipLoRA's mergers; ones for a
 * plain LoRA). m multiplies the factor (R·in values), not the activations, which is
 * the same product and costs nothing next to the matmul. Convs apply A with the
 * module's own geometry and B as a 1x1 conv; for convs m is per input channel.
 * The scale (alpha / rank) and the LoRA weight are folded into B by the feeds.
 *
 * The graph depends only on the plan: the component, the compute type, the rank
 * bucket R, the number of slots, and which modules get which branch. Any LoRA, any
 * merged set (factors concatenated along the rank) and any coefficients that fit the
 * plan are fed to the same session. Ranks below R are zero-padded, which adds exact
 * zeros. LoHa / LoKr / full-difference modules get a dense `delta` input: exact and
 * session-reusable, but one more full-size product per module (`bake.ts` is the
 * alternative for long renders).
 *
 * Input names: `lora.<slot>.<module path>.<down|up|delta|m>`, see `loraInputName`.
 *
 * @example
 *   const plan = makePlan('unet', [{ path: 'mid_block.attentions.0.proj_in', kind: 'lora', base }], { rank: 8 });
 *   const { model } = buildUNetGraph(cfg, { weights, layers: loraContext(plan) });
 *   // feeds: 'lora.0.mid_block.attentions.0.proj_in.down' [8, 64, 1, 1], '.up' [64, 8], '.m' [64]
 */
import type { LayerContext, ModuleCall, ModuleHook } from '../models/layers.ts';
import type { ComputeDType } from '../models/model-graph.ts';
import type { ModuleShape } from '../models/modules.ts';
import type { GraphBuilder } from '../onnx/builder.ts';
import { add, matmul, mul } from '../onnx/ops/math.ts';
import { conv } from '../onnx/ops/nn.ts';
import { reshape, transpose } from '../onnx/ops/shape.ts';
import type { Value } from '../onnx/value.ts';
import type { Component } from './types.ts';

/** 'lora': low-rank factors; 'full': a dense dW input. */
export type BranchKind = 'lora' | 'full';

export type InputPart = 'down' | 'up' | 'delta' | 'm';

export interface PlannedModule {
  /** Module path inside the component, e.g. 'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q'. */
  path: string;
  kind: BranchKind;
  base: ModuleShape;
}

export interface InjectionPlan {
  component: Component;
  /** Compute type of the graph (and so of the feeds). */
  dtype: ComputeDType;
  /** The rank bucket R every 'lora' branch is padded to. */
  rank: number;
  /** Factor groups per module, each with its own coefficients: 1 to render, one per LoRA to optimise mergers. */
  slots: number;
  /** Sorted by path. */
  modules: readonly PlannedModule[];
  /** Equal keys, equal graphs. */
  key: string;
}

export interface PlanOptions {
  /** The rank bucket (see `rankBucket`). */
  rank: number;
  /** Default 1. */
  slots?: number;
  /** Default 'float32'. */
  dtype?: ComputeDType;
}

/** Smallest bucket (4, 8, 16, ... powers of two) holding `rank`. */
export function rankBucket(rank: number): number {
  let r = 4;
  while (r < rank) r *= 2;
  return r;
}

/** The graph input for one factor of one module and slot. */
export function loraInputName(path: string, slot: number, part: InputPart): string {
  return `lora.${slot}.${path}.${part}`;
}

/** A plan from the modules to adapt (duplicates refused). */
export function makePlan(component: Component, modules: Iterable<PlannedModule>, o: PlanOptions): InjectionPlan {
  const slots = o.slots ?? 1;
  const dtype = o.dtype ?? 'float32';
  if (!Number.isInteger(o.rank) || o.rank < 1) throw new RangeError(`makePlan: rank must be a positive integer, got ${o.rank}`);
  if (!Number.isInteger(slots) || slots < 1) throw new RangeError(`makePlan: slots must be a positive integer, got ${slots}`);
  const list = [...modules].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (let i = 1; i < list.length; i++) {
    if (list[i]!.path === list[i - 1]!.path) throw new RangeError(`makePlan: module ${list[i]!.path} is planned twice`);
  }
  const body = list.map((m) => `${m.path}:${m.kind}:${m.base.kind}:${m.base.outFeatures}x${m.base.inFeatures}x${m.base.kernel.join('x')}`).join('|');
  return { component, dtype, rank: o.rank, slots, modules: list, key: `${component}|${dtype}|r${o.rank}|s${slots}|${body}` };
}

/** The dims of one input of a planned module. */
export function inputShape(plan: InjectionPlan, m: PlannedModule, part: InputPart): number[] {
  const { outFeatures: out, inFeatures: inp, kernel } = m.base;
  const k = m.base.kind === 'conv' ? kernel : [];
  switch (part) {
    case 'down':
      return [plan.rank, inp, ...k];
    case 'up':
      return [out, plan.rank];
    case 'delta':
      return [out, inp, ...k];
    case 'm':
      return [inp];
  }
}

/** The inputs one module takes per slot, in feed order. */
export function moduleParts(m: PlannedModule): InputPart[] {
  return m.kind === 'lora' ? ['down', 'up', 'm'] : ['delta', 'm'];
}

function checkCall(g: GraphBuilder, plan: InjectionPlan, m: PlannedModule, call: ModuleCall): void {
  const w = call.weight.shape;
  const want = m.base.kind === 'conv' ? [m.base.outFeatures, m.base.inFeatures, ...m.base.kernel] : [m.base.outFeatures, m.base.inFeatures];
  if (call.kind !== m.base.kind || !w || w.length !== want.length || w.some((d, i) => d !== want[i])) {
    g.fail('lora', `${m.path} is a ${call.kind} with weight ${String(call.weight)}; the plan has a ${m.base.kind} [${want.join(', ')}]`);
  }
  if (call.kind === 'conv' && (call.conv?.group ?? 1) !== 1) g.fail('lora', `${m.path}: grouped convolutions cannot take a LoRA branch`);
  if (call.x.dtype !== plan.dtype) g.fail('lora', `${m.path} computes in ${call.x.dtype}; the plan is for ${plan.dtype}`);
}

function branch(g: GraphBuilder, plan: InjectionPlan, m: PlannedModule, call: ModuleCall, slot: number): Value {
  const input = (part: InputPart) => g.input(loraInputName(m.path, slot, part), plan.dtype, inputShape(plan, m, part));
  const coeff = input('m');
  const first = input(m.kind === 'lora' ? 'down' : 'delta');
  if (call.kind === 'linear') {
    const h = matmul(call.x, transpose(mul(first, coeff), [1, 0]));
    return m.kind === 'full' ? h : matmul(h, transpose(input('up'), [1, 0]));
  }
  const perChannel = reshape(coeff, [1, m.base.inFeatures, 1, 1]);
  const h = conv(call.x, mul(first, perChannel), null, call.conv ?? {});
  return m.kind === 'full' ? h : conv(h, reshape(input('up'), [m.base.outFeatures, plan.rank, 1, 1]), null);
}

/** The hook that adds the plan's branches (modules outside the plan are left alone). */
export function loraHook(plan: InjectionPlan): ModuleHook {
  const byPath = new Map(plan.modules.map((m) => [m.path, m]));
  return (g, call) => {
    const m = byPath.get(call.path);
    if (!m) return call.y;
    checkCall(g, plan, m, call);
    let y = call.y;
    for (let slot = 0; slot < plan.slots; slot++) y = add(y, branch(g, plan, m, call, slot));
    return y;
  };
}

const contexts = new Map<string, LayerContext>();
const MAX_CONTEXTS = 64;

/**
 * The layer context for a plan, one object per plan key: sessions are memoized by
 * this object, so equal plans reuse the built graph and its session.
 */
export function loraContext(plan: InjectionPlan): LayerContext {
  let ctx = contexts.get(plan.key);
  if (ctx) {
    contexts.delete(plan.key);
  } else {
    ctx = { hook: loraHook(plan) };
    if (contexts.size >= MAX_CONTEXTS) contexts.delete(contexts.keys().next().value!);
  }
  contexts.set(plan.key, ctx);
  return ctx;
}
