/**
 * Inference sessions: create one from a model file, model bytes or a built
 * `OnnxModel` (external data resolved against the model's folder, or against
 * `externalDataDir` for bytes), check feeds against the model's inputs, run, and
 * turn onnxruntime failures into coded errors that name the model and the node.
 *
 * @example
 *   const s = await createSession({ path: 'ddpm.onnx' }, { provider: 'cpu' });
 *   const out = await s.run({ input: tensor('float32', x, [8, 1, 28, 28]), 'input.1': tensor('int64', t, [8, 1]) });
 *   asFloat32(out.output!);
 */
import { basename } from 'node:path';
import { ZipbankError } from '../../errors/index.ts';
import { encodeModel } from '../onnx/proto.ts';
import type { OnnxModel } from '../onnx/types.ts';
import { defaultProvider, type Provider } from './device.ts';
import { ortCreateSession, type OrtSession, type OrtSessionOptions } from './ort.ts';
import { fromOrtTensor, toOrtTensor, type HostTensor } from './tensor.ts';

/** Where a model comes from. `name` is used in messages and cache keys. */
export type ModelSource =
  | { path: string; name?: string }
  | { bytes: Uint8Array; name: string; externalDataDir?: string }
  | { model: OnnxModel; name: string; externalDataDir?: string };

export interface SessionOptions {
  /** Default: the process-wide choice for ZIPBANK_DEVICE (see `defaultProvider`). */
  provider?: Provider;
  /** Graph optimisation level. Default 'all'. */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Threads inside one op; 0 lets onnxruntime choose (one per physical core). Default 0. */
  intraOpThreads?: number;
  /** Reuse one memory plan across runs with the same shapes. Default true. */
  memoryPattern?: boolean;
  /** onnxruntime's CPU memory arena. Default true. */
  cpuArena?: boolean;
  /**
   * Pre-pack constant MatMul weights at load (faster CPU matrix products, but a second
   * copy of the weights in memory). Default true; training graphs on big models turn it off.
   */
  prepack?: boolean;
  /** onnxruntime's own log level. Default 'fatal': its errors come back as coded errors; 'warning' shows its diagnostics. */
  logLevel?: 'verbose' | 'info' | 'warning' | 'error' | 'fatal';
}

export const SESSION_DEFAULTS = {
  optimization: 'all',
  intraOpThreads: 0,
  memoryPattern: true,
  cpuArena: true,
  prepack: true,
  logLevel: 'fatal',
} satisfies Required<Omit<SessionOptions, 'provider'>>;

const LOG_LEVELS = { verbose: 0, info: 1, warning: 2, error: 3, fatal: 4 } as const;

export interface IoInfo {
  name: string;
  /** Element type, e.g. 'float32'. */
  dtype: string;
  /** Static dims as numbers, symbolic ones by name. */
  shape: (number | string)[];
}

export type Feeds = Record<string, HostTensor>;
export type Outputs = Record<string, HostTensor>;

export function sourceName(source: ModelSource): string {
  return source.name ?? basename((source as { path: string }).path);
}

/** Create a session (not cached; see SessionCache). */
export async function createSession(source: ModelSource, options: SessionOptions = {}): Promise<Session> {
  const o = { ...SESSION_DEFAULTS, ...options };
  const provider = options.provider ?? (await defaultProvider()).provider;
  const name = sourceName(source);
  const ortOptions: OrtSessionOptions = {
    executionProviders: [provider],
    graphOptimizationLevel: o.optimization,
    intraOpNumThreads: o.intraOpThreads,
    enableMemPattern: o.memoryPattern,
    enableCpuMemArena: o.cpuArena,
    logSeverityLevel: LOG_LEVELS[o.logLevel],
  };
  let model: string | Uint8Array;
  // onnxruntime-node passes extra.session.* on as the session config entries "session.*".
  const config: Record<string, string> = {};
  if (!o.prepack) config.disable_prepacking = '1';
  if ('path' in source) model = source.path;
  else {
    model = 'bytes' in source ? source.bytes : encodeModel(source.model);
    if (source.externalDataDir) config.model_external_initializers_file_folder_path = source.externalDataDir;
  }
  if (Object.keys(config).length) ortOptions.extra = { session: config };
  let native: OrtSession;
  try {
    native = await ortCreateSession(model, ortOptions);
  } catch (e) {
    throw new ZipbankError('runtime.session-failed', { model: name, provider, reason: (e as Error).message }, { cause: e });
  }
  return new Session(native, name, provider);
}

