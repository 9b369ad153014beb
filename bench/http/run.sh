#!/usr/bin/env bash
# HTTP load: wrk with keep-alive against souk serve (/v1/search and
# /v1/recommend on the demo shop) side by side with nginx serving a static
# JSON file of the same size as the souk answer, on the same machine.
# Prints QPS, p50/p99 latency and souk's ratio to nginx. Numbers only.
#
#   bench/http/run.sh                  # 10 s per target, 2 threads, 32 connections
#   DURATION=30s CONNS=64 bench/http/run.sh
#   SATURATE=120s bench/http/run.sh    # also a 2-minute saturation run: 5xx count, RSS before/after
set -euo pipefail
cd "$(dirname "$0")/../.."
SOUK=${SOUK:-$PWD/build/souk}
WORK=${WORK:-${TMPDIR:-/tmp}/souk-bench-http}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNS=${CONNS:-32}
PORT=${PORT:-7711}
NGINX_PORT=${NGINX_PORT:-7712}
command -v wrk >/dev/null || { echo "wrk is missing (scripts/install-deps installs it)"; exit 1; }
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "nginx is missing"; exit 1; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
mkdir -p "$WORK"
if [ ! -f "$WORK/shop/souk.db" ]; then
  rm -rf "$WORK/shop"
  "$SOUK" gen "$WORK/shop" --users 5000 --items 2000 --days 60 --seed 42 >/dev/null
  "$SOUK" index "$WORK/shop" >/dev/null
  "$SOUK" train "$WORK/shop" >/dev/null 2>&1
fi
KEY=$("$SOUK" keys create "$WORK/shop" --scope search --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
"$SOUK" serve "$WORK/shop" --port "$PORT" --quiet --rate 100000000 > "$WORK/serve.log" 2>&1 &
SERVE=$!
trap 'kill $SERVE 2>/dev/null || true; [ -f "$WORK/nginx.pid" ] && kill $(cat "$WORK/nginx.pid") 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done

SEARCH="/v1/search?q=running%20shoes&k=10"
RECO="/v1/recommend/U000042?k=10"
mkdir -p "$WORK/www"
curl -sf -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT$SEARCH" > "$WORK/www/search.json"
curl -sf -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT$RECO" > "$WORK/www/recommend.json"
cat > "$WORK/nginx.conf" <<NGX
worker_processes 2;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $WORK/www;
    default_type application/json;
  }
}
NGX
"$NGINX" -c "$WORK/nginx.conf" -p "$WORK"
sleep 0.3

run() {  # name url [header]
  local out
  if [ -n "${3:-}" ]; then
    out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -H "$3" "$2")
  else
    out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$2")
  fi
  local qps p50 p99 non2xx
  qps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $5}')
  printf "%-28s %12s req/s   p50 %8s   p99 %8s   non-2xx %s\n" "$1" "$qps" "$p50" "$p99" "${non2xx:-0}"
  echo "$qps" > "$WORK/$1.qps"
}
echo "wrk -t$THREADS -c$CONNS -d$DURATION, keep-alive; body sizes: search $(wc -c < "$WORK/www/search.json") B, recommend $(wc -c < "$WORK/www/recommend.json") B"
run souk-search "http://127.0.0.1:$PORT$SEARCH" "Authorization: Bearer $KEY"
run nginx-search.json "http://127.0.0.1:$NGINX_PORT/search.json"
run souk-recommend "http://127.0.0.1:$PORT$RECO" "Authorization: Bearer $KEY"
run nginx-recommend.json "http://127.0.0.1:$NGINX_PORT/recommend.json"
# Recommendations for all 5,000 users in turn (each user's first answer is
# computed, later ones come from the cache), and for one user with the
# cache off (every answer computed: history read, iALS fold-in, scoring).
cat > "$WORK/users.lua" <<'LUA'
local n = 0
local auth = "Bearer " .. os.getenv("SOUK_KEY")
request = function()
  n = n + 1
  return wrk.format("GET", string.format("/v1/recommend/U%06d?k=10", n % 5000 + 1), {["Authorization"] = auth})
end
LUA
out=$(SOUK_KEY=$KEY wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$WORK/users.lua" "http://127.0.0.1:$PORT")
printf "%-28s %12s req/s   p50 %8s   p99 %8s   non-2xx %s\n" souk-recommend-5000-users \
  "$(echo "$out" | awk '/Requests\/sec/ {print $2}')" "$(echo "$out" | awk '$1=="50%" {print $2}')" \
  "$(echo "$out" | awk '$1=="99%" {print $2}')" "$(echo "$out" | awk '/Non-2xx/ {print $5}')"
echo "$out" | awk '/Requests\/sec/ {print $2}' > "$WORK/souk-recommend-5000-users.qps"
kill $SERVE; wait $SERVE 2>/dev/null || true
rm -rf "$WORK/shop-nocache" && cp -r "$WORK/shop" "$WORK/shop-nocache"
if grep -q '^cache_entries' "$WORK/shop-nocache/souk.toml"; then
  sed -i 's/^cache_entries = .*/cache_entries = 0/' "$WORK/shop-nocache/souk.toml"
else
  printf '\n[server]\ncache_entries = 0\n' >> "$WORK/shop-nocache/souk.toml"
fi
"$SOUK" serve "$WORK/shop-nocache" --port "$PORT" --quiet --rate 100000000 > "$WORK/serve-nocache.log" 2>&1 &
SERVE=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
run souk-recommend-nocache "http://127.0.0.1:$PORT$RECO" "Authorization: Bearer $KEY"
python3 - "$WORK" <<'PY'
import sys
w = sys.argv[1]
q = lambda n: float(open(f"{w}/{n}.qps").read())
for route, peer in (("search", "search"), ("recommend", "recommend"), ("recommend-5000-users", "recommend"),
                    ("recommend-nocache", "recommend")):
    print(f"ratio souk/nginx {route}: {q('souk-' + route) / q('nginx-' + peer + '.json'):.2f}x")
PY
if [ -n "${SATURATE:-}" ]; then
  # RSS sampled every 15 s while wrk saturates /v1/search: caches fill, then it must level off.
  rss() { awk '/VmRSS/ {print $2}' /proc/$SERVE/status; }
  before=$(rss)
  wrk -t"$THREADS" -c"$CONNS" -d"$SATURATE" --latency -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT$SEARCH" > "$WORK/saturate.txt" &
  WRK=$!
  samples="$before"
  while kill -0 $WRK 2>/dev/null; do sleep 15; kill -0 $WRK 2>/dev/null && samples="$samples $(rss)"; done
  wait $WRK || true
  after=$(rss)
  out=$(cat "$WORK/saturate.txt")
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $5}')
  errors=$(echo "$out" | awk '/Socket errors/ {print $0}')
  echo "saturation $SATURATE on /v1/search: $(echo "$out" | awk '/Requests\/sec/ {print $2}') req/s, non-2xx: ${non2xx:-0}, ${errors:-no socket errors}"
  echo "RSS kB every 15 s: $samples $after"
fi
