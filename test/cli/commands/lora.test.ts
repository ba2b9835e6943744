import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.ts';
import { fixture } from '../../support/paths.ts';
import { mergeRecord } from '../../../src/engine/lora/merge.ts';
import { writeMergers } from '../../../src/engine/lora/mergers.ts';
import { readLora } from '../../../src/engine/lora/read.ts';

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
    [['--rank', '4', '--family', 'flux', '--seed', '1', '--out', 'x'], /--family must be one of sd15, sd2, sdxl, world, got "flux"/],
    [['--rank', '4', '--family', 'sd15', '--out', 'x'], /--seed must be an integer/],
    [['--rank', '4', '--family', 'sd15', '--seed', '1'], /--out <file.safetensors> is required/],
    [['--rank', '4', '--family', 'sd15', '--seed', '1', '--out', 'x', '--targets', 'some'], /--targets must be one of attn, all/],
  ])('usage error for %j', async (args, message) => {
    const r = await run('lora', 'random', ...args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
  });
});

describe('zipbank lora merge', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'zipbank-cli-merge-'));
  const file = (name: string) => path.join(dir, name);

  beforeAll(async () => {
    await run('lora', 'random', '--rank', '2', '--family', 'sd15', '--seed', '1', '--out', file('subject.safetensors'));
    await run('lora', 'random', '--rank', '3', '--family', 'sd15', '--seed', '2', '--format', 'peft', '--out', file('style.safetensors'));
  });

  it('writes a direct merge of rank r_c + r_s that records its sources', async () => {
    const out = file('direct.safetensors');
    const r = await run('lora', 'merge', '--subject', file('subject.safetensors'), '--style', file('style.safetensors'), '--w-style', '0.8', '--out', out);
    expect(r.err).toBe('');
    expect(r.out).toBe(`wrote ${out}: kohya SD 1.5 LoRA, 128 modules, rank 5, direct merge of subject subject.safetensors (weight 1) and style style.safetensors (weight 0.8)`);
    const back = await readLora(out);
    expect([back.format, back.baseModel, back.modules.length]).toEqual(['kohya', 'sd15', 128]);
    expect(back.modules.every((m) => m.rank === 5 && m.scale === 1)).toBe(true);
    const record = mergeRecord(back.metadata)!;
    expect(record.method).toBe('direct');
    expect(record.sources.map((s) => [s.role, s.file, s.weight, s.tensorSha256.length])).toEqual([
      ['subject', 'subject.safetensors', 1, 64],
      ['style', 'style.safetensors', 0.8, 64],
    ]);
  });

  it('writes a ZipLoRA merge from merger vectors, as PEFT', async () => {
    const subject = await readLora(file('subject.safetensors'));
    const m = subject.modules[0]!;
    const zip = file('zip.safetensors');
    await writeMergers(zip, { roles: ['subject', 'style'], vectors: new Map([[m.target, [new Float32Array(m.base.inFeatures).fill(0.5), new Float32Array(m.base.inFeatures).fill(2)]]]) });
    const out = file('zipped.safetensors');
    const r = await run('lora', 'merge', '--subject', file('subject.safetensors'), '--style', file('style.safetensors'), '--coefficients', zip, '--format', 'peft', '--out', out);
    expect(r.err).toBe('');
    expect(r.out).toContain('peft SD 1.5 LoRA, 128 modules, rank 5, ziplora merge');
    const back = await readLora(out);
    expect(back.format).toBe('peft');
    expect(mergeRecord(back.metadata)!.coefficients!.file).toBe('zip.safetensors');
  });

  it.each([
    [['--style', 's'], /--subject <a.safetensors> and --style <b.safetensors> are required/],
    [['--subject', 'a', '--style', 'b'], /--out <merged.safetensors> is required/],
    [['--subject', 'a', '--style', 'b', '--out', 'o', '--method', 'ziplora'], /--method ziplora needs --coefficients/],
    [['--subject', 'a', '--style', 'b', '--out', 'o', '--method', 'direct', '--coefficients', 'z'], /--coefficients is for --method ziplora/],
    [['--subject', 'a', '--style', 'b', '--out', 'o', '--method', 'average'], /--method must be one of direct, ziplora/],
  ])('usage error for %j', async (args, message) => {
    const r = await run('lora', 'merge', ...args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
  });

  it('refuses a LoKr file', async () => {
    const lokr = lora('sd1_kohya-lycoris-lokr_dim4_smart_falcon.safetensors');
    const r = await run('lora', 'merge', '--subject', lokr, '--style', file('style.safetensors'), '--out', file('x.safetensors'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/is lokr, not a low-rank LoRA/);
  });
});
