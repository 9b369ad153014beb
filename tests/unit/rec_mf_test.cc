// The matrix-factorisation recommenders (iALS, BPR) on interactions with a
// planted group structure: they must find it, beat popularity, save and load
// exactly, be reproducible per seed, fold in unseen histories, and refuse bad
// configurations.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "rec/rec.h"
#include "test_util.h"

namespace souk::rec {
namespace {

constexpr uint32_t kUsers = 600;
constexpr uint32_t kItems = 300;
constexpr uint32_t kGroups = 6;
constexpr uint32_t kItemsPerGroup = kItems / kGroups;
constexpr int kPerUser = 20;

uint32_t UserGroup(uint32_t u) { return u % kGroups; }
uint32_t ItemGroup(uint32_t i) { return i / kItemsPerGroup; }

// 600 users in 6 groups, 300 items in 6 groups of 50. Each user has 20
// distinct items, 85% from the own group (Zipf-like within the group, so
// popularity is a real baseline), the rest uniform over the catalog. One
// random item per user is held out.
struct Planted {
  Interactions train;
  std::vector<std::vector<uint32_t>> train_items;  // per user, sorted
  std::vector<uint32_t> held_out;                  // per user
};

Planted MakePlanted(uint64_t seed = 7) {
  std::mt19937_64 rng(seed);
  std::vector<double> zipf(kItemsPerGroup);
  for (uint32_t r = 0; r < kItemsPerGroup; ++r) zipf[r] = 1.0 / std::pow(r + 1.0, 0.7);
  std::discrete_distribution<uint32_t> in_group(zipf.begin(), zipf.end());
  std::uniform_int_distribution<uint32_t> any(0, kItems - 1);
  std::bernoulli_distribution own(0.85);

  Planted p;
  std::vector<Interaction> data;
  p.train_items.resize(kUsers);
  p.held_out.resize(kUsers);
  for (uint32_t u = 0; u < kUsers; ++u) {
    std::set<uint32_t> items;
    std::vector<uint32_t> order;
    while (items.size() < kPerUser) {
      const uint32_t i = own(rng) ? UserGroup(u) * kItemsPerGroup + in_group(rng) : any(rng);
      if (items.insert(i).second) order.push_back(i);
    }
    const size_t h = std::uniform_int_distribution<size_t>(0, order.size() - 1)(rng);
    p.held_out[u] = order[h];
    for (size_t k = 0; k < order.size(); ++k) {
      if (k == h) continue;
      data.push_back({u, order[k], 1.0f + static_cast<float>(k % 3), static_cast<int64_t>(k) * 1000, 0});
      p.train_items[u].push_back(order[k]);
    }
    std::sort(p.train_items[u].begin(), p.train_items[u].end());
  }
  p.train = BuildInteractions(data, kUsers, kItems);
  return p;
}

const Planted& Data() {
  static const Planted* planted = new Planted(MakePlanted());
  return *planted;
}

History UserHistory(const Planted& p, uint32_t u) {
  History h;
  h.user = u;
  h.items = p.train_items[u];
  return h;
}

std::unique_ptr<Model> Fitted(const std::string& spec, int threads = 1, uint64_t seed = 42) {
  auto model = MakeModel(spec);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  if (!model.ok()) return nullptr;
  FitContext ctx;
  ctx.threads = threads;
  ctx.seed = seed;
  const Status s = (*model)->Fit(Data().train, ctx);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return std::move(*model);
}

// Hit rate at 10 of the held-out items, seen items excluded.
double HitRate(const std::function<std::vector<ScoredItem>(uint32_t)>& recommend) {
  const Planted& p = Data();
  int hits = 0;
  for (uint32_t u = 0; u < kUsers; ++u) {
    for (const ScoredItem& x : recommend(u)) hits += x.item == p.held_out[u];
  }
  return static_cast<double>(hits) / kUsers;
}

double ModelHitRate(const Model& model) {
  std::vector<float> buffer;
  return HitRate([&](uint32_t u) { return Recommend(model, UserHistory(Data(), u), {}, &buffer); });
}

double PopularityHitRate() {
  const Planted& p = Data();
  std::vector<float> count(kItems, 0.0f);
  for (uint32_t i = 0; i < kItems; ++i) count[i] = static_cast<float>(p.train.ItemUsers(i).size());
  return HitRate([&](uint32_t u) {
    std::vector<float> scores = count;
    for (uint32_t i : p.train_items[u]) scores[i] = -INFINITY;
    return TopK(scores, 10);
  });
}

std::vector<float> Scores(const Model& model, const History& h) {
  std::vector<float> scores(model.num_items());
  model.Score(h, scores);
  return scores;
}

History Anonymous(uint32_t group) {
  History h;  // user = kNone
  for (uint32_t r = 0; r < 10; ++r) h.items.push_back(group * kItemsPerGroup + r * 3);
  return h;
}

class MfTest : public ::testing::TestWithParam<std::string> {};

TEST_P(MfTest, BeatsPopularityOnPlantedGroups) {
  const auto model = Fitted(GetParam());
  ASSERT_NE(model, nullptr);
  const double pop = PopularityHitRate();
  const double hr = ModelHitRate(*model);
  std::printf("HR@10 pop=%.3f %s=%.3f\n", pop, model->Describe().c_str(), hr);
  EXPECT_GT(hr, 2 * pop);  // planted data: ~0.4 vs ~0.09
}

TEST_P(MfTest, DescribeRebuildsTheSameConfiguration) {
  auto model = MakeModel(GetParam());
  ASSERT_TRUE(model.ok());
  auto again = MakeModel((*model)->Describe());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ((*again)->Describe(), (*model)->Describe());
  auto with_seed = MakeModel(GetParam() + ":seed=5,f=8");
  ASSERT_TRUE(with_seed.ok()) << with_seed.status().ToString();
  EXPECT_NE((*with_seed)->Describe().find("seed=5"), std::string::npos);
  EXPECT_NE((*with_seed)->Describe().find("f=8"), std::string::npos);
}

TEST_P(MfTest, SaveLoadRoundTripGivesIdenticalScores) {
  const auto model = Fitted(GetParam());
  ASSERT_NE(model, nullptr);
  souk::testing::TempDir dir;
  const std::string path = dir / "model.bin";
  ASSERT_TRUE(SaveModel(*model, path).ok());
  auto loaded = LoadModel(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->Describe(), model->Describe());
  ASSERT_EQ((*loaded)->num_items(), kItems);
  ASSERT_EQ((*loaded)->FactorDim(), model->FactorDim());
  EXPECT_TRUE(
      std::equal(model->ItemFactors(), model->ItemFactors() + kItems * model->FactorDim(), (*loaded)->ItemFactors()));
  for (const History& h : {UserHistory(Data(), 3), UserHistory(Data(), 599), Anonymous(4), History{}}) {
    EXPECT_EQ(Scores(**loaded, h), Scores(*model, h));
  }
  auto a = model->Similar(17, 5);
  auto b = (*loaded)->Similar(17, 5);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->size(), b->size());
  for (size_t k = 0; k < a->size(); ++k) EXPECT_EQ((*a)[k].item, (*b)[k].item);

