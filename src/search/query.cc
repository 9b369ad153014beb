// Query evaluation: analysis, then top-k by MaxScore (OR) or by intersection
// (AND), both document-at-a-time over block-skipping cursors.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <queue>
#include <unordered_map>

#include "core/core.h"
#include "search/filter.h"
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

}  // namespace

float Idf(uint64_t n, uint32_t df) {
  return static_cast<float>(std::log(1.0 + (static_cast<double>(n) - df + 0.5) / (df + 0.5)));
}

// A delta segment scores with the statistics of main + delta, so its scores
// compare with the main segment's.
float Index::Rep::TermIdf(std::string_view term, const TermInfo* info) const {
  if (!base) {
    if (!delta) return Idf(num_docs, info->df);
    const Rep& d = *delta->rep_;  // main and delta share one set of statistics
    const TermInfo* di = d.Find(term);
    return Idf(num_docs + d.num_docs, info->df + (di ? di->df : 0));
  }
  const TermInfo* b = base->Find(term);
  return Idf(base->num_docs + num_docs, info->df + (b ? b->df : 0));
}

namespace {

// OR over the cursors, MaxScore style: cursors sorted by max score; the
// lowest ones whose bounds sum below the threshold are "non-essential" and are
// only probed for candidates found by the essential ones.
template <typename C>
void TopKAny(std::vector<C>& cs, TopK* top, uint64_t* scored, const uint8_t* allowed) {
  std::sort(cs.begin(), cs.end(), [](const C& a, const C& b) { return a.max_score() < b.max_score(); });
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
    if (allowed && !allowed[doc]) {
      for (size_t i = first_essential; i < n; ++i)
        if (cs[i].doc() == doc) cs[i].Next();
      continue;
    }
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
// The phrase/proximity factor of a document all cursors are on.
template <typename C>
float ProximityFactor(const std::vector<C>& cs, float phrase_boost, float proximity_boost) {
  if (cs.size() < 2) return 1.0f;
  std::pair<int, int> qp[64];
  size_t n = std::min<size_t>(cs.size(), 64);
  for (size_t i = 0; i < n; ++i) {
    uint8_t p = cs[i].title_pos();
    if (p == kNoPos) return 1.0f;
    qp[i] = {cs[i].query_index, p};
  }
  std::sort(qp, qp + n);
  bool phrase = true;
  int lo = qp[0].second, hi = qp[0].second;
  for (size_t i = 1; i < n; ++i) {
    phrase &= qp[i].second == qp[i - 1].second + 1;
    lo = std::min(lo, qp[i].second);
    hi = std::max(hi, qp[i].second);
  }
  if (phrase) return 1.0f + phrase_boost;
  int span = hi - lo + 1;
  if (span < 2) return 1.0f;  // words sharing a position (a compound)
  return 1.0f + proximity_boost * static_cast<float>(n - 1) / static_cast<float>(span - 1);
}

template <typename C>
void TopKAll(std::vector<C>& cs, std::vector<Cursor>& optional, TopK* top, uint64_t* found, const uint8_t* allowed,
             float phrase_boost, float proximity_boost) {
  std::sort(cs.begin(), cs.end(), [](const C& a, const C& b) { return a.df() < b.df(); });
  C& lead = cs[0];
  while (lead.doc() != kEnd) {
    uint32_t doc = lead.doc();
    if (allowed && !allowed[doc]) {
      lead.Next();
      continue;
    }
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
    score *= ProximityFactor(cs, phrase_boost, proximity_boost);
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

void Index::SetSynonyms(const std::vector<std::vector<std::string>>& groups) {
  Rep& r = *rep_;
  r.synonyms.clear();
  r.phrase_synonyms.clear();
  std::vector<text::Token> tokens;
  auto df = [&](const std::string& t) {
    const TermInfo* i = r.Find(t);
    return i ? i->df : 0u;
  };
  // The word of a multi-word entry that stands for it as a single
  // alternative: its rarest word in the catalog (the most telling).
  auto rarest = [&](const std::vector<std::string>& words) {
    const std::string* best = &words[0];
    for (const auto& w : words)
      if (df(w) && (!df(*best) || df(w) < df(*best))) best = &w;
    return *best;
  };
  auto add = [](std::vector<std::string>* list, const std::string& w) {
    if (std::find(list->begin(), list->end(), w) == list->end()) list->push_back(w);
  };
  for (const auto& group : groups) {
    std::vector<std::vector<std::string>> entries;
    for (const auto& entry : group) {
      tokens.clear();
      r.analyzer->Analyze(entry, &tokens);
      std::vector<std::string> words;
      for (const auto& t : tokens)
        if (t.kind != text::TokenKind::kWhole && std::find(words.begin(), words.end(), t.term) == words.end())
          words.push_back(t.term);
      if (!words.empty()) entries.push_back(std::move(words));
    }
    for (size_t a = 0; a < entries.size(); ++a) {
      // What the other entries offer as single-word alternatives.
      std::vector<std::string> alts;
      for (size_t b = 0; b < entries.size(); ++b)
        if (b != a) add(&alts, entries[b].size() == 1 ? entries[b][0] : rarest(entries[b]));
      if (entries[a].size() == 1) {
        for (const auto& w : alts)
          if (w != entries[a][0]) add(&r.synonyms[entries[a][0]], w);
      } else {
        r.phrase_synonyms.emplace_back(entries[a], alts);
      }
    }
  }
  if (r.delta) {
    r.delta->rep_->synonyms = r.synonyms;
    r.delta->rep_->phrase_synonyms = r.phrase_synonyms;
  }
}

void Index::SetPopularQueries(const std::vector<std::pair<std::string, uint64_t>>& queries) {
  std::unordered_map<std::string, uint64_t> merged;
  for (const auto& [q, n] : queries) {
    std::string norm = NormalizeValue(q);
    if (!norm.empty()) merged[norm] += n;
  }
  rep_->popular.assign(merged.begin(), merged.end());
  std::sort(rep_->popular.begin(), rep_->popular.end());
}

namespace {

// Index terms (and stems of seen spellings) that start with `prefix`, most
// common first, at most `limit`.
std::vector<std::string> PrefixTerms(const Index::Rep& r, const std::string& prefix, size_t limit) {
  std::vector<std::pair<uint32_t, std::string>> found;
  auto add = [&](const std::string& term) {
    const TermInfo* info = r.Find(term);
    if (!info || !info->df) return;
    for (const auto& f : found)
      if (f.second == term) return;
    found.emplace_back(info->df, term);
  };
  auto t = std::lower_bound(r.terms.begin(), r.terms.end(), prefix);
  for (size_t n = 0; t != r.terms.end() && t->compare(0, prefix.size(), prefix) == 0 && n < 2000; ++t, ++n) add(*t);
  auto s = std::lower_bound(r.surfaces.begin(), r.surfaces.end(), std::make_pair(prefix, std::string()));
  for (size_t n = 0; s != r.surfaces.end() && s->first.compare(0, prefix.size(), prefix) == 0 && n < 2000; ++s, ++n)
    add(s->second);
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  std::vector<std::string> out;
  for (size_t i = 0; i < found.size() && i < limit; ++i) out.push_back(found[i].second);
  return out;
}

}  // namespace

std::vector<Index::Suggestion> Index::Suggest(std::string_view prefix, size_t k) const {
  const Rep& r = *rep_;
  std::vector<Suggestion> out;
  std::string norm = NormalizeValue(prefix);
  if (k == 0) return out;
  if (norm.empty()) {  // nothing typed yet: the most popular searches
    std::vector<std::pair<uint64_t, const std::string*>> all;
    for (const auto& [q, n] : r.popular) all.emplace_back(n, &q);
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : *a.second < *b.second;
    });
    for (size_t i = 0; i < all.size() && i < k; ++i) out.push_back({*all[i].second, all[i].first});
    return out;
  }
  // Past searches that start with the prefix, most searched first.
  std::vector<std::pair<uint64_t, const std::string*>> hits;
  auto it = std::lower_bound(r.popular.begin(), r.popular.end(), std::make_pair(norm, uint64_t{0}));
  for (size_t n = 0; it != r.popular.end() && it->first.compare(0, norm.size(), norm) == 0 && n < 100000; ++it, ++n)
    hits.emplace_back(it->second, &it->first);
  std::sort(hits.begin(), hits.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : *a.second < *b.second;
  });
  for (size_t i = 0; i < hits.size() && out.size() < k; ++i) out.push_back({*hits[i].second, hits[i].first});
  // Then words of the catalog that complete the last word.
  if (out.size() < k) {
    size_t sp = norm.rfind(' ');
    std::string head = sp == std::string::npos ? "" : norm.substr(0, sp + 1);
    std::string last = sp == std::string::npos ? norm : norm.substr(sp + 1);
    if (!last.empty()) {
      // Show spellings people type: a seen surface form when one maps to the term.
      std::vector<std::pair<uint32_t, std::string>> words;
      auto s = std::lower_bound(r.surfaces.begin(), r.surfaces.end(), std::make_pair(last, std::string()));
      std::vector<std::string> covered;  // stems already shown through a spelling
      for (size_t n = 0; s != r.surfaces.end() && s->first.compare(0, last.size(), last) == 0 && n < 5000; ++s, ++n)
        if (const TermInfo* info = r.Find(s->second)) {
          words.emplace_back(info->df, s->first);
          covered.push_back(s->second);
        }
      auto t = std::lower_bound(r.terms.begin(), r.terms.end(), last);
      for (size_t n = 0; t != r.terms.end() && t->compare(0, last.size(), last) == 0 && n < 5000; ++t, ++n)
        if (std::find(covered.begin(), covered.end(), *t) == covered.end())
          words.emplace_back(r.term_info[t - r.terms.begin()].df, *t);
      std::sort(words.begin(), words.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
      });
      for (const auto& [df, w] : words) {
        if (out.size() >= k) break;
        std::string text = head + w;
        bool dup = false;
        for (const auto& o : out) dup |= o.text == text;
        if (!dup) out.push_back({text, 0});
      }
    }
  }
  return out;
}

