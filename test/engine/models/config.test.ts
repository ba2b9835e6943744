import { describe, expect, it } from 'vitest';
import { isZipbankError, type ErrorCode } from '../../../src/errors/index.ts';
import {
  parseClipTextConfig,
  parsePipelineConfigs,
  parseUNetConfig,
  parseVaeConfig,
} from '../../../src/engine/models/config.ts';
import { presetRawConfigs } from '../../../src/engine/models/presets.ts';
import { readJsonFixture } from './shapes-fixture.ts';

function codeOf(f: () => unknown): ErrorCode | 'no error' {
  try {
    f();
  } catch (e) {
    if (isZipbankError(e)) return e.code;
    throw e;
  }
  return 'no error';
}

describe('parseUNetConfig', () => {
  it('fills in diffusers defaults', () => {
    const c = parseUNetConfig({});
    expect(c).toMatchObject({
      inChannels: 4,
      outChannels: 4,
      sampleSize: null,
      blockOutChannels: [320, 640, 1280, 1280],
      layersPerBlock: [2, 2, 2, 2],
      transformerLayersPerBlock: [1, 1, 1, 1],
      numHeads: [8, 8, 8, 8],
      crossAttentionDim: [1280, 1280, 1280, 1280],
      midBlockType: 'UNetMidBlock2DCrossAttn',
      useLinearProjection: false,
      timeEmbedDim: 1280,
      convInKernel: 3,
      addition: null,
      normEps: 1e-5,
      flipSinToCos: true,
      freqShift: 0,
    });
  });

  it('reads SDXL base: per-block heads and depths, text_time embedding', () => {
    const c = parseUNetConfig(readJsonFixture('sdxl-base-1.0/unet/config.json'));
    expect(c.numHeads).toEqual([5, 10, 20]);
    expect(c.transformerLayersPerBlock).toEqual([1, 2, 10]);
    expect(c.crossAttentionDim).toEqual([2048, 2048, 2048]);
    expect(c.addition).toEqual({ type: 'text_time', timeEmbedDim: 256, projectionInputDim: 2816 });
    expect(c.useLinearProjection).toBe(true);
  });

  it('accepts mid_block_type null (no mid block)', () => {
    expect(parseUNetConfig({ mid_block_type: null }).midBlockType).toBeNull();
    expect(parseUNetConfig({}).midBlockType).toBe('UNetMidBlock2DCrossAttn');
    expect(parseUNetConfig({ mid_block_type: 'UNetMidBlock2DCrossAttn' }).midBlockType).toBe('UNetMidBlock2DCrossAttn');
  });

  const bad: [string, Record<string, unknown>, ErrorCode][] = [
    ['class embeddings', { class_embed_type: 'timestep' }, 'engine.unsupported-config'],
    ['scale-shift resnets', { resnet_time_scale_shift: 'scale_shift' }, 'engine.unsupported-config'],
    ['LCM time_cond_proj_dim', { time_cond_proj_dim: 256 }, 'engine.unsupported-config'],
    ['num_attention_heads', { num_attention_heads: 8 }, 'engine.unsupported-config'],
    ['dual cross attention', { dual_cross_attention: true }, 'engine.unsupported-config'],
    ['another UNet class', { _class_name: 'UNet2DModel' }, 'engine.unsupported-config'],
    ['an attention-only down block', { down_block_types: ['AttnDownBlock2D', 'DownBlock2D', 'DownBlock2D', 'DownBlock2D'] }, 'engine.unsupported-config'],
    ['a simple mid block', { mid_block_type: 'UNetMidBlock2DSimpleCrossAttn' }, 'engine.unsupported-config'],
    ['a text addition embedding', { addition_embed_type: 'text' }, 'engine.unsupported-config'],
    ['nested transformer depths', { transformer_layers_per_block: [[1, 1], [2, 2], [3, 3], [4, 4]] }, 'engine.unsupported-config'],
    ['rectangular sample size', { sample_size: [64, 96] }, 'engine.unsupported-config'],
    ['block_out_channels as a number', { block_out_channels: 320 }, 'model.invalid-config'],
    ['a string channel count', { block_out_channels: [320, '640', 1280, 1280] }, 'model.invalid-config'],
    ['heads list of the wrong length', { attention_head_dim: [5, 10] }, 'model.invalid-config'],
    ['text_time without its widths', { addition_embed_type: 'text_time' }, 'model.invalid-config'],
    ['an even conv_in kernel', { conv_in_kernel: 2 }, 'model.invalid-config'],
    ['a non-object config', [] as unknown as Record<string, unknown>, 'model.invalid-config'],
    ['up/down block count mismatch', { up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'] }, 'model.inconsistent-config'],
    ['channels not divisible by groups', { block_out_channels: [320, 640, 1280, 1000] }, 'model.inconsistent-config'],
    ['channels not divisible by heads', { attention_head_dim: 7 }, 'model.inconsistent-config'],
  ];
  it.each(bad)('refuses %s', (_label, json, code) => {
    expect(codeOf(() => parseUNetConfig(json))).toBe(code);
  });

  it('names the file, key and supported values in the message', () => {
    expect(() => parseUNetConfig({ resnet_time_scale_shift: 'scale_shift' }, 'x/unet/config.json')).toThrow(
      'x/unet/config.json: resnet_time_scale_shift = "scale_shift" is not supported (supported: null or "default")',
    );
  });
});

describe('parseClipTextConfig', () => {
  it('fills in transformers defaults', () => {
    expect(parseClipTextConfig({})).toMatchObject({
      architecture: 'CLIPTextModel',
      vocabSize: 49408,
      hiddenSize: 512,
      intermediateSize: 2048,
      projectionDim: 512,
      numHiddenLayers: 12,
      numAttentionHeads: 8,
      maxPositionEmbeddings: 77,
      hiddenAct: 'quick_gelu',
      eosTokenId: 49407,
    });
  });

  it('reads the SDXL second encoder', () => {
    expect(parseClipTextConfig(readJsonFixture('sdxl-base-1.0/text_encoder_2/config.json'))).toMatchObject({
      architecture: 'CLIPTextModelWithProjection',
      hiddenSize: 1280,
      numHiddenLayers: 32,
      numAttentionHeads: 20,
      hiddenAct: 'gelu',
      eosTokenId: 2,
    });
  });

  const bad: [string, Record<string, unknown>, ErrorCode][] = [
    ['a vision model', { architectures: ['CLIPVisionModel'] }, 'engine.unsupported-config'],
    ['a full CLIP config', { model_type: 'clip' }, 'engine.unsupported-config'],
    ['relu', { hidden_act: 'relu' }, 'engine.unsupported-config'],
    ['zero layers', { num_hidden_layers: 0 }, 'model.invalid-config'],
    ['hidden not divisible by heads', { hidden_size: 30, num_attention_heads: 4 }, 'model.inconsistent-config'],
  ];
  it.each(bad)('refuses %s', (_label, json, code) => {
    expect(codeOf(() => parseClipTextConfig(json))).toBe(code);
  });
});

describe('parseVaeConfig', () => {
  it('fills in diffusers defaults', () => {
    expect(parseVaeConfig({})).toMatchObject({
      blockOutChannels: [64],
      layersPerBlock: 1,
      latentChannels: 4,
      scalingFactor: 0.18215,
      shiftFactor: null,
      forceUpcast: true,
      useQuantConv: true,
      midBlockAddAttention: true,
    });
  });

  it('reads the SDXL scaling factor', () => {
    expect(parseVaeConfig(readJsonFixture('sdxl-base-1.0/vae/config.json')).scalingFactor).toBe(0.13025);
  });

  const bad: [string, Record<string, unknown>, ErrorCode][] = [
    ['another autoencoder', { _class_name: 'AutoencoderTiny' }, 'engine.unsupported-config'],
    ['latents_mean', { latents_mean: [0, 0, 0, 0] }, 'engine.unsupported-config'],
    ['a temporal decoder block', { up_block_types: ['UpDecoderBlock2DTemporal'] }, 'engine.unsupported-config'],
    ['block count mismatch', { block_out_channels: [64, 128] }, 'model.invalid-config'],
    ['groups not dividing channels', { block_out_channels: [48] }, 'model.inconsistent-config'],
  ];
  it.each(bad)('refuses %s', (_label, json, code) => {
    expect(codeOf(() => parseVaeConfig(json))).toBe(code);
  });
});

describe('parsePipelineConfigs cross-checks', () => {
  const sd15 = presetRawConfigs('sd15');
  const sdxl = presetRawConfigs('sdxl');
  const tiny = presetRawConfigs('tiny-sdxl');
  const rows: [string, () => unknown, ErrorCode | 'no error'][] = [
    ['SD 1.5 as shipped', () => parsePipelineConfigs(sd15), 'no error'],
    ['SDXL as shipped', () => parsePipelineConfigs(sdxl), 'no error'],
    ['UNet without encoders', () => parsePipelineConfigs({ unet: sdxl.unet }), 'no error'],
    [
      'an SDXL-refiner-shaped pipeline (text_encoder_2 only, 5 time ids)',
      () =>
        parsePipelineConfigs({
          unet: {
            addition_embed_type: 'text_time',
            addition_time_embed_dim: 256,
            attention_head_dim: [6, 12, 24, 24],
            block_out_channels: [384, 768, 1536, 1536],
            cross_attention_dim: 1280,
            down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
            up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'UpBlock2D'],
            projection_class_embeddings_input_dim: 2560,
            transformer_layers_per_block: 4,
            use_linear_projection: true,
          },
          textEncoder: null,
          textEncoder2: sdxl.textEncoder2,
        }),
      'no error',
    ],
    ['SD 1.5 UNet with the SDXL encoders', () => parsePipelineConfigs({ ...sdxl, unet: sd15.unet }), 'model.inconsistent-config'],
    ['SDXL without its second encoder', () => parsePipelineConfigs({ unet: sdxl.unet, textEncoder: sdxl.textEncoder }), 'model.inconsistent-config'],
    [
      'text_time width that ignores the pooled embedding',
      () => parsePipelineConfigs({ ...tiny, unet: { ...(tiny.unet as object), projection_class_embeddings_input_dim: 48 } }),
      'model.inconsistent-config',
    ],
    ['VAE latent channels differ', () => parsePipelineConfigs({ ...sd15, vae: { ...(sd15.vae as object), latent_channels: 16 } }), 'model.inconsistent-config'],
  ];
  it.each(rows)('%s', (_label, f, code) => {
    expect(codeOf(f)).toBe(code);
  });
});
