import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { moduleTable, moduleTableFromConfigs, type BaseFamily, type ModuleShape } from '../../../src/engine/models/modules.ts';
import { presetRawConfigs } from '../../../src/engine/models/presets.ts';
import { fixtures } from './shapes-fixture.ts';

const lin = (outFeatures: number, inFeatures: number): ModuleShape => ({ kind: 'linear', outFeatures, inFeatures, kernel: [1, 1] });
const conv = (outFeatures: number, inFeatures: number, k: number): ModuleShape => ({ kind: 'conv', outFeatures, inFeatures, kernel: [k, k] });

const rows: [BaseFamily, string, ModuleShape | undefined][] = [
  ['sd15', 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q', lin(320, 320)],
  ['sd15', 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k', lin(320, 768)],
  ['sd15', 'unet.down_blocks.0.attentions.0.proj_in', conv(320, 320, 1)],
  ['sd15', 'unet.down_blocks.0.resnets.0.conv1', conv(320, 320, 3)],
  ['sd15', 'unet.down_blocks.1.resnets.0.conv_shortcut', conv(640, 320, 1)],
  ['sd15', 'unet.up_blocks.3.attentions.2.transformer_blocks.0.ff.net.0.proj', lin(2560, 320)],
  ['sd15', 'unet.time_embedding.linear_1', lin(1280, 320)],
  ['sd15', 'unet.conv_in', conv(320, 4, 3)],
  ['sd15', 'text_encoder.text_model.encoder.layers.0.self_attn.q_proj', lin(768, 768)],
  ['sd15', 'text_encoder.text_model.encoder.layers.11.mlp.fc2', lin(768, 3072)],
  ['sd15', 'text_encoder.text_model.embeddings.token_embedding', undefined],
  ['sd15', 'text_encoder.text_model.final_layer_norm', undefined],
  ['sd15', 'unet.conv_norm_out', undefined],
  ['sd15', 'text_encoder_2.text_model.encoder.layers.0.mlp.fc1', undefined],
  ['sd2', 'unet.down_blocks.0.attentions.0.proj_in', lin(320, 320)],
  ['sd2', 'unet.mid_block.attentions.0.transformer_blocks.0.attn2.to_v', lin(1280, 1024)],
  ['sd2', 'text_encoder.text_model.encoder.layers.22.mlp.fc1', lin(4096, 1024)],
  ['sdxl', 'unet.down_blocks.2.attentions.1.transformer_blocks.9.attn2.to_k', lin(1280, 2048)],
  ['sdxl', 'unet.add_embedding.linear_1', lin(1280, 2816)],
  ['sdxl', 'text_encoder_2.text_model.encoder.layers.0.mlp.fc1', lin(5120, 1280)],
  ['sdxl', 'text_encoder_2.text_projection', lin(1280, 1280)],
];

describe('moduleTable', () => {
  it.each(rows)('%s %s', (family, module, shape) => {
    expect(moduleTable(family).get(module)).toEqual(shape);
  });

  it.each([
    ['sd15', 354],
    ['sd2', 420],
    ['sdxl', 1059],
  ] as const)('%s has %i Linear/Conv2d modules, none of them norms or embeddings', (family, size) => {
    const t = moduleTable(family);
    expect(t.size).toBe(size);
    expect([...t.keys()].filter((k) => /norm|embedding$/.test(k.split('.').at(-1)!))).toEqual([]);
  });

  it('is cached', () => {
    expect(moduleTable('sdxl')).toBe(moduleTable('sdxl'));
  });

  it('agrees with the SDXL kohya/diffusers LoRA module map (every module, in/out features)', () => {
    const lines = readFileSync(new URL('../keymaps/sdxl_lora_module_map.tsv', fixtures), 'utf8').trim().split('\n').slice(1);
    expect(lines).toHaveLength(986);
    const t = moduleTable('sdxl');
    const wrong = lines
      .map((l) => l.split('\t'))
      .filter(([, module, , inF, outF]) => {
        const m = t.get(module!);
        return !m || m.inFeatures !== Number(inF) || m.outFeatures !== Number(outF);
      })
      .map(([, module, , inF, outF]) => `${module} in=${inF} out=${outF}: ${JSON.stringify(t.get(module!))}`);
    expect(wrong).toEqual([]);
  });
});

describe('moduleTableFromConfigs', () => {
  it.each([['sd15'], ['sd2'], ['sdxl']] as const)('equals moduleTable for the %s preset configs', (family) => {
    expect(moduleTableFromConfigs(presetRawConfigs(family))).toEqual(moduleTable(family));
  });

  it('covers a UNet alone', () => {
    const t = moduleTableFromConfigs({ unet: presetRawConfigs('tiny-sd15').unet });
    expect([...t.keys()].every((k) => k.startsWith('unet.'))).toBe(true);
    expect(t.get('unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k')).toEqual(lin(32, 32));
  });
});
