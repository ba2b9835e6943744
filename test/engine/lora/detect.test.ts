import { describe, expect, it } from 'vitest';
import { isZipbankError } from '../../../src/errors/index.ts';
import { readLora } from '../../../src/engine/lora/read.ts';
import { kohyaLinear, synth, type Spec } from './synth.ts';

const U = 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0';
const SGM = 'lora_unet_input_blocks_4_1_transformer_blocks_0';
const TE = 'lora_te_text_model_encoder_layers_0_self_attn_q_proj';
const P = 'unet.down_blocks.0.attentions.0.transformer_blocks.0';

interface Case {
  name: string;
  spec: Spec;
  metadata?: Record<string, string>;
  format: string;
  baseModel: string;
  targets: string[];
  ranks: number[];
}

const CASES: Case[] = [
  {
    name: 'kohya SD 1.5 (cross-attention 768, lora_te)',
    spec: { ...kohyaLinear(`${U}_attn2_to_k`, 320, 768, 8, 4), ...kohyaLinear(TE, 768, 768, 8, 4) },
    format: 'kohya',
    baseModel: 'sd15',
    targets: [`${P}.attn2.to_k`, 'text_encoder.text_model.encoder.layers.0.self_attn.q_proj'],
    ranks: [8],
  },
  {
    name: 'kohya for the bundled world model (cross-attention 64, text encoder 64)',
    spec: { ...kohyaLinear(`${U}_attn2_to_k`, 32, 64, 4), ...kohyaLinear(TE, 64, 64, 4) },
    format: 'kohya',
    baseModel: 'world',
    targets: [`${P}.attn2.to_k`, 'text_encoder.text_model.encoder.layers.0.self_attn.q_proj'],
    ranks: [4],
  },
  {
    name: 'kohya world, self-attention only (its 32-wide first block fits no SD model)',
    spec: kohyaLinear(`${U}_attn1_to_q`, 32, 32, 8),
    format: 'kohya',
    baseModel: 'world',
    targets: [`${P}.attn1.to_q`],
    ranks: [8],
  },
  {
    name: 'kohya SD 2.x (cross-attention 1024, text encoder 1024)',
    spec: { ...kohyaLinear(`${U}_attn2_to_v`, 320, 1024, 4), ...kohyaLinear(TE, 1024, 1024, 4) },
    format: 'kohya',
    baseModel: 'sd2',
    targets: [`${P}.attn2.to_v`, 'text_encoder.text_model.encoder.layers.0.self_attn.q_proj'],
    ranks: [4],
  },
  {
    name: 'kohya SDXL with SGM block names and lora_te1/lora_te2',
    spec: {
      ...kohyaLinear(`${SGM}_attn2_to_k`, 640, 2048, 16, 8),
      ...kohyaLinear('lora_unet_output_blocks_2_2_conv', 1280, 1280 * 9, 4),
      ...kohyaLinear('lora_te1_text_model_encoder_layers_0_mlp_fc1', 3072, 768, 16),
      ...kohyaLinear('lora_te2_text_model_encoder_layers_31_self_attn_out_proj', 1280, 1280, 16),
    },
    format: 'kohya',
    baseModel: 'sdxl',
    targets: [
      'unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k',
      'unet.up_blocks.0.upsamplers.0.conv',
      'text_encoder.text_model.encoder.layers.0.mlp.fc1',
      'text_encoder_2.text_model.encoder.layers.31.self_attn.out_proj',
    ],
    ranks: [4, 16],
  },
  {
    name: 'kohya SDXL with diffusers block names (converted files)',
    spec: kohyaLinear('lora_unet_down_blocks_1_attentions_0_transformer_blocks_1_attn2_to_k', 640, 2048, 4),
    format: 'kohya',
    baseModel: 'sdxl',
    targets: ['unet.down_blocks.1.attentions.0.transformer_blocks.1.attn2.to_k'],
    ranks: [4],
  },
  {
    name: 'LoCon (conv 3x3 down [r, in, 3, 3], up [out, r, 1, 1])',
    spec: { 'lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight': [4, 320, 3, 3], 'lora_unet_down_blocks_0_resnets_0_conv1.lora_up.weight': [320, 4, 1, 1], ...kohyaLinear(`${U}_attn2_to_k`, 320, 768, 4) },
    format: 'kohya-locon',
    baseModel: 'sd15',
    targets: ['unet.down_blocks.0.resnets.0.conv1', `${P}.attn2.to_k`],
    ranks: [4],
  },
  {
    name: 'LoCon with a CP core (lora_mid)',
    spec: {
      'lora_unet_up_blocks_3_resnets_0_conv2.lora_down.weight': [2, 320, 1, 1],
      'lora_unet_up_blocks_3_resnets_0_conv2.lora_mid.weight': [2, 2, 3, 3],
      'lora_unet_up_blocks_3_resnets_0_conv2.lora_up.weight': [320, 2, 1, 1],
      ...kohyaLinear(TE, 768, 768, 2),
    },
    format: 'kohya-locon',
    baseModel: 'sd15',
    targets: ['unet.up_blocks.3.resnets.0.conv2', 'text_encoder.text_model.encoder.layers.0.self_attn.q_proj'],
    ranks: [2],
  },
  {
    name: 'LoHa (hada_w1_a/b, hada_w2_a/b) and CP LoHa (hada_t1/t2) on a conv',
    spec: {
      [`${U}_attn2_to_k.hada_w1_a`]: [320, 4],
      [`${U}_attn2_to_k.hada_w1_b`]: [4, 768],
      [`${U}_attn2_to_k.hada_w2_a`]: [320, 4],
      [`${U}_attn2_to_k.hada_w2_b`]: [4, 768],
      [`${U}_attn2_to_k.alpha`]: { shape: [], dtype: 'F16', values: [2] },
      'lora_unet_mid_block_resnets_0_conv1.hada_t1': [4, 4, 3, 3],
      'lora_unet_mid_block_resnets_0_conv1.hada_w1_a': [4, 1280],
      'lora_unet_mid_block_resnets_0_conv1.hada_w1_b': [4, 1280],
      'lora_unet_mid_block_resnets_0_conv1.hada_t2': [4, 4, 3, 3],
      'lora_unet_mid_block_resnets_0_conv1.hada_w2_a': [4, 1280],
      'lora_unet_mid_block_resnets_0_conv1.hada_w2_b': [4, 1280],
    },
    format: 'lycoris-loha',
    baseModel: 'sd15',
    targets: [`${P}.attn2.to_k`, 'unet.mid_block.resnets.0.conv1'],
    ranks: [4],
  },
  {
    name: 'LoKr (full w1, factored w2; CP lokr_t2 on a conv)',
    spec: {
      [`${U}_attn2_to_k.lokr_w1`]: [4, 8],
      [`${U}_attn2_to_k.lokr_w2_a`]: [80, 2],
      [`${U}_attn2_to_k.lokr_w2_b`]: [2, 96],
      'lora_unet_mid_block_resnets_1_conv2.lokr_w1': [8, 8],
      'lora_unet_mid_block_resnets_1_conv2.lokr_t2': [2, 2, 3, 3],
      'lora_unet_mid_block_resnets_1_conv2.lokr_w2_a': [2, 160],
      'lora_unet_mid_block_resnets_1_conv2.lokr_w2_b': [2, 160],
    },
    format: 'lycoris-lokr',
    baseModel: 'sd15',
    targets: [`${P}.attn2.to_k`, 'unet.mid_block.resnets.1.conv2'],
    ranks: [2],
  },
  {
    name: 'LyCORIS full differences',
    spec: { [`${U}_attn2_to_k.diff`]: [320, 768] },
    format: 'lycoris-full',
    baseModel: 'sd15',
    targets: [`${P}.attn2.to_k`],
    ranks: [0],
  },
  {
    name: 'PEFT with component prefixes',
    spec: {
      [`${P}.attn2.to_k.lora_A.weight`]: [4, 768],
      [`${P}.attn2.to_k.lora_B.weight`]: [320, 4],
      'text_encoder.text_model.encoder.layers.3.mlp.fc2.lora_A.weight': [4, 3072],
      'text_encoder.text_model.encoder.layers.3.mlp.fc2.lora_B.weight': [768, 4],
    },
    format: 'peft',
    baseModel: 'sd15',
    targets: [`${P}.attn2.to_k`, 'text_encoder.text_model.encoder.layers.3.mlp.fc2'],
    ranks: [4],
  },
  {
    name: 'PEFT with base_model.model. and an adapter name',
    spec: {
      'base_model.model.mid_block.attentions.0.transformer_blocks.0.attn2.to_q.lora_A.default.weight': [8, 1280],
      'base_model.model.mid_block.attentions.0.transformer_blocks.0.attn2.to_q.lora_B.default.weight': [1280, 8],
      'base_model.model.mid_block.attentions.0.transformer_blocks.0.attn2.to_k.lora_A.default.weight': [8, 2048],
      'base_model.model.mid_block.attentions.0.transformer_blocks.0.attn2.to_k.lora_B.default.weight': [1280, 8],
    },
    format: 'peft',
    baseModel: 'sdxl',
    targets: ['unet.mid_block.attentions.0.transformer_blocks.0.attn2.to_q', 'unet.mid_block.attentions.0.transformer_blocks.0.attn2.to_k'],
    ranks: [8],
  },
  {
    name: 'diffusers text-encoder lora_linear_layer + unet .lora.',
    spec: {
      'text_encoder.text_model.encoder.layers.0.self_attn.k_proj.lora_linear_layer.down.weight': [4, 768],
      'text_encoder.text_model.encoder.layers.0.self_attn.k_proj.lora_linear_layer.up.weight': [768, 4],
      'unet.up_blocks.1.attentions.2.transformer_blocks.0.attn2.to_k.lora.down.weight': [4, 768],
      'unet.up_blocks.1.attentions.2.transformer_blocks.0.attn2.to_k.lora.up.weight': [1280, 4],
    },
    format: 'diffusers',
    baseModel: 'sd15',
    targets: ['text_encoder.text_model.encoder.layers.0.self_attn.k_proj', 'unet.up_blocks.1.attentions.2.transformer_blocks.0.attn2.to_k'],
    ranks: [4],
  },
];