std::string Index::Highlight(std::string_view query, std::string_view text, std::string_view pre, std::string_view post,
                             size_t max_bytes) const {
  const Rep& r = *rep_;
  std::vector<text::Token> q, t;
  r.analyzer->Analyze(query, &q);
  std::vector<std::string> words;
  for (const auto& tok : q) words.push_back(tok.term);
  auto syn = [&](const std::string& w) {
    auto it = r.synonyms.find(w);
    if (it != r.synonyms.end()) words.insert(words.end(), it->second.begin(), it->second.end());
  };
  for (size_t i = 0, n = words.size(); i < n; ++i) syn(words[i]);
  r.analyzer->Analyze(text, &t);
  // Byte ranges to mark, merged when they overlap (a compound and its parts).
  std::vector<std::pair<uint32_t, uint32_t>> marks;
  for (const auto& tok : t)
    if (std::find(words.begin(), words.end(), tok.term) != words.end() && tok.end <= text.size()) {
      if (!marks.empty() && tok.start < marks.back().second)
        marks.back().second = std::max(marks.back().second, tok.end);
      else
        marks.emplace_back(tok.start, tok.end);
    }
  size_t begin = 0, end = text.size();
  if (text.size() > max_bytes) {
    size_t first = marks.empty() ? 0 : marks[0].first;
    begin = first > max_bytes / 4 ? first - max_bytes / 4 : 0;
    end = std::min(text.size(), begin + max_bytes);
    auto boundary = [&](size_t i) {  // back to a character start and a space when near
      while (i > 0 && i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) --i;
      return i;
    };
    begin = boundary(begin);
    end = boundary(end);
    for (size_t k = 0; k < 20 && begin > 0 && begin < end && text[begin - 1] != ' '; ++k) ++begin;
    begin = boundary(begin);
  }
  std::string out;
  if (begin > 0) out += "\u2026";
  size_t at = begin;
  for (const auto& [mb, me] : marks) {
    if (me <= begin || mb >= end) continue;
    size_t b = std::max<size_t>(mb, begin), e = std::min<size_t>(me, end);
    out.append(text.substr(at, b - at));
    out.append(pre);
    out.append(text.substr(b, e - b));
    out.append(post);
    at = e;
  }
  out.append(text.substr(at, end - at));
  if (end < text.size()) out += "\u2026";
  return out;
}

