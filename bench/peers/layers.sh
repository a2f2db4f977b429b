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
# The machine is shared and noisy, and its memory speed drifts from minute to minute: the script runs
# ROUNDS rounds, PyTorch first in odd rounds and skinnet first in even ones (so a drift does not always
# favour the same side), takes each layer's ratio within every round, and prints the median time of
# each side and the median ratio, with the range of the per-round ratios.
#
#   bash bench/peers/layers.sh [build/release/bench]   (folder holding skinnet_bench_layers_{conv,norm})
# Environment: SKINNET_PEERS_DIR (default ../shared/peers), REPS (PyTorch repetitions, default 10),
# MIN_TIME (Google Benchmark seconds per case, default 2), ROUNDS (default 3).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bench_dir=${1:-$root/build/release/bench}
bench=$bench_dir/skinnet_bench_layers_conv
bench_norm=$bench_dir/skinnet_bench_layers_norm
peers=${SKINNET_PEERS_DIR:-$root/../shared/peers}
reps=${REPS:-10}
min_time=${MIN_TIME:-2}
rounds=${ROUNDS:-3}
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "error: ROUNDS must be a positive integer, got '$rounds'" >&2; exit 1; }
for b in "$bench" "$bench_norm"; do
  [[ -x $b ]] || { echo "error: $b not found; build with -DSKINNET_BUILD_BENCH=ON" >&2; exit 1; }
done
source "$root/bench/peers/common.sh"

run_torch() {  # $1: round
  echo "== round $1: PyTorch (2 threads, channels_last, jemalloc)" >&2
  env -u OPENBLAS_CORETYPE LD_PRELOAD=$jemalloc MALLOC_CONF=$jemalloc_conf \
    /usr/bin/python3 "$peers/bench_torch.py" layers --layout cl --reps "$reps" | grep '^RESULT ' >"$tmp/torch_$1.txt"
}
preload=()
[[ ${SKINNET_BENCH_JEMALLOC:-0} == 1 ]] && preload=(LD_PRELOAD=$jemalloc MALLOC_CONF=$jemalloc_conf)
run_skinnet() {  # $1: round
  echo "== round $1: skinnet (2 threads$([[ ${SKINNET_BENCH_JEMALLOC:-0} == 1 ]] && echo ', jemalloc'))" >&2
  env "${preload[@]}" OMP_NUM_THREADS=2 "$bench" --benchmark_filter='_op/' --benchmark_min_time="$min_time" \
    --benchmark_format=json >"$tmp/skinnet_$1.json"
  env "${preload[@]}" OMP_NUM_THREADS=2 "$bench_norm" --benchmark_filter='BM_BatchNormTrainForward(Backward)?/0/' \
    --benchmark_min_time="$min_time" --benchmark_format=json >"$tmp/skinnet_norm_$1.json"
}
for ((r = 1; r <= rounds; r++)); do
  if ((r % 2)); then run_torch "$r"; run_skinnet "$r"; else run_skinnet "$r"; run_torch "$r"; fi
done

/usr/bin/python3 - "$tmp" "$rounds" <<'PY'
import json, statistics, sys
tmp, rounds = sys.argv[1], int(sys.argv[2])

def ms(b):  # Google Benchmark real time, in the unit it reports
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b["time_unit"]]
    return b["real_time"] * scale

# rows[(layer, pass)] = list over rounds of (PyTorch ms, skinnet ms, skinnet rate, its unit)
rows = {}
for r in range(1, rounds + 1):
    torch = {}
    for line in open(f"{tmp}/torch_{r}.txt"):
        d = json.loads(line[len("RESULT "):])
        if d.get("kind") == "layer":
            torch[d["layer"]] = d
    ours = {b["name"].split("/")[0]: b for b in json.load(open(f"{tmp}/skinnet_{r}.json"))["benchmarks"]}
    ours.update({b["name"].split("/")[0]: b for b in json.load(open(f"{tmp}/skinnet_norm_{r}.json"))["benchmarks"]})
    cases = [("conv3x3 64->64 56x56 b16", "conv3x3 64->64 56x56 b16", "BM_conv3x3_64_64_56_b16"),
             ("conv1x1 256->64 56x56 b16", "conv1x1 256->64 56x56 b16", "BM_conv1x1_256_64_56_b16"),
             ("dw3x3 96ch 112x112 b16 s1", "dw3x3 96ch 112x112 b16 s1", "BM_dw3x3_96_112_b16"),
             ("dw5x5 240ch 28x28 b16 s1", "dw5x5 240ch 28x28 b16 s1", "BM_dw5x5_240_28_b16")]
    for name, tname, oname in cases:
        for pass_, tkey, okey in (("fwd", "fwd_ms", "_fwd_op"), ("fwd+bwd", "fwdbwd_ms", "_fwdbwd_op")):
            t, o = torch.get(tname), ours.get(oname + okey)
            if t is not None and o is not None:
                rows.setdefault((name, pass_), []).append((t[tkey], ms(o), o["GFLOP/s"], "GFLOP/s"))
    t = torch.get("batchnorm 16x64x112x112 (train)")
    for pass_, tkey, okey in (("fwd", "fwd_ms", "BM_BatchNormTrainForward"),
                              ("fwd+bwd", "fwdbwd_ms", "BM_BatchNormTrainForwardBackward")):
        o = ours.get(okey)
        if t is not None and o is not None:
            rows.setdefault(("batchnorm 16x64x112x112 train", pass_), []).append(
                (t[tkey], ms(o), o["GB/s_nominal"] / 1e9, "GB/s nominal"))

print(f"{rounds} rounds; times are medians over the rounds, the speed-up is the median of the per-round")
print("ratios (PyTorch time / skinnet time, > 1: skinnet faster) with their range.")
print()
print("| layer | pass | PyTorch ms | skinnet ms | skinnet rate | speed-up | range |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
for (name, pass_), v in rows.items():
    ratios = [t / o for t, o, _, _ in v]
    partial = "" if len(v) == rounds else f" ({len(v)} of {rounds} rounds)"
    print(f"| {name} | {pass_} | {statistics.median(x[0] for x in v):.1f} | {statistics.median(x[1] for x in v):.1f} | "
          f"{statistics.median(x[2] for x in v):.1f} {v[0][3]} | {statistics.median(ratios):.2f}x | "
          f"{min(ratios):.2f}-{max(ratios):.2f}x{partial} |")
missing = [f"{k} {p}" for k in ("conv3x3", "conv1x1", "dw3x3", "dw5x5", "batchnorm") for p in ("fwd", "fwd+bwd")
           if not any(n.startswith(k) and q == p for n, q in rows)]
if missing:
    print("missing results: " + ", ".join(missing))
    sys.exit(1)
PY