describe('format and base-model detection from names and shapes', () => {
  it.each(CASES)('$name', async (c) => {
    const l = await readLora(synth(c.spec, c.metadata));
    expect(l.format).toBe(c.format);
    expect(l.baseModel).toBe(c.baseModel);
    expect(l.modules.map((m) => m.target).sort()).toEqual([...c.targets].sort());
    expect([...new Set(l.modules.map((m) => m.rank))].sort((a, b) => a - b)).toEqual(c.ranks);
  });
});

describe('alpha and scale', () => {
  it.each([
    ['the .alpha tensor (F16)', { ...kohyaLinear(TE, 768, 768, 4), [`${TE}.alpha`]: { shape: [], dtype: 'F16', values: [1] } } as Spec, {}, 1],
    ['the .alpha tensor (BF16, shape [1])', { ...kohyaLinear(TE, 768, 768, 4), [`${TE}.alpha`]: { shape: [1], dtype: 'BF16', values: [8] } } as Spec, {}, 8],
    ['ss_network_alpha when there is no tensor', kohyaLinear(TE, 768, 768, 4), { ss_network_alpha: '2.0' }, 2],
    ['rank when there is nothing', kohyaLinear(TE, 768, 768, 4), {}, 4],
    [
      "PEFT lora_adapter_metadata (diffusers)",
      { 'text_encoder.text_model.encoder.layers.0.mlp.fc1.lora_A.weight': [4, 768], 'text_encoder.text_model.encoder.layers.0.mlp.fc1.lora_B.weight': [3072, 4] } as Spec,
      { lora_adapter_metadata: JSON.stringify({ 'text_encoder.r': 4, 'text_encoder.lora_alpha': 16 }) },
      16,
    ],
    [
      'PEFT alpha_pattern',
      { 'unet.conv_in.lora_A.weight': [4, 4, 3, 3], 'unet.conv_in.lora_B.weight': [320, 4, 1, 1] } as Spec,
      { lora_adapter_metadata: JSON.stringify({ 'unet.lora_alpha': 16, 'unet.alpha_pattern': { conv_in: 2 } }) },
      2,
    ],
    [
      'PEFT .alpha tensor',
      { 'unet.conv_in.lora_A.weight': [4, 4, 3, 3], 'unet.conv_in.lora_B.weight': [320, 4, 1, 1], 'unet.conv_in.alpha': { shape: [], values: [3] } } as Spec,
      {},
      3,
    ],
  ])('from %s', async (_, spec, metadata, alpha) => {
    const l = await readLora(synth(spec, metadata));
    expect(l.modules[0]!.alpha).toBe(alpha);
    expect(l.modules[0]!.scale).toBe(alpha / 4);
  });

  it('uses conv_alpha from ss_network_args for k×k convs', async () => {
    const spec: Spec = {
      'lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight': [4, 320, 3, 3],
      'lora_unet_down_blocks_0_resnets_0_conv1.lora_up.weight': [320, 4, 1, 1],
      ...kohyaLinear(`${U}_attn2_to_k`, 320, 768, 4),
    };
    const l = await readLora(synth(spec, { ss_network_alpha: '4', ss_network_args: '{"conv_dim": "4", "conv_alpha": "1"}' }));
    expect(Object.fromEntries(l.modules.map((m) => [m.target, m.alpha]))).toEqual({ 'unet.down_blocks.0.resnets.0.conv1': 1, [`${P}.attn2.to_k`]: 4 });
  });

  it('gives a LoKr with both sides full scale 1, whatever its alpha', async () => {
    const l = await readLora(synth({ [`${U}_attn2_to_k.lokr_w1`]: [4, 8], [`${U}_attn2_to_k.lokr_w2`]: [80, 96], [`${U}_attn2_to_k.alpha`]: { shape: [], values: [7] } }));
    expect(l.modules[0]).toMatchObject({ rank: 0, scale: 1, kind: 'full' });
  });
});

