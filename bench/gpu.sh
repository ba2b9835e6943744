#!/usr/bin/env bash
# The GPU benchmark for an offline NVIDIA machine (see ../shared/docs/gpu.md).
#
#   bench/gpu.sh [--bundle DIR] [--keep] [bench/gpu.ts options]
#   e.g. bench/gpu.sh                                   # SDXL, 1024x1024, fp16, 4 steps, auto provider
#        bench/gpu.sh --preset tiny-sdxl --device cpu   # the same flow on a CPU machine, in seconds
#
# Needs the bundle made by `npm run bench:gpu:bundle` (default: gpu-bench.tar.xz next
# to this script, else ../.bench/gpu/ from the repository). Unpacks it into a temp
# folder, prints the GPU (nvidia-smi), sets up the Vulkan loader and NVIDIA driver
# for WebGPU if the system lacks them, runs the bundled Node on app/gpu.mjs
# (provider choice: CUDA if onnxruntime's CUDA provider is present and works, else
# WebGPU, else CPU), samples GPU memory every 0.5 s, and prints seconds per step and
# peak GPU memory, or `FAILED at <stage>: <reason>`.
# Environment: ZIPBANK_GPU_BUNDLE (bundle folder), ZIPBANK_GPU_NODE=system (use the
# node on PATH instead of the bundled one), TMPDIR.
set -uo pipefail

stage=start
work=
sampler=
keep=0
fail() {
  echo "FAILED at $stage: $*"
  cleanup
  exit 1
}
cleanup() {
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null && wait "$sampler" 2>/dev/null
  sampler=
  if [ -n "$work" ]; then
    if [ "$keep" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
  fi
}
trap 'echo "FAILED at $stage: interrupted"; cleanup; exit 130' INT TERM

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bundle=${ZIPBANK_GPU_BUNDLE:-}
device=auto
pass=()
while [ $# -gt 0 ]; do
  case $1 in
    --bundle) bundle=${2:-}; shift 2 ;;
    --bundle=*) bundle=${1#*=}; shift ;;
    --keep) keep=1; pass+=(--keep); shift ;;
    --device) device=${2:-}; pass+=("$1" "${2:-}"); shift 2 ;;
    --device=*) device=${1#*=}; pass+=("$1"); shift ;;
    *) pass+=("$1"); shift ;;
  esac
done
if [ -z "$bundle" ]; then
  if [ -f "$here/gpu-bench.tar.xz" ]; then bundle=$here; else bundle=$here/../.bench/gpu; fi
fi
t_start=$(date +%s)

stage=bundle
archive=$bundle/gpu-bench.tar.xz
[ -f "$archive" ] || fail "no $archive: run \`npm run bench:gpu:bundle\` where the repository is installed, and bring .bench/gpu/ along"
[ -f "$bundle/MANIFEST" ] && sed 's/^/bundle: /' "$bundle/MANIFEST"

stage=unpack
work=$(mktemp -d "${TMPDIR:-/tmp}/zipbank-gpu.XXXXXX") || fail "cannot create a temp folder"
if command -v xz >/dev/null 2>&1; then
  tar -C "$work" -xJf "$archive" || fail "tar -xJf $archive"
elif command -v python3 >/dev/null 2>&1; then
  python3 -c 'import sys, tarfile; t = tarfile.open(sys.argv[1]); (t.extractall(sys.argv[2], filter="tar") if hasattr(tarfile, "tar_filter") else t.extractall(sys.argv[2]))' "$archive" "$work" ||
    fail "python3 could not unpack $archive"
else
  fail "neither xz nor python3 is here to unpack $archive"
fi
echo "unpacked into $work"

stage=gpu
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv 2>&1 | sed 's/^/gpu: /'
else
  echo "gpu: no nvidia-smi here (no NVIDIA GPU visible); GPU memory is not sampled"
fi

stage=vulkan
if [ "$device" = auto ] || [ "$device" = webgpu ]; then
  # shellcheck source=bench/gpu-vulkan.sh
  . "$here/gpu-vulkan.sh"
  gpu_vulkan_setup "$work/vulkan"
fi
native=$work/app/node_modules/onnxruntime-node/bin/napi-v6/linux/x64
if [ -f "$native/libonnxruntime_providers_cuda.so" ]; then
  echo "cuda: onnxruntime's CUDA provider is in the bundle (it needs CUDA 12 and cuDNN 9 libraries on this machine)"
else
  echo "cuda: onnxruntime's CUDA provider is not in the bundle (npm does not ship it): auto skips CUDA, WebGPU is the GPU path"
fi

stage=node
node_cmd=$work/node
if [ "${ZIPBANK_GPU_NODE:-}" = system ]; then node_cmd=$(command -v node) || fail "ZIPBANK_GPU_NODE=system but no node on PATH"; fi
"$node_cmd" --version >/dev/null 2>&1 || fail "$node_cmd does not run here ($("$node_cmd" --version 2>&1 | head -1))"
echo "node: $("$node_cmd" --version) ($node_cmd)"

stage=run
base=
if command -v nvidia-smi >/dev/null 2>&1; then
  base=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits 2>/dev/null | head -1 | tr -d ' ')
  (
    peak=0
    while :; do
      v=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits 2>/dev/null | head -1 | tr -d ' ')
      if [ -n "$v" ] && [ "$v" -gt "$peak" ] 2>/dev/null; then
        peak=$v
        echo "$peak" >"$work/gpu-peak"
      fi
      sleep 0.5
    done
  ) &
  sampler=$!
fi
mkdir -p "$work/data"
"$node_cmd" "$work/app/gpu.mjs" --work "$work/data" "${pass[@]}" 2>&1 | tee "$work/log"
rc=${PIPESTATUS[0]}
[ -n "$sampler" ] && kill "$sampler" 2>/dev/null && wait "$sampler" 2>/dev/null
sampler=

stage=report
echo "----"
result=$(grep '^RESULT ' "$work/log" | sed 's/^RESULT //')
if [ -n "$base" ] && [ -f "$work/gpu-peak" ]; then
  peak=$(cat "$work/gpu-peak")
  echo "peak GPU memory used: $peak MiB (before the run: $base MiB, so about $((peak - base)) MiB for the bench), nvidia-smi every 0.5 s"
fi
if [ -n "$result" ]; then
  while IFS= read -r line; do
    echo "result: $line"
    field() { printf '%s' "$line" | sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"]*\).*/\1/p"; }
    echo "seconds per step: $(field meanStepSeconds) ($(field provider), $(field dtype), $(field attention) attention, $(field size)px; mean after the first step; batch 2 = one image with guidance)"
  done <<<"$result"
fi
if [ "$rc" -ne 0 ] || [ -z "$result" ]; then
  failed=$(grep -m1 '^FAILED at ' "$work/log")
  echo "${failed:-FAILED at run: node exited with status $rc}"
  cleanup
  exit 1
fi
echo "total $(($(date +%s) - t_start)) s"
cleanup
exit 0
