// The experiment runner: score every case, rank its targets, average the
// per-case metrics, bootstrap intervals.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <mutex>
#include <unordered_set>

#include "core/core.h"
#include "eval/eval.h"
#include "rec/internal.h"

namespace souk::eval {

namespace {

// Random streams, so negatives and bootstrap never share a generator.
constexpr uint64_t kNegativeStream = 0x6e65676174697665ull;
constexpr uint64_t kBootstrapStream = 0x626f6f7473747261ull;

constexpr const char* kFamilies[] = {"HR", "Recall", "NDCG", "MRR", "MAP"};
constexpr size_t kNumFamilies = 5;

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// A generator for (seed, stream, index): independent of which thread runs it.
std::mt19937_64 Generator(uint64_t seed, uint64_t stream, uint64_t index) {
  return std::mt19937_64(SplitMix64(SplitMix64(seed ^ stream) + index));
}

uint64_t Below(std::mt19937_64& rng, uint64_t n) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(rng()) * n) >> 64);
}

bool Valid(float s) { return s > -std::numeric_limits<float>::infinity(); }  // not NaN, not -inf

// Ranks of `targets` among all items of `scores` (each target against every
// other item), by the TargetRank rule. One pass over the items: the targets'
// scores are sorted, and each item adds one to "higher" of the targets it
// beats and to "tied" of those it equals (difference arrays).
void FullRanks(std::span<const float> scores, std::span<const uint32_t> targets, std::vector<uint64_t>* ranks,
               std::vector<std::pair<float, uint32_t>>* scratch) {
  ranks->assign(targets.size(), kUnranked);
  auto& valid = *scratch;  // (score, target index), ascending
  valid.clear();
  for (uint32_t j = 0; j < targets.size(); ++j) {
    const float s = scores[targets[j]];
    if (Valid(s)) valid.emplace_back(s, j);
  }
  if (valid.empty()) return;
  std::sort(valid.begin(), valid.end());
  if (valid.size() == 1) {
    const float t = valid[0].first;
    uint64_t higher = 0, tied = 0;
    for (float s : scores) {
      higher += s > t;
      tied += s == t;
    }
    (*ranks)[valid[0].second] = higher + (tied - 1) / 2;  // the target ties with itself
    return;
  }
  const size_t v = valid.size();
  std::vector<int64_t> dh(v + 1, 0), dt(v + 1, 0);
  auto less_score = [](const std::pair<float, uint32_t>& a, float s) { return a.first < s; };
  auto score_less = [](float s, const std::pair<float, uint32_t>& a) { return s < a.first; };
  for (float s : scores) {
    if (!Valid(s)) continue;
    const size_t lo = std::lower_bound(valid.begin(), valid.end(), s, less_score) - valid.begin();
    if (lo > 0) {
      dh[0]++;
      dh[lo]--;
    }
    if (lo < v && valid[lo].first == s) {
      const size_t hi = std::upper_bound(valid.begin() + lo, valid.end(), s, score_less) - valid.begin();
      dt[lo]++;
      dt[hi]--;
    }
  }
  int64_t higher = 0, tied = 0;
  for (size_t j = 0; j < v; ++j) {
    higher += dh[j];
    tied += dt[j];
    (*ranks)[valid[j].second] = static_cast<uint64_t>(higher + (tied - 1) / 2);
  }
}

double Quantile(const std::vector<double>& sorted, double p) {
  const double h = p * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(h));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

// Percentile intervals for m metrics at once; values is row-major n x m.
// Replicate b draws its n indices from Generator(seed, bootstrap, b), so
// column j gives the same interval as BootstrapInterval on that column.
std::vector<std::pair<double, double>> BootstrapColumns(std::span<const double> values, size_t m, size_t replicates,
                                                        uint64_t seed, int threads) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const size_t n = m == 0 ? 0 : values.size() / m;
  std::vector<std::pair<double, double>> out(m, {nan, nan});
  if (n == 0 || replicates == 0) return out;
  std::vector<double> means(replicates * m);
  rec::ParallelFor(replicates, threads, [&](size_t begin, size_t end) {
    std::vector<double> sum(m);
    for (size_t b = begin; b < end; ++b) {
      std::mt19937_64 rng = Generator(seed, kBootstrapStream, b);
      std::fill(sum.begin(), sum.end(), 0.0);
      for (size_t i = 0; i < n; ++i) {
        const double* row = values.data() + Below(rng, n) * m;
        for (size_t j = 0; j < m; ++j) sum[j] += row[j];
      }
      for (size_t j = 0; j < m; ++j) means[b * m + j] = sum[j] / static_cast<double>(n);
    }
  });
  std::vector<double> column(replicates);
  for (size_t j = 0; j < m; ++j) {
    for (size_t b = 0; b < replicates; ++b) column[b] = means[b * m + j];
    std::sort(column.begin(), column.end());
    out[j] = {Quantile(column, 0.025), Quantile(column, 0.975)};
  }
  return out;
}

