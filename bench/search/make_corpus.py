#!/usr/bin/env python3
"""Turns a catalog CSV into the search benchmark's inputs.

  make_corpus.py --csv items.csv [--judgments judgments.csv] --out-dir DIR
      [--title-col title] [--desc-col description] [--id-col item_id]
      [--queries 10000] [--seed 1]

writes
  DIR/corpus.tsv    doc_id<TAB>title<TAB>description; doc_id is the 0-based row
                    index, which is souk's dense item id when the catalog is
                    imported in file order. Tabs, CR and LF inside fields become
                    spaces.
  DIR/ids.tsv       doc_id<TAB>item_id (the --id-col value, or the row index if
                    the column is absent)
  DIR/queries.txt   one query per line: a seeded sample of the distinct queries
                    of judgments.csv (souk gen's shopper queries), topped up with
                    1-3 word runs of random titles when there are too few.

The defaults fit `souk gen`'s items.csv; for any other catalog name its columns.
"""

import argparse
import csv
import os
import random
import re
import sys

SPACES = re.compile(r"[\t\r\n]")


def clean(text):
    return SPACES.sub(" ", text or "").strip()


def column(header, name, path, required=True):
    if name in header:
        return header.index(name)
    if required:
        sys.exit(f"{path}: no column '{name}' (columns: {', '.join(header)})")
    return None


def read_catalog(args, corpus_path, ids_path):
    titles = []
    with open(args.csv, newline="", encoding="utf-8", errors="replace") as f, open(
        corpus_path, "w", encoding="utf-8", newline="\n"
    ) as corpus, open(ids_path, "w", encoding="utf-8", newline="\n") as ids:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            sys.exit(f"{args.csv}: empty file")
        title_i = column(header, args.title_col, args.csv)
        desc_i = column(header, args.desc_col, args.csv) if args.desc_col else None
        id_i = column(header, args.id_col, args.csv, required=False) if args.id_col else None
        if args.id_col and id_i is None:
            print(f"{args.csv}: no column '{args.id_col}'; ids.tsv maps doc_id to the row index", file=sys.stderr)
        for row in reader:
            if not row:
                continue  # a blank line is no record
            doc_id = len(titles)
            get = lambda i: row[i] if i is not None and i < len(row) else ""
            title = clean(get(title_i))
            corpus.write(f"{doc_id}\t{title}\t{clean(get(desc_i))}\n")
            ids.write(f"{doc_id}\t{clean(get(id_i)) if id_i is not None else doc_id}\n")
            titles.append(title)
    return titles


def judged_queries(path):
    seen = {}
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        reader = csv.DictReader(f)
        if "query" not in (reader.fieldnames or []):
            sys.exit(f"{path}: no 'query' column")
        for row in reader:
            q = clean(row["query"])
            if q:
                seen.setdefault(q, None)  # distinct, in file order
    return list(seen)


def title_queries(titles, n, rng, taken):
    """n queries of 1-3 consecutive words of random titles, distinct from each
    other and from `taken` while that is possible."""
    words = [t.split() for t in titles]
    words = [w for w in words if w]
    out = []
    if not words:
        return out
    attempts = 0
    while len(out) < n:
        w = rng.choice(words)
        length = min(len(w), rng.randint(1, 3))
        start = rng.randint(0, len(w) - length)
        q = " ".join(w[start : start + length]).lower()
        attempts += 1
        if q in taken and attempts < 50 * n:
            continue  # prefer new queries; a tiny catalog may run out
        taken.add(q)
        out.append(q)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--csv", required=True, help="catalog CSV with a header row (souk gen: generated/items.csv)")
    p.add_argument("--judgments", help="souk gen's judgments.csv: queries are sampled from it")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--title-col", default="title")
    p.add_argument("--desc-col", default="description", help="'' for none")
    p.add_argument("--id-col", default="item_id", help="written to ids.tsv; the row index if missing")
    p.add_argument("--queries", type=int, default=10000, help="number of queries (default 10000)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()

    csv.field_size_limit(1 << 30)
    os.makedirs(args.out_dir, exist_ok=True)
    corpus_path = os.path.join(args.out_dir, "corpus.tsv")
    titles = read_catalog(args, corpus_path, os.path.join(args.out_dir, "ids.tsv"))

    rng = random.Random(args.seed)
    judged = judged_queries(args.judgments) if args.judgments else []
    queries = rng.sample(judged, min(len(judged), args.queries))
    topped = title_queries(titles, args.queries - len(queries), rng, set(queries))
    queries += topped
    rng.shuffle(queries)
    with open(os.path.join(args.out_dir, "queries.txt"), "w", encoding="utf-8", newline="\n") as f:
        for q in queries:
            f.write(q + "\n")
    print(
        f"{len(titles)} docs -> {corpus_path}; {len(queries)} queries "
        f"({len(queries) - len(topped)} of {len(judged)} judged, {len(topped)} from titles)",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
