#!/usr/bin/env bash
# Mutation check for the CUDA SGEMM tests: breaks kernels/gemm.cuh in one small way at a time
# (delete a __syncthreads, shift a bounds check by one, ...), rebuilds tests/emu/test_gemm_cuda.cpp
# against the broken copy, and requires the test executable to fail. A mutant that passes means the
# tests cannot see that kind of bug. The checkout itself is never modified: the mutated copy lives in
# a temporary directory that shadows kernels/gemm.cuh on the include path.
#
#   usage: tests/mutation/gemm_mutations.sh            (about 20-40 s per mutant on one core)
#   env:   CXX (default g++), MUTATION_CXXFLAGS (default -O2 -march=native), MUTATION_TIMEOUT (300 s)
#          e.g. MUTATION_CXXFLAGS="-O1 -g -fsanitize=address,undefined" for the sanitizer view
set -euo pipefail
cd "$(dirname "$0")/../.."

cxx=${CXX:-g++}
flags=${MUTATION_CXXFLAGS:-"-O2 -march=native"}
timeout_s=${MUTATION_TIMEOUT:-300}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/kernels"

# name | exact text in kernels/gemm.cuh | replacement | which occurrence (1-based)
mutations=(
  "barrier 1 deleted (multiply before the slice is in shared memory)|__syncthreads();|/* mutant */;|1"
  "barrier 2 deleted (next slice overwrites one still being read)|__syncthreads();|/* mutant */;|2"
  "tile load row bound: gr < rows  ->  gr <= rows|gr < rows|gr <= rows|1"
  "tile load K bound: gk < K  ->  gk <= K|gk < K|gk <= K|1"
  "store row bound: m < M  ->  m <= M|if (m < M)|if (m <= M)|1"
  "store column bound: n < N  ->  n <= N|if (n < N)|if (n <= N)|1"
  "slice count rounds down: last partial K slice skipped|(K + BK - 1) / BK|K / BK|1"
  "one K slice too many: s < slices  ->  s <= slices|s < slices; ++s|s <= slices; ++s|1"
  "tile columns off by one: (N + BN - 1) / BN  ->  (N + BN) / BN|(N + BN - 1) / BN|(N + BN) / BN|1"
  "beta == 0 reads C anyway|beta == 0.f ?|false ?|1"
)

build() {  # $1: output executable; the copy of gemm.cuh in $work/kernels shadows the real one
  # shellcheck disable=SC2086
  "$cxx" -std=c++20 $flags -DSKINNET_CUDA_EMULATION -I"$work" -Iinclude -I. -Itests \
    "$work/main.o" tests/emu/test_gemm_cuda.cpp -lboost_context -pthread -o "$1"
}
run() { timeout "$timeout_s" "$1" --minimal >"$work/run.log" 2>&1; }

echo "gemm mutations: compiling the doctest main"
# shellcheck disable=SC2086
"$cxx" -std=c++20 $flags -c tests/main.cpp -o "$work/main.o"

echo "gemm mutations: unmutated kernel must pass"
cp kernels/gemm.cuh "$work/kernels/gemm.cuh"
build "$work/t"
if ! run "$work/t"; then
  cat "$work/run.log"
  echo "gemm mutations: FAILED: the tests fail on the unmutated kernel" >&2
  exit 1
fi

survivors=0
printf '\n%-8s %s\n' result mutation
for m in "${mutations[@]}"; do
  IFS='|' read -r name old new nth <<<"$m"
  python3 - "$work/kernels/gemm.cuh" "$old" "$new" "$nth" <<'EOF'
import sys
path, old, new, nth = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
src = open("kernels/gemm.cuh").read()
pos = -1
for _ in range(nth):
    pos = src.find(old, pos + 1)
    if pos < 0:
        sys.exit(f"mutation text {old!r} (occurrence {nth}) not found in kernels/gemm.cuh: update the list")
open(path, "w").write(src[:pos] + new + src[pos + len(old):])
EOF
  if ! build "$work/t" 2>"$work/build.log"; then
    result="caught (does not compile)"
  elif run "$work/t" 2>/dev/null; then  # (2>/dev/null: bash's "Segmentation fault" notice)
    result="SURVIVED"
    survivors=$((survivors + 1))
  else
    # The first doctest failure line says which check saw the mutant.
    why=$(grep -m1 -E 'ERROR|CRASHED|SIGSEGV|SIGFPE|FATAL' "$work/run.log" | sed -E 's/^[^:]*:[0-9]+: //' | cut -c1-70 || true)
    result="caught"
    [[ -n "$why" ]] && result="caught ($why)"
  fi
  printf '%-8s %s\n' "${result%% *}" "$name"
  [[ "$result" == caught\ * ]] && printf '         %s\n' "${result#caught }"
done

echo
if (( survivors > 0 )); then
  echo "gemm mutations: FAILED: $survivors mutant(s) survived: the tests miss that kind of bug" >&2
  exit 1
fi
echo "gemm mutations: OK: all ${#mutations[@]} mutants caught"
