/**
 * The ONNX layer: graph builder, op helpers, serialization, external data.
 *
 * @example
 *   import { GraphBuilder, conv, silu, encodeModel } from '../onnx/index.ts';
 *   const g = new GraphBuilder('block');
 *   const x = g.input('x', 'float32', [1, 4, 'h', 'w']);
 *   g.output(silu(conv(x, g.constant(new Float32Array(4 * 4 * 9), { shape: [4, 4, 3, 3] }), null, { pads: 1 })), 'y');
 *   const bytes = encodeModel(g.build());
 */
export * from './types.ts';
export { Value, describeShape, isStatic, numel, type Dim, type Shape } from './value.ts';
export { GraphBuilder, type BuildOptions, type GraphBuilderOptions, type MultiOpOptions, type OpOptions, type OutputSpec } from './builder.ts';
export { attr, nodeAttrs, toAttribute, toAttributes, type AttrValue, type Attrs, type NodeAttrs, type TypedAttr } from './attributes.ts';
export { decodeModel, encodeModel, type DecodeOptions } from './proto.ts';
export { decodeValues, dtypeOfArray, encodeValues, readTensorValues, type Values } from './tensor-data.ts';
export {
  dtypeFromSafetensors,
  externalRef,
  externalTensor,
  inlineExternalData,
  memoryWeights,
  safetensorsWeights,
  type ExternalRef,
  type InitializerSpec,
  type InlineOptions,
  type WeightSource,
} from './external.ts';
export * from './ops/math.ts';
export * from './ops/shape.ts';
export * from './ops/nn.ts';
export { ModelExtension, liftInitializers, type ExtensionOptions, type FinishOptions, type TensorMeta } from './extend.ts';
