// The feature store against a brute-force recomputation from raw events,
// point-in-time replay, BM25 per field, and the XGBoost ranker (learns a
// planted preference, saves and loads, refuses corrupt or foreign models).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <functional>
#include <limits>

#include "rank/rank.h"
#include "text/text.h"

namespace souk::rank {
namespace {

constexpr int64_t kDay = 86'400'000;

std::vector<ItemRow> Catalog() {
  std::vector<ItemRow> items;
  const char* cats[] = {"shoes > running", "shoes > trail", "bags > backpacks"};
  const char* brands[] = {"acme", "zeta", ""};
  for (uint32_t i = 0; i < 30; ++i) {
    ItemRow r{};
    r.id = i;
    r.ext_id = "I" + std::to_string(i);
    r.known = true;
    r.deleted = false;
    r.title = i % 10 == 9 ? "" : "item number " + std::to_string(i) + (i % 3 == 0 ? " running shoe" : " backpack");
    r.brand = brands[i % 3];
    r.category = cats[i % 3];
    r.price = i % 7 == 6 ? std::nan("") : 10.0 + 5.0 * i;
    r.stock = static_cast<int64_t>(i % 4) - 1;
    items.push_back(r);
  }
  return items;
}

struct Ev {
  UserId user;
  ItemId item;
  uint8_t type;
  int64_t ts;
};

std::vector<Ev> RandomEvents(size_t n, uint64_t seed) {
  std::vector<Ev> out;
  uint64_t x = seed;
  auto next = [&] {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return x;
  };
  for (size_t i = 0; i < n; ++i) {
    Ev e{static_cast<UserId>(next() % 8), static_cast<ItemId>(next() % 30), static_cast<uint8_t>(next() % 4),
         static_cast<int64_t>(100 * kDay + static_cast<int64_t>(next() % (40 * kDay)))};
    out.push_back(e);
  }
  std::sort(out.begin(), out.end(), [](const Ev& a, const Ev& b) { return a.ts < b.ts; });
  return out;
}

TEST(FeatureStore, EqualsBruteForceRecomputation) {
  const auto items = Catalog();
  std::vector<UserRow> users(8);
  for (uint32_t u = 0; u < 8; ++u) users[u] = {u, "U" + std::to_string(u), true, u == 3 ? R"({"region":"north","device":"ios"})" : "{}"};
  const auto events = RandomEvents(3000, 42);
  FeatureOptions fo;
  auto store = FeatureStore::Build(items, users, fo);
  for (const Ev& e : events) store->Apply(e.user, e.item, e.type, e.ts);
  const int64_t now = events.back().ts;
  EXPECT_EQ(store->last_ms(), now);

  // Global rates, as the priors use them.
  double tot[4] = {0, 0, 0, 0};
  for (const Ev& e : events) ++tot[e.type];
  for (ItemId i = 0; i < 30; ++i) {
    uint64_t c[4] = {0, 0, 0, 0};
    double w1 = 0, w7 = 0, w30 = 0;
    int64_t first = -1;
    for (const Ev& e : events) {
      if (e.item != i) continue;
      ++c[e.type];
      if (first < 0) first = e.ts;
      const int64_t age = now / kDay - e.ts / kDay;
      w1 += age < 1, w7 += age < 7, w30 += age < 30;
    }
    const ItemFeatures f = store->Item(i, now);
    EXPECT_EQ(f.views, c[0]);
    EXPECT_EQ(f.clicks, c[1]);
    EXPECT_EQ(f.carts, c[2]);
    EXPECT_EQ(f.purchases, c[3]);
    const double ctr0 = (tot[1] + 1) / (tot[0] + 10);
    EXPECT_NEAR(f.ctr, (c[1] + fo.prior_views * ctr0) / (c[0] + fo.prior_views), 1e-12);
    EXPECT_DOUBLE_EQ(f.pop_1d, w1);
    EXPECT_DOUBLE_EQ(f.pop_7d, w7);
    EXPECT_DOUBLE_EQ(f.pop_30d, w30);
    EXPECT_NEAR(f.age_days, static_cast<double>(now - first) / kDay, 1e-9);
    // Price percentile within the category.
    if (!std::isnan(items[i].price)) {
      std::vector<double> same;
      for (const auto& r : items)
        if (r.category == items[i].category && !std::isnan(r.price)) same.push_back(r.price);
      double below = 0;
      for (double p : same) below += p < items[i].price;
      EXPECT_NEAR(f.price_pct, below / (same.size() - 1), 1e-12) << i;
    } else {
      EXPECT_TRUE(std::isnan(f.price_pct));
      EXPECT_TRUE(f.quality_flags & 1);
    }
    EXPECT_EQ((f.quality_flags & 4) != 0, items[i].title.size() < 3);
  }
  // User profiles: category shares and the price band, weights 1/2/3/4 by type.
  for (UserId u = 0; u < 8; ++u) {
    std::map<std::string, double> cat;
    double total = 0, lw = 0, ls = 0, ls2 = 0, money = 0;
    uint64_t n = 0;
    int64_t last = -1;
    for (const Ev& e : events) {
      if (e.user != u) continue;
      const double w = e.type + 1.0;
      ++n;
      last = e.ts;
      total += w;
      cat[items[e.item].category] += w;
      if (!std::isnan(items[e.item].price)) {
        const double lp = std::log(items[e.item].price);
        lw += w, ls += w * lp, ls2 += w * lp * lp;
        if (e.type == 3) money += items[e.item].price;
      }
    }
    const UserProfile p = store->Profile(u, now);
    EXPECT_EQ(p.events, n);
    EXPECT_NEAR(p.recency_days, static_cast<double>(now - last) / kDay, 1e-9);
    EXPECT_NEAR(p.monetary, money, 1e-6);
    EXPECT_NEAR(p.log_price_mean, ls / lw, 1e-9);
    EXPECT_NEAR(p.log_price_sd, std::sqrt(ls2 / lw - (ls / lw) * (ls / lw)), 1e-6);
    ASSERT_FALSE(p.categories.empty());
    for (const auto& [c, share] : p.categories) EXPECT_NEAR(share, cat[c] / total, 1e-6) << c;
    if (u == 3) {
      ASSERT_EQ(p.attributes.size(), 2u);
      EXPECT_EQ(p.attributes[0], (std::pair<std::string, std::string>{"region", "north"}));
    }
  }
}

TEST(FeatureStore, ReplayIsPointInTime) {
  const auto items = Catalog();
  std::vector<UserRow> users(8);
  for (uint32_t u = 0; u < 8; ++u) users[u] = {u, "U" + std::to_string(u), true, "{}"};
  const auto events = RandomEvents(2000, 7);
  EventColumns cols;
  for (size_t i = 0; i < events.size(); ++i) {
    // Stored out of time order on purpose; ApplyAll sorts.
    const Ev& e = events[events.size() - 1 - i];
    cols.rowid.push_back(static_cast<int64_t>(i));
    cols.user.push_back(e.user);
    cols.item.push_back(e.item);
    cols.type.push_back(e.type);
    cols.ts_ms.push_back(e.ts);
    cols.flags.push_back(i % 50 == 0 ? kFlagBot : 0);
  }
  const int64_t cut = events[events.size() / 2].ts;
  auto a = FeatureStore::Build(items, users);
  a->ApplyAll(cols, cut);
  auto b = FeatureStore::Build(items, users);
  for (size_t i = 0; i < events.size(); ++i) {
    const size_t c = events.size() - 1 - i;  // cols index of events[i]
    if (events[i].ts < cut && cols.flags[c] == 0) b->Apply(events[i].user, events[i].item, events[i].type, events[i].ts);
  }
  const auto& names = FeatureStore::FeatureNames();
  std::vector<float> xa(names.size()), xb(names.size());
  QueryContext q;
  for (UserId u = 0; u < 8; ++u)
    for (ItemId i = 0; i < 30; ++i) {
      a->Vector(u, i, q, cut, xa.data());
      b->Vector(u, i, q, cut, xb.data());
      for (size_t k = 0; k < names.size(); ++k)
        if (!(std::isnan(xa[k]) && std::isnan(xb[k]))) EXPECT_FLOAT_EQ(xa[k], xb[k]) << names[k];
    }
  EXPECT_LT(a->last_ms(), cut);
}

TEST(FieldScorer, ScoresTheFieldThatMatches) {
  const auto items = Catalog();
  auto analyzer = std::make_shared<const text::Analyzer>(text::AnalyzerOptions{}, nullptr);
  FieldScorer fs(items, analyzer);
  float s[FieldScorer::kFields];
  const auto terms = fs.Terms("acme running");
  fs.Score(terms, 0, s);  // "item number 0 running shoe", brand acme, category shoes > running
  EXPECT_GT(s[0], 0);     // title: running
  EXPECT_GT(s[1], 0);     // brand: acme
  EXPECT_GT(s[2], 0);     // category: running
  EXPECT_EQ(s[4], 0);     // no description
  fs.Score(terms, 1, s);  // a zeta backpack in shoes > trail
  EXPECT_EQ(s[0], 0);
  EXPECT_EQ(s[1], 0);
}

// Groups of 20 candidates where the relevant one has feature 2 (a planted
// preference) high; feature 0 is noise that BM25-like order follows.
RankingData Planted(size_t groups, uint64_t seed) {
  RankingData d;
  d.num_features = 3;
  uint64_t x = seed;
  auto u = [&] {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return static_cast<float>(x % 1000000) / 1e6f;
  };
  for (size_t g = 0; g < groups; ++g) {
    const size_t rel = static_cast<size_t>(u() * 20) % 20;
    for (size_t i = 0; i < 20; ++i) {
      d.x.push_back(u());                                         // noise
      d.x.push_back(static_cast<float>(i));                      // rank
      d.x.push_back(i == rel ? 0.6f + 0.4f * u() : 0.7f * u());  // the preference
      d.label.push_back(i == rel ? 2.0f : 0.0f);
    }
    d.group_sizes.push_back(20);
  }
  return d;
}

double MeanNdcg(const RankingData& d, const std::vector<float>& s) {
  double sum = 0;
  size_t at = 0;
  for (unsigned n : d.group_sizes) {
    std::vector<size_t> o(n);
    for (size_t i = 0; i < n; ++i) o[i] = at + i;
    std::stable_sort(o.begin(), o.end(), [&](size_t a, size_t b) { return s[a] > s[b]; });
    double dcg = 0;
    for (size_t r = 0; r < std::min<size_t>(10, n); ++r) dcg += (std::pow(2, d.label[o[r]]) - 1) / std::log2(r + 2);
    sum += dcg / (std::pow(2, 2.0) - 1);
    at += n;
  }
  return sum / static_cast<double>(d.group_sizes.size());
}

TEST(Ranker, LearnsAPlantedPreferenceSavesAndLoads) {
  const auto train = Planted(300, 1), valid = Planted(100, 2), test = Planted(200, 3);
  const std::vector<std::string> names = {"noise", "rank", "preference"};
  LtrOptions o;
  o.rounds = 60;
  o.threads = 1;
  LtrReport report;
  auto r = Ranker::Train(train, valid, names, o, &report);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto scores = (*r)->Score(test.x.data(), test.rows());
  ASSERT_TRUE(scores.ok());
  // The un-ranked order (by rank) against the model's.
  std::vector<float> by_rank(test.rows());
  for (size_t i = 0; i < test.rows(); ++i) by_rank[i] = -test.x[i * 3 + 1];
  EXPECT_GT(MeanNdcg(test, *scores), MeanNdcg(test, by_rank) + 0.3);
  ASSERT_FALSE(report.importance.empty());
  EXPECT_EQ(report.importance[0].first, "preference");
  EXPECT_GT(report.rounds, 0);

  const std::string path = (std::filesystem::temp_directory_path() / "souk-rank-test.json").string();
  ASSERT_TRUE((*r)->Save(path).ok());
  auto loaded = Ranker::Load(path, names);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  auto again = (*loaded)->Score(test.x.data(), test.rows());
  ASSERT_TRUE(again.ok());
  for (size_t i = 0; i < test.rows(); ++i) EXPECT_FLOAT_EQ((*again)[i], (*scores)[i]);
  // Other feature names: refused. A corrupt file: Corruption. None: NotFound.
  EXPECT_EQ(Ranker::Load(path, {"a", "b", "c"}).status().code(), StatusCode::kFailedPrecondition);
  { std::ofstream(path) << "{\"learner\": not json"; }
  EXPECT_EQ(Ranker::Load(path, names).status().code(), StatusCode::kCorruption);
  std::remove(path.c_str());
  EXPECT_EQ(Ranker::Load(path, names).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace souk::rank

namespace souk::rank {
namespace {

RuleRecord MakeRule(int64_t id, std::string kind, std::string query = "", std::string item = "", int pos = 0,
                    std::string filter = "") {
  RuleRecord r;
  r.id = id;
  r.kind = std::move(kind);
  r.query = std::move(query);
  r.item = std::move(item);
  r.position = pos;
  r.filter = std::move(filter);
  return r;
}

// Items 0..19; "filters" are sets of items (even, < 5, ...).
struct Fixture {
  std::vector<RuleRecord> rules;
  std::vector<std::function<bool(ItemId)>> filters;  // per rule
  RuleHooks Hooks() const {
    RuleHooks h;
    h.matches = [this](size_t r, ItemId i) { return filters[r] && filters[r](i); };
    h.lookup = [](const std::string& ext) {  // I0..I19 exist
      const auto id = static_cast<ItemId>(std::stoul(ext.substr(1)));
      return id < 20 ? id : kNoId;
    };
    h.out_of_stock = [](ItemId i) { return i == 7; };
    return h;
  }
  void Add(RuleRecord r, std::function<bool(ItemId)> f = {}) {
    rules.push_back(std::move(r));
    filters.push_back(std::move(f));
  }
};

std::vector<ItemId> Ranked(size_t n) {
  std::vector<ItemId> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<ItemId>(i);
  return v;
}

TEST(Rules, ApplyInTheDocumentedOrderWithoutDuplicatesOrShortfall) {
  Fixture f;
  f.Add(MakeRule(1, "hide", "", "I3"));                                          // hide item 3
  f.Add(MakeRule(2, "hide", "", "", 0, "odd<6"), [](ItemId i) { return i == 1 || i == 5; });  // hide 1 and 5
  f.Add(MakeRule(3, "boost", "", "", 0, ">=15"), [](ItemId i) { return i >= 15; });
  f.Add(MakeRule(4, "bury", "", "", 0, "0"), [](ItemId i) { return i == 0; });
  f.Add(MakeRule(5, "pin", "Shoes ", "I12", 2));  // for "shoes" only, normalised
  f.Add(MakeRule(6, "pin", "shoes", "I19", 1));
  f.Add(MakeRule(7, "pin", "", "I3", 1));   // hidden: no effect
  f.Add(MakeRule(8, "pin", "", "I99", 1));  // unknown: no effect
  RuleContext ctx;
  ctx.surface = "search";
  ctx.query = "  SHOES";
  ctx.k = 8;
  ctx.exclude_out_of_stock = true;
  // 20 candidates, some repeated.
  std::vector<ItemId> in = Ranked(20);
  in.push_back(4);
  const auto out = ApplyRules(f.rules, ctx, in, f.Hooks());
  // hide 1, 3, 5, 7 (out of stock); boost 15..19 first; bury 0 last;
  // then pins: 19 at 1, 12 at 2.
  EXPECT_EQ(out, (std::vector<ItemId>{19, 12, 15, 16, 17, 18, 2, 4}));
  std::set<ItemId> uniq(out.begin(), out.end());
  EXPECT_EQ(uniq.size(), out.size());
  // Another query: the query-bound pins do not apply; k results still.
  ctx.query = "boots";
  const auto other = ApplyRules(f.rules, ctx, in, f.Hooks());
  EXPECT_EQ(other, (std::vector<ItemId>{15, 16, 17, 18, 19, 2, 4, 6}));
  // Bury applied: with k = all, item 0 is last.
  ctx.k = 100;
  EXPECT_EQ(ApplyRules(f.rules, ctx, in, f.Hooks()).back(), 0u);
  // A rule for the search surface does not apply elsewhere.
  Fixture g;
  RuleRecord only = MakeRule(1, "hide", "", "I0");
  only.surface = "search";
  g.Add(only);
  RuleContext rec;
  rec.surface = "recommend";
  rec.k = 3;
  EXPECT_EQ(ApplyRules(g.rules, rec, Ranked(5), g.Hooks()), (std::vector<ItemId>{0, 1, 2}));
  rec.surface = "search";
  EXPECT_EQ(ApplyRules(g.rules, rec, Ranked(5), g.Hooks()), (std::vector<ItemId>{1, 2, 3}));
}

TEST(Rules, PinsDoNotShiftEachOtherAndPastTheEndAppend) {
  Fixture f;
  f.Add(MakeRule(1, "pin", "", "I0", 3));  // the top item pinned lower
  f.Add(MakeRule(2, "pin", "", "I4", 2));
  f.Add(MakeRule(3, "pin", "", "I9", 50));  // past the end: appended
  RuleContext ctx;
  ctx.surface = "search";
  ctx.k = 10;
  const auto out = ApplyRules(f.rules, ctx, Ranked(6), f.Hooks());
  EXPECT_EQ(out, (std::vector<ItemId>{1, 4, 0, 2, 3, 5, 9}));
}

TEST(Rules, ValidationSaysWhatIsMissing) {
  EXPECT_TRUE(ValidateRule(MakeRule(0, "pin", "q", "I1", 1)).ok());
  EXPECT_FALSE(ValidateRule(MakeRule(0, "pin", "q", "I1", 0)).ok());
  EXPECT_FALSE(ValidateRule(MakeRule(0, "boost")).ok());
  EXPECT_FALSE(ValidateRule(MakeRule(0, "hide", "", "I1", 0, "brand:x")).ok());
  EXPECT_FALSE(ValidateRule(MakeRule(0, "promote")).ok());
  RuleRecord r = MakeRule(0, "hide", "", "I1");
  r.surface = "recommend";
  EXPECT_TRUE(ValidateRule(r).ok());
  r.query = "shoes";  // recommendations have no query
  EXPECT_NE(ValidateRule(r).message().find("takes no query"), std::string::npos);
  r.surface = "email";
  EXPECT_NE(ValidateRule(r).message().find("search, recommend or empty"), std::string::npos);
}

}  // namespace
}  // namespace souk::rank

namespace souk::rank {
namespace {

// 60 items in 6 categories; relevance favours category 0 heavily.
TEST(Diversity, SameCategoryShareFallsAsLambdaRises) {
  std::vector<float> scores(60);
  std::vector<uint32_t> cat(60);
  std::vector<float> price(60), pop(60);
  for (uint32_t i = 0; i < 60; ++i) {
    cat[i] = i < 20 ? 0 : 1 + (i % 5);
    scores[i] = (i < 20 ? 10.0f : 5.0f) - 0.01f * static_cast<float>(i);
    price[i] = static_cast<float>(10 + i);
    pop[i] = static_cast<float>(100 - i);
  }
  auto same_share = [&](const std::vector<ItemId>& list) {
    double same = 0, pairs = 0;
    for (size_t a = 0; a < list.size(); ++a)
      for (size_t b = a + 1; b < list.size(); ++b) same += cat[list[a]] == cat[list[b]], ++pairs;
    return same / pairs;
  };
  DiversityOptions o;
  o.lambda = 0;
  const auto plain = Diversify(scores, cat, price, pop, 10, o);
  for (size_t j = 0; j < plain.size(); ++j) EXPECT_EQ(plain[j], j);  // lambda 0: relevance order
  double last = same_share(plain);
  EXPECT_DOUBLE_EQ(last, 1.0);
  for (double l : {0.3, 0.5, 0.8, 1.0}) {
    o.lambda = l;
    const auto list = Diversify(scores, cat, price, pop, 10, o);
    ASSERT_EQ(list.size(), 10u);
    std::set<ItemId> uniq(list.begin(), list.end());
    EXPECT_EQ(uniq.size(), 10u);
    const double share = same_share(list);
    EXPECT_LE(share, last + 1e-12) << l;
    last = share;
  }
  EXPECT_LT(last, 0.2);
  // Revenue and novelty weights: the pricier / less popular items move up.
  o.lambda = 0;
  o.w_relevance = 0;
  o.w_revenue = 1;
  EXPECT_EQ(Diversify(scores, cat, price, pop, 3, o), (std::vector<ItemId>{59, 58, 57}));
  o.w_revenue = 0;
  o.w_novelty = 1;
  EXPECT_EQ(Diversify(scores, cat, price, pop, 1, o)[0], 59u);
  // Never-recommend items (-inf) are not candidates.
  std::vector<float> some(60, -std::numeric_limits<float>::infinity());
  some[3] = 1, some[40] = 2;
  EXPECT_EQ(Diversify(some, cat, price, pop, 10, DiversityOptions{}), (std::vector<ItemId>{40, 3}));
}

}  // namespace
}  // namespace souk::rank

namespace souk::rank {
namespace {

// Clicks simulated from a known position-based model over rankings that
// vary (each pair shown at random positions): EM recovers the examination
// curve.
TEST(PositionBiasEm, RecoversTheExaminationCurve) {
  const int K = 10;
  std::vector<double> theta(K);
  for (int k = 0; k < K; ++k) theta[k] = 1.0 / std::pow(k + 1, 0.8);
  uint64_t x = 12345;
  auto u = [&] {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return static_cast<double>(x % 1000000) / 1e6;
  };
  std::vector<double> gamma(300);
  for (auto& g : gamma) g = 0.05 + 0.6 * u();
  std::vector<PositionObservation> obs;
  for (int s = 0; s < 20000; ++s) {
    // A page of K distinct pairs in random order.
    for (int k = 0; k < K; ++k) {
      const uint64_t pair = static_cast<uint64_t>(u() * 300) % 300;
      obs.push_back({pair, k + 1, u() < theta[k] * gamma[pair]});
    }
  }
  const PositionBias b = EstimatePositionBias(obs, K, 100);
  ASSERT_EQ(b.theta.size(), static_cast<size_t>(K));
  EXPECT_EQ(b.observations, obs.size());
  EXPECT_DOUBLE_EQ(b.theta[0], 1.0);
  for (int k = 1; k < K; ++k) EXPECT_NEAR(b.theta[k], theta[k], 0.06) << k;
  EXPECT_NEAR(b.Weight(5), 1.0 / theta[4], 0.4);
  EXPECT_DOUBLE_EQ(b.Weight(-1), 1.0);
  EXPECT_LE(b.Weight(10, 2.0), 2.0);
  // No clicks: nothing estimated, every weight 1.
  for (auto& o : obs) o.click = false;
  EXPECT_TRUE(EstimatePositionBias(obs, K).theta.empty());
}

}  // namespace
}  // namespace souk::rank

// ---- blended recommendation candidates, blend and ltr-recs --------------------------

#include <random>
#include <sstream>
#include <unordered_set>

#include "eval/eval.h"

namespace souk::rank {
namespace {

// A shop where what a user picks next follows their last item's category
// (80%) and their price band (items in it 5x likelier): 20 categories of 20
// items, a brand per 4 items, prices spread over two decades.
struct PlantedShop {
  std::vector<rec::Interaction> data;
  uint32_t users = 1500, items = 400;
  std::vector<uint32_t> category;
  rec::ItemContent content;
};
PlantedShop MakePlantedShop(uint64_t seed) {
  PlantedShop s;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  s.category.resize(s.items);
  s.content.prices.resize(s.items);
  s.content.brands.resize(s.items);
  s.content.titles.assign(s.items, ""), s.content.descriptions.assign(s.items, ""), s.content.categories.assign(s.items, "");
  std::vector<double> pop(s.items);
  for (uint32_t i = 0; i < s.items; ++i) {
    s.category[i] = i / 20;
    s.content.brands[i] = "b" + std::to_string(i / 4);
    s.content.prices[i] = std::pow(10.0, 1 + 2 * u(rng));
    pop[i] = 1.0 / (1 + (i % 20));  // popular items first in each category
  }
  int64_t t = 1'700'000'000'000;
  for (uint32_t user = 0; user < s.users; ++user) {
    const double band = 1 + 2 * u(rng);  // log10 of the user's usual price
    uint32_t cat = static_cast<uint32_t>(u(rng) * 20) % 20;
    const size_t n = 6 + static_cast<size_t>(u(rng) * 10);
    for (size_t j = 0; j < n; ++j) {
      if (u(rng) > 0.8) cat = static_cast<uint32_t>(u(rng) * 20) % 20;
      double total = 0;
      std::vector<double> w(20);
      for (uint32_t k = 0; k < 20; ++k) {
        const uint32_t i = cat * 20 + k;
        w[k] = pop[i] * (std::fabs(std::log10(s.content.prices[i]) - band) < 0.35 ? 5 : 1);
        total += w[k];
      }
      double r = u(rng) * total;
      uint32_t k = 0;
      while (k + 1 < 20 && (r -= w[k]) > 0) ++k;
      s.data.push_back({user, cat * 20 + k, 1.0f, t += 60'000, 0});
    }
  }
  return s;
}

rec::FitContext PlantedContext(const PlantedShop& s) {
  rec::FitContext ctx;
  ctx.threads = 2;
  ctx.item_category = s.category;
  ctx.content = &s.content;
  return ctx;
}

TEST(BlendCandidates, FuseDeduplicateAndSkipTheHistory) {
  RegisterRecModels();
  const PlantedShop shop = MakePlantedShop(7);
  const rec::Interactions data = rec::BuildInteractions(shop.data, shop.users, shop.items);
  const rec::FitContext ctx = PlantedContext(shop);
  auto ials = rec::MakeModel("ials:f=16,it=5");
  auto knn = rec::MakeModel("itemknn");
  auto pop = rec::MakeModel("pop");
  ASSERT_TRUE(ials.ok() && knn.ok() && pop.ok());
  ASSERT_TRUE((*ials)->Fit(data, ctx).ok());
  ASSERT_TRUE((*knn)->Fit(data, ctx).ok());
  ASSERT_TRUE((*pop)->Fit(data, ctx).ok());
  GeneratorSet g{ials->get(), knn->get(), pop->get(), nullptr};
  rec::History h;
  h.user = 3;
  for (uint32_t i : data.UserItems(3)) h.items.push_back(i);
  BlendOptions o;
  o.depth = 30;
  const auto cands = BlendCandidates(g, h, o);
  ASSERT_FALSE(cands.empty());
  std::unordered_set<uint32_t> seen(h.items.begin(), h.items.end()), out;
  for (size_t c = 0; c < cands.size(); ++c) {
    EXPECT_TRUE(out.insert(cands[c].item).second) << "item " << cands[c].item << " twice";
    EXPECT_FALSE(seen.count(cands[c].item)) << "a history item was proposed";
    // The fused score is the weighted reciprocal rank over the lists that hold it.
    double fused = 0;
    for (int k = 0; k < kGenerators; ++k)
      if (cands[c].rank[k] > 0) fused += o.Weight(k) / (60.0 + cands[c].rank[k]);
    EXPECT_NEAR(cands[c].fused, fused, 1e-12);
    if (c > 0) EXPECT_GE(cands[c - 1].fused, cands[c].fused);
    if (cands[c].rank[1] > 0) EXPECT_TRUE(seen.count(cands[c].because)) << "similar items name a history item";
    EXPECT_EQ(cands[c].rank[3], 0);  // no trending model
  }
  // Each list gives at most depth items; pop's list is pop's order.
  std::vector<float> scores(shop.items);
  (*pop)->Score(h, scores);
  const auto top = rec::TopK(scores, 200);
  std::vector<uint32_t> pop_order;
  for (const auto& x : top)
    if (!seen.count(x.item) && pop_order.size() < o.depth) pop_order.push_back(x.item);
  for (const auto& c : cands)
    if (c.rank[2] > 0) EXPECT_EQ(pop_order[c.rank[2] - 1], c.item);
  // A second model of the history adds its own list.
  GeneratorSet two = g;
  two.second = knn->get();
  const auto both = BlendCandidates(two, h, o);
  size_t from_second = 0;
  for (const auto& c : both) {
    from_second += c.rank[4] > 0;
    EXPECT_FALSE(seen.count(c.item));
  }
  EXPECT_GT(from_second, 0u);
  EXPECT_GE(both.size(), cands.size());
  // An unknown history: no user list, popularity still answers.
  rec::History none;
  const auto cold = BlendCandidates(g, none, o);
  ASSERT_EQ(cold.size(), o.depth);
  for (const auto& c : cold) {
    EXPECT_EQ(c.rank[0], 0);
    EXPECT_GT(c.rank[2], 0);
  }
}

double NdcgAt10(const rec::Model& m, const eval::Split& split, uint32_t items) {
  eval::EvalOptions eo;
  eo.threads = 2;
  eo.bootstrap = 0;
  auto r = eval::Evaluate(m, split, items, eo);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r->metrics.at("NDCG@10") : 0;
}

TEST(LtrRecs, BeatsTheBlendOnAPlantedPreferenceSavesAndLoads) {
  RegisterRecModels();
  const PlantedShop shop = MakePlantedShop(11);
  const eval::Split split = eval::LeaveOneOut(shop.data, shop.users, eval::Stage::kTest);
  const rec::Interactions train = rec::BuildInteractions(split.train, shop.users, shop.items);
  const rec::FitContext ctx = PlantedContext(shop);
  const std::string gens = "user=ials/f=16/it=8,depth=60";
  auto blend = rec::MakeModel("blend:" + gens);
  auto ltr = rec::MakeModel("ltr-recs:" + gens + ",users=1200,rounds=80");
  auto ials = rec::MakeModel("ials:f=16,it=8");
  ASSERT_TRUE(blend.ok() && ltr.ok() && ials.ok()) << ltr.status().ToString();
  EXPECT_TRUE((*ltr)->WantsContent());
  ASSERT_TRUE((*blend)->Fit(train, ctx).ok());
  ASSERT_TRUE((*ials)->Fit(train, ctx).ok());
  std::vector<std::string> log;
  rec::FitContext lctx = ctx;
  lctx.log = [&](const std::string& line) { log.push_back(line); };
  const Status st = (*ltr)->Fit(train, lctx);
  ASSERT_TRUE(st.ok()) << st.ToString();
  const double n_ials = NdcgAt10(**ials, split, shop.items);
  const double n_blend = NdcgAt10(**blend, split, shop.items);
  const double n_ltr = NdcgAt10(**ltr, split, shop.items);
  std::printf("NDCG@10 ials %.4f, blend %.4f, ltr-recs %.4f\n", n_ials, n_blend, n_ltr);
  EXPECT_GT(n_ltr, n_blend * 1.1);
  EXPECT_GT(n_ltr, n_ials * 1.1);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_NE(log[0].find("\"importance\""), std::string::npos);
  // Spec round trip, then the saved state scores the same.
  auto again = rec::MakeModel((*ltr)->Describe());
  ASSERT_TRUE(again.ok()) << (*ltr)->Describe() << ": " << again.status().ToString();
  EXPECT_EQ((*again)->Describe(), (*ltr)->Describe());
  std::stringstream state;
  ASSERT_TRUE((*ltr)->SaveState(state).ok());
  ASSERT_TRUE((*again)->LoadState(state).ok());
  std::vector<float> a(shop.items), b(shop.items);
  for (size_t c = 0; c < 50 && c < split.cases.size(); ++c) {
    (*ltr)->Score(split.cases[c].history, a);
    (*again)->Score(split.cases[c].history, b);
    for (uint32_t i = 0; i < shop.items; ++i) ASSERT_EQ(a[i], b[i]);
    for (uint32_t i : split.cases[c].history.items) EXPECT_EQ(a[i], -std::numeric_limits<float>::infinity());
  }
  // A truncated file is refused with Corruption.
  const std::string bytes = state.str();
  std::stringstream cut;
  ASSERT_TRUE((*ltr)->SaveState(cut).ok());
  std::stringstream half(cut.str().substr(0, cut.str().size() / 2));
  auto broken = rec::MakeModel((*ltr)->Describe());
  ASSERT_TRUE(broken.ok());
  EXPECT_EQ((*broken)->LoadState(half).code(), StatusCode::kCorruption);
}

TEST(LtrRecs, SaysWhyWhenThereIsTooLittleData) {
  RegisterRecModels();
  std::vector<rec::Interaction> tiny = {{0, 0, 1, 1, 0}, {0, 1, 1, 2, 0}, {1, 1, 1, 3, 0}};
  const rec::Interactions data = rec::BuildInteractions(tiny, 2, 2);
  auto m = rec::MakeModel("ltr-recs");
  ASSERT_TRUE(m.ok());
  const Status st = (*m)->Fit(data, rec::FitContext{});
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("3 or more items"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace souk::rank
