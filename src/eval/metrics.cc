// Pure metric functions, protocols and negative sampling.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_map>
#include <unordered_set>

#include "core/core.h"
#include "eval/eval.h"

namespace souk::eval {

namespace {

// Uniform in [0, n) without modulo bias worth caring about (Lemire's
// multiply-shift); the same numbers under every standard library, unlike
// std::uniform_int_distribution.
uint64_t Below(std::mt19937_64& rng, uint64_t n) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(rng()) * n) >> 64);
}

double Unit(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }  // [0, 1)

std::vector<uint64_t> ListRanks(std::span<const uint32_t> ranked, std::span<const uint32_t> targets) {
  std::unordered_map<uint32_t, uint64_t> position;
  position.reserve(ranked.size());
  for (size_t p = 0; p < ranked.size(); ++p) position.try_emplace(ranked[p], p);
  std::vector<uint64_t> ranks;
  ranks.reserve(targets.size());
  for (uint32_t t : targets) {
    auto it = position.find(t);
    ranks.push_back(it == position.end() ? kUnranked : it->second);
  }
  return ranks;
}

const char kProtocolForms[] =
    "expected full, sampled:N or popsampled:N, optionally followed by ,keep_seen or ,exclude_seen";

}  // namespace

// ---- ranks and accuracy ------------------------------------------------------

uint64_t TargetRank(float target, std::span<const float> others) {
  if (!(target > -std::numeric_limits<float>::infinity())) return kUnranked;  // NaN or -inf
  uint64_t higher = 0, tied = 0;
  for (float s : others) {
    higher += s > target;
    tied += s == target;
  }
  return higher + tied / 2;
}

Accuracy AccuracyFromRanks(std::span<const uint64_t> ranks, size_t k) {
  Accuracy a;
  if (ranks.empty() || k == 0) return a;
  std::vector<uint64_t> r(ranks.begin(), ranks.end());
  std::sort(r.begin(), r.end());
  const size_t ideal = std::min(r.size(), k);
  double idcg = 0;
  for (size_t i = 0; i < ideal; ++i) idcg += 1.0 / std::log2(static_cast<double>(i) + 2.0);
  double dcg = 0, ap = 0;
  size_t hits = 0;
  uint64_t prev = 0;
  for (size_t j = 0; j < r.size(); ++j) {
    // Tied targets cannot share a list position: push later ones down.
    const uint64_t p = j == 0 ? r[0] : std::max(r[j], prev + 1);
    if (p >= k) break;
    prev = p;
    ++hits;
    dcg += 1.0 / std::log2(static_cast<double>(p) + 2.0);
    ap += static_cast<double>(hits) / static_cast<double>(p + 1);
    if (j == 0) a.mrr = 1.0 / static_cast<double>(p + 1);
  }
  a.hr = hits > 0 ? 1.0 : 0.0;
  a.recall = static_cast<double>(hits) / static_cast<double>(r.size());
  a.ndcg = dcg / idcg;
  a.map = ap / static_cast<double>(ideal);
  return a;
}

double HitRateAtK(std::span<const uint32_t> ranked, std::span<const uint32_t> targets, size_t k) {
  return AccuracyFromRanks(ListRanks(ranked, targets), k).hr;
}
double RecallAtK(std::span<const uint32_t> ranked, std::span<const uint32_t> targets, size_t k) {
  return AccuracyFromRanks(ListRanks(ranked, targets), k).recall;
}
double NdcgAtK(std::span<const uint32_t> ranked, std::span<const uint32_t> targets, size_t k) {
  return AccuracyFromRanks(ListRanks(ranked, targets), k).ndcg;
}
double MrrAtK(std::span<const uint32_t> ranked, std::span<const uint32_t> targets, size_t k) {
  return AccuracyFromRanks(ListRanks(ranked, targets), k).mrr;
}
double MapAtK(std::span<const uint32_t> ranked, std::span<const uint32_t> targets, size_t k) {
  return AccuracyFromRanks(ListRanks(ranked, targets), k).map;
}

// ---- beyond accuracy ---------------------------------------------------------

