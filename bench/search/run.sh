#!/usr/bin/env bash
# Search side by side: Xapian, SQLite FTS5 and (when built) souk index the
# same catalog and answer the same queries. Prints build time, index size,
# latency, QPS on 1 and THREADS threads and overlap@K with Xapian's answers.
# See docs/search-bench.md.
#
#   bench/search/run.sh                      # souk gen catalog, 1,000,000 items
#   ITEMS=20000 bench/search/run.sh          # a small one
#   CSV=catalog.csv TITLE_COL=name DESC_COL=desc ID_COL=sku bench/search/run.sh
#   BIN=/tmp/sbench bench/search/run.sh      # programs from a standalone build
set -euo pipefail
cd "$(dirname "$0")/../.."
ITEMS=${ITEMS:-1000000}
USERS=${USERS:-1000}     # few users and days: only the catalog matters here
DAYS=${DAYS:-2}
SEED=${SEED:-1}
QUERIES=${QUERIES:-10000}
THREADS=${THREADS:-2}
K=${K:-10}
CSV=${CSV:-}
JUDGMENTS=${JUDGMENTS:-}  # with CSV: a query,item_id,grade file to sample queries from
TITLE_COL=${TITLE_COL:-title}
DESC_COL=${DESC_COL:-description}
ID_COL=${ID_COL:-item_id}
ENGINES=${ENGINES:-xapian fts5 souk}
SOUK=${SOUK:-build/souk}
BIN=${BIN:-build/bench/search}
WORK=${WORK:-${TMPDIR:-/tmp}/souk-bench-search}
HERE=bench/search
mkdir -p "$WORK"

# 1. The corpus and the queries (cached: delete $WORK/data-* to redo).
if [ -n "$CSV" ]; then
  [ -f "$CSV" ] || { echo "no such file: $CSV" >&2; exit 1; }
  key=$( { stat -c '%n %s %Y' "$CSV" ${JUDGMENTS:+"$JUDGMENTS"}; echo "$TITLE_COL $DESC_COL $ID_COL"; } | cksum | cut -d' ' -f1)
  DATA="$WORK/data-csv-$(basename "$CSV" .csv)-$key-q$QUERIES-s$SEED"
else
  DATA="$WORK/data-gen-i$ITEMS-u$USERS-d$DAYS-s$SEED-q$QUERIES"
fi
if [ ! -f "$DATA/queries.txt" ]; then
  rm -rf "$DATA.tmp"
  mkdir -p "$DATA.tmp"
  if [ -n "$CSV" ]; then
    python3 "$HERE/make_corpus.py" --csv "$CSV" ${JUDGMENTS:+--judgments "$JUDGMENTS"} --out-dir "$DATA.tmp" \
      --title-col "$TITLE_COL" --desc-col "$DESC_COL" --id-col "$ID_COL" --queries "$QUERIES" --seed "$SEED"
  else
    rm -rf "$WORK/gen"
    echo "souk gen: $ITEMS items, $USERS users, $DAYS days, seed $SEED..." >&2
    t=$( { /usr/bin/time -f "%e" "$SOUK" gen "$WORK/gen" --users "$USERS" --items "$ITEMS" --days "$DAYS" \
             --seed "$SEED" --no-faults --no-import >&2 ; } 2>&1 | tail -1 )
    echo "souk gen took ${t}s" >&2
    python3 "$HERE/make_corpus.py" --csv "$WORK/gen/generated/items.csv" \
      --judgments "$WORK/gen/generated/judgments.csv" --out-dir "$DATA.tmp" --queries "$QUERIES" --seed "$SEED"
    rm -rf "$WORK/gen"
  fi
  mv "$DATA.tmp" "$DATA"
fi
docs=$(wc -l < "$DATA/corpus.tsv")
echo "corpus: $DATA ($docs docs, $(du -m "$DATA/corpus.tsv" | cut -f1) MB); $(wc -l < "$DATA/queries.txt") queries;" \
  "$(nproc) cores; k=$K, $THREADS threads" >&2

