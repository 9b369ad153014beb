// vector_bench: exact vs hnsw through souk's VectorIndex (numbers only, no
// assertions). bench/vector/run.sh runs the standard set and prints a table.
//
//   vector_bench [--n 200000 --d 64 --queries 1000 --k 10 --ef 16,32,64,128,256]
//                [--M 16 --efc 200 --metric ip --threads 2 --seed 1]
//                [--clusters C]                    C Gaussian clusters instead of i.i.d. N(0, 1)
//                [--base B.fvecs --query Q.fvecs]  given vectors (texmex .fvecs: int32 d, d floats)
//
// Builds both indexes over the same vectors (hnsw on --threads threads),
// then times single-threaded searches, one query per call: exact, and hnsw
// at each ef with recall@k against exact and the speed-up over it. Also the
// exact batch (all queries in one call, --threads threads) and the hnsw
// file's save/load time. Every line of output is "key: value".
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "vector/vector.h"

namespace souk::vector {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "vector_bench: %s\n", message.c_str());
  std::exit(1);
}

// --key value flags.
class Flags {
 public:
  Flags(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      std::string key = argv[i];
      if (key.rfind("--", 0) != 0 || i + 1 >= argc) Die("expected --key value, got '" + key + "'");
      kv_[key.substr(2)] = argv[++i];
    }
  }
  std::string Str(const std::string& key, const std::string& fallback) const {
    auto it = kv_.find(key);
    return it == kv_.end() ? fallback : it->second;
  }
  int64_t Int(const std::string& key, int64_t fallback) const {
    auto it = kv_.find(key);
    return it == kv_.end() ? fallback : std::stoll(it->second);
  }

 private:
  std::map<std::string, std::string> kv_;
};

std::vector<size_t> ParseList(const std::string& text) {
  std::vector<size_t> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(std::stoul(item));
  return out;
}

// texmex .fvecs: per vector an int32 dimension, then that many floats.
std::vector<float> ReadFvecs(const std::string& path, size_t* dim, size_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Die("cannot read " + path);
  std::vector<float> out;
  for (int32_t d; out.size() / std::max<size_t>(*dim, 1) < limit && in.read(reinterpret_cast<char*>(&d), 4);) {
    if (d <= 0 || (*dim != 0 && static_cast<size_t>(d) != *dim)) Die(path + ": inconsistent dimension");
    *dim = static_cast<size_t>(d);
    const size_t at = out.size();
    out.resize(at + *dim);
    if (!in.read(reinterpret_cast<char*>(out.data() + at), static_cast<std::streamsize>(*dim * 4))) {
      Die(path + " is truncated");
    }
  }
  return out;
}

