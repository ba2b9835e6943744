import { describe, expect, it } from 'vitest';
import { clipTextParams } from '../../../src/engine/models/clip/params.ts';
import { parseClipTextConfig, parseUNetConfig, parseVaeConfig } from '../../../src/engine/models/config.ts';
import type { ParamSpec } from '../../../src/engine/models/params.ts';
import { presetRawConfigs } from '../../../src/engine/models/presets.ts';
import { unetParams } from '../../../src/engine/models/unet/params.ts';
import { vaeParams } from '../../../src/engine/models/vae/params.ts';
import { diffSpecs, readJsonFixture, readShapes } from './shapes-fixture.ts';

const cases: { label: string; config: string; shapes: string; count: number; specs: (json: unknown) => ParamSpec[] }[] = [
  { label: 'SD 1.5 UNet', config: 'sd15/unet/config.json', shapes: 'sd15_unet_diffusers_shapes.tsv', count: 686, specs: (j) => unetParams(parseUNetConfig(j)) },
  { label: 'SDXL UNet', config: 'sdxl-base-1.0/unet/config.json', shapes: 'sdxl_unet_diffusers_shapes.tsv', count: 1680, specs: (j) => unetParams(parseUNetConfig(j)) },
  { label: 'SD 1.5 VAE', config: 'sd15/vae/config.json', shapes: 'vae_diffusers_shapes.tsv', count: 248, specs: (j) => vaeParams(parseVaeConfig(j)) },
  { label: 'SDXL VAE', config: 'sdxl-base-1.0/vae/config.json', shapes: 'vae_diffusers_shapes.tsv', count: 248, specs: (j) => vaeParams(parseVaeConfig(j)) },
  { label: 'SD 1.5 CLIP ViT-L', config: 'sd15/text_encoder/config.json', shapes: 'clip_vit_l_text_shapes.tsv', count: 196, specs: (j) => clipTextParams(parseClipTextConfig(j)) },
  { label: 'SDXL CLIP ViT-L', config: 'sdxl-base-1.0/text_encoder/config.json', shapes: 'clip_vit_l_text_shapes.tsv', count: 196, specs: (j) => clipTextParams(parseClipTextConfig(j)) },
  {
    label: 'SDXL OpenCLIP bigG with projection',
    config: 'sdxl-base-1.0/text_encoder_2/config.json',
    shapes: 'openclip_bigg_text_with_projection_shapes.tsv',
    count: 517,
    specs: (j) => clipTextParams(parseClipTextConfig(j), { withProjection: true }),
  },
];

describe('structural truth: param specs equal the official diffusers weight files', () => {
  it.each(cases)('$label: exactly the $count official tensors, every shape equal', ({ config, shapes, count, specs }) => {
    const expected = readShapes(shapes);
    expect(expected).toHaveLength(count);
    const actual = specs(readJsonFixture(config));
    expect(diffSpecs(actual, expected)).toEqual({ missing: [], extra: [], mismatched: [], duplicates: [] });
    expect(actual).toHaveLength(count);
  });

  it.each(cases)('$label: in the official files\' order', ({ config, shapes, specs }) => {
    expect(specs(readJsonFixture(config)).map((s) => s.name)).toEqual(readShapes(shapes).map((s) => s.name));
  });

  it('text_projection is absent without projection', () => {
    const specs = clipTextParams(parseClipTextConfig(readJsonFixture('sdxl-base-1.0/text_encoder_2/config.json')), { withProjection: false });
    expect(specs.map((s) => s.name)).not.toContain('text_projection.weight');
    expect(specs).toHaveLength(516);
  });
});

describe('embedded presets are the official configs', () => {
  const rows = [
    ['sd15', 'unet', 'sd15/unet/config.json'],
    ['sd15', 'textEncoder', 'sd15/text_encoder/config.json'],
    ['sd15', 'vae', 'sd15/vae/config.json'],
    ['sdxl', 'unet', 'sdxl-base-1.0/unet/config.json'],
    ['sdxl', 'textEncoder', 'sdxl-base-1.0/text_encoder/config.json'],
    ['sdxl', 'textEncoder2', 'sdxl-base-1.0/text_encoder_2/config.json'],
    ['sdxl', 'vae', 'sdxl-base-1.0/vae/config.json'],
  ] as const;
  it.each(rows)('%s %s equals %s', (preset, component, file) => {
    expect(presetRawConfigs(preset)[component]).toEqual(readJsonFixture(file));
  });
});
