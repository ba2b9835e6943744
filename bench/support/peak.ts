/**
 * onnxruntime's own throughput on a large square MatMul on this machine: the
 * "measured peak" that model step times are compared against (FLOPs/s ratio).
 * With `constantB` the right-hand matrix is an initializer, which onnxruntime
 * pre-packs once at session creation as it does model weights.
 */
import { GraphBuilder } from '../../src/engine/onnx/builder.ts';
import { matmul } from '../../src/engine/onnx/ops/math.ts';
import { createSession, tensor, type Provider } from '../../src/engine/runtime/index.ts';
import { randn } from '../../src/engine/pipeline/random.ts';

export interface PeakResult {
  n: number;
  seconds: number;
  flopsPerSecond: number;
}

export async function matmulPeak(options: { n?: number; runs?: number; provider?: Provider; threads?: number; constantB?: boolean } = {}): Promise<PeakResult> {
  const n = options.n ?? 2048;
  const g = new GraphBuilder('peak');
  const a = g.input('a', 'float32', [n, n]);
  const b = options.constantB ? g.constant(randn(2, n * n), { shape: [n, n], name: 'b' }) : g.input('b', 'float32', [n, n]);
  g.output(matmul(a, b), 'c');
  const session = await createSession({ model: g.build(), name: `matmul${n}` }, { provider: options.provider ?? 'cpu', intraOpThreads: options.threads ?? 0 });
  try {
    const feeds = { a: tensor('float32', randn(1, n * n), [n, n]), ...(options.constantB ? {} : { b: tensor('float32', randn(2, n * n), [n, n]) }) };
    await session.run(feeds);
    let best = Infinity;
    for (let i = 0; i < (options.runs ?? 5); i++) {
      const t0 = performance.now();
      await session.run(feeds);
      best = Math.min(best, (performance.now() - t0) / 1000);
    }
    return { n, seconds: best, flopsPerSecond: (2 * n ** 3) / best };
  } finally {
    session.dispose();
  }
}