/** A loaded model on one execution provider. */
export class Session {
  readonly inputs: readonly IoInfo[];
  readonly outputs: readonly IoInfo[];

  constructor(
    private readonly native: OrtSession,
    readonly name: string,
    readonly provider: Provider,
  ) {
    const info = (m: OrtSession['inputMetadata'][number]): IoInfo =>
      m.isTensor ? { name: m.name, dtype: m.type, shape: [...m.shape] } : { name: m.name, dtype: 'non-tensor', shape: [] };
    this.inputs = native.inputMetadata.map(info);
    this.outputs = native.outputMetadata.map(info);
  }

  /** Run with every input fed; returns the requested outputs (default all). */
  async run(feeds: Feeds, outputs?: readonly string[]): Promise<Outputs> {
    this.check(feeds);
    const ortFeeds = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, toOrtTensor(t)]));
    const wanted = outputs ?? this.outputs.map((o) => o.name);
    for (const o of wanted) {
      if (!this.outputs.some((x) => x.name === o)) {
        throw new ZipbankError('runtime.unknown-name', { model: this.name, kind: 'output', name: o, known: this.outputs.map((x) => x.name) });
      }
    }
    let result: Awaited<ReturnType<OrtSession['run']>>;
    try {
      result = await this.native.run(ortFeeds, wanted);
    } catch (e) {
      throw runError(this.name, this.provider, e);
    }
    return Object.fromEntries(wanted.map((k) => [k, fromOrtTensor(result[k] as Parameters<typeof fromOrtTensor>[0], k)]));
  }

  private check(feeds: Feeds): void {
    for (const k of Object.keys(feeds)) {
      if (!this.inputs.some((i) => i.name === k)) {
        throw new ZipbankError('runtime.unknown-name', { model: this.name, kind: 'input', name: k, known: this.inputs.map((i) => i.name) });
      }
    }
    for (const input of this.inputs) {
      const t = feeds[input.name];
      if (!t) throw new ZipbankError('runtime.bad-input', { model: this.name, input: input.name, reason: 'it is not fed' });
      if (t.dtype !== input.dtype) {
        throw new ZipbankError('runtime.bad-input', { model: this.name, input: input.name, reason: `it is ${t.dtype}, the model takes ${input.dtype}` });
      }
      const dimsOk = t.dims.length === input.shape.length && input.shape.every((d, i) => typeof d !== 'number' || d === t.dims[i]);
      if (!dimsOk) {
        throw new ZipbankError('runtime.bad-input', {
          model: this.name,
          input: input.name,
          reason: `it has shape [${t.dims.join(', ')}], the model takes [${input.shape.join(', ')}]`,
        });
      }
    }
  }

  async dispose(): Promise<void> {
    await this.native.release();
  }
}

/** Run a session (same as `session.run`). */
export function run(session: Session, feeds: Feeds, outputs?: readonly string[]): Promise<Outputs> {
  return session.run(feeds, outputs);
}

/** A coded error from an onnxruntime run failure, naming the failing node when onnxruntime does. */
export function runError(model: string, provider: Provider, e: unknown): ZipbankError {
  const message = e instanceof Error ? e.message : String(e);
  const m = /while running (\S+) node\. Name:'([^']*)' Status Message: ([\s\S]*)/.exec(message);
  const details = m
    ? { model, provider, op: m[1]!, node: m[2]!, reason: m[3]!.trim() }
    : { model, provider, op: undefined, node: undefined, reason: message.trim() };
  return new ZipbankError('runtime.run-failed', details, { cause: e });
}
