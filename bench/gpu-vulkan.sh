# Sourced by bench/gpu.sh and bench/gpu-train.sh: makes WebGPU (Dawn over Vulkan) find
# a Vulkan loader and NVIDIA's Vulkan driver on a machine where nothing can be
# installed.
#
#   gpu_vulkan_setup BUNDLED_LIB_DIR
#
# - NVIDIA's driver description: VK_DRIVER_FILES if set, else the mounted driver's own
#   JSON (/usr/local/nvidia/...) before the system's, which on container images can
#   describe another driver build ("Could not get 'vkCreateInstance' via
#   'vk_icdGetInstanceProcAddr' for ICD libGLX_nvidia.so.0" was seen with
#   /usr/share/vulkan/icd.d/nvidia_icd.json on an H200 machine);
# - the mounted driver's libraries (/usr/local/nvidia/lib64) on LD_LIBRARY_PATH;
# - of the bundle's libvulkan.so.1 and libglvnd libraries (which libGLX_nvidia.so.0
#   loads), only those the system lacks: LD_LIBRARY_PATH is searched before the
#   system's library cache, so a bundled copy of a library the system has would
#   shadow it. They are linked into BUNDLED_LIB_DIR/only-missing, which goes last.
gpu_vulkan_setup() {
  local bundled=$1 icd d
  if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
    for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /usr/local/share/vulkan/icd.d/nvidia_icd.json; do
      if [ -f "$icd" ]; then
        export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd
        echo "vulkan: NVIDIA driver $icd (VK_DRIVER_FILES)"
        break
      fi
    done
    [ -z "${VK_DRIVER_FILES:-}" ] && echo "vulkan: no nvidia_icd.json found; set VK_DRIVER_FILES to the NVIDIA Vulkan driver's JSON if WebGPU finds no adapter"
  else
    echo "vulkan: driver from VK_DRIVER_FILES/VK_ICD_FILENAMES (${VK_DRIVER_FILES:-$VK_ICD_FILENAMES})"
  fi
  for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
    [ -d "$d" ] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d"
  done
  if ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1 '; then
    echo "vulkan: the system's loader ($(ldconfig -p | grep -m1 'libvulkan\.so\.1 ' | sed 's/.*=> //'))"
  elif [ -e "$bundled/libvulkan.so.1" ]; then
    echo "vulkan: the bundled loader (Debian libvulkan1)"
  else
    echo "vulkan: no libvulkan.so.1 on this system or in the bundle: WebGPU cannot start"
  fi
  if [ -d "$bundled" ]; then
    local missing=$bundled/only-missing f name cache
    # Names of the system's libraries for this machine's architecture (a 32-bit copy does not count).
    cache=$( (ldconfig -p || /sbin/ldconfig -p) 2>/dev/null | awk -v arch="$(uname -m | tr _ -)" 'index(tolower($0), tolower(arch)) { print $1 }')
    rm -rf "$missing" && mkdir -p "$missing"
    for f in "$bundled"/*.so*; do
      [ -e "$f" ] || continue
      name=$(basename "$f")
      if grep -qxF "$name" <<<"$cache"; then
        echo "vulkan: the system's $name (bundled copy unused)"
      else
        ln -s "$f" "$missing/$name"
      fi
    done
    export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$missing"
  fi
  if [ -z "${__EGL_VENDOR_LIBRARY_FILENAMES:-}" ] && [ -f /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json ]; then
    export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  fi
  return 0
}
