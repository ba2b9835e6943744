/**
 * The one place in zipbank that imports onnxruntime-node. Everything else in the
 * runtime goes through these few functions, and nothing outside `engine/runtime`
 * sees an onnxruntime type.
 *
 * @example
 *   const native = await ortCreateSession(bytes, { executionProviders: ['cpu'] });
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import ort from 'onnxruntime-node';

export type OrtSession = ort.InferenceSession;
export type OrtSessionOptions = ort.InferenceSession.SessionOptions;
export type OrtTensor = ort.Tensor;
export type OrtTensorType = ort.Tensor.Type;

export function ortCreateSession(model: string | Uint8Array, options: OrtSessionOptions): Promise<OrtSession> {
  return typeof model === 'string' ? ort.InferenceSession.create(model, options) : ort.InferenceSession.create(model, options);
}

export function ortTensor(type: OrtTensorType, data: ort.Tensor.DataType, dims: readonly number[]): OrtTensor {
  return new ort.Tensor(type as 'float32', data as Float32Array, dims);
}

export function isOrtTensor(v: unknown): v is OrtTensor {
  return v instanceof ort.Tensor;
}

/** Execution providers this build of onnxruntime-node knows, and whether their libraries ship with it. */
export function ortBackends(): { name: string; bundled: boolean }[] {
  return ort.listSupportedBackends();
}

/** The folder holding onnxruntime-node's native libraries (where `npm run gpu:cuda` puts the CUDA provider). */
export function ortNativeDir(): string {
  const main = createRequire(import.meta.url).resolve('onnxruntime-node');
  return join(dirname(main), '..', 'bin', 'napi-v6', process.platform, process.arch);
}

/** Whether onnxruntime's CUDA provider library is installed next to the binding. */
export function cudaProviderInstalled(dir = ortNativeDir()): boolean {
  return existsSync(join(dir, 'libonnxruntime_providers_cuda.so')) || existsSync(join(dir, 'onnxruntime_providers_cuda.dll'));
}

export const ortVersion: string = ort.env.versions.node ?? 'unknown';
