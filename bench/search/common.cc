#include "common.h"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <latch>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

namespace souk::bench {
namespace {

namespace fs = std::filesystem;

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open " + path);
  std::string text;
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) return Status::IoError("cannot size " + path);
  text.resize(static_cast<size_t>(size));
  in.seekg(0, std::ios::beg);
  if (!in.read(text.data(), size)) return Status::IoError("cannot read " + path);
  return text;
}

// Calls fn(line_no, line) for each line (1-based), without "\n" or a trailing
// "\r"; an empty last line (the file ends with "\n") is not a line.
template <typename Fn>
Status ForEachLine(std::string_view text, Fn fn) {
  size_t line_no = 0;
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    SOUK_RETURN_IF_ERROR(fn(++line_no, line));
  }
  return Status::Ok();
}

uint64_t HashIds(const std::vector<uint32_t>& ids) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (uint32_t id : ids) {
    h = (h ^ id) * 1099511628211ull;
  }
  return (h ^ ids.size()) * 1099511628211ull;
}

double Round(double x, int digits) {
  const double scale = std::pow(10.0, digits);
  return std::round(x * scale) / scale;
}

void PrintJson(const nlohmann::ordered_json& j) {
  std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
}

int Fail(const Status& status) {
  std::cerr << "error: " << status.ToString() << "\n";
  return 1;
}

std::string UsageText(std::string_view program) {
  const std::string p(program);
  return "usage:\n  " + p + " build CORPUS.tsv INDEX_DIR\n  " + p +
         " query INDEX_DIR QUERIES.txt OUT.tsv [--threads T] [--k K]\n"
         "CORPUS.tsv is doc_id<TAB>title<TAB>description per line; QUERIES.txt one query per line.\n"
         "Each mode prints one JSON line; see docs/search-bench.md.\n";
}

int Usage(std::string_view program, std::string_view problem) {
  std::cerr << program << ": " << problem << "\n" << UsageText(program);
  return 2;
}

bool ParseSize(std::string_view s, size_t* out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

int RunBuild(Engine& engine, const std::string& corpus_path, const std::string& dir) {
  auto corpus = ReadCorpus(corpus_path);
  if (!corpus.ok()) return Fail(corpus.status());
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Fail(Status::IoError("cannot create " + dir + ": " + ec.message()));
  if (!fs::is_empty(dir, ec)) {
    return Fail(Status::FailedPrecondition(dir + " is not empty; remove it first"));
  }
  const std::vector<Doc>& docs = (*corpus)->docs;

  Timer timer;
  Status built = engine.Build(docs, dir);
  const double seconds = timer.Seconds();
  if (!built.ok()) return Fail(built.WithContext("build"));
  auto bytes = engine.IndexBytes(dir);
  if (!bytes.ok()) return Fail(bytes.status());

  nlohmann::ordered_json j;
  j["engine"] = engine.Name();
  j["docs"] = docs.size();
  j["build_seconds"] = Round(seconds, 3);
  j["index_bytes"] = *bytes;
  j["peak_rss_mib"] = Round(PeakRssMiB(), 1);
  j["config"] = engine.Describe();
  PrintJson(j);
  return 0;
}

int RunQuery(Engine& engine, const std::string& dir, const std::string& queries_path, const std::string& out_path,
             const QueryOptions& options) {
  uint64_t docs = 0;
  Status opened = engine.Open(dir, &docs);
  if (!opened.ok()) return Fail(opened.WithContext("open " + dir));
  auto queries = ReadQueries(queries_path);
  if (!queries.ok()) return Fail(queries.status());
  auto stats = QueryBenchmark(engine, *queries, options);
  if (!stats.ok()) return Fail(stats.status());
  Status written = WriteResults(out_path, stats->results);
  if (!written.ok()) return Fail(written);
  if (stats->mismatches > 0) {
    std::cerr << "warning: " << stats->mismatches << " queries answered differently by the multi-threaded pass\n";
  }

  const size_t n = queries->size();
  std::vector<double>& latencies = stats->latencies_ms;
  const double median = Percentile(&latencies, 50);
  const double p99 = Percentile(&latencies, 99);
  auto qps = [n](double seconds) { return seconds > 0 ? Round(n / seconds, 1) : 0.0; };

  nlohmann::ordered_json j;
  j["engine"] = engine.Name();
  j["queries"] = n;
  j["median_ms"] = Round(median, 4);
  j["p99_ms"] = Round(p99, 4);
  j["qps_1thread"] = qps(stats->seconds_1thread);
  j["qps_threads"] = qps(stats->seconds_threads);
  j["threads"] = options.threads;
  j["k"] = options.k;
  j["docs"] = docs;
  j["mismatches"] = stats->mismatches;
  j["peak_rss_mib"] = Round(PeakRssMiB(), 1);
  j["config"] = engine.Describe();
  PrintJson(j);
  return 0;
}

}  // namespace