  // A truncated file is refused, not half-loaded.
  const std::string text = souk::testing::ReadText(path);
  souk::testing::WriteText(path, text.substr(0, text.size() - 100));
  auto broken = LoadModel(path);
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.status().code(), StatusCode::kCorruption);
}

TEST_P(MfTest, SameSeedOneThreadIsDeterministic) {
  const auto a = Fitted(GetParam(), 1, 123);
  const auto b = Fitted(GetParam(), 1, 123);
  const auto c = Fitted(GetParam(), 1, 124);
  ASSERT_TRUE(a && b && c);
  const size_t n = kItems * a->FactorDim();
  EXPECT_TRUE(std::equal(a->ItemFactors(), a->ItemFactors() + n, b->ItemFactors()));
  EXPECT_FALSE(std::equal(a->ItemFactors(), a->ItemFactors() + n, c->ItemFactors()));
  EXPECT_EQ(Scores(*a, UserHistory(Data(), 10)), Scores(*b, UserHistory(Data(), 10)));
  EXPECT_EQ(Scores(*a, Anonymous(1)), Scores(*b, Anonymous(1)));
}

TEST_P(MfTest, MultithreadedFitStillFindsTheGroups) {
  const auto model = Fitted(GetParam(), 2);
  ASSERT_NE(model, nullptr);
  EXPECT_GT(ModelHitRate(*model), 2 * PopularityHitRate());
}

TEST_P(MfTest, FoldInRecommendsTheHistorysGroup) {
  const auto model = Fitted(GetParam());
  ASSERT_NE(model, nullptr);
  for (uint32_t g = 0; g < kGroups; ++g) {
    const History h = Anonymous(g);
    const std::vector<ScoredItem> top = Recommend(*model, h, {});
    ASSERT_EQ(top.size(), 10u);
    int in_group = 0;
    for (const ScoredItem& x : top) {
      in_group += ItemGroup(x.item) == g;
      EXPECT_EQ(std::count(h.items.begin(), h.items.end(), x.item), 0);
    }
    EXPECT_GE(in_group, 9) << "group " << g;
    // Same history, same answer (fold-in is deterministic).
    EXPECT_EQ(Scores(*model, h), Scores(*model, h));
  }
}

