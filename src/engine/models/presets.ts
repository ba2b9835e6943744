/**
 * Embedded pipeline configs. `sd15` and `sdxl` are the official diffusers config.json
 * files (byte copies); `sd2` is SD 2.1 (OpenCLIP ViT-H text encoder, linear
 * projections, v-prediction era UNet); `tiny-sd15` / `tiny-sdxl` are test-sized models
 * with the same block structure (real CLIP vocabulary, 77 positions); `world` is the
 * bundled model's architecture (SD 1.5 family, 64x64 pixels, 16x16 latents), trained
 * from scratch on the procedural world (src/world, src/engine/train/world.ts).
 *
 * @example
 *   const cfgs = presetConfigs('tiny-sdxl');
 *   cfgs.textEncoder2!.architecture; // 'CLIPTextModelWithProjection'
 *   presetFamily('tiny-sdxl');       // 'sdxl'
 */
import { ZipbankError } from '../../errors/index.ts';
import { parsePipelineConfigs, type PipelineConfigs, type RawPipelineConfigs } from './config.ts';
import sd15Unet from './presets/sd15/unet.json' with { type: 'json' };
import sd15Te from './presets/sd15/text_encoder.json' with { type: 'json' };
import sd15Vae from './presets/sd15/vae.json' with { type: 'json' };
import sd2Unet from './presets/sd2/unet.json' with { type: 'json' };
import sd2Te from './presets/sd2/text_encoder.json' with { type: 'json' };
import sd2Vae from './presets/sd2/vae.json' with { type: 'json' };
import sdxlUnet from './presets/sdxl/unet.json' with { type: 'json' };
import sdxlTe from './presets/sdxl/text_encoder.json' with { type: 'json' };
import sdxlTe2 from './presets/sdxl/text_encoder_2.json' with { type: 'json' };
import sdxlVae from './presets/sdxl/vae.json' with { type: 'json' };
import tinySd15Unet from './presets/tiny-sd15/unet.json' with { type: 'json' };
import tinySd15Te from './presets/tiny-sd15/text_encoder.json' with { type: 'json' };
import tinySd15Vae from './presets/tiny-sd15/vae.json' with { type: 'json' };
import tinySdxlUnet from './presets/tiny-sdxl/unet.json' with { type: 'json' };
import tinySdxlTe from './presets/tiny-sdxl/text_encoder.json' with { type: 'json' };
import tinySdxlTe2 from './presets/tiny-sdxl/text_encoder_2.json' with { type: 'json' };
import tinySdxlVae from './presets/tiny-sdxl/vae.json' with { type: 'json' };
import worldUnet from './presets/world/unet.json' with { type: 'json' };
import worldTe from './presets/world/text_encoder.json' with { type: 'json' };
import worldVae from './presets/world/vae.json' with { type: 'json' };

export const PRESET_IDS = ['sd15', 'sd2', 'sdxl', 'tiny-sd15', 'tiny-sdxl', 'world'] as const;
export type PresetId = (typeof PRESET_IDS)[number];

/** The LoRA-compatibility family of each preset. */
const FAMILY = {
  sd15: 'sd15',
  sd2: 'sd2',
  sdxl: 'sdxl',
  'tiny-sd15': 'sd15',
  'tiny-sdxl': 'sdxl',
  world: 'world',
} as const satisfies Record<PresetId, 'sd15' | 'sd2' | 'sdxl' | 'world'>;

const RAW: Readonly<Record<PresetId, RawPipelineConfigs>> = {
  sd15: { unet: sd15Unet, textEncoder: sd15Te, vae: sd15Vae },
  sd2: { unet: sd2Unet, textEncoder: sd2Te, vae: sd2Vae },
  sdxl: { unet: sdxlUnet, textEncoder: sdxlTe, textEncoder2: sdxlTe2, vae: sdxlVae },
  'tiny-sd15': { unet: tinySd15Unet, textEncoder: tinySd15Te, vae: tinySd15Vae },
  'tiny-sdxl': { unet: tinySdxlUnet, textEncoder: tinySdxlTe, textEncoder2: tinySdxlTe2, vae: tinySdxlVae },
  world: { unet: worldUnet, textEncoder: worldTe, vae: worldVae },
};

const parsed = new Map<PresetId, PipelineConfigs>();

export function isPresetId(id: string): id is PresetId {
  return (PRESET_IDS as readonly string[]).includes(id);
}

function check(id: string): PresetId {
  if (!isPresetId(id)) throw new ZipbankError('model.unknown-preset', { preset: id, known: PRESET_IDS });
  return id;
}

/** The preset's config.json contents (deep copies, safe to modify). */
export function presetRawConfigs(id: string): RawPipelineConfigs {
  return structuredClone(RAW[check(id)]);
}

/** The preset's parsed and cross-checked configs (cached; treat as read-only). */
export function presetConfigs(id: string): PipelineConfigs {
  const p = check(id);
  let c = parsed.get(p);
  if (!c) {
    c = parsePipelineConfigs(RAW[p], `preset ${p}`);
    parsed.set(p, c);
  }
  return c;
}

export function presetFamily(id: string): 'sd15' | 'sd2' | 'sdxl' | 'world' {
  return FAMILY[check(id)];
}
