#!/usr/bin/env bash
# Serving cost of the deep models, fp32 against int8 (numbers only, no
# assertions). Builds nothing: build deep_bench first
# (cmake --build build --target deep_bench). About 10 minutes on 2 cores,
# most of it training SASRec once.
#
#   bench/deep/run.sh                    # both parts
#   PARTS=encoder bench/deep/run.sh      # just one (sasrec | encoder)
#   THREADS=2 bench/deep/run.sh          # intra-op threads when serving (default 1)
#   USERS=4000 ITEMS=5000 bench/deep/run.sh
#
# (a) SASRec (d=64, len=50, 2 blocks) trained once in fp32 on planted
#     sequences (USERS users walking item chains over ITEMS items, 20-50
#     events each, last one held out), then the same weights loaded with
#     int8=1: Recommend latency for one user (median, p99), users/s of
#     ScoreBatch at batch 1/32/256, leave-last-out NDCG@10 and HR@10.
# (b) The torchscript encoder on 2,048 product-like titles, maxlen=64,
#     bs=32: a 6-layer hidden-384 BERT-shaped model (MiniLM-L6's shape,
#     random weights) and the tests' tiny 2-layer hidden-32 one, built by
#     bench/deep/make_bench_encoder.py with Debian's python3-torch; texts/s
#     and the cosine between fp32 and int8 vectors.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/bench/deep/deep_bench}
PY=${PY:-/usr/bin/python3}
THREADS=${THREADS:-1}
USERS=${USERS:-8000}
ITEMS=${ITEMS:-10000}
PARTS=${PARTS:-"sasrec encoder"}
OUT=${OUT:-${TMPDIR:-/tmp}/souk-bench-deep}
[ -x "$BIN" ] || { echo "no $BIN: build it first (cmake --build build --target deep_bench)" >&2; exit 1; }
mkdir -p "$OUT"

value() { sed -n "s/^$1: //p" "$2" | head -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }

for part in $PARTS; do
  case $part in
  sasrec)
    echo "== (a) SASRec, $USERS users x $ITEMS items, serving threads=$THREADS" >&2
    "$BIN" sasrec --users "$USERS" --items "$ITEMS" --threads "$THREADS" | tee "$OUT/sasrec.txt" >&2
    S="$OUT/sasrec.txt"
    echo
    echo "SASRec $(value data "$S"), fit $(value fit_s "$S") s; serving threads=$THREADS"
    echo "  $(value spec_int8 "$S")"
    printf '  %-30s %12s %12s %10s\n' "" "fp32" "int8" "int8/fp32"
    for k in ms_median ms_p99; do
      printf '  %-30s %12s %12s %10s\n' "recommend one user, $k" "$(value fp32_$k "$S")" "$(value int8_$k "$S")" \
        "$(ratio "$(value int8_$k "$S")" "$(value fp32_$k "$S")")"
    done
    for bs in 1 32 256; do
      printf '  %-30s %12s %12s %10s\n' "users/s, batch $bs" "$(value fp32_bs${bs}_users_per_s "$S")" \
        "$(value int8_bs${bs}_users_per_s "$S")" \
        "$(ratio "$(value int8_bs${bs}_users_per_s "$S")" "$(value fp32_bs${bs}_users_per_s "$S")")"
    done
    for k in ndcg10 hr10; do
      printf '  %-30s %12s %12s\n' "leave-last-out $k" "$(value fp32_$k "$S")" "$(value int8_$k "$S")"
    done
    ;;
  encoder)
    E="$OUT/enc"
    if [ ! -f "$E/bert6.pt" ]; then
      echo "== building the bench encoders in $E" >&2
      "$PY" bench/deep/make_bench_encoder.py "$E" 2048 >"$OUT/make.log" 2>&1 || { cat "$OUT/make.log" >&2; exit 1; }
    fi
    echo
    echo "torchscript encoder, $(wc -l <"$E/titles.txt") titles, maxlen=64, bs=32, threads=$THREADS"
    printf '  %-28s %12s %12s %10s %12s %12s\n' "model" "fp32 txt/s" "int8 txt/s" "speed-up" "cos mean" "cos min"
    for m in bert6 model; do
      echo "== (b) encoder $m.pt" >&2
      "$BIN" encoder --model "$E/$m.pt" --vocab "$E/vocab.txt" --texts "$E/titles.txt" \
        --options maxlen=64,bs=32 --threads "$THREADS" | tee "$OUT/enc-$m.txt" >&2
      R="$OUT/enc-$m.txt"
      name=$([ $m = bert6 ] && echo "6 layers, hidden 384" || echo "tiny: 2 layers, hidden 32")
      printf '  %-28s %12s %12s %10s %12s %12s\n' "$name" "$(value fp32_texts_per_s "$R")" \
        "$(value int8_texts_per_s "$R")" "$(ratio "$(value int8_texts_per_s "$R")" "$(value fp32_texts_per_s "$R")")" \
        "$(value cosine_mean "$R")" "$(value cosine_min "$R")"
    done
    ;;
  *) echo "unknown part $part (sasrec | encoder)" >&2; exit 2 ;;
  esac
done
