// rec_bench: timing numbers for the factor recommenders (no assertions).
// bench/rec/run.sh runs the standard set and prints a table.
//
//   rec_bench synth   [--users 138493 --items 26744 --nnz 10000000 --zipf 0.7]
//                     [--model ials:f=64 --epochs 3 --threads 2 --seed 1]
//       Fit time per epoch on a synthetic matrix shaped like MovieLens-20M
//       (every user >= 20 items, Zipf-like item popularity, ids shuffled).
//   rec_bench file    PATH [--model ials:f=64 --epochs 5 --threads 2]
//       Fit time per epoch on a "user item" per line file (SASRec format).
//   rec_bench eval    PATH [--model ials --threads 2 --users 10000]
//       Leave-last-out HR@10 / NDCG@10 over all items (seen items excluded)
//       on such a file: the last line of each user with >= 3 lines is held
//       out, the rest is training data and the history.
//   rec_bench latency [--items 1000000 --f 64 --queries 300 --history 20]
//                     [--ef 50,100,200 --M 16 --efc 200 --threads 2 --random]
//       Recommend latency for one user: exact (fold-in + Q x + top-10) through
//       the iALS model, and fold-in + hnswlib inner-product search, with
//       recall@10 against exact and the hnswlib build time. Item factors are
//       clustered like trained ones (1,000 Gaussian clusters, norms following
//       a Zipf-like popularity) or, with --random, i.i.d. Gaussian.
//
// Every line of output is "key: value" so run.sh can pick numbers out.
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "rec/rec.h"

namespace souk::rec {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// --key value flags after the subcommand (and its positional path).
class Flags {
 public:
  Flags(int argc, char** argv, int first) {
    for (int i = first; i < argc; ++i) {
      std::string key = argv[i];
      if (key.rfind("--", 0) != 0) {
        positional_.push_back(key);
        continue;
      }
      key = key.substr(2);
      if (key == "random") {
        kv_[key] = "1";
      } else if (i + 1 < argc) {
        kv_[key] = argv[++i];
      } else {
        std::fprintf(stderr, "flag --%s needs a value\n", key.c_str());
        std::exit(2);
      }
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
  double Double(const std::string& key, double fallback) const {
    auto it = kv_.find(key);
    return it == kv_.end() ? fallback : std::stod(it->second);
  }
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::string> kv_;
  std::vector<std::string> positional_;
};

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t idx = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5));
  return v[idx];
}

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "rec_bench: %s\n", message.c_str());
  std::exit(1);
}

std::unique_ptr<Model> MakeOrDie(const std::string& spec) {
  auto model = MakeModel(spec);
  if (!model.ok()) Die(model.status().ToString());
  return std::move(*model);
}

// Fits `spec` with `epochs` epochs and prints the time of each.
void TimeFit(const Interactions& data, std::string spec, int64_t epochs, int threads, uint64_t seed) {
  spec += (spec.find(':') == std::string::npos ? ":" : ",") + std::string("it=") + std::to_string(epochs);
  auto model = MakeOrDie(spec);
  std::printf("model: %s\n", model->Describe().c_str());
  std::printf("threads: %d\n", threads);
  FitContext ctx;
  ctx.threads = threads;
  ctx.seed = seed;
  std::vector<double> epoch_s;
  auto last = Clock::now();
  const auto start = last;
  ctx.progress = [&](uint64_t, uint64_t) {
    const auto now = Clock::now();
    epoch_s.push_back(Seconds(last, now));
    last = now;
  };
  const Status s = model->Fit(data, ctx);
  if (!s.ok()) Die(s.ToString());
  const double total = Seconds(start, Clock::now());
  for (size_t e = 0; e < epoch_s.size(); ++e) std::printf("epoch_%zu_s: %.3f\n", e + 1, epoch_s[e]);
  // The first epoch includes the random initialisation; report the median.
  std::printf("fit_s: %.3f\n", total);
  std::printf("epoch_median_s: %.3f\n", Percentile(epoch_s, 0.5));
}

// ---- synthetic MovieLens-20M-shaped matrix -------------------------------------

