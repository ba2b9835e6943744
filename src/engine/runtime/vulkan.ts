/**
 * Which Vulkan drivers (ICDs) the Vulkan loader would see, read from their JSON
 * manifests the way the loader finds them: `VK_DRIVER_FILES` (or the older
 * `VK_ICD_FILENAMES`) replaces the search, `VK_ADD_DRIVER_FILES` adds to it, and
 * otherwise the `vulkan/icd.d` folders under /etc, XDG_CONFIG_DIRS and XDG_DATA_DIRS.
 *
 * `auto` uses this to stay off WebGPU when every driver is a software rasteriser
 * (Mesa's lavapipe, SwiftShader): WebGPU would then run on the CPU through Vulkan,
 * far slower than the CPU provider. Naming `ZIPBANK_DEVICE=webgpu` still uses it.
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
}

/** Filesystem reads, injectable for tests. */
export interface VulkanFs {
  list(dir: string): string[];
  read(file: string): string;
  isDir(path: string): boolean;
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

function splitList(v: string | undefined): string[] {
  return (v ?? '').split(':').filter((x) => x.trim() !== '');
}

/** Manifest files named by an env list entry: a JSON file, or every JSON file in a folder. */
function expand(entries: readonly string[], fs: VulkanFs): string[] {
  return entries.flatMap((e) => (fs.isDir(e) ? fs.list(e).filter((f) => f.endsWith('.json')).map((f) => join(e, f)) : [e]));
}

function defaultManifests(env: Record<string, string | undefined>, fs: VulkanFs): string[] {
  const config = splitList(env.XDG_CONFIG_DIRS).length ? splitList(env.XDG_CONFIG_DIRS) : ['/etc/xdg'];
  const data = splitList(env.XDG_DATA_DIRS).length ? splitList(env.XDG_DATA_DIRS) : ['/usr/local/share', '/usr/share'];
  const dirs = [...config.map((d) => join(d, 'vulkan/icd.d')), '/etc/vulkan/icd.d', ...data.map((d) => join(d, 'vulkan/icd.d'))];
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
    out.push({ manifest, library, software: SOFTWARE.test(basename(manifest)) || SOFTWARE.test(basename(library)) });
  }
  return out;
}

/** True when there are drivers and every one of them is a software rasteriser. */
export function softwareOnly(drivers: readonly VulkanDriver[]): boolean {
  return drivers.length > 0 && drivers.every((d) => d.software);
}
