/**
 * Reverse-mode automatic differentiation of an ONNX graph into one ONNX graph.
 *
 * Given a model, a scalar output (the loss) and tensors to differentiate with
 * respect to (graph inputs or initializers), `buildGradientGraph` returns a model
 * that computes the original outputs (optionally), the loss, and `grad.<name>` for
 * every requested tensor, using only standard ONNX operators. Shapes are made
 * static first (`inferGraph` with the given input sizes), so every backward node
 * has a known shape and no runtime shape arithmetic is needed.
 *
 * Only the nodes on a path from a requested tensor to the loss get backward nodes.
 * The backward nodes read forward tensors by name: onnxruntime keeps exactly the
 * activations some backward node reads and frees the rest. Weights are read in
 * place, never copied (matrix products against a 2-D weight use Gemm's transB
 * instead of a transposed copy).
 *
 * @example
 *   const { model, gradients } = buildGradientGraph(forward, {
 *     loss: 'loss', wrt: ['lora.0.mid_block.attentions.0.proj_in.m'],
 *     inputShapes: { sample: [2, 4, 8, 8], timestep: [2], encoder_hidden_states: [2, 77, 32] },
 *   });
 *   gradients['lora.0.mid_block.attentions.0.proj_in.m'];   // 'grad.lora.0.mid_block.attentions.0.proj_in.m'
 */
import { ZipbankError } from '../../../errors/index.ts';
import { nodeAttrs } from '../attributes.ts';
import { ModelExtension } from '../extend.ts';
import { inferGraph, type TensorInfo } from '../infer.ts';
import { ONNX_DTYPE, type OnnxModel, type OnnxNode } from '../types.ts';
import type { Value } from '../value.ts';
import { ruleFailure, type GradRule, type RuleContext } from './rule.ts';
import { RULES } from './rules/index.ts';

export interface GradientOptions {
  /** Name of a scalar (one element) float tensor of the graph. */
  loss: string;
  /** Graph inputs or initializers to differentiate with respect to. */
  wrt: readonly string[];
  /** Concrete dims for graph inputs whose declared dims are symbolic. */
  inputShapes?: Record<string, readonly number[]>;
  /** Output name of a gradient (default `grad.<name>`). */
  gradName?: (name: string) => string;
  /** Keep the model's own outputs (default true); the loss is always an output. */
  keepOutputs?: boolean;
  /** Extra rules (by op type), e.g. for custom-domain ops. */
  rules?: Record<string, GradRule>;
}

export interface GradientGraph {
  model: OnnxModel;
  /** Requested tensor -> output name of its gradient. */
  gradients: Record<string, string>;
  /** Requested tensors the loss does not depend on (their gradient is zeros). */
  disconnected: string[];
  /** Static types and shapes of the forward tensors. */
  info: Map<string, TensorInfo>;
  /** Number of forward nodes that got backward nodes. */
  differentiated: number;
}

const FLOAT = new Set(['float32', 'float16', 'float64', 'bfloat16']);

/** Ops whose outputs never carry a gradient (integer/boolean results, shapes, indices). */
const NON_DIFFERENTIABLE = new Set([
  'Shape', 'Size', 'ArgMax', 'ArgMin', 'Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'Not', 'And', 'Or', 'Xor',
  'ConstantOfShape', 'Range', 'NonZero', 'OneHot', 'Constant', 'RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike',
  'Floor', 'Ceil', 'Round', 'Sign', 'IsNaN', 'IsInf',
]);

