/**
 * `zipbank train` end to end on a seeded tiny SD 1.5 model: a subject LoRA from
 * three images, written with its references and sidecar, loadable for the model;
 * usage errors say what is missing.
 */
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.ts';
import { encodeImage } from '../../../src/engine/image/index.ts';
import { writeRandomModel } from '../../../src/engine/models/random.ts';
import { readTiny } from '../../engine/lora/apply-support.ts';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

let dir: string;
let model: string;
const images: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'zipbank-cli-train-'));
  model = path.join(dir, 'model');
  await writeRandomModel({ preset: 'tiny-sd15', out: model, seed: 4 });
  for (let k = 0; k < 3; k++) {
    const data = new Uint8Array(32 * 32 * 3);
    for (let i = 0; i < 32 * 32; i++) data.set([200, 40 + 60 * k, 30], i * 3);
    const file = path.join(dir, `ref-${k}.png`);
    writeFileSync(file, await encodeImage({ width: 32, height: 32, data }));
    images.push(file);
  }
}, 60_000);

describe('zipbank train', () => {
  it('trains a subject LoRA and writes it with its references and instance prompt', async () => {
    const out = path.join(dir, 'subject.safetensors');
    const r = await run('train', '--model', model, '--kind', 'subject', '--images', ...images, '--prompt', 'a sks dog', '--steps', '4', '--rank', '4', '--width', '32', '--height', '32', '--out', out);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/step 4\/4 loss/);
    expect(r.out).toMatch(/trained after 4 steps/);
    const lora = await readTiny('tiny-sd15', out);
    expect(lora.metadata.zipbank_instance_prompt).toBe('a sks dog');
    expect(lora.modules.every((m) => m.rank === 4)).toBe(true);
    expect(readdirSync(path.join(dir, 'subject.references')).sort()).toEqual(['0-ref-0.png', '1-ref-1.png', '2-ref-2.png']);
    expect(JSON.parse(readFileSync(path.join(dir, 'subject.json'), 'utf8'))).toMatchObject({ kind: 'subject', prompt: 'a sks dog', steps: 4, stopReason: 'max-steps' });
  }, 120_000);

  it('says what is missing or wrong', async () => {
    expect((await run('train', '--model', model, '--kind', 'subject', '--prompt', 'a sks dog', '--out', path.join(dir, 'x.safetensors'))).err).toMatch(/--images is required/);
    expect((await run('train', '--model', model, '--kind', 'thing', '--images', images[0]!, '--prompt', 'p', '--out', path.join(dir, 'x.safetensors'))).err).toMatch(/--kind must be subject or style/);
    expect((await run('train', '--model', model, '--kind', 'style', '--images', images[0]!, '--prompt', 'p', '--out', path.join(dir, 'x.bin'))).err).toMatch(/\.safetensors file/);
  });
});
