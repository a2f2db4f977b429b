#!/usr/bin/env bash
# Installs every Debian package skinnet's build, tests, benchmarks and examples need.
# Idempotent and non-interactive: it only calls apt-get when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libboost-context-dev      # emulator fibers (Boost.Context)
  libstb-dev                # stb_image / stb_image_write / stb_truetype
  doctest-dev               # tests
  libbenchmark-dev          # bench/
  libcli11-dev              # the skinnet command line tool
  nlohmann-json3-dev        # safetensors headers, run metadata
  libomp-dev                # OpenMP for clang builds (fuzzers)
  clang libclang-rt-14-dev  # libFuzzer targets
  libopenblas-dev           # benchmark peer for the CPU SGEMM
  fonts-dejavu-core         # text in plots
  python3 python3-numpy python3-venv
)
if [[ "${SKINNET_WITH_TORCH:-1}" == 1 ]]; then
  packages+=(python3-torch python3-torchvision libjemalloc2)  # cross-framework checks and peers
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all ${#packages[@]} Debian packages present"
fi

# The CUDA toolkit is not a Debian package here; every machine of this project has it at
# /usr/local/cuda. Fail loudly rather than silently skipping the nvcc checks.
if ! command -v nvcc >/dev/null 2>&1; then
  if [[ -x /usr/local/cuda/bin/nvcc ]]; then
    echo "install-deps: nvcc found at /usr/local/cuda/bin (add it to PATH; scripts do this themselves)"
  else
    echo "install-deps: ERROR: nvcc not found (expected /usr/local/cuda/bin/nvcc). The CUDA kernels" >&2
    echo "  cannot be compiled; install the CUDA toolkit or set SKINNET_ALLOW_NO_NVCC=1 to skip that check." >&2
    [[ "${SKINNET_ALLOW_NO_NVCC:-0}" == 1 ]] || exit 1
  fi
fi
