import { describe, expect, it } from 'vitest';
import {
  chooseProvider,
  cudaProviderInstalled,
  defaultProvider,
  ortVersion,
  ortBackends,
  parseDevice,
  probeProvider,
  type GpuProvider,
  type Probe,
  type ProbeResult,
  softwareOnly,
  vulkanDrivers,
  type VulkanDriver,
  type VulkanFs,
} from '../../../src/engine/runtime/index.ts';
import { isZipbankError } from '../../../src/errors/index.ts';

/** A probe that answers from a table and records what it was asked. */
function fakeProbe(answers: Partial<Record<GpuProvider, ProbeResult>>): Probe & { asked: GpuProvider[] } {
  const asked: GpuProvider[] = [];
  const probe = async (p: GpuProvider) => {
    asked.push(p);
    return answers[p] ?? { ok: false, reason: `${p} is not there` };
  };
  return Object.assign(probe, { asked });
}

describe('parseDevice', () => {
  it.each([
    [undefined, 'auto'],
    ['', 'auto'],
    ['auto', 'auto'],
    ['CPU', 'cpu'],
    [' cuda ', 'cuda'],
    ['webgpu', 'webgpu'],
  ])('%j -> %s', (value, expected) => {
    expect(parseDevice(value)).toBe(expected);
  });

  it('refuses an unknown device with the choices', () => {
    try {
      parseDevice('gpu');
      expect.unreachable();
    } catch (e) {
      expect(isZipbankError(e, 'runtime.unknown-device')).toBe(true);
      expect((e as Error).message).toContain('auto, cuda, webgpu, cpu');
    }
  });
});

