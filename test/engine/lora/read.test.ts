import { describe, expect, it } from 'vitest';
import { isZipbankError } from '../../../src/errors/index.ts';
import { readLora } from '../../../src/engine/lora/read.ts';
import { fixture } from '../../support/paths.ts';

const lora = (name: string) => fixture('lora', name);

interface Accepted {
  file: string;
  format: string;
  baseModel: string;
  counts: [number, number, number];
  ranks: number[];
  alphas: number[];
  dtypes: string[];
  algo: string;
  first: { key: string; target: string };
}

const ACCEPTED: Accepted[] = [
  {
    file: 'sd15_diffusers-attnproc_catundchat.safetensors',
    format: 'diffusers-attnproc',
    baseModel: 'sd15',
    counts: [128, 0, 0],
    ranks: [4],
    alphas: [4],
    dtypes: ['F32'],
    algo: 'lora',
    first: {
      key: 'down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor.to_k_lora',
      target: 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_k',
    },
  },
  {
    file: 'sd15_diffusers-unetprefix_flower_Hirvita6.safetensors',
    format: 'diffusers',
    baseModel: 'sd15',
    counts: [128, 0, 0],
    ranks: [4],
    alphas: [4],
    dtypes: ['F32'],
    algo: 'lora',
    first: {
      key: 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_k',
      target: 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_k',
    },
  },
  {
    file: 'sd1_kohya-lycoris-lokr_dim4_smart_falcon.safetensors',
    format: 'lycoris-lokr',
    baseModel: 'sd15',
    counts: [278, 72, 0],
    ranks: [4],
    alphas: [4],
    dtypes: ['F16'],
    algo: 'lokr',
    first: { key: 'lora_te_text_model_encoder_layers_0_mlp_fc1', target: 'text_encoder.text_model.encoder.layers.0.mlp.fc1' },
  },
  {
    file: 'sd15_cloneofsimo-safeloras_disney_with_TI.safetensors',
    format: 'safeloras',
    baseModel: 'sd15',
    counts: [144, 48, 0],
    ranks: [1],
    alphas: [1],
    dtypes: ['F32'],
    algo: 'lora',
    first: { key: 'text_encoder:0', target: 'text_encoder.text_model.encoder.layers.0.self_attn.k_proj' },
  },
];

describe('readLora on real files', () => {
  it.each(ACCEPTED)('accepts $file', async (c) => {
    const l = await readLora(lora(c.file));
    expect(l.format).toBe(c.format);
    expect(l.baseModel).toBe(c.baseModel);
    const count = (comp: string) => l.modules.filter((m) => m.component === comp).length;
    expect([count('unet'), count('text_encoder'), count('text_encoder_2')]).toEqual(c.counts);
    expect([...new Set(l.modules.map((m) => m.rank))]).toEqual(c.ranks);
    expect([...new Set(l.modules.map((m) => m.alpha))]).toEqual(c.alphas);
    expect(l.dtypes).toEqual(c.dtypes);
    expect(new Set(l.modules.map((m) => m.algo))).toEqual(new Set([c.algo]));
    expect(l.modules.every((m) => m.scale === m.alpha / m.rank)).toBe(true);
    expect(l.modules.find((m) => m.key === c.first.key)?.target).toBe(c.first.target);
    expect(new Set(l.modules.map((m) => m.target)).size).toBe(l.modules.length);
  });

  it('maps the safeloras walk (down, up, mid; ff after attn1) and keeps its embeddings', async () => {
    const l = await readLora(lora('sd15_cloneofsimo-safeloras_disney_with_TI.safetensors'));
    const t = (k: string) => l.modules.find((m) => m.key === k)?.target;
    expect(t('unet:0')).toBe('unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q');
    expect(t('unet:4')).toBe('unet.down_blocks.0.attentions.0.transformer_blocks.0.ff.net.0.proj');
    expect(t('unet:6')).toBe('unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k');
    expect(t('unet:8')).toBe('unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_out.0');
    expect(t('unet:54')).toBe('unet.up_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q');
    expect(t('unet:135')).toBe('unet.mid_block.attentions.0.transformer_blocks.0.attn1.to_q');
    expect(t('text_encoder:47')).toBe('text_encoder.text_model.encoder.layers.11.self_attn.out_proj');
    expect(l.textualInversion.map((x) => [x.token, x.tensor.shape])).toEqual([
      ['<s1>', [768]],
      ['<s2>', [768]],
    ]);
    expect(l.warnings.join('\n')).toMatch(/safeloras: module order rebuilt/);
  });

  it('reads the LoKr factors of the kohya-named LyCORIS file (both sides factored)', async () => {
    const l = await readLora(lora('sd1_kohya-lycoris-lokr_dim4_smart_falcon.safetensors'));
    const m = l.modules.find((x) => x.key === 'lora_unet_down_blocks_1_resnets_0_conv1')!;
    expect(m).toMatchObject({ kind: 'full', algo: 'lokr', rank: 4, alpha: 4, scale: 1, target: 'unet.down_blocks.1.resnets.0.conv1' });
    expect(m.base).toEqual({ kind: 'conv', outFeatures: 640, inFeatures: 320, kernel: [3, 3] });
    expect(Object.keys(m.factors).sort()).toEqual(['algo', 'w1a', 'w1b', 'w2a', 'w2b']);
    expect(l.summary).toMatchObject({ networkModule: 'lycoris.kohya', networkDim: 4, networkAlpha: 4, claimedFamily: 'sd15' });
    expect(l.summary.networkArgs).toEqual({ conv_rank: '4', conv_alpha: '4', algo: 'lokr' });
  });
});

describe('readLora refuses broken and foreign files', () => {
  it.each([
    ['NEGATIVE_flux_aitoolkit_peft_leighwoods.safetensors', 'lora.not-sd', /is a Flux LoRA .*transformer\.single_transformer_blocks.*not Stable Diffusion; zipbank serves Stable Diffusion 1\.5, 2\.x and SDXL/],
    ['NEGATIVE_malformed_double-prefix_lora_unet_unet_timohavdk.safetensors', 'lora.double-prefix', /broken conversion.*"lora_unet_unet_".*added the prefix twice/],
  ])('%s -> %s', async (file, code, message) => {
    const err = await readLora(lora(file)).catch((e: unknown) => e);
    expect(isZipbankError(err, code as never)).toBe(true);
    expect((err as Error).message).toMatch(message);
  });

  it('refuses the Flux file even though its metadata claims SD 1.5', async () => {
    const err = await readLora(lora('NEGATIVE_flux_aitoolkit_peft_leighwoods.safetensors'), { families: ['sd15'] }).catch((e: unknown) => e);
    expect(isZipbankError(err, 'lora.not-sd')).toBe(true);
  });

  it('refuses a family the caller does not serve', async () => {
    const err = await readLora(lora('sd15_diffusers-attnproc_catundchat.safetensors'), { families: ['sdxl'] }).catch((e: unknown) => e);
    expect(isZipbankError(err, 'lora.family-not-served')).toBe(true);
    expect((err as Error).message).toMatch(/is an SD 1\.5 LoRA; this bank serves SDXL/);
  });
});
