/**
 * Seeded random LoRAs for tests and benchmarks: the same options give the same
 * bytes. `attn` adapts to_q/to_k/to_v/to_out.0 of every UNet attention (q/k/v/out_proj
 * in text encoders); `all` adapts every Linear and Conv2d, of the UNet unless
 * `components` names others.
 *
 * @example
 *   const lora = randomLora({ family: 'sd15', rank: 4, targets: 'attn', seed: 1 });
 *   await writeLora('rand.safetensors', lora, 'kohya');
 */
import { moduleTable, type BaseFamily, type ModuleShape } from '../models/modules.ts';
import type { Component } from './types.ts';
import type { LoraToWrite, ModuleToWrite } from './write.ts';

export interface RandomLoraOptions {
  family: BaseFamily;
  rank: number;
  /** Default 'attn'. */
  targets?: 'attn' | 'all';
  seed: number;
  /** Default = rank. */
  alpha?: number;
  dtype?: 'F32' | 'F16' | 'BF16';
  /** Module table to draw targets from (default the family's preset). */
  table?: Map<string, ModuleShape>;
  /** Components to adapt. Default ['unet']. */
  components?: readonly Component[];
}

/** mulberry32: a small, fast, seedable 32-bit generator. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(next: () => number, n: number, std: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(next(), 1e-12);
    const v = next();
    const r = Math.sqrt(-2 * Math.log(u)) * std;
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

const ATTN: Record<Component, RegExp> = {
  unet: /\.attn[12]\.(to_q|to_k|to_v|to_out\.0)$/,
  text_encoder: /\.self_attn\.(q|k|v|out)_proj$/,
  text_encoder_2: /\.self_attn\.(q|k|v|out)_proj$/,
};

/** A seeded LoRA with ss_* metadata, ready for `writeLora`. */
export function randomLora(opts: RandomLoraOptions): LoraToWrite {
  if (!Number.isInteger(opts.rank) || opts.rank < 1) throw new RangeError(`randomLora: rank must be a positive integer, got ${opts.rank}`);
  const table = opts.table ?? moduleTable(opts.family);
  const targets = opts.targets ?? 'attn';
  const alpha = opts.alpha ?? opts.rank;
  const components = opts.components ?? ['unet'];
  const next = rng(opts.seed);
  const modules: ModuleToWrite[] = [];
  for (const [target, base] of table) {
    const component = components.find((c) => target.startsWith(`${c}.`));
    if (!component || (targets === 'attn' && !ATTN[component].test(target))) continue;
    const inFlat = base.inFeatures * base.kernel[0] * base.kernel[1];
    const rank = Math.min(opts.rank, base.outFeatures, inFlat);
    modules.push({
      target,
      base,
      rank,
      alpha,
      down: gaussian(next, rank * inFlat, 1 / Math.sqrt(inFlat)),
      up: gaussian(next, base.outFeatures * rank, 0.05 / Math.sqrt(rank)),
    });
  }
  const metadata: Record<string, string> = {
    ss_network_module: 'networks.lora',
    ss_network_dim: String(opts.rank),
    ss_network_alpha: String(alpha),
    ss_base_model_version: { sd15: 'sd_v1', sd2: 'sd_v2', sdxl: 'sdxl_base_v1-0', world: 'zipbank-world' }[opts.family],
    ss_output_name: `random_${opts.family}_r${opts.rank}_${targets}_s${opts.seed}`,
    ss_seed: String(opts.seed),
    ss_training_comment: 'random LoRA written by zipbank for tests and benchmarks',
  };
  if (targets === 'all') metadata['ss_network_args'] = JSON.stringify({ conv_dim: String(opts.rank), conv_alpha: String(alpha) });
  return { family: opts.family, modules, metadata, ...(opts.dtype ? { dtype: opts.dtype } : {}) };
}
