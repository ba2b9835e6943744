/**
 * Execution provider choice. `ZIPBANK_DEVICE=auto` (the default) tries CUDA, then
 * WebGPU, then CPU, and logs what it chose and why it skipped the others (it skips
 * WebGPU when the only Vulkan drivers are software rasterisers such as lavapipe,
 * which would run it on the CPU, slower than the CPU provider); naming a
 * provider (cuda, webgpu) uses it or fails with a coded error that says what to
 * install. Whether a provider works is found by a probe (a tiny session run on
 * it), injectable so the fallback logic is testable without a GPU.
 *
 * @example
 *   const choice = await chooseProvider({ device: process.env.ZIPBANK_DEVICE });
 *   choice.provider;   // 'cpu' on a machine without GPU libraries
 *   choice.skipped;    // [{ provider: 'cuda', reason: 'the CUDA provider library ... is not installed ...' }, ...]
 */
import { ZipbankError } from '../../errors/index.ts';
import { GraphBuilder } from '../onnx/builder.ts';
import { add } from '../onnx/ops/math.ts';
import { encodeModel } from '../onnx/proto.ts';
import { cudaProviderInstalled, ortCreateSession, ortNativeDir, ortTensor } from './ort.ts';
import { softwareOnly, vulkanDrivers, type VulkanDriver } from './vulkan.ts';

export const DEVICES = ['auto', 'cuda', 'webgpu', 'cpu'] as const;
export type Device = (typeof DEVICES)[number];
export type Provider = Exclude<Device, 'auto'>;
export type GpuProvider = Exclude<Provider, 'cpu'>;

/** Order in which `auto` tries providers. */
export const AUTO_ORDER: readonly Provider[] = ['cuda', 'webgpu', 'cpu'];

export type RuntimeLog = (level: 'info' | 'warn', message: string) => void;

export const stderrLog: RuntimeLog = (level, message) => {
  process.stderr.write(`zipbank runtime ${level}: ${message}\n`);
};

export type ProbeResult = { ok: true } | { ok: false; reason: string };
export type Probe = (provider: GpuProvider) => Promise<ProbeResult>;

export interface ProviderChoice {
  provider: Provider;
  device: Device;
  skipped: { provider: Provider; reason: string }[];
}

/** The device setting from a string (e.g. ZIPBANK_DEVICE); unset or empty is 'auto'. */
export function parseDevice(value: string | undefined): Device {
  const v = (value ?? '').trim().toLowerCase();
  if (v === '') return 'auto';
  if ((DEVICES as readonly string[]).includes(v)) return v as Device;
  throw new ZipbankError('runtime.unknown-device', { value: value!, known: DEVICES });
}

