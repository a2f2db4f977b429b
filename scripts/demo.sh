#!/usr/bin/env bash
# The main job, from a fresh machine: installs dependencies, builds the skinnet tool and runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/cuda/bin:$PATH"
bash scripts/install-deps.sh
cmake -S . -B build/demo -G Ninja -DCMAKE_BUILD_TYPE=Release -DSKINNET_BUILD_TESTS=OFF \
  -DSKINNET_BUILD_BENCH=OFF -DSKINNET_BUILD_EXAMPLES=ON >/dev/null
cmake --build build/demo -j "$(nproc)" --target skinnet_cli
./build/demo/examples/skinnet info
