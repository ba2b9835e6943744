/**
 * LoRA files: reading every common format into one normalised form, detecting the
 * format and base model from tensor names and shapes, inspecting, and writing.
 * This index is header-level only (no onnxruntime), for the bank. Application and
 * merging are imported from their own files: inject.ts / plan.ts / feeds.ts (graph-input
 * branches), bake.ts, apply.ts (pipelines and `--lora`), merge.ts, mergers.ts.
 *
 * @example
 *   import { inspectLora, readLora, denseDelta } from './engine/lora/index.ts';
 *   const info = await inspectLora('style.safetensors');
 *   // { format: 'kohya', baseModel: 'sdxl', modules: { unet: 722, ... }, ranks: [16], ... }
 */
export type {
  Algo,
  BaseFamily,
  Component,
  Factors,
  LoraFile,
  LoraFormat,
  LoraModule,
  ModuleRef,
  ModuleShape,
  RawModule,
  TensorRef,
  TextualInversionToken,
} from './types.ts';
export { COMPONENTS, LORA_FORMATS } from './types.ts';
export { readLora, buildLora, readAlphas, type ReadLoraOptions } from './read.ts';
export { inspectLora, describeLora, type LoraInspection, type InspectOptions } from './inspect.ts';
export { detectFamily, familyEvidence, foreignArchitecture, parseFormat, FAMILIES, type ParsedLora, type DetectOptions } from './detect.ts';
export { summarizeMetadata, familyFromText, type LoraMetadataSummary } from './metadata.ts';
export { denseDelta, loraFactors, matmul, kron, cpWeight, type TensorSource } from './tensors.ts';
export { factorShape, type FactorShape } from './factors.ts';
export { kohyaName, kohyaIndex } from './formats/kohya.ts';
export { diffusersToSgm, sgmToDiffusers, sgmKohyaToDiffusers, layoutOf, SDXL_LAYOUT, SD1_LAYOUT, type UNetLayout } from './keymap-sdxl.ts';
export { writeLora, encodeLora, type LoraToWrite, type ModuleToWrite, type WriteFormat } from './write.ts';
export { randomLora, type RandomLoraOptions } from './random.ts';
