/**
 * Architecture summary: tensor and parameter counts per component, from configs alone
 * (no weights needed).
 *
 * @example
 *   const s = inspectArchitecture(presetConfigs('sd15'));
 *   s.components[0]; // { component: 'unet', folder: 'unet', className: 'UNet2DConditionModel', tensors: 686, parameters: 859520964 }
 */
import { clipTextParams } from './clip/params.ts';
import { COMPONENT_FOLDERS, type ComponentKey, type PipelineConfigs } from './config.ts';
import { countParameters, type ParamSpec } from './params.ts';
import { unetParams } from './unet/params.ts';
import { vaeParams } from './vae/params.ts';

export interface ComponentSummary {
  component: ComponentKey;
  /** The diffusers folder name, e.g. 'text_encoder_2'. */
  folder: string;
  className: string;
  tensors: number;
  parameters: number;
}

export interface ArchitectureSummary {
  components: ComponentSummary[];
  total: { tensors: number; parameters: number };
}

/** Every parameter spec of each present component, in pipeline order. */
export function componentParams(cfgs: PipelineConfigs): { component: ComponentKey; className: string; specs: ParamSpec[] }[] {
  const out: { component: ComponentKey; className: string; specs: ParamSpec[] }[] = [
    { component: 'unet', className: 'UNet2DConditionModel', specs: unetParams(cfgs.unet) },
  ];
  if (cfgs.textEncoder) out.push({ component: 'textEncoder', className: cfgs.textEncoder.architecture, specs: clipTextParams(cfgs.textEncoder) });
  if (cfgs.textEncoder2) out.push({ component: 'textEncoder2', className: cfgs.textEncoder2.architecture, specs: clipTextParams(cfgs.textEncoder2) });
  if (cfgs.vae) out.push({ component: 'vae', className: 'AutoencoderKL', specs: vaeParams(cfgs.vae) });
  return out;
}

export function inspectArchitecture(cfgs: PipelineConfigs): ArchitectureSummary {
  const components = componentParams(cfgs).map(({ component, className, specs }) => ({
    component,
    folder: COMPONENT_FOLDERS[component],
    className,
    tensors: specs.length,
    parameters: countParameters(specs),
  }));
  return {
    components,
    total: {
      tensors: components.reduce((a, c) => a + c.tensors, 0),
      parameters: components.reduce((a, c) => a + c.parameters, 0),
    },
  };
}
