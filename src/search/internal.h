// Internal layout of the search index, shared by index.cc and query.cc.
#pragma once

#include <array>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "search/search.h"

namespace souk::search {

inline constexpr size_t kBlockSize = 128;
inline constexpr size_t kMaxFields = 8;
inline constexpr uint32_t kEnd = std::numeric_limits<uint32_t>::max();
inline constexpr uint8_t kNoPos = 255;  // the term is not in the title (or past position 254)

struct TermInfo {
  uint32_t df = 0;
  uint32_t first_block = 0;
  uint32_t num_blocks = 0;
  float max_impact = 0;  // largest tf'/(k1+tf') in the list
};

struct BlockMeta {
  uint64_t offset = 0;          // varint doc deltas in postings
  uint64_t impacts_offset = 0;  // first impact in impacts_pool
  uint32_t last_doc = 0;
  uint32_t count = 0;
  float max_impact = 0;
  uint32_t pad = 0;
};

struct Index::Rep {
  Rep(const IndexOptions& options, std::shared_ptr<const text::Dictionary> dict);
  const TermInfo* Find(std::string_view term) const;
  void EncodeTerm(const std::vector<uint32_t>& docs, const std::vector<float>& impacts,
                  const std::vector<uint8_t>& title_pos, TermInfo* info);

  IndexOptions options;
  std::shared_ptr<const text::Dictionary> dict;
  std::unique_ptr<text::Analyzer> analyzer;
  uint64_t num_docs = 0;
  uint32_t max_doc = 0;
  std::array<float, kMaxFields> avg_len{};
  std::vector<std::string> terms;   // sorted
  std::vector<TermInfo> term_info;  // parallel to terms
  std::vector<BlockMeta> blocks;
  std::vector<uint8_t> postings;
  std::vector<float> impacts_pool;
  std::vector<uint8_t> title_pos_pool;  // parallel to impacts_pool: first title position, kNoPos if none
  std::unordered_map<std::string, std::vector<std::string>> synonyms;  // term -> other terms
  // Multi-word synonym entries: their words, and the single words that may stand for them.
  std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> phrase_synonyms;
  std::vector<std::pair<std::string, std::string>> surfaces;  // sorted: unstemmed word -> stem
  // Attributes by doc id (arrays of max_doc); string values are indexes into
  // the value tables, whose entry 0 is "" (none).
  std::vector<float> attr_price;    // NaN = none
  std::vector<int32_t> attr_stock;  // -1 = unknown
  std::vector<uint32_t> attr_brand, attr_category;
  std::vector<uint32_t> tag_offsets;  // max_doc + 1 offsets into attr_tags
  std::vector<uint32_t> attr_tags;
  std::vector<std::string> brands, categories, tags;                 // display values
  std::vector<std::string> brands_norm, categories_norm, tags_norm;  // normalised for filters
  std::vector<uint8_t> present;  // 1 per id that is a document; empty when ids are dense
  void SetAttributes(const std::vector<Document>& docs);
  // 1 for documents that pass the filter.
  std::vector<uint8_t> FilterBitmap(const struct FilterNode& node) const;
  std::vector<std::pair<std::string, uint64_t>> popular;  // normalised query -> count, sorted by text
  std::vector<float> popularity;                          // by doc id; empty = none
  float max_popularity = 0;
  // Incremental updates (Index::Update): a small delta segment, rebuilt on
  // each update, scored with this segment's statistics (`base` in the
  // delta); main-segment documents replaced or removed are in `deleted`.
  const Rep* base = nullptr;
  float TermIdf(std::string_view term, const TermInfo* info) const;
  std::unique_ptr<Index> delta;
  std::map<uint32_t, Document> delta_docs;
  std::vector<uint8_t> deleted;
  size_t num_deleted = 0;
  int64_t catalog_ms = 0;
  std::vector<uint32_t> doc_ids;          // sorted
  std::vector<std::string> external_ids;  // parallel to doc_ids
};

// Value normalisation shared by indexed attributes and filter values:
// NFKC, case and accent folding, trimmed, category components joined by " > ".
std::string NormalizeValue(std::string_view v);
std::string NormalizeCategory(std::string_view v);

// Iterates one posting list in doc order, decoding a block at a time.
class Cursor {
 public:
  void Init(const Index::Rep* rep, const TermInfo* info, float idf);
  uint32_t doc() const { return doc_; }
  float score() const { return idf_ * impacts_[pos_]; }
  uint8_t title_pos() const { return title_pos_[pos_]; }
  int query_index = 0;  // which query word this list serves (for proximity)
  float max_score() const { return idf_ * info_->max_impact; }
  // Upper bound of the score of any doc >= target in this list's block holding target.
  float BlockMaxScore(uint32_t target) const;
  void Next();
  void NextGEQ(uint32_t target);
  uint32_t df() const { return info_->df; }

 private:
  void LoadBlock();
  const Index::Rep* rep_ = nullptr;
  const TermInfo* info_ = nullptr;
  float idf_ = 0;
  uint32_t block_ = 0, pos_ = 0, n_ = 0;
  uint32_t doc_ = kEnd;
  const float* impacts_ = nullptr;
  const uint8_t* title_pos_ = nullptr;
  uint32_t docs_[kBlockSize];
};

// One query word: the alternatives that may match it (the word itself, its
// synonyms, typo corrections), each with a weight. The document's score for
// the word is the best weighted alternative present.
class GroupCursor {
 public:
  void Add(const Index::Rep* rep, const TermInfo* info, float idf, float weight) {
    alts_.emplace_back();
    alts_.back().Init(rep, info, idf);
    weights_.push_back(weight);
    df_ += info->df;
  }
  bool empty() const { return alts_.empty(); }
  uint32_t doc() const {
    uint32_t d = kEnd;
    for (const auto& c : alts_) d = std::min(d, c.doc());
    return d;
  }
  float score() const {
    uint32_t d = doc();
    float s = 0;
    for (size_t i = 0; i < alts_.size(); ++i)
      if (alts_[i].doc() == d) s = std::max(s, weights_[i] * alts_[i].score());
    return s;
  }
  float max_score() const {
    float s = 0;
    for (size_t i = 0; i < alts_.size(); ++i) s = std::max(s, weights_[i] * alts_[i].max_score());
    return s;
  }
  uint8_t title_pos() const {
    uint32_t d = doc();
    uint8_t p = kNoPos;
    for (const auto& c : alts_)
      if (c.doc() == d) p = std::min(p, c.title_pos());
    return p;
  }
  int query_index = 0;
  float BlockMaxScore(uint32_t target) const {
    float s = 0;
    for (size_t i = 0; i < alts_.size(); ++i) s = std::max(s, weights_[i] * alts_[i].BlockMaxScore(target));
    return s;
  }
  void Next() {
    uint32_t d = doc();
    for (auto& c : alts_)
      if (c.doc() == d) c.Next();
  }
  void NextGEQ(uint32_t target) {
    for (auto& c : alts_) c.NextGEQ(target);
  }
  uint32_t df() const { return df_; }

 private:
  std::vector<Cursor> alts_;
  std::vector<float> weights_;
  uint32_t df_ = 0;
};

}  // namespace souk::search
