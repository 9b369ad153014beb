#!/usr/bin/env python3
"""overlap@k of two search benchmark OUT.tsv files.

  overlap.py REFERENCE.tsv OTHER.tsv [--k 10]

For each query of the reference (e.g. Xapian's answers) with reference top-k
B and other top-k A: |A ∩ B| / max(1, min(k, |B|)). Prints the mean over the
queries for which the reference has results (a query missing from OTHER counts
as answered with nothing), so the reference against itself is 1. With
--keep-empty, queries without reference results count too (as 0). With
--queries QUERIES.txt --skip-cjk, queries containing Han characters are left
out (Xapian's default analyzer does not segment Chinese, so it is no reference
there). Details go to stderr.
"""

import argparse
import re
import sys


def read(path):
    results = {}
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line:
                continue
            no, sep, ids = line.partition("\t")
            if not sep:
                sys.exit(f"{path}:{line_no}: expected query_no<TAB>ids")
            results[int(no)] = [i for i in ids.split(",") if i]
    return results


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("reference")
    p.add_argument("other")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--keep-empty", action="store_true", help="average over all queries, empty references as 0")
    p.add_argument("--queries", help="QUERIES.txt the results answer (for --skip-cjk)")
    p.add_argument("--skip-cjk", action="store_true", help="leave out queries with Han characters")
    args = p.parse_args()
    skip = set()
    if args.skip_cjk:
        if not args.queries:
            sys.exit("--skip-cjk needs --queries QUERIES.txt")
        with open(args.queries, encoding="utf-8") as f:
            for no, q in enumerate(f):
                if re.search(r"[\u3400-\u9fff]", q):
                    skip.add(no)

    ref, other = read(args.reference), read(args.other)
    if not ref:
        sys.exit(f"{args.reference}: no queries")
    total, counted, empty_ref, identical = 0.0, 0, 0, 0
    for no, b in ref.items():
        if no in skip:
            continue
        b = b[: args.k]
        a = other.get(no, [])[: args.k]
        empty_ref += not b
        identical += a == b
        if b or args.keep_empty:
            total += len(set(a) & set(b)) / max(1, min(args.k, len(b)))
            counted += 1
    print(
        f"overlap@{args.k}: {len(ref)} queries, {empty_ref} without reference results"
        f"{' (counted as 0)' if args.keep_empty else ' (left out)'}, {identical} identical lists, "
        f"{len(set(other) - set(ref))} extra in other",
        file=sys.stderr,
    )
    print(f"{total / max(1, counted):.4f}")


if __name__ == "__main__":
    main()