Popularity ComputePopularity(std::span<const rec::Interaction> train, uint32_t num_items) {
  Popularity pop;
  pop.users.assign(num_items, 0);
  std::vector<uint64_t> pairs;  // item << 32 | user
  pairs.reserve(train.size());
  std::vector<uint32_t> users;
  users.reserve(train.size());
  for (const rec::Interaction& x : train) {
    if (x.item < num_items) pairs.push_back((uint64_t{x.item} << 32) | x.user);
    users.push_back(x.user);
  }
  std::sort(pairs.begin(), pairs.end());
  pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
  for (uint64_t p : pairs) pop.users[p >> 32]++;
  std::sort(users.begin(), users.end());
  pop.num_users = static_cast<uint32_t>(std::unique(users.begin(), users.end()) - users.begin());

  // Mid-rank percentile: (#less popular + #equally popular / 2) / num_items.
  pop.percentile.assign(num_items, 0);
  std::vector<uint32_t> order(num_items);
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return pop.users[a] < pop.users[b]; });
  for (size_t a = 0; a < order.size();) {
    size_t b = a;
    while (b < order.size() && pop.users[order[b]] == pop.users[order[a]]) ++b;
    const double pct = (static_cast<double>(a) + static_cast<double>(b - a) / 2) / static_cast<double>(num_items);
    for (size_t j = a; j < b; ++j) pop.percentile[order[j]] = pct;
    a = b;
  }
  return pop;
}

double IntraListDiversity(std::span<const uint32_t> list, std::span<const uint32_t> item_category) {
  uint64_t pairs = 0, differ = 0;
  auto category = [&](uint32_t item) { return item < item_category.size() ? item_category[item] : rec::kNone; };
  for (size_t a = 0; a < list.size(); ++a) {
    const uint32_t ca = category(list[a]);
    if (ca == rec::kNone) continue;
    for (size_t b = a + 1; b < list.size(); ++b) {
      const uint32_t cb = category(list[b]);
      if (cb == rec::kNone) continue;
      ++pairs;
      differ += ca != cb;
    }
  }
  return pairs == 0 ? NaN() : static_cast<double>(differ) / static_cast<double>(pairs);
}

double Novelty(std::span<const uint32_t> list, const Popularity& popularity) {
  if (list.empty() || popularity.num_users == 0) return NaN();
  double sum = 0;
  for (uint32_t i : list) {
    const uint32_t users = i < popularity.users.size() ? std::max<uint32_t>(popularity.users[i], 1) : 1;
    sum -= std::log2(static_cast<double>(users) / static_cast<double>(popularity.num_users));
  }
  return sum / static_cast<double>(list.size());
}

double PopularityBias(std::span<const uint32_t> list, const Popularity& popularity) {
  if (list.empty()) return NaN();
  double sum = 0;
  for (uint32_t i : list) sum += i < popularity.percentile.size() ? popularity.percentile[i] : 0.0;
  return sum / static_cast<double>(list.size());
}

// ---- protocols ---------------------------------------------------------------

Result<Protocol> ParseProtocol(std::string_view text) {
  auto error = [&](const std::string& why) {
    return Status::InvalidArgument("protocol '" + std::string(text) + "': " + why + " (" + kProtocolForms + ")");
  };
  const std::vector<std::string_view> parts = SplitTrimmed(text, ',');
  if (parts.empty()) return error("empty");
  Protocol p;
  const std::string_view head = parts[0];
  const size_t colon = head.find(':');
  const std::string kind = ToLowerAscii(Trim(head.substr(0, colon)));
  if (kind == "full") {
    p.kind = Protocol::kFull;
    if (colon != std::string_view::npos) return error("full takes no count");
  } else if (kind == "sampled" || kind == "popsampled") {
    p.kind = kind == "sampled" ? Protocol::kSampled : Protocol::kPopSampled;
    if (colon != std::string_view::npos) {
      const std::string_view count = head.substr(colon + 1);
      const auto n = ParseInt(count);
      if (!n || *n < 1 || *n > 1'000'000) {
        return error("the number of negatives must be an integer in 1..1000000, got '" + std::string(Trim(count)) +
                     "'");
      }
      p.negatives = static_cast<int>(*n);
    }
  } else {
    return error("unknown kind '" + kind + "'");
  }
  for (size_t i = 1; i < parts.size(); ++i) {
    if (parts[i] == "keep_seen") {
      p.exclude_seen = false;
    } else if (parts[i] == "exclude_seen") {
      p.exclude_seen = true;
    } else {
      return error("unknown option '" + std::string(parts[i]) + "'");
    }
  }
  return p;
}

