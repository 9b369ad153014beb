#!/usr/bin/env bash
# Import throughput, side by side: `souk import` against sqlite3's own
# `.import` of the same events CSV into a plain table (no index, all TEXT).
# Prints rows/s of both, the ratio and souk's peak memory.
#
#   bench/import/run.sh            # 10M rows, 3 runs each
#   ROWS=2000000 RUNS=1 bench/import/run.sh
#   FAULTS=1 bench/import/run.sh   # a log with the generator's faults (1% duplicates, rejects...)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS=${ROWS:-10000000}
RUNS=${RUNS:-3}
FAULTS=${FAULTS:-0}
SOUK=${SOUK:-build/souk}
WORK=${WORK:-${TMPDIR:-/tmp}/souk-bench-import}
mkdir -p "$WORK"
CSV="$WORK/events-$ROWS-f$FAULTS.csv"

if [ ! -f "$CSV" ]; then
  # ~51 events per user over 60 days: enough users for ROWS events.
  users=$(( ROWS / 50 + 1000 ))
  rm -rf "$WORK/gen"
  flags="--no-import"; [ "$FAULTS" = 1 ] || flags="$flags --no-faults"
  echo "generating $ROWS events ($users users)..." >&2
  "$SOUK" gen "$WORK/gen" --users "$users" --items 50000 --days 60 --seed 1 $flags >&2
  head -n $(( ROWS + 1 )) "$WORK/gen/generated/events.csv" > "$CSV"
  rm -rf "$WORK/gen"
fi
rows=$(( $(wc -l < "$CSV") - 1 ))
size=$(du -m "$CSV" | cut -f1)
echo "file: $CSV ($rows rows, ${size} MB); $(nproc) cores; $(sqlite3 --version | cut -d' ' -f1) ; souk $("$SOUK" --version)"

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
t_sqlite=(); t_souk=(); mem_souk=()
for i in $(seq "$RUNS"); do
  rm -f "$WORK/sqlite.db"*
  t=$( { /usr/bin/time -f "%e" sqlite3 "$WORK/sqlite.db" ".import --csv $CSV events" ; } 2>&1 | tail -1 )
  t_sqlite+=("$t")
  rm -rf "$WORK/souk"
  "$SOUK" init "$WORK/souk" >/dev/null
  out=$( { /usr/bin/time -f "%e %M" "$SOUK" import "$WORK/souk" --events "$CSV" --quiet --json >/dev/null ; } 2>&1 | tail -1 )
  t_souk+=("${out% *}")
  mem_souk+=("${out#* }")
  echo "run $i: sqlite3 .import ${t}s, souk import ${out% *}s (peak ${out#* } KB)"
done
ts=$(printf '%s\n' "${t_sqlite[@]}" | median)
tk=$(printf '%s\n' "${t_souk[@]}" | median)
mk=$(printf '%s\n' "${mem_souk[@]}" | median)
python3 - "$rows" "$ts" "$tk" "$mk" <<'PY'
import sys
rows, ts, tk, mk = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
print(f"sqlite3 .import : {ts:7.2f} s  {rows/ts:12,.0f} rows/s")
print(f"souk import     : {tk:7.2f} s  {rows/tk:12,.0f} rows/s   peak RSS {mk/1024:,.0f} MiB")
print(f"ratio souk/sqlite3 (throughput): {ts/tk:.2f}x   (goal >= 0.8x)")
PY
