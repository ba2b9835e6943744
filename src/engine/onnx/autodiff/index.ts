/**
 * Reverse-mode autodiff over ONNX graphs (see gradient.ts).
 *
 * @example
 *   import { buildGradientGraph } from '../onnx/autodiff/index.ts';
 */
export { buildGradientGraph, type GradientGraph, type GradientOptions } from './gradient.ts';
export { RULES } from './rules/index.ts';
export type { GradRule, RuleContext } from './rule.ts';
