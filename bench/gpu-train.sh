#!/usr/bin/env bash
# More training of the bundled world model on an offline GPU machine (docs/gpu.md).
#
#   bench/gpu-train.sh --out DIR [--bundle DIR] [--minutes M] [--device webgpu|cpu|auto]
#                      [--denoiser-batch N] [--denoiser-lr X] [--base-images N]
#                      [--subject-weight W] [--token-lr-scale K]
#                      [--classifier-minutes M] [--classifier-depth N] [--classifier-channels a,b,..]
#                      [--classifier-batch N] [--classifier-images N]
#
# Needs the bundle of `npm run bench:gpu:bundle -- --world-model models/world`
# (default .bench/gpu/). Unpacks it, sets up Vulkan for WebGPU like bench/gpu.sh,
# then runs two trainings of tools/train-world.ts side by side, each time-boxed:
#   - the text encoder + UNet, further from the packed model (--more-denoiser);
#   - a new measuring classifier from scratch (--retrain-classifier), unless
#     --classifier-minutes 0.
# A training that fails on the GPU provider (no adapter, or a loss that is not
# finite) is run again on the CPU for the time left, from the packed weights: the
# failed run's weights and checkpoint (other batch size, maybe non-finite) are dropped. Writes to --out:
# unet.safetensors, text_encoder.safetensors, transport.json, world-denoiser.json,
# classifier/{model.safetensors,config.json}, world-classifier.json, and the logs;
# bring them back and run `node bin/run-ts.js tools/world-device.ts merge DIR`.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bundle=${ZIPBANK_GPU_BUNDLE:-}
if [ -z "$bundle" ]; then
  if [ -f "$here/gpu-bench.tar.xz" ]; then bundle=$here; else bundle=$here/../.bench/gpu; fi
fi
out=
minutes=6
cls_minutes=5.5
device=webgpu
den=(--denoiser-batch 256 --denoiser-lr 1e-3 --base-images 24000)
cls=(--classifier-depth 2 --classifier-channels 32,64,128,256,256 --classifier-batch 128 --classifier-images 40000)
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$2; shift 2 ;;
    --bundle) bundle=$2; shift 2 ;;
    --minutes) minutes=$2; shift 2 ;;
    --classifier-minutes) cls_minutes=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --denoiser-*|--base-images|--subject-weight|--token-lr-scale) den+=("$1" "$2"); shift 2 ;;
    --classifier-*) cls+=("$1" "$2"); shift 2 ;;
    *) echo "unknown option $1"; exit 2 ;;
  esac
done
[ -n "$out" ] || { echo "--out DIR is required"; exit 2; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
t_start=$(date +%s)
elapsed() { echo $(( $(date +%s) - t_start )); }

archive=$bundle/gpu-bench.tar.xz
[ -f "$archive" ] || { echo "FAILED at bundle: no $archive (npm run bench:gpu:bundle -- --world-model models/world)"; exit 1; }
[ -f "$bundle/MANIFEST" ] && sed 's/^/bundle: /' "$bundle/MANIFEST"
work=$(mktemp -d "${TMPDIR:-/tmp}/zipbank-gpu-train.XXXXXX")
tar -C "$work" -xJf "$archive" || { echo "FAILED at unpack"; exit 1; }
[ -d "$work/model" ] || { echo "FAILED at bundle: it has no model/ (build it with --world-model)"; exit 1; }
echo "unpacked in $(elapsed) s"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | sed 's/^/gpu: /'
echo "cpus: $(nproc)"

# Vulkan for WebGPU (as bench/gpu.sh).
# shellcheck source=bench/gpu-vulkan.sh
. "$here/gpu-vulkan.sh"
gpu_vulkan_setup "$work/vulkan"
export UV_THREADPOOL_SIZE=$(nproc)

cp -r "$work/model" "$work/den"
mkdir -p "$work/cls"
cp "$work/model/world.json" "$work/cls/world.json" 2>/dev/null
cp "$work/model/transport.json" "$out/transport.json"

# run NAME MINUTES ARGS...: the training on $device, then on the CPU for the time left if it failed.
run() {
  local name=$1 budget=$2
  shift 2
  local t0 log=$out/$name.log
  t0=$(date +%s)
  echo "[$name] device $device, $budget min" | tee "$log"
  "$work/node" "$work/app/train-world.mjs" --device "$device" --budget-minutes "$budget" "$@" >>"$log" 2>&1
  local rc=$?
  if [ $rc -ne 0 ] && [ "$device" != cpu ]; then
    local left
    left=$(awk -v b="$budget" -v s=$(( $(date +%s) - t0 )) 'BEGIN { l = b - s / 60 - 0.7; printf "%.2f", (l < 0.5 ? 0.5 : l) }')
    echo "[$name] failed on $device (status $rc): $(grep -m1 -E 'Error|error' "$log" | cut -c1-300); again on the CPU for $left min" | tee -a "$log"
    [ -n "${RETRY_RESET:-}" ] && "$RETRY_RESET"
    "$work/node" "$work/app/train-world.mjs" --device cpu --budget-minutes "$left" "$@" "${CPU_ARGS[@]}" >>"$log" 2>&1
    rc=$?
  fi
  echo "[$name] status $rc after $(( $(date +%s) - t0 )) s" | tee -a "$log"
  return $rc
}

CPU_ARGS=(--denoiser-batch 32)
# Before a CPU retry of the denoiser: the packed weights back, the failed round's
# checkpoint and state gone (its latents and the dataset cache stay: same VAE).
reset_den() {
  rm -rf "$work/den/unet" "$work/den/text_encoder"
  cp -r "$work/model/unet" "$work/model/text_encoder" "$work/model/world.json" "$work/den/"
  rm -f "$work/den/.train/more/denoiser.ckpt.safetensors" "$work/den/.train/more/state.json"
}
RETRY_RESET=reset_den
run denoiser "$minutes" --out "$work/den" --more-denoiser "${den[@]}" &
pid_den=$!
pid_cls=
if [ "$cls_minutes" != 0 ]; then
  CPU_ARGS=(--classifier-batch 64)
  RETRY_RESET=
  run classifier "$cls_minutes" --out "$work/cls" --retrain-classifier "${cls[@]}" &
  pid_cls=$!
fi
# Progress while they run.
( while sleep 30; do echo "[$(elapsed) s] $(tail -n1 "$out/denoiser.log" 2>/dev/null | cut -c1-160) | $(tail -n1 "$out/classifier.log" 2>/dev/null | cut -c1-160)"; done ) &
ticker=$!
wait "$pid_den"; rc_den=$?
rc_cls=0
[ -n "$pid_cls" ] && { wait "$pid_cls"; rc_cls=$?; }
kill "$ticker" 2>/dev/null

if [ $rc_den -eq 0 ]; then
  cp "$work/den/unet/diffusion_pytorch_model.safetensors" "$out/unet.safetensors"
  cp "$work/den/text_encoder/model.safetensors" "$out/text_encoder.safetensors"
  cp "$work/den/world.json" "$out/world-denoiser.json"
fi
if [ -n "$pid_cls" ] && [ $rc_cls -eq 0 ]; then
  mkdir -p "$out/classifier"
  cp "$work/cls/classifier/model.safetensors" "$work/cls/classifier/config.json" "$out/classifier/"
  cp "$work/cls/world.json" "$out/world-classifier.json"
fi
grep -h '^RESULT\|held-out accuracy\|more steps of batch' "$out"/*.log
echo "done in $(elapsed) s (denoiser status $rc_den, classifier status $rc_cls)"
rm -rf "$work"
[ $rc_den -eq 0 ] && [ $rc_cls -eq 0 ]
