// The side-by-side search benchmark harness: everything that is the same for
// every engine (reading the corpus and the queries, timing, the single- and
// multi-threaded query passes, OUT.tsv and the JSON lines), so the engines
// differ only in how they index and search. See docs/search-bench.md.
//
// An engine program is an Engine subclass and a three-line main():
//
//   int main(int argc, char** argv) {
//     MyEngine engine;
//     return souk::bench::BenchMain(argc, argv, engine);
//   }
//
// and then has the common command line:
//
//   PROG build CORPUS.tsv INDEX_DIR
//   PROG query INDEX_DIR QUERIES.txt OUT.tsv [--threads T] [--k K]
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace souk::bench {

// One document of the corpus. The views point into the Corpus that owns it.
struct Doc {
  uint32_t id = 0;
  std::string_view title;
  std::string_view description;
};

// CORPUS.tsv: `doc_id<TAB>title<TAB>description`, one document per line
// (bench/search/make_corpus.py writes it; tabs and newlines inside fields
// are already spaces). The file is read into one buffer; docs view into it.
struct Corpus {
  std::string text;
  std::vector<Doc> docs;
};

// Reads CORPUS.tsv. A line with fewer than two tabs, more than two, or an
// id that is not a uint32 is InvalidArgument naming the line; a trailing
// "\r" is dropped; an empty last line is ignored.
Result<std::unique_ptr<Corpus>> ReadCorpus(const std::string& path);

// Parses CORPUS.tsv text already in memory (ReadCorpus's parser; text must
// outlive the returned docs). `name` is used in error messages.
Result<std::vector<Doc>> ParseCorpus(std::string_view text, std::string_view name);

// QUERIES.txt: one query per line; query i (0-based) is line i + 1. A
// trailing "\r" is dropped, an empty last line ignored. Empty lines in the
// middle are kept (as empty queries) so numbering always follows the file.
Result<std::vector<std::string>> ReadQueries(const std::string& path);

// Answers queries against an open index. A Searcher is used by one thread
// at a time; different Searchers may be used concurrently.
class Searcher {
 public:
  virtual ~Searcher() = default;
  // Clears *ids and fills it with the ids of the (at most) k best documents
  // for `query`, best first. Ties should be broken by ascending doc id so
  // engines can be compared. An empty or all-punctuation query returns
  // no documents, not an error.
  virtual Status Search(std::string_view query, size_t k, std::vector<uint32_t>* ids) = 0;
};

// A search engine under test. The harness calls Build (build mode) or Open
// then NewSearcher one or more times (query mode), all from the main thread.
class Engine {
 public:
  virtual ~Engine() = default;
  // Short name for the JSON lines: "xapian", "fts5", "souk".
  virtual std::string Name() const = 0;
  // Exactly what runs, as one short string, e.g.
  // "xapian-1.4.22:bm25(k1=1,b=0.5),stem=english/some,op=or". Recorded in
  // the JSON lines so every result says what produced it.
  virtual std::string Describe() const = 0;
  // Indexes all docs into `dir`, which exists and is empty. Everything this
  // does (including committing, compacting or optimizing) is timed.
  virtual Status Build(std::span<const Doc> docs, const std::string& dir) = 0;
  // Opens the index in `dir` for searching (not timed). Returns the number
  // of documents through *docs.
  virtual Status Open(const std::string& dir, uint64_t* docs) = 0;
  // A new searcher on the opened index, for one thread.
  virtual Result<std::unique_ptr<Searcher>> NewSearcher() = 0;
  // Bytes the index takes on disk. The default sums the sizes of the regular
  // files under dir.
  virtual Result<uint64_t> IndexBytes(const std::string& dir) const;
};

// Monotonic wall clock in seconds since the object was made.
class Timer {
 public:
  Timer();
  double Seconds() const;

 private:
  int64_t start_ns_;
};

// Nearest-rank percentile (p in [0, 100]) of the values; sorts them. 0 for
// no values. Percentile({1, 2, 3, 4}, 50) is 2.
double Percentile(std::vector<double>* values, double p);

// The outcome of QueryBenchmark.
struct QueryStats {
  std::vector<std::vector<uint32_t>> results;  // per query, from the 1-thread pass
  std::vector<double> latencies_ms;            // per query, 1-thread pass
  double seconds_1thread = 0;                  // wall time of the 1-thread pass
  double seconds_threads = 0;                  // wall time of the T-thread pass
  size_t mismatches = 0;                       // queries whose T-thread answer differs from the 1-thread one
};

struct QueryOptions {
  size_t k = 10;       // results per query
  size_t threads = 2;  // threads of the second pass
};

// Runs every query once on one searcher (timing each), then all queries
// again on `threads` threads, one searcher each, that take the next query
// from a shared atomic counter. Searchers are created before the clock starts.
Result<QueryStats> QueryBenchmark(Engine& engine, const std::vector<std::string>& queries, const QueryOptions& options);

// Writes OUT.tsv: `query_no<TAB>id,id,...` per query, query_no 0-based.
Status WriteResults(const std::string& path, const std::vector<std::vector<uint32_t>>& results);

// Peak resident set size of this process, in MiB.
double PeakRssMiB();

// The command line (see the top of this file). Prints one JSON line to
// stdout on success and returns 0; prints the error to stderr and returns
// 1 (runtime error) or 2 (usage) otherwise.
int BenchMain(int argc, char** argv, Engine& engine);

}  // namespace souk::bench