std::string ProtocolText(const Protocol& protocol) {
  std::string text;
  switch (protocol.kind) {
    case Protocol::kFull:
      text = "full";
      break;
    case Protocol::kSampled:
      text = "sampled:" + std::to_string(protocol.negatives);
      break;
    case Protocol::kPopSampled:
      text = "popsampled:" + std::to_string(protocol.negatives);
      break;
  }
  if (protocol.exclude_seen) text += *protocol.exclude_seen ? ",exclude_seen" : ",keep_seen";
  return text;
}

// ---- negative sampling ---------------------------------------------------------

NegativeSampler::NegativeSampler(uint32_t num_items, std::vector<double> weights)
    : num_items_(num_items), weights_(std::move(weights)) {
  if (weights_.empty()) return;
  weights_.resize(num_items, 0.0);
  cumulative_.resize(num_items);
  double sum = 0;
  for (uint32_t i = 0; i < num_items; ++i) {
    if (!(weights_[i] > 0) || !std::isfinite(weights_[i])) weights_[i] = 0;  // NaN, negative, inf: never drawn
    num_positive_ += weights_[i] > 0;
    sum += weights_[i];
    cumulative_[i] = sum;
  }
}

std::vector<uint32_t> NegativeSampler::Sample(std::span<const uint32_t> exclude, size_t n, std::mt19937_64& rng) const {
  const bool weighted = !weights_.empty();
  std::vector<uint32_t> ex(exclude.begin(), exclude.end());
  std::sort(ex.begin(), ex.end());
  ex.erase(std::unique(ex.begin(), ex.end()), ex.end());
  auto drawable = [&](uint32_t i) { return i < num_items_ && (!weighted || weights_[i] > 0); };
  auto excluded = [&](uint32_t i) { return std::binary_search(ex.begin(), ex.end(), i); };
  uint64_t excluded_drawable = 0;
  for (uint32_t i : ex) excluded_drawable += drawable(i);
  const uint64_t pool = (weighted ? num_positive_ : num_items_) - excluded_drawable;

  std::vector<uint32_t> out;
  if (pool <= n) {  // every eligible item
    for (uint32_t i = 0; i < num_items_; ++i) {
      if (drawable(i) && !excluded(i)) out.push_back(i);
    }
    return out;
  }
  out.reserve(n);
  std::unordered_set<uint32_t> chosen;
  chosen.reserve(2 * n);
  // Rejection sampling is fast while the pool is large next to n and the
  // excluded mass is small; a bounded number of attempts, then an exact
  // fallback over the explicit pool.
  const size_t max_attempts = 32 * n + 1024;
  for (size_t attempt = 0; out.size() < n && attempt < max_attempts; ++attempt) {
    uint32_t i;
    if (weighted) {
      const double u = Unit(rng) * cumulative_.back();
      i = static_cast<uint32_t>(std::upper_bound(cumulative_.begin(), cumulative_.end(), u) - cumulative_.begin());
      if (i >= num_items_ || weights_[i] <= 0) continue;  // rounding at the end of the range
    } else {
      i = static_cast<uint32_t>(Below(rng, num_items_));
    }
    if (excluded(i) || !chosen.insert(i).second) continue;
    out.push_back(i);
  }
  if (out.size() < n) {
    std::vector<uint32_t> rest;
    for (uint32_t i = 0; i < num_items_; ++i) {
      if (drawable(i) && !excluded(i) && !chosen.count(i)) rest.push_back(i);
    }
    const size_t need = n - out.size();
    if (weighted) {
      // Efraimidis-Spirakis: the `need` largest keys log(u) / w.
      std::vector<std::pair<double, uint32_t>> keys;
      keys.reserve(rest.size());
      for (uint32_t i : rest) keys.emplace_back(std::log(std::max(Unit(rng), 1e-300)) / weights_[i], i);
      std::partial_sort(keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(need), keys.end(),
                        [](const auto& a, const auto& b) { return a.first > b.first; });
      for (size_t j = 0; j < need; ++j) out.push_back(keys[j].second);
    } else {
      for (size_t j = 0; j < need; ++j) {
        std::swap(rest[j], rest[j + Below(rng, rest.size() - j)]);
        out.push_back(rest[j]);
      }
    }
  }
  return out;
}

}  // namespace souk::eval
