#!/usr/bin/env bash
# Position bias from the server's own impressions, end to end: a generated
# shop is served, simulated shoppers search it (BM25F's order and the LTR
# model's order, so the same results appear at different positions) and
# click by a known position-based model, P(click at k) = theta_k * gamma,
# theta_k = k^-POWER, gamma from the generator's judgments; the clicks are
# posted with the request id and position of what was shown. Queries are
# drawn Zipf-like, so head queries are seen many times in both orders (what
# lets EM tell examination from relevance). Then `souk
# train --model ltr-search` estimates theta by EM from the impressions and
# weights its training searches; the script prints the true and the
# estimated curve and the held-out NDCG@10 with and without the weights.
#
# SHUFFLE sets rank.shuffle_share while serving: the share of answers
# whose top 10 are shown in random order (a randomisation bucket).
#
# Usage: bench/ltr/position_bias.sh [path/to/souk]   (SEARCHES=4000 POWER=1 SHUFFLE=0.2 WORK=/tmp/souk-bench-ltr)
set -euo pipefail
SOUK=${1:-build/souk}
SOUK=$(cd "$(dirname "$SOUK")" && pwd)/$(basename "$SOUK")
WORK=${WORK:-/tmp/souk-bench-ltr}
SEARCHES=${SEARCHES:-4000}
POWER=${POWER:-1}
PORT=${PORT:-7793}
SHUFFLE=${SHUFFLE:-0.2}
rm -rf "$WORK" && mkdir -p "$WORK"
"$SOUK" gen "$WORK/shop" --users 5000 --items 2000 --days 60 --seed 42 >/dev/null
"$SOUK" index "$WORK/shop" >/dev/null
"$SOUK" train "$WORK/shop" --model ltr-search --json > "$WORK/before.json"
SKEY=$("$SOUK" keys create "$WORK/shop" --scope search --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
EKEY=$("$SOUK" keys create "$WORK/shop" --scope events --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
sed -i "s/^shuffle_share = .*/shuffle_share = $SHUFFLE/" "$WORK/shop/souk.toml"
"$SOUK" serve "$WORK/shop" --port "$PORT" --quiet --rate 100000000 > "$WORK/serve.log" 2>&1 &
SERVE=$!
trap 'kill $SERVE 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done

python3 - "$WORK/shop/generated/judgments.csv" "$PORT" "$SKEY" "$EKEY" "$SEARCHES" "$POWER" <<'PY'
import csv, json, random, sys, time, urllib.parse, urllib.request
judg, port, skey, ekey, n, power = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]), float(sys.argv[6])
grade = {}
for row in csv.DictReader(open(judg)):
    grade.setdefault(row["query"], {})[row["item_id"]] = int(row["grade"])
rng = random.Random(7)
# Head queries repeat, as in a shop: a Zipf(1) draw over the judged queries.
queries = sorted(grade)
rng.shuffle(queries)
weights = [1 / (r + 1) for r in range(len(queries))]
base = f"http://127.0.0.1:{port}"
def call(method, path, key, body=None):
    req = urllib.request.Request(base + path, method=method, data=body,
                                 headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())
clicks, shuffled, batch, now = 0, 0, [], int(time.time())
for s in range(n):
    q = rng.choices(queries, weights)[0]
    user = "U%06d" % rng.randint(1, 5000)
    rank = "ltr" if s % 2 else "none"
    res = call("GET", "/v1/search?" + urllib.parse.urlencode({"q": q, "k": 10, "user": user, "rank": rank}), skey)
    shuffled += bool(res.get("shuffled"))
    for k, h in enumerate(res["hits"], 1):
        g = grade[q].get(h["item_id"], 0)
        gamma = 0.9 if g >= 2 else 0.5 if g == 1 else 0.05
        if rng.random() < k ** -power * gamma:
            batch.append({"user_id": user, "item_id": h["item_id"], "event_type": "click", "timestamp": now,
                          "request_id": res["request_id"], "position": k})
            clicks += 1
    if len(batch) >= 200 or s == n - 1:
        if batch:
            call("POST", "/v1/events", ekey, json.dumps(batch).encode())
        batch = []
print(f"simulated {n} searches, {clicks} clicks (theta_k = k^-{power:g}), {shuffled} answers shuffled")
PY
kill $SERVE; wait $SERVE 2>/dev/null || true
trap - EXIT
"$SOUK" train "$WORK/shop" --model ltr-search --json > "$WORK/with.json"
TEST="$WORK/shop/reports/ltr-search-test.csv"
"$SOUK" search-eval "$WORK/shop" --judgments "$TEST" --rank ltr --json > "$WORK/with-eval.json"
# The same data without the weights (a click threshold no log reaches).
cp "$WORK/shop/souk.toml" "$WORK/souk.toml.bak"
sed -i 's/^bias_min_clicks = .*/bias_min_clicks = 1000000000/' "$WORK/shop/souk.toml"
"$SOUK" train "$WORK/shop" --model ltr-search --json > "$WORK/without.json"
"$SOUK" search-eval "$WORK/shop" --judgments "$TEST" --rank ltr --json > "$WORK/without-eval.json"
"$SOUK" search-eval "$WORK/shop" --judgments "$TEST" --rank none --json > "$WORK/none-eval.json"
cp "$WORK/souk.toml.bak" "$WORK/shop/souk.toml"
python3 - "$WORK" "$POWER" <<'PY'
import json, sys
w, power = sys.argv[1], float(sys.argv[2])
pb = json.load(open(f"{w}/with.json"))["position_bias"]
print("position bias:", "used" if pb["used"] else "not used", f"({pb['impressions']} impressions, {pb['clicks']} clicks)")
if pb["used"]:
    print("position  true theta  estimated")
    for k, t in enumerate(pb["theta"][:10], 1):
        print(f"{k:8d}  {k ** -power:10.3f}  {t:9.3f}")
for name in ("none", "without", "with"):
    e = json.load(open(f"{w}/{name}-eval.json"))
    label = {"none": "BM25F", "without": "LTR, no bias weights", "with": "LTR, bias weights"}[name]
    print(f"{label:22s} held-out NDCG@10 {e['NDCG@10']:.4f}  MRR {e['MRR']:.4f}  ({e['queries']} searches)")
PY
