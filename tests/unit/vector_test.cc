// src/vector: exact search against a naive loop, hnsw recall, filters,
// removal, files (round trip and every kind of damage), metrics.
#include "vector/vector.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <thread>

#include "test_util.h"
#include "vector/internal.h"

namespace souk::vector {
namespace {

using souk::testing::ReadText;
using souk::testing::TempDir;
using souk::testing::WriteText;

std::vector<float> RandomVectors(size_t n, size_t dim, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0, 1);
  std::vector<float> v(n * dim);
  for (float& x : v) x = normal(rng);
  return v;
}

std::vector<uint32_t> Iota(size_t n, uint32_t first = 0) {
  std::vector<uint32_t> ids(n);
  std::iota(ids.begin(), ids.end(), first);
  return ids;
}

std::unique_ptr<VectorIndex> Make(const std::string& spec, size_t dim, int threads = 1) {
  auto index = MakeVectorIndex(spec, dim, threads);
  EXPECT_TRUE(index.ok()) << index.status().ToString();
  return std::move(index).value();
}

struct Results {
  size_t k = 0;
  std::vector<uint32_t> ids;
  std::vector<float> scores;
  const uint32_t* Ids(size_t q) const { return ids.data() + q * k; }
  const float* Scores(size_t q) const { return scores.data() + q * k; }
  bool operator==(const Results& o) const { return k == o.k && ids == o.ids && scores == o.scores; }
};

Results Search(const VectorIndex& index, const std::vector<float>& queries, size_t k, const SearchParams& params = {}) {
  const size_t nq = queries.size() / index.dim();
  Results r;
  r.k = k;
  r.ids.resize(nq * k);
  r.scores.resize(nq * k);
  index.Search(nq, queries.data(), k, r.ids.data(), r.scores.data(), params);
  return r;
}

// The naive answer, written independently of the index: every score in
// double precision, a full sort, higher score first, ties by lower id.
struct Naive {
  std::vector<std::pair<double, uint32_t>> ranked;
};
Naive NaiveSearch(const std::vector<float>& data, const std::vector<uint32_t>& ids, size_t dim, const float* query,
                  Metric metric, const std::function<bool(uint32_t)>& allow = {}) {
  std::vector<double> q(query, query + dim);
  auto norm = [&](const float* v) {
    double s = 0;
    for (size_t i = 0; i < dim; ++i) s += double(v[i]) * v[i];
    return std::sqrt(s);
  };
  const double qn = norm(query);
  Naive out;
  for (size_t r = 0; r < ids.size(); ++r) {
    if (allow && !allow(ids[r])) continue;
    const float* x = data.data() + r * dim;
    double s = 0;
    if (metric == Metric::kL2) {
      for (size_t i = 0; i < dim; ++i) s -= (q[i] - x[i]) * (q[i] - x[i]);
    } else {
      for (size_t i = 0; i < dim; ++i) s += q[i] * x[i];
      if (metric == Metric::kCosine) {
        const double xn = norm(x);
        s = (qn > 0 && xn > 0) ? s / (qn * xn) : 0;
      }
    }
    out.ranked.emplace_back(s, ids[r]);
  }
  std::sort(out.ranked.begin(), out.ranked.end(), [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  });
  return out;
}

// The index's top-k for one query is the naive one: same scores position by
// position (float vs double: a small tolerance), each id's score is its
// true score, no id twice. Near-ties may swap ids, so ids are compared
// through their scores.
void ExpectMatchesNaive(const Naive& naive, const uint32_t* ids, const float* scores, size_t k) {
  std::map<uint32_t, double> truth;
  for (const auto& [s, id] : naive.ranked) truth[id] = s;
  std::set<uint32_t> seen;
  for (size_t i = 0; i < k; ++i) {
    if (i >= naive.ranked.size()) {
      EXPECT_EQ(ids[i], kNoId) << "position " << i;
      EXPECT_EQ(scores[i], -std::numeric_limits<float>::infinity());
      continue;
    }
    ASSERT_NE(ids[i], kNoId) << "position " << i;
    EXPECT_NEAR(scores[i], naive.ranked[i].first, 1e-4) << "position " << i;
    ASSERT_TRUE(truth.count(ids[i])) << "id " << ids[i] << " is not a candidate";
    EXPECT_NEAR(scores[i], truth[ids[i]], 1e-4) << "id " << ids[i];
    EXPECT_TRUE(seen.insert(ids[i]).second) << "id " << ids[i] << " twice";
    if (i > 0) {
      EXPECT_GE(scores[i - 1], scores[i]);
    }
  }
}

// ---- specs ---------------------------------------------------------------------

TEST(VectorSpec, ParsesAndDescribes) {
  auto o = ParseVectorIndexSpec("hnsw:M=32,efc=100,ef=40,metric=cosine");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->kind, IndexKind::kHnsw);
  EXPECT_EQ(o->M, 32u);
  EXPECT_EQ(o->ef_construction, 100u);
  EXPECT_EQ(o->ef_search, 40u);
  EXPECT_EQ(o->metric, Metric::kCosine);

