/**
 * cloneofsimo/lora "safeloras" (`SafeLoras`): tensors `<name>:<i>:up` / `<name>:<i>:down`
 * for `unet` and `text_encoder`, ranks in metadata (`unet:<i>:rank`), the injected
 * module classes in metadata (`unet: ["GEGLU", "CrossAttention", "Attention"]`), and
 * textual-inversion embeddings as tensors named by their token (metadata `<s1>: <embed>`).
 * No alpha: the trainer scales by 1, so alpha = rank.
 *
 * Modules are numbered in the trainer's walk: every module of an injected class in
 * `model.modules()` order, then its Linear children in registration order. The file
 * does not name them, so the walk is rebuilt from the base model's module table in
 * each order the diffusers versions of that era registered modules (mid_block after
 * or before up_blocks; the feed-forward after attn1 or after attn2) and accepted
 * only when exactly one order fits every tensor shape.
 *
 * @example
 *   const { targets, warning } = safelorasTargets(file, raws, moduleTable('sd15'), metadata);
 *   targets.get(raws[0]); // 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q'
 */
import { ZipbankError } from '../../../errors/index.ts';
import type { ModuleShape } from '../../models/modules.ts';
import type { TensorInfo } from '../../weights/safetensors.ts';
import { factorShape, fitsBase } from '../factors.ts';
import type { Component, RawModule, TextualInversionToken } from '../types.ts';
import { groupModules, ref, requirePair } from './shared.ts';

const KEY = /^([^:]+):(\d+):(up|down)$/;
const NAMES: Record<string, Component> = { unet: 'unet', text_encoder: 'text_encoder' };
const DEFAULT_CLASSES: Record<string, string[]> = {
  unet: ['CrossAttention', 'Attention', 'GEGLU'],
  text_encoder: ['CLIPAttention'],
};

export function isSafelorasKey(name: string): boolean {
  return KEY.test(name);
}

export interface SafelorasParse {
  modules: RawModule[];
  textualInversion: TextualInversionToken[];
  warnings: string[];
}

export function parseSafeloras(file: string, tensors: readonly TensorInfo[], metadata: Record<string, string>): SafelorasParse {
  const groups = groupModules(tensors, (name) => {
    const m = KEY.exec(name);
    return m ? { key: `${m[1]}:${m[2]}`, part: m[3]! } : undefined;
  });
  const modules: RawModule[] = [];
  for (const [key, parts] of groups) {
    const [name, idx] = key.split(':') as [string, string];
    const component = NAMES[name];
    if (!component) throw new ZipbankError('lora.safeloras-order', { file, reason: `it holds a LoRA named "${name}"; only "unet" and "text_encoder" are known` });
    requirePair(file, key, parts, 'down', 'up');
    modules.push({
      key,
      component,
      ref: { by: 'order', index: Number(idx) },
      factors: { algo: 'lora', down: ref(file, parts.get('down')!), up: ref(file, parts.get('up')!) },
    });
  }
  const disagree = modules.filter((m) => {
    const claimed = metadata[`${m.key}:rank`];
    return claimed !== undefined && Number(claimed) !== (m.factors.algo === 'lora' ? m.factors.down.shape[0] : NaN);
  });
  const warnings = disagree.length
    ? [`safeloras: metadata ranks disagree with the tensors for ${disagree.length} module(s) (e.g. ${disagree[0]!.key}); using the tensors`]
    : [];
  const textualInversion: TextualInversionToken[] = [];
  for (const t of tensors) {
    if (metadata[t.name] === '<embed>' || (/^<[^>]+>$/.test(t.name) && t.shape.length === 1)) {
      textualInversion.push({ token: t.name, tensor: ref(file, t) });
    }
  }
  return { modules, textualInversion, warnings };
}

function classes(file: string, metadata: Record<string, string>, name: string): { list: string[]; assumed: boolean } {
  const raw = metadata[name];
  if (raw === undefined) return { list: DEFAULT_CLASSES[name]!, assumed: true };
  try {
    const v = JSON.parse(raw) as unknown;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return { list: v as string[], assumed: false };
  } catch {
    // fall through
  }
  throw new ZipbankError('lora.safeloras-order', { file, reason: `its metadata "${name}" (${raw.slice(0, 80)}) is not a list of module classes` });
}

const ATTN = ['to_q', 'to_k', 'to_v', 'to_out.0'];
const num = (s: string | undefined) => (s === undefined ? -1 : Number(s));

