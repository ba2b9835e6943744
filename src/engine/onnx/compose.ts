/**
 * Chain two models into one: some inputs of the second are fed by tensors of the
 * first (e.g. the VAE encoder's latent into the decoder, CLIP's hidden states into
 * the UNet), everything else stays as it was. Names of the second model that would
 * collide with the first's (tensors, initializers, nodes) get a prefix; weights with
 * distinct names keep them, so a trainer finds every parameter under its usual name.
 *
 * @example
 *   const both = chainModels(clip.model, unet.model, { connect: { encoder_hidden_states: 'last_hidden_state' } });
 *   // inputs: input_ids, sample, timestep; outputs: CLIP's and the UNet's
 */
import { ZipbankError } from '../../errors/index.ts';
import type { OnnxGraph, OnnxModel, OnnxNode } from './types.ts';

export interface ChainOptions {
  /** Input of the second model -> tensor of the first that feeds it. */
  connect: Record<string, string>;
  /** Prefix for colliding names of the second model. Default 'b/'. */
  prefix?: string;
  /** Graph name. Default '<first>+<second>'. */
  name?: string;
  /** Keep the first model's outputs (default true). */
  keepFirstOutputs?: boolean;
}

function namesOf(graph: OnnxGraph): { tensors: Set<string>; nodes: Set<string> } {
  const tensors = new Set<string>();
  for (const v of [...graph.input, ...graph.output, ...graph.valueInfo]) tensors.add(v.name);
  for (const t of graph.initializer) if (t.name) tensors.add(t.name);
  for (const n of graph.node) for (const x of [...n.input, ...n.output]) if (x) tensors.add(x);
  const nodes = new Set(graph.node.map((n) => n.name ?? '').filter(Boolean));
  return { tensors, nodes };
}

export function chainModels(first: OnnxModel, second: OnnxModel, o: ChainOptions): OnnxModel {
  const fail = (reason: string) => new ZipbankError('onnx.invalid-op', { graph: o.name ?? `${first.graph.name}+${second.graph.name}`, op: 'chainModels', scope: '(top)', reason });
  const a = first.graph;
  const b = second.graph;
  const taken = namesOf(a);
  const bNames = namesOf(b);
  const prefix = o.prefix ?? 'b/';
  const bInputs = new Set(b.input.map((i) => i.name));
  for (const [input, source] of Object.entries(o.connect)) {
    if (!bInputs.has(input)) throw fail(`the second model has no input ${input}`);
    if (!taken.tensors.has(source)) throw fail(`the first model has no tensor ${source} to feed ${input}`);
  }
  const rename = new Map<string, string>();
  for (const [input, source] of Object.entries(o.connect)) rename.set(input, source);
  const fresh = (name: string, used: Set<string>, other: Set<string>) => {
    let candidate = `${prefix}${name}`;
    for (let k = 2; used.has(candidate) || other.has(candidate); k++) candidate = `${prefix}${name}#${k}`;
    return candidate;
  };
  for (const name of bNames.tensors) {
    if (rename.has(name) || !taken.tensors.has(name)) continue;
    rename.set(name, fresh(name, taken.tensors, bNames.tensors));
  }
  const tensor = (name: string) => (name ? rename.get(name) ?? name : name);
  const nodeRename = new Map<string, string>();
  for (const name of bNames.nodes) if (taken.nodes.has(name)) nodeRename.set(name, fresh(name, taken.nodes, bNames.nodes));
  const nodes: OnnxNode[] = b.node.map((n) => ({
    ...n,
    ...(n.name ? { name: nodeRename.get(n.name) ?? n.name } : {}),
    input: n.input.map(tensor),
    output: n.output.map(tensor),
  }));
  const opsets = new Map<string, number>();
  for (const s of [...first.opsetImport, ...second.opsetImport]) {
    const d = s.domain ?? '';
    opsets.set(d, Math.max(opsets.get(d) ?? 0, s.version));
  }
  return {
    ...first,
    opsetImport: [...opsets].map(([domain, version]) => (domain ? { domain, version } : { version })),
    graph: {
      ...a,
      name: o.name ?? `${a.name}+${b.name}`,
      node: [...a.node, ...nodes],
      initializer: [...a.initializer, ...b.initializer.map((t) => ({ ...t, name: tensor(t.name ?? '') }))],
      input: [...a.input, ...b.input.filter((i) => !(i.name in o.connect)).map((i) => ({ ...i, name: tensor(i.name) }))],
      output: [...(o.keepFirstOutputs === false ? [] : a.output), ...b.output.map((v) => ({ ...v, name: tensor(v.name) }))],
      valueInfo: [...a.valueInfo, ...b.valueInfo.map((v) => ({ ...v, name: tensor(v.name) }))],
    },
  };
}

/**
 * Make an intermediate tensor a graph input: the node producing it is removed (and
 * any node left with no consumer on the way to an output, such as a now-unused
 * Gather), and `name` is fed by the caller. Used to feed gathered token embeddings so
 * the embedding table's gradient can be scattered on the host.
 */
export function cutAt(model: OnnxModel, name: string, type: { elemType: number; dims: readonly number[] }): OnnxModel {
  const g = model.graph;
  const producer = g.node.findIndex((n) => n.output.includes(name));
  if (producer < 0) throw new ZipbankError('onnx.invalid-op', { graph: g.name, op: 'cutAt', scope: '(top)', reason: `no node produces ${name}` });
  let nodes = g.node.filter((_, i) => i !== producer);
  // Drop nodes whose outputs nobody reads (repeat: chains).
  const outputs = new Set(g.output.map((o) => o.name));
  for (;;) {
    const read = new Set<string>(outputs);
    for (const n of nodes) for (const x of n.input) if (x) read.add(x);
    const kept = nodes.filter((n) => n.output.some((x) => x && read.has(x)));
    if (kept.length === nodes.length) break;
    nodes = kept;
  }
  const read = new Set<string>();
  for (const n of nodes) for (const x of n.input) if (x) read.add(x);
  return {
    ...model,
    graph: {
      ...g,
      node: nodes,
      initializer: g.initializer.filter((t) => !t.name || read.has(t.name) || outputs.has(t.name)),
      input: [...g.input.filter((i) => read.has(i.name) || outputs.has(i.name)), { name, type: { tensorType: { elemType: type.elemType, shape: { dim: type.dims.map((d) => ({ dimValue: d })) } } } }],
    },
  };
}
