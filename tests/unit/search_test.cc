#include "search/search.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <set>

#include "test_util.h"

namespace souk::search {
namespace {

using souk::testing::TempDir;

// "w<i>x" (built by appends: GCC 12 warns falsely on "w" + to_string(i)).
std::string Word(const char* prefix, size_t i, const char* suffix) {
  std::string s = prefix;
  s += std::to_string(i);
  s += suffix;
  return s;
}

// A random catalog over a small vocabulary so that lists overlap heavily.
std::vector<Document> RandomDocs(size_t n, uint32_t seed, size_t nfields) {
  std::mt19937 rng(seed);
  std::vector<std::string> vocab;
  for (int i = 0; i < 120; ++i) vocab.push_back(Word("w", i, "x"));
  std::vector<Document> docs;
  for (size_t d = 0; d < n; ++d) {
    Document doc;
    doc.id = static_cast<uint32_t>(d * 3 + (d % 3));  // strictly increasing, with gaps
    for (size_t f = 0; f < nfields; ++f) {
      std::string text;
      int len = 1 + rng() % (f == nfields - 1 ? 30 : 6);
      for (int k = 0; k < len; ++k) {
        // Skewed: low word ids are common.
        size_t w = std::min<size_t>(vocab.size() - 1,
                                    static_cast<size_t>(std::pow(rng() % 10000 / 10000.0, 2.5) * vocab.size()));
        text += vocab[w] + " ";
      }
      doc.fields.push_back(text);
    }
    docs.push_back(std::move(doc));
  }
  return docs;
}

// BM25F by brute force, independent of the index.
struct Brute {
  Brute(const std::vector<Document>& docs, const IndexOptions& o, const text::Analyzer& a) : docs_(docs), o_(o) {
    size_t nf = o.fields.size();
    tf_.resize(docs.size());
    len_.assign(docs.size(), std::vector<double>(nf, 0));
    avg_.assign(nf, 0);
    for (size_t d = 0; d < docs.size(); ++d)
      for (size_t f = 0; f < nf; ++f) {
        std::vector<text::Token> toks;
        a.Analyze(docs[d].fields[f], &toks);
        len_[d][f] = toks.size();
        avg_[f] += toks.size();
        for (auto& t : toks) {
          auto& v = tf_[d][t.term];
          v.resize(nf, 0);
          v[f] += 1;
        }
      }
    for (auto& x : avg_) x /= docs.size();
    for (auto& m : tf_)
      for (auto& [t, v] : m) ++df_[t];
  }
  double Score(size_t d, const std::string& term) const {
    auto it = tf_[d].find(term);
    if (it == tf_[d].end()) return -1;
    double tfp = 0;
    for (size_t f = 0; f < o_.fields.size(); ++f)
      tfp += o_.fields[f].weight * it->second[f] / (1 - o_.fields[f].b + o_.fields[f].b * len_[d][f] / avg_[f]);
    size_t df = df_.at(term);
    double idf = std::log(1.0 + (docs_.size() - df + 0.5) / (df + 0.5));
    return idf * tfp / (o_.k1 + tfp);
  }
  const std::vector<Document>& docs_;
  const IndexOptions& o_;
  std::vector<std::map<std::string, std::vector<double>>> tf_;
  std::vector<std::vector<double>> len_;
  std::vector<double> avg_;
  std::map<std::string, size_t> df_;
};

IndexOptions TestOptions() {
  IndexOptions o;
  o.fields = {{"title", 3.0f, 0.75f}, {"brand", 2.0f, 0.5f}, {"description", 1.0f, 0.75f}};
  o.threads = 2;
  return o;
}

TEST(SearchIndex, OrAndAndMatchBruteForce) {
  IndexOptions o = TestOptions();
  auto docs = RandomDocs(3000, 1, o.fields.size());
  auto index = Index::Build(docs, o, nullptr);
  text::Analyzer analyzer(o.analyzer, nullptr);
  Brute brute(docs, o, analyzer);
  std::mt19937 rng(7);
  for (int q = 0; q < 60; ++q) {
    std::vector<std::string> words;
    int n = 1 + q % 4;
    for (int k = 0; k < n; ++k) words.push_back(Word("w", rng() % 60, "x"));
    std::string query;
    for (auto& w : words) query += w + " ";
    for (Match m : {Match::kAny, Match::kAll}) {
      QueryOptions qo;
      qo.k = 10;
      qo.match = m;
      qo.phrase_boost = qo.proximity_boost = 0;  // plain BM25F here; word order is tested below
      auto r = index->Search(query, qo);
      ASSERT_TRUE(r.ok());
      // Brute force: all matching docs with their scores.
      std::vector<std::pair<double, uint32_t>> all;
      std::set<std::string> uniq(r->terms.begin(), r->terms.end());
      for (size_t d = 0; d < docs.size(); ++d) {
        double s = 0;
        size_t matched = 0;
        for (auto& t : uniq) {
          double x = brute.Score(d, t);
          if (x >= 0) s += x, ++matched;
        }
        bool ok = m == Match::kAny ? matched > 0 : matched == uniq.size();
        if (ok) all.emplace_back(s, docs[d].id);
      }
      if (m == Match::kAll && all.empty()) continue;  // relaxation covered elsewhere
      std::sort(all.begin(), all.end(),
                [](auto& a, auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
      // AND with fewer than k matches is topped up by any-word matches,
      // after the documents that have every word.
      size_t exact = std::min<size_t>(10, all.size());
      if (m == Match::kAll && all.size() < 10) {
        EXPECT_TRUE(r->relaxed) << query;
        ASSERT_GE(r->hits.size(), all.size()) << query;
      } else {
        ASSERT_EQ(r->hits.size(), exact) << query;
      }
      for (size_t i = 0; i < exact; ++i) {
        EXPECT_NEAR(r->hits[i].score, all[i].first, 1e-3 * std::max(1.0, all[i].first)) << query << " rank " << i;
      }
      if (m == Match::kAll && !r->relaxed) {
        EXPECT_EQ(r->found, all.size()) << query;
      }
    }
  }
}

TEST(SearchIndex, RelaxesToAnyWhenNothingHasAllTerms) {
  IndexOptions o = TestOptions();
  std::vector<Document> docs = {{0, {"red running shoes", "acme", "light"}, "A", {}},
                                {1, {"blue trail shoes", "zoom", "grip"}, "B", {}},
                                {2, {"coffee mug", "acme", "ceramic"}, "C", {}}};
  auto index = Index::Build(docs, o, nullptr);
  QueryOptions qo;
  auto r = index->Search("red mug", qo);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->relaxed);
  EXPECT_EQ(r->hits.size(), 2u);
  qo.k = 1;
  auto all = index->Search("acme shoes", qo);
  ASSERT_TRUE(all.ok());
  EXPECT_FALSE(all->relaxed);
  ASSERT_EQ(all->hits.size(), 1u);
  EXPECT_EQ(all->hits[0].doc, 0u);
  EXPECT_EQ(all->found, 1u);
  // With room for more, the one full match stays first and any-word matches follow.
  qo.k = 10;
  auto more = index->Search("acme shoes", qo);
  ASSERT_TRUE(more.ok());
  EXPECT_TRUE(more->relaxed);
  ASSERT_EQ(more->hits.size(), 3u);
  EXPECT_EQ(more->hits[0].doc, 0u);
  // Stemming: "running shoe" matches "running shoes".
  auto stem = index->Search("run shoe", qo);
  ASSERT_TRUE(stem.ok());
  ASSERT_FALSE(stem->hits.empty());
  EXPECT_EQ(stem->hits[0].doc, 0u);
}

TEST(SearchIndex, EmptyAndOverlongQueries) {
  IndexOptions o = TestOptions();
  auto index = Index::Build(RandomDocs(100, 2, 3), o, nullptr);
  auto empty = index->Search("   ", {});
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->hits.empty());
  std::string huge;
  for (int i = 0; i < 10000; ++i) huge += Word("t", i, " ");
  auto r = index->Search(huge, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("at most 64"), std::string::npos);
  auto bad = index->Search("w1x \xFF\xFE w2x \x01\x02", {});
  ASSERT_TRUE(bad.ok());  // invalid UTF-8 and control characters are separators, not errors
}

TEST(SearchIndex, SaveLoadRoundTrip) {
  TempDir dir;
  IndexOptions o = TestOptions();
  auto docs = RandomDocs(1500, 3, 3);
  auto index = Index::Build(docs, o, nullptr);
  ASSERT_TRUE(index->Save(dir / "idx").ok());
  auto loaded = Index::Load(dir / "idx", nullptr);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->num_docs(), index->num_docs());
  EXPECT_EQ((*loaded)->Describe(), index->Describe());
  for (const char* q : {"w1x w2x", "w5x", "w3x w40x w7x"}) {
    QueryOptions qo;
    qo.match = Match::kAny;
    auto a = index->Search(q, qo), b = (*loaded)->Search(q, qo);
    ASSERT_EQ(a->hits.size(), b->hits.size());
    for (size_t i = 0; i < a->hits.size(); ++i) {
      EXPECT_EQ(a->hits[i].doc, b->hits[i].doc);
      EXPECT_EQ(a->hits[i].score, b->hits[i].score);
    }
  }
  // A truncated file is refused, not half-loaded.
  std::string bytes = souk::testing::ReadText(dir / "idx");
  souk::testing::WriteText(dir / "cut", bytes.substr(0, bytes.size() / 2));
  auto cut = Index::Load(dir / "cut", nullptr);
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(cut.status().code(), StatusCode::kCorruption);
  EXPECT_EQ(Index::Load(dir / "none", nullptr).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace souk::search

namespace souk::search {
namespace {

std::unique_ptr<Index> ShoeIndex() {
  IndexOptions o = TestOptions();
  std::vector<Document> docs = {{0, {"Trail running shoes", "acme", "grip"}, "A", {}},
                                {1, {"Leather sneakers", "zoom", "white"}, "B", {}},
                                {2, {"Espresso machine 15 bar", "brewo", "steam"}, "C", {}},
                                {3, {"Television 55 inch", "vistar", "4k"}, "D", {}},
                                {4, {"Wireless headphones", "sonar", "bluetooth"}, "E", {}}};
  return Index::Build(docs, o, nullptr);
}

TEST(SearchQuery, TypoToleranceByLength) {
  auto index = ShoeIndex();
  QueryOptions qo;
  auto r = index->Search("runnign shoes", qo);  // transposition in a long word
  ASSERT_TRUE(r.ok());
  ASSERT_FALSE(r->hits.empty());
  EXPECT_EQ(r->hits[0].doc, 0u);
  EXPECT_FALSE(r->corrections.empty());
  auto two = index->Search("headphonez wireles", qo);  // 1 edit each
  ASSERT_TRUE(two.ok());
  ASSERT_FALSE(two->hits.empty());
  EXPECT_EQ(two->hits[0].doc, 4u);
  // Short words get no typo tolerance, numbers never do.
  EXPECT_TRUE(index->Search("bsr", qo)->hits.empty());
  auto num = index->Search("16", qo);
  EXPECT_TRUE(num->hits.empty());
  EXPECT_TRUE(num->corrections.empty());
  // Off: the misspelling finds nothing, but "did you mean" still offers the fix.
  qo.typos = false;
  auto off = index->Search("runnign shoes", qo);
  EXPECT_EQ(off->did_you_mean, "running shoes");
  EXPECT_TRUE(index->Search("runnign", qo)->hits.empty());
  EXPECT_TRUE(index->Search("running shoes", qo)->did_you_mean.empty());
}

TEST(SearchQuery, Synonyms) {
  auto index = ShoeIndex();
  index->SetSynonyms({{"sneakers", "trainers"}, {"tv", "television"}});
  QueryOptions qo;
  auto r = index->Search("trainers", qo);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->hits.size(), 1u);
  EXPECT_EQ(r->hits[0].doc, 1u);
  qo.k = 1;
  auto tv = index->Search("tv 55", qo);
  ASSERT_TRUE(tv.ok());
  ASSERT_FALSE(tv->hits.empty());
  EXPECT_EQ(tv->hits[0].doc, 3u);
  EXPECT_FALSE(tv->relaxed);
  qo.synonyms = false;
  EXPECT_TRUE(index->Search("trainers", qo)->hits.empty());
}

TEST(SearchQuery, CompoundsMatchTheirParts) {
  IndexOptions o = TestOptions();
  std::vector<Document> docs = {{0, {"USB-C charger 65W", "volt", ""}, "A", {}},
                                {1, {"usb c cable", "volt", ""}, "B", {}},
                                {2, {"Lightning cable", "volt", ""}, "C", {}}};
  auto index = Index::Build(docs, o, nullptr);
  QueryOptions qo;
  auto r = index->Search("usb-c", qo);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->found, 2u);
  EXPECT_EQ(r->hits[0].doc, 0u);  // the joined form scores the exact compound higher
  EXPECT_EQ(index->Search("usbc", qo)->hits[0].doc, 0u);
}

}  // namespace
}  // namespace souk::search

namespace souk::search {
namespace {

// A catalog with attributes; filters and facets are checked against a scan.
struct AttrCatalog {
  std::vector<Document> docs;
};

AttrCatalog RandomCatalog(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  const char* brands[] = {"Acme", "Zoom", "Café Co", "Nordic"};
  const char* cats[] = {"Sports > Shoes > Running", "Sports > Shoes > Trail", "Home > Kitchen",
                        "Home > Kitchen > Mugs"};
  const char* tags[] = {"sale", "new", "refurbished", "eco"};
  AttrCatalog c;
  for (size_t d = 0; d < n; ++d) {
    Document doc;
    doc.id = static_cast<uint32_t>(d);
    doc.fields = {Word("w", rng() % 5, "x") + " shoe", "", ""};
    doc.attrs.price = rng() % 10 == 0 ? NAN : (rng() % 20000) / 100.0;
    doc.attrs.stock = static_cast<int64_t>(rng() % 5) - 1;
    doc.attrs.brand = brands[rng() % 4];
    doc.attrs.category = cats[rng() % 4];
    std::string t;
    for (int k = 0; k < 4; ++k)
      if (rng() % 3 == 0) t += std::string(t.empty() ? "" : "|") + tags[k];
    doc.attrs.tags = t;
    c.docs.push_back(std::move(doc));
  }
  return c;
}

bool HasTag(const Attributes& a, const std::string& tag) {
  std::string t = "|" + a.tags + "|";
  return t.find("|" + tag + "|") != std::string::npos;
}

TEST(SearchFilter, MatchesABruteForceScan) {
  auto cat = RandomCatalog(2000, 11);
  auto index = Index::Build(cat.docs, TestOptions(), nullptr);
  struct Case {
    std::string filter;
    std::function<bool(const Attributes&)> pred;
  };
  std::vector<Case> cases = {
      {"price:[10 TO 50]", [](const Attributes& a) { return !std::isnan(a.price) && a.price >= 10 && a.price <= 50; }},
      {"stock:>0", [](const Attributes& a) { return a.stock > 0; }},
      {"brand:acme", [](const Attributes& a) { return a.brand == "Acme"; }},
      {"brand:\"cafe co\"", [](const Attributes& a) { return a.brand == "Café Co"; }},
      {"category:\"shoes > running\"", [](const Attributes& a) { return a.category == "Sports > Shoes > Running"; }},
      {"category:kitchen", [](const Attributes& a) { return a.category.find("Kitchen") != std::string::npos; }},
      {"NOT tag:refurbished", [](const Attributes& a) { return !HasTag(a, "refurbished"); }},
      {"price:[10 TO 50] AND brand:acme AND category:\"shoes > running\" AND stock:>0 AND NOT tag:refurbished",
       [](const Attributes& a) {
         return !std::isnan(a.price) && a.price >= 10 && a.price <= 50 && a.brand == "Acme" &&
                a.category == "Sports > Shoes > Running" && a.stock > 0 && !HasTag(a, "refurbished");
       }},
      {"(brand:zoom OR brand:nordic) tag:eco",
       [](const Attributes& a) { return (a.brand == "Zoom" || a.brand == "Nordic") && HasTag(a, "eco"); }},
      {"price:<=5 OR price:>=190",
       [](const Attributes& a) { return !std::isnan(a.price) && (a.price <= 5 || a.price >= 190); }},
  };
  for (const auto& c : cases) {
    for (const char* q : {"shoe", "w1x shoe", ""}) {
      QueryOptions qo;
      qo.k = 5000;
      qo.filter = c.filter;
      qo.facets = {"brand", "tags", "price", "category"};
      auto r = index->Search(q, qo);
      ASSERT_TRUE(r.ok()) << c.filter << ": " << r.status().ToString();
      std::set<uint32_t> want;
      std::map<std::string, uint64_t> brand_counts;
      for (const auto& d : cat.docs) {
        bool text_ok = std::string(q) != "w1x shoe" || d.fields[0].rfind("w1x", 0) == 0;
        if (c.pred(d.attrs) && text_ok) {
          want.insert(d.id);
          ++brand_counts[d.attrs.brand];
        }
      }
      std::set<uint32_t> got;
      for (const auto& h : r->hits) got.insert(h.doc);
      if (r->relaxed) continue;  // any-word fill-ins are not the AND set
      EXPECT_EQ(got, want) << c.filter << " / " << q;
      ASSERT_EQ(r->facets.size(), 4u);
      std::map<std::string, uint64_t> facet_brands;
      for (const auto& v : r->facets[0].second) facet_brands[v.value] = v.count;
      EXPECT_EQ(facet_brands, brand_counts) << c.filter << " / " << q;
    }
  }
}

TEST(SearchFilter, SyntaxErrorsSayWhereAndWhat) {
  auto index = Index::Build(RandomCatalog(10, 1).docs, TestOptions(), nullptr);
  struct Bad {
    const char* filter;
    const char* message;
  } bad[] = {
      {"price:[10 TO", "column 13: expected a number, found the end of the filter"},
      {"price:[10 50]", "column 11: expected TO, found '50'"},
      {"colour:red", "column 1: expected a field (price, stock, brand, category, tag)"},
      {"brand acme", "column 7: expected ':' after the field name"},
      {"brand:\"acme", "column 7: unterminated quoted text"},
      {"(brand:acme", "expected ')'"},
      {"price:[50 TO 10]", "is empty"},
      {"brand:acme OR", "expected a field"},
      {"stock:>x", "expected a number, found 'x'"},
      {"brand:\x01", "control character"},
      {"brand:\xff\xfe", "invalid UTF-8"},
  };
  for (const auto& b : bad) {
    QueryOptions qo;
    qo.filter = b.filter;
    auto r = index->Search("shoe", qo);
    ASSERT_FALSE(r.ok()) << b.filter;
    EXPECT_NE(r.status().message().find(b.message), std::string::npos) << b.filter << " -> " << r.status().message();
  }
  QueryOptions qo;
  qo.facets = {"colour"};
  EXPECT_FALSE(index->Search("shoe", qo).ok());
}

TEST(SearchFilter, AttributesSurviveSaveLoad) {
  TempDir dir;
  auto cat = RandomCatalog(300, 5);
  auto index = Index::Build(cat.docs, TestOptions(), nullptr);
  ASSERT_TRUE(index->Save(dir / "idx").ok());
  auto loaded = Index::Load(dir / "idx", nullptr);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  QueryOptions qo;
  qo.k = 1000;
  qo.filter = "brand:acme AND price:>20";
  qo.facets = {"tags"};
  auto a = index->Search("shoe", qo), b = (*loaded)->Search("shoe", qo);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->found, b->found);
  ASSERT_EQ(a->facets.size(), b->facets.size());
  for (size_t i = 0; i < a->facets[0].second.size(); ++i)
    EXPECT_EQ(a->facets[0].second[i].count, b->facets[0].second[i].count);
}

}  // namespace
}  // namespace souk::search

