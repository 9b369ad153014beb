#!/usr/bin/env bash
# Recommender benchmarks (numbers only, no assertions). Builds nothing: build
# rec_bench first (ninja -C build rec_bench). About 5-10 minutes on 2 cores,
# most of it the hnswlib build over 1,000,000 items.
#
#   bench/rec/run.sh                        # all three, standard sizes
#   FILE=path/to/Video.txt bench/rec/run.sh # the "user item" file for (b)
#   ITEMS=200000 bench/rec/run.sh           # a smaller latency catalog
#   BIN=/tmp/b/bench/rec/rec_bench bench/rec/run.sh
#
# (a) iALS seconds per epoch, f=64, threads=2, on a synthetic matrix shaped
#     like MovieLens-20M (138,493 users, 26,744 items, 10,000,000 pairs).
# (b) iALS seconds per epoch on a "user item" file (default: the SASRec
#     Games data, 31k users, 23.7k items).
# (c) Recommend latency for one user over ITEMS items, f=64: exact (fold-in,
#     Q x, top-10) and fold-in + hnswlib (inner product, M=16,
#     ef_construction=200) at ef 50/100/200 with recall@10 against exact.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/bench/rec/rec_bench}
FILE=${FILE:-../shared/datasets/sasrec-video/Video.txt}
THREADS=${THREADS:-2}
ITEMS=${ITEMS:-1000000}
QUERIES=${QUERIES:-300}
OUT=${OUT:-${TMPDIR:-/tmp}/souk-bench-rec}
[ -x "$BIN" ] || { echo "no $BIN: build it first (ninja -C build rec_bench)" >&2; exit 1; }
mkdir -p "$OUT"

# value KEY FILE: the value of a "key: value" line.
value() { sed -n "s/^$1: //p" "$2" | head -1; }

echo "== (a) iALS on a MovieLens-20M-shaped matrix" >&2
"$BIN" synth --model ials:f=64 --epochs 3 --threads "$THREADS" | tee "$OUT/synth.txt" >&2
if [ -f "$FILE" ]; then
  echo "== (b) iALS on $FILE" >&2
  "$BIN" file "$FILE" --model ials:f=64 --epochs 5 --threads "$THREADS" | tee "$OUT/file.txt" >&2
else
  echo "== (b) skipped: no $FILE (set FILE=)" >&2
  : >"$OUT/file.txt"
fi
echo "== (c) recommend latency, $ITEMS items" >&2
"$BIN" latency --items "$ITEMS" --f 64 --queries "$QUERIES" --threads "$THREADS" | tee "$OUT/latency.txt" >&2

echo
echo "iALS fit, f=64, threads=$THREADS (median of the epochs)"
printf '  %-44s %10s\n' "data" "s/epoch"
printf '  %-44s %10s\n' "synthetic ML-20M shape (138k x 26.7k, 10M)" "$(value epoch_median_s "$OUT/synth.txt")"
if [ -s "$OUT/file.txt" ]; then
  printf '  %-44s %10s\n' "$(basename "$FILE") ($(value data "$OUT/file.txt" | grep -o 'users=.*'))" \
    "$(value epoch_median_s "$OUT/file.txt")"
fi
L="$OUT/latency.txt"
echo
echo "Recommend one user, $(value items "$L") items, f=$(value f "$L") ($(value factors "$L") factors), top-10"
printf '  %-24s %10s %10s %10s\n' "method" "median ms" "p99 ms" "recall@10"
printf '  %-24s %10s %10s %10s\n' "exact (Q x + top-k)" "$(value exact_ms_median "$L")" "$(value exact_ms_p99 "$L")" "1"
for ef in 50 100 200; do
  printf '  %-24s %10s %10s %10s\n' "hnswlib ef=$ef" "$(value hnsw_ef${ef}_ms_median "$L")" \
    "$(value hnsw_ef${ef}_ms_p99 "$L")" "$(value hnsw_ef${ef}_recall10 "$L")"
done
echo "  fold-in alone: $(value foldin_ms_median "$L") ms median; hnswlib build (M=16, ef_construction=200," \
  "$THREADS threads): $(value hnsw_build_s "$L") s"
