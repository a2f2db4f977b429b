#!/usr/bin/env bash
# PyTorch vs skinnet on whole training steps (forward, cross-entropy, backward, Adam) of the models
# ../shared/peers/models_torch.py defines, in one session, and the ratios (how many times faster
# skinnet is; > 1 is better). Layer-level ratios come from bench/peers/layers.sh; this script checks
# that they add up to a faster network.
#
# PyTorch runs as the peers README calls fair: Debian /usr/bin/python3, 2 threads, channels_last,
# jemalloc. A training step at batch 16, 224x224 takes seconds on two cores, so the defaults make a
# full run take several minutes.
#
#   bash bench/peers/models.sh [build/release/bench]   (folder holding skinnet_bench_model_step)
# Environment: MODELS (default "seresnet50 xception efficientnet_b0"), BATCH (16), SIZE (224),
# REPS (timed steps on each side, default 5),
# SKINNET_PEERS_DIR (default ../shared/peers).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bench=${1:-$root/build/release/bench}/skinnet_bench_model_step
peers=${SKINNET_PEERS_DIR:-$root/../shared/peers}
models=${MODELS:-seresnet50 xception efficientnet_b0}
batch=${BATCH:-16}
size=${SIZE:-224}
reps=${REPS:-5}
[[ -x $bench ]] || { echo "error: $bench not found; build with -DSKINNET_BUILD_BENCH=ON" >&2; exit 1; }
source "$root/bench/peers/common.sh"

for m in $models; do
  echo "== PyTorch train step $m b$batch ${size}x$size (2 threads, channels_last, jemalloc)" >&2
  env -u OPENBLAS_CORETYPE LD_PRELOAD=$jemalloc MALLOC_CONF=$jemalloc_conf /usr/bin/python3 \
    "$peers/bench_torch.py" train --model "$m" --batch "$batch" --size "$size" --layout cl --reps "$reps" |
    grep '^RESULT ' >>"$tmp/torch.txt"
done

echo "== skinnet train steps (2 threads)" >&2
SKINNET_BENCH_MODELS=$(tr ' ' ',' <<<"$models") SKINNET_BENCH_BATCH=$batch SKINNET_BENCH_SIZE=$size SKINNET_BENCH_STEPS=$reps \
  OMP_NUM_THREADS=2 \
  "$bench" --benchmark_filter='^TrainStep/' --benchmark_format=json \
  >"$tmp/skinnet.json"

/usr/bin/python3 - "$tmp/torch.txt" "$tmp/skinnet.json" <<'PY'
import json, sys
torch = {}
for line in open(sys.argv[1]):
    d = json.loads(line[len("RESULT "):])
    if d.get("kind") == "train":
        torch[d["model"]] = d
ours = {}
for b in json.load(open(sys.argv[2]))["benchmarks"]:
    _, model, batch, size = b["name"].split("/")[:4]
    ours[model] = (b, int(batch), int(size))
scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}
print("| model | batch | size | PyTorch ms/step (median) | PyTorch img/s | skinnet ms/step | skinnet img/s | speed-up |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for model, t in torch.items():
    if model not in ours:
        print(f"| {model} | | | missing | | | | |")
        continue
    b, batch, size = ours[model]
    ms = b["real_time"] * scale[b["time_unit"]]
    t_ms = 1e3 * t["median_s"]
    print(f"| {model} | {batch} | {size} | {t_ms:.0f} | {t['img_per_s']:.1f} | {ms:.0f} | {b['img/s']:.1f} | "
          f"{t_ms / ms:.2f}x |")
PY
