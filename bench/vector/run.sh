#!/usr/bin/env bash
# Vector index benchmark (numbers only, no assertions): souk's exact and
# hnsw indexes over N random vectors, d=64, top-10. Builds nothing: build
# vector_bench first (cmake --build build --target vector_bench). About
# 2 minutes on 2 cores at N=200,000, most of it the hnsw build.
#
#   bench/vector/run.sh                          # N=200,000 i.i.d. Gaussian
#   N=1000000 bench/vector/run.sh
#   CLUSTERS=1000 bench/vector/run.sh            # clustered, like trained embeddings
#   ARGS="--base sift_base.fvecs --query sift_query.fvecs" bench/vector/run.sh
#   BIN=/tmp/b/bench/vector/vector_bench bench/vector/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/bench/vector/vector_bench}
N=${N:-200000}
D=${D:-64}
QUERIES=${QUERIES:-1000}
THREADS=${THREADS:-2}
CLUSTERS=${CLUSTERS:-0}
EF=${EF:-16,32,64,128,256}
OUT=${OUT:-${TMPDIR:-/tmp}/souk-bench-vector}
[ -x "$BIN" ] || { echo "no $BIN: build it first (cmake --build build --target vector_bench)" >&2; exit 1; }
mkdir -p "$OUT"
R="$OUT/vector.txt"

# shellcheck disable=SC2086
"$BIN" --n "$N" --d "$D" --queries "$QUERIES" --threads "$THREADS" --clusters "$CLUSTERS" --ef "$EF" \
  --tmp "$OUT" ${ARGS:-} | tee "$R" >&2

# value KEY: the value of a "key: value" line.
value() { sed -n "s/^$1: //p" "$R" | head -1; }

echo
echo "$(value n) vectors ($(value data)), d=$(value d), $(value queries) queries, top-$(value k)"
echo "build: exact $(value exact_build_s) s; $(value hnsw_spec) $(value hnsw_build_s) s on $(value threads) threads"
echo "hnsw file: $(value hnsw_file_mb) MB, save $(value hnsw_save_s) s, load $(value hnsw_load_s) s"
echo "exact batch (all queries in one call, $(value threads) threads): $(value exact_batch_qps) queries/s"
echo
echo "one query per call, one thread"
printf '  %-12s %12s %12s %10s %9s\n' "method" "queries/s" "median ms" "recall@10" "speed-up"
printf '  %-12s %12s %12s %10s %9s\n' "exact" "$(value exact_qps_1t)" "$(value exact_ms_median)" "1" "1"
for ef in ${EF//,/ }; do
  printf '  %-12s %12s %12s %10s %9s\n' "hnsw ef=$ef" "$(value hnsw_ef${ef}_qps_1t)" \
    "$(value hnsw_ef${ef}_ms_median)" "$(value hnsw_ef${ef}_recall10)" "$(value hnsw_ef${ef}_speedup)x"
done
