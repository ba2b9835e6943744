import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.ts';
import { mergeRecord } from '../../../src/engine/lora/merge.ts';
import { readMergers } from '../../../src/engine/lora/mergers.ts';
import { writeRandomModel } from '../../../src/engine/models/random.ts';
import { decodeModel } from '../../../src/engine/onnx/proto.ts';
import { readTiny, tinyLora } from '../../engine/lora/apply-support.ts';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

let model: string;
let subject: string;
let style: string;

beforeAll(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'zipbank-cli-zip-'));
  model = path.join(dir, 'model');
  await writeRandomModel({ preset: 'tiny-sd15', out: model, seed: 2 });
  subject = (await tinyLora('tiny-sd15', { rank: 4, seed: 31, alpha: 8 })).path;
  style = (await tinyLora('tiny-sd15', { rank: 4, seed: 32, alpha: 8 })).path;
}, 60_000);

describe('zipbank zip', () => {
  it('writes mergers, the zipped LoRA, stats, plots, references and the training graph', async () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'zipbank-cli-zip-out-')), 'zip');
    const r = await run('zip', '--model', model, '--subject', subject, '--style', style, '--subject-prompt', 'a photo of sks dog', '--steps', '5', '--seed', '4', '--reference-steps', '2', '--save-graph', '--out', out);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/optimizing 5\/5/);
    expect(r.out).toMatch(/^subject: .* prompt "a photo of sks dog", references generated$/m);
    expect(r.out).toMatch(/mergers moved: subject max \|m-1\| = /);
    const stats = JSON.parse(readFileSync(path.join(out, 'stats.json'), 'utf8'));
    expect(stats).toMatchObject({ method: 'ziplora', steps: 5, maxSteps: 5, stopReason: 'max-steps', seed: 4 });
    expect(stats.loss).toHaveLength(5);
    expect(stats.sparsity.subject.map((p: { fraction: number }) => p.fraction)).toEqual([0.5, 0.8, 0.9, 0.95]);
    const mergers = await readMergers(path.join(out, 'mergers.safetensors'));
    expect(mergers.roles).toEqual(['subject', 'style']);
    expect(mergers.vectors.size).toBe(stats.layers.length);
    const zipped = await readTiny('tiny-sd15', path.join(out, 'zipped.safetensors'));
    expect(mergeRecord(zipped.metadata)).toMatchObject({ method: 'ziplora' });
    expect(new Set(zipped.modules.map((m) => m.rank))).toEqual(new Set([8]));
    for (const f of ['loss.png', 'cosine.png', 'sparsity.png', 'references/subject-0.png', 'references/style-0.png']) {
      expect(readFileSync(path.join(out, f)).subarray(1, 4).toString()).toBe('PNG');
    }
    const graph = decodeModel(readFileSync(path.join(out, 'ziplora.onnx')));
    expect(graph.graph.output.some((o) => o.name.startsWith('grad.lora.1.'))).toBe(true);
  }, 240_000);

  it('a direct merge runs no optimisation', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'zipbank-cli-zip-direct-'));
    const r = await run('zip', '--model', model, '--subject', subject, '--style', style, '--method', 'direct', '--reference-steps', '1', '--out', out);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(readFileSync(path.join(out, 'stats.json'), 'utf8'))).toMatchObject({ method: 'direct', steps: 0 });
    expect(existsSync(path.join(out, 'zipped.safetensors'))).toBe(true);
  }, 120_000);

  it('explains missing and bad options', async () => {
    expect((await run('zip', '--subject', subject)).err).toMatch(/--style is required/);
    expect((await run('zip', '--model', model, '--subject', subject, '--style', style, '--out', 'x', '--method', 'avg')).err).toMatch(/--method must be ziplora or direct/);
  });
});
