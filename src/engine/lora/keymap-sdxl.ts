/**
 * UNet module names between diffusers paths and the original (SGM/LDM) block
 * numbering that single-file checkpoints and kohya's SDXL LoRAs use
 * (`input_blocks.4.1.transformer_blocks.0.attn1.to_q` is
 * `down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q`). Computed from the
 * block layout, not from a table.
 *
 * Layout facts: each down block holds `layers` resnets (+ attentions) and a
 * downsampler; SGM numbers them input_blocks 1.. with the downsampler as the next
 * index; up blocks hold `layers + 1` resnets and the upsampler sits after the last
 * resnet's attention (sub-index 2) or resnet (sub-index 1).
 *
 * @example
 *   diffusersToSgm('down_blocks.1.attentions.0.proj_in');  // 'input_blocks.4.1.proj_in'
 *   sgmToDiffusers('output_blocks.2.2.conv');               // 'up_blocks.0.upsamplers.0.conv'
 *   sgmKohyaToDiffusers('input_blocks_4_1_transformer_blocks_0_attn1_to_out_0');
 *   // 'down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_out.0'
 */

export interface UNetLayout {
  /** Resnets per down block (up blocks have one more). */
  layers: number;
  /** Whether each down / up block has attentions. */
  downAttn: readonly boolean[];
  upAttn: readonly boolean[];
}

export const SDXL_LAYOUT: UNetLayout = { layers: 2, downAttn: [false, true, true], upAttn: [true, true, false] };
export const SD1_LAYOUT: UNetLayout = { layers: 2, downAttn: [true, true, true, false], upAttn: [false, true, true, true] };

const RESNET_TO_SGM: Record<string, string> = {
  norm1: 'in_layers.0',
  conv1: 'in_layers.2',
  time_emb_proj: 'emb_layers.1',
  norm2: 'out_layers.0',
  conv2: 'out_layers.3',
  conv_shortcut: 'skip_connection',
};
const RESNET_FROM_SGM = Object.fromEntries(Object.entries(RESNET_TO_SGM).map(([k, v]) => [v, k]));

const TOP_TO_SGM: Record<string, string> = {
  conv_in: 'input_blocks.0.0',
  'time_embedding.linear_1': 'time_embed.0',
  'time_embedding.linear_2': 'time_embed.2',
  'add_embedding.linear_1': 'label_emb.0.0',
  'add_embedding.linear_2': 'label_emb.0.2',
  conv_norm_out: 'out.0',
  conv_out: 'out.2',
};
const TOP_FROM_SGM = Object.fromEntries(Object.entries(TOP_TO_SGM).map(([k, v]) => [v, k]));

function resnetPart(rest: string, toSgm: boolean): string | undefined {
  const table = toSgm ? RESNET_TO_SGM : RESNET_FROM_SGM;
  return table[rest];
}

/** A diffusers UNet module path (no `unet.` prefix) in SGM numbering, or undefined. */
export function diffusersToSgm(path: string, layout: UNetLayout = SDXL_LAYOUT): string | undefined {
  const top = TOP_TO_SGM[path];
  if (top) return top;
  const per = layout.layers + 1;
  let m = /^down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)$/.exec(path);
  if (m) {
    const idx = 1 + Number(m[1]) * per + Number(m[3]);
    if (m[2] === 'attentions') return `input_blocks.${idx}.1.${m[4]}`;
    const r = resnetPart(m[4]!, true);
    return r && `input_blocks.${idx}.0.${r}`;
  }
  m = /^down_blocks\.(\d+)\.downsamplers\.0\.conv$/.exec(path);
  if (m) return `input_blocks.${(Number(m[1]) + 1) * per}.0.op`;
  m = /^mid_block\.(resnets|attentions)\.(\d+)\.(.+)$/.exec(path);
  if (m) {
    if (m[1] === 'attentions') return m[2] === '0' ? `middle_block.1.${m[3]}` : undefined;
    const r = resnetPart(m[3]!, true);
    return r && `middle_block.${Number(m[2]) * 2}.${r}`;
  }
  m = /^up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)$/.exec(path);
  if (m) {
    const idx = Number(m[1]) * per + Number(m[3]);
    if (m[2] === 'attentions') return `output_blocks.${idx}.1.${m[4]}`;
    const r = resnetPart(m[4]!, true);
    return r && `output_blocks.${idx}.0.${r}`;
  }
  m = /^up_blocks\.(\d+)\.upsamplers\.0\.conv$/.exec(path);
  if (m) {
    const b = Number(m[1]);
    return `output_blocks.${b * per + layout.layers}.${layout.upAttn[b] ? 2 : 1}.conv`;
  }
  return undefined;
}

