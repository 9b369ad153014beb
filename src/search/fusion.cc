// Hybrid search: fusing a lexical and a vector result list.
#include <algorithm>
#include <unordered_map>

#include "search/search.h"

namespace souk::search {
namespace {

std::vector<Hit> Best(const std::unordered_map<uint32_t, double>& scores, size_t k) {
  std::vector<Hit> out;
  out.reserve(scores.size());
  for (const auto& [doc, s] : scores) out.push_back({doc, static_cast<float>(s)});
  auto better = [](const Hit& a, const Hit& b) { return a.score != b.score ? a.score > b.score : a.doc < b.doc; };
  if (out.size() > k) {
    std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(k), out.end(), better);
    out.resize(k);
  } else {
    std::sort(out.begin(), out.end(), better);
  }
  return out;
}

}  // namespace

std::vector<Hit> FuseRrf(const std::vector<std::vector<Hit>>& lists, size_t k, double rrf_k) {
  std::unordered_map<uint32_t, double> scores;
  for (const auto& list : lists)
    for (size_t r = 0; r < list.size(); ++r) scores[list[r].doc] += 1.0 / (rrf_k + static_cast<double>(r + 1));
  return Best(scores, k);
}

std::vector<Hit> FuseBlend(const std::vector<Hit>& a, const std::vector<Hit>& b, double weight, size_t k) {
  std::unordered_map<uint32_t, double> scores;
  auto add = [&](const std::vector<Hit>& list, double w) {
    if (list.empty()) return;
    float lo = list[0].score, hi = list[0].score;
    for (const Hit& h : list) lo = std::min(lo, h.score), hi = std::max(hi, h.score);
    for (const Hit& h : list) {
      const double norm = hi > lo ? (h.score - lo) / static_cast<double>(hi - lo) : 1.0;
      scores[h.doc] += w * norm;
    }
  };
  add(a, 1 - weight);
  add(b, weight);
  return Best(scores, k);
}

}  // namespace souk::search