describe('base model: metadata is a hint, the tensors win', () => {
  it('warns when the metadata disagrees', async () => {
    const l = await readLora(synth(kohyaLinear(`${U}_attn2_to_k`, 320, 768, 4), { ss_base_model_version: 'sdxl_base_v1-0' }));
    expect(l.baseModel).toBe('sd15');
    expect(l.warnings[0]).toMatch(/metadata says SDXL \(sdxl_base_v1-0 \(ss_base_model_version\)\) but the tensors are SD 1\.5; using SD 1\.5/);
  });

  it('reports an attention-only LoRA that fits SD 1.5 and 2.x equally as unknown', async () => {
    const spec = kohyaLinear(`${U}_attn1_to_q`, 320, 320, 4);
    const l = await readLora(synth(spec));
    expect(l.baseModel).toBe('unknown');
    expect(l.warnings.join('\n')).toMatch(/fit sd15 and sd2 equally/);
    expect((await readLora(synth(spec, { 'modelspec.architecture': 'stable-diffusion-v2-512/lora' }))).baseModel).toBe('sd2');
    expect((await readLora(synth(spec), { families: ['sd15'] })).baseModel).toBe('sd15');
  });

  it('tells SD 1.5 from SD 2.x by the proj_in layer kind (conv 1x1 vs linear)', async () => {
    const conv = { 'lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight': [4, 320, 1, 1], 'lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight': [320, 4, 1, 1] };
    const linear = kohyaLinear('lora_unet_down_blocks_0_attentions_0_proj_in', 320, 320, 4);
    expect((await readLora(synth(conv))).baseModel).toBe('sd15');
    expect((await readLora(synth(linear))).baseModel).toBe('sd2');
  });

  it('ignores stray tensors with a warning', async () => {
    const l = await readLora(synth({ ...kohyaLinear(TE, 768, 768, 4), 'lora_unet_conv_in.diff_b': [320], 'training_step': [1] }));
    expect(l.modules).toHaveLength(1);
    expect(l.warnings.join('\n')).toMatch(/ignored 2 tensor\(s\) that are not LoRA factors/);
  });
});

