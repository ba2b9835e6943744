/**
 * `zipbank render` with a tiny SD 1.5-shaped model written once into a temp folder:
 * the files it writes, what it prints, and its refusals.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/cli/main.ts';
import { writeRandomModel } from '../../../src/engine/models/random.ts';
import { fixture } from '../../support/paths.ts';
import { tinyLora } from '../../engine/lora/apply-support.ts';

vi.mock('../../../src/cli/commands/index.ts', () => ({
  loadCommands: async () => [(await import('../../../src/cli/commands/render.ts')).default],
}));

let root: string;
let model: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'zipbank-render-'));
  model = join(root, 'tiny');
  await writeRandomModel({ preset: 'tiny-sd15', out: model, seed: 2 });
});
afterAll(() => rm(root, { recursive: true, force: true }));

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['render', ...argv], { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('zipbank render', () => {
  it('writes one PNG per image and a grid, and prints names, provider, seed and step time', async () => {
    const out = join(root, 'out');
    const r = await run('--model', model, '--prompt', 'a corgi', '--seed', '5', '--steps', '2', '--count', '2', '--device', 'cpu', '--out', out);
    expect(r.code).toBe(0);
    expect((await readdir(out)).sort()).toEqual(['grid.png', 'seed-5.png', 'seed-6.png']);
    expect(r.out).toContain('provider cpu, float32, 64x64, PNDMScheduler, 2 steps, guidance 7.5');
    expect(r.out).toContain('seed 5 (image i uses seed 5 + i: 5, 6)');
    for (const f of ['seed-5.png', 'seed-6.png', 'grid.png']) expect(r.out).toContain(`wrote ${join(out, f)}`);
    expect(r.out).toMatch(/time: [\d.]+ ms per step \(3 UNet runs/);
    expect(r.err).toContain('step 1/2');
    expect(r.err).toContain('step 2/2');
    const grid = await sharp(await readFile(join(out, 'grid.png'))).metadata();
    expect([grid.width, grid.height]).toEqual([128, 64]);
    const one = await sharp(await readFile(join(out, 'seed-6.png'))).metadata();
    expect([one.width, one.height]).toEqual([64, 64]);
  });

  it('takes the scheduler, size, guidance and negative prompt', async () => {
    const out = join(root, 'out2');
    const r = await run('--model', model, '--prompt', 'a corgi', '--negative', 'blurry', '--seed', '1', '--steps', '1', '--guidance', '3', '--width', '32', '--height', '48', '--scheduler', 'euler-a', '--device', 'cpu', '--out', out);
    expect(r.code).toBe(0);
    expect(r.out).toContain('32x48, euler-a, 1 steps, guidance 3');
    expect(await readdir(out)).toEqual(['seed-1.png']);
  });

  it.each([
    { name: 'a folder that is not a model', args: () => ['--model', join(root, 'missing'), '--prompt', 'x', '--out', root], text: 'model_index.json' },
    { name: 'a size off the size step', args: () => ['--model', model, '--prompt', 'x', '--width', '30', '--out', root], text: 'width 30 is not usable: it must be a positive multiple of 4' },
    { name: 'an unknown scheduler', args: () => ['--model', model, '--prompt', 'x', '--scheduler', 'warp', '--out', root], text: 'unknown scheduler "warp"' },
    { name: 'too many images', args: () => ['--model', model, '--prompt', 'x', '--count', '9', '--out', root], text: 'count = 9 is invalid' },
  ])('refuses $name with a clear message', async ({ args, text }) => {
    const r = await run(...args(), '--device', 'cpu');
    expect(r.code).toBe(1);
    expect(r.err).toContain(text);
  });

  it('renders with the bundled model (models/world) when no --model is given', async () => {
    const dir = join(root, 'bundled');
    const r = await run('--prompt', 'a dog on the beach, cartoon style', '--steps', '2', '--seed', '3', '--count', '2', '--device', 'cpu', '--out', dir);
    expect(r.code, r.err).toBe(0);
    const grid = await sharp(join(dir, 'grid.png')).metadata();
    expect(grid.width).toBeGreaterThanOrEqual(128);
    expect(grid.height).toBe(64);
  }, 120_000);

  it.each([
    { args: ['--model', 'm', '--out', 'o'], text: '--prompt is required' },
    { args: ['--model', 'm', '--prompt', 'x'], text: '--out is required' },
    { args: ['--model', 'm', '--prompt', 'x', '--out', 'o', '--device', 'tpu'], text: '--device must be one of' },
  ])('usage error: $text', async ({ args, text }) => {
    const r = await run(...args);
    expect(r.code).toBe(2);
    expect(r.err).toContain(text);
  });
});

describe('zipbank render --lora', () => {
  it('applies LoRAs with weights, prints them, and changes the image', async () => {
    const a = await tinyLora('tiny-sd15', { rank: 4, alpha: 16, targets: 'all', seed: 1, components: ['unet', 'text_encoder'] });
    const b = await tinyLora('tiny-sd15', { rank: 2, alpha: 8, seed: 2 }, 'peft');
    const args = ['--model', model, '--prompt', 'a corgi', '--seed', '3', '--steps', '1', '--device', 'cpu'];
    const plain = await run(...args, '--out', join(root, 'plain'));
    const r = await run(...args, '--lora', `${a.path}:0.5`, '--lora', b.path, '--out', join(root, 'lora'));
    expect(r.code).toBe(0);
    expect(r.out).toContain(`lora ${a.file}: kohya-locon, ${a.modules.length} modules, weight 0.5`);
    expect(r.out).toContain(`lora ${b.file}: peft, ${b.modules.length} modules, weight 1`);
    expect(plain.code).toBe(0);
    const png = (dir: string) => readFile(join(root, dir, 'seed-3.png'));
    expect((await png('lora')).equals(await png('plain'))).toBe(false);
  });

  it('refuses a LoRA the model does not have the modules for, naming them', async () => {
    const lora = fixture('lora', 'sd15_diffusers-unetprefix_flower_Hirvita6.safetensors');
    const r = await run('--model', model, '--prompt', 'x', '--lora', lora, '--device', 'cpu', '--out', join(root, 'refused'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/adapts modules that SD 1\.5 does not have: "unet\.down_blocks\.1\.attentions\.0/);
  });

  it('refuses a bad spec', async () => {
    const r = await run('--model', model, '--prompt', 'x', '--lora', 'a.safetensors:', '--device', 'cpu', '--out', join(root, 'refused'));
    expect(r.code).toBe(1);
    expect(r.err).toContain('"a.safetensors:" is not a LoRA spec');
  });
});
