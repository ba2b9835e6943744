/**
 * The adaptable layers. Every Linear and Conv2d of the engine's model graphs is
 * emitted through `linearModule` / `conv2dModule`, so a `ModuleHook` (LoRA
 * branches, merger coefficients) can be attached to any module by its path,
 * e.g. 'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q'.
 *
 * @example
 *   const y = linearModule(g, 'to_q', x, { bias: false }, ctx);   // inside scope '...attn1'
 */
import type { GraphBuilder } from '../onnx/builder.ts';
import type { Value } from '../onnx/value.ts';
import { conv, type ConvOptions } from '../onnx/ops/nn.ts';
import { linear } from '../onnx/ops/math.ts';

export interface ModuleCall {
  /** Module path inside the component (no component prefix), e.g. 'mid_block.resnets.0.conv1'. */
  path: string;
  kind: 'linear' | 'conv';
  /** The module's input, and its output without any adapter. */
  x: Value;
  y: Value;
  weight: Value;
  /** Conv geometry, for adapters that need to convolve the input the same way. */
  conv?: ConvOptions;
}

/** Returns the module's (possibly adapted) output. */
export type ModuleHook = (g: GraphBuilder, call: ModuleCall) => Value;

export interface LayerContext {
  hook?: ModuleHook;
}

export function linearModule(g: GraphBuilder, name: string, x: Value, o: { bias?: boolean } = {}, ctx: LayerContext = {}): Value {
  return g.scope(name, () => {
    const weight = g.param('weight');
    const y = linear(x, weight, o.bias === false ? null : g.param('bias'));
    return ctx.hook ? ctx.hook(g, { path: g.scopePath, kind: 'linear', x, y, weight }) : y;
  });
}

export function conv2dModule(
  g: GraphBuilder,
  name: string,
  x: Value,
  o: ConvOptions & { bias?: boolean } = {},
  ctx: LayerContext = {},
): Value {
  return g.scope(name, () => {
    const weight = g.param('weight');
    const { bias, ...geometry } = o;
    const y = conv(x, weight, bias === false ? null : g.param('bias'), geometry);
    return ctx.hook ? ctx.hook(g, { path: g.scopePath, kind: 'conv', x, y, weight, conv: geometry }) : y;
  });
}
