/** Reads the official tensor-shape fixtures and diffs parameter specs against them. */
import { readFileSync } from 'node:fs';
import type { ParamSpec } from '../../../src/engine/models/params.ts';

export const fixtures = new URL('../../../../shared/fixtures/models/', import.meta.url);

export function readJsonFixture(rel: string): unknown {
  return JSON.parse(readFileSync(new URL(rel, fixtures), 'utf8')) as unknown;
}

export function readShapes(file: string): ParamSpec[] {
  return readFileSync(new URL(`shapes/${file}`, fixtures), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [name, shape] = l.split('\t');
      return { name: name!, shape: shape!.split('x').map(Number) };
    });
}

export interface SpecDiff {
  missing: string[];
  extra: string[];
  mismatched: string[];
  duplicates: string[];
}

/** Empty lists when `actual` names exactly the `expected` tensors with equal shapes. */
export function diffSpecs(actual: readonly ParamSpec[], expected: readonly ParamSpec[]): SpecDiff {
  const exp = new Map(expected.map((s) => [s.name, s.shape.join('x')]));
  const act = new Map<string, string>();
  const duplicates: string[] = [];
  for (const s of actual) {
    if (act.has(s.name)) duplicates.push(s.name);
    act.set(s.name, s.shape.join('x'));
  }
  return {
    missing: [...exp.keys()].filter((n) => !act.has(n)).map((n) => `${n} ${exp.get(n)}`),
    extra: [...act.keys()].filter((n) => !exp.has(n)).map((n) => `${n} ${act.get(n)}`),
    mismatched: [...act].filter(([n, s]) => exp.has(n) && exp.get(n) !== s).map(([n, s]) => `${n}: got ${s}, official ${exp.get(n)}`),
    duplicates,
  };
}
