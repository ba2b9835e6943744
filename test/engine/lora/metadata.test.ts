import { describe, expect, it } from 'vitest';
import { familyFromText, summarizeMetadata } from '../../../src/engine/lora/metadata.ts';
import { readSafetensorsHeader } from '../../../src/engine/weights/safetensors.ts';
import { fixture } from '../../support/paths.ts';

describe('familyFromText', () => {
  it.each([
    ['sd_1.5', 'sd15'],
    ['sd_v1', 'sd15'],
    ['stable-diffusion-v1/lora', 'sd15'],
    ['sd_v2', 'sd2'],
    ['sd_2.1', 'sd2'],
    ['stable-diffusion-v2-768-v', 'sd2'],
    ['sdxl_base_v1-0', 'sdxl'],
    ['stable-diffusion-xl-v1-base/lora', 'sdxl'],
    ['stable-diffusion-xl-v1-refiner', 'other'],
    ['flux-1-dev/lora', 'other'],
    ['stable-diffusion-v3-medium', 'other'],
    ['mystery', undefined],
  ])('%s -> %s', (text, family) => {
    expect(familyFromText(text)).toBe(family);
  });
});

describe('summarizeMetadata', () => {
  it('reads the kohya keys of the LoKr fixture', async () => {
    const h = await readSafetensorsHeader(fixture('lora', 'sd1_kohya-lycoris-lokr_dim4_smart_falcon.safetensors'));
    const { summary, warnings } = summarizeMetadata(h.metadata);
    expect(warnings).toEqual([]);
    expect(summary).toMatchObject({
      title: 'smart_falcon_lokr_3.0e-4',
      outputName: 'smart_falcon_lokr_3.0e-4',
      networkModule: 'lycoris.kohya',
      networkDim: 4,
      networkAlpha: 4,
      networkArgs: { conv_rank: '4', conv_alpha: '4', algo: 'lokr' },
      resolution: '768x768',
      sdModelName: 'animefull-final-pruned.safetensors',
      trainingComment: 'trigger word is smart falcon \\(umamusume\\)',
      baseModelClaim: 'ss_v2 = False',
      claimedFamily: 'sd15',
      hasThumbnail: false,
    });
    expect(summary.triggerWords[0]).toBe('smart falcon (umamusume)');
    expect(summary.topTags.slice(0, 2)).toEqual([{ tag: 'smart falcon \\(umamusume\\)', count: 130 }, { tag: 'hair bow', count: 129 }]);
    expect(summary.topTags.length).toBe(10);
  });

  it('reads modelspec keys, flags a thumbnail without copying it', () => {
    const { summary } = summarizeMetadata({
      'modelspec.architecture': 'stable-diffusion-xl-v1-base/lora',
      'modelspec.title': 'Watercolor',
      'modelspec.author': 'Ana',
      'modelspec.description': 'soft washes',
      'modelspec.license': 'CreativeML Open RAIL++-M',
      'modelspec.trigger_phrase': 'wtrclr style, soft',
      'modelspec.resolution': '1024x1024',
      'modelspec.thumbnail': 'data:image/jpeg;base64,/9j/4AAQSkZJRgABAQ',
      'modelspec.tags': 'style, watercolor',
    });
    expect(summary).toEqual({
      title: 'Watercolor',
      author: 'Ana',
      description: 'soft washes',
      license: 'CreativeML Open RAIL++-M',
      triggerWords: ['wtrclr style', 'soft'],
      baseModelClaim: 'stable-diffusion-xl-v1-base/lora (modelspec.architecture)',
      claimedFamily: 'sdxl',
      resolution: '1024x1024',
      tags: ['style', 'watercolor'],
      topTags: [],
      hasThumbnail: true,
    });
    expect(JSON.stringify(summary)).not.toContain('base64');
  });

  it('takes the instance token of a caption-less kohya folder as the trigger', () => {
    const { summary } = summarizeMetadata({ ss_tag_frequency: '{"10_zkz dog": {}}', ss_dataset_dirs: '{"10_zkz dog": {"n_repeats": 10, "img_count": 12}}' });
    expect(summary.triggerWords).toEqual(['zkz dog']);
  });

  it.each([
    ['ss_tag_frequency', '{"a": {'],
    ['ss_network_args', 'conv_dim=4'],
    ['ss_dataset_dirs', '[1, 2'],
  ])('tolerates malformed JSON in %s', (key, value) => {
    const { summary, warnings } = summarizeMetadata({ [key]: value, ss_network_dim: '8' });
    expect(summary.networkDim).toBe(8);
    expect(warnings).toEqual([`metadata ${key} is not valid JSON; ignored`]);
  });

  it('treats None and empty values as absent', () => {
    const { summary } = summarizeMetadata({ ss_network_alpha: 'None', ss_output_name: '  ', ss_resolution: '512' });
    expect(summary.networkAlpha).toBeUndefined();
    expect(summary.title).toBeUndefined();
    expect(summary.resolution).toBe('512x512');
  });
});
