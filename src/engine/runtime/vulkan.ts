/**
 * Which Vulkan drivers (ICDs) the Vulkan loader would see, read from their JSON
 * manifests the way the loader finds them: `VK_DRIVER_FILES` (or the older
 * `VK_ICD_FILENAMES`) replaces the search, `VK_ADD_DRIVER_FILES` adds to it, and
 * otherwise the `vulkan/icd.d` folders under /etc, XDG_CONFIG_DIRS and XDG_DATA_DIRS.
 *
 * `auto` uses this to stay off WebGPU when no driver can reach a GPU: every driver is
 * a software rasteriser (Mesa's lavapipe, SwiftShader) or a GPU driver whose device
 * nodes are missing (Debian's mesa-vulkan-drivers installs Intel, AMD and virtio
 * drivers next to lavapipe on any machine; they need /dev/dri/renderD*, NVIDIA's
 * needs /dev/nvidia*). WebGPU would then run on the CPU through Vulkan, far slower
 * than the CPU provider. Naming `ZIPBANK_DEVICE=webgpu` still uses it.
 *
 * @example
 *   const d = vulkanDrivers();          // [{ manifest: '/usr/share/vulkan/icd.d/lvp_icd.x86_64.json', library: 'libvulkan_lvp.so', software: true }]
 *   softwareOnly(d);                    // true: auto skips WebGPU
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';

export interface VulkanDriver {
  /** The ICD manifest (JSON) file. */
  manifest: string;
  /** Its `ICD.library_path`, as written. */
  library: string;
  /** A CPU rasteriser (lavapipe / llvmpipe, SwiftShader). */
  software: boolean;
  /** A GPU driver whose device nodes are missing here (e.g. Mesa's Intel driver without /dev/dri/renderD*). */
  noDevice?: boolean;
}

/** Filesystem reads, injectable for tests. */
export interface VulkanFs {
  list(dir: string): string[];
  read(file: string): string;
  isDir(path: string): boolean;
}

/** Whether a GPU driver's device nodes exist; undefined for drivers this does not know (assumed usable). */
function deviceMissing(library: string, manifest: string, fs: VulkanFs): boolean {
  const mesa = MESA_GPU.exec(basename(library));
  if (mesa) {
    // A render node counts for the driver when its PCI vendor is the driver's (an NVIDIA
    // card's node does not make Mesa's Intel driver usable); nodes whose vendor cannot be
    // read (platform GPUs) count for any.
    const want = MESA_VENDOR[mesa[1]!.toLowerCase()];
    return !fs.list('/dev/dri').some((f) => {
      if (!f.startsWith('renderD')) return false;
      if (!want) return true;
      let vendor: string;
      try {
        vendor = fs.read(`/sys/class/drm/${f}/device/vendor`).trim().toLowerCase();
      } catch {
        return true;
      }
      return vendor === want;
    });
  }
  if (NVIDIA.test(basename(library)) || NVIDIA.test(basename(manifest))) return !fs.list('/dev').some((f) => f === 'nvidiactl' || /^nvidia\d+$/.test(f));
  return false;
}

const realFs: VulkanFs = {
  list: (dir) => {
    try {
      return readdirSync(dir).sort();
    } catch {
      return [];
    }
  },
  read: (file) => readFileSync(file, 'utf8'),
  isDir: (p) => {
    try {
      return statSync(p).isDirectory();
    } catch {
      return false;
    }
  },
};

const SOFTWARE = /lvp|lavapipe|llvmpipe|swiftshader/i;
/** Mesa's GPU drivers (libvulkan_<name>.so): they open a DRM render node. */
const MESA_GPU = /libvulkan_(intel|intel_hasvk|radeon|virtio|nouveau|freedreno|panfrost|broadcom|asahi|powervr_mesa|gfxstream)\.so/i;
const NVIDIA = /nvidia/i;
/** PCI vendor ids of the Mesa drivers for PCI GPUs. */
const MESA_VENDOR: Record<string, string> = { intel: '0x8086', intel_hasvk: '0x8086', radeon: '0x1002', virtio: '0x1af4', nouveau: '0x10de' };

function splitList(v: string | undefined): string[] {
  return (v ?? '').split(':').filter((x) => x.trim() !== '');
}

/** Manifest files named by an env list entry: a JSON file, or every JSON file in a folder. */
function expand(entries: readonly string[], fs: VulkanFs): string[] {
  return entries.flatMap((e) => (fs.isDir(e) ? fs.list(e).filter((f) => f.endsWith('.json')).map((f) => join(e, f)) : [e]));
}

function defaultManifests(env: Record<string, string | undefined>, fs: VulkanFs): string[] {
  const home = env.HOME;
  // The user's own folders come first, as the loader searches them.
  const configHome = env.XDG_CONFIG_HOME || (home ? join(home, '.config') : undefined);
  const dataHome = env.XDG_DATA_HOME || (home ? join(home, '.local/share') : undefined);
  const config = splitList(env.XDG_CONFIG_DIRS).length ? splitList(env.XDG_CONFIG_DIRS) : ['/etc/xdg'];
  const data = splitList(env.XDG_DATA_DIRS).length ? splitList(env.XDG_DATA_DIRS) : ['/usr/local/share', '/usr/share'];
  const dirs = [...(configHome ? [configHome] : []), ...config].map((d) => join(d, 'vulkan/icd.d'));
  dirs.push('/etc/vulkan/icd.d', ...[...(dataHome ? [dataHome] : []), ...data].map((d) => join(d, 'vulkan/icd.d')));
  return expand([...new Set(dirs)], fs);
}

/** The drivers the loader would load; manifests that cannot be read or parsed are left out. */
export function vulkanDrivers(env: Record<string, string | undefined> = process.env, fs: VulkanFs = realFs): VulkanDriver[] {
  const replace = splitList(env.VK_DRIVER_FILES ?? env.VK_ICD_FILENAMES);
  const files = [...(replace.length ? expand(replace, fs) : defaultManifests(env, fs)), ...expand(splitList(env.VK_ADD_DRIVER_FILES), fs)];
  const out: VulkanDriver[] = [];
  for (const manifest of [...new Set(files)]) {
    let library: unknown;
    try {
      library = (JSON.parse(fs.read(manifest)) as { ICD?: { library_path?: unknown } }).ICD?.library_path;
    } catch {
      continue;
    }
    if (typeof library !== 'string') continue;
    const software = SOFTWARE.test(basename(manifest)) || SOFTWARE.test(basename(library));
    out.push({ manifest, library, software, ...(!software && deviceMissing(library, manifest, fs) ? { noDevice: true } : {}) });
  }
  return out;
}

/** True when there are drivers, one of them is a software rasteriser, and none can reach a GPU. */
export function softwareOnly(drivers: readonly VulkanDriver[]): boolean {
  return drivers.some((d) => d.software) && drivers.every((d) => d.software || d.noDevice);
}
