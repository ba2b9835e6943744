/**
 * The runtime: execution provider choice, sessions, host tensors. The only part of
 * zipbank that uses onnxruntime-node (through `./ort.ts`); its types stay inside.
 *
 * @example
 *   import { SessionCache, tensor, asFloat32 } from '../runtime/index.ts';
 *   const sessions = new SessionCache();
 *   const s = await sessions.get({ model: g.build(), name: 'unet', externalDataDir: modelRoot });
 *   const out = await s.run({ sample: tensor('float32', latents, [1, 4, 64, 64]) });
 */
export {
  AUTO_ORDER,
  DEVICES,
  chooseProvider,
  cachedProbe,
  defaultProvider,
  parseDevice,
  probeProvider,
  stderrLog,
  type ChooseOptions,
  type Device,
  type GpuProvider,
  type Probe,
  type ProbeResult,
  type Provider,
  type ProviderChoice,
  type RuntimeLog,
} from './device.ts';
export { SESSION_DEFAULTS, Session, createSession, run, runError, type Feeds, type IoInfo, type ModelSource, type Outputs, type SessionOptions } from './session.ts';
export { SessionCache, modelKey } from './cache.ts';
export { softwareOnly, vulkanDrivers, type VulkanDriver, type VulkanFs } from './vulkan.ts';
export { asFloat32, tensor, zeros, type HostTensor, type TensorArrays, type TensorDType } from './tensor.ts';
export { cudaProviderInstalled, ortBackends, ortVersion } from './ort.ts';
