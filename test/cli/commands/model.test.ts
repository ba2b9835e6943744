import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.ts';

const models = fileURLToPath(new URL('../../../../shared/fixtures/models/', import.meta.url));

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('zipbank model inspect', () => {
  it.each([
    ['--preset', 'sd15', /unet\s+UNet2DConditionModel\s+686\s+859,520,964/],
    ['--preset', 'sdxl', /text_encoder_2\s+CLIPTextModelWithProjection\s+517\s+694,659,840/],
    ['--preset', 'sd2', /unet\s+UNet2DConditionModel\s+686\s+865,910,724/],
    ['--preset', 'tiny-sd15', /vae\s+AutoencoderKL\s+124\s/],
  ])('%s %s prints a table', async (flag, preset, row) => {
    const r = await run('model', 'inspect', flag, preset);
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toMatch(row);
    expect(r.out).toMatch(/^total\s/m);
  });

  it('reads a diffusers folder (SDXL base configs) and prints JSON', async () => {
    const r = await run('model', 'inspect', path.join(models, 'sdxl-base-1.0'), '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { components: { folder: string; tensors: number; parameters: number }[]; total: { tensors: number } };
    expect(j.components.map((c) => [c.folder, c.tensors])).toEqual([
      ['unet', 1680],
      ['text_encoder', 196],
      ['text_encoder_2', 517],
      ['vae', 248],
    ]);
    expect(j.total.tensors).toBe(1680 + 196 + 517 + 248);
    expect(j.components[0]!.parameters).toBe(2_567_463_684);
  });

  it('names the missing file of an incomplete folder', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'zipbank-model-'));
    let r = await run('model', 'inspect', dir);
    expect(r.code).toBe(1);
    expect(r.err).toContain('cannot read model_index.json (file not found)');

    writeFileSync(path.join(dir, 'model_index.json'), JSON.stringify({ unet: ['diffusers', 'UNet2DConditionModel'], vae: ['diffusers', 'AutoencoderKL'] }));
    mkdirSync(path.join(dir, 'unet'));
    writeFileSync(path.join(dir, 'unet', 'config.json'), '{}');
    r = await run('model', 'inspect', dir);
    expect(r.code).toBe(1);
    expect(r.err).toContain('cannot read vae/config.json (file not found)');

    writeFileSync(path.join(dir, 'model_index.json'), '{ nope');
    r = await run('model', 'inspect', dir);
    expect(r.err).toContain('cannot read model_index.json (not valid JSON');
  });

  it('reports an unsupported config with its file and key', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'zipbank-model-'));
    writeFileSync(path.join(dir, 'model_index.json'), JSON.stringify({ unet: ['diffusers', 'UNet2DConditionModel'] }));
    mkdirSync(path.join(dir, 'unet'));
    writeFileSync(path.join(dir, 'unet', 'config.json'), JSON.stringify({ class_embed_type: 'timestep' }));
    const r = await run('model', 'inspect', dir);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${path.join(dir, 'unet', 'config.json')}: class_embed_type = "timestep" is not supported`);
  });

  it.each([
    [['model'], 2, 'missing subcommand'],
    [['model', 'frobnicate'], 2, 'unknown subcommand "frobnicate"'],
    [['model', 'inspect'], 2, 'give either --preset'],
    [['model', 'inspect', '--preset', 'sd15', 'some/folder'], 2, 'give either --preset'],
    [['model', 'inspect', '--preset', 'sd3'], 1, 'unknown model preset "sd3"'],
  ])('%j exits %i', async (argv, code, message) => {
    const r = await run(...argv);
    expect(r.code).toBe(code);
    expect(r.err).toContain(message);
  });

  it('is listed in help', async () => {
    expect((await run('help')).out).toMatch(/^\s+model\s/m);
    expect((await run('model', '--help')).out).toContain('inspect --preset');
  });
});

describe('zipbank model random', () => {
  it('writes a seeded tiny model and refuses to overwrite it', async () => {
    const parent = mkdtempSync(path.join(tmpdir(), 'zipbank-random-cli-'));
    const out = path.join(parent, 'tiny');
    const r = await run('model', 'random', '--preset', 'tiny-sd15', '--seed', '18446744073709551615', '--dtype', 'fp16', '--out', out);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^wrote .*tiny: tiny-sd15, seed 18446744073709551615, fp16, 12 files, [\d.]+ MiB of weights in [\d.]+ s$/);
    expect(r.err).toContain('writing unet/diffusion_pytorch_model.fp16.safetensors');
    const again = await run('model', 'random', '--preset', 'tiny-sd15', '--out', out);
    expect(again.code).toBe(1);
    expect(again.err).toContain('already exists and is not empty');
    rmSync(parent, { recursive: true, force: true });
  });

  it.each([
    [['model', 'random', '--out', 'x'], '--preset is required'],
    [['model', 'random', '--preset', 'tiny-sd15'], '--out is required'],
    [['model', 'random', '--preset', 'tiny-sd15', '--out', 'x', '--dtype', 'bf16'], '--dtype must be fp32 or fp16'],
    [['model', 'random', '--preset', 'tiny-sd15', '--out', 'x', '--seed', '-1'], '--seed must be an integer'],
    [['model', 'random', '--preset', 'tiny-sd15', '--out', 'x', '--seed', '18446744073709551616'], '--seed must be an integer'],
  ])('%j is a usage error', async (argv, message) => {
    const r = await run(...argv);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
  });

  it('is in the usage text', async () => {
    expect((await run('model', '--help')).out).toContain('random --preset <tiny-sd15|tiny-sdxl|sd15|sdxl|world> --out <folder>');
  });
});
