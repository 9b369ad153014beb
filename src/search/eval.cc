// Offline relevance metrics for search over judged queries.
#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>

#include "search/internal.h"

namespace souk::search {

Result<EvalMetrics> Evaluate(const Index& index, const std::vector<Judgment>& judgments, const QueryOptions& options) {
  QueryOptions qo = options;
  qo.k = std::max<size_t>(qo.k, 100);
  return EvaluateRanker(judgments, [&](const std::string& query) -> Result<std::vector<std::string>> {
    SOUK_ASSIGN_OR_RETURN(SearchResult r, index.Search(query, qo));
    std::vector<std::string> ids;
    ids.reserve(r.hits.size());
    for (const Hit& h : r.hits) ids.push_back(index.ExternalId(h.doc));
    return ids;
  });
}

Result<EvalMetrics> EvaluateRanker(const std::vector<Judgment>& judgments, const Ranker& rank) {
  std::map<std::string, std::unordered_map<std::string, int>> by_query;
  for (const auto& j : judgments) {
    int& g = by_query[j.query][j.item_id];
    g = std::max(g, j.grade);
  }
  EvalMetrics m;
  for (const auto& [query, grades] : by_query) {
    std::vector<int> ideal;
    size_t relevant = 0;
    for (const auto& [item, g] : grades)
      if (g > 0) {
        ideal.push_back(g);
        ++relevant;
      }
    if (relevant == 0) continue;
    SOUK_ASSIGN_OR_RETURN(std::vector<std::string> ranked, rank(query));
    std::sort(ideal.rbegin(), ideal.rend());
    double dcg = 0, idcg = 0, rr = 0;
    size_t found = 0;
    for (size_t i = 0; i < ranked.size() && i < 100; ++i) {
      auto it = grades.find(ranked[i]);
      int g = it == grades.end() ? 0 : it->second;
      if (g > 0) {
        ++found;
        if (rr == 0) rr = 1.0 / (i + 1);
      }
      if (i < 10) dcg += (std::pow(2.0, g) - 1) / std::log2(i + 2.0);
    }
    for (size_t i = 0; i < ideal.size() && i < 10; ++i) idcg += (std::pow(2.0, ideal[i]) - 1) / std::log2(i + 2.0);
    m.ndcg10 += idcg > 0 ? dcg / idcg : 0;
    m.mrr += rr;
    m.recall100 += static_cast<double>(found) / relevant;
    ++m.queries;
  }
  if (m.queries) {
    m.ndcg10 /= m.queries;
    m.mrr /= m.queries;
    m.recall100 /= m.queries;
  }
  return m;
}

}  // namespace souk::search
