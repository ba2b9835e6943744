import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.ts';
import { fixture } from '../../support/paths.ts';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const lora = (name: string) => fixture('lora', name);

describe('zipbank lora inspect', () => {
  it.each([
    ['sd15_diffusers-attnproc_catundchat.safetensors', [/^format\s+diffusers-attnproc$/m, /^base model\s+SD 1\.5$/m, /^modules\s+128 \(unet 128, text_encoder 0, text_encoder_2 0\)$/m, /^ranks\s+4$/m, /^dtypes\s+F32$/m]],
    [
      'sd1_kohya-lycoris-lokr_dim4_smart_falcon.safetensors',
      [/^format\s+lycoris-lokr$/m, /^modules\s+350 \(unet 278, text_encoder 72/m, /^algorithms\s+lokr 350$/m, /^trigger words\s+smart falcon \(umamusume\), hair bow$/m, /^network\s+lycoris\.kohya, dim 4, alpha 4$/m, /^resolution\s+768x768$/m],
    ],
    ['sd15_cloneofsimo-safeloras_disney_with_TI.safetensors', [/^format\s+safeloras$/m, /^embeddings\s+<s1>, <s2>$/m, /^warning: safeloras: /m]],
  ])('%s', async (file, patterns) => {
    const r = await run('lora', 'inspect', lora(file));
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    for (const p of patterns) expect(r.out).toMatch(p);
  });

  it('prints JSON', async () => {
    const r = await run('lora', 'inspect', lora('sd15_diffusers-unetprefix_flower_Hirvita6.safetensors'), '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ format: 'diffusers', baseModel: 'sd15', modules: { unet: 128, total: 128 }, ranks: [4], alphas: [4], dtypes: ['F32'], tensorCount: 256 });
  });

  it.each([
    ['NEGATIVE_flux_aitoolkit_peft_leighwoods.safetensors', /^zipbank lora: .* is a Flux LoRA .*not Stable Diffusion/],
    ['NEGATIVE_malformed_double-prefix_lora_unet_unet_timohavdk.safetensors', /^zipbank lora: .*broken conversion.*lora_unet_unet_/],
  ])('refuses %s with exit code 1', async (file, message) => {
    const r = await run('lora', 'inspect', lora(file));
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toMatch(message);
  });

  it('names a missing file', async () => {
    const r = await run('lora', 'inspect', '/nonexistent/x.safetensors');
    expect(r).toMatchObject({ code: 1, err: 'zipbank lora: cannot read x.safetensors: ENOENT' });
  });
});

describe('zipbank lora random', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'zipbank-cli-lora-'));

  it.each([
    ['sd15', 'kohya', 'attn', 'kohya', 128],
    ['sdxl', 'peft', 'attn', 'peft', 560],
    ['sd15', 'kohya', 'all', 'kohya-locon', 282],
  ])('writes a %s %s LoRA (%s) that inspect reads back', async (family, format, targets, detected, modules) => {
    const out = path.join(dir, `${family}-${format}-${targets}.safetensors`);
    const w = await run('lora', 'random', '--rank', '4', '--targets', targets, '--format', format, '--family', family, '--seed', '5', '--out', out);
    expect(w.err).toBe('');
    expect(w.out).toContain(`${modules} modules (${targets}), rank 4, alpha 4, F32, seed 5`);
    const r = await run('lora', 'inspect', out, '--json');
    expect(JSON.parse(r.out)).toMatchObject({ format: detected, baseModel: family, ranks: [4], alphas: [4], modules: { total: modules } });
  });

  it.each([
    [['--family', 'sd15', '--seed', '1', '--out', 'x'], /--rank must be a positive integer/],
    [['--rank', '4', '--family', 'flux', '--seed', '1', '--out', 'x'], /--family must be one of sd15, sd2, sdxl, got "flux"/],
    [['--rank', '4', '--family', 'sd15', '--out', 'x'], /--seed must be an integer/],
    [['--rank', '4', '--family', 'sd15', '--seed', '1'], /--out <file.safetensors> is required/],
    [['--rank', '4', '--family', 'sd15', '--seed', '1', '--out', 'x', '--targets', 'some'], /--targets must be one of attn, all/],
  ])('usage error for %j', async (args, message) => {
    const r = await run('lora', 'random', ...args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
  });
});
