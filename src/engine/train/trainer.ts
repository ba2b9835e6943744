/**
 * Training any of our ONNX graphs: the forward graph with a scalar loss, its
 * trainable weights lifted to inputs, and the gradient of the loss with respect to
 * each of them (reverse-mode autodiff, standard ONNX ops, so it runs on
 * onnxruntime's inference providers). The host keeps the weights as Float32Arrays
 * and updates them with Adam; checkpoints hold weights, optimiser state and the
 * step, so a run resumes exactly where it stopped.
 *
 * `compute` and `apply` are separate so a caller can add gradients the graph does
 * not produce (e.g. scatter the gradient of gathered token embeddings into the
 * embedding table) before the update.
 *
 * @example
 *   const t = await GraphTrainer.create({ model, trainable: new Map([['w', w0]]), inputShapes: { x: [8, 3] }, adam: { lr: 1e-3 } });
 *   for (let s = 0; s < 100; s++) await t.step({ x: tensor('float32', xs, [8, 3]) });
 *   await saveCheckpoint('run.ckpt.safetensors', t.checkpoint({ epoch: 1 }));
 */
import { buildGradientGraph } from '../onnx/autodiff/index.ts';
import { liftInitializers } from '../onnx/extend.ts';
import type { OnnxModel } from '../onnx/types.ts';
import { asFloat32, createSession, tensor, type Feeds, type Outputs, type Session, type SessionOptions } from '../runtime/index.ts';
import { Adam, type AdamOptions, type AdamState, type SparseRows } from './adam.ts';
import type { Checkpoint } from './checkpoint.ts';

export interface GraphTrainerOptions {
  /** Forward graph; every trainable weight is an initializer of it (its stored values are ignored). */
  model: OnnxModel;
  /** Scalar loss tensor. Default 'loss'. */
  loss?: string;
  /** Initializer name -> initial values (copied). */
  trainable: ReadonlyMap<string, Float32Array>;
  /** Dims of the graph inputs whose declared dims are symbolic. */
  inputShapes: Record<string, readonly number[]>;
  /** Graph inputs (not weights) whose gradient the caller wants too, e.g. gathered embeddings. */
  inputGradients?: readonly string[];
  adam: AdamOptions;
  /** Session options; default: no weight pre-packing (weights change every step). */
  session?: SessionOptions;
  /** Folder external-data initializers point into. */
  externalDataDir?: string;
  /** Graph name for messages. */
  name?: string;
}

export interface StepResult {
  loss: number;
  /** Every output of the graph (model outputs, loss, gradients). */
  outputs: Outputs;
}

export class GraphTrainer {
  /** Current weights by initializer name (updated in place by `apply`). */
  readonly params: Map<string, Float32Array>;
  readonly shapes: Map<string, number[]>;
  readonly optimizer: Adam;
  /** Trainable name -> gradient output name. */
  readonly gradients: Record<string, string>;
  /** Trainable weights the loss does not reach (their gradient is zero). */
  readonly disconnected: string[];
  /** Number of Adam updates done (restored from checkpoints). */
  updates = 0;

  private constructor(
    private readonly session: Session,
    private readonly loss: string,
    params: Map<string, Float32Array>,
    shapes: Map<string, number[]>,
    gradients: Record<string, string>,
    disconnected: string[],
    optimizer: Adam,
    readonly graph: OnnxModel,
  ) {
    this.params = params;
    this.shapes = shapes;
    this.gradients = gradients;
    this.disconnected = disconnected;
    this.optimizer = optimizer;
  }