namespace {

size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// Index terms within the allowed edit distance of a word the index lacks:
// 1 edit from 4 characters, 2 from 8; never for words with digits. The typed
// word is compared with the index's terms and with the unstemmed spellings it
// saw (so "runnign" reaches "running" and through it the term "run").
struct TypoCandidate {
  int distance;
  std::string term;      // the index term
  std::string spelling;  // the closest spelling of it seen in the catalog
};

// Calls visit(i, distance) for every string keys[i] (sorted) within max_d
// edits (insertions, deletions, substitutions, adjacent transpositions: the
// optimal string alignment distance, on bytes) of `word`. The sorted list is
// walked as an implicit trie: the edit-distance rows of a shared prefix are
// computed once, and when every cell of a prefix's row exceeds max_d, all
// keys with that prefix are skipped with one binary search — a Levenshtein
// automaton over the vocabulary, without building one.
template <typename Key, typename Visit>
void FuzzyWalk(const std::vector<Key>& keys, const std::string& (*key_of)(const Key&), std::string_view word, int max_d,
               Visit visit) {
  const size_t m = word.size();
  std::vector<std::vector<int>> rows(1, std::vector<int>(m + 1));
  for (size_t j = 0; j <= m; ++j) rows[0][j] = static_cast<int>(j);
  std::string prev;  // the key whose rows are computed
  size_t i = 0;
  while (i < keys.size()) {
    const std::string& k = key_of(keys[i]);
    size_t lcp = 0;
    while (lcp < prev.size() && lcp < k.size() && prev[lcp] == k[lcp]) ++lcp;
    if (rows.size() < k.size() + 1) rows.resize(k.size() + 1, std::vector<int>(m + 1));
    size_t depth = lcp;
    bool pruned = false;
    for (size_t d = lcp + 1; d <= k.size(); ++d) {
      std::vector<int>& row = rows[d];
      const std::vector<int>& up = rows[d - 1];
      row[0] = static_cast<int>(d);
      int best = row[0];
      for (size_t j = 1; j <= m; ++j) {
        int cost = k[d - 1] == word[j - 1] ? 0 : 1;
        int v = std::min({up[j] + 1, row[j - 1] + 1, up[j - 1] + cost});
        if (d > 1 && j > 1 && k[d - 1] == word[j - 2] && k[d - 2] == word[j - 1])
          v = std::min(v, rows[d - 2][j - 2] + 1);
        row[j] = v;
        best = std::min(best, v);
      }
      depth = d;
      if (best > max_d) {
        pruned = true;
        break;
      }
    }
    prev.assign(k, 0, depth);
    if (pruned) {
      // Skip every key that starts with k[0..depth).
      std::string next = prev;
      while (!next.empty() && static_cast<unsigned char>(next.back()) == 0xFF) next.pop_back();
      if (next.empty()) return;
      next.back() = static_cast<char>(static_cast<unsigned char>(next.back()) + 1);
      auto it = std::lower_bound(keys.begin() + i, keys.end(), next,
                                 [&](const Key& a, const std::string& b) { return key_of(a) < b; });
      i = static_cast<size_t>(it - keys.begin());
      continue;
    }
    if (rows[k.size()][m] <= max_d) visit(i, rows[k.size()][m]);
    ++i;
  }
}

const std::string& KeyOfString(const std::string& s) { return s; }
const std::string& KeyOfSurface(const std::pair<std::string, std::string>& p) { return p.first; }

std::vector<TypoCandidate> TypoCandidates(const Index::Rep& r, const std::string& word) {
  std::vector<TypoCandidate> out;
  if (text::IsNumericOrCode(word)) return out;
  size_t len = CodePoints(word);
  int max_d = len >= 8 ? 2 : len >= 4 ? 1 : 0;
  if (max_d == 0) return out;
  auto consider = [&](const std::string& cand, const std::string& term) {
    size_t tl = CodePoints(cand);
    if (tl + max_d < len || tl > len + max_d) return;
    int d = text::BoundedEditDistance(word, cand, max_d);
    if (d > max_d) return;
    for (auto& o : out)
      if (o.term == term) {
        if (d < o.distance) o.distance = d, o.spelling = cand;
        return;
      }
    out.push_back({d, term, cand});
  };
  const bool ascii = std::all_of(word.begin(), word.end(), [](char c) { return c >= 'a' && c <= 'z'; });
  if (ascii) {
    // Walk the vocabularies; `consider` re-checks with the code-point distance.
    FuzzyWalk(r.terms, &KeyOfString, word, max_d, [&](size_t i, int) {
      if (!text::IsNumericOrCode(r.terms[i])) consider(r.terms[i], r.terms[i]);
    });
    FuzzyWalk(r.surfaces, &KeyOfSurface, word, max_d,
              [&](size_t i, int) { consider(r.surfaces[i].first, r.surfaces[i].second); });
  } else {
    for (const auto& t : r.terms)
      if (!text::IsNumericOrCode(t)) consider(t, t);
    for (const auto& [surface, stem] : r.surfaces) consider(surface, stem);
  }
  // Closest first, then the most common: at most 4 alternatives.
  std::sort(out.begin(), out.end(), [&](const auto& a, const auto& b) {
    if (a.distance != b.distance) return a.distance < b.distance;
    return r.Find(a.term)->df > r.Find(b.term)->df;
  });
  if (out.size() > 4) out.resize(4);
  return out;
}

// Every matching document (for facets): all = every cursor, else any.
template <typename C>
void CollectMatches(std::vector<C> cs, bool all, const uint8_t* allowed, std::vector<uint32_t>* out) {
  for (;;) {
    uint32_t doc = kEnd;
    if (all) {
      doc = 0;
      for (auto& c : cs) {
        if (c.doc() == kEnd) return;  // one list is exhausted: no more documents have every word
        doc = std::max(doc, c.doc());
      }
      bool same = true;
      for (auto& c : cs) {
        c.NextGEQ(doc);
        if (c.doc() == kEnd) return;
        same &= c.doc() == doc;
      }
      if (!same) continue;
    } else {
      for (auto& c : cs) doc = std::min(doc, c.doc());
      if (doc == kEnd) return;
    }
    if (!allowed || allowed[doc]) out->push_back(doc);
    for (auto& c : cs)
      if (c.doc() == doc) c.Next();
  }
}

void CountFacets(const Index::Rep& r, const std::vector<uint32_t>& docs, const QueryOptions& o, SearchResult* res) {
  for (const auto& name : o.facets) {
    std::vector<FacetValue> values;
    if (name == "price") {
      static const double kEdges[] = {0, 10, 25, 50, 100, 250, 500, 1000, 1e300};
      uint64_t counts[8] = {};
      for (uint32_t d : docs) {
        float p = r.attr_price[d];
        if (std::isnan(p)) continue;
        for (int b = 0; b < 8; ++b)
          if (p >= kEdges[b] && p < kEdges[b + 1]) {
            ++counts[b];
            break;
          }
      }
      for (int b = 0; b < 8; ++b)
        if (counts[b]) values.push_back({b == 7 ? "1000+" : fmt::format("{}-{}", kEdges[b], kEdges[b + 1]), counts[b]});
    } else {
      const auto& table = name == "brand" ? r.brands : name == "category" ? r.categories : r.tags;
      std::vector<uint64_t> counts(table.size(), 0);
      for (uint32_t d : docs) {
        if (name == "brand")
          ++counts[r.attr_brand[d]];
        else if (name == "category")
          ++counts[r.attr_category[d]];
        else
          for (uint32_t k = r.tag_offsets[d]; k < r.tag_offsets[d + 1]; ++k) ++counts[r.attr_tags[k]];
      }
      for (size_t i = 1; i < table.size(); ++i)
        if (counts[i]) values.push_back({table[i], counts[i]});
      std::sort(values.begin(), values.end(), [](const FacetValue& a, const FacetValue& b) {
        return a.count != b.count ? a.count > b.count : a.value < b.value;
      });
    }
    if (values.size() > o.facet_size) values.resize(o.facet_size);
    res->facets.emplace_back(name, std::move(values));
  }
}

}  // namespace

