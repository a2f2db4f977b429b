#!/usr/bin/env bash
# Compiles every kernels/instantiate/*.cu with nvcc for sm_80 and sm_90 (compile only: no GPU needed)
# with all warnings as errors, saves each ptxas report under OUTDIR, prints a table of registers,
# shared memory and spills per kernel, and fails if anything warns, fails to compile, or spills.
#
#   usage: scripts/check-kernels.sh OUTDIR [LAUNCH_LOG]     (CI: build/release/ptxas)
#   env:   NVCC (default: nvcc on PATH, else /usr/local/cuda/bin/nvcc), CHECK_KERNELS_ARCHS ("80 90")
#
# LAUNCH_LOG (optional) is a file written by emulated test runs with SKINNET_EMU_LAUNCH_LOG=<file>
# (programs linking skinnet::emulator get -rdynamic, so the log names kernels by their mangled symbol, as ptxas
# does). Each logged launch configuration is then checked against the ptxas report of every
# architecture: threads per block within what the kernel's register count allows (64K registers per
# SM), static + dynamic shared memory within the architecture's per-block maximum, and the kernel
# present in the report at all (i.e. instantiated in kernels/instantiate/).
#
# Files written to OUTDIR:
#   <name>.sm_<arch>.ptxas.txt   full nvcc/ptxas output for one file and architecture
#   ptxas.tsv                    one row per kernel: file arch kernel(mangled) registers smem_bytes
#                                spill_store_bytes spill_load_bytes max_threads_per_block
#                                (max threads at that register count: 64K registers per block,
#                                allocated per warp in units of 256; lets CI check launch configs)
set -euo pipefail
cd "$(dirname "$0")/.."

outdir=${1:?"usage: $0 OUTDIR [LAUNCH_LOG] (OUTDIR: where the ptxas reports go)"}
launch_log=${2:-}
if [[ -n "$launch_log" && ! -f "$launch_log" ]]; then
  echo "check-kernels: ERROR: launch log $launch_log does not exist" >&2
  exit 2
fi
archs=${CHECK_KERNELS_ARCHS:-"80 90"}

nvcc=${NVCC:-}
if [[ -z "$nvcc" ]]; then
  if command -v nvcc >/dev/null 2>&1; then nvcc=$(command -v nvcc)
  elif [[ -x /usr/local/cuda/bin/nvcc ]]; then nvcc=/usr/local/cuda/bin/nvcc
  fi
fi
if [[ -z "$nvcc" || ! -x "$nvcc" ]]; then
  echo "check-kernels: ERROR: nvcc not found (looked at \$NVCC, PATH and /usr/local/cuda/bin)." >&2
  echo "check-kernels: the CUDA toolkit is required to check kernels/ (scripts/install-deps.sh);" >&2
  echo "check-kernels: refusing to skip the check silently." >&2
  exit 2
fi