function shorten(message: string): string {
  let text = message.replace(/\/onnxruntime_src\/\S+/g, '').replace(/\s+/g, ' ').trim();
  const failed = text.indexOf('Failed to');
  if (failed > 0) text = text.slice(failed);
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

let probeModel: Uint8Array | undefined;

function tinyModel(): Uint8Array {
  if (!probeModel) {
    const g = new GraphBuilder('provider_probe');
    g.output(add(g.input('x', 'float32', [4]), 1), 'y');
    probeModel = encodeModel(g.build());
  }
  return probeModel;
}

/** Create and run a tiny session on the provider; report why it failed. */
export async function probeProvider(provider: GpuProvider): Promise<ProbeResult> {
  if (provider === 'cuda' && !cudaProviderInstalled()) {
    return {
      ok: false,
      reason: `the CUDA provider library (libonnxruntime_providers_cuda.so) is not installed in ${ortNativeDir()}; npm does not ship it (run \`npm run gpu:cuda\` with internet access)`,
    };
  }
  try {
    const s = await ortCreateSession(tinyModel(), { executionProviders: [provider], logSeverityLevel: 3 });
    try {
      await s.run({ x: ortTensor('float32', new Float32Array(4), [4]) });
    } finally {
      await s.release();
    }
    return { ok: true };
  } catch (e) {
    const msg = shorten((e as Error).message ?? String(e));
    const hint =
      provider === 'webgpu' && /adapter/i.test(msg)
        ? " (WebGPU runs over Vulkan: it needs libvulkan.so.1 and a GPU Vulkan driver; see the README's GPU section)"
        : '';
    return { ok: false, reason: `${msg}${hint}` };
  }
}

const memo = new Map<GpuProvider, Promise<ProbeResult>>();

/** `probeProvider`, run at most once per provider and process. */
export const cachedProbe: Probe = (provider) => {
  let p = memo.get(provider);
  if (!p) {
    p = probeProvider(provider);
    memo.set(provider, p);
  }
  return p;
};

export interface ChooseOptions {
  /** auto | cuda | webgpu | cpu; default: ZIPBANK_DEVICE of `env`, else auto. */
  device?: Device | string;
  env?: Record<string, string | undefined>;
  probe?: Probe;
  /** The Vulkan drivers WebGPU would run on (default: the loader's manifests, `vulkanDrivers`). */
  vulkan?: () => VulkanDriver[];
  /** Default process.platform. On Linux WebGPU runs over Vulkan only. */
  platform?: string;
  log?: RuntimeLog;
}

/** Pick the execution provider for a device setting. */
export async function chooseProvider(options: ChooseOptions = {}): Promise<ProviderChoice> {
  const env = options.env ?? process.env;
  const device = parseDevice(options.device ?? env.ZIPBANK_DEVICE);
  const probe = options.probe ?? cachedProbe;
  const log = options.log ?? stderrLog;
  if (device === 'cpu') return { provider: 'cpu', device, skipped: [] };
  if (device !== 'auto') {
    const r = await probe(device);
    if (!r.ok) throw new ZipbankError('runtime.provider-unavailable', { provider: device, reason: r.reason });
    log('info', `execution provider ${device} (ZIPBANK_DEVICE=${device})`);
    return { provider: device, device, skipped: [] };
  }
  const skipped: ProviderChoice['skipped'] = [];
  for (const provider of AUTO_ORDER) {
    if (provider === 'cpu') break;
    if (provider === 'webgpu') {
      const drivers = (options.vulkan ?? (() => vulkanDrivers(env)))();
      if (drivers.length === 0 && (options.platform ?? process.platform) === 'linux') {
        // Without a driver manifest the Vulkan loader finds nothing; probing would only print Dawn's warning.
        const reason = "no Vulkan driver is installed (no ICD manifest in the Vulkan loader's folders or VK_DRIVER_FILES), and WebGPU runs over Vulkan on Linux (see the README's GPU section; set ZIPBANK_DEVICE=webgpu to try anyway)";
        skipped.push({ provider, reason });
        log('info', `auto: skipping ${provider}: ${reason}`);
        continue;
      }
      if (softwareOnly(drivers)) {
        const sw = drivers.filter((d) => d.software).map((d) => d.manifest);
        const idle = drivers.filter((d) => d.noDevice).map((d) => d.manifest);
        const reason = `the only usable Vulkan driver${sw.length > 1 ? 's are software rasterisers' : ' is a software rasteriser'} (${sw.join(', ')})${idle.length ? `; the GPU drivers ${idle.join(', ')} have no device here` : ''}: WebGPU would run on the CPU, slower than the CPU provider (set ZIPBANK_DEVICE=webgpu to use it anyway)`;
        skipped.push({ provider, reason });
        log('info', `auto: skipping ${provider}: ${reason}`);
        continue;
      }
    }
    const r = await probe(provider);
    if (r.ok) {
      log('info', `execution provider ${provider} (auto${skipped.length ? `; skipped ${skipped.map((s) => s.provider).join(', ')}` : ''})`);
      return { provider, device, skipped };
    }
    skipped.push({ provider, reason: r.reason });
    log('info', `auto: skipping ${provider}: ${r.reason}`);
  }
  log('info', 'execution provider cpu (auto: no GPU provider works here)');
  return { provider: 'cpu', device, skipped };
}

let defaultChoice: Promise<ProviderChoice> | undefined;

/** The process-wide choice for ZIPBANK_DEVICE, made once. */
export function defaultProvider(): Promise<ProviderChoice> {
  defaultChoice ??= chooseProvider();
  defaultChoice.catch(() => {
    defaultChoice = undefined;
  });
  return defaultChoice;
}
