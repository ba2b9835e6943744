/**
 * GraphTrainer: a small two-layer regression trained with Adam through our
 * autodiff (loss falls far), and checkpoint + resume continues bit-for-bit like an
 * uninterrupted run.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GraphBuilder, add, gemm, mul, reduceMean, sub, tanh } from '../../../src/engine/onnx/index.ts';
import { tensor } from '../../../src/engine/runtime/index.ts';
import { createRandom } from '../../../src/engine/pipeline/random.ts';
import { GraphTrainer } from '../../../src/engine/train/trainer.ts';
import { loadCheckpoint, saveCheckpoint } from '../../../src/engine/train/checkpoint.ts';

const B = 16;
function model() {
  const g = new GraphBuilder('mlp');
  const x = g.input('x', 'float32', [B, 3]);
  const y = g.input('y', 'float32', [B, 1]);
  const zeros = (n: number) => new Float32Array(n);
  const w1 = g.initializer('w1', { dtype: 'float32', shape: [3, 8], values: zeros(24) });
  const b1 = g.initializer('b1', { dtype: 'float32', shape: [8], values: zeros(8) });
  const w2 = g.initializer('w2', { dtype: 'float32', shape: [8, 1], values: zeros(8) });
  const h = tanh(gemm(x, w1, b1));
  const p = gemm(h, w2);
  const d = sub(p, y);
  g.output(reduceMean(mul(d, d), [0, 1], false), 'loss');
  return g.build();
}

function init(seed: number) {
  const r = createRandom(seed);
  const normal = (n: number, s: number) => Float32Array.from(r.normals(n), (v) => v * s);
  return new Map([
    ['w1', normal(24, 0.5)],
    ['b1', normal(8, 0.1)],
    ['w2', normal(8, 0.5)],
  ]);
}

function batch(step: number) {
  const r = createRandom(1000 + step);
  const x = r.normals(B * 3);
  const y = new Float32Array(B);
  for (let i = 0; i < B; i++) y[i] = Math.sin(x[i * 3]!) + 0.5 * x[i * 3 + 1]! * x[i * 3 + 2]!;
  return { x: tensor('float32', x, [B, 3]), y: tensor('float32', y, [B, 1]) };
}

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('GraphTrainer', () => {
  it('trains a small network: the loss falls to a fraction of its start', async () => {
    const t = await GraphTrainer.create({ model: model(), trainable: init(1), inputShapes: {}, adam: { lr: 0.03 } });
    const losses: number[] = [];
    for (let s = 0; s < 300; s++) losses.push((await t.step(batch(s))).loss);
    await t.close();
    const first = losses.slice(0, 10).reduce((a, b) => a + b) / 10;
    const last = losses.slice(-20).reduce((a, b) => a + b) / 20;
    expect(last).toBeLessThan(first * 0.2);
    expect(t.updates).toBe(300);
    expect(t.disconnected).toEqual([]);
  });

  it('checkpoint + resume continues exactly like an uninterrupted run', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'zipbank-train-'));
    dirs.push(dir);
    const straight = await GraphTrainer.create({ model: model(), trainable: init(2), inputShapes: {}, adam: { lr: 0.01 } });
    for (let s = 0; s < 20; s++) await straight.step(batch(s));

    const first = await GraphTrainer.create({ model: model(), trainable: init(2), inputShapes: {}, adam: { lr: 0.01 } });
    for (let s = 0; s < 10; s++) await first.step(batch(s));
    const path = join(dir, 'mlp.ckpt.safetensors');
    await saveCheckpoint(path, first.checkpoint({ next: 10 }));
    await first.close();
    await expect(stat(`${path}.partial`)).rejects.toThrow();

    const c = await loadCheckpoint(path);
    expect(c?.step).toBe(10);
    expect(c?.meta).toEqual({ next: 10 });
    const resumed = await GraphTrainer.create({ model: model(), trainable: init(99), inputShapes: {}, adam: { lr: 0.01 } });
    resumed.restore(c!);
    for (let s = 10; s < 20; s++) await resumed.step(batch(s));
    for (const [n, v] of straight.params) expect(Array.from(resumed.params.get(n)!)).toEqual(Array.from(v));
    expect(resumed.updates).toBe(20);
    await straight.close();
    await resumed.close();
  });

  it('has no checkpoint where none was written', async () => {
    expect(await loadCheckpoint(join(tmpdir(), 'zipbank-no-such-checkpoint.safetensors'))).toBeUndefined();
  });
});
