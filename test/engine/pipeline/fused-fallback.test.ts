/** A provider that cannot load the fused-attention UNet gets the plain-ONNX graph, and says so. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeRandomModel } from '../../../src/engine/models/random.ts';
import { DiffusionPipeline } from '../../../src/engine/pipeline/text-to-image.ts';
import { SessionCache, type ModelSource, type Session, type SessionOptions } from '../../../src/engine/runtime/index.ts';

/** A cache that refuses any model with a com.microsoft node, as a provider lacking the kernel would. */
class NoFusedKernels extends SessionCache {
  refused = 0;
  override async get(source: ModelSource, options: SessionOptions = {}): Promise<Session> {
    if ('model' in source && source.model.graph.node.some((n) => n.domain === 'com.microsoft')) {
      this.refused++;
      throw new Error('Could not find an implementation for MultiHeadAttention(1) node');
    }
    return super.get(source, options);
  }
}

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'zipbank-fused-'));
  await writeRandomModel({ preset: 'tiny-sd15', out: root, seed: 2 });
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('fused attention fallback', () => {
  it('renders with plain attention and logs why', async () => {
    const cache = new NoFusedKernels();
    const logs: string[] = [];
    const pipe = await DiffusionPipeline.load(root, { device: 'cpu', cache, fusedAttention: true, log: (_level, m) => logs.push(m) });
    const plain = await DiffusionPipeline.load(root, { device: 'cpu', fusedAttention: false, log: () => {} });
    try {
      const a = await pipe.generate({ prompt: 'a corgi', seed: 3, steps: 2 });
      const b = await plain.generate({ prompt: 'a corgi', seed: 3, steps: 2 });
      expect(cache.refused).toBe(1);
      expect(logs.join('\n')).toMatch(/could not load the fused-attention UNet.*using plain ONNX attention/);
      expect(Buffer.from(a.images[0]!.data).equals(Buffer.from(b.images[0]!.data))).toBe(true);
    } finally {
      pipe.dispose();
      plain.dispose();
    }
  });
});
