import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { moduleTable } from '../../../src/engine/models/modules.ts';
import { kohyaIndex, kohyaName } from '../../../src/engine/lora/formats/kohya.ts';
import {
  diffusersToSgm,
  layoutOf,
  SD1_LAYOUT,
  SDXL_LAYOUT,
  sgmKohyaToDiffusers,
  sgmToDiffusers,
} from '../../../src/engine/lora/keymap-sdxl.ts';
import { fixture } from '../../support/paths.ts';

const rows = readFileSync(fixture('keymaps/sdxl_lora_module_map.tsv'), 'utf8')
  .trim()
  .split('\n')
  .slice(1)
  .map((l) => l.split('\t') as [string, string, string, string, string]);

describe('SDXL LoRA module map (every row of sdxl_lora_module_map.tsv)', () => {
  const table = moduleTable('sdxl');
  const index = kohyaIndex(table, 'sdxl');

  it('has the rows we expect', () => {
    expect(rows.length).toBe(986);
  });

  it('computes kohya name -> diffusers module for every row', () => {
    const wrong = rows.filter(([kohya, diffusers]) => index.get(kohya) !== diffusers);
    expect(wrong).toEqual([]);
  });

  it('computes diffusers module -> kohya name and SGM module for every row', () => {
    const wrong = rows.filter(([kohya, diffusers, sgm]) => {
      if (kohyaName(diffusers, 'sdxl') !== kohya) return true;
      if (!diffusers.startsWith('unet.')) return sgm !== '';
      return `model.diffusion_model.${diffusersToSgm(diffusers.slice(5))}` !== sgm;
    });
    expect(wrong).toEqual([]);
  });

  it('maps SGM -> diffusers for every UNet row, and agrees with the in/out features', () => {
    for (const [, diffusers, sgm, inF, outF] of rows) {
      if (!sgm) continue;
      expect(`unet.${sgmToDiffusers(sgm.slice('model.diffusion_model.'.length))}`).toBe(diffusers);
      const shape = table.get(diffusers)!;
      expect([shape.inFeatures, shape.outFeatures]).toEqual([Number(inF), Number(outF)]);
    }
  });
});

describe('stable_diffusion_locon_sdxl.json (kohya SGM names -> kohya diffusers names)', () => {
  const map = JSON.parse(readFileSync(fixture('keymaps/stable_diffusion_locon_sdxl.json'), 'utf8')).ldm_diffusers_keymap as Record<string, string>;
  const modules = new Map<string, string>();
  for (const [k, v] of Object.entries(map)) {
    const strip = (s: string) => s.replace(/\.(alpha|lora_down\.weight|lora_up\.weight)$/, '');
    modules.set(strip(k), strip(v));
  }

  it('maps every module (resnets, norms, samplers, embeddings, attentions)', () => {
    expect(modules.size).toBe(1050);
    const wrong: string[] = [];
    for (const [sgm, diff] of modules) {
      const d = sgmKohyaToDiffusers(sgm.slice('lora_unet_'.length));
      if (d === undefined || `lora_unet_${d.replace(/\./g, '_')}` !== diff) wrong.push(`${sgm} -> ${d} (expected ${diff})`);
    }
    expect(wrong).toEqual([]);
  });

  it('round-trips diffusers -> SGM -> diffusers for every linear and conv of the SDXL and SD 1.5 UNets', () => {
    for (const [family, layout] of [['sdxl', SDXL_LAYOUT], ['sd15', SD1_LAYOUT]] as const) {
      for (const target of moduleTable(family).keys()) {
        if (!target.startsWith('unet.')) continue;
        const path = target.slice(5);
        const sgm = diffusersToSgm(path, layout);
        expect(sgm, path).toBeDefined();
        expect(sgmToDiffusers(sgm!, layout)).toBe(path);
      }
    }
  });
});

describe('layoutOf', () => {
  it.each([
    ['sdxl', SDXL_LAYOUT],
    ['sd15', SD1_LAYOUT],
  ] as const)('reads the %s block layout from its module table', (family, layout) => {
    expect(layoutOf(moduleTable(family).keys())).toEqual(layout);
  });

  it.each([
    ['output_blocks.2.1.conv', SD1_LAYOUT, 'up_blocks.0.upsamplers.0.conv'],
    ['output_blocks.2.2.conv', SDXL_LAYOUT, 'up_blocks.0.upsamplers.0.conv'],
    ['input_blocks.3.0.op', SDXL_LAYOUT, 'down_blocks.0.downsamplers.0.conv'],
    ['input_blocks.1.1.proj_in', SDXL_LAYOUT, undefined],
    ['middle_block.2.out_layers.3', SDXL_LAYOUT, 'mid_block.resnets.1.conv2'],
    ['label_emb.0.2', SDXL_LAYOUT, 'add_embedding.linear_2'],
  ])('sgmToDiffusers(%s)', (sgm, layout, expected) => {
    expect(sgmToDiffusers(sgm, layout)).toBe(expected);
  });
});