shopt -s nullglob
sources=(kernels/instantiate/*.cu)
if (( ${#sources[@]} == 0 )); then
  echo "check-kernels: ERROR: no kernels/instantiate/*.cu files to compile" >&2
  exit 2
fi

mkdir -p "$outdir"
tsv="$outdir/ptxas.tsv"
printf 'file\tarch\tkernel\tregisters\tsmem_bytes\tspill_store_bytes\tspill_load_bytes\tmax_threads_per_block\n' >"$tsv"
objdir=$(mktemp -d)
trap 'rm -rf "$objdir"' EXIT

echo "check-kernels: $("$nvcc" --version | tail -n 2 | head -n 1)"
failed=0
for src in "${sources[@]}"; do
  name=$(basename "$src" .cu)
  for arch in $archs; do
    report="$outdir/$name.sm_$arch.ptxas.txt"
    # -Werror all-warnings: nvcc front-end warnings are errors. -Xptxas -Werror: so are ptxas's,
    # including -warn-spills / -warn-lmem-usage. -Xcompiler: the host side of the same file too
    # (-Wall only: the launchers pull in CPU headers whose -Wextra hygiene the CPU builds police).
    status=0
    "$nvcc" -std=c++20 -arch="sm_$arch" -O3 -Werror all-warnings \
      -Xptxas -v,-warn-spills,-warn-lmem-usage,-Werror -Xcompiler -Wall,-Werror \
      -I include -I . -c "$src" -o "$objdir/$name.sm_$arch.o" >"$report" 2>&1 || status=$?
    if (( status != 0 )); then
      echo "check-kernels: FAILED: $src for sm_$arch (nvcc exit status $status):" >&2
      grep -v '^ptxas info' "$report" | grep -vE '^ +[0-9]+ bytes stack frame, 0 bytes spill stores, 0 bytes spill loads$' >&2 || true
      failed=1
    elif grep -qiE 'warning|error' "$report"; then
      echo "check-kernels: FAILED: $src for sm_$arch produced warnings:" >&2
      grep -iE 'warning|error' "$report" >&2
      failed=1
    fi
    # ptxas -v prints, per entry function:
    #   ptxas info : Compiling entry function '<mangled>' for 'sm_80'
    #       N bytes stack frame, S bytes spill stores, L bytes spill loads
    #   ptxas info : Used R registers, ..., X bytes smem, ...
    awk -v file="$name" -v arch="sm_$arch" '
      /Compiling entry function/ { match($0, /\x27[^\x27]+\x27/); kernel = substr($0, RSTART + 1, RLENGTH - 2);
                                   st = 0; ld = 0; smem = 0; regs = 0 }
      /bytes spill stores/       { for (i = 1; i <= NF; ++i) { if ($(i+1) == "bytes" && $(i+2) == "spill" && $(i+3) == "stores,") st = $i;
                                                               if ($(i+1) == "bytes" && $(i+2) == "spill" && $(i+3) == "loads") ld = $i } }
      /Used [0-9]+ registers/    { for (i = 1; i <= NF; ++i) { if ($i == "Used") regs = $(i+1);
                                                               if ($(i+1) == "bytes" && $(i+2) ~ /^smem/) smem = $i }
                                   if (kernel != "") {
                                     per_warp = int((regs * 32 + 255) / 256) * 256; if (per_warp == 0) per_warp = 256;
                                     maxt = int(65536 / per_warp) * 32; if (maxt > 1024) maxt = 1024;
                                     printf "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\n", file, arch, kernel, regs, smem, st, ld, maxt
                                     kernel = "" } }
    ' "$report" >>"$tsv"
  done
done

# The table, with demangled kernel names (c++filt understands nvcc's Itanium mangling).
demangle() { if command -v c++filt >/dev/null 2>&1; then c++filt; else cat; fi; }
echo
printf '%-5s %-6s %5s %7s %7s  %s\n' arch regs smem spillS spillL kernel
tail -n +2 "$tsv" | while IFS=$'\t' read -r file arch kernel regs smem st ld maxt; do
  pretty=$(printf '%s\n' "$kernel" | demangle | sed -E 's/skinnet::cuda::kernels:://g; s/\(.*$//; s/^void //')
  printf '%-5s %-6s %5s %7s %7s  %s  [%s, max %s threads]\n' "${arch#sm_}" "$regs" "$smem" "$st" "$ld" "$pretty" "$file" "$maxt"
done
echo

# Launch configurations seen by the emulator against the ptxas numbers (see LAUNCH_LOG above).
if [[ -n "$launch_log" ]]; then
  if ! awk -F'\t' '
      NR == FNR { if (FNR > 1) { n[$3]++; regs[$3, n[$3]] = $4; smem[$3, n[$3]] = $5; maxt[$3, n[$3]] = $8; arch[$3, n[$3]] = $2 } next }
      {
        sym = ""; threads = 0; dyn = 0
        for (i = 1; i <= NF; ++i) {
          split($i, kv, "=")
          if (kv[1] == "symbol") sym = kv[2]; else if (kv[1] == "threads") threads = kv[2] + 0
          else if (kv[1] == "dynamic_smem") dyn = kv[2] + 0
        }
        # Only the library kernels (skinnet::cuda::kernels, "kernels::" in the launch name) are compiled
        # by nvcc; the emulator test suites also launch small kernels of their own, which are not.
        if (index($0, "kernel=kernels::") == 0 && index($0, "kernel=(kernels::") == 0) { ++test_only; next }
        if (sym == "" || sym == "?") { printf "  %s: no symbol name (link the program with -rdynamic)\n", $0; bad = 1; next }
        if (!(sym in n)) { printf "  %s: launched but not in the ptxas report (add it to kernels/instantiate/)\n", sym; bad = 1; next }
        for (j = 1; j <= n[sym]; ++j) {
          limit = arch[sym, j] == "sm_80" ? 163 * 1024 : 227 * 1024
          if (threads > maxt[sym, j]) { printf "  %s %s: %d threads x %d registers exceed the 64K registers of an SM (max %d threads)\n", arch[sym, j], sym, threads, regs[sym, j], maxt[sym, j]; bad = 1 }
          if (smem[sym, j] + dyn > limit) { printf "  %s %s: %d B static + %d B dynamic shared memory exceed %d B per block\n", arch[sym, j], sym, smem[sym, j], dyn, limit; bad = 1 }
        }
        ++checked
      }
      END {
        printf "check-kernels: %d launch configuration(s) of library kernels checked against ptxas", checked
        printf " (%d of test-only kernels not compiled by nvcc skipped)\n", test_only
        if (checked == 0) { print "check-kernels: the launch log holds no library kernel launch"; bad = 1 }
        exit bad
      }
    ' "$tsv" FS=' ' "$launch_log"; then
    echo "check-kernels: FAILED: launch configurations in $launch_log do not fit (see above)" >&2
    failed=1
  fi
fi

kernels=$(( $(wc -l <"$tsv") - 1 ))
spilling=$(awk -F'\t' 'NR > 1 && ($6 > 0 || $7 > 0)' "$tsv" | wc -l)
if (( spilling > 0 )); then
  echo "check-kernels: FAILED: $spilling kernel(s) spill registers to local memory (see $tsv)" >&2
  failed=1
fi
if (( kernels == 0 )); then
  echo "check-kernels: FAILED: ptxas reported no kernels; is the -v output format unchanged?" >&2
  failed=1
fi
if (( failed )); then
  exit 1
fi
echo "check-kernels: OK: ${#sources[@]} file(s), $kernels kernel compilation(s) for sm_{${archs// /,}}, no warnings, no spills; reports in $outdir"
