/**
 * GraphBuilder: writes one ONNX graph from TypeScript. Graph inputs, weights,
 * constants and node outputs are `Value`s (name, dtype, shape where known); the
 * typed helpers in `./ops/` (add, matmul, linear, conv, groupNorm, attention, ...)
 * take Values and emit nodes through `op`, the generic escape hatch. `scope`
 * follows module paths: `param('weight')` inside scope 'down_blocks.0.resnets.0.conv1'
 * is the weight 'down_blocks.0.resnets.0.conv1.weight' of the WeightSource (an
 * external-data span of the original safetensors file), and nodes are named
 * 'down_blocks.0.resnets.0.conv1/Conv'.
 *
 * @example
 *   const g = new GraphBuilder('unet', { opset: 17, weights: safetensorsWeights({ header, location: 'unet/diffusion_pytorch_model.safetensors' }) });
 *   const x = g.input('sample', 'float32', ['batch', 4, 'h', 'w']);          // string dims are symbolic
 *   const h = g.scope('conv_in', () => conv(x, g.param('weight'), g.param('bias'), { pads: 1 }));
 *   const y = g.scope('conv_norm_out', () => silu(groupNorm(h, 32, g.param('weight'), g.param('bias'))));
 *   const z = g.op('Conv', [y, g.param('conv_out.weight'), g.param('conv_out.bias')], { pads: [1, 1, 1, 1] }, { output: { shape: x.shape } });
 *   g.output(z, 'out_sample');
 *   const bytes = encodeModel(g.build());   // load with createSession({ bytes, name: 'unet', externalDataDir: modelRoot })
 */
import { ZipbankError } from '../../errors/index.ts';
import { toAttributes, type Attrs } from './attributes.ts';
import { externalTensor, type InitializerSpec, type WeightSource } from './external.ts';
import { dtypeOfArray, encodeValues, type Values } from './tensor-data.ts';
import { DTYPE_BYTES, ONNX_DTYPE, type DType, type OnnxGraph, type OnnxModel, type OnnxNode, type OnnxTensor, type OnnxValueInfo, type OpsetId } from './types.ts';
import { Value, describeShape, type Shape, type ValueOwner } from './value.ts';

export interface GraphBuilderOptions {
  /** Version of the default ONNX domain the helpers emit for (default 17; 17 to 21 supported). */
  opset?: number;
  /** Where `param()` finds weights. */
  weights?: WeightSource;
  /** Told about conversions the builder inserts (e.g. float16 weights cast to float32). */
  log?: (message: string) => void;
}

export interface OutputSpec {
  /** Default: the dtype of the first input. */
  dtype?: DType;
  /** Default: unknown. */
  shape?: Shape;
}

export interface OpOptions {
  /** Operator domain, e.g. 'com.microsoft' (default: the ONNX domain). */
  domain?: string;
  /** Node name inside the current scope (default: the op type). */
  name?: string;
  output?: OutputSpec;
}

export interface MultiOpOptions extends Omit<OpOptions, 'output'> {
  /** Number of outputs, or their specs. */
  outputs: number | OutputSpec[];
}

export interface BuildOptions {
  /** ModelProto.ir_version (default 10; onnxruntime-node 1.30 accepts up to 13). */
  irVersion?: number;
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  metadata?: Record<string, string>;
  /** Opset versions of non-default domains used by nodes (default 1 for each, e.g. com.microsoft). */
  domains?: Record<string, number>;
}

const DEFAULTS = { opset: 17, irVersion: 10, producerName: 'zipbank', producerVersion: '0.1.0' };

export class GraphBuilder implements ValueOwner {
  readonly opset: number;
  private readonly weights: WeightSource | undefined;
  private readonly log: (message: string) => void;
  private readonly nodes: OnnxNode[] = [];
  private readonly inits: OnnxTensor[] = [];
  private readonly inputs: OnnxValueInfo[] = [];
  private readonly outputs: OnnxValueInfo[] = [];
  private readonly valueNames = new Set<string>();
  private readonly nodeNames = new Set<string>();
  private readonly domains = new Set<string>();
  private readonly params = new Map<string, Value>();
  private readonly constCache = new Map<string, Value>();
  private readonly scopes: string[] = [];
  private casts = 0;

  constructor(
    readonly name: string,
    options: GraphBuilderOptions = {},
  ) {
    this.opset = options.opset ?? DEFAULTS.opset;
    if (this.opset < 17 || this.opset > 21) throw new ZipbankError('onnx.unsupported-opset', { opset: this.opset, supported: '17 to 21' });
    this.weights = options.weights;
    this.log = options.log ?? (() => {});
  }

  /** The current scope path, e.g. 'down_blocks.0.resnets.1' ('' at the top). */
  get scopePath(): string {
    return this.scopes.join('.');
  }