describe('chooseProvider with an injected probe', () => {
  const ok: ProbeResult = { ok: true };
  it.each<{ name: string; device: string; answers: Partial<Record<GpuProvider, ProbeResult>>; provider: string; skipped: string[]; asked: GpuProvider[] }>([
    { name: 'auto takes CUDA when it works', device: 'auto', answers: { cuda: ok, webgpu: ok }, provider: 'cuda', skipped: [], asked: ['cuda'] },
    { name: 'auto falls back to WebGPU', device: 'auto', answers: { webgpu: ok }, provider: 'webgpu', skipped: ['cuda'], asked: ['cuda', 'webgpu'] },
    { name: 'auto falls back to CPU', device: 'auto', answers: {}, provider: 'cpu', skipped: ['cuda', 'webgpu'], asked: ['cuda', 'webgpu'] },
    { name: 'cpu probes nothing', device: 'cpu', answers: {}, provider: 'cpu', skipped: [], asked: [] },
    { name: 'an explicit webgpu that works', device: 'webgpu', answers: { webgpu: ok }, provider: 'webgpu', skipped: [], asked: ['webgpu'] },
  ])('$name', async ({ device, answers, provider, skipped, asked }) => {
    const probe = fakeProbe(answers);
    const logs: string[] = [];
    // Off Linux WebGPU does not need a Vulkan driver, so only the probes decide.
    const choice = await chooseProvider({ device, probe, vulkan: () => [], platform: 'darwin', log: (_l, m) => logs.push(m) });
    expect(choice.provider).toBe(provider);
    expect(choice.skipped.map((s) => s.provider)).toEqual(skipped);
    expect(probe.asked).toEqual(asked);
    for (const s of choice.skipped) {
      expect(s.reason).toBe(`${s.provider} is not there`);
      expect(logs.some((l) => l.includes(`skipping ${s.provider}: ${s.reason}`))).toBe(true);
    }
    if (device !== 'cpu') expect(logs.at(-1)).toContain(`execution provider ${provider}`);
  });

  it.each(['cuda', 'webgpu'])('an explicit %s that fails is an error, not a silent fallback', async (device) => {
    const e = await chooseProvider({ device, probe: fakeProbe({}), log: () => {} }).catch((x: unknown) => x);
    expect(isZipbankError(e, 'runtime.provider-unavailable')).toBe(true);
    expect((e as Error).message).toContain(`${device} is not there`);
    expect((e as Error).message).toContain('ZIPBANK_DEVICE=cpu');
  });

  it('reads ZIPBANK_DEVICE from the environment it is given', async () => {
    const probe = fakeProbe({ cuda: { ok: true } });
    expect((await chooseProvider({ env: { ZIPBANK_DEVICE: 'cpu' }, probe })).provider).toBe('cpu');
    expect((await chooseProvider({ env: {}, probe, log: () => {} })).provider).toBe('cuda');
  });

  const lavapipe: VulkanDriver = { manifest: '/usr/share/vulkan/icd.d/lvp_icd.x86_64.json', library: '/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so', software: true };
  const nvidia: VulkanDriver = { manifest: '/usr/share/vulkan/icd.d/nvidia_icd.json', library: 'libGLX_nvidia.so.0', software: false };

  it('auto skips WebGPU without probing it when the only Vulkan driver is a software rasteriser', async () => {
    const probe = fakeProbe({ webgpu: { ok: true } });
    const logs: string[] = [];
    const choice = await chooseProvider({ device: 'auto', probe, vulkan: () => [lavapipe], log: (_l, m) => logs.push(m) });
    expect(choice.provider).toBe('cpu');
    expect(probe.asked).toEqual(['cuda']);
    expect(choice.skipped[1]!.reason).toContain('software rasteriser (/usr/share/vulkan/icd.d/lvp_icd.x86_64.json)');
    expect(choice.skipped[1]!.reason).not.toContain('have no device');
    expect(choice.skipped[1]!.reason).toContain('ZIPBANK_DEVICE=webgpu');
    expect(logs.some((l) => l.startsWith('auto: skipping webgpu: the only usable Vulkan driver'))).toBe(true);
  });

  it('auto skips WebGPU when the GPU drivers next to lavapipe have no device (mesa-vulkan-drivers on a CPU machine)', async () => {
    const intel: VulkanDriver = { manifest: '/usr/share/vulkan/icd.d/intel_icd.x86_64.json', library: '/usr/lib/x86_64-linux-gnu/libvulkan_intel.so', software: false, noDevice: true };
    const choice = await chooseProvider({ device: 'auto', probe: fakeProbe({ webgpu: { ok: true } }), vulkan: () => [intel, lavapipe], log: () => {} });
    expect(choice.provider).toBe('cpu');
    expect(choice.skipped[1]!.reason).toContain('the GPU drivers /usr/share/vulkan/icd.d/intel_icd.x86_64.json have no device here');
  });

  it('auto skips WebGPU without probing it on Linux when no Vulkan driver is installed at all', async () => {
    const probe = fakeProbe({ webgpu: { ok: true } });
    const logs: string[] = [];
    const choice = await chooseProvider({ device: 'auto', probe, vulkan: () => [], platform: 'linux', log: (_l, m) => logs.push(m) });
    expect(choice.provider).toBe('cpu');
    expect(probe.asked).toEqual(['cuda']);
    expect(choice.skipped[1]!.reason).toContain('no Vulkan driver is installed');
    expect(choice.skipped[1]!.reason).toContain('ZIPBANK_DEVICE=webgpu');
    expect(logs.some((l) => l.startsWith('auto: skipping webgpu: no Vulkan driver is installed'))).toBe(true);
    // Elsewhere (Metal, D3D12) the probe decides; an explicit webgpu is always probed.
    expect((await chooseProvider({ device: 'auto', probe: fakeProbe({ webgpu: { ok: true } }), vulkan: () => [], platform: 'darwin', log: () => {} })).provider).toBe('webgpu');
    expect((await chooseProvider({ device: 'webgpu', probe: fakeProbe({ webgpu: { ok: true } }), vulkan: () => [], platform: 'linux', log: () => {} })).provider).toBe('webgpu');
  });

  it('auto still takes WebGPU next to a GPU driver, and an explicit webgpu takes lavapipe', async () => {
    const probe = fakeProbe({ webgpu: { ok: true } });
    expect((await chooseProvider({ device: 'auto', probe, vulkan: () => [lavapipe, nvidia], log: () => {} })).provider).toBe('webgpu');
    expect((await chooseProvider({ device: 'webgpu', probe, vulkan: () => [lavapipe], log: () => {} })).provider).toBe('webgpu');
  });
});