Result<std::vector<Doc>> ParseCorpus(std::string_view text, std::string_view name) {
  std::vector<Doc> docs;
  docs.reserve(static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1);
  Status status = ForEachLine(text, [&](size_t line_no, std::string_view line) -> Status {
    auto bad = [&](std::string_view why) {
      return Status::InvalidArgument(std::string(name) + ":" + std::to_string(line_no) + ": " + std::string(why));
    };
    const size_t tab1 = line.find('\t');
    const size_t tab2 = tab1 == std::string_view::npos ? tab1 : line.find('\t', tab1 + 1);
    if (tab2 == std::string_view::npos) return bad("expected doc_id<TAB>title<TAB>description");
    if (line.find('\t', tab2 + 1) != std::string_view::npos) return bad("more than three fields");
    Doc doc;
    const auto [end, ec] = std::from_chars(line.data(), line.data() + tab1, doc.id);
    if (ec != std::errc() || end != line.data() + tab1 || tab1 == 0) return bad("doc_id is not a uint32");
    doc.title = line.substr(tab1 + 1, tab2 - tab1 - 1);
    doc.description = line.substr(tab2 + 1);
    docs.push_back(doc);
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return docs;
}

Result<std::unique_ptr<Corpus>> ReadCorpus(const std::string& path) {
  auto corpus = std::make_unique<Corpus>();
  SOUK_ASSIGN_OR_RETURN(corpus->text, ReadFile(path));
  SOUK_ASSIGN_OR_RETURN(corpus->docs, ParseCorpus(corpus->text, path));
  return corpus;
}

Result<std::vector<std::string>> ReadQueries(const std::string& path) {
  SOUK_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  std::vector<std::string> queries;
  Status status = ForEachLine(text, [&](size_t, std::string_view line) {
    queries.emplace_back(line);
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return queries;
}

Result<uint64_t> Engine::IndexBytes(const std::string& dir) const {
  std::error_code ec;
  uint64_t bytes = 0;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_regular_file(ec)) bytes += it->file_size(ec);
    if (ec) break;
  }
  if (ec) return Status::IoError("cannot size " + dir + ": " + ec.message());
  return bytes;
}

Timer::Timer()
    : start_ns_(
          std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
              .count()) {}

double Timer::Seconds() const {
  const int64_t now =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  return static_cast<double>(now - start_ns_) * 1e-9;
}

double Percentile(std::vector<double>* values, double p) {
  if (values->empty()) return 0;
  std::sort(values->begin(), values->end());
  const double rank = std::ceil(p / 100.0 * static_cast<double>(values->size()));
  const size_t index = rank < 1 ? 0 : std::min(values->size(), static_cast<size_t>(rank)) - 1;
  return (*values)[index];
}

Result<QueryStats> QueryBenchmark(Engine& engine, const std::vector<std::string>& queries,
                                  const QueryOptions& options) {
  assert(options.threads >= 1);
  const size_t n = queries.size();
  QueryStats stats;
  stats.results.resize(n);
  stats.latencies_ms.resize(n);

  // Pass 1: one thread, every query timed on its own.
  {
    SOUK_ASSIGN_OR_RETURN(std::unique_ptr<Searcher> searcher, engine.NewSearcher());
    Timer pass;
    for (size_t i = 0; i < n; ++i) {
      Timer one;
      Status s = searcher->Search(queries[i], options.k, &stats.results[i]);
      stats.latencies_ms[i] = one.Seconds() * 1e3;
      if (!s.ok()) return s.WithContext("query " + std::to_string(i) + " '" + queries[i] + "'");
    }
    stats.seconds_1thread = pass.Seconds();
  }

  // Pass 2: all queries again on `threads` threads, for throughput. Each
  // answer is hashed so a searcher that is not thread-safe shows up as
  // mismatches instead of going unnoticed.
  std::vector<std::unique_ptr<Searcher>> searchers;
  for (size_t t = 0; t < options.threads; ++t) {
    SOUK_ASSIGN_OR_RETURN(std::unique_ptr<Searcher> searcher, engine.NewSearcher());
    searchers.push_back(std::move(searcher));
  }
  std::vector<uint64_t> hashes(n);
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mu;
  Status error;
  std::latch ready(static_cast<std::ptrdiff_t>(options.threads));
  std::latch go(1);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < options.threads; ++t) {
    threads.emplace_back([&, searcher = searchers[t].get()] {
      std::vector<uint32_t> ids;
      ids.reserve(options.k);
      ready.count_down();
      go.wait();
      for (size_t i = next.fetch_add(1, std::memory_order_relaxed); i < n && !failed.load(std::memory_order_relaxed);
           i = next.fetch_add(1, std::memory_order_relaxed)) {
        Status s = searcher->Search(queries[i], options.k, &ids);
        if (!s.ok()) {
          std::lock_guard<std::mutex> lock(error_mu);
          if (error.ok()) error = s.WithContext("query " + std::to_string(i) + " (threaded)");
          failed = true;
          break;
        }
        hashes[i] = HashIds(ids);
      }
    });
  }
  ready.wait();
  Timer pass;
  go.count_down();
  for (std::thread& thread : threads) thread.join();
  stats.seconds_threads = pass.Seconds();
  if (!error.ok()) return error;
  for (size_t i = 0; i < n; ++i) {
    if (hashes[i] != HashIds(stats.results[i])) ++stats.mismatches;
  }
  return stats;
}

Status WriteResults(const std::string& path, const std::vector<std::vector<uint32_t>>& results) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return Status::IoError("cannot create " + path);
  std::string line;
  bool ok = true;
  for (size_t i = 0; i < results.size() && ok; ++i) {
    line = std::to_string(i);
    line += '\t';
    for (size_t j = 0; j < results[i].size(); ++j) {
      if (j > 0) line += ',';
      line += std::to_string(results[i][j]);
    }
    line += '\n';
    ok = std::fwrite(line.data(), 1, line.size(), f) == line.size();
  }
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) return Status::IoError("cannot write " + path);
  return Status::Ok();
}