double MeanOfValid(std::span<const double> values, size_t stride, size_t offset, bool* any) {
  double sum = 0;
  size_t count = 0;
  for (size_t i = offset; i < values.size(); i += stride) {
    if (!std::isnan(values[i])) {
      sum += values[i];
      ++count;
    }
  }
  *any = count > 0;
  return count ? sum / static_cast<double>(count) : 0.0;
}

}  // namespace

std::pair<double, double> BootstrapInterval(std::span<const double> values, size_t replicates, uint64_t seed) {
  return BootstrapColumns(values, 1, replicates, seed, 1)[0];
}

Result<EvalResult> Evaluate(const rec::Model& fitted, const Split& split, uint32_t num_items,
                            const EvalOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const Protocol& protocol = options.protocol;
  const bool full = protocol.kind == Protocol::kFull;

  std::vector<size_t> ks = options.ks;
  std::sort(ks.begin(), ks.end());
  ks.erase(std::unique(ks.begin(), ks.end()), ks.end());
  if (ks.empty() || ks.front() == 0) return Status::InvalidArgument("evaluation cut-offs (ks) must be >= 1");
  if (full && options.list_k == 0) return Status::InvalidArgument("evaluation list_k must be >= 1");
  if (!full && protocol.negatives < 1) {
    return Status::InvalidArgument("sampled protocols need at least 1 negative, got " +
                                   std::to_string(protocol.negatives));
  }
  if (num_items == 0) return Status::InvalidArgument("evaluation over an empty catalog");
  if (split.cases.empty()) {
    return Status::FailedPrecondition("split '" + split.name + "' has no evaluation cases (too little data?)");
  }
  for (size_t c = 0; c < split.cases.size(); ++c) {
    const Case& cs = split.cases[c];
    if (cs.targets.empty()) return Status::InvalidArgument("evaluation case " + std::to_string(c) + " has no targets");
    for (uint32_t t : cs.targets) {
      if (t >= num_items) {
        return Status::InvalidArgument("evaluation case " + std::to_string(c) + ": target item " + std::to_string(t) +
                                       " is outside the catalog of " + std::to_string(num_items) + " items");
      }
    }
  }

  const bool exclude_seen = protocol.exclude_seen.value_or(split.exclude_seen);
  const Popularity pop = ComputePopularity(split.train, num_items);
  std::optional<NegativeSampler> sampler;
  if (protocol.kind == Protocol::kSampled) sampler.emplace(num_items);
  if (protocol.kind == Protocol::kPopSampled) {
    sampler.emplace(num_items, std::vector<double>(pop.users.begin(), pop.users.end()));
  }

  const size_t n = split.cases.size();
  const size_t nk = ks.size();
  const size_t m = kNumFamilies * nk;  // accuracy row: family-major, then k
  std::vector<double> accuracy(n * m);
  constexpr size_t kBeyond = 3;  // diversity, novelty, popularity bias per list
  std::vector<double> beyond(full ? n * kBeyond : 0, NaN());
  std::vector<char> recommended(full ? num_items : 0, 0);
  const uint32_t model_items = fitted.num_items();
  const float neg_inf = -std::numeric_limits<float>::infinity();

  std::mutex mu;  // guards `recommended` merges and progress calls
  std::atomic<uint64_t> done{0};
  uint64_t reported = 0;

  rec::ParallelFor(n, options.threads, [&](size_t begin, size_t end) {
    std::vector<float> scores(std::max(model_items, num_items));  // this thread's score buffer
    std::vector<uint64_t> ranks;
    std::vector<std::pair<float, uint32_t>> scratch;
    std::vector<uint32_t> exclude, candidates, target_pos, list;
    std::vector<float> cand_scores;
    std::vector<char> local_recommended(full ? num_items : 0, 0);
    for (size_t c = begin; c < end; ++c) {
      const Case& cs = split.cases[c];
      std::fill(scores.begin(), scores.end(), 0.0f);
      fitted.Score(cs.history, std::span<float>(scores.data(), model_items));
      for (size_t i = model_items; i < num_items; ++i) scores[i] = neg_inf;  // unknown to the model
      const std::span<const float> all(scores.data(), num_items);
      if (exclude_seen) {
        for (uint32_t i : cs.history.items) {
          if (i < num_items) scores[i] = neg_inf;
        }
      }

      if (full) {
        FullRanks(all, cs.targets, &ranks, &scratch);
      } else {
        exclude.assign(cs.targets.begin(), cs.targets.end());
        if (exclude_seen) exclude.insert(exclude.end(), cs.history.items.begin(), cs.history.items.end());
        std::mt19937_64 rng = Generator(options.seed, kNegativeStream, c);
        candidates = sampler->Sample(exclude, static_cast<size_t>(protocol.negatives), rng);
        candidates.insert(candidates.end(), cs.targets.begin(), cs.targets.end());
        cand_scores.clear();
        for (uint32_t i : candidates) cand_scores.push_back(all[i]);
        // The targets are the last candidates: rank them within the candidate list.
        target_pos.clear();
        for (size_t j = candidates.size() - cs.targets.size(); j < candidates.size(); ++j) {
          target_pos.push_back(static_cast<uint32_t>(j));
        }
        FullRanks(cand_scores, target_pos, &ranks, &scratch);
      }

      double* row = accuracy.data() + c * m;
      for (size_t ki = 0; ki < nk; ++ki) {
        const Accuracy a = AccuracyFromRanks(ranks, ks[ki]);
        row[0 * nk + ki] = a.hr;
        row[1 * nk + ki] = a.recall;
        row[2 * nk + ki] = a.ndcg;
        row[3 * nk + ki] = a.mrr;
        row[4 * nk + ki] = a.map;
      }

      if (full) {
        list.clear();
        for (const rec::ScoredItem& x : rec::TopK(all, options.list_k)) {
          list.push_back(x.item);
          local_recommended[x.item] = 1;
        }
        double* b = beyond.data() + c * kBeyond;
        if (!options.item_category.empty()) b[0] = IntraListDiversity(list, options.item_category);
        b[1] = Novelty(list, pop);
        b[2] = PopularityBias(list, pop);
      }

      const uint64_t d = done.fetch_add(1) + 1;
      if (options.progress && ((d & 63) == 0 || d == n)) {
        std::lock_guard<std::mutex> lock(mu);
        if (d > reported) {
          reported = d;
          options.progress(d, n);
        }
      }
    }
    if (full) {
      std::lock_guard<std::mutex> lock(mu);
      for (size_t i = 0; i < num_items; ++i) recommended[i] |= local_recommended[i];
    }
  });

  EvalResult result;
  result.model = fitted.Describe();
  result.split = split.name;
  Protocol as_run = protocol;
  as_run.exclude_seen.reset();
  if (exclude_seen != split.exclude_seen) as_run.exclude_seen = exclude_seen;
  result.protocol = ProtocolText(as_run);
  result.cases = n;
  {
    std::unordered_set<uint32_t> users;
    uint64_t anonymous = 0;
    for (const Case& cs : split.cases) {
      if (cs.user == rec::kNone) {
        ++anonymous;
      } else {
        users.insert(cs.user);
      }
    }
    result.users = users.size() + anonymous;
  }

  const auto intervals = BootstrapColumns(accuracy, m, options.bootstrap, options.seed, options.threads);
  for (size_t f = 0; f < kNumFamilies; ++f) {
    for (size_t ki = 0; ki < nk; ++ki) {
      const std::string name = std::string(kFamilies[f]) + "@" + std::to_string(ks[ki]);
      bool any = false;
      result.metrics[name] = MeanOfValid(accuracy, m, f * nk + ki, &any);
      if (options.bootstrap > 0) result.ci95[name] = intervals[f * nk + ki];
    }
  }
  if (full) {
    const std::string at = "@" + std::to_string(options.list_k);
    size_t covered = 0;
    for (char r : recommended) covered += r != 0;
    result.metrics["coverage" + at] = static_cast<double>(covered) / static_cast<double>(num_items);
    const char* names[kBeyond] = {"diversity", "novelty", "popularity_bias"};
    for (size_t j = 0; j < kBeyond; ++j) {
      bool any = false;
      const double mean = MeanOfValid(beyond, kBeyond, j, &any);
      if (any) result.metrics[names[j] + at] = mean;
    }
  }
  result.eval_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace souk::eval