namespace souk::search {
namespace {

TEST(SearchSuggest, PopularQueriesThenCatalogWords) {
  TempDir dir;
  auto index = ShoeIndex();
  index->SetPopularQueries({{"Running Shoes", 5}, {"running shoes", 3}, {"runner", 2}, {"television", 9}});
  auto s = index->Suggest("run", 5);
  ASSERT_GE(s.size(), 2u);
  EXPECT_EQ(s[0].text, "running shoes");  // merged case variants: 8 searches
  EXPECT_EQ(s[0].count, 8u);
  EXPECT_EQ(s[1].text, "runner");
  bool word = false;
  for (const auto& x : s) word |= x.count == 0 && x.text.rfind("run", 0) == 0;
  EXPECT_TRUE(word);                 // then a catalog word
  auto top = index->Suggest("", 2);  // nothing typed: popular searches
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].text, "television");
  EXPECT_EQ(top[1].text, "running shoes");
  auto wl = index->Suggest("leather sn", 3);
  ASSERT_FALSE(wl.empty());
  EXPECT_EQ(wl[0].text, "leather sneakers");
  // Suggestions survive save/load.
  ASSERT_TRUE(index->Save(dir / "idx").ok());
  auto loaded = Index::Load(dir / "idx", nullptr);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ((*loaded)->Suggest("tele", 1)[0].text, "television");
}

