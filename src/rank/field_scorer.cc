// BM25 per field, with each field's own document frequencies and lengths.
#include <algorithm>
#include <cmath>

#include "rank/rank.h"
#include "text/text.h"

namespace souk::rank {

namespace {
constexpr float kK1 = 1.2f, kB = 0.75f;
const char* const kFieldNames[FieldScorer::kFields] = {"title", "brand", "category", "tags", "description"};
}  // namespace

struct FieldScorer::Rep {
  std::shared_ptr<const text::Analyzer> analyzer;
  std::unordered_map<std::string, uint32_t> term_ids;
  struct Field {
    std::vector<uint32_t> df;  // by term id
    double avg_len = 0;
  };
  Field fields[kFields];
  // Per item and field: (term id, tf) sorted by term, and the length.
  struct Doc {
    std::vector<std::pair<uint32_t, uint16_t>> terms[kFields];
    uint32_t len[kFields] = {0, 0, 0, 0, 0};
  };
  std::vector<Doc> docs;
  size_t n = 0;
};

FieldScorer::FieldScorer(const std::vector<ItemRow>& items, std::shared_ptr<const text::Analyzer> analyzer)
    : rep_(std::make_unique<Rep>()) {
  Rep& r = *rep_;
  r.analyzer = std::move(analyzer);
  r.docs.resize(items.size());
  double total[kFields] = {0, 0, 0, 0, 0};
  for (size_t i = 0; i < items.size(); ++i) {
    const ItemRow& it = items[i];
    if (!it.known || it.deleted) continue;
    ++r.n;
    std::string tags = it.tags;
    std::replace(tags.begin(), tags.end(), '|', ' ');
    const std::string* text[kFields] = {&it.title, &it.brand, &it.category, &tags, &it.description};
    for (int f = 0; f < kFields; ++f) {
      std::unordered_map<uint32_t, uint16_t> tf;
      uint32_t len = 0;
      for (const std::string& t : r.analyzer->Terms(*text[f])) {
        auto [pos, fresh] = r.term_ids.try_emplace(t, static_cast<uint32_t>(r.term_ids.size()));
        auto& c = tf[pos->second];
        if (c < 65535) ++c;
        ++len;
      }
      auto& v = r.docs[i].terms[f];
      v.assign(tf.begin(), tf.end());
      std::sort(v.begin(), v.end());
      r.docs[i].len[f] = len;
      total[f] += len;
      auto& df = r.fields[f].df;
      for (const auto& [t, c] : v) {
        if (df.size() <= t) df.resize(t + 1, 0);
        ++df[t];
      }
    }
  }
  for (int f = 0; f < kFields; ++f) r.fields[f].avg_len = r.n ? total[f] / static_cast<double>(r.n) : 0;
}

FieldScorer::~FieldScorer() = default;

const char* FieldScorer::FieldName(int f) { return kFieldNames[f]; }

std::vector<std::string> FieldScorer::Terms(std::string_view query) const { return rep_->analyzer->Terms(query); }

void FieldScorer::Score(const std::vector<std::string>& terms, ItemId item, float* out) const {
  const Rep& r = *rep_;
  for (int f = 0; f < kFields; ++f) out[f] = 0;
  if (item >= r.docs.size()) return;
  const Rep::Doc& d = r.docs[item];
  for (const std::string& t : terms) {
    const auto id = r.term_ids.find(t);
    if (id == r.term_ids.end()) continue;
    for (int f = 0; f < kFields; ++f) {
      const auto& v = d.terms[f];
      const auto it = std::lower_bound(v.begin(), v.end(), std::make_pair(id->second, uint16_t{0}));
      if (it == v.end() || it->first != id->second) continue;
      const double df = id->second < r.fields[f].df.size() ? r.fields[f].df[id->second] : 0;
      const double idf = std::log(1.0 + (static_cast<double>(r.n) - df + 0.5) / (df + 0.5));
      const double tf = it->second;
      const double norm = 1 - kB + kB * (r.fields[f].avg_len > 0 ? d.len[f] / r.fields[f].avg_len : 1.0);
      out[f] += static_cast<float>(idf * tf * (kK1 + 1) / (tf + kK1 * norm));
    }
  }
}

}  // namespace souk::rank
