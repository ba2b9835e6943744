#!/usr/bin/env bash
# npm run bench:gpu:bundle [-- OUT_DIR] [--world-model DIR]
#
# Prepares what bench/gpu.sh needs on an offline GPU machine that may have no Node,
# in a git-ignored folder (default .bench/gpu/):
#   gpu-bench.tar.xz  app/gpu.mjs (esbuild bundle of bench/gpu.ts), app/clip-vocab/,
#                     app/node_modules/onnxruntime-node (dist + this platform's native
#                     libraries, the CUDA provider too if `npm run gpu:cuda` installed it)
#                     and onnxruntime-common, node (this machine's Node binary),
#                     vulkan/ (Debian's libvulkan1, and libglvnd0, libglx0, libegl1:
#                     NVIDIA's Vulkan driver library needs them; when apt-get can
#                     download them here)
#                     app/train-world.mjs (tools/train-world.ts) with sharp and its
#                     libvips, and with --world-model DIR model/: that world model
#                     packed by tools/world-device.ts (float16, used token rows only),
#                     for bench/gpu-train.sh
#   gpu.sh            a copy of bench/gpu.sh, so the folder alone is enough
#   MANIFEST          versions and sha256 of the archive
# Binaries only ever live in that folder; never commit them.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=
world_model=
while [ $# -gt 0 ]; do
  case $1 in
    --world-model) world_model=${2:?--world-model needs a folder}; shift 2 ;;
    *) out=$1; shift ;;
  esac
done
out=${out:-$repo/.bench/gpu}
stage=$(mktemp -d "${TMPDIR:-/tmp}/zipbank-gpu-bundle.XXXXXX")
trap 'rm -rf "$stage"' EXIT
say() { printf '%s\n' "$*"; }

cd "$repo"
mkdir -p "$stage/app/node_modules" "$stage/vulkan" "$out"

say "1/5 esbuild bench/gpu.ts -> app/gpu.mjs"
esbuild=node_modules/.bin/esbuild
[ -x "$esbuild" ] || { say "esbuild not found in node_modules/.bin (it comes with tsx): run npm ci"; exit 1; }
"$esbuild" bench/gpu.ts --bundle --platform=node --format=esm --target=node20 \
  --outfile="$stage/app/gpu.mjs" --external:onnxruntime-node --external:sharp --log-level=warning \
  --banner:js="import { createRequire as __zbCreateRequire } from 'node:module'; const require = __zbCreateRequire(import.meta.url);"
# clip-vocab.ts finds the shipped vocabulary next to itself (import.meta.url): in the bundle, next to gpu.mjs.
cp -r src/engine/pipeline/tokenizer/clip-vocab "$stage/app/clip-vocab"
"$esbuild" tools/train-world.ts --bundle --platform=node --format=esm --target=node20 \
  --outfile="$stage/app/train-world.mjs" --external:onnxruntime-node --external:sharp --log-level=warning \
  --banner:js="import { createRequire as __zbCreateRequire } from 'node:module'; const require = __zbCreateRequire(import.meta.url);"
# sharp (the world's renderer) and what it loads: its Linux x64 binding and libvips.
for p in sharp @img/colour @img/sharp-linux-x64 @img/sharp-libvips-linux-x64 detect-libc semver; do
  [ -d "node_modules/$p" ] || { say "node_modules/$p is missing: run npm ci"; exit 1; }
  mkdir -p "$stage/app/node_modules/$(dirname "$p")"
  cp -r "node_modules/$p" "$stage/app/node_modules/$p"
done

say "2/5 onnxruntime-node $(node -p "require('./node_modules/onnxruntime-node/package.json').version") (native: linux/x64)"
ort=node_modules/onnxruntime-node
native=$ort/bin/napi-v6/linux/x64
[ -f "$native/onnxruntime_binding.node" ] || { say "no $native/onnxruntime_binding.node: the bundle is for Linux x64"; exit 1; }
dest=$stage/app/node_modules/onnxruntime-node
mkdir -p "$dest/bin/napi-v6/linux/x64"
cp "$ort/package.json" "$dest/"
cp -r "$ort/dist" "$dest/dist"
cp "$native"/* "$dest/bin/napi-v6/linux/x64/"
cp -r node_modules/onnxruntime-common "$stage/app/node_modules/onnxruntime-common"
ls "$native" | sed 's/^/    /'

node_bin=$(node -p 'process.execPath')
say "3/5 node $(node --version) from $node_bin"
cp "$node_bin" "$stage/node"

say "4/5 libvulkan1 + libglvnd (Vulkan loader for WebGPU, and the GL dispatch libraries NVIDIA's Vulkan driver loads)"
vulkan_note="not included (apt-get download libvulkan1 failed here): the GPU machine needs its own libvulkan.so.1"
if command -v apt-get >/dev/null && command -v dpkg >/dev/null; then
  if (cd "$stage" && apt-get download libvulkan1 libglvnd0 libglx0 libegl1 >/dev/null 2>&1); then
    for deb in "$stage"/*.deb; do dpkg -x "$deb" "$stage/deb"; done
    cp -P "$stage"/deb/usr/lib/*/lib*.so.* "$stage/vulkan/"
    vulkan_note="$(cd "$stage" && ls ./*.deb | sed 's|^\./||' | tr '\n' ' ')"
    rm -rf "$stage/deb" "$stage"/*.deb
  fi
fi
say "    $vulkan_note"

say "5/5 packing (xz)"
rm -f "$out/gpu-bench.tar.xz"
parts=(app node vulkan)
if [ -n "$world_model" ]; then
  node bin/run-ts.js tools/world-device.ts pack --model "$world_model" "$stage/model"
  parts+=(model)
fi
XZ_OPT=${XZ_OPT:--T0 -6} tar -C "$stage" -cJf "$out/gpu-bench.tar.xz" "${parts[@]}"
cp bench/gpu.sh bench/gpu-vulkan.sh bench/gpu-train.sh "$out/"
chmod +x "$out/gpu.sh" "$out/gpu-train.sh"
{
  echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) from $(git rev-parse --short HEAD 2>/dev/null || echo '?') (working tree, uncommitted changes included)"
  echo "node $(node --version)"
  echo "onnxruntime-node $(node -p "require('./node_modules/onnxruntime-node/package.json').version")"
  echo "libvulkan1: $vulkan_note"
  if [ -n "$world_model" ]; then echo "world model: $world_model ($(git log -1 --format=%h -- "$world_model" 2>/dev/null || echo '?'))"; fi
  echo "sha256 $(sha256sum "$out/gpu-bench.tar.xz" | cut -d' ' -f1)  gpu-bench.tar.xz"
} >"$out/MANIFEST"
say "wrote $out: $(du -h "$out/gpu-bench.tar.xz" | cut -f1) gpu-bench.tar.xz, gpu.sh, gpu-vulkan.sh, gpu-train.sh, MANIFEST"
