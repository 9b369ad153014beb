// Query evaluation: analysis, then top-k by MaxScore (OR) or by intersection
// (AND), both document-at-a-time over block-skipping cursors.
#include <algorithm>
#include <cmath>
#include <queue>

#include <fmt/format.h>

#include "search/internal.h"

namespace souk::search {
namespace {

// Keeps the k best (score desc, doc asc for equal scores).
class TopK {
 public:
  explicit TopK(size_t k) : k_(k) {}
  float threshold() const { return heap_.size() < k_ ? 0.0f : heap_.front().score; }
  bool full() const { return heap_.size() >= k_; }
  void Push(uint32_t doc, float score) {
    if (k_ == 0) return;
    if (heap_.size() < k_) {
      heap_.push_back({doc, score});
      std::push_heap(heap_.begin(), heap_.end(), Worse);
    } else if (Worse(Hit{doc, score}, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), Worse);
      heap_.back() = {doc, score};
      std::push_heap(heap_.begin(), heap_.end(), Worse);
    }
  }
  std::vector<Hit> Sorted() {
    std::sort(heap_.begin(), heap_.end(), Worse);
    return std::move(heap_);
  }

 private:
  // "a ranks before b": higher score, then lower doc id.
  static bool Worse(const Hit& a, const Hit& b) { return a.score > b.score || (a.score == b.score && a.doc < b.doc); }
  size_t k_;
  std::vector<Hit> heap_;  // a heap whose front is the worst kept hit
};

float Idf(uint64_t n, uint32_t df) {
  return static_cast<float>(std::log(1.0 + (static_cast<double>(n) - df + 0.5) / (df + 0.5)));
}

// OR over the cursors, MaxScore style: cursors sorted by max score; the
// lowest ones whose bounds sum below the threshold are "non-essential" and are
// only probed for candidates found by the essential ones.
void TopKAny(std::vector<Cursor>& cs, TopK* top, uint64_t* scored) {
  std::sort(cs.begin(), cs.end(), [](const Cursor& a, const Cursor& b) { return a.max_score() < b.max_score(); });
  const size_t n = cs.size();
  std::vector<float> prefix(n + 1, 0);  // prefix[i] = sum of max scores of cs[0..i)
  for (size_t i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + cs[i].max_score();
  size_t first_essential = 0;
  for (;;) {
    float theta = top->threshold();
    while (first_essential < n && prefix[first_essential + 1] <= theta && top->full()) ++first_essential;
    if (first_essential >= n) break;
    uint32_t doc = kEnd;
    for (size_t i = first_essential; i < n; ++i) doc = std::min(doc, cs[i].doc());
    if (doc == kEnd) break;
    float score = 0;
    for (size_t i = first_essential; i < n; ++i) {
      if (cs[i].doc() == doc) {
        score += cs[i].score();
        cs[i].Next();
      }
    }
    // Probe non-essential lists from the strongest down while it can matter.
    for (size_t i = first_essential; i-- > 0;) {
      if (top->full() && score + prefix[i + 1] <= theta) break;
      if (top->full() && score + cs[i].BlockMaxScore(doc) + prefix[i] <= theta) continue;
      cs[i].NextGEQ(doc);
      if (cs[i].doc() == doc) score += cs[i].score();
    }
    ++*scored;
    top->Push(doc, score);
  }
}

// AND: drive by the shortest list, seek the others. `optional` lists (the
// joined forms of compounds) add to the score of a match but are not required.
void TopKAll(std::vector<Cursor>& cs, std::vector<Cursor>& optional, TopK* top, uint64_t* found) {
  std::sort(cs.begin(), cs.end(), [](const Cursor& a, const Cursor& b) { return a.df() < b.df(); });
  Cursor& lead = cs[0];
  while (lead.doc() != kEnd) {
    uint32_t doc = lead.doc();
    bool all = true;
    for (size_t i = 1; i < cs.size(); ++i) {
      cs[i].NextGEQ(doc);
      if (cs[i].doc() != doc) {
        all = false;
        if (cs[i].doc() == kEnd) return;
        lead.NextGEQ(cs[i].doc());
        break;
      }
    }
    if (!all) continue;
    float score = 0;
    for (auto& c : cs) score += c.score();
    for (auto& c : optional) {
      c.NextGEQ(doc);
      if (c.doc() == doc) score += c.score();
    }
    ++*found;
    top->Push(doc, score);
    lead.Next();
  }
}

}  // namespace

Result<SearchResult> Index::Search(std::string_view query, const QueryOptions& options) const {
  const Rep& r = *rep_;
  SearchResult result;
  std::vector<text::Token> tokens;
  r.analyzer->Analyze(query, &tokens);
  // A compound's joined form (usbc of USB-C, 运动鞋) shares its position with
  // its parts. Matching requires the parts, so "usb-c" also finds "usb c";
  // the joined forms only add to the score of documents that have them.
  std::vector<std::string> wholes;
  for (auto& t : tokens) {
    auto& list = t.kind == text::TokenKind::kWhole ? wholes : result.terms;
    if (std::find(list.begin(), list.end(), t.term) == list.end()) list.push_back(t.term);
  }
  if (result.terms.size() + wholes.size() > options.max_terms)
    return Status::InvalidArgument(fmt::format("the query has {} distinct terms; at most {} are allowed",
                                               result.terms.size() + wholes.size(), options.max_terms));
  if (result.terms.empty()) return result;
  auto open = [&](const std::vector<std::string>& terms, std::vector<Cursor>* out) {
    bool missing = false;
    out->clear();
    for (const auto& term : terms) {
      const TermInfo* info = r.Find(term);
      if (!info || info->df == 0) {
        missing = true;
        continue;
      }
      out->emplace_back();
      out->back().Init(&r, info, Idf(r.num_docs, info->df));
    }
    return missing;
  };
  std::vector<Cursor> cursors, optional;
  bool missing = open(result.terms, &cursors);
  open(wholes, &optional);
  if (cursors.empty()) return result;
  std::vector<Hit> all_hits;
  if (options.match == Match::kAll && !missing) {
    TopK top(options.k);
    TopKAll(cursors, optional, &top, &result.found);
    all_hits = top.Sorted();
    if (all_hits.size() >= options.k || cursors.size() == 1) {
      result.hits = std::move(all_hits);
      return result;
    }
  }
  // Too few documents have every word (or --exact): any-word matching, ranked
  // by BM25F, which puts documents with more of the words first. Documents
  // that had every word stay on top.
  if (options.match == Match::kAll) result.relaxed = true;
  std::vector<std::string> terms = result.terms;
  terms.insert(terms.end(), wholes.begin(), wholes.end());
  open(options.match == Match::kAll ? terms : result.terms, &cursors);
  TopK any(options.k + all_hits.size());
  uint64_t scored = 0;
  TopKAny(cursors, &any, &scored);
  result.found = std::max<uint64_t>(result.found, scored);
  result.hits = std::move(all_hits);
  for (const Hit& h : any.Sorted()) {
    if (result.hits.size() >= options.k) break;
    bool seen = false;
    for (size_t i = 0; i < result.hits.size() && !seen; ++i) seen = result.hits[i].doc == h.doc;
    if (!seen) result.hits.push_back(h);
  }
  return result;
}

}  // namespace souk::search