export function buildGradientGraph(model: OnnxModel, o: GradientOptions): GradientGraph {
  const bad = (reason: string) => new ZipbankError('onnx.bad-gradient-request', { reason });
  const graph = model.graph;
  const info = inferGraph(graph, o.inputShapes ?? {});
  const lossInfo = info.get(o.loss);
  if (!lossInfo) throw bad(`the graph has no tensor named ${o.loss}`);
  if (!FLOAT.has(lossInfo.dtype)) throw bad(`the loss ${o.loss} is ${lossInfo.dtype}, not a float`);
  if (lossInfo.shape.reduce((a, b) => a * b, 1) !== 1) throw bad(`the loss ${o.loss} has shape [${lossInfo.shape.join(', ')}]; it must hold one value`);
  const sources = new Set([...graph.input.map((i) => i.name), ...graph.initializer.map((t) => t.name ?? '')]);
  const wrt = [...new Set(o.wrt)];
  for (const w of wrt) {
    if (!sources.has(w)) throw bad(`${w} is not a graph input or initializer`);
    if (!FLOAT.has(info.get(w)!.dtype)) throw bad(`${w} is ${info.get(w)!.dtype}; only float tensors have gradients`);
  }
  const rules: Record<string, GradRule> = { ...RULES, ...o.rules };

  // Forward: which tensors depend on a requested one.
  const requires = new Set(wrt);
  const nodes = graph.node;
  const onPath: boolean[] = nodes.map((n) => {
    if (NON_DIFFERENTIABLE.has(n.opType)) return false;
    if (!n.input.some((x) => x && requires.has(x))) return false;
    let any = false;
    for (const out of n.output) {
      if (out && FLOAT.has(info.get(out)?.dtype ?? '')) {
        requires.add(out);
        any = true;
      }
    }
    return any;
  });
  // Backward: which of those reach the loss.
  const reaches = new Set([o.loss]);
  const active: boolean[] = new Array(nodes.length).fill(false);
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i]!;
    if (!onPath[i] || !n.output.some((x) => reaches.has(x))) continue;
    active[i] = true;
    for (const x of n.input) if (x && requires.has(x)) reaches.add(x);
  }

  const ext = new ModelExtension(model, { meta: (name) => info.get(name) });
  const g = ext.g;
  const contributions = new Map<string, Value[]>();
  const contribute = (name: string, v: Value) => {
    const list = contributions.get(name);
    if (list) list.push(v);
    else contributions.set(name, [v]);
  };
  const total = (name: string): Value | null => {
    const list = contributions.get(name);
    if (!list || list.length === 0) return null;
    contributions.delete(name);
    if (list.length === 1) return list[0]!;
    const meta = info.get(name)!;
    // A balanced tree of Adds, not one n-ary Sum: every provider has Add (onnxruntime's
    // WebGPU provider has no Sum, and ran each one on the CPU with two copies).
    let level = list;
    while (level.length > 1) {
      const next: Value[] = [];
      for (let k = 0; k + 1 < level.length; k += 2) next.push(g.op('Add', [level[k]!, level[k + 1]!], {}, { name: 'grad/Sum', output: { shape: meta.shape } }));
      if (level.length % 2 === 1) next.push(level.at(-1)!);
      level = next;
    }
    return level[0]!;
  };

  contribute(o.loss, g.scope('grad', () => g.op('Expand', [g.scalar(1, lossInfo.dtype), g.ints(lossInfo.shape)], {}, { output: { shape: lossInfo.shape } })));

  let differentiated = 0;
  for (let i = nodes.length - 1; i >= 0; i--) {
    if (!active[i]) continue;
    const node = nodes[i]!;
    const outGrads = node.output.map((out) => (out && reaches.has(out) ? total(out) : null));
    if (outGrads.every((x) => x === null)) continue;
    const key = node.domain && node.domain !== 'ai.onnx' ? `${node.domain}.${node.opType}` : node.opType;
    const rule = rules[key];
    if (!rule) throw ruleFailure(node, `no gradient rule for ${node.domain ? node.domain + '.' : ''}${node.opType}`);
    const ctx = makeContext(g, ext, node, info, outGrads, (k) => !!node.input[k] && requires.has(node.input[k]!) && reaches.has(node.input[k]!));
    const grads = g.scope(`grad/${node.name || node.opType}`.replace(/\./g, '_'), () => rule(ctx));
    differentiated++;
    node.input.forEach((name, k) => {
      const gv = grads[k];
      if (!name || !gv || !ctx.needs(k)) return;
      const want = info.get(name)!;
      if (gv.shape && gv.shape.some((d, j) => typeof d === 'number' && d !== want.shape[j])) {
        throw ruleFailure(node, `internal: the gradient rule returned shape [${gv.shape.join(', ')}] for input ${name} of shape [${want.shape.join(', ')}]`);
      }
      contribute(name, gv);
    });
  }

  const gradName = o.gradName ?? ((n: string) => `grad.${n}`);
  const outputs: { value: Value; name: string }[] = [];
  const gradients: Record<string, string> = {};
  const disconnected: string[] = [];
  for (const w of wrt) {
    let v = total(w);
    const meta = info.get(w)!;
    if (!v) {
      disconnected.push(w);
      v = g.op('Expand', [g.scalar(0, meta.dtype), g.ints(meta.shape)], {}, { name: 'grad/zeros', output: { shape: meta.shape } });
    }
    outputs.push({ value: v, name: gradName(w) });
    gradients[w] = gradName(w);
  }
  const finished = ext.finish({
    outputs,
    keepOutputs: o.keepOutputs === false ? graph.output.filter((x) => x.name === o.loss).map((x) => x.name) : true,
  });
  if (!finished.graph.output.some((x) => x.name === o.loss)) {
    // Any tensor can be a graph output by name: expose the loss.
    const tensorType = { elemType: ONNX_DTYPE[lossInfo.dtype], shape: { dim: lossInfo.shape.map((d) => ({ dimValue: d })) } };
    finished.graph.output.unshift({ name: o.loss, type: { tensorType } });
  }
  return { model: finished, gradients, disconnected, info, differentiated };
}

function makeContext(
  g: RuleContext['g'],
  ext: ModelExtension,
  node: OnnxNode,
  info: Map<string, TensorInfo>,
  outGrads: (Value | null)[],
  needs: (i: number) => boolean,
): RuleContext {
  const opsetOf = g.opset;
  const fail = (reason: string): never => {
    throw ruleFailure(node, reason);
  };
  const name = (list: readonly string[], i: number, what: string) => {
    const n = list[i];
    if (!n) fail(`${what} ${i} is absent`);
    return n!;
  };
  const shapeOf = (n: string) => info.get(n)!.shape;
  return {
    g,
    node,
    attrs: nodeAttrs(node),
    opset: opsetOf,
    inputCount: node.input.length,
    input: (i) => ext.ref(name(node.input, i, 'input')),
    hasInput: (i) => !!node.input[i],
    output: (i) => ext.ref(name(node.output, i, 'output')),
    inShape: (i) => shapeOf(name(node.input, i, 'input')),
    outShape: (i) => shapeOf(name(node.output, i, 'output')),
    constValue: (i) => (node.input[i] ? info.get(node.input[i]!)?.value : undefined),
    gradOut: (i) => outGrads[i] ?? null,
    needs,
    fail,
  };
}