  /** Run `fn` with `name` appended to the scope path (joined with '.'). */
  scope<T>(name: string, fn: () => T): T {
    this.scopes.push(name);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  /** `name` prefixed with the current scope path. */
  scoped(name: string): string {
    return this.scopes.length ? `${this.scopePath}.${name}` : name;
  }

  /** Throw `onnx.invalid-op` for a helper that was given inputs that cannot work. */
  fail(op: string, reason: string): never {
    throw new ZipbankError('onnx.invalid-op', { graph: this.name, op, scope: this.scopePath || '(top)', reason });
  }

  private claimValue(name: string): string {
    if (this.valueNames.has(name)) throw new ZipbankError('onnx.duplicate-name', { graph: this.name, name });
    this.valueNames.add(name);
    return name;
  }

  private freshValue(base: string): string {
    let name = base;
    for (let i = 1; this.valueNames.has(name); i++) name = `${base}_${i}`;
    return this.claimValue(name);
  }

  private freshNode(base: string): string {
    let name = base;
    for (let i = 1; this.nodeNames.has(name); i++) name = `${base}_${i}`;
    this.nodeNames.add(name);
    return name;
  }

  /** A graph input. String dims are symbolic (dim_param), e.g. 'batch'. */
  input(name: string, dtype: DType, shape: Shape): Value {
    this.inputs.push(valueInfo(this.claimValue(name), dtype, shape));
    return new Value(this, name, dtype, shape);
  }

  /** Mark `value` as a graph output, named `name` if given (an Identity node renames it). */
  output(value: Value, name?: string): Value {
    this.own(value, 'output');
    let v = value;
    if (name !== undefined && name !== value.name) {
      this.claimValue(name);
      v = new Value(this, name, value.dtype, value.shape);
      this.nodes.push({ name: this.freshNode(`output/${name}`), opType: 'Identity', input: [value.name], output: [name], attribute: [] });
    }
    this.outputs.push(valueInfo(v.name, v.dtype, v.shape));
    return v;
  }

  /**
   * A value computed outside this builder, e.g. a tensor of the graph this builder
   * extends (see `extend.ts`). Claims the name; adds nothing to the graph.
   */
  external(name: string, dtype: DType, shape: Shape | undefined): Value {
    this.claimValue(name);
    return new Value(this, name, dtype, shape);
  }

  /** Like `external`, for a name passed to `reserve` before. */
  externalReserved(name: string, dtype: DType, shape: Shape | undefined): Value {
    if (!this.valueNames.has(name)) this.valueNames.add(name);
    return new Value(this, name, dtype, shape);
  }

  /** Keep these value and node names free (they exist in a graph this builder extends). */
  reserve(values: Iterable<string>, nodes: Iterable<string> = []): void {
    for (const v of values) if (v) this.valueNames.add(v);
    for (const n of nodes) if (n) this.nodeNames.add(n);
  }

  /** An initializer named `name` within the current scope. */
  initializer(name: string, spec: InitializerSpec): Value {
    const full = this.claimValue(this.scoped(name));
    this.inits.push(makeTensor(full, spec, (reason) => this.fail('initializer', `${full}: ${reason}`)));
    return new Value(this, full, spec.dtype, [...spec.shape]);
  }

  /**
   * A weight from the graph's WeightSource, named `name` within the current scope.
   * Created once per name. `shape` checks the stored shape; `dtype` casts in-graph
   * when the file stores another type (onnxruntime folds the Cast at load).
   */
  param(name: string, options: { shape?: readonly number[]; dtype?: DType } = {}): Value {
    const full = this.scoped(name);
    const key = `${full}|${options.dtype ?? ''}`;
    const cached = this.params.get(key);
    if (cached) return cached;
    const spec = this.weights?.get(full);
    if (!spec) throw new ZipbankError('onnx.missing-weight', { graph: this.name, name: full, source: this.weights?.description ?? '(no weight source)' });
    if (options.shape && (options.shape.length !== spec.shape.length || options.shape.some((d, i) => d !== spec.shape[i]))) {
      throw new ZipbankError('onnx.weight-shape', { name: full, expected: [...options.shape], actual: [...spec.shape], source: this.weights!.description });
    }
    let v = this.params.get(`${full}|`) ?? this.initializer(name, spec);
    this.params.set(`${full}|`, v);
    if (options.dtype && options.dtype !== v.dtype) {
      v = this.op('Cast', [v], { to: ONNX_DTYPE[options.dtype] }, { name: `${name}/Cast`, output: { dtype: options.dtype, shape: v.shape } });
      this.casts++;
    }
    this.params.set(key, v);
    return v;
  }

  /** A constant tensor (an initializer). dtype defaults to the typed array's own, else float32; shape to [length]. */
  constant(values: Values, options: { dtype?: DType; shape?: readonly number[]; name?: string } = {}): Value {
    const dtype = options.dtype ?? dtypeOfArray(values) ?? 'float32';
    const shape = options.shape ?? [values.length];
    const name = this.freshValue(this.scoped(options.name ?? 'const'));
    this.inits.push(makeTensor(name, { dtype, shape, values }, (r) => this.fail('constant', `${name}: ${r}`)));
    return new Value(this, name, dtype, [...shape]);
  }

  /** A scalar (rank 0) constant, shared by every use of the same value and dtype. */
  scalar(value: number, dtype: DType = 'float32'): Value {
    return this.cachedConst(`s|${dtype}|${Object.is(value, -0) ? '-0' : value}`, () => ({ dtype, shape: [], values: [value] }));
  }

  /** A 1-D int64 constant (shapes, axes, indices), shared by every use of the same values. */
  ints(values: readonly number[]): Value {
    return this.cachedConst(`i|${values.join(',')}`, () => ({ dtype: 'int64', shape: [values.length], values }));
  }

  private cachedConst(key: string, make: () => InitializerSpec): Value {
    let v = this.constCache.get(key);
    if (!v) {
      const spec = make();
      const name = this.freshValue(spec.dtype === 'int64' ? 'const_i64' : `const_${spec.dtype}`);
      this.inits.push(makeTensor(name, spec, (r) => this.fail('constant', r)));
      v = new Value(this, name, spec.dtype, [...spec.shape]);
      this.constCache.set(key, v);
    }
    return v;
  }

  /** Emit one node with one output. Missing optional inputs are null. */
  op(type: string, inputs: readonly (Value | null | undefined)[], attrs?: Attrs, options: OpOptions = {}): Value {
    return this.ops(type, inputs, attrs, { ...options, outputs: [options.output ?? {}] })[0]!;
  }

  /** Emit one node with several outputs. */
  ops(type: string, inputs: readonly (Value | null | undefined)[], attrs: Attrs | undefined, options: MultiOpOptions): Value[] {
    for (const v of inputs) if (v) this.own(v, type);
    const nodeName = this.freshNode(this.scopes.length ? `${this.scopePath}/${options.name ?? type}` : options.name ?? type);
    const specs: OutputSpec[] = typeof options.outputs === 'number' ? Array.from({ length: options.outputs }, () => ({})) : options.outputs;
    const firstDtype = inputs.find((v) => v)?.dtype ?? 'float32';
    const outs = specs.map((s, i) => {
      const name = this.freshValue(specs.length === 1 ? nodeName : `${nodeName}:${i}`);
      return new Value(this, name, s.dtype ?? firstDtype, s.shape);
    });
    const domain = options.domain ?? '';
    if (domain !== '' && domain !== 'ai.onnx') this.domains.add(domain);
    const node: OnnxNode = {
      name: nodeName,
      opType: type,
      input: inputs.map((v) => v?.name ?? ''),
      output: outs.map((v) => v.name),
      attribute: toAttributes(attrs),
    };
    if (domain) node.domain = domain;
    this.nodes.push(node);
    return outs;
  }

  private own(v: Value, op: string): void {
    if (v.graph !== this) throw new ZipbankError('onnx.foreign-value', { graph: this.name, value: v.name, op });
  }

  /** The GraphProto (for a model, or a subgraph attribute such as an If branch). */
  buildGraph(): OnnxGraph {
    return {
      name: this.name,
      node: [...this.nodes],
      initializer: [...this.inits],
      input: [...this.inputs],
      output: [...this.outputs],
      valueInfo: [],
    };
  }

  /** The ModelProto; pass it to `encodeModel`. */
  build(options: BuildOptions = {}): OnnxModel {
    if (this.outputs.length === 0) this.fail('build', 'the graph has no outputs; call output()');
    const opsetImport: OpsetId[] = [{ domain: '', version: this.opset }];
    for (const d of this.domains) opsetImport.push({ domain: d, version: options.domains?.[d] ?? 1 });
    if (this.casts) this.log(`${this.name}: ${this.casts} weights are cast in-graph to the requested type (onnxruntime folds the casts when the session loads)`);
    const model: OnnxModel = {
      irVersion: options.irVersion ?? DEFAULTS.irVersion,
      opsetImport,
      producerName: options.producerName ?? DEFAULTS.producerName,
      producerVersion: options.producerVersion ?? DEFAULTS.producerVersion,
      graph: this.buildGraph(),
    };
    if (options.docString) model.docString = options.docString;
    if (options.metadata) model.metadataProps = Object.entries(options.metadata).map(([key, value]) => ({ key, value }));
    return model;
  }

  toString(): string {
    return `GraphBuilder(${this.name}: ${this.nodes.length} nodes, ${this.inits.length} initializers)`;
  }
}

function valueInfo(name: string, dtype: DType, shape: Shape | undefined): OnnxValueInfo {
  const tensorType: NonNullable<OnnxValueInfo['type']>['tensorType'] = { elemType: ONNX_DTYPE[dtype] };
  if (shape) tensorType.shape = { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : typeof d === 'string' ? { dimParam: d } : {})) };
  return { name, type: { tensorType } };
}

function makeTensor(name: string, spec: InitializerSpec, fail: (reason: string) => never): OnnxTensor {
  if (spec.external) return externalTensor(name, spec.dtype, spec.shape, spec.external);
  const count = spec.shape.reduce((a, b) => a * b, 1);
  const raw = spec.raw ?? encodeValues(spec.values!, spec.dtype);
  if (raw.byteLength !== count * DTYPE_BYTES[spec.dtype]) {
    fail(`${raw.byteLength} bytes do not make a ${spec.dtype} tensor of shape ${describeShape(spec.shape)}`);
  }
  return { name, dataType: ONNX_DTYPE[spec.dtype], dims: [...spec.shape], rawData: raw };
}