  static async create(o: GraphTrainerOptions): Promise<GraphTrainer> {
    const loss = o.loss ?? 'loss';
    const names = [...o.trainable.keys()];
    const { model: lifted, lifted: tensors } = liftInitializers(o.model, names);
    const shapes = new Map<string, number[]>();
    const params = new Map<string, Float32Array>();
    for (const t of tensors) {
      const dims = t.dims.map(Number);
      const values = o.trainable.get(t.name!)!;
      const n = dims.reduce((a, b) => a * b, 1);
      if (values.length !== n) throw new RangeError(`GraphTrainer: ${t.name} has ${values.length} values, the graph expects [${dims.join(', ')}] = ${n}`);
      shapes.set(t.name!, dims);
      params.set(t.name!, values.slice());
    }
    const inputShapes: Record<string, readonly number[]> = { ...o.inputShapes };
    for (const [n, d] of shapes) inputShapes[n] = d;
    const grad = buildGradientGraph(lifted, { loss, wrt: [...names, ...(o.inputGradients ?? [])], inputShapes });
    const session = await createSession(
      { model: grad.model, name: o.name ?? `${o.model.graph.name}-train`, ...(o.externalDataDir ? { externalDataDir: o.externalDataDir } : {}) },
      { prepack: false, ...o.session },
    );
    return new GraphTrainer(session, loss, params, shapes, grad.gradients, grad.disconnected, new Adam(o.adam), grad.model);
  }

  /** Feeds for the weights (no copies: onnxruntime reads the arrays). */
  private weightFeeds(): Feeds {
    const f: Feeds = {};
    for (const [n, v] of this.params) f[n] = tensor('float32', v, this.shapes.get(n)!);
    return f;
  }

  /** Loss, outputs and gradients at the current weights; nothing is updated. */
  async compute(feeds: Feeds): Promise<{ loss: number; outputs: Outputs; grads: Map<string, Float32Array> }> {
    const outputs = await this.session.run({ ...feeds, ...this.weightFeeds() });
    const l = asFloat32(outputs[this.loss]!)[0]!;
    if (!Number.isFinite(l)) throw new RangeError(`GraphTrainer: the loss is ${l} at step ${this.updates + 1}; lower the learning rate or check the inputs`);
    const grads = new Map<string, Float32Array>();
    for (const [n, out] of Object.entries(this.gradients)) {
      const g = outputs[out];
      if (g) grads.set(n, asFloat32(g));
    }
    return { loss: l, outputs, grads };
  }

  /** One Adam update with these gradients (graph weights and any extra parameters given; `sparse`: see Adam.step). */
  apply(grads: ReadonlyMap<string, Float32Array>, lr?: number, extra?: ReadonlyMap<string, Float32Array>, sparse?: ReadonlyMap<string, SparseRows>): void {
    const params = extra ? new Map([...this.params, ...extra]) : this.params;
    this.optimizer.step(params, grads, lr, sparse);
    this.updates++;
  }

  /** compute + apply. */
  async step(feeds: Feeds, lr?: number): Promise<StepResult> {
    const r = await this.compute(feeds);
    this.apply(r.grads, lr);
    return { loss: r.loss, outputs: r.outputs };
  }

  /** Weights, optimiser state and step (plus caller metadata and extra parameters). */
  checkpoint(meta: Record<string, unknown> = {}, extra?: ReadonlyMap<string, { values: Float32Array; shape: number[] }>): Checkpoint {
    const params = new Map<string, { values: Float32Array; shape: number[] }>();
    for (const [n, v] of this.params) params.set(n, { values: v, shape: this.shapes.get(n)! });
    for (const [n, v] of extra ?? []) params.set(n, v);
    return { step: this.updates, params, adam: this.optimizer.save(), meta };
  }

  /** Continue from a checkpoint: weights (by name, shapes checked), Adam state, step. */
  restore(c: Checkpoint): void {
    for (const [n, v] of this.params) {
      const saved = c.params.get(n);
      if (!saved) throw new RangeError(`GraphTrainer: the checkpoint has no weight ${n}`);
      if (saved.values.length !== v.length) throw new RangeError(`GraphTrainer: the checkpoint's ${n} has ${saved.values.length} values, the graph ${v.length}`);
      v.set(saved.values);
    }
    this.optimizer.restore(c.adam as AdamState);
    this.updates = c.step;
  }

  async close(): Promise<void> {
    await this.session.dispose();
  }
}
