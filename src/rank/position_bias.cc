// EM for the position-based click model: examination by position, relevance
// by (query, item) pair.
#include <algorithm>
#include <unordered_map>

#include "rank/rank.h"

namespace souk::rank {

double PositionBias::Weight(int position, double max_weight) const {
  if (theta.empty() || position < 1) return 1.0;
  const double t = theta[std::min<size_t>(static_cast<size_t>(position), theta.size()) - 1];
  return t > 0 ? std::clamp(1.0 / t, 1.0, max_weight) : max_weight;
}

PositionBias EstimatePositionBias(const std::vector<PositionObservation>& obs, int max_positions, int iterations) {
  PositionBias out;
  out.observations = obs.size();
  for (const auto& o : obs) out.clicks += o.click;
  if (out.clicks == 0 || max_positions < 1) return out;
  const size_t K = static_cast<size_t>(max_positions);
  auto slot = [&](int position) { return std::min<size_t>(static_cast<size_t>(std::max(position, 1)), K) - 1; };
  // Only pairs shown at two or more positions say anything about
  // examination: a pair seen at one position fits any theta by its own
  // gamma, and many such pairs (seen once, clicked) pull theta flat.
  std::unordered_map<uint64_t, std::pair<int, bool>> where;  // pair -> (first position, seen elsewhere)
  for (const auto& o : obs) {
    auto [it, fresh] = where.try_emplace(o.pair, o.position, false);
    if (!fresh && it->second.first != o.position) it->second.second = true;
  }
  std::vector<const PositionObservation*> used;
  for (const auto& o : obs)
    if (where[o.pair].second) used.push_back(&o);
  size_t used_clicks = 0;
  for (const auto* o : used) used_clicks += o->click;
  if (used_clicks == 0) {  // no pair moved: the whole log, for what it is worth
    used.clear();
    for (const auto& o : obs) used.push_back(&o);
  }
  // Dense ids for the pairs.
  std::unordered_map<uint64_t, uint32_t> ids;
  std::vector<uint32_t> pair(used.size());
  for (size_t i = 0; i < used.size(); ++i)
    pair[i] = ids.try_emplace(used[i]->pair, static_cast<uint32_t>(ids.size())).first->second;
  std::vector<double> theta(K, 0.5), gamma(ids.size(), 0.5);
  std::vector<double> t_num(K), t_den(K), g_num(ids.size()), g_den(ids.size());
  for (int it = 0; it < iterations; ++it) {
    std::fill(t_num.begin(), t_num.end(), 0.0);
    std::fill(t_den.begin(), t_den.end(), 0.0);
    std::fill(g_num.begin(), g_num.end(), 0.0);
    std::fill(g_den.begin(), g_den.end(), 0.0);
    for (size_t i = 0; i < used.size(); ++i) {
      const PositionObservation& o = *used[i];
      const size_t k = slot(o.position);
      const uint32_t p = pair[i];
      const double t = theta[k], g = gamma[p];
      double examined, relevant;  // posterior P(E = 1), P(R = 1) given the click or its absence
      if (o.click) {
        examined = relevant = 1.0;
      } else {
        const double denom = std::max(1e-12, 1.0 - t * g);
        examined = t * (1.0 - g) / denom;
        relevant = (1.0 - t) * g / denom;
      }
      t_num[k] += examined, t_den[k] += 1;
      g_num[p] += relevant, g_den[p] += 1;
    }
    for (size_t k = 0; k < K; ++k)
      if (t_den[k] > 0) theta[k] = std::clamp(t_num[k] / t_den[k], 1e-6, 1.0);
    for (size_t p = 0; p < gamma.size(); ++p)
      if (g_den[p] > 0) gamma[p] = std::clamp(g_num[p] / g_den[p], 1e-6, 1.0 - 1e-6);
  }
  // Positions never observed take the nearest observed one above them.
  for (size_t k = 1; k < K; ++k)
    if (t_den[k] == 0) theta[k] = theta[k - 1];
  const double top = theta[0] > 0 ? theta[0] : 1.0;
  out.theta.resize(K);
  for (size_t k = 0; k < K; ++k) out.theta[k] = std::min(1.0, theta[k] / top);
  return out;
}

}  // namespace souk::rank