double PeakRssMiB() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

int BenchMain(int argc, char** argv, Engine& engine) {
  const std::string program = argc > 0 ? fs::path(argv[0]).filename().string() : engine.Name() + "_bench";
  std::vector<std::string> positional;
  QueryOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::cout << UsageText(program);
      return 0;
    }
    if (arg == "--threads" || arg == "--k") {
      size_t value = 0;
      if (i + 1 >= argc || !ParseSize(argv[i + 1], &value) || value == 0) {
        return Usage(program, std::string(arg) + " needs a positive integer");
      }
      (arg == "--k" ? options.k : options.threads) = value;
      ++i;
    } else if (arg.starts_with("--")) {
      return Usage(program, "unknown option " + std::string(arg));
    } else {
      positional.emplace_back(arg);
    }
  }
  if (!positional.empty() && positional[0] == "build" && positional.size() == 3) {
    return RunBuild(engine, positional[1], positional[2]);
  }
  if (!positional.empty() && positional[0] == "query" && positional.size() == 4) {
    return RunQuery(engine, positional[1], positional[2], positional[3], options);
  }
  return Usage(program, "expected 'build CORPUS.tsv INDEX_DIR' or 'query INDEX_DIR QUERIES.txt OUT.tsv'");
}

}  // namespace souk::bench
