#!/usr/bin/env bash
# PyTorch vs skinnet on the layer shapes of ../shared/peers/README.md, in one session, and the ratios
# (how many times faster skinnet is; > 1 is better):
#   conv3x3 64->64 56x56 b16, conv1x1 256->64 56x56 b16, depthwise 3x3 96ch 112x112 b16,
#   depthwise 5x5 240ch 28x28 b16 (stride 1, same padding, no bias), forward and forward+backward;
#   BatchNorm training 16x64x112x112 (no activation), forward and forward+backward.
# Issue 3's targets: depthwise and BatchNorm >= 2x, dense convolutions >= 1x.
#
# PyTorch runs as the peers README calls fair: Debian /usr/bin/python3, 2 threads, channels_last,
# jemalloc. skinnet runs as built (glibc malloc); SKINNET_BENCH_JEMALLOC=1 gives it jemalloc too.
# The machine is shared and noisy: compare ratios from the same run, and run it more than once.
#
#   bash bench/peers/layers.sh [build/release/bench]   (folder holding skinnet_bench_layers_{conv,norm})
# Environment: SKINNET_PEERS_DIR (default ../shared/peers), REPS (PyTorch repetitions, default 10),
# MIN_TIME (Google Benchmark seconds per case, default 2).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bench_dir=${1:-$root/build/release/bench}
bench=$bench_dir/skinnet_bench_layers_conv
bench_norm=$bench_dir/skinnet_bench_layers_norm
peers=${SKINNET_PEERS_DIR:-$root/../shared/peers}
reps=${REPS:-10}
min_time=${MIN_TIME:-2}
for b in "$bench" "$bench_norm"; do
  [[ -x $b ]] || { echo "error: $b not found; build with -DSKINNET_BUILD_BENCH=ON" >&2; exit 1; }
done
source "$root/bench/peers/common.sh"

echo "== PyTorch (2 threads, channels_last, jemalloc)" >&2
env -u OPENBLAS_CORETYPE LD_PRELOAD=$jemalloc MALLOC_CONF=$jemalloc_conf \
  /usr/bin/python3 "$peers/bench_torch.py" layers --layout cl --reps "$reps" | grep '^RESULT ' >"$tmp/torch.txt"

echo "== skinnet (2 threads$([[ ${SKINNET_BENCH_JEMALLOC:-0} == 1 ]] && echo ', jemalloc'))" >&2
preload=()
[[ ${SKINNET_BENCH_JEMALLOC:-0} == 1 ]] && preload=(LD_PRELOAD=$jemalloc MALLOC_CONF=$jemalloc_conf)
env "${preload[@]}" OMP_NUM_THREADS=2 "$bench" --benchmark_filter='_op/' --benchmark_min_time="$min_time" \
  --benchmark_format=json >"$tmp/skinnet.json"
env "${preload[@]}" OMP_NUM_THREADS=2 "$bench_norm" --benchmark_filter='BM_BatchNormTrainForward(Backward)?/0/' \
  --benchmark_min_time="$min_time" --benchmark_format=json >"$tmp/skinnet_norm.json"

/usr/bin/python3 - "$tmp/torch.txt" "$tmp/skinnet.json" "$tmp/skinnet_norm.json" <<'PY'
import json, sys
torch = {}
for line in open(sys.argv[1]):
    d = json.loads(line[len("RESULT "):])
    if d.get("kind") == "layer":
        torch[d["layer"]] = d
ours = {b["name"].split("/")[0]: b for b in json.load(open(sys.argv[2]))["benchmarks"]}
shapes = [("conv3x3 64->64 56x56 b16", "conv3x3_64_64_56_b16"),
          ("conv1x1 256->64 56x56 b16", "conv1x1_256_64_56_b16"),
          ("dw3x3 96ch 112x112 b16 s1", "dw3x3_96_112_b16"),
          ("dw5x5 240ch 28x28 b16 s1", "dw5x5_240_28_b16")]
def ms(b):  # Google Benchmark real time, in the unit it reports
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b["time_unit"]]
    return b["real_time"] * scale
print("| layer | pass | PyTorch ms | PyTorch GFLOP/s | skinnet ms | skinnet GFLOP/s | speed-up |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
for tname, ours_name in shapes:
    t = torch.get(tname)
    for pass_, tkey, okey in (("fwd", "fwd_ms", "_fwd_op"), ("fwd+bwd", "fwdbwd_ms", "_fwdbwd_op")):
        o = ours.get("BM_" + ours_name + okey)
        if t is None or o is None:
            print(f"| {tname} | {pass_} | missing | | | | |")
            continue
        gf = t["fwd_gflops"] if pass_ == "fwd" else t["fwdbwd_gflops"]
        print(f"| {tname} | {pass_} | {t[tkey]:.1f} | {gf:.1f} | {ms(o):.1f} | {o['GFLOP/s']:.1f} | {t[tkey] / ms(o):.2f}x |")

norm = {b["name"].split("/")[0]: b for b in json.load(open(sys.argv[3]))["benchmarks"]}
t = torch.get("batchnorm 16x64x112x112 (train)")
print()
print("| layer | pass | PyTorch ms | PyTorch GB/s (nominal) | skinnet ms | skinnet GB/s (nominal) | speed-up |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
for pass_, tkey, gkey, okey in (("fwd", "fwd_ms", "fwd_gbs_nominal", "BM_BatchNormTrainForward"),
                                ("fwd+bwd", "fwdbwd_ms", "fwdbwd_gbs_nominal", "BM_BatchNormTrainForwardBackward")):
    o = norm.get(okey)
    if t is None or o is None:
        print(f"| batchnorm 16x64x112x112 train | {pass_} | missing | | | | |")
        continue
    print(f"| batchnorm 16x64x112x112 train | {pass_} | {t[tkey]:.1f} | {t[gkey]:.1f} | {ms(o):.1f} | "
          f"{o['GB/s_nominal'] / 1e9:.1f} | {t[tkey] / ms(o):.2f}x |")
PY