  EXPECT_EQ(Make("hnsw", 8)->Describe(), "hnsw:M=16,efc=200,ef=64,metric=ip");
  EXPECT_EQ(Make("exact:metric=l2", 8)->Describe(), "exact:metric=l2");
  EXPECT_EQ(Make("hnsw:exact_below=0,metric=l2", 8)->Describe(), "hnsw:M=16,efc=200,ef=64,metric=l2,exact_below=0");
  for (const char* spec : {"hnsw:M=8,efc=50,ef=20,metric=l2", "exact:metric=cosine", "hnsw:exact_below=10"}) {
    auto index = Make(spec, 4);
    auto again = MakeVectorIndex(index->Describe(), 4);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ((*again)->Describe(), index->Describe());
  }
}

TEST(VectorSpec, RejectsBadSpecs) {
  for (const char* spec :
       {"flat", "hnsw:M=1", "hnsw:ef=0", "hnsw:efc=x", "hnsw:bogus=1", "exact:M=16", "exact:metric=dot", "hnsw:M"}) {
    auto o = ParseVectorIndexSpec(spec);
    EXPECT_FALSE(o.ok()) << spec;
    EXPECT_EQ(o.status().code(), StatusCode::kInvalidArgument) << spec;
  }
  EXPECT_NE(ParseVectorIndexSpec("hnsw:bogus=1").status().message().find("bogus"), std::string::npos);
  EXPECT_FALSE(MakeVectorIndex("exact", 0).ok());
}

// ---- exact search --------------------------------------------------------------

TEST(ExactIndex, MatchesNaiveLoopForEveryMetric) {
  const size_t n = 3000, dim = 21, nq = 40, k = 10;  // 21: the kernels' tail path
  const auto data = RandomVectors(n, dim, 1);
  const auto queries = RandomVectors(nq, dim, 2);
  const auto ids = Iota(n, 100);
  for (const char* metric : {"ip", "cosine", "l2"}) {
    SCOPED_TRACE(metric);
    auto index = Make(std::string("exact:metric=") + metric, dim, 2);
    ASSERT_TRUE(index->Add(n, data.data(), ids.data()).ok());
    EXPECT_EQ(index->size(), n);
    const Results r = Search(*index, queries, k);
    for (size_t q = 0; q < nq; ++q) {
      ExpectMatchesNaive(NaiveSearch(data, ids, dim, queries.data() + q * dim, index->metric()), r.Ids(q), r.Scores(q),
                         k);
    }
    // One query at a time gives the same bits as the batch.
    for (size_t q = 0; q < nq; q += 7) {
      const Results one =
          Search(*index, std::vector<float>(queries.begin() + q * dim, queries.begin() + (q + 1) * dim), k);
      EXPECT_TRUE(std::equal(one.ids.begin(), one.ids.end(), r.Ids(q)));
      EXPECT_TRUE(std::equal(one.scores.begin(), one.scores.end(), r.Scores(q)));
    }
  }
}