Interactions SynthMatrix(uint32_t num_users, uint32_t num_items, uint64_t nnz, double zipf, uint64_t seed) {
  std::mt19937_64 rng(seed);
  constexpr uint32_t kMinPerUser = 20;
  if (nnz < uint64_t{kMinPerUser} * num_users) Die("--nnz too small for 20 items per user");
  const uint32_t max_per_user = num_items / 2;
  // Per-user counts: 20 + exponential, then nudged to exactly nnz.
  std::vector<uint32_t> count(num_users);
  std::exponential_distribution<double> extra(1.0 / (static_cast<double>(nnz) / num_users - kMinPerUser));
  uint64_t sum = 0;
  for (uint32_t& c : count) {
    c = static_cast<uint32_t>(std::min<double>(kMinPerUser + extra(rng), max_per_user));
    sum += c;
  }
  std::uniform_int_distribution<uint32_t> any_user(0, num_users - 1);
  while (sum != nnz) {
    uint32_t& c = count[any_user(rng)];
    if (sum < nnz && c < max_per_user) {
      ++c;
      ++sum;
    } else if (sum > nnz && c > kMinPerUser) {
      --c;
      --sum;
    }
  }
  // Item popularity ~ 1 / rank^zipf, ranks shuffled over the ids as in real
  // data. zipf=0.7 puts the top item in ~59% of the users (MovieLens-20M:
  // 49%) and the least popular items in ~85.
  std::vector<uint32_t> rank_to_item(num_items);
  std::iota(rank_to_item.begin(), rank_to_item.end(), 0u);
  std::shuffle(rank_to_item.begin(), rank_to_item.end(), rng);
  std::vector<double> cdf(num_items);
  double acc = 0;
  for (uint32_t r = 0; r < num_items; ++r) cdf[r] = acc += 1.0 / std::pow(r + 1.0, zipf);
  std::uniform_real_distribution<double> uni(0, acc);

  Interactions m;
  m.num_users = num_users;
  m.num_items = num_items;
  m.user_ptr.assign(num_users + 1, 0);
  m.user_items.reserve(nnz);
  std::vector<uint32_t> mark(num_items, kNone);
  std::vector<uint32_t> row;
  for (uint32_t u = 0; u < num_users; ++u) {
    row.clear();
    while (row.size() < count[u]) {
      const uint32_t r = static_cast<uint32_t>(std::lower_bound(cdf.begin(), cdf.end(), uni(rng)) - cdf.begin());
      const uint32_t i = rank_to_item[std::min(r, num_items - 1)];
      if (mark[i] == u) continue;
      mark[i] = u;
      row.push_back(i);
    }
    std::sort(row.begin(), row.end());
    m.user_items.insert(m.user_items.end(), row.begin(), row.end());
    m.user_ptr[u + 1] = m.user_items.size();
  }
  m.user_weights.assign(m.user_items.size(), 1.0f);
  // CSC by counting sort (users ascending within an item).
  m.item_ptr.assign(num_items + 1, 0);
  for (uint32_t i : m.user_items) m.item_ptr[i + 1]++;
  for (uint32_t i = 0; i < num_items; ++i) m.item_ptr[i + 1] += m.item_ptr[i];
  m.item_users.resize(m.user_items.size());
  m.item_weights.assign(m.user_items.size(), 1.0f);
  std::vector<uint64_t> next(m.item_ptr.begin(), m.item_ptr.end() - 1);
  for (uint32_t u = 0; u < num_users; ++u) {
    for (uint64_t k = m.user_ptr[u]; k < m.user_ptr[u + 1]; ++k) m.item_users[next[m.user_items[k]]++] = u;
  }
  return m;
}

int CmdSynth(const Flags& flags) {
  const auto t0 = Clock::now();
  const Interactions m =
      SynthMatrix(static_cast<uint32_t>(flags.Int("users", 138493)), static_cast<uint32_t>(flags.Int("items", 26744)),
                  static_cast<uint64_t>(flags.Int("nnz", 10000000)), flags.Double("zipf", 0.7),
                  static_cast<uint64_t>(flags.Int("seed", 1)));
  uint64_t top = 0, low = UINT64_MAX;
  for (uint32_t i = 0; i < m.num_items; ++i) {
    top = std::max(top, m.item_ptr[i + 1] - m.item_ptr[i]);
    low = std::min(low, m.item_ptr[i + 1] - m.item_ptr[i]);
  }
  std::printf("data: synthetic users=%u items=%u nnz=%zu max_item_users=%llu min_item_users=%llu\n", m.num_users,
              m.num_items, m.nnz(), static_cast<unsigned long long>(top), static_cast<unsigned long long>(low));
  std::printf("gen_s: %.3f\n", Seconds(t0, Clock::now()));
  TimeFit(m, flags.Str("model", "ials:f=64"), flags.Int("epochs", 3), static_cast<int>(flags.Int("threads", 2)),
          static_cast<uint64_t>(flags.Int("seed", 1)));
  return 0;
}