TEST(SearchSuggest, PrefixOnTheLastWord) {
  auto index = ShoeIndex();
  QueryOptions qo;
  qo.typos = false;
  qo.prefix_last = true;
  qo.k = 1;
  auto r = index->Search("trail runn", qo);
  ASSERT_TRUE(r.ok());
  ASSERT_FALSE(r->hits.empty());
  EXPECT_EQ(r->hits[0].doc, 0u);
  EXPECT_FALSE(r->relaxed);
  // A trailing space means the word is complete.
  auto done = index->Search("trail runn ", qo);
  ASSERT_TRUE(done.ok());
  EXPECT_TRUE(done->relaxed || done->hits.empty() || done->hits[0].doc != 0u || done->found == 0);
  qo.prefix_last = false;
  EXPECT_EQ(index->Search("headph", qo)->hits.size(), 0u);
  qo.prefix_last = true;
  EXPECT_EQ(index->Search("headph", qo)->hits[0].doc, 4u);
}

}  // namespace
}  // namespace souk::search

namespace souk::search {
namespace {

TEST(SearchSort, PagesSortsAndPrior) {
  auto cat = RandomCatalog(500, 21);
  auto index = Index::Build(cat.docs, TestOptions(), nullptr);
  QueryOptions qo;
  qo.k = 1000;
  auto all = index->Search("shoe", qo);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->hits.size(), 500u);
  // Pages are slices of the full ranking.
  qo.k = 7;
  for (size_t page = 0; page < 4; ++page) {
    qo.offset = page * 7;
    auto p = index->Search("shoe", qo);
    ASSERT_TRUE(p.ok());
    ASSERT_EQ(p->hits.size(), 7u);
    for (size_t i = 0; i < 7; ++i) EXPECT_EQ(p->hits[i].doc, all->hits[page * 7 + i].doc);
  }
  qo.offset = 10000;
  EXPECT_TRUE(index->Search("shoe", qo)->hits.empty());
  // Price sorts, unpriced last.
  qo.offset = 0;
  qo.k = 500;
  qo.sort = QueryOptions::Sort::kPriceAsc;
  auto asc = index->Search("shoe", qo);
  ASSERT_TRUE(asc.ok());
  ASSERT_EQ(asc->hits.size(), 500u);
  double last = -1;
  bool seen_nan = false;
  for (const auto& h : asc->hits) {
    double p = cat.docs[h.doc].attrs.price;
    if (std::isnan(p)) {
      seen_nan = true;
      continue;
    }
    EXPECT_FALSE(seen_nan) << "a priced item after an unpriced one";
    EXPECT_GE(p, last);
    last = p;
  }
  // The prior lifts popular documents (among the best 100 by BM25F); weight 0
  // changes nothing; sorting by popularity ranks all matches.
  std::vector<std::pair<uint32_t, float>> pop = {{all->hits[50].doc, 10.0f}, {all->hits[499].doc, 20.0f}};
  index->SetPopularity(pop);
  QueryOptions pq;
  pq.k = 5;
  EXPECT_EQ(index->Search("shoe", pq)->hits[0].doc, all->hits[0].doc);
  pq.prior_weight = 100;
  EXPECT_EQ(index->Search("shoe", pq)->hits[0].doc, all->hits[50].doc);
  pq.prior_weight = 0;
  pq.sort = QueryOptions::Sort::kPopularity;
  EXPECT_EQ(index->Search("shoe", pq)->hits[0].doc, all->hits[499].doc);
}

}  // namespace
}  // namespace souk::search