TEST(ExactIndex, ThreadedPathsGiveTheSingleThreadedAnswer) {
  // 100k x 24 is enough work for one query to be split by rows across
  // threads (and a batch by queries).
  const size_t n = 100000, dim = 24, k = 20;
  const auto data = RandomVectors(n, dim, 3);
  const auto ids = Iota(n);
  auto one = Make("exact", dim, 1), two = Make("exact", dim, 2);
  ASSERT_TRUE(one->Add(n, data.data(), ids.data()).ok());
  ASSERT_TRUE(two->Add(n, data.data(), ids.data()).ok());
  for (size_t nq : {1, 5}) {
    const auto queries = RandomVectors(nq, dim, 4 + nq);
    EXPECT_EQ(Search(*one, queries, k), Search(*two, queries, k)) << nq << " queries";
    const Results r = Search(*two, queries, k);
    ExpectMatchesNaive(NaiveSearch(data, ids, dim, queries.data(), Metric::kInnerProduct), r.Ids(0), r.Scores(0), k);
  }
}

TEST(ExactIndex, AddReplacesAndRemoveCompacts) {
  const size_t dim = 6;
  auto index = Make("exact:metric=l2", dim);
  const auto data = RandomVectors(50, dim, 5);
  const auto ids = Iota(50);
  ASSERT_TRUE(index->Add(50, data.data(), ids.data()).ok());
  // Remove from the middle and the end, then compare with an index that never had them.
  ASSERT_TRUE(index->Remove(10).ok());
  ASSERT_TRUE(index->Remove(49).ok());
  EXPECT_EQ(index->Remove(10).code(), StatusCode::kNotFound);
  EXPECT_FALSE(index->Contains(10));
  EXPECT_TRUE(index->Contains(11));
  EXPECT_EQ(index->size(), 48u);
  auto fresh = Make("exact:metric=l2", dim);
  for (uint32_t i = 0; i < 50; ++i) {
    if (i != 10 && i != 49) {
      ASSERT_TRUE(fresh->Add(1, data.data() + i * dim, &i).ok());
    }
  }
  const auto queries = RandomVectors(10, dim, 6);
  EXPECT_EQ(Search(*index, queries, 50), Search(*fresh, queries, 50));

  // A repeated id: the last vector wins; an id already there is replaced.
  const float point[2 * dim] = {9, 9, 9, 9, 9, 9, 7, 7, 7, 7, 7, 7};
  const uint32_t twice[2] = {3, 3};
  ASSERT_TRUE(index->Add(2, point, twice).ok());
  EXPECT_EQ(index->size(), 48u);
  const std::vector<float> q(dim, 7);
  const Results r = Search(*index, q, 1);
  EXPECT_EQ(r.ids[0], 3u);
  EXPECT_FLOAT_EQ(r.scores[0], 0);
}

