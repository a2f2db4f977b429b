# Shared by the bench/peers scripts (sourced): checks that the PyTorch peer can run as the peers
# README calls fair, and sets $jemalloc / $jemalloc_conf for its LD_PRELOAD, and a $tmp folder
# removed on exit. Needs $peers (the folder holding bench_torch.py).
[[ -f $peers/bench_torch.py ]] || { echo "error: $peers/bench_torch.py not found (set SKINNET_PEERS_DIR)" >&2; exit 1; }
jemalloc=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
[[ -f $jemalloc ]] || { echo "error: $jemalloc missing (apt-get install libjemalloc2)" >&2; exit 1; }
jemalloc_conf="oversize_threshold:1,background_thread:true,metadata_thp:auto,dirty_decay_ms:-1,muzzy_decay_ms:-1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