namespace souk::search {
namespace {

TEST(SearchUpdate, AddChangeDeleteWithoutRebuild) {
  auto index = ShoeIndex();  // docs 0..4
  QueryOptions qo;
  qo.k = 10;
  qo.typos = false;
  Document added{7, {"Trail espresso grinder", "brewo", ""}, "G", {}};
  added.attrs.price = 42;
  Document changed{1, {"Leather espresso cups", "zoom", ""}, "B", {}};
  ASSERT_TRUE(index->Update({added, changed}, {3}).ok());
  EXPECT_EQ(index->pending_updates(), 4u);  // 2 delta documents + 2 masked in the main segment
  auto r = index->Search("espresso", qo);
  ASSERT_TRUE(r.ok());
  std::set<uint32_t> got;
  for (const auto& h : r->hits) got.insert(h.doc);
  EXPECT_EQ(got, (std::set<uint32_t>{1, 2, 7}));
  EXPECT_EQ(index->ExternalId(7), "G");
  EXPECT_TRUE(index->Search("sneakers", qo)->hits.empty());    // doc 1's old text is gone
  EXPECT_TRUE(index->Search("television", qo)->hits.empty());  // doc 3 deleted
  qo.filter = "price:>40";
  auto f = index->Search("espresso", qo);
  ASSERT_EQ(f->hits.size(), 1u);
  EXPECT_EQ(f->hits[0].doc, 7u);
  // Scores of delta documents use the main segment's statistics: the same
  // text scores the same wherever it lives.
  auto fresh = ShoeIndex();
  Document same{9, {"Trail running shoes", "acme", "grip"}, "Z", {}};
  ASSERT_TRUE(fresh->Update({same}, {}).ok());
  QueryOptions any;
  any.match = Match::kAny;
  auto both = fresh->Search("trail running shoes", any);
  ASSERT_GE(both->hits.size(), 2u);
  EXPECT_NEAR(both->hits[0].score, both->hits[1].score, 1e-4f * both->hits[0].score);
  // Pending updates cannot be saved (rebuild instead).
  TempDir dir;
  EXPECT_EQ(index->Save(dir / "idx").code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace souk::search

namespace souk::search {
namespace {

TEST(SearchHighlight, MarksAnalysedMatchesAndCutsLongText) {
  auto index = ShoeIndex();
  EXPECT_EQ(index->Highlight("run shoe", "Trail Running Shoes, light"), "Trail <em>Running</em> <em>Shoes</em>, light");
  EXPECT_EQ(index->Highlight("usb-c", "A USB-C charger", "[", "]"), "A [USB-C] charger");
  EXPECT_EQ(index->Highlight("mug", "Café mug", "[", "]"), "Café [mug]");
  std::string longtext(300, 'x');
  longtext += " waterproof boots ";
  longtext += std::string(300, 'y');
  std::string h = index->Highlight("boots", longtext, "[", "]", 100);
  EXPECT_NE(h.find("[boots]"), std::string::npos);
  EXPECT_LE(h.size(), 120u);
  EXPECT_EQ(h.rfind("\xE2\x80\xA6", 0), 0u);  // starts with an ellipsis
  EXPECT_EQ(index->Highlight("nothing", "no match here"), "no match here");
}

}  // namespace
}  // namespace souk::search

namespace souk::search {
namespace {

TEST(SearchProximity, PhraseInTheTitleRanksFirst) {
  IndexOptions o = TestOptions();
  // Same words, same lengths: only their order and distance differ.
  std::vector<Document> docs = {{0, {"shoes for trail running fans", "x", ""}, "A", {}},
                                {1, {"trail shoes for running fans", "x", ""}, "B", {}},
                                {2, {"fans of running shoes trail", "x", ""}, "C", {}},
                                {3, {"running shoes for trail fans", "x", ""}, "D", {}}};
  auto index = Index::Build(docs, o, nullptr);
  QueryOptions qo;
  qo.k = 4;
  auto r = index->Search("running shoes", qo);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->hits.size(), 4u);
  // The two titles with the phrase first, then the closer of the others.
  EXPECT_EQ((std::set<uint32_t>{r->hits[0].doc, r->hits[1].doc}), (std::set<uint32_t>{2, 3}));
  EXPECT_EQ(r->hits[2].doc, 1u);  // words 2 positions apart beat 3 apart
  EXPECT_EQ(r->hits[3].doc, 0u);
  EXPECT_GT(r->hits[1].score, r->hits[2].score);
  EXPECT_GT(r->hits[2].score, r->hits[3].score);
  qo.phrase_boost = qo.proximity_boost = 0;
  auto flat = index->Search("running shoes", qo);
  EXPECT_FLOAT_EQ(flat->hits[0].score, flat->hits[3].score);  // without the boost all tie
}

}  // namespace
}  // namespace souk::search

namespace souk::search {
namespace {

TEST(SearchTypos, TrieWalkFindsWhatABruteForceScanFinds) {
  std::mt19937 rng(3);
  auto word = [&](size_t len) {
    std::string w;
    for (size_t i = 0; i < len; ++i) w += static_cast<char>('a' + rng() % 6);  // small alphabet: many near words
    return w;
  };
  IndexOptions o = TestOptions();
  o.analyzer.stem = false;
  std::vector<std::string> vocab;
  std::vector<Document> docs;
  for (uint32_t d = 0; d < 400; ++d) {
    vocab.push_back(word(4 + rng() % 7));
    docs.push_back({d, {vocab.back(), "", ""}, "", {}});
  }
  auto index = Index::Build(docs, o, nullptr);
  std::set<std::string> known(vocab.begin(), vocab.end());
  QueryOptions qo;
  for (int q = 0; q < 300; ++q) {
    std::string w = q % 2 ? word(4 + rng() % 7) : vocab[rng() % vocab.size()];
    if (q % 2 == 0 && !w.empty()) w[rng() % w.size()] = static_cast<char>('a' + rng() % 6);  // one typo
    if (known.count(w)) continue;
    int max_d = w.size() >= 8 ? 2 : 1;
    bool any = false;
    for (const auto& v : vocab) any |= text::BoundedEditDistance(w, v, max_d) <= max_d;
    auto r = index->Search(w, qo);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(!r->corrections.empty(), any) << w;
    for (const auto& c : r->corrections) {
      std::string to = c.substr(c.find("->") + 2);
      EXPECT_LE(text::BoundedEditDistance(w, to, max_d), max_d) << c;
    }
  }
}

}  // namespace
}  // namespace souk::search

namespace souk::search {
namespace {

TEST(SearchQuery, MultiWordSynonyms) {
  IndexOptions o = TestOptions();
  std::vector<Document> docs = {{0, {"mobile case", "", ""}, "A", {}},
                                {1, {"cell phone case", "", ""}, "B", {}},
                                {2, {"phone charger", "", ""}, "C", {}},
                                {3, {"cell battery", "", ""}, "D", {}}};
  auto index = Index::Build(docs, o, nullptr);
  index->SetSynonyms({{"cell phone", "mobile"}});
  QueryOptions qo;
  qo.k = 1;  // no any-word fill-ins: only documents that match every word
  qo.typos = false;
  auto ids = [&](const char* q) {
    QueryOptions all = qo;
    all.k = 10;
    all.relax_below = 1;
    std::set<uint32_t> out;
    auto r = index->Search(q, all);  // keep the result alive while iterating
    for (const auto& h : r->hits) out.insert(h.doc);
    return out;
  };
  EXPECT_EQ(ids("cell phone case"), (std::set<uint32_t>{0, 1}));
  EXPECT_EQ(ids("mobile case"), (std::set<uint32_t>{0, 1}));
  // The words of one entry are not synonyms of each other.
  EXPECT_EQ(ids("phone charger"), (std::set<uint32_t>{2}));
  EXPECT_EQ(ids("cell battery"), (std::set<uint32_t>{3}));
}

}  // namespace
}  // namespace souk::search

namespace souk::search {
namespace {

TEST(SearchFilter, BrowseNeverListsIdGapsEvenAfterLoad) {
  TempDir dir;
  std::vector<Document> docs = {{2, {"mug", "", ""}, "A", {}}, {5, {"cup", "", ""}, "B", {}}};
  docs[0].attrs.price = 3;
  docs[1].attrs.price = 4;
  auto index = Index::Build(docs, TestOptions(), nullptr);
  ASSERT_TRUE(index->Save(dir / "idx").ok());
  auto loaded = Index::Load(dir / "idx", nullptr);
  ASSERT_TRUE(loaded.ok());
  for (const Index* i : {index.get(), loaded->get()}) {
    QueryOptions qo;
    qo.filter = "NOT brand:acme";
    auto r = i->Search("", qo);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->hits.size(), 2u);
    EXPECT_EQ(r->hits[0].doc, 2u);
    EXPECT_EQ(r->hits[1].doc, 5u);
  }
}

}  // namespace
}  // namespace souk::search
