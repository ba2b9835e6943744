/**
 * Matching parsed modules to one base model: every module must name a module of the
 * family's table (kohya names through the reverse index, dotted paths directly,
 * safeloras numbers through the module walk) and its factors must fit that module's
 * shape. The first problem is thrown with the module and both shapes named.
 *
 * @example
 *   const fit = resolveAgainst(file, raws, 'sd15', moduleTable('sd15'), metadata);
 *   fit.targets.get(raws[0]);  // 'unet.down_blocks.0.attentions.0.proj_in'
 */
import { ZipbankError } from '../../errors/index.ts';
import type { BaseFamily, ModuleShape } from '../models/modules.ts';
import { baseShapeOf, factorShape, factorShapeList, fitsBase, type FactorShape } from './factors.ts';
import { kohyaIndex } from './formats/kohya.ts';
import { safelorasTargets } from './formats/safeloras.ts';
import type { RawModule } from './types.ts';

export interface FamilyFit {
  family: BaseFamily;
  targets: Map<RawModule, string>;
  shapes: Map<RawModule, FactorShape>;
  bases: Map<RawModule, ModuleShape>;
  /** Modules whose layer kind agrees exactly (conv vs linear), for tie-breaking. */
  strict: number;
  warnings: string[];
}

/** How many modules name a module of this family, without checking shapes (for choosing which failure to report). */
export function countNamed(raws: readonly RawModule[], family: BaseFamily, table: Map<string, ModuleShape>): number {
  const index = kohyaIndex(table, family);
  let n = 0;
  for (const r of raws) {
    if (r.ref.by === 'kohya' ? index.has(r.ref.name) : r.ref.by === 'path' ? table.has(`${r.component}.${r.ref.path}`) : true) n++;
  }
  return n;
}

/** Resolve every module against one family, or throw the first problem. */
export function resolveAgainst(
  file: string,
  raws: readonly RawModule[],
  family: BaseFamily,
  table: Map<string, ModuleShape>,
  metadata: Record<string, string>,
): FamilyFit {
  const targets = new Map<RawModule, string>();
  const warnings: string[] = [];
  const unknown: string[] = [];
  const index = kohyaIndex(table, family);
  const ordered = raws.filter((r) => r.ref.by === 'order');
  if (ordered.length) {
    const m = safelorasTargets(file, ordered, table, metadata);
    for (const [r, t] of m.targets) targets.set(r, t);
    warnings.push(m.warning);
  }
  for (const r of raws) {
    if (r.ref.by === 'order') continue;
    const target = r.ref.by === 'kohya' ? index.get(r.ref.name) : `${r.component}.${r.ref.path}`;
    if (target === undefined || !table.has(target)) unknown.push(r.key);
    else targets.set(r, target);
  }
  if (unknown.length) throw new ZipbankError('lora.unknown-module', { file, family, modules: unknown });
  const seen = new Map<string, RawModule>();
  const shapes = new Map<RawModule, FactorShape>();
  const bases = new Map<RawModule, ModuleShape>();
  let strict = 0;
  for (const r of raws) {
    const target = targets.get(r)!;
    const prev = seen.get(target);
    if (prev) throw new ZipbankError('lora.inconsistent', { file, reason: `"${prev.key}" and "${r.key}" both adapt ${target}` });
    seen.set(target, r);
    const base = table.get(target)!;
    const s = factorShape(file, r.key, r.factors);
    if (!fitsBase(s, base)) {
      throw new ZipbankError('lora.shape-mismatch', { file, family, module: r.key === target ? target : `${target} (${r.key})`, lora: factorShapeList(s), base: baseShapeOf(base) });
    }
    if (fitsBase(s, base, true)) strict++;
    shapes.set(r, s);
    bases.set(r, base);
  }
  return { family, targets, shapes, bases, strict, warnings };
}
