import { describe, expect, it } from 'vitest';
import { parseUNetConfig, parseVaeConfig } from '../../../src/engine/models/config.ts';
import { countParameters, numel } from '../../../src/engine/models/params.ts';
import { presetRawConfigs } from '../../../src/engine/models/presets.ts';
import { unetParams } from '../../../src/engine/models/unet/params.ts';
import { vaeParams } from '../../../src/engine/models/vae/params.ts';

const sd15 = presetRawConfigs('sd15') as { unet: Record<string, unknown>; vae: Record<string, unknown> };
const names = (specs: { name: string }[]) => specs.map((s) => s.name);

describe('config variants change the specs as diffusers does', () => {
  it('mid_block_type null drops the mid block', () => {
    const full = unetParams(parseUNetConfig(sd15.unet));
    const none = unetParams(parseUNetConfig({ ...sd15.unet, mid_block_type: null }));
    expect(names(none).some((n) => n.startsWith('mid_block.'))).toBe(false);
    expect(full.length - none.length).toBe(names(full).filter((n) => n.startsWith('mid_block.')).length);
  });

  it('time_embedding_dim and conv kernels reshape their tensors', () => {
    const specs = new Map(
      unetParams(parseUNetConfig({ ...sd15.unet, time_embedding_dim: 640, conv_in_kernel: 1, conv_out_kernel: 5 })).map((s) => [s.name, s.shape]),
    );
    expect(specs.get('time_embedding.linear_2.weight')).toEqual([640, 640]);
    expect(specs.get('down_blocks.0.resnets.0.time_emb_proj.weight')).toEqual([320, 640]);
    expect(specs.get('conv_in.weight')).toEqual([320, 4, 1, 1]);
    expect(specs.get('conv_out.weight')).toEqual([4, 320, 5, 5]);
  });

  it('per-block layers_per_block and cross_attention_dim', () => {
    const specs = new Map(
      unetParams(parseUNetConfig({ ...sd15.unet, layers_per_block: [1, 2, 2, 3], cross_attention_dim: [768, 768, 768, 1024] })).map((s) => [s.name, s.shape]),
    );
    expect(specs.has('down_blocks.0.resnets.1.conv1.weight')).toBe(false);
    expect(specs.has('down_blocks.3.resnets.2.conv1.weight')).toBe(true);
    expect(specs.has('up_blocks.0.resnets.3.conv1.weight')).toBe(true);
    expect(specs.has('up_blocks.3.resnets.2.conv1.weight')).toBe(false);
    expect(specs.get('mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight')).toEqual([1280, 1024]);
  });

  it('VAE without quant convs or mid attention', () => {
    const full = vaeParams(parseVaeConfig(sd15.vae));
    const lean = vaeParams(parseVaeConfig({ ...sd15.vae, use_quant_conv: false, use_post_quant_conv: false, mid_block_add_attention: false }));
    expect(full.length - lean.length).toBe(4 + 2 * 10);
    expect(names(lean).filter((n) => n.includes('quant_conv') || n.includes('attentions'))).toEqual([]);
  });

  it('counts parameters', () => {
    expect(numel([2, 3, 4])).toBe(24);
    expect(numel([])).toBe(1);
    expect(countParameters([{ name: 'a', shape: [2, 3] }, { name: 'b', shape: [4] }])).toBe(10);
  });
});