describe('refusals name the problem', () => {
  it.each([
    ['no LoRA tensors (a checkpoint)', { 'model.diffusion_model.input_blocks.0.0.weight': [320, 4, 3, 3] }, 'lora.not-lora', /looks like model weights, not a LoRA/],
    ['no LoRA tensors at all', { foo: [3], bar: [4] }, 'lora.not-lora', /none of its 2 tensors are LoRA factors/],
    ['a down without its up', { [`${TE}.lora_down.weight`]: [4, 768] }, 'lora.missing-pair', /"lora_te_text_model_encoder_layers_0_self_attn_q_proj" has "lora_down.weight" but no "lora_up.weight"/],
    ['a PEFT B without its A', { 'unet.conv_in.lora_B.weight': [320, 4, 1, 1] }, 'lora.missing-pair', /has "B" but no "A"/],
    ['up/down ranks that differ', { [`${TE}.lora_down.weight`]: [4, 768], [`${TE}.lora_up.weight`]: [768, 8] }, 'lora.rank-mismatch', /down factor \[4, 768\] and an up factor \[768, 8\] of different ranks/],
    ['a shape the base model does not have', kohyaLinear(`${U}_attn1_to_q`, 320, 300, 4), 'lora.shape-mismatch', /"unet\.down_blocks\.0\.attentions\.0\.transformer_blocks\.0\.attn1\.to_q \(lora_unet_.*_attn1_to_q\)" is \[320, 300\] in the LoRA but \[320, 320\] in SD 1\.5/],
    ['a module the base model does not have', kohyaLinear('lora_unet_down_blocks_9_attentions_0_proj_in', 320, 320, 4), 'lora.unknown-module', /adapts modules that SD 1\.5 does not have: "lora_unet_down_blocks_9_attentions_0_proj_in"/],
    ['DoRA', { ...kohyaLinear(TE, 768, 768, 4), [`${TE}.dora_scale`]: [1, 768] }, 'lora.unsupported-algo', /uses DoRA/],
    ['PEFT DoRA', { 'unet.conv_in.lora_A.weight': [4, 4, 3, 3], 'unet.conv_in.lora_B.weight': [320, 4, 1, 1], 'unet.conv_in.lora_magnitude_vector': [320] }, 'lora.unsupported-algo', /uses DoRA/],
    ['OFT', { [`${TE}.oft_blocks`]: [4, 192, 192] }, 'lora.unsupported-algo', /OFT/],
    ['SD 1.5 cross-attention with an SDXL text encoder', { ...kohyaLinear(`${U}_attn2_to_k`, 320, 768, 4), ...kohyaLinear('lora_te2_text_model_encoder_layers_0_mlp_fc1', 5120, 1280, 4) }, 'lora.inconsistent', /cross-attention width 768/],
    ['a doubled PEFT prefix', { 'unet.unet.conv_in.lora_A.weight': [4, 4, 3, 3], 'unet.unet.conv_in.lora_B.weight': [320, 4, 1, 1] }, 'lora.double-prefix', /"unet\.unet\."/],
    ['integer factors', { [`${TE}.lora_down.weight`]: { shape: [4, 768], dtype: 'I32' }, [`${TE}.lora_up.weight`]: [768, 4] }, 'lora.bad-tensor', /has dtype I32/],
    ['a 3-D factor', { [`${TE}.lora_down.weight`]: [4, 768, 1], [`${TE}.lora_up.weight`]: [768, 4] }, 'lora.bad-tensor', /expected 2 or 4 dimensions/],
    ['an LLM LoRA', { 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight': [8, 4096], 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight': [4096, 8] }, 'lora.not-sd', /language model/],
    ['an SD3 LoRA', { 'transformer.transformer_blocks.0.attn.to_q.lora_A.weight': [8, 1536], 'transformer.transformer_blocks.0.attn.to_q.lora_B.weight': [1536, 8] }, 'lora.not-sd', /diffusion-transformer/],
    ['a kohya Flux LoRA', kohyaLinear('lora_unet_double_blocks_0_img_attn_qkv', 9216, 3072, 4), 'lora.not-sd', /Flux/],
  ] as [string, Spec, string, RegExp][])('%s', async (_, spec, code, message) => {
    const err = await readLora(synth(spec)).catch((e: unknown) => e);
    expect(isZipbankError(err, code as never), String(err)).toBe(true);
    expect((err as Error).message).toMatch(message);
  });
});
