/**
 * Every gradient rule, by ONNX op type (custom domains as '<domain>.<op>').
 *
 * @example
 *   Object.keys(RULES).includes('Conv');   // true
 */
import type { GradRule } from '../rule.ts';
import { ELEMENTWISE } from './elementwise.ts';
import { LINALG } from './linalg.ts';
import { NORM } from './norm.ts';
import { REDUCE } from './reduce.ts';
import { SHAPE } from './shape.ts';

export const RULES: Readonly<Record<string, GradRule>> = Object.freeze({ ...ELEMENTWISE, ...LINALG, ...NORM, ...REDUCE, ...SHAPE });