TEST(VectorIndex, AddRejectsBadInputAndAddsNothing) {
  for (const char* spec : {"exact", "hnsw"}) {
    auto index = Make(spec, 3);
    const float good[3] = {1, 2, 3};
    const float bad[6] = {1, 2, 3, 1, NAN, 3};
    const uint32_t ids[2] = {1, 2};
    EXPECT_EQ(index->Add(2, bad, ids).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(index->size(), 0u);
    const uint32_t reserved = kNoId;
    EXPECT_EQ(index->Add(1, good, &reserved).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(index->size(), 0u);
  }
}

TEST(VectorIndex, KLargerThanSizeReturnsEverythingThenPadding) {
  const size_t dim = 4, n = 7, k = 10;
  const auto data = RandomVectors(n, dim, 7);
  const auto ids = Iota(n, 20);
  const auto query = RandomVectors(1, dim, 8);
  // exact_below=0: the hnsw index walks its graph even when this small.
  for (const char* spec : {"exact", "hnsw", "hnsw:exact_below=0"}) {
    SCOPED_TRACE(spec);
    auto index = Make(spec, dim);
    ASSERT_TRUE(index->Add(n, data.data(), ids.data()).ok());
    const Results r = Search(*index, query, k);
    ExpectMatchesNaive(NaiveSearch(data, ids, dim, query.data(), Metric::kInnerProduct), r.Ids(0), r.Scores(0), k);
    EXPECT_EQ(std::count(r.ids.begin(), r.ids.end(), kNoId), 3);
  }
  // An empty index, k = 0 and an invalid query.
  auto empty = Make("hnsw", dim);
  EXPECT_EQ(Search(*empty, query, 3).ids, std::vector<uint32_t>(3, kNoId));
  auto index = Make("exact", dim);
  ASSERT_TRUE(index->Add(n, data.data(), ids.data()).ok());
  EXPECT_TRUE(Search(*index, query, 0).ids.empty());
  const std::vector<float> nan_query(dim, NAN);
  EXPECT_EQ(Search(*index, nan_query, 2).ids, std::vector<uint32_t>(2, kNoId));
}

TEST(VectorIndex, CosineIgnoresLengthInnerProductDoesNot) {
  // a points the query's way; b is long but 45 degrees off.
  const float data[4] = {1, 0, 10, 10};
  const uint32_t ids[2] = {1, 2};
  for (const char* kind : {"exact", "hnsw:exact_below=0"}) {
    SCOPED_TRACE(kind);
    const std::string prefix = std::string(kind) + (std::string(kind) == "exact" ? ":" : ",");
    auto ip = Make(prefix + "metric=ip", 2), cos = Make(prefix + "metric=cosine", 2),
         l2 = Make(prefix + "metric=l2", 2);
    for (auto* index : {ip.get(), cos.get(), l2.get()}) ASSERT_TRUE(index->Add(2, data, ids).ok());
    const std::vector<float> q = {1, 0.1f};
    const Results rip = Search(*ip, q, 2), rcos = Search(*cos, q, 2), rl2 = Search(*l2, q, 2);
    EXPECT_EQ(rip.ids, (std::vector<uint32_t>{2, 1}));
    EXPECT_FLOAT_EQ(rip.scores[0], 11);
    EXPECT_EQ(rcos.ids, (std::vector<uint32_t>{1, 2}));
    EXPECT_NEAR(rcos.scores[0], 1 / std::sqrt(1.01), 1e-6);
    EXPECT_NEAR(rcos.scores[1], 1.1 / (std::sqrt(1.01) * std::sqrt(2.0)), 1e-6);
    EXPECT_EQ(rl2.ids, (std::vector<uint32_t>{1, 2}));
    EXPECT_NEAR(rl2.scores[0], -0.01, 1e-6);
    // Scaling the query changes inner products, not cosines.
    const std::vector<float> q5 = {5, 0.5f};
    const Results rcos5 = Search(*cos, q5, 2);
    EXPECT_EQ(rcos5.ids, rcos.ids);
    EXPECT_NEAR(rcos5.scores[0], rcos.scores[0], 1e-6);
    EXPECT_NEAR(rcos5.scores[1], rcos.scores[1], 1e-6);
    EXPECT_FLOAT_EQ(Search(*ip, q5, 2).scores[0], 55);
  }
}

// ---- hnsw on 20k random 32-d vectors (built once) ---------------------------------

class HnswTest : public ::testing::Test {
 protected:
  static constexpr size_t kN = 20000, kDim = 32, kQueries = 200, kK = 10;

  static void SetUpTestSuite() {
    data_ = new std::vector<float>(RandomVectors(kN, kDim, 11));
    ids_ = new std::vector<uint32_t>(Iota(kN));
    queries_ = new std::vector<float>(RandomVectors(kQueries, kDim, 12));
    hnsw_ = Make("hnsw:M=16,efc=200,ef=64", kDim, 2).release();
    exact_ = Make("exact", kDim, 2).release();
    ASSERT_TRUE(hnsw_->Add(kN, data_->data(), ids_->data()).ok());
    ASSERT_TRUE(exact_->Add(kN, data_->data(), ids_->data()).ok());
  }
  static void TearDownTestSuite() {
    delete hnsw_;
    delete exact_;
    delete data_;
    delete ids_;
    delete queries_;
  }
  static double Recall(size_t ef, const IdFilter* filter = nullptr) {
    SearchParams p;
    p.ef = ef;
    p.filter = filter;
    return MeasureRecall(*hnsw_, *exact_, kQueries, queries_->data(), kK, p);
  }

  static std::vector<float>* data_;
  static std::vector<uint32_t>* ids_;
  static std::vector<float>* queries_;
  static VectorIndex* hnsw_;
  static VectorIndex* exact_;
};
std::vector<float>* HnswTest::data_ = nullptr;
std::vector<uint32_t>* HnswTest::ids_ = nullptr;
std::vector<float>* HnswTest::queries_ = nullptr;
VectorIndex* HnswTest::hnsw_ = nullptr;
VectorIndex* HnswTest::exact_ = nullptr;

TEST_F(HnswTest, RecallAtTenIsHighAndGrowsWithEf) {
  EXPECT_EQ(hnsw_->size(), kN);
  const double r10 = Recall(10), r100 = Recall(100), r200 = Recall(200);
  EXPECT_GE(r100, 0.95);
  EXPECT_LE(r10, r200);
  EXPECT_LT(r10, 1.0);  // ef=10 really is approximate, so the graph was used
  RecordProperty("recall10_ef10", std::to_string(r10));
  RecordProperty("recall10_ef100", std::to_string(r100));
  std::printf("recall@10: ef=10 %.3f, ef=100 %.3f, ef=200 %.3f\n", r10, r100, r200);
}

TEST_F(HnswTest, FiltersNeverLeakAndKeepRecall) {
  // Half the ids (the graph, over-fetching), 30% by bitmap (still the
  // graph: 6,000 allowed), 2% by bitmap (an exact scan).
  auto even = IdFilter::Predicate([](uint32_t id) { return id % 2 == 0; });
  std::vector<uint64_t> thirty((kN + 63) / 64), two((kN + 63) / 64);
  std::mt19937 rng(5);
  for (uint32_t id = 0; id < kN; ++id) {
    if (rng() % 100 < 30) thirty[id / 64] |= uint64_t{1} << (id % 64);
    if (rng() % 100 < 2) two[id / 64] |= uint64_t{1} << (id % 64);
  }
  auto b30 = IdFilter::Bitmap(thirty), b2 = IdFilter::Bitmap(two);
  for (const IdFilter* f : {&even, &b30, &b2}) {
    SearchParams p;
    p.filter = f;
    p.ef = 100;
    const Results r = Search(*hnsw_, *queries_, kK, p);
    for (uint32_t id : r.ids) {
      ASSERT_NE(id, kNoId);
      ASSERT_TRUE(f->Allows(id)) << id;
    }
    EXPECT_GE(Recall(100, f), 0.95);
  }
}

TEST_F(HnswTest, SaveAndLoadGiveIdenticalResults) {
  TempDir dir;
  ASSERT_TRUE(hnsw_->Save(dir / "hnsw.vec").ok());
  ASSERT_TRUE(exact_->Save(dir / "exact.vec").ok());
  EXPECT_FALSE(std::filesystem::exists(dir / "hnsw.vec.tmp"));
  auto hnsw = LoadVectorIndex(dir / "hnsw.vec", kDim, 2);
  auto exact = LoadVectorIndex(dir / "exact.vec");
  ASSERT_TRUE(hnsw.ok()) << hnsw.status().ToString();
  ASSERT_TRUE(exact.ok()) << exact.status().ToString();
  EXPECT_EQ((*hnsw)->Describe(), hnsw_->Describe());
  EXPECT_EQ((*exact)->Describe(), exact_->Describe());
  EXPECT_EQ((*hnsw)->size(), kN);
  auto even = IdFilter::Predicate([](uint32_t id) { return id % 2 == 0; });
  for (size_t ef : {10, 64}) {
    SearchParams p;
    p.ef = ef;
    EXPECT_EQ(Search(**hnsw, *queries_, kK, p), Search(*hnsw_, *queries_, kK, p));
    p.filter = &even;
    EXPECT_EQ(Search(**hnsw, *queries_, kK, p), Search(*hnsw_, *queries_, kK, p));
  }
  EXPECT_EQ(Search(**exact, *queries_, kK), Search(*exact_, *queries_, kK));
  // The loaded graph takes more vectors.
  const auto more = RandomVectors(100, kDim, 13);
  const auto more_ids = Iota(100, kN);
  ASSERT_TRUE((*hnsw)->Add(100, more.data(), more_ids.data()).ok());
  EXPECT_EQ((*hnsw)->size(), kN + 100);
  EXPECT_TRUE((*hnsw)->Contains(kN + 99));
  EXPECT_FALSE(hnsw_->Contains(kN + 99));
}

// ---- hnsw on a small graph (exact_below=0, so the graph is walked) -------------

struct SmallGraph {
  static constexpr size_t kN = 4000, kDim = 16, kQueries = 50, kK = 10;
  std::vector<float> data = RandomVectors(kN, kDim, 51);
  std::vector<uint32_t> ids = Iota(kN);
  std::vector<float> queries = RandomVectors(kQueries, kDim, 52);
  std::unique_ptr<VectorIndex> hnsw = Make("hnsw:exact_below=0", kDim, 2);
  std::unique_ptr<VectorIndex> exact = Make("exact", kDim, 2);
  SmallGraph() {
    EXPECT_TRUE(hnsw->Add(kN, data.data(), ids.data()).ok());
    EXPECT_TRUE(exact->Add(kN, data.data(), ids.data()).ok());
  }
};

TEST(HnswGraph, ExactSearchOnTheGraphIsTheExactIndex) {
  SmallGraph g;
  SearchParams p;
  p.exact = true;
  EXPECT_EQ(Search(*g.hnsw, g.queries, g.kK, p), Search(*g.exact, g.queries, g.kK));
  EXPECT_DOUBLE_EQ(MeasureRecall(*g.exact, *g.exact, g.kQueries, g.queries.data(), g.kK), 1.0);
  EXPECT_LT(MeasureRecall(*g.hnsw, *g.exact, g.kQueries, g.queries.data(), g.kK, SearchParams{.ef = 10}), 1.0);
}

TEST(HnswGraph, GraphScoresAreExactScores) {
  SmallGraph g;
  const Results r = Search(*g.hnsw, g.queries, g.kK);
  for (size_t q = 0; q < g.kQueries; ++q) {
    for (size_t i = 0; i < g.kK; ++i) {
      const float* x = g.data.data() + size_t{r.Ids(q)[i]} * g.kDim;
      EXPECT_EQ(r.Scores(q)[i], internal::Dot(g.queries.data() + q * g.kDim, x, g.kDim));
      if (i > 0) {
        EXPECT_GE(r.Scores(q)[i - 1], r.Scores(q)[i]);
      }
    }
  }
}

TEST(HnswGraph, AFilterOfFiveIdsReturnsExactlyThoseInOrder) {
  SmallGraph g;
  const std::vector<uint32_t> five = {17, 3999, 9, 2500, 123};
  const auto allow = IdFilter::Allow(five);
  const auto pred = IdFilter::Predicate([&](uint32_t id) { return std::count(five.begin(), five.end(), id) > 0; });
  for (const IdFilter* f : {&allow, &pred}) {
    SearchParams p;
    p.filter = f;
    const Results r = Search(*g.hnsw, g.queries, 8, p);
    for (size_t q = 0; q < g.kQueries; ++q) {
      ExpectMatchesNaive(NaiveSearch(g.data, g.ids, g.kDim, g.queries.data() + q * g.kDim, Metric::kInnerProduct,
                                     [&](uint32_t id) { return f->Allows(id); }),
                         r.Ids(q), r.Scores(q), 8);
      EXPECT_EQ(r.Ids(q)[5], kNoId);
    }
  }
  // A bitmap that mostly names ids the index does not hold: its count says
  // "all", so the graph is tried, finds too few, and the exact scan answers.
  std::vector<uint64_t> words(2 * g.kN / 64 + 1);
  for (uint32_t id = g.kN; id < 2 * g.kN; ++id) words[id / 64] |= uint64_t{1} << (id % 64);
  words[0] |= (uint64_t{1} << 3) | (uint64_t{1} << 5);
  const auto overstated = IdFilter::Bitmap(words);
  ASSERT_GT(*overstated.count(), g.kN);
  SearchParams over;
  over.filter = &overstated;
  const Results r = Search(*g.hnsw, g.queries, 4, over);
  for (size_t q = 0; q < g.kQueries; ++q) {
    const std::set<uint32_t> got(r.Ids(q), r.Ids(q) + 2);
    EXPECT_EQ(got, (std::set<uint32_t>{3, 5}));
    EXPECT_EQ(r.Ids(q)[2], kNoId);
  }
  // A filter that allows nothing.
  const auto none = IdFilter::Allow({});
  SearchParams p;
  p.filter = &none;
  EXPECT_EQ(Search(*g.hnsw, g.queries, 3, p).ids, std::vector<uint32_t>(g.kQueries * 3, kNoId));
}

TEST(HnswGraph, ConcurrentSearchesAgree) {
  SmallGraph g;
  SearchParams p;
  p.ef = 20;
  const Results want = Search(*g.hnsw, g.queries, g.kK, p);
  std::vector<Results> got(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < got.size(); ++t) {
    // Different ef per thread at the same time: ef is per call, not shared.
    threads.emplace_back([&, t] {
      SearchParams mine;
      mine.ef = t % 2 ? 20 : 200;
      for (int rep = 0; rep < 5; ++rep) got[t] = Search(*g.hnsw, g.queries, g.kK, mine);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(got[1], want);
  EXPECT_EQ(got[3], want);
  EXPECT_EQ(got[0], got[2]);
}

// ---- removal -------------------------------------------------------------------

TEST(HnswIndex, RemovedIdsAreNeverReturned) {
  const size_t n = 6000, dim = 16, nq = 100, k = 10;
  const auto data = RandomVectors(n, dim, 21);
  const auto ids = Iota(n);
  const auto queries = RandomVectors(nq, dim, 22);
  auto index = Make("hnsw:M=12,efc=100,exact_below=0,metric=l2", dim, 2);
  ASSERT_TRUE(index->Add(n, data.data(), ids.data()).ok());
  // Remove every id that is some query's current best, plus a third of the rest.
  std::set<uint32_t> removed;
  const Results before = Search(*index, queries, k);
  for (size_t q = 0; q < nq; ++q) removed.insert(before.Ids(q)[0]);
  for (uint32_t id = 0; id < n; id += 3) removed.insert(id);
  for (uint32_t id : removed) ASSERT_TRUE(index->Remove(id).ok());
  EXPECT_EQ(index->Remove(*removed.begin()).code(), StatusCode::kNotFound);
  EXPECT_EQ(index->Remove(999999).code(), StatusCode::kNotFound);
  EXPECT_EQ(index->size(), n - removed.size());
  EXPECT_FALSE(index->Contains(*removed.begin()));

  TempDir dir;
  ASSERT_TRUE(index->Save(dir / "v").ok());
  auto loaded = LoadVectorIndex(dir / "v");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  for (const VectorIndex* idx : {index.get(), loaded->get()}) {
    for (size_t ef : {10, 100}) {
      SearchParams p;
      p.ef = ef;
      const Results r = Search(*idx, queries, k, p);
      for (uint32_t id : r.ids) {
        ASSERT_NE(id, kNoId);
        ASSERT_FALSE(removed.count(id)) << id;
      }
    }
  }
  // The exact answer over what is left.
  std::vector<float> kept;
  std::vector<uint32_t> kept_ids;
  for (uint32_t id = 0; id < n; ++id) {
    if (removed.count(id)) continue;
    kept.insert(kept.end(), data.begin() + id * dim, data.begin() + (id + 1) * dim);
    kept_ids.push_back(id);
  }
  SearchParams p;
  p.exact = true;
  const Results r = Search(**loaded, queries, k, p);
  ExpectMatchesNaive(NaiveSearch(kept, kept_ids, dim, queries.data(), Metric::kL2), r.Ids(0), r.Scores(0), k);

  // Re-adding brings an id back.
  const uint32_t back = *removed.begin();
  ASSERT_TRUE(index->Add(1, queries.data(), &back).ok());
  EXPECT_TRUE(index->Contains(back));
  EXPECT_EQ(Search(*index, std::vector<float>(queries.begin(), queries.begin() + dim), 1).ids[0], back);
}

// ---- files ---------------------------------------------------------------------

std::string SmallIndexFile(const TempDir& dir, const std::string& spec) {
  const size_t n = 300, dim = 8;
  const auto data = RandomVectors(n, dim, 31);
  const auto ids = Iota(n);
  auto index = Make(spec, dim);
  EXPECT_TRUE(index->Add(n, data.data(), ids.data()).ok());
  EXPECT_TRUE(index->Remove(5).ok());
  const std::string path = dir / (spec.substr(0, 4) + ".vec");
  EXPECT_TRUE(index->Save(path).ok());
  return path;
}

// Loads `bytes` as an index file; when it loads, it must be usable.
Status LoadBytes(const TempDir& dir, const std::string& bytes) {
  const std::string path = dir / "damaged.vec";
  WriteText(path, bytes);
  auto index = LoadVectorIndex(path);
  if (index.ok()) {
    const auto q = RandomVectors(2, (*index)->dim(), 1);
    (void)Search(**index, q, 5);
    return Status::Ok();
  }
  return index.status();
}

TEST(VectorFile, MissingWrongMagicVersionAndDimension) {
  TempDir dir;
  const std::string path = SmallIndexFile(dir, "hnsw:exact_below=0");
  EXPECT_EQ(LoadVectorIndex(dir / "nope.vec").status().code(), StatusCode::kNotFound);

  std::string bytes = ReadText(path);
  std::string bad = bytes;
  bad[0] = 'X';
  Status s = LoadBytes(dir, bad);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("magic"), std::string::npos) << s.message();
  EXPECT_EQ(LoadBytes(dir, "SOUK").code(), StatusCode::kCorruption);
  EXPECT_EQ(LoadBytes(dir, "").code(), StatusCode::kCorruption);

  bad = bytes;
  bad[8] = 7;  // version
  s = LoadBytes(dir, bad);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("version 7"), std::string::npos) << s.message();

  auto wrong_dim = LoadVectorIndex(path, 16);
  EXPECT_EQ(wrong_dim.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(wrong_dim.status().message().find("expected 16"), std::string::npos);
  EXPECT_TRUE(LoadVectorIndex(path, 8).ok());

  // Saving where it cannot write is an I/O error.
  auto index = Make("exact", 2);
  EXPECT_EQ(index->Save(dir / "no/such/dir/x.vec").code(), StatusCode::kIoError);
}

TEST(VectorFile, EveryTruncationIsAnError) {
  TempDir dir;
  for (const char* spec : {"exact", "hnsw:exact_below=0"}) {
    const std::string bytes = ReadText(SmallIndexFile(dir, spec));
    ASSERT_TRUE(LoadBytes(dir, bytes).ok());
    for (size_t len = 0; len < bytes.size(); len += (len < 200 ? 1 : 97)) {
      const Status s = LoadBytes(dir, bytes.substr(0, len));
      ASSERT_EQ(s.code(), StatusCode::kCorruption) << spec << " cut at " << len << ": " << s.ToString();
    }
    EXPECT_EQ(LoadBytes(dir, bytes.substr(0, bytes.size() - 1)).code(), StatusCode::kCorruption);
    EXPECT_EQ(LoadBytes(dir, bytes + "x").code(), StatusCode::kCorruption);
  }
}

TEST(VectorFile, FlippedBytesFailTheChecksum) {
  TempDir dir;
  const std::string bytes = ReadText(SmallIndexFile(dir, "hnsw:exact_below=0"));
  for (size_t pos = 0; pos < bytes.size(); pos += 61) {
    std::string bad = bytes;
    bad[pos] ^= 0x10;
    EXPECT_EQ(LoadBytes(dir, bad).code(), StatusCode::kCorruption) << "byte " << pos;
  }
}

// With the checksum re-signed, damage reaches the structural checks: any
// byte may change, and the result must be an error or a usable index.
TEST(VectorFile, ResignedDamageNeverCrashes) {
  TempDir dir;
  const std::string bytes = ReadText(SmallIndexFile(dir, "hnsw:exact_below=0"));
  auto resign = [](std::string b) {
    internal::Hasher h;
    h.Update(b.data(), b.size() - 8);
    const uint64_t d = h.Digest();
    std::memcpy(b.data() + b.size() - 8, &d, 8);
    return b;
  };
  ASSERT_TRUE(LoadBytes(dir, resign(bytes)).ok());
  std::mt19937 rng(41);
  size_t errors = 0;
  for (int trial = 0; trial < 1500; ++trial) {
    std::string bad = bytes;
    const size_t pos = rng() % (bytes.size() - 8);
    bad[pos] = static_cast<char>(rng() % 2 ? bad[pos] ^ (1 << (rng() % 8)) : rng());
    const Status s = LoadBytes(dir, resign(bad));
    if (!s.ok()) {
      ++errors;
      EXPECT_EQ(s.code(), StatusCode::kCorruption) << "byte " << pos << ": " << s.ToString();
    }
  }
  EXPECT_GT(errors, 0u);
}

}  // namespace
}  // namespace souk::vector