// ---- "user item" files -----------------------------------------------------------

struct FileData {
  uint32_t num_users = 0, num_items = 0;
  std::vector<std::vector<uint32_t>> sequences;  // per dense user, in file order
};

FileData ReadPairs(const std::string& path) {
  std::ifstream in(path);
  if (!in) Die("cannot read " + path);
  FileData d;
  std::unordered_map<std::string, uint32_t> users, items;
  std::string line, u, i;
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    if (!(ss >> u >> i)) continue;
    const uint32_t du = users.try_emplace(u, static_cast<uint32_t>(users.size())).first->second;
    const uint32_t di = items.try_emplace(i, static_cast<uint32_t>(items.size())).first->second;
    if (du >= d.sequences.size()) d.sequences.resize(du + 1);
    d.sequences[du].push_back(di);
  }
  d.num_users = static_cast<uint32_t>(users.size());
  d.num_items = static_cast<uint32_t>(items.size());
  return d;
}

// Interactions from the sequences, leaving out the last `hold_out` entries of
// users with at least 3.
Interactions ToInteractions(const FileData& d, size_t hold_out) {
  std::vector<Interaction> data;
  for (uint32_t u = 0; u < d.num_users; ++u) {
    const auto& seq = d.sequences[u];
    const size_t keep = seq.size() >= 3 ? seq.size() - hold_out : seq.size();
    for (size_t k = 0; k < keep; ++k) data.push_back({u, seq[k], 1.0f, static_cast<int64_t>(k) * 1000, 0});
  }
  return BuildInteractions(data, d.num_users, d.num_items);
}

int CmdFile(const Flags& flags) {
  if (flags.positional().empty()) Die("file: give a \"user item\" file");
  const FileData d = ReadPairs(flags.positional()[0]);
  const Interactions m = ToInteractions(d, 0);
  std::printf("data: %s users=%u items=%u nnz=%zu\n", flags.positional()[0].c_str(), m.num_users, m.num_items, m.nnz());
  TimeFit(m, flags.Str("model", "ials:f=64"), flags.Int("epochs", 5), static_cast<int>(flags.Int("threads", 2)),
          static_cast<uint64_t>(flags.Int("seed", 1)));
  return 0;
}

