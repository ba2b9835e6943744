import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const script = resolve('bench/gpu-vulkan.sh');
let dir = '';
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = '';
});

function setup(files: string[], env: Record<string, string> = {}) {
  dir = mkdtempSync(join(tmpdir(), 'zipbank-vk-'));
  for (const f of files) writeFileSync(join(dir, f), '');
  const out = execFileSync('bash', ['-c', `. "${script}"; gpu_vulkan_setup "$1"; echo "LD=$LD_LIBRARY_PATH"`, 'x', dir], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    encoding: 'utf8',
  });
  return { out, linked: readdirSync(join(dir, 'only-missing')).sort() };
}

describe('bench/gpu-vulkan.sh', () => {
  it('puts only the bundled libraries the system lacks on LD_LIBRARY_PATH, after the rest', () => {
    // libc.so.6 is in every glibc system's library cache; the other name is in none.
    const { out, linked } = setup(['libc.so.6', 'libzipbank-test-only.so.1'], { LD_LIBRARY_PATH: '/opt/first' });
    expect(linked).toEqual(['libzipbank-test-only.so.1']);
    expect(out).toContain("the system's libc.so.6 (bundled copy unused)");
    expect(out).toContain(`LD=/opt/first:${join(dir, 'only-missing')}`);
  });

  it('keeps a driver named in VK_DRIVER_FILES', () => {
    const { out } = setup([], { VK_DRIVER_FILES: '/x/nvidia_icd.json' });
    expect(out).toContain('driver from VK_DRIVER_FILES/VK_ICD_FILENAMES (/x/nvidia_icd.json)');
  });
});