/** An SGM UNet module path (no `model.diffusion_model.` prefix) as a diffusers path, or undefined. */
export function sgmToDiffusers(path: string, layout: UNetLayout = SDXL_LAYOUT): string | undefined {
  const top = TOP_FROM_SGM[path];
  if (top) return top;
  const per = layout.layers + 1;
  let m = /^input_blocks\.(\d+)\.([01])\.(.+)$/.exec(path);
  if (m) {
    const idx = Number(m[1]) - 1;
    const b = Math.floor(idx / per);
    const l = idx % per;
    if (idx < 0 || b >= layout.downAttn.length) return undefined;
    if (l === layout.layers) return m[2] === '0' && m[3] === 'op' ? `down_blocks.${b}.downsamplers.0.conv` : undefined;
    if (m[2] === '1') return layout.downAttn[b] ? `down_blocks.${b}.attentions.${l}.${m[3]}` : undefined;
    const r = resnetPart(m[3]!, false);
    return r && `down_blocks.${b}.resnets.${l}.${r}`;
  }
  m = /^middle_block\.([012])\.(.+)$/.exec(path);
  if (m) {
    if (m[1] === '1') return `mid_block.attentions.0.${m[2]}`;
    const r = resnetPart(m[2]!, false);
    return r && `mid_block.resnets.${Number(m[1]) / 2}.${r}`;
  }
  m = /^output_blocks\.(\d+)\.([012])\.(.+)$/.exec(path);
  if (m) {
    const b = Math.floor(Number(m[1]) / per);
    const l = Number(m[1]) % per;
    if (b >= layout.upAttn.length) return undefined;
    const sub = Number(m[2]);
    if (m[3] === 'conv' && l === layout.layers && sub === (layout.upAttn[b] ? 2 : 1)) return `up_blocks.${b}.upsamplers.0.conv`;
    if (sub === 1) return layout.upAttn[b] ? `up_blocks.${b}.attentions.${l}.${m[3]}` : undefined;
    if (sub !== 0) return undefined;
    const r = resnetPart(m[3]!, false);
    return r && `up_blocks.${b}.resnets.${l}.${r}`;
  }
  return undefined;
}

/** Underscored attention-internal names -> dotted (the only places where '_' is ambiguous). */
function dotAttentionPart(s: string): string | undefined {
  if (s === 'norm' || s === 'proj_in' || s === 'proj_out') return s;
  const m = /^transformer_blocks_(\d+)_(.+)$/.exec(s);
  if (!m) return undefined;
  const inner = m[2]!;
  let d: string | undefined;
  const a = /^(attn[12])_(to_q|to_k|to_v|to_out_0)$/.exec(inner);
  if (a) d = `${a[1]}.${a[2] === 'to_out_0' ? 'to_out.0' : a[2]}`;
  else if (inner === 'ff_net_0_proj') d = 'ff.net.0.proj';
  else if (inner === 'ff_net_2') d = 'ff.net.2';
  else if (/^norm[123]$/.test(inner)) d = inner;
  return d && `transformer_blocks.${m[1]}.${d}`;
}

function dotResnetPart(s: string): string | undefined {
  const m = /^(in_layers|out_layers|emb_layers)_(\d+)$/.exec(s);
  if (m) return `${m[1]}.${m[2]}`;
  if (s === 'skip_connection' || s === 'op' || s === 'conv') return s;
  return undefined;
}

/** An underscored SGM UNet name (kohya SDXL style, without `lora_unet_`) as a dotted SGM path. */
export function dotSgmName(name: string): string | undefined {
  let m = /^(time_embed|out)_(\d+)$/.exec(name);
  if (m) return `${m[1]}.${m[2]}`;
  m = /^label_emb_0_(\d+)$/.exec(name);
  if (m) return `label_emb.0.${m[1]}`;
  m = /^(input_blocks|output_blocks)_(\d+)_(\d+)(?:_(.+))?$/.exec(name);
  if (m) {
    if (m[4] === undefined) return `${m[1]}.${m[2]}.${m[3]}`;
    const rest = m[3] === '0' ? dotResnetPart(m[4]) : (dotAttentionPart(m[4]) ?? dotResnetPart(m[4]));
    return rest && `${m[1]}.${m[2]}.${m[3]}.${rest}`;
  }
  m = /^middle_block_(\d+)_(.+)$/.exec(name);
  if (m) {
    const rest = m[1] === '1' ? dotAttentionPart(m[2]!) : dotResnetPart(m[2]!);
    return rest && `middle_block.${m[1]}.${rest}`;
  }
  return undefined;
}

/** An underscored SGM UNet name (without `lora_unet_`) as a dotted diffusers path, or undefined. */
export function sgmKohyaToDiffusers(name: string, layout: UNetLayout = SDXL_LAYOUT): string | undefined {
  const dotted = dotSgmName(name);
  return dotted && sgmToDiffusers(dotted, layout);
}

/** True when an underscored kohya UNet name uses SGM block numbering. */
export function isSgmKohyaName(name: string): boolean {
  return /^(input_blocks|middle_block|output_blocks|time_embed|label_emb|out)_\d/.test(name);
}

/** The block layout of a UNet, read from its module paths (with or without the `unet.` prefix). */
export function layoutOf(paths: Iterable<string>): UNetLayout {
  const down = new Map<number, boolean>();
  const up = new Map<number, boolean>();
  let layers = 0;
  for (const p of paths) {
    const m = /^(?:unet\.)?(down|up)_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\./.exec(p);
    if (!m) continue;
    const map = m[1] === 'down' ? down : up;
    const b = Number(m[2]);
    map.set(b, (map.get(b) ?? false) || m[3] === 'attentions');
    if (m[1] === 'down' && m[3] === 'resnets') layers = Math.max(layers, Number(m[4]) + 1);
  }
  const flags = (map: Map<number, boolean>) => Array.from({ length: map.size }, (_, i) => map.get(i) ?? false);
  return { layers, downAttn: flags(down), upAttn: flags(up) };
}
