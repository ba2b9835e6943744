/**
 * Parsing of the three config.json kinds a Stable Diffusion pipeline folder holds,
 * and the cross-component checks that make a set of them one buildable pipeline.
 *
 * @example
 *   const cfgs = parsePipelineConfigs({ unet: unetJson, textEncoder: teJson, vae: vaeJson });
 *   cfgs.unet.crossAttentionDim[0] === cfgs.textEncoder!.hiddenSize; // true (checked)
 */
import { ZipbankError } from '../../errors/index.ts';
import { parseClipTextConfig, type ClipTextConfig } from './clip/config.ts';
import { parseUNetConfig, type UNetConfig } from './unet/config.ts';
import { parseVaeConfig, type VaeConfig } from './vae/config.ts';

export { parseUNetConfig, type UNetConfig } from './unet/config.ts';
export { parseClipTextConfig, type ClipTextConfig } from './clip/config.ts';
export { parseVaeConfig, type VaeConfig } from './vae/config.ts';

/** Components of a pipeline, keyed as in code (model_index.json uses snake_case folder names). */
export type ComponentKey = 'unet' | 'textEncoder' | 'textEncoder2' | 'vae';

/** The diffusers folder name of each component. */
export const COMPONENT_FOLDERS: Readonly<Record<ComponentKey, string>> = {
  unet: 'unet',
  textEncoder: 'text_encoder',
  textEncoder2: 'text_encoder_2',
  vae: 'vae',
};

export interface RawPipelineConfigs {
  unet: unknown;
  textEncoder?: unknown;
  textEncoder2?: unknown;
  vae?: unknown;
}

export interface PipelineConfigs {
  unet: UNetConfig;
  textEncoder?: ClipTextConfig;
  textEncoder2?: ClipTextConfig;
  vae?: VaeConfig;
}

/**
 * Parses each present component and checks they fit together: the UNet's
 * cross_attention_dim equals the text encoders' summed hidden sizes, SDXL's text_time
 * input width equals text_encoder_2's projection_dim + 6 (base; 5 for the refiner's
 * aesthetic-score conditioning) * addition_time_embed_dim,
 * and the VAE's latent_channels equals the UNet's out_channels.
 * `label` prefixes file names in errors (e.g. the folder or preset).
 */
export function parsePipelineConfigs(raw: RawPipelineConfigs, label = ''): PipelineConfigs {
  const file = (k: ComponentKey) => `${label ? label + '/' : ''}${COMPONENT_FOLDERS[k]}/config.json`;
  const out: PipelineConfigs = { unet: parseUNetConfig(raw.unet, file('unet')) };
  if (raw.textEncoder != null) out.textEncoder = parseClipTextConfig(raw.textEncoder, file('textEncoder'));
  if (raw.textEncoder2 != null) out.textEncoder2 = parseClipTextConfig(raw.textEncoder2, file('textEncoder2'));
  if (raw.vae != null) out.vae = parseVaeConfig(raw.vae, file('vae'));
  checkPipeline(out, label || 'pipeline');
  return out;
}

function checkPipeline(c: PipelineConfigs, label: string): void {
  const bad = (reason: string) => new ZipbankError('model.inconsistent-config', { file: label, reason });
  const encoders = [c.textEncoder, c.textEncoder2].filter((e): e is ClipTextConfig => e !== undefined);
  if (encoders.length > 0) {
    const width = encoders.reduce((a, e) => a + e.hiddenSize, 0);
    c.unet.crossAttentionDim.forEach((d, i) => {
      if (d !== width) {
        throw bad(`unet cross_attention_dim[${i}] = ${d} but the text encoders' hidden sizes sum to ${width}`);
      }
    });
  }
  const add = c.unet.addition;
  if (add && c.textEncoder2) {
    const timeIds = (add.projectionInputDim - c.textEncoder2.projectionDim) / add.timeEmbedDim;
    if (timeIds !== 6 && timeIds !== 5) {
      throw bad(
        `unet projection_class_embeddings_input_dim = ${add.projectionInputDim}, expected text_encoder_2 projection_dim ` +
          `${c.textEncoder2.projectionDim} + 6 (base) or 5 (refiner) * addition_time_embed_dim ${add.timeEmbedDim}`,
      );
    }
  }
  if (add && encoders.length > 0 && !c.textEncoder2) {
    throw bad('the unet uses text_time conditioning (SDXL) but there is no text_encoder_2 to give pooled text embeddings');
  }
  if (c.vae && c.vae.latentChannels !== c.unet.outChannels) {
    throw bad(`vae latent_channels = ${c.vae.latentChannels} but unet out_channels = ${c.unet.outChannels}`);
  }
}