TEST_P(MfTest, UserVectorTimesItemFactorsIsTheScore) {
  const auto model = Fitted(GetParam());
  ASSERT_NE(model, nullptr);
  const size_t dim = model->FactorDim();
  for (const History& h : {UserHistory(Data(), 42), Anonymous(2)}) {
    const std::vector<float> x = model->UserVector(h);
    ASSERT_EQ(x.size(), dim);
    const std::vector<float> scores = Scores(*model, h);
    for (uint32_t i = 0; i < kItems; i += 37) {
      double dot = 0;
      for (size_t d = 0; d < dim; ++d) dot += double{x[d]} * model->ItemFactors()[i * dim + d];
      EXPECT_NEAR(dot, scores[i], 1e-4 * (1 + std::fabs(dot)));
    }
  }
}

TEST_P(MfTest, SimilarItemsShareTheGroup) {
  const auto model = Fitted(GetParam());
  ASSERT_NE(model, nullptr);
  auto similar = model->Similar(60, 10);  // a popular item of group 1
  ASSERT_TRUE(similar.ok()) << similar.status().ToString();
  ASSERT_EQ(similar->size(), 10u);
  int in_group = 0;
  for (const ScoredItem& x : *similar) {
    EXPECT_NE(x.item, 60u);
    in_group += ItemGroup(x.item) == 1;
  }
  EXPECT_GE(in_group, 9);
  EXPECT_FALSE(model->Similar(kItems, 10).ok());
}

TEST_P(MfTest, ReportsProgressPerEpoch) {
  auto model = MakeModel(GetParam() + ":it=4,f=8");
  ASSERT_TRUE(model.ok());
  std::vector<std::pair<uint64_t, uint64_t>> calls;
  FitContext ctx;
  ctx.progress = [&](uint64_t done, uint64_t total) { calls.emplace_back(done, total); };
  ASSERT_TRUE((*model)->Fit(Data().train, ctx).ok());
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls.back(), std::make_pair(uint64_t{4}, uint64_t{4}));
}

TEST_P(MfTest, EmptyAndOutOfRangeHistoriesAreHarmless) {
  const auto model = Fitted(GetParam() + ":it=2");
  ASSERT_NE(model, nullptr);
  History h;
  h.items = {kItems + 5, 1000000};
  h.weights = {2.0f, 3.0f};
  for (float s : Scores(*model, h)) EXPECT_TRUE(std::isfinite(s));
  EXPECT_EQ(Scores(*model, h), Scores(*model, History{}));
}

INSTANTIATE_TEST_SUITE_P(Models, MfTest, ::testing::Values("ials", "bpr"));

TEST(MfSpecTest, BadValuesAreRefusedByFit) {
  FitContext ctx;
  for (const char* spec : {"ials:f=0", "ials:reg=-1", "ials:a=-2", "ials:it=0", "ials:cg=0", "bpr:f=0", "bpr:reg=-1",
                           "bpr:lr=0", "bpr:it=0", "ials:f=100000"}) {
    auto model = MakeModel(spec);
    const Status s = model.ok() ? (*model)->Fit(Data().train, ctx) : model.status();
    EXPECT_FALSE(s.ok()) << spec;
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << spec;
  }
}

TEST(MfSpecTest, UnknownKeysAndNonNumbersAreRefusedByMakeModel) {
  EXPECT_FALSE(MakeModel("ials:factors=64").ok());
  EXPECT_FALSE(MakeModel("bpr:alpha=1").ok());
  EXPECT_FALSE(MakeModel("ials:f=abc").ok());
  EXPECT_FALSE(MakeModel("bpr:lr=fast").ok());
  EXPECT_TRUE(MakeModel("ials:f=16,reg=0.5,a=2,it=3,cg=2,seed=1").ok());
  EXPECT_TRUE(MakeModel("bpr:f=16,lr=0.1,reg=0.01,it=3,seed=1").ok());
}

TEST(MfSpecTest, IalsFactorsDoNotDependOnThreads) {
  const auto one = Fitted("ials:f=16,it=3", 1);
  const auto two = Fitted("ials:f=16,it=3", 2);
  ASSERT_TRUE(one && two);
  EXPECT_TRUE(std::equal(one->ItemFactors(), one->ItemFactors() + kItems * 16, two->ItemFactors()));
}

TEST(MfSpecTest, IalsWeightsRaiseConfidence) {
  // Two histories with the same items: the one weighting item 0 heavily
  // scores item 0 (and its group) higher relative to the rest.
  const auto model = Fitted("ials");
  ASSERT_NE(model, nullptr);
  History light, heavy;
  light.items = heavy.items = {0, 60, 0};
  light.weights = {1, 1, 1};
  heavy.weights = {10, 1, 10};
  const std::vector<float> a = Scores(*model, light), b = Scores(*model, heavy);
  EXPECT_GT(b[0] - b[60], a[0] - a[60]);
  // Repeated items are aggregated: weights empty = all 1.
  History plain;
  plain.items = {0, 60, 0};
  EXPECT_EQ(Scores(*model, plain), a);
}

}  // namespace
}  // namespace souk::rec