int CmdEval(const Flags& flags) {
  if (flags.positional().empty()) Die("eval: give a \"user item\" file");
  const FileData d = ReadPairs(flags.positional()[0]);
  const Interactions m = ToInteractions(d, 1);
  const int threads = static_cast<int>(flags.Int("threads", 2));
  const std::string spec = flags.Str("model", "ials");
  auto model = MakeOrDie(spec);
  FitContext ctx;
  ctx.threads = threads;
  ctx.seed = static_cast<uint64_t>(flags.Int("seed", 1));
  const auto t0 = Clock::now();
  const Status s = model->Fit(m, ctx);
  if (!s.ok()) Die(s.ToString());
  const double fit_s = Seconds(t0, Clock::now());
  // Users with a held-out item, an evenly spaced sample of at most --users.
  std::vector<uint32_t> eval_users;
  for (uint32_t u = 0; u < d.num_users; ++u) {
    if (d.sequences[u].size() >= 3) eval_users.push_back(u);
  }
  const size_t limit = static_cast<size_t>(flags.Int("users", 10000));
  if (eval_users.size() > limit) {
    std::vector<uint32_t> sample;
    for (size_t k = 0; k < limit; ++k) sample.push_back(eval_users[k * eval_users.size() / limit]);
    eval_users.swap(sample);
  }
  const bool anonymous = flags.Int("anonymous", 0) != 0;  // fold in every history (BPR: not the learned vector)
  std::vector<double> hit(threads, 0), ndcg(threads, 0);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::vector<float> buffer;
      for (size_t k = t; k < eval_users.size(); k += threads) {
        const uint32_t u = eval_users[k];
        History h;
        h.user = anonymous ? kNone : u;
        h.items.assign(d.sequences[u].begin(), d.sequences[u].end() - 1);
        const uint32_t target = d.sequences[u].back();
        const auto top = Recommend(*model, h, {}, &buffer);
        for (size_t r = 0; r < top.size(); ++r) {
          if (top[r].item == target) {
            hit[t] += 1;
            ndcg[t] += 1.0 / std::log2(r + 2.0);
          }
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  const double n = static_cast<double>(eval_users.size());
  std::printf("model: %s\n", model->Describe().c_str());
  std::printf("eval_users: %zu\nfit_s: %.3f\nhr10: %.4f\nndcg10: %.4f\n", eval_users.size(), fit_s,
              std::accumulate(hit.begin(), hit.end(), 0.0) / n, std::accumulate(ndcg.begin(), ndcg.end(), 0.0) / n);
  return 0;
}

// ---- recommend latency: exact vs hnswlib -------------------------------------------

int CmdLatency(const Flags& flags) {
  const uint32_t n = static_cast<uint32_t>(flags.Int("items", 1000000));
  const int f = static_cast<int>(flags.Int("f", 64));
  const size_t queries = static_cast<size_t>(flags.Int("queries", 300));
  const size_t history_len = static_cast<size_t>(flags.Int("history", 20));
  const int threads = static_cast<int>(flags.Int("threads", 2));
  const size_t m_links = static_cast<size_t>(flags.Int("M", 16));
  const size_t efc = static_cast<size_t>(flags.Int("efc", 200));
  const bool random = flags.Int("random", 0) != 0;
  constexpr size_t kTop = 10;
  std::vector<size_t> efs;
  for (std::string_view piece : SplitTrimmed(flags.Str("ef", "50,100,200"), ',')) {
    efs.push_back(static_cast<size_t>(std::stoul(std::string(piece))));
  }

  // Item factors.
  const auto t0 = Clock::now();
  std::mt19937_64 rng(static_cast<uint64_t>(flags.Int("seed", 1)));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> items(size_t{n} * f);
  constexpr uint32_t kClusters = 1000;
  std::vector<uint32_t> cluster_of(n, 0);
  std::vector<std::vector<uint32_t>> members(kClusters);
  if (random) {
    for (float& v : items) v = normal(rng) / std::sqrt(static_cast<float>(f));
  } else {
    std::vector<float> centres(size_t{kClusters} * f);
    for (float& v : centres) v = normal(rng);
    std::uniform_int_distribution<uint32_t> pick(0, kClusters - 1);
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t c = pick(rng);
      cluster_of[i] = c;
      members[c].push_back(i);
      // Norm ~ popularity: rank^-0.3 over a shuffled rank (i is random anyway).
      const float scale = 0.3f + 2.0f * std::pow(static_cast<float>(rng() % n + 1), -0.3f);
      float norm = 0;
      float* row = items.data() + size_t{i} * f;
      for (int k = 0; k < f; ++k) {
        row[k] = centres[size_t{c} * f + k] + 0.5f * normal(rng);
        norm += row[k] * row[k];
      }
      norm = std::sqrt(norm);
      for (int k = 0; k < f; ++k) row[k] *= scale / norm;
    }
  }
  // The model: iALS state written and loaded, so Score is the real path.
  auto model = MakeOrDie("ials:f=" + std::to_string(f));
  {
    std::stringstream state;
    const uint32_t fu = static_cast<uint32_t>(f);
    state.write(reinterpret_cast<const char*>(&fu), sizeof(fu));
    state.write(reinterpret_cast<const char*>(&n), sizeof(n));
    const uint64_t size = items.size();
    state.write(reinterpret_cast<const char*>(&size), sizeof(size));
    state.write(reinterpret_cast<const char*>(items.data()),
                static_cast<std::streamsize>(items.size() * sizeof(float)));
    const Status s = model->LoadState(state);
    if (!s.ok()) Die(s.ToString());
  }
  std::printf("items: %u\nf: %d\nfactors: %s\n", n, f, random ? "random" : "clustered");
  std::printf("setup_s: %.3f\n", Seconds(t0, Clock::now()));

  // Histories: items from 1-3 clusters (clustered) or anywhere (random).
  std::vector<History> histories(queries);
  std::uniform_int_distribution<uint32_t> any(0, n - 1);
  for (History& h : histories) {
    const int parts = 1 + static_cast<int>(rng() % 3);
    std::vector<uint32_t> picked;
    for (int p = 0; p < parts; ++p) picked.push_back(static_cast<uint32_t>(rng() % kClusters));
    for (size_t k = 0; k < history_len; ++k) {
      if (random) {
        h.items.push_back(any(rng));
      } else {
        const auto& pool = members[picked[k % picked.size()]];
        h.items.push_back(pool[rng() % pool.size()]);
      }
    }
  }

  // Exact: Recommend (fold-in, Q x, top-k), seen items kept so that the
  // answer is comparable with the ANN's.
  RecommendOptions options;
  options.k = kTop;
  options.exclude_seen = false;
  std::vector<std::vector<ScoredItem>> truth(queries);
  std::vector<double> exact_ms, fold_ms;
  std::vector<float> buffer;
  for (size_t q = 0; q < queries; ++q) {
    const auto a = Clock::now();
    truth[q] = Recommend(*model, histories[q], options, &buffer);
    exact_ms.push_back(1000 * Seconds(a, Clock::now()));
    const auto b = Clock::now();
    (void)model->UserVector(histories[q]);
    fold_ms.push_back(1000 * Seconds(b, Clock::now()));
  }
  std::printf("foldin_ms_median: %.3f\n", Percentile(fold_ms, 0.5));
  std::printf("exact_ms_median: %.3f\nexact_ms_p99: %.3f\n", Percentile(exact_ms, 0.5), Percentile(exact_ms, 0.99));

  // hnswlib, inner product, built on `threads` threads.
  hnswlib::InnerProductSpace space(static_cast<size_t>(f));
  hnswlib::HierarchicalNSW<float> index(&space, n, m_links, efc, 100);
  const auto b0 = Clock::now();
  {
    std::atomic<uint32_t> next{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&] {
        for (uint32_t i; (i = next.fetch_add(1)) < n;) index.addPoint(items.data() + size_t{i} * f, i);
      });
    }
    for (auto& th : pool) th.join();
  }
  std::printf("hnsw_M: %zu\nhnsw_efc: %zu\nhnsw_build_s: %.3f\n", m_links, efc, Seconds(b0, Clock::now()));
  // One untimed pass: the first searches fault the index's pages in.
  index.setEf(efs.empty() ? 10 : efs.front());
  for (size_t q = 0; q < queries; ++q) (void)index.searchKnn(model->UserVector(histories[q]).data(), kTop);
  for (size_t ef : efs) {
    index.setEf(ef);
    std::vector<double> ms;
    size_t found = 0;
    for (size_t q = 0; q < queries; ++q) {
      const auto a = Clock::now();
      const std::vector<float> x = model->UserVector(histories[q]);
      auto result = index.searchKnn(x.data(), kTop);
      ms.push_back(1000 * Seconds(a, Clock::now()));
      std::vector<uint32_t> got;
      while (!result.empty()) {
        got.push_back(static_cast<uint32_t>(result.top().second));
        result.pop();
      }
      for (const ScoredItem& t : truth[q]) found += std::count(got.begin(), got.end(), t.item);
    }
    std::printf("hnsw_ef%zu_recall10: %.4f\nhnsw_ef%zu_ms_median: %.3f\nhnsw_ef%zu_ms_p99: %.3f\n", ef,
                static_cast<double>(found) / static_cast<double>(queries * kTop), ef, Percentile(ms, 0.5), ef,
                Percentile(ms, 0.99));
  }
  return 0;
}

}  // namespace
}  // namespace souk::rec

int main(int argc, char** argv) {
  using namespace souk::rec;
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // run.sh tees the lines as they come
  const std::string cmd = argc > 1 ? argv[1] : "";
  const Flags flags(argc, argv, 2);
  if (cmd == "synth") return CmdSynth(flags);
  if (cmd == "file") return CmdFile(flags);
  if (cmd == "eval") return CmdEval(flags);
  if (cmd == "latency") return CmdLatency(flags);
  std::fprintf(stderr, "usage: rec_bench synth|file PATH|eval PATH|latency [--flags] (see the top of rec_bench.cc)\n");
  return 2;
}