describe('vulkanDrivers', () => {
  /** A filesystem from a table: folders are keys ending in '/'. */
  function fakeFs(files: Record<string, string>): VulkanFs {
    return {
      list: (dir) => Object.keys(files).filter((f) => f.startsWith(`${dir}/`) && !f.slice(dir.length + 1).includes('/')).map((f) => f.slice(dir.length + 1)).sort(),
      read: (f) => {
        if (!(f in files)) throw new Error(`ENOENT ${f}`);
        return files[f]!;
      },
      isDir: (p) => Object.keys(files).some((f) => f.startsWith(`${p}/`)),
    };
  }
  const icd = (lib: string) => JSON.stringify({ file_format_version: '1.0.0', ICD: { library_path: lib, api_version: '1.3.0' } });
  const files: Record<string, string> = {
    '/usr/share/vulkan/icd.d/lvp_icd.x86_64.json': icd('/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so'),
    '/usr/share/vulkan/icd.d/intel_icd.x86_64.json': icd('/usr/lib/x86_64-linux-gnu/libvulkan_intel.so'),
    '/usr/share/vulkan/icd.d/nvidia_icd.json': icd('libGLX_nvidia.so.0'),
    '/usr/share/vulkan/icd.d/broken.json': '{ not json',
    '/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json': icd('/usr/local/nvidia/lib64/libGLX_nvidia.so.0'),
    '/opt/sw/vk_swiftshader_icd.json': icd('./libvk_swiftshader.so'),
  };
  const fs = fakeFs(files);

  it('reads the default folders, marks software rasterisers and GPU drivers without a device, and skips unreadable manifests', () => {
    const d = vulkanDrivers({}, fs);
    expect(d.map((x) => [x.manifest, x.software, x.noDevice ?? false])).toEqual([
      ['/usr/share/vulkan/icd.d/intel_icd.x86_64.json', false, true],
      ['/usr/share/vulkan/icd.d/lvp_icd.x86_64.json', true, false],
      ['/usr/share/vulkan/icd.d/nvidia_icd.json', false, true],
    ]);
    // No /dev/dri/renderD* and no /dev/nvidia*: nothing reaches a GPU.
    expect(softwareOnly(d)).toBe(true);
    expect(softwareOnly([])).toBe(false);
    const withGpu = vulkanDrivers({}, fakeFs({ ...files, '/dev/nvidiactl': '', '/dev/nvidia0': '' }));
    expect(withGpu.find((x) => x.manifest.endsWith('nvidia_icd.json'))!.noDevice).toBeUndefined();
    expect(softwareOnly(withGpu)).toBe(false);
    const withDri = vulkanDrivers({}, fakeFs({ ...files, '/dev/dri/renderD128': '' }));
    expect(withDri.find((x) => x.manifest.endsWith('intel_icd.x86_64.json'))!.noDevice).toBeUndefined();
    expect(softwareOnly(withDri)).toBe(false);
    // The only render node is an NVIDIA card's (nvidia-drm), with no NVIDIA Vulkan driver: Intel's driver cannot use it.
    const { '/usr/share/vulkan/icd.d/nvidia_icd.json': _, ...noNvidia } = files;
    const nvidiaNode = vulkanDrivers({}, fakeFs({ ...noNvidia, '/dev/dri/renderD128': '', '/sys/class/drm/renderD128/device/vendor': '0x10de\n' }));
    expect(nvidiaNode.find((x) => x.manifest.endsWith('intel_icd.x86_64.json'))!.noDevice).toBe(true);
    expect(softwareOnly(nvidiaNode)).toBe(true);
    const intelNode = vulkanDrivers({}, fakeFs({ ...noNvidia, '/dev/dri/renderD128': '', '/dev/dri/renderD129': '', '/sys/class/drm/renderD128/device/vendor': '0x10de\n', '/sys/class/drm/renderD129/device/vendor': '0x8086\n' }));
    expect(intelNode.find((x) => x.manifest.endsWith('intel_icd.x86_64.json'))!.noDevice).toBeUndefined();
  });

  it('lets VK_DRIVER_FILES (files or folders) replace the search and VK_ADD_DRIVER_FILES add to it', () => {
    expect(vulkanDrivers({ VK_DRIVER_FILES: '/usr/local/nvidia/share/vulkan/icd.d' }, fs).map((x) => x.library)).toEqual(['/usr/local/nvidia/lib64/libGLX_nvidia.so.0']);
    // A GPU driver alone, even without its device, is not "software only" (its probe reports why it fails).
    expect(softwareOnly(vulkanDrivers({ VK_DRIVER_FILES: '/usr/local/nvidia/share/vulkan/icd.d' }, fs))).toBe(false);
    expect(vulkanDrivers({ VK_ICD_FILENAMES: '/opt/sw/vk_swiftshader_icd.json' }, fs)).toEqual([{ manifest: '/opt/sw/vk_swiftshader_icd.json', library: './libvk_swiftshader.so', software: true }]);
    const added = vulkanDrivers({ XDG_DATA_DIRS: '/nowhere', VK_ADD_DRIVER_FILES: '/opt/sw/vk_swiftshader_icd.json' }, fs);
    expect(softwareOnly(added)).toBe(true);
  });

  it("reads the user's own folders too (XDG_DATA_HOME / XDG_CONFIG_HOME, by default under HOME)", () => {
    const user = fakeFs({
      '/home/u/.local/share/vulkan/icd.d/nvidia_icd.json': icd('libGLX_nvidia.so.0'),
      '/home/u/.config/vulkan/icd.d/lvp_icd.json': icd('libvulkan_lvp.so'),
      '/data/vulkan/icd.d/radeon_icd.json': icd('libvulkan_radeon.so'),
    });
    expect(vulkanDrivers({ HOME: '/home/u' }, user).map((x) => x.manifest)).toEqual(['/home/u/.config/vulkan/icd.d/lvp_icd.json', '/home/u/.local/share/vulkan/icd.d/nvidia_icd.json']);
    expect(vulkanDrivers({ HOME: '/home/u', XDG_DATA_HOME: '/data' }, user).map((x) => x.manifest)).toEqual(['/home/u/.config/vulkan/icd.d/lvp_icd.json', '/data/vulkan/icd.d/radeon_icd.json']);
    expect(vulkanDrivers({}, user)).toEqual([]);
  });
});