namespace {

Result<SearchResult> SearchImpl(const Index::Rep& r, std::string_view query, const QueryOptions& options,
                                const std::vector<uint8_t>* deleted) {
  SearchResult result;
  for (const auto& f : options.facets)
    if (f != "brand" && f != "category" && f != "tags" && f != "price")
      return Status::InvalidArgument(fmt::format("unknown facet '{}' (brand, category, tags or price)", f));
  std::vector<uint8_t> bitmap;
  const uint8_t* allowed = nullptr;
  const bool has_filter = !Trim(options.filter).empty();
  if (has_filter) {
    SOUK_ASSIGN_OR_RETURN(auto node, ParseFilter(options.filter, &NormalizeValue));
    bitmap = r.FilterBitmap(*node);
    allowed = bitmap.data();
  }
  if (deleted && !deleted->empty()) {  // documents replaced or removed since the build
    if (bitmap.empty()) bitmap.assign(r.max_doc, 1);
    for (uint32_t d = 0; d < r.max_doc; ++d) bitmap[d] &= !(*deleted)[d];
    allowed = bitmap.data();
  }
  std::vector<text::Token> tokens;
  r.analyzer->Analyze(query, &tokens);
  // A compound's joined form (usbc of USB-C, 运动鞋) shares its position with
  // its parts. Matching requires the parts, so "usb-c" also finds "usb c";
  // the joined forms only add to the score of documents that have them.
  std::vector<std::string> wholes, typed;  // typed: how each term was spelt in the query
  for (auto& t : tokens) {
    auto& list = t.kind == text::TokenKind::kWhole ? wholes : result.terms;
    if (std::find(list.begin(), list.end(), t.term) != list.end()) continue;
    list.push_back(t.term);
    if (t.kind != text::TokenKind::kWhole) {
      std::string surface = souk::ToLowerAscii(query.substr(t.start, t.end - t.start));
      bool letters = std::all_of(surface.begin(), surface.end(), [](char c) { return c >= 'a' && c <= 'z'; });
      typed.push_back(letters ? surface : t.term);
    }
  }
  if (result.terms.size() + wholes.size() > options.max_terms)
    return Status::InvalidArgument(fmt::format("the query has {} distinct terms; at most {} are allowed",
                                               result.terms.size() + wholes.size(), options.max_terms));
  if (result.terms.empty()) {
    // No words: browse by filter (first k documents that pass, by id).
    if (!has_filter) return result;
    std::vector<uint32_t> docs;
    for (uint32_t d = 0; d < r.max_doc; ++d)
      if (allowed[d]) docs.push_back(d);
    result.found = docs.size();
    for (size_t i = 0; i < docs.size() && i < options.k; ++i) result.hits.push_back({docs[i], 0.0f});
    if (!options.facets.empty()) CountFacets(r, docs, options, &result);
    return result;
  }

  // One group per query word: the word, its synonyms, its typo corrections.
  std::vector<GroupCursor> groups;
  bool missing = false, simple = true, corrected = false;
  std::vector<std::string> spelled = typed;  // the query as "did you mean" would spell it
  for (size_t ti = 0; ti < result.terms.size(); ++ti) {
    const std::string& term = result.terms[ti];
    GroupCursor g;
    const TermInfo* info = r.Find(term);
    if (info && info->df) g.Add(&r, info, r.TermIdf(term, info), 1.0f);
    if (options.synonyms) {
      auto add_syn = [&](const std::string& syn) {
        if (const TermInfo* si = r.Find(syn); si && si->df) g.Add(&r, si, r.TermIdf(syn, si), options.synonym_weight);
      };
      auto it = r.synonyms.find(term);
      if (it != r.synonyms.end())
        for (const auto& syn : it->second) add_syn(syn);
      // Words of a multi-word synonym in the query ("cell phone" for
      // "mobile"): each may also be matched by the phrase's alternatives.
      for (const auto& [phrase, alts] : r.phrase_synonyms) {
        for (size_t start = 0; start + phrase.size() <= result.terms.size(); ++start) {
          if (ti < start || ti >= start + phrase.size()) continue;
          if (!std::equal(phrase.begin(), phrase.end(), result.terms.begin() + start)) continue;
          for (const auto& alt : alts) add_syn(alt);
        }
      }
    }
    // (A delta segment leaves words its main segment knows alone.)
    if (!info && !(r.base && r.base->Find(term))) {
      auto cands = TypoCandidates(r, typed[ti]);
      if (!cands.empty()) {
        spelled[ti] = cands[0].spelling;  // for "did you mean"
        corrected = true;
      }
      for (const auto& c : options.typos ? cands : std::vector<TypoCandidate>()) {
        const TermInfo* ci = r.Find(c.term);
        g.Add(&r, ci, r.TermIdf(c.term, ci), options.typo_weight);
        std::string fix = typed[ti];
        fix += "->";
        fix += c.term;
        result.corrections.push_back(std::move(fix));
      }
    }
    if (options.prefix_last && ti + 1 == result.terms.size() && !query.empty() && query.back() != ' ' &&
        query.back() != '\t') {
      for (const auto& cand : PrefixTerms(r, typed[ti], 20))
        if (cand != term) {
          const TermInfo* ci = r.Find(cand);
          g.Add(&r, ci, r.TermIdf(cand, ci), options.synonym_weight);
        }
    }
    if (g.empty()) {
      missing = true;
      continue;
    }
    simple &= g.df() == (info ? info->df : 0) && info;
    g.query_index = static_cast<int>(ti);
    groups.push_back(std::move(g));
  }
  std::vector<Cursor> optional;
  for (const auto& w : wholes)
    if (const TermInfo* info = r.Find(w); info && info->df) {
      optional.emplace_back();
      optional.back().Init(&r, info, r.TermIdf(w, info));
    }
  if (corrected) {
    for (const auto& w : spelled) {
      if (!result.did_you_mean.empty()) result.did_you_mean += ' ';
      result.did_you_mean += w;
    }
  }
  if (groups.empty()) return result;
  // Plain cursors when every word has exactly itself (the common case).
  std::vector<Cursor> plain;
  auto make_plain = [&]() {
    plain.clear();
    for (size_t ti = 0; ti < result.terms.size(); ++ti)
      if (const TermInfo* info = r.Find(result.terms[ti]); info && info->df) {
        plain.emplace_back();
        plain.back().Init(&r, info, r.TermIdf(result.terms[ti], info));
        plain.back().query_index = static_cast<int>(ti);
      }
  };
  std::vector<Hit> all_hits;
  if (options.match == Match::kAll && !missing) {
    TopK top(options.k);
    if (simple) {
      make_plain();
      TopKAll(plain, optional, &top, &result.found, allowed, options.phrase_boost, options.proximity_boost);
    } else {
      std::vector<GroupCursor> gs = groups;
      TopKAll(gs, optional, &top, &result.found, allowed, options.phrase_boost, options.proximity_boost);
    }
    all_hits = top.Sorted();
    if (all_hits.size() >= (options.relax_below ? options.relax_below : options.k) || groups.size() == 1) {
      result.hits = std::move(all_hits);
      if (!options.facets.empty()) {
        std::vector<uint32_t> docs;
        CollectMatches(groups, true, allowed, &docs);
        CountFacets(r, docs, options, &result);
      }
      return result;
    }
  }
  // Too few documents have every word (or --exact): any-word matching, ranked
  // by BM25F, which puts documents with more of the words first. Documents
  // that had every word stay on top.
  const size_t full_matches = all_hits.size();
  TopK any(options.k + all_hits.size());
  uint64_t scored = 0;
  if (simple && options.match != Match::kAll) {
    make_plain();
    TopKAny(plain, &any, &scored, allowed);
  } else {
    std::vector<GroupCursor> gs = groups;
    if (options.match == Match::kAll)
      for (const auto& w : wholes)
        if (const TermInfo* info = r.Find(w); info && info->df) {
          gs.emplace_back();
          gs.back().Add(&r, info, r.TermIdf(w, info), 1.0f);
        }
    TopKAny(gs, &any, &scored, allowed);
  }
  if (!options.facets.empty()) {
    std::vector<uint32_t> docs;
    CollectMatches(groups, false, allowed, &docs);
    CountFacets(r, docs, options, &result);
  }
  result.found = std::max<uint64_t>(result.found, scored);
  result.hits = std::move(all_hits);
  for (const Hit& h : any.Sorted()) {
    if (result.hits.size() >= options.k) break;
    bool seen = false;
    for (size_t i = 0; i < result.hits.size() && !seen; ++i) seen = result.hits[i].doc == h.doc;
    if (!seen) result.hits.push_back(h);
  }
  // "relaxed": some hits lack a word of the query (AND mode only).
  result.relaxed = options.match == Match::kAll && result.hits.size() > full_matches;
  return result;
}

}  // namespace

