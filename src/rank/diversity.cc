// MMR re-ranking with a multi-objective value (relevance, revenue, novelty).
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "rank/rank.h"

namespace souk::rank {

std::vector<ItemId> Diversify(std::span<const float> scores, std::span<const uint32_t> category,
                              std::span<const float> price, std::span<const float> popularity, size_t k,
                              const DiversityOptions& o) {
  // The candidates: the best `depth` finite scores.
  std::vector<ItemId> cand;
  for (size_t i = 0; i < scores.size(); ++i)
    if (std::isfinite(scores[i])) cand.push_back(static_cast<ItemId>(i));
  const size_t depth = std::min(cand.size(), std::max(o.depth, k));
  auto better = [&](ItemId a, ItemId b) { return scores[a] != scores[b] ? scores[a] > scores[b] : a < b; };
  std::partial_sort(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(depth), cand.end(), better);
  cand.resize(depth);
  if (cand.empty()) return {};
  const double hi = scores[cand.front()], lo = scores[cand.back()];
  double max_price = 0, max_pop = 0;
  for (ItemId i : cand) {
    if (i < price.size() && std::isfinite(price[i])) max_price = std::max(max_price, static_cast<double>(price[i]));
    if (i < popularity.size()) max_pop = std::max(max_pop, static_cast<double>(popularity[i]));
  }
  std::vector<double> value(cand.size());
  for (size_t c = 0; c < cand.size(); ++c) {
    const ItemId i = cand[c];
    const double rel = hi > lo ? (scores[i] - lo) / (hi - lo) : 1.0;
    const double rev = max_price > 0 && i < price.size() && std::isfinite(price[i]) ? price[i] / max_price : 0.0;
    const double nov =
        max_pop > 0 && i < popularity.size() ? 1.0 - std::log1p(popularity[i]) / std::log1p(max_pop) : 1.0;
    value[c] = o.w_relevance * rel + o.w_revenue * rev + o.w_novelty * nov;
  }
  const auto cat = [&](ItemId i) { return i < category.size() ? category[i] : kNoId; };
  std::vector<ItemId> out;
  std::vector<uint8_t> used(cand.size(), 0);
  std::vector<uint32_t> picked_cats;
  while (out.size() < std::min(k, cand.size())) {
    size_t best = cand.size();
    double best_v = -std::numeric_limits<double>::infinity();
    for (size_t c = 0; c < cand.size(); ++c) {
      if (used[c]) continue;
      const uint32_t ci = cat(cand[c]);
      const double sim = ci == kNoId ? 0.0 : static_cast<double>(std::count(picked_cats.begin(), picked_cats.end(), ci));
      const double v = (1 - o.lambda) * value[c] - o.lambda * sim;
      if (v > best_v + 1e-12) best_v = v, best = c;  // earlier candidates (better relevance) win ties
    }
    used[best] = 1;
    out.push_back(cand[best]);
    picked_cats.push_back(cat(cand[best]));
  }
  return out;
}

}  // namespace souk::rank