// n vectors: i.i.d. N(0, 1), or around `clusters` N(0, 1) centres with
// N(0, 0.5^2) noise (closer to trained embeddings, easier for a graph).
std::vector<float> Generate(size_t n, size_t dim, size_t clusters, std::mt19937_64& rng,
                            const std::vector<float>& centres) {
  std::normal_distribution<float> normal(0, 1);
  std::vector<float> v(n * dim);
  for (size_t i = 0; i < n; ++i) {
    const float* c = clusters ? centres.data() + (rng() % clusters) * dim : nullptr;
    for (size_t j = 0; j < dim; ++j) v[i * dim + j] = c ? c[j] + 0.5f * normal(rng) : normal(rng);
  }
  return v;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// One query per call on this thread; returns the seconds of each call.
std::vector<double> TimeOneByOne(const VectorIndex& index, const std::vector<float>& queries, size_t k,
                                 const SearchParams& params, std::vector<uint32_t>* ids) {
  const size_t dim = index.dim(), nq = queries.size() / dim;
  ids->resize(nq * k);
  std::vector<float> scores(k);
  std::vector<double> seconds(nq);
  for (size_t q = 0; q < nq; ++q) {
    const auto t0 = Clock::now();
    index.Search(1, queries.data() + q * dim, k, ids->data() + q * k, scores.data(), params);
    seconds[q] = Seconds(t0, Clock::now());
  }
  return seconds;
}

double Recall(const std::vector<uint32_t>& got, const std::vector<uint32_t>& truth, size_t k) {
  size_t found = 0, total = 0;
  for (size_t q = 0; q < truth.size() / k; ++q) {
    for (size_t i = 0; i < k; ++i) {
      const uint32_t id = truth[q * k + i];
      if (id == kNoId) continue;
      ++total;
      found += std::count(got.begin() + q * k, got.begin() + (q + 1) * k, id) > 0;
    }
  }
  return total ? static_cast<double>(found) / static_cast<double>(total) : 1.0;
}

double Sum(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s;
}

int Main(int argc, char** argv) {
  const Flags flags(argc, argv);
  size_t n = static_cast<size_t>(flags.Int("n", 200000));
  size_t dim = static_cast<size_t>(flags.Int("d", 64));
  size_t nq = static_cast<size_t>(flags.Int("queries", 1000));
  const size_t k = static_cast<size_t>(flags.Int("k", 10));
  const size_t clusters = static_cast<size_t>(flags.Int("clusters", 0));
  const int threads = static_cast<int>(flags.Int("threads", 2));
  const std::vector<size_t> efs = ParseList(flags.Str("ef", "16,32,64,128,256"));
  const std::string metric = flags.Str("metric", "ip");
  std::mt19937_64 rng(static_cast<uint64_t>(flags.Int("seed", 1)));

  std::vector<float> base, queries;
  std::string source;
  if (!flags.Str("base", "").empty()) {
    dim = 0;
    base = ReadFvecs(flags.Str("base", ""), &dim, n);
    n = base.size() / dim;
    if (flags.Str("query", "").empty()) Die("--base needs --query");
    queries = ReadFvecs(flags.Str("query", ""), &dim, nq);
    nq = queries.size() / dim;
    source = flags.Str("base", "");
  } else {
    std::normal_distribution<float> normal(0, 1);
    std::vector<float> centres(clusters * dim);
    for (float& x : centres) x = normal(rng);
    base = Generate(n, dim, clusters, rng, centres);
    queries = Generate(nq, dim, clusters, rng, centres);
    source = clusters ? "gaussian clusters=" + std::to_string(clusters) : "iid gaussian";
  }
  std::vector<uint32_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = static_cast<uint32_t>(i);
  std::printf("data: %s\nn: %zu\nd: %zu\nqueries: %zu\nk: %zu\nthreads: %d\n", source.c_str(), n, dim, nq, k, threads);

  auto make = [&](const std::string& spec, int index_threads) {
    auto index = MakeVectorIndex(spec, dim, index_threads);
    if (!index.ok()) Die(index.status().ToString());
    return std::move(index).value();
  };
  // Two exact indexes: one with --threads for the batch, one with a single
  // thread for the one-by-one timing (with more, a single query over many
  // rows is split across threads).
  auto exact = make("exact:metric=" + metric, threads);
  auto exact1 = make("exact:metric=" + metric, 1);
  auto hnsw = make("hnsw:M=" + flags.Str("M", "16") + ",efc=" + flags.Str("efc", "200") + ",metric=" + metric, threads);

  auto t0 = Clock::now();
  if (Status s = exact->Add(n, base.data(), ids.data()); !s.ok()) Die(s.ToString());
  std::printf("exact_spec: %s\nexact_build_s: %.3f\n", exact->Describe().c_str(), Seconds(t0, Clock::now()));
  if (Status s = exact1->Add(n, base.data(), ids.data()); !s.ok()) Die(s.ToString());
  t0 = Clock::now();
  if (Status s = hnsw->Add(n, base.data(), ids.data()); !s.ok()) Die(s.ToString());
  std::printf("hnsw_spec: %s\nhnsw_build_s: %.3f\n", hnsw->Describe().c_str(), Seconds(t0, Clock::now()));
  std::fflush(stdout);

  // Ground truth, and the batch path: every query in one call.
  std::vector<uint32_t> truth(nq * k);
  std::vector<float> scores(nq * k);
  t0 = Clock::now();
  exact->Search(nq, queries.data(), k, truth.data(), scores.data());
  std::printf("exact_batch_qps: %.1f\n", static_cast<double>(nq) / Seconds(t0, Clock::now()));

  std::vector<uint32_t> got;
  const auto exact_s = TimeOneByOne(*exact1, queries, k, {}, &got);
  const double exact_qps = static_cast<double>(nq) / Sum(exact_s);
  std::printf("exact_qps_1t: %.1f\nexact_ms_median: %.3f\nexact_recall: %.4f\n", exact_qps, 1e3 * Median(exact_s),
              Recall(got, truth, k));
  std::fflush(stdout);

  // One untimed pass: the first searches fault the graph's pages in.
  (void)TimeOneByOne(*hnsw, queries, k, {}, &got);
  for (size_t ef : efs) {
    SearchParams p;
    p.ef = ef;
    const auto s = TimeOneByOne(*hnsw, queries, k, p, &got);
    const double qps = static_cast<double>(nq) / Sum(s);
    std::printf(
        "hnsw_ef%zu_qps_1t: %.1f\nhnsw_ef%zu_ms_median: %.4f\nhnsw_ef%zu_recall%zu: %.4f\nhnsw_ef%zu_speedup: %.1f\n",
        ef, qps, ef, 1e3 * Median(s), ef, k, Recall(got, truth, k), ef, qps / exact_qps);
    std::fflush(stdout);
  }

  const std::string path = flags.Str("tmp", std::filesystem::temp_directory_path().string()) + "/vector_bench.vec";
  t0 = Clock::now();
  if (Status s = hnsw->Save(path); !s.ok()) Die(s.ToString());
  std::printf("hnsw_save_s: %.3f\nhnsw_file_mb: %.1f\n", Seconds(t0, Clock::now()),
              static_cast<double>(std::filesystem::file_size(path)) / 1e6);
  t0 = Clock::now();
  auto loaded = LoadVectorIndex(path, dim, threads);
  if (!loaded.ok()) Die(loaded.status().ToString());
  std::printf("hnsw_load_s: %.3f\n", Seconds(t0, Clock::now()));
  std::filesystem::remove(path);
  return 0;
}

}  // namespace
}  // namespace souk::vector

int main(int argc, char** argv) { return souk::vector::Main(argc, argv); }
