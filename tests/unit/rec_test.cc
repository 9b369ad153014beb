// src/rec: interaction layouts, spec parsing, top-k, and the neighbourhood
// models (pop, trending, itemknn, sknn, ease) on small hand-made data whose
// answers can be worked out by hand. The factor models have rec_mf_test.
#include "rec/rec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "test_util.h"

namespace souk::rec {
namespace {

using souk::testing::TempDir;

constexpr int64_t kHour = 3600 * 1000;

Interaction X(uint32_t u, uint32_t i, int64_t ts, float w = 1, uint32_t session = 0) {
  return Interaction{u, i, w, ts, session};
}

std::vector<float> Scores(const Model& m, const History& h) {
  std::vector<float> s(m.num_items());
  m.Score(h, s);
  return s;
}

History Hist(std::vector<uint32_t> items) {
  History h;
  h.items = std::move(items);
  return h;
}

std::unique_ptr<Model> Fitted(const std::string& spec, const Interactions& data, FitContext ctx = {}) {
  auto m = MakeModel(spec);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  Status s = (*m)->Fit(data, ctx);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return std::move(*m);
}

TEST(Interactions, LayoutsAgree) {
  // u0: i2 (t=3), i0 (t=1), i2 again (t=5); u1: i1; u2: nothing.
  std::vector<Interaction> xs = {X(0, 2, 3, 1), X(1, 1, 2, 2), X(0, 0, 1, 4), X(0, 2, 5, 0.5)};
  Interactions m = BuildInteractions(xs, 3, 3);
  EXPECT_EQ(m.nnz(), 3u);
  ASSERT_EQ(m.UserItems(0).size(), 2u);
  EXPECT_EQ(m.UserItems(0)[0], 0u);
  EXPECT_EQ(m.UserItems(0)[1], 2u);
  EXPECT_FLOAT_EQ(m.UserWeights(0)[1], 1.5f);  // summed
  EXPECT_TRUE(m.UserItems(2).empty());
  ASSERT_EQ(m.ItemUsers(2).size(), 1u);
  EXPECT_EQ(m.ItemUsers(2)[0], 0u);
  // Sequence keeps repeats in time order.
  auto seq = m.Sequence(0);
  ASSERT_EQ(seq.size(), 3u);
  EXPECT_EQ(seq[0], 0u);
  EXPECT_EQ(seq[1], 2u);
  EXPECT_EQ(seq[2], 2u);
  EXPECT_EQ(m.max_ts_ms, 5);
}

TEST(Interactions, SessionsCutByKeyOrInactivity) {
  std::vector<Interaction> xs = {
      X(0, 0, 0),         X(0, 1, 10 * 60 * 1000),   // one implicit session (10 min gap)
      X(0, 2, 2 * kHour),                            // a new one after 2 h
      X(1, 3, 0, 1, 7),   X(1, 4, 5 * kHour, 1, 7),  // one explicit session despite the gap
  };
  Interactions m = BuildInteractions(xs, 2, 5);
  ASSERT_EQ(m.num_sessions(), 3u);
  std::vector<std::vector<uint32_t>> sessions;
  for (size_t s = 0; s < m.num_sessions(); ++s) sessions.emplace_back(m.Session(s).begin(), m.Session(s).end());
  std::sort(sessions.begin(), sessions.end());
  EXPECT_EQ(sessions[0], (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(sessions[1], (std::vector<uint32_t>{2}));
  EXPECT_EQ(sessions[2], (std::vector<uint32_t>{3, 4}));
}

TEST(Spec, ParsesAndRejects) {
  auto m = MakeModel("itemknn:k=20, shrink=5");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ((*m)->Describe(), "itemknn:k=20,shrink=5,w=0,maxu=500");
  // Describe() round-trips through MakeModel for every family.
  for (const std::string& name : ModelNames()) {
    auto a = MakeModel(name);
    ASSERT_TRUE(a.ok()) << name << ": " << a.status().ToString();
    auto b = MakeModel((*a)->Describe());
    ASSERT_TRUE(b.ok()) << (*a)->Describe() << ": " << b.status().ToString();
    EXPECT_EQ((*a)->Describe(), (*b)->Describe());
  }
  auto unknown = MakeModel("svd++");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unknown model 'svd++'"), std::string::npos);
  auto bad_key = MakeModel("itemknn:neighbours=5");
  ASSERT_FALSE(bad_key.ok());
  EXPECT_NE(bad_key.status().message().find("unknown parameter 'neighbours'"), std::string::npos);
  auto bad_value = MakeModel("itemknn:k=many");
  ASSERT_FALSE(bad_value.ok());
  EXPECT_NE(bad_value.status().message().find("k=many is not an integer"), std::string::npos);
  EXPECT_FALSE(MakeModel("itemknn:k").ok());
  EXPECT_FALSE(MakeModel("").ok());
  EXPECT_EQ(FormatNumber(0.01), "0.01");
  EXPECT_EQ(FormatNumber(10), "10");
}

TEST(TopK, OrdersAndSkipsInfinities) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> s = {0.5f, -inf, 2.0f, 0.5f, std::nanf(""), 1.0f};
  auto top = TopK(s, 4);
  ASSERT_EQ(top.size(), 4u);
  EXPECT_EQ(top[0].item, 2u);
  EXPECT_EQ(top[1].item, 5u);
  EXPECT_EQ(top[2].item, 0u);  // tie broken by lower id
  EXPECT_EQ(top[3].item, 3u);
  EXPECT_EQ(TopK(s, 10).size(), 4u);  // -inf and NaN never returned
  EXPECT_TRUE(TopK(s, 0).empty());
}

// Two communities: users 0-3 use items 0-2, users 4-7 use items 3-5; item 0
// is also bought by everyone, so it is the most popular.
Interactions Communities() {
  std::vector<Interaction> xs;
  int64_t t = 0;
  for (uint32_t u = 0; u < 8; ++u) {
    const uint32_t base = u < 4 ? 0 : 3;
    for (uint32_t j = 0; j < 3; ++j) {
      if ((u + j) % 4 != 3) xs.push_back(X(u, base + j, t += kHour));
    }
    if (base == 3) xs.push_back(X(u, 0, t += kHour));
  }
  return BuildInteractions(xs, 8, 6);
}

TEST(Popularity, CountsUsersAndExcludesSeen) {
  Interactions m = Communities();
  auto pop = Fitted("pop", m);
  auto s = Scores(*pop, Hist({}));
  EXPECT_FLOAT_EQ(s[0], 7);  // 3 of users 0-3, all 4 of users 4-7
  EXPECT_GT(s[0], s[1]);
  RecommendOptions ro;
  ro.k = 2;
  auto top = Recommend(*pop, Hist({0}), ro);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_NE(top[0].item, 0u);  // seen
  ro.exclude_seen = false;
  EXPECT_EQ(Recommend(*pop, Hist({0}), ro)[0].item, 0u);
  ro.filter = [](uint32_t i) { return i % 2 == 1; };
  for (const auto& x : Recommend(*pop, Hist({}), ro)) EXPECT_EQ(x.item % 2, 1u);
}

TEST(Popularity, PerCategoryRanksTheHistorysCategoriesFirst) {
  Interactions m = Communities();
  FitContext ctx;
  ctx.item_category = {0, 0, 0, 1, 1, 1};
  auto pop = Fitted("pop:cat=1", m, ctx);
  RecommendOptions ro;
  ro.k = 2;
  auto top = Recommend(*pop, Hist({4}), ro);  // a user of category 1
  ASSERT_EQ(top.size(), 2u);
  EXPECT_GE(top[0].item, 3u);
  EXPECT_GE(top[1].item, 3u);
}

TEST(Trending, RecentBeatsOld) {
  constexpr int64_t kDay = 24 * kHour;
  std::vector<Interaction> xs;
  for (uint32_t u = 0; u < 10; ++u) xs.push_back(X(u, 0, 0));         // item 0: 10 users, 30 days ago
  for (uint32_t u = 0; u < 3; ++u) xs.push_back(X(u, 1, 29 * kDay));  // item 1: 3 users, yesterday
  xs.push_back(X(9, 2, 30 * kDay));                                   // item 2: now
  Interactions m = BuildInteractions(xs, 10, 3);
  auto tr = Fitted("trending:half_life=3,window=14", m);
  auto s = Scores(*tr, Hist({}));
  EXPECT_GT(s[1], s[2]);
  EXPECT_GT(s[2], s[0]);  // item 0 is outside the window
  auto bad = MakeModel("trending:half_life=0");
  ASSERT_TRUE(bad.ok());
  EXPECT_FALSE((*bad)->Fit(m, {}).ok());
}

TEST(ItemKnn, CosineWithShrinkageByHand) {
  Interactions m = Communities();
  auto knn = Fitted("itemknn:k=10,shrink=0", m);
  // Items 3 and 4: users 4..7 with (u + j) % 4 != 3 -> item 3 (j=0): u=4,5,6;
  // item 4 (j=1): u=4,5,7. Overlap 2, norms sqrt(3) each: cosine 2/3.
  auto sim = knn->Similar(3, 10);
  ASSERT_TRUE(sim.ok());
  bool found = false;
  for (const auto& x : *sim) {
    if (x.item == 4) {
      EXPECT_NEAR(x.score, 2.0 / 3.0, 1e-6);
      found = true;
    }
    EXPECT_NE(x.item, 3u);
  }
  EXPECT_TRUE(found);
  auto shrunk = Fitted("itemknn:k=10,shrink=3", m);
  auto shrunk_sim = shrunk->Similar(3, 10);
  ASSERT_TRUE(shrunk_sim.ok());
  for (const auto& x : *shrunk_sim) {
    if (x.item == 4) {
      EXPECT_NEAR(x.score, 2.0 / 6.0, 1e-6);
    }
  }
  // A history in community 2 recommends community-2 items first.
  RecommendOptions ro;
  ro.k = 1;
  EXPECT_EQ(Recommend(*knn, Hist({3, 5}), ro)[0].item, 4u);
  EXPECT_FALSE(knn->Similar(99, 3).ok());
}

TEST(SessionKnn, NextItemFollowsNeighbourSessions) {
  // Sessions a -> b -> c repeated; a -> d rarely. Current session [a, b]
  // must put c first.
  std::vector<Interaction> xs;
  uint32_t user = 0;
  int64_t t = 0;
  for (int r = 0; r < 20; ++r, ++user) {
    for (uint32_t i : {0u, 1u, 2u}) xs.push_back(X(user, i, t += 60000));
  }
  for (int r = 0; r < 3; ++r, ++user) {
    for (uint32_t i : {0u, 3u}) xs.push_back(X(user, i, t += 60000));
  }
  Interactions m = BuildInteractions(xs, user, 5);
  auto sknn = Fitted("sknn", m);
  auto s = Scores(*sknn, Hist({0, 1}));
  EXPECT_GT(s[2], s[3]);
  EXPECT_GT(s[3], s[4]);  // item 4 was never seen: popularity fallback, below evidence
  RecommendOptions ro;
  ro.k = 1;
  EXPECT_EQ(Recommend(*sknn, Hist({0, 1}), ro)[0].item, 2u);
  // An empty or unknown history still ranks by popularity, never crashes.
  auto empty = Scores(*sknn, Hist({77}));
  EXPECT_GT(empty[0], empty[4]);
}

TEST(Ease, ClosedFormMatchesDefinition) {
  Interactions m = Communities();
  auto ease = Fitted("ease:lambda=1", m);
  // B = I - P diag(1/diag(P)) with P = (G + lambda I)^-1, so
  // (G + lambda I) B = (G + lambda I) - diag(1/diag(P)): off the diagonal,
  // sum_k (G + lambda I)[i][k] B[k][j] must equal G[i][j].
  const uint32_t n = m.num_items;
  std::vector<std::vector<double>> g(n, std::vector<double>(n, 0));
  for (uint32_t u = 0; u < m.num_users; ++u) {
    for (uint32_t a : m.UserItems(u)) {
      for (uint32_t b : m.UserItems(u)) g[a][b] += 1;
    }
  }
  for (uint32_t i = 0; i < n; ++i) g[i][i] += 1;
  std::vector<std::vector<float>> b(n);
  for (uint32_t k = 0; k < n; ++k) b[k] = Scores(*ease, Hist({k}));  // row k of B
  for (uint32_t k = 0; k < n; ++k) EXPECT_EQ(b[k][k], 0.0f);
  for (uint32_t i = 0; i < n; ++i) {
    for (uint32_t j = 0; j < n; ++j) {
      if (i == j) continue;
      double sum = 0;
      for (uint32_t k = 0; k < n; ++k) sum += g[i][k] * b[k][j];
      EXPECT_NEAR(sum, g[i][j], 1e-4) << i << "," << j;
    }
  }
  auto capped = MakeModel("ease:max_items=5");
  ASSERT_TRUE(capped.ok());
  Status s = (*capped)->Fit(m, {});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("above max_items=5"), std::string::npos);
}

TEST(Models, SaveLoadGivesIdenticalScores) {
  Interactions m = Communities();
  TempDir dir;
  for (const char* spec : {"pop", "trending", "itemknn", "sknn", "ease"}) {
    auto a = Fitted(spec, m);
    const std::string path = dir / (std::string(spec) + ".bin");
    ASSERT_TRUE(SaveModel(*a, path).ok());
    auto b = LoadModel(path);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    EXPECT_EQ((*b)->Describe(), a->Describe());
    for (const auto& h : {Hist({}), Hist({0}), Hist({3, 4}), Hist({1, 5, 2})}) {
      EXPECT_EQ(Scores(*a, h), Scores(**b, h)) << spec;
    }
  }
  // Truncated and foreign files are errors, not crashes.
  const std::string path = dir / "knn.bin";
  ASSERT_TRUE(SaveModel(*Fitted("itemknn", m), path).ok());
  std::string bytes = souk::testing::ReadText(path);
  souk::testing::WriteText(path, bytes.substr(0, bytes.size() / 2));
  auto truncated = LoadModel(path);
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.status().code(), StatusCode::kCorruption);
  souk::testing::WriteText(path, "not a model");
  EXPECT_FALSE(LoadModel(path).ok());
  EXPECT_EQ(LoadModel(dir / "missing.bin").status().code(), StatusCode::kNotFound);
}

TEST(Models, SameSeedSameModel) {
  Interactions m = Communities();
  for (const std::string& spec : ModelNames()) {
    FitContext ctx;
    ctx.seed = 7;
    auto a = Fitted(spec, m, ctx);
    auto b = Fitted(spec, m, ctx);
    for (const auto& h : {Hist({}), Hist({0, 1}), Hist({4})}) EXPECT_EQ(Scores(*a, h), Scores(*b, h)) << spec;
  }
}

TEST(Models, ScoreIgnoresItemsNewerThanTheModel) {
  Interactions m = Communities();
  for (const char* spec : {"pop", "itemknn", "sknn", "ease"}) {
    auto model = Fitted(spec, m);
    auto s = Scores(*model, Hist({100, 3}));  // item 100 arrived after training
    EXPECT_EQ(s.size(), 6u);
    for (float x : s) EXPECT_FALSE(std::isnan(x)) << spec;
  }
}

TEST(TrainingData, WeightsDecayFlagsAndHistories) {
  TempDir dir;
  auto store = Store::OpenSqlite(dir / "souk.db");
  ASSERT_TRUE(store.ok());
  constexpr int64_t kDay = 86400000;
  auto ev = [](const char* user, const char* item, EventType type, int64_t ts) {
    Event e;
    e.user = user;
    e.item = item;
    e.type = static_cast<int>(type);
    e.ts_ms = ts;
    return e;
  };
  WriteBatch b;
  b.events = {ev("u1", "a", EventType::kView, 0),          ev("u1", "a", EventType::kPurchase, kDay),
              ev("u1", "b", EventType::kCart, 2 * kDay),   ev("u2", "b", EventType::kClick, 2 * kDay),
              ev("u2", "c", EventType::kImpression, kDay), ev("u2", "", EventType::kSearch, kDay)};
  b.events.back().query = "mug";
  ASSERT_TRUE((*store)->Write(b).ok());
  EventWeights w;  // view 1, click 2, cart 4, purchase 8
  auto data = LoadTrainingData(**store, w);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  ASSERT_EQ(data->interactions.size(), 4u);  // impression and search weigh 0
  float total = 0;
  for (const auto& x : data->interactions) total += x.weight;
  EXPECT_FLOAT_EQ(total, 1 + 8 + 4 + 2);

  // Half-life of one day: the view two days before the latest event counts 1/4.
  w.half_life_days = 1;
  data = LoadTrainingData(**store, w);
  ASSERT_TRUE(data.ok());
  EXPECT_FLOAT_EQ(data->interactions[0].weight, 0.25f);
  EXPECT_FLOAT_EQ(data->interactions[1].weight, 4.0f);

  // Flagged events (souk clean) are left out unless asked for.
  auto cols = (*store)->LoadEvents();
  ASSERT_TRUE(cols.ok());
  ASSERT_TRUE((*store)->SetEventFlags({{cols->rowid[1], kFlagBot}}).ok());
  w.half_life_days = 0;
  data = LoadTrainingData(**store, w);
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(data->interactions.size(), 3u);
  w.include_flagged = true;
  EXPECT_EQ(LoadTrainingData(**store, w)->interactions.size(), 4u);

  // The history as stored now, in time order, and lookups of unknown ids.
  auto u1 = (*store)->FindUser("u1");
  ASSERT_TRUE(u1.ok());
  auto h = LoadHistory(**store, *u1, EventWeights{});
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->items.size(), 2u);  // the flagged purchase is left out
  EXPECT_EQ(h->weights, (std::vector<float>{1, 4}));
  EXPECT_EQ(*(*store)->FindUser("nobody"), kNoId);
  EXPECT_EQ(*(*store)->FindItem("zzz"), kNoId);
}

}  // namespace
}  // namespace souk::rec
