/** Test support: run a built graph on the CPU provider with float32 feeds. */
import { GraphBuilder, type Value } from '../../../src/engine/onnx/index.ts';
import { asFloat32, createSession, tensor, type HostTensor } from '../../../src/engine/runtime/index.ts';
import type { Nd } from './reference.ts';

export interface RunResult {
  dims: number[];
  data: Float32Array;
}

/** Mark `outputs` as graph outputs out0, out1, ..., run on CPU, return them in order. */
export async function runGraph(g: GraphBuilder, outputs: Value[], feeds: Record<string, Nd | HostTensor>): Promise<RunResult[]> {
  const names = outputs.map((v, i) => g.output(v, `out${i}`).name);
  const session = await createSession({ model: g.build(), name: g.name }, { provider: 'cpu' });
  try {
    const hostFeeds = Object.fromEntries(
      Object.entries(feeds).map(([k, v]) => [k, 'dtype' in v ? v : tensor('float32', Float32Array.from(v.data), v.shape)]),
    );
    const out = await session.run(hostFeeds);
    return names.map((n) => ({ dims: [...out[n]!.dims], data: asFloat32(out[n]!) }));
  } finally {
    await session.dispose();
  }
}
