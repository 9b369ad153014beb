#!/usr/bin/env python3
"""Recomputes HR@20 and MRR@20 of session-rec's saved reference lists
(../shared/datasets/yoochoose-100k/reference_recs_session-rec) with souk's
own metric code (`souk score-lists`), beside the published figures. Equal
numbers show that souk's metrics are right.

  bench/rec/reference_lists.py [SOUK] [DATASETS]
"""
import csv
import json
import os
import subprocess
import sys
import tempfile

souk = sys.argv[1] if len(sys.argv) > 1 else "build/souk"
shared = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "../../../shared/datasets")
yc = os.path.join(shared, "yoochoose-100k")
published = {"vsknn": (0.610, 0.334), "sr": (0.561, 0.328), "ar": (0.592, 0.316), "gru4rec": (0.571, 0.329)}

# Test sessions in time order; row (s, p) of a list file predicts item p+1.
test = {}
with open(os.path.join(yc, "yoochoose-clicks-100k_test.txt")) as f:
    r = csv.reader(f, delimiter="\t")
    next(r)
    for s, i, t in r:
        test.setdefault(s, []).append((float(t), i))
for s in test:
    test[s] = [i for _, i in sorted(test[s], key=lambda x: x[0])]

print(f"{'algorithm':10} {'lists':>6} {'HR@20':>8} {'MRR@20':>8}   published")
with tempfile.TemporaryDirectory() as tmp:
    for algo, (hr_pub, mrr_pub) in published.items():
        path = os.path.join(tmp, algo + ".tsv")
        n = 0
        with open(os.path.join(yc, "reference_recs_session-rec", f"recoms_rsc15_100k_{algo}.csv")) as f, \
                open(path, "w") as out:
            r = csv.reader(f, delimiter=";")
            next(r)
            for s, p, recs, _ in r:
                p = int(p)
                seq = test[s]
                if p + 1 < len(seq):
                    out.write(f"{seq[p + 1]}\t{recs}\n")
                    n += 1
        res = subprocess.run([souk, "score-lists", path, "--k", "20", "--json"], capture_output=True, text=True)
        if res.returncode != 0:
            sys.exit(f"souk score-lists failed: {res.stderr.strip()}")
        m = json.loads(res.stdout)["metrics"]
        print(f"{algo:10} {n:6d} {m['HR@20']:8.3f} {m['MRR@20']:8.3f}   {hr_pub:.3f} / {mrr_pub:.3f}")
