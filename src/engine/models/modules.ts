/**
 * Module tables for LoRA detection and injection: every Linear and Conv2d of a
 * family's UNet and text encoder(s), keyed by component-prefixed diffusers module
 * path, with its weight shape. Derived from the parameter specs, so they are exact
 * for any config.
 *
 * @example
 *   const t = moduleTable('sdxl');
 *   t.get('unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k');
 *   // { kind: 'linear', outFeatures: 640, inFeatures: 2048, kernel: [1, 1] }
 *   t.get('text_encoder_2.text_model.encoder.layers.0.mlp.fc1');
 *   // { kind: 'linear', outFeatures: 5120, inFeatures: 1280, kernel: [1, 1] }
 */
import { clipTextParams } from './clip/params.ts';
import { parseClipTextConfig, parseUNetConfig } from './config.ts';
import type { ParamSpec } from './params.ts';
import { presetConfigs } from './presets.ts';
import { unetParams } from './unet/params.ts';

/** LoRA-compatibility families: Stable Diffusion 1.x, 2.x, XL, and the bundled world model (SD 1.5's architecture at a small width). */
export type BaseFamily = 'sd15' | 'sd2' | 'sdxl' | 'world';

export interface ModuleShape {
  kind: 'linear' | 'conv';
  outFeatures: number;
  inFeatures: number;
  /** [1, 1] for linear. */
  kernel: [number, number];
}

const cache = new Map<BaseFamily, Map<string, ModuleShape>>();

/**
 * Every Linear and Conv2d weight of the family's UNet and text encoder(s), keyed by
 * component-prefixed diffusers module path, e.g.
 * 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q',
 * 'unet.down_blocks.0.resnets.0.conv1',
 * 'text_encoder.text_model.encoder.layers.0.self_attn.q_proj',
 * 'text_encoder_2.text_model.encoder.layers.0.mlp.fc1'. Cached.
 */
export function moduleTable(family: BaseFamily): Map<string, ModuleShape> {
  let t = cache.get(family);
  if (!t) {
    const c = presetConfigs(family);
    t = new Map();
    addModules(t, 'unet', unetParams(c.unet));
    if (c.textEncoder) addModules(t, 'text_encoder', clipTextParams(c.textEncoder));
    if (c.textEncoder2) addModules(t, 'text_encoder_2', clipTextParams(c.textEncoder2));
    cache.set(family, t);
  }
  return t;
}

/** The same for any preset or a loaded model's configs (raw config.json contents; absent or null encoders are skipped). */
export function moduleTableFromConfigs(cfg: { unet: unknown; textEncoder?: unknown; textEncoder2?: unknown }): Map<string, ModuleShape> {
  const t = new Map<string, ModuleShape>();
  addModules(t, 'unet', unetParams(parseUNetConfig(cfg.unet)));
  if (cfg.textEncoder != null) {
    addModules(t, 'text_encoder', clipTextParams(parseClipTextConfig(cfg.textEncoder, 'text_encoder/config.json')));
  }
  if (cfg.textEncoder2 != null) {
    addModules(t, 'text_encoder_2', clipTextParams(parseClipTextConfig(cfg.textEncoder2, 'text_encoder_2/config.json')));
  }
  return t;
}

/** Adds each 2-D (linear) and 4-D (conv) `.weight` of `specs`, skipping embeddings. */
export function addModules(table: Map<string, ModuleShape>, prefix: string, specs: readonly ParamSpec[]): void {
  for (const { name, shape } of specs) {
    if (!name.endsWith('.weight')) continue;
    const module = name.slice(0, -'.weight'.length);
    if (module.endsWith('_embedding')) continue;
    const [out, inp, kh, kw] = shape;
    if (shape.length === 2) {
      table.set(`${prefix}.${module}`, { kind: 'linear', outFeatures: out!, inFeatures: inp!, kernel: [1, 1] });
    } else if (shape.length === 4) {
      table.set(`${prefix}.${module}`, { kind: 'conv', outFeatures: out!, inFeatures: inp!, kernel: [kh!, kw!] });
    }
  }
}
