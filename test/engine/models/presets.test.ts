import { describe, expect, it } from 'vitest';
import { isZipbankError } from '../../../src/errors/index.ts';
import { inspectArchitecture } from '../../../src/engine/models/inspect.ts';
import { PRESET_IDS, presetConfigs, presetFamily, presetRawConfigs } from '../../../src/engine/models/presets.ts';
import { unetParams } from '../../../src/engine/models/unet/params.ts';

/** Parameter counts of the published models (SD 2.1 and the CLIP/VAE numbers are well-known totals). */
const counts: [string, string, number, number][] = [
  ['sd15', 'unet', 686, 859_520_964],
  ['sd15', 'text_encoder', 196, 123_060_480],
  ['sd15', 'vae', 248, 83_653_863],
  ['sd2', 'unet', 686, 865_910_724],
  ['sd2', 'text_encoder', 372, 340_387_840],
  ['sdxl', 'unet', 1680, 2_567_463_684],
  ['sdxl', 'text_encoder_2', 517, 694_659_840],
];

describe('presets', () => {
  it.each(PRESET_IDS.map((id) => [id]))('%s parses and passes the cross-component checks', (id) => {
    const c = presetConfigs(id);
    expect(c.unet.kind).toBe('unet');
    expect(c.vae?.latentChannels).toBe(c.unet.outChannels);
  });

  it.each(counts)('%s %s: %i tensors, %i parameters', (id, folder, tensors, parameters) => {
    const row = inspectArchitecture(presetConfigs(id)).components.find((c) => c.folder === folder);
    expect(row).toMatchObject({ tensors, parameters });
  });

  it.each([['tiny-sd15'], ['tiny-sdxl']])('%s accepts real CLIP tokenizer ids and 77 positions', (id) => {
    const c = presetConfigs(id);
    for (const te of [c.textEncoder, c.textEncoder2].filter((t) => t !== undefined)) {
      expect(te.vocabSize).toBe(49408);
      expect(te.maxPositionEmbeddings).toBe(77);
      expect(te.numHiddenLayers).toBe(2);
      expect(te.hiddenSize).toBe(32);
    }
    expect(c.unet.blockOutChannels).toEqual([32, 64]);
    expect(c.vae?.blockOutChannels).toEqual([32, 64]);
  });

  it('tiny-sdxl has SDXL structure: two encoders, pooled projection, text_time embedding', () => {
    const c = presetConfigs('tiny-sdxl');
    expect(c.textEncoder?.architecture).toBe('CLIPTextModel');
    expect(c.textEncoder2?.architecture).toBe('CLIPTextModelWithProjection');
    expect(c.unet.crossAttentionDim[0]).toBe(c.textEncoder!.hiddenSize + c.textEncoder2!.hiddenSize);
    expect(c.unet.addition!.projectionInputDim).toBe(c.textEncoder2!.projectionDim + 6 * c.unet.addition!.timeEmbedDim);
    const names = new Map(unetParams(c.unet).map((s) => [s.name, s.shape]));
    expect(names.get('add_embedding.linear_1.weight')).toEqual([128, 80]);
    expect(names.get('down_blocks.1.attentions.0.proj_in.weight')).toEqual([64, 64]);
    expect(names.has('down_blocks.1.attentions.0.transformer_blocks.1.attn2.to_k.weight')).toBe(true);
  });

  it('sd2 uses linear projections and 1024-wide cross-attention', () => {
    const names = new Map(unetParams(presetConfigs('sd2').unet).map((s) => [s.name, s.shape]));
    expect(names.get('down_blocks.0.attentions.0.proj_in.weight')).toEqual([320, 320]);
    expect(names.get('down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight')).toEqual([320, 1024]);
  });

  it('world keeps at least 4 channels per GroupNorm group in its VAE and UNet', () => {
    // One channel per group is an instance norm: it erases each feature map's per-image
    // mean. The first world model had that in the VAE (16 channels, 16 groups) and the
    // UNet's first and last blocks (32, 32): flat colours all decoded to one grey, and the
    // UNet could not predict the noise's per-channel mean. 150 VAE steps on flat colours:
    // 16 groups decoded pure green as (101,130,125); 4 groups as (43,203,83).
    const c = presetConfigs('world');
    for (const m of [c.vae!, c.unet]) for (const ch of m.blockOutChannels) expect(ch / m.normNumGroups).toBeGreaterThanOrEqual(4);
  });

  it('maps presets to LoRA families', () => {
    expect(PRESET_IDS.map(presetFamily)).toEqual(['sd15', 'sd2', 'sdxl', 'sd15', 'sdxl', 'world']);
  });

  it('returns copies of the raw configs', () => {
    const raw = presetRawConfigs('sd15') as { unet: Record<string, unknown> };
    raw.unet['in_channels'] = 9;
    expect(presetConfigs('sd15').unet.inChannels).toBe(4);
    expect((presetRawConfigs('sd15').unet as Record<string, unknown>)['in_channels']).toBe(4);
  });

  it('refuses an unknown preset', () => {
    let err: unknown;
    try {
      presetConfigs('sd3');
    } catch (e) {
      err = e;
    }
    expect(isZipbankError(err, 'model.unknown-preset')).toBe(true);
  });
});