describe('on this machine (real probes)', () => {
  it('lists the bundled backends', () => {
    expect(ortVersion).toBe('1.30.0');
    const names = ortBackends().map((b) => b.name);
    expect(names).toEqual(expect.arrayContaining(['cpu', 'webgpu', 'cuda']));
  });

  it('auto always ends on a working provider and explains every skip', async () => {
    const logs: string[] = [];
    const choice = await chooseProvider({ device: 'auto', log: (_l, m) => logs.push(m) });
    expect(['cuda', 'webgpu', 'cpu']).toContain(choice.provider);
    if (!cudaProviderInstalled()) {
      expect(choice.skipped[0]).toMatchObject({ provider: 'cuda' });
      expect(choice.skipped[0]!.reason).toContain('libonnxruntime_providers_cuda.so');
    }
    for (const s of choice.skipped) expect(s.reason.length).toBeGreaterThan(10);
    expect(logs.length).toBe(choice.skipped.length + 1);
  });

  it('probes WebGPU without crashing the process', async () => {
    const r = await probeProvider('webgpu');
    if (!r.ok) expect(r.reason).toMatch(/\S/);
    expect((await chooseProvider({ device: 'cpu' })).provider).toBe('cpu');
  });

  it('makes the process-wide choice once', async () => {
    const a = defaultProvider();
    expect(defaultProvider()).toBe(a);
    expect(['cuda', 'webgpu', 'cpu']).toContain((await a).provider);
  });
});
