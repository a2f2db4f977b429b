#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ with clang (-fsanitize=fuzzer,address,undefined) and runs each
# for a bounded time, starting from seeds written by fuzz/make_seeds.cpp. Fails (non-zero exit) when a
# target fails to build or a fuzzer finds a crash, a sanitizer report, a leak or a timeout; the input
# that triggered it is kept under $OUT/artifacts/.
#
#   SKINNET_FUZZ_SECONDS  seconds per target (default 30)
#   SKINNET_FUZZ_DIR      work folder (default build/fuzz): binaries, corpora, artifacts
#   SKINNET_FUZZ_CXX      compiler (default clang++)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${SKINNET_FUZZ_SECONDS:-30}"
out="${SKINNET_FUZZ_DIR:-build/fuzz}"
cxx="${SKINNET_FUZZ_CXX:-clang++}"
mkdir -p "$out/artifacts"

common=(-std=c++20 -O1 -g -fno-omit-frame-pointer -Iinclude)
san=(-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)

echo "fuzz: building seeds and targets with $cxx"
"$cxx" "${common[@]}" fuzz/make_seeds.cpp -o "$out/make_seeds"
"$out/make_seeds" "$out/seeds/image" "$out/seeds/csv"

status=0
for target in image csv; do
  "$cxx" "${common[@]}" "${san[@]}" "fuzz/fuzz_${target}.cpp" -o "$out/fuzz_${target}"
  mkdir -p "$out/corpus/$target"
  echo "fuzz: fuzz_${target} for ${secs}s"
  if ! UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=detect_leaks=1 \
      "$out/fuzz_${target}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$out/artifacts/${target}-" "$out/corpus/$target" "$out/seeds/$target" \
      >"$out/fuzz_${target}.log" 2>&1; then
    echo "fuzz: fuzz_${target} FAILED; last lines of $out/fuzz_${target}.log:" >&2
    tail -40 "$out/fuzz_${target}.log" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units|cov:" "$out/fuzz_${target}.log" | tail -2 || true
  fi
done
if [[ $status -ne 0 ]]; then
  echo "fuzz: FAILED (crashing inputs in $out/artifacts/)" >&2
  exit 1
fi
echo "fuzz: all targets ran ${secs}s each without a finding"
