/**
 * Extend a built or decoded model with more nodes, written with the GraphBuilder
 * helpers: the model's tensors are reachable as Values by name, new names never
 * collide with the model's, and `finish` returns one model holding both. Used to
 * append a loss to a UNet graph and to append backward passes (autodiff).
 *
 * @example
 *   const ext = new ModelExtension(unetModel, { name: 'zip-loss' });
 *   const eps = ext.ref('out_sample');
 *   const target = ext.g.input('target', 'float32', [2, 4, 8, 8]);
 *   const loss = reduceMean(mul(sub(eps, target), sub(eps, target)), [0, 1, 2, 3], false);
 *   const model = ext.finish({ outputs: [{ value: loss, name: 'loss' }] });
 */
import { ZipbankError } from '../../errors/index.ts';
import { GraphBuilder } from './builder.ts';
import { dtypeFromOnnx, type DType, type OnnxModel, type OnnxValueInfo } from './types.ts';
import type { Dim, Shape, Value } from './value.ts';

export interface TensorMeta {
  dtype: DType;
  shape: Shape | undefined;
}

export interface ExtensionOptions {
  /** Name of the combined graph (default: the model's). */
  name?: string;
  /** Opset of the combined model: at least the model's (default max(model's, 17)). */
  opset?: number;
  /** Types and shapes of tensors that value infos do not declare (e.g. from `inferGraph`). */
  meta?: (name: string) => TensorMeta | undefined;
}

export interface FinishOptions {
  /** New graph outputs (Identity-renamed when `name` differs). */
  outputs?: { value: Value; name?: string }[];
  /** Keep the model's own outputs (default true). */
  keepOutputs?: boolean | readonly string[];
}

function metaOf(info: OnnxValueInfo): TensorMeta | undefined {
  const t = info.type?.tensorType;
  const dtype = t?.elemType !== undefined ? dtypeFromOnnx(t.elemType) : undefined;
  if (!dtype) return undefined;
  const shape: Dim[] | undefined = t?.shape ? t.shape.dim.map((d) => (d.dimValue !== undefined ? Number(d.dimValue) : d.dimParam ?? null)) : undefined;
  return { dtype, shape };
}

export class ModelExtension {
  readonly g: GraphBuilder;
  private readonly declared = new Map<string, TensorMeta>();
  private readonly refs = new Map<string, Value>();
  private readonly produced = new Set<string>();

  constructor(
    readonly model: OnnxModel,
    private readonly options: ExtensionOptions = {},
  ) {
    const base = model.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx')?.version ?? 17;
    const opset = Math.max(options.opset ?? 17, base);
    this.g = new GraphBuilder(options.name ?? model.graph.name, { opset: Math.min(opset, 21) });
    const graph = model.graph;
    for (const v of [...graph.input, ...graph.output, ...graph.valueInfo]) {
      const m = metaOf(v);
      if (m) this.declared.set(v.name, m);
    }
    for (const t of graph.initializer) {
      const dtype = dtypeFromOnnx(t.dataType);
      if (dtype && t.name) this.declared.set(t.name, { dtype, shape: t.dims.map(Number) });
    }
    for (const n of graph.node) for (const o of n.output) if (o) this.produced.add(o);
    this.g.reserve(
      [...graph.input.map((i) => i.name), ...graph.initializer.map((t) => t.name ?? ''), ...this.produced],
      graph.node.map((n) => n.name ?? ''),
    );
  }

  /** Whether the model has a tensor of this name. */
  has(name: string): boolean {
    return this.declared.has(name) || this.produced.has(name);
  }

  /** The model's tensor `name` as a Value of the extension's builder. */
  ref(name: string): Value {
    let v = this.refs.get(name);
    if (v) return v;
    const meta = this.options.meta?.(name) ?? this.declared.get(name);
    if (!meta || !this.has(name)) {
      throw new ZipbankError('onnx.invalid-op', { graph: this.g.name, op: 'extend', scope: '(top)', reason: `the model has no tensor ${name}${this.has(name) ? ' with a known type' : ''}` });
    }
    // The builder reserved the name already; `external` claims it, so release it first.
    v = this.g.externalReserved(name, meta.dtype, meta.shape);
    this.refs.set(name, v);
    return v;
  }

  /** One model: the original graph, then the new nodes, initializers, inputs and outputs. */
  finish(o: FinishOptions = {}): OnnxModel {
    for (const out of o.outputs ?? []) this.g.output(out.value, out.name);
    const ext = this.g.buildGraph();
    const graph = this.model.graph;
    const keep = o.keepOutputs ?? true;
    const kept = keep === true ? graph.output : keep === false ? [] : graph.output.filter((x) => keep.includes(x.name));
    const opset = this.g.opset;
    const opsetImport = this.model.opsetImport.map((s) => (!s.domain || s.domain === 'ai.onnx' ? { ...s, version: opset } : s));
    return {
      ...this.model,
      opsetImport,
      graph: {
        ...graph,
        name: this.g.name,
        node: [...graph.node, ...ext.node],
        initializer: [...graph.initializer, ...ext.initializer],
        input: [...graph.input, ...ext.input],
        output: [...kept, ...ext.output],
        valueInfo: [...graph.valueInfo],
      },
    };
  }
}

/**
 * Turn initializers into graph inputs (same names, types and shapes), e.g. to feed
 * weights that an optimiser updates, or to perturb them in a gradient check.
 * Returns the model and the lifted initializers (their stored data, for feeding).
 * External-data initializers are lifted too; their data stays where it is.
 */
export function liftInitializers(model: OnnxModel, names: Iterable<string>): { model: OnnxModel; lifted: import('./types.ts').OnnxTensor[] } {
  const wanted = new Set(names);
  const lifted = model.graph.initializer.filter((t) => t.name && wanted.has(t.name));
  const found = new Set(lifted.map((t) => t.name!));
  const missing = [...wanted].filter((n) => !found.has(n));
  if (missing.length) throw new ZipbankError('onnx.invalid-op', { graph: model.graph.name, op: 'liftInitializers', scope: '(top)', reason: `no initializer named ${missing.join(', ')}` });
  const inputs: OnnxValueInfo[] = lifted.map((t) => ({
    name: t.name!,
    type: { tensorType: { elemType: t.dataType, shape: { dim: t.dims.map((d) => ({ dimValue: Number(d) })) } } },
  }));
  return {
    model: {
      ...model,
      graph: { ...model.graph, initializer: model.graph.initializer.filter((t) => !t.name || !found.has(t.name)), input: [...model.graph.input, ...inputs] },
    },
    lifted,
  };
}