Result<std::vector<uint8_t>> Index::MatchFilter(std::string_view filter) const {
  SOUK_ASSIGN_OR_RETURN(auto node, ParseFilter(filter, &NormalizeValue));
  const Rep& r = *rep_;
  std::vector<uint8_t> out = r.FilterBitmap(*node);
  if (!r.present.empty())
    for (size_t d = 0; d < out.size() && d < r.present.size(); ++d) out[d] &= r.present[d];
  for (size_t d = 0; d < out.size() && d < r.deleted.size(); ++d)
    if (r.deleted[d]) out[d] = 0;
  if (r.delta) {  // upserted documents: the delta segment's attributes
    const Rep& dr = *r.delta->rep_;
    const std::vector<uint8_t> m = dr.FilterBitmap(*node);
    if (out.size() < m.size()) out.resize(m.size(), 0);
    for (const auto& [id, doc] : r.delta_docs)
      if (id < m.size()) out[id] = m[id];
  }
  return out;
}

Result<SearchResult> Index::Search(std::string_view query, const QueryOptions& options) const {
  const Rep& r = *rep_;
  using Sort = QueryOptions::Sort;
  const size_t want = options.offset + options.k;
  const bool prior = options.prior_weight > 0 && r.max_popularity > 0;
  QueryOptions core = options;
  core.offset = 0;
  core.prior_weight = 0;
  core.sort = Sort::kRelevance;
  // Sorted results list full matches only (any-word matches when there are
  // none); relevance pages relax when a page cannot be filled.
  core.relax_below = options.relax_below ? options.relax_below : options.sort != Sort::kRelevance ? 1 : want;
  if (options.sort != Sort::kRelevance)
    core.k = std::max<size_t>(r.num_docs, 1);  // every match, then sort
  else if (prior)
    core.k = std::max<size_t>(100, 4 * want);
  else
    core.k = want;
  SOUK_ASSIGN_OR_RETURN(SearchResult res, SearchImpl(r, query, core, &r.deleted));
  const Rep* delta = r.delta ? r.delta->rep_.get() : nullptr;
  if (delta) {
    // Merge the delta segment's answer (same scale: it scores with this
    // segment's statistics).
    SOUK_ASSIGN_OR_RETURN(SearchResult d, SearchImpl(*delta, query, core, nullptr));
    res.found += d.found;
    res.relaxed = res.relaxed || d.relaxed;
    res.hits.insert(res.hits.end(), d.hits.begin(), d.hits.end());
    std::stable_sort(res.hits.begin(), res.hits.end(), [](const Hit& a, const Hit& b) {
      return a.score > b.score || (a.score == b.score && a.doc < b.doc);
    });
    if (res.hits.size() > core.k) res.hits.resize(core.k);
    for (size_t f = 0; f < res.facets.size() && f < d.facets.size(); ++f) {
      auto& values = res.facets[f].second;
      for (const auto& v : d.facets[f].second) {
        auto it = std::find_if(values.begin(), values.end(), [&](const FacetValue& x) { return x.value == v.value; });
        if (it == values.end())
          values.push_back(v);
        else
          it->count += v.count;
      }
      if (res.facets[f].first != "price")
        std::sort(values.begin(), values.end(), [](const FacetValue& a, const FacetValue& b) {
          return a.count != b.count ? a.count > b.count : a.value < b.value;
        });
      if (values.size() > options.facet_size) values.resize(options.facet_size);
    }
  }
  auto in_delta = [&](uint32_t doc) { return delta && r.delta_docs.count(doc) > 0; };
  auto price_of = [&](uint32_t doc) {
    if (in_delta(doc)) return delta->attr_price[doc];
    return doc < r.max_doc ? r.attr_price[doc] : std::numeric_limits<float>::quiet_NaN();
  };
  auto pop = [&](uint32_t d) { return r.popularity.empty() || d >= r.popularity.size() ? 0.0f : r.popularity[d]; };
  if (prior) {
    for (auto& h : res.hits) h.score += options.prior_weight * pop(h.doc) / r.max_popularity;
    std::stable_sort(res.hits.begin(), res.hits.end(), [](const Hit& a, const Hit& b) {
      return a.score > b.score || (a.score == b.score && a.doc < b.doc);
    });
  }
  if (options.sort == Sort::kPriceAsc || options.sort == Sort::kPriceDesc) {
    bool asc = options.sort == Sort::kPriceAsc;
    std::stable_sort(res.hits.begin(), res.hits.end(), [&](const Hit& a, const Hit& b) {
      float pa = price_of(a.doc), pb = price_of(b.doc);
      if (std::isnan(pa) != std::isnan(pb)) return std::isnan(pb);  // unpriced last
      if (pa != pb && !std::isnan(pa)) return asc ? pa < pb : pa > pb;
      return a.score > b.score;
    });
  } else if (options.sort == Sort::kPopularity) {
    std::stable_sort(res.hits.begin(), res.hits.end(), [&](const Hit& a, const Hit& b) {
      if (pop(a.doc) != pop(b.doc)) return pop(a.doc) > pop(b.doc);
      return a.score > b.score;
    });
  }
  if (options.offset >= res.hits.size()) {
    res.hits.clear();
  } else {
    res.hits.erase(res.hits.begin(), res.hits.begin() + options.offset);
    if (res.hits.size() > options.k) res.hits.resize(options.k);
  }
  return res;
}

}  // namespace souk::search