/** Candidate module walks of the UNet for the injected classes. */
function unetOrders(file: string, table: Map<string, ModuleShape>, cls: string[]): string[][] {
  const known = new Set(['CrossAttention', 'Attention', 'GEGLU']);
  const unknown = cls.filter((c) => !known.has(c));
  if (unknown.length) throw new ZipbankError('lora.safeloras-order', { file, reason: `it adapts UNet classes zipbank cannot place (${unknown.join(', ')})` });
  const attn = cls.includes('CrossAttention') || cls.includes('Attention');
  const ff = cls.includes('GEGLU');
  const blocks: { section: 'down' | 'mid' | 'up'; path: string; sort: number[] }[] = [];
  for (const k of table.keys()) {
    const m = /^unet\.((down|up)_blocks\.(\d+)|mid_block)\.attentions\.(\d+)\.transformer_blocks\.(\d+)\.attn1\.to_q$/.exec(k);
    if (!m) continue;
    const section = (m[2] ?? 'mid') as 'down' | 'mid' | 'up';
    blocks.push({ section, path: k.slice(0, -'.attn1.to_q'.length), sort: [num(m[3]), num(m[4]), num(m[5])] });
  }
  const cmp = (a: number[], b: number[]) => a[0]! - b[0]! || a[1]! - b[1]! || a[2]! - b[2]!;
  const section = (s: string) => blocks.filter((b) => b.section === s).sort((a, b) => cmp(a.sort, b.sort));
  const present = (p: string[]) => p.filter((x) => table.has(x));
  const inner = (b: string, ffAfterAttn1: boolean): string[] => {
    const a1 = attn ? present(ATTN.map((x) => `${b}.attn1.${x}`)) : [];
    const a2 = attn ? present(ATTN.map((x) => `${b}.attn2.${x}`)) : [];
    const f = ff ? present([`${b}.ff.net.0.proj`]) : [];
    return ffAfterAttn1 ? [...a1, ...f, ...a2] : [...a1, ...a2, ...f];
  };
  const orders: string[][] = [];
  for (const sections of [['down', 'up', 'mid'], ['down', 'mid', 'up']]) {
    for (const ffFirst of [true, false]) {
      orders.push(sections.flatMap((s) => section(s).flatMap((b) => inner(b.path, ffFirst))));
    }
  }
  return orders;
}

/** The module walk of a CLIP text encoder for the injected classes (registration order k, v, q, out; fc1, fc2). */
function textOrders(file: string, table: Map<string, ModuleShape>, cls: string[]): string[][] {
  const parts: string[] = [];
  const set = new Set(cls);
  if (set.has('CLIPEncoderLayer') && (set.has('CLIPAttention') || set.has('CLIPMLP'))) {
    throw new ZipbankError('lora.safeloras-order', { file, reason: 'it injects nested text-encoder classes, which the trainer walks twice' });
  }
  if (set.has('CLIPAttention') || set.has('CLIPEncoderLayer')) parts.push('self_attn.k_proj', 'self_attn.v_proj', 'self_attn.q_proj', 'self_attn.out_proj');
  if (set.has('CLIPMLP') || set.has('CLIPEncoderLayer')) parts.push('mlp.fc1', 'mlp.fc2');
  const unknown = cls.filter((c) => !['CLIPAttention', 'CLIPMLP', 'CLIPEncoderLayer'].includes(c));
  if (unknown.length) throw new ZipbankError('lora.safeloras-order', { file, reason: `it adapts text-encoder classes zipbank cannot place (${unknown.join(', ')})` });
  const layers = new Set<number>();
  for (const k of table.keys()) {
    const m = /^text_encoder\.text_model\.encoder\.layers\.(\d+)\./.exec(k);
    if (m) layers.add(Number(m[1]));
  }
  const order = [...layers].sort((a, b) => a - b).flatMap((l) => parts.map((p) => `text_encoder.text_model.encoder.layers.${l}.${p}`));
  return [order];
}

export interface SafelorasMapping {
  targets: Map<RawModule, string>;
  warning: string;
}

/** Map numbered safeloras modules to base-model modules, or refuse when the order cannot be pinned down. */
export function safelorasTargets(
  file: string,
  raws: readonly RawModule[],
  table: Map<string, ModuleShape>,
  metadata: Record<string, string>,
): SafelorasMapping {
  const targets = new Map<RawModule, string>();
  const notes: string[] = [];
  for (const name of ['unet', 'text_encoder'] as const) {
    const mods = raws.filter((r) => r.component === name).sort((a, b) => index(a) - index(b));
    if (mods.length === 0) continue;
    mods.forEach((m, i) => {
      if (index(m) !== i) throw new ZipbankError('lora.safeloras-order', { file, reason: `${name} module ${i} is missing (numbering has a gap)` });
    });
    const cls = classes(file, metadata, name);
    if (cls.assumed) notes.push(`no "${name}" class list in metadata; assumed ${cls.list.join(', ')}`);
    const orders = name === 'unet' ? unetOrders(file, table, cls.list) : textOrders(file, table, cls.list);
    const fitting = new Map<string, string[]>();
    for (const order of orders) {
      if (order.length !== mods.length) continue;
      const ok = mods.every((m, i) => fitsBase(factorShape(file, m.key, m.factors), table.get(order[i]!)!));
      if (ok) fitting.set(order.join('|'), order);
    }
    if (fitting.size === 0) {
      const counts = [...new Set(orders.map((o) => o.length))].join(' or ');
      throw new ZipbankError('lora.safeloras-order', {
        file,
        reason: `its ${mods.length} ${name} modules fit no module walk of this base model (expected ${counts} modules of matching shapes)`,
      });
    }
    if (fitting.size > 1) {
      throw new ZipbankError('lora.safeloras-order', { file, reason: `its ${name} modules fit ${fitting.size} different module orders equally, so the mapping is a guess` });
    }
    const order = [...fitting.values()][0]!;
    mods.forEach((m, i) => targets.set(m, order[i]!));
  }
  notes.push('module order rebuilt from the trainer\'s module walk and checked against every shape; same-shape projections (q/k/v/out) follow their registration order');
  return { targets, warning: `safeloras: ${notes.join('; ')}` };
}

function index(m: RawModule): number {
  return m.ref.by === 'order' ? m.ref.index : -1;
}