# 2. Each engine that is built: index, then query. One at a time, in the
# foreground: they share the machine with nothing else of ours.
OUT="$WORK/out"
rm -rf "$OUT"
mkdir -p "$OUT"
ran=()
for e in $ENGINES; do
  prog="$BIN/${e}_bench"
  if [ ! -x "$prog" ]; then
    echo "skipping $e: $prog is not built" >&2
    continue
  fi
  rm -rf "$WORK/index-$e"
  echo "$e: build..." >&2
  "$prog" build "$DATA/corpus.tsv" "$WORK/index-$e" > "$OUT/$e.build.json"
  cat "$OUT/$e.build.json" >&2
  echo "$e: query..." >&2
  "$prog" query "$WORK/index-$e" "$DATA/queries.txt" "$OUT/$e.tsv" --threads "$THREADS" --k "$K" > "$OUT/$e.query.json"
  cat "$OUT/$e.query.json" >&2
  ran+=("$e")
done
[ ${#ran[@]} -gt 0 ] || { echo "no engine is built in $BIN (see docs/search-bench.md)" >&2; exit 1; }
for e in "${ran[@]}"; do
  if [ -f "$OUT/xapian.tsv" ]; then
    python3 "$HERE/overlap.py" "$OUT/xapian.tsv" "$OUT/$e.tsv" --k "$K" > "$OUT/$e.overlap" 2>/dev/null
    python3 "$HERE/overlap.py" "$OUT/xapian.tsv" "$OUT/$e.tsv" --k "$K" --queries "$DATA/queries.txt" --skip-cjk \
      > "$OUT/$e.overlap-nocjk" 2>/dev/null
  fi
done

# 3. The table and the ratios.
python3 - "$OUT" "$THREADS" "$K" "${ran[@]}" <<'PY'
import json, os, sys
out, threads, k, engines = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
r = {}
for e in engines:
    r[e] = json.load(open(f"{out}/{e}.build.json")) | json.load(open(f"{out}/{e}.query.json"))
    path = f"{out}/{e}.overlap"
    r[e]["overlap"] = open(path).read().strip() if os.path.exists(path) else "-"
    path = f"{out}/{e}.overlap-nocjk"
    r[e]["overlap_nocjk"] = open(path).read().strip() if os.path.exists(path) else "-"
head = ["engine", "docs", "build s", "index MB", "median ms", "p99 ms", "QPS 1 thread",
        f"QPS {threads} threads", f"overlap@{k} vs xapian", "(no Chinese queries)"]
rows = [[e, f"{x['docs']:,}", f"{x['build_seconds']:.2f}", f"{x['index_bytes'] / 1e6:,.1f}",
         f"{x['median_ms']:.3f}", f"{x['p99_ms']:.3f}", f"{x['qps_1thread']:,.0f}",
         f"{x['qps_threads']:,.0f}", x["overlap"], x["overlap_nocjk"]] for e, x in r.items()]
widths = [max(len(str(c)) for c in col) for col in zip(head, *rows)]
for row in [head] + rows:
    print("  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
for e, x in r.items():
    if x.get("mismatches"):
        print(f"warning: {e} answered {x['mismatches']} queries differently on {threads} threads")
def ratios(a, b):
    if a in r and b in r:
        x, y = r[a], r[b]
        print(f"{a}/{b}: QPS 1 thread {x['qps_1thread'] / y['qps_1thread']:.2f}x, "
              f"QPS {threads} threads {x['qps_threads'] / y['qps_threads']:.2f}x, "
              f"build time {x['build_seconds'] / y['build_seconds']:.2f}x (lower is faster)")
if "souk" in r:
    ratios("souk", "xapian")
    ratios("souk", "fts5")
else:
    ratios("fts5", "xapian")
print()
for e, x in r.items():
    print(f"{e}: {x['config']}")
PY
