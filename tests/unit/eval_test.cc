#include "eval/eval.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <set>

#include "test_util.h"

namespace souk::eval {
namespace {

using souk::testing::ReadText;
using souk::testing::TempDir;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr uint32_t kNone = rec::kNone;

double InvLog2(double x) { return 1.0 / std::log2(x); }

// A real model of the interface: every history gets the same fixed scores.
class FixedModel : public rec::Model {
 public:
  explicit FixedModel(std::vector<float> scores, std::string describe = "fixed")
      : scores_(std::move(scores)), describe_(std::move(describe)) {}
  std::string Name() const override { return "fixed"; }
  std::string Describe() const override { return describe_; }
  Status Fit(const rec::Interactions&, const rec::FitContext&) override { return Status::Ok(); }
  void Score(const rec::History&, std::span<float> scores) const override {
    std::copy(scores_.begin(), scores_.end(), scores.begin());
  }
  uint32_t num_items() const override { return static_cast<uint32_t>(scores_.size()); }
  Status SaveState(std::ostream&) const override { return Status::Ok(); }
  Status LoadState(std::istream&) override { return Status::Ok(); }

 private:
  std::vector<float> scores_;
  std::string describe_;
};

rec::Interaction I(uint32_t user, uint32_t item, int64_t ts, uint32_t session = 0, float weight = 1) {
  return {user, item, weight, ts, session};
}

Case MakeCase(uint32_t user, std::vector<uint32_t> history, std::vector<uint32_t> targets) {
  Case c;
  c.user = user;
  c.history.user = user;
  c.history.items = std::move(history);
  c.targets = std::move(targets);
  return c;
}

std::vector<uint32_t> Items(const std::vector<rec::Interaction>& v) {
  std::vector<uint32_t> out;
  for (const auto& x : v) out.push_back(x.item);
  return out;
}

std::vector<int64_t> Times(const std::vector<rec::Interaction>& v) {
  std::vector<int64_t> out;
  for (const auto& x : v) out.push_back(x.ts_ms);
  return out;
}

// ---- metrics -------------------------------------------------------------------

TEST(Metrics, SingleTargetHandComputed) {
  const std::vector<uint32_t> ranked = {3, 1, 2};
  const std::vector<uint32_t> target = {1};
  EXPECT_EQ(HitRateAtK(ranked, target, 1), 0.0);
  EXPECT_EQ(HitRateAtK(ranked, target, 2), 1.0);
  EXPECT_DOUBLE_EQ(NdcgAtK(ranked, target, 2), InvLog2(3));
  EXPECT_EQ(NdcgAtK(ranked, target, 1), 0.0);
  EXPECT_DOUBLE_EQ(MrrAtK(ranked, target, 3), 0.5);
  EXPECT_EQ(MrrAtK(ranked, target, 1), 0.0);
  EXPECT_DOUBLE_EQ(RecallAtK(ranked, target, 2), 1.0);
  EXPECT_DOUBLE_EQ(MapAtK(ranked, target, 2), 0.5);
  const std::vector<uint32_t> absent = {9};
  EXPECT_EQ(HitRateAtK(ranked, absent, 3), 0.0);
  EXPECT_EQ(NdcgAtK(ranked, absent, 3), 0.0);
}

TEST(Metrics, MultipleTargetsHandComputed) {
  // Hits at positions 1 (item 7) and 3 (item 9); item 8 is never ranked.
  const std::vector<uint32_t> ranked = {5, 7, 2, 9, 4};
  const std::vector<uint32_t> targets = {7, 9, 8};
  EXPECT_EQ(HitRateAtK(ranked, targets, 5), 1.0);
  EXPECT_DOUBLE_EQ(RecallAtK(ranked, targets, 5), 2.0 / 3);
  EXPECT_DOUBLE_EQ(RecallAtK(ranked, targets, 2), 1.0 / 3);
  EXPECT_DOUBLE_EQ(NdcgAtK(ranked, targets, 5), (InvLog2(3) + InvLog2(5)) / (InvLog2(2) + InvLog2(3) + InvLog2(4)));
  // IDCG over min(|targets|, k) = 2 positions.
  EXPECT_DOUBLE_EQ(NdcgAtK(ranked, targets, 2), InvLog2(3) / (1 + InvLog2(3)));
  EXPECT_DOUBLE_EQ(MrrAtK(ranked, targets, 5), 0.5);
  // AP@5 = (1/2 + 2/4) / min(3, 5); AP@2 = (1/2) / min(3, 2).
  EXPECT_DOUBLE_EQ(MapAtK(ranked, targets, 5), 1.0 / 3);
  EXPECT_DOUBLE_EQ(MapAtK(ranked, targets, 2), 0.25);
  // A perfect list.
  const std::vector<uint32_t> perfect = {7, 9, 8, 1};
  EXPECT_DOUBLE_EQ(NdcgAtK(perfect, targets, 3), 1.0);
  EXPECT_DOUBLE_EQ(MapAtK(perfect, targets, 10), 1.0);
}

TEST(Metrics, TieRule) {
  const std::vector<float> others = {2, 1, 1, 1, 0};
  EXPECT_EQ(TargetRank(1, others), 1u + 3 / 2);  // one higher, three tied
  EXPECT_EQ(TargetRank(3, others), 0u);
  EXPECT_EQ(TargetRank(-1, others), 5u);
  const std::vector<float> one = {1};
  EXPECT_EQ(TargetRank(1, one), 0u);  // half of one tie rounds down
  const std::vector<float> two = {1, 1};
  EXPECT_EQ(TargetRank(1, two), 1u);
  // NaN and -inf targets are never ranked, even among -inf candidates, and
  // miss at every k however short the list.
  const std::vector<float> low = {-kInf, -kInf, 0};
  EXPECT_EQ(TargetRank(-kInf, low), kUnranked);
  EXPECT_EQ(TargetRank(std::numeric_limits<float>::quiet_NaN(), low), kUnranked);
  EXPECT_EQ(TargetRank(-kInf, {}), kUnranked);
  const std::vector<uint64_t> unranked = {kUnranked};
  EXPECT_EQ(AccuracyFromRanks(unranked, 100).hr, 0.0);
}

TEST(Metrics, TiedTargetsTakeConsecutivePositions) {
  // Two targets both at rank 0 (tied with each other only) fill positions 0 and 1.
  const std::vector<uint64_t> ranks = {0, 0};
  const Accuracy a = AccuracyFromRanks(ranks, 2);
  EXPECT_DOUBLE_EQ(a.ndcg, 1.0);
  EXPECT_DOUBLE_EQ(a.map, 1.0);
  EXPECT_DOUBLE_EQ(a.recall, 1.0);
  const Accuracy b = AccuracyFromRanks(ranks, 1);
  EXPECT_DOUBLE_EQ(b.recall, 0.5);
  EXPECT_DOUBLE_EQ(b.map, 1.0);
  EXPECT_EQ(AccuracyFromRanks({}, 5).hr, 0.0);
}

TEST(Metrics, BeyondAccuracy) {
  const std::vector<uint32_t> category = {0, 0, 1, kNone};
  EXPECT_DOUBLE_EQ(IntraListDiversity(std::vector<uint32_t>{0, 1, 2}, category), 2.0 / 3);
  // Item 3 has no category and item 9 is outside the table: only (0, 2) counts.
  EXPECT_DOUBLE_EQ(IntraListDiversity(std::vector<uint32_t>{0, 3, 2, 9}, category), 1.0);
  EXPECT_TRUE(std::isnan(IntraListDiversity(std::vector<uint32_t>{0}, category)));

  // Item 0: users 0, 1 (twice by user 0); item 1: user 1; item 2: nobody.
  const std::vector<rec::Interaction> train = {I(0, 0, 1), I(0, 0, 2), I(1, 0, 3), I(1, 1, 4)};
  const Popularity pop = ComputePopularity(train, 4);
  EXPECT_EQ(pop.users, (std::vector<uint32_t>{2, 1, 0, 0}));
  EXPECT_EQ(pop.num_users, 2u);
  // Mid-rank percentiles: items 2, 3 share the bottom, then 1, then 0.
  EXPECT_DOUBLE_EQ(pop.percentile[2], 1.0 / 4);
  EXPECT_DOUBLE_EQ(pop.percentile[1], 2.5 / 4);
  EXPECT_DOUBLE_EQ(pop.percentile[0], 3.5 / 4);
  // -log2(2/2) = 0, -log2(1/2) = 1, unseen counts as one user: 1.
  EXPECT_DOUBLE_EQ(Novelty(std::vector<uint32_t>{0, 1, 2}, pop), 2.0 / 3);
  EXPECT_DOUBLE_EQ(PopularityBias(std::vector<uint32_t>{0, 1}, pop), (3.5 / 4 + 2.5 / 4) / 2);
}

TEST(Metrics, BootstrapIsDeterministicAndContainsTheMean) {
  std::vector<double> values;
  std::mt19937 rng(7);
  for (int i = 0; i < 300; ++i) values.push_back(rng() % 3 == 0 ? 1.0 : 0.0);
  double mean = 0;
  for (double v : values) mean += v;
  mean /= static_cast<double>(values.size());
  const auto ci = BootstrapInterval(values, 1000, 42);
  EXPECT_LT(ci.first, mean);
  EXPECT_GT(ci.second, mean);
  EXPECT_GT(ci.first, 0.0);
  EXPECT_LT(ci.second, 1.0);
  EXPECT_EQ(BootstrapInterval(values, 1000, 42), ci);
  EXPECT_NE(BootstrapInterval(values, 1000, 43), ci);
  const std::vector<double> constant(50, 0.25);
  EXPECT_EQ(BootstrapInterval(constant, 200, 1), std::make_pair(0.25, 0.25));
  EXPECT_TRUE(std::isnan(BootstrapInterval({}, 100, 1).first));
}

// ---- protocols -------------------------------------------------------------------

TEST(Protocols, Parse) {
  auto full = ParseProtocol("full");
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->kind, Protocol::kFull);
  EXPECT_FALSE(full->exclude_seen.has_value());
  auto sampled = ParseProtocol("sampled:50");
  ASSERT_TRUE(sampled.ok());
  EXPECT_EQ(sampled->kind, Protocol::kSampled);
  EXPECT_EQ(sampled->negatives, 50);
  auto pop = ParseProtocol(" popsampled:7 , keep_seen ");
  ASSERT_TRUE(pop.ok());
  EXPECT_EQ(pop->kind, Protocol::kPopSampled);
  EXPECT_EQ(pop->negatives, 7);
  EXPECT_EQ(pop->exclude_seen, std::optional<bool>(false));
  EXPECT_EQ(ProtocolText(*pop), "popsampled:7,keep_seen");
  EXPECT_EQ(ProtocolText(*sampled), "sampled:50");
  for (const char* text : {"full", "sampled:100", "popsampled:3,exclude_seen", "full,keep_seen"}) {
    auto p = ParseProtocol(text);
    ASSERT_TRUE(p.ok()) << text;
    EXPECT_EQ(ProtocolText(*p), text);
  }
  for (const char* bad :
       {"", "bogus", "sampled:0", "sampled:abc", "sampled:-5", "full:3", "sampled:10,foo", "popsampled:99999999999"}) {
    auto p = ParseProtocol(bad);
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(p.status().message().find("sampled:N"), std::string::npos) << p.status().message();
    EXPECT_NE(p.status().message().find("'" + std::string(bad) + "'"), std::string::npos) << p.status().message();
  }
}

TEST(Protocols, UniformNegativesAvoidExcludedItemsAndCountIsExact) {
  const NegativeSampler sampler(50);
  const std::vector<uint32_t> exclude = {3, 1, 2, 4, 2, 77};  // history 1, 2, 3, (2 again), target 4, junk id
  for (uint64_t seed = 0; seed < 50; ++seed) {
    std::mt19937_64 rng(seed);
    const auto neg = sampler.Sample(exclude, 20, rng);
    ASSERT_EQ(neg.size(), 20u);
    std::set<uint32_t> distinct(neg.begin(), neg.end());
    EXPECT_EQ(distinct.size(), 20u);
    for (uint32_t i : neg) {
      EXPECT_LT(i, 50u);
      EXPECT_EQ(std::count(exclude.begin(), exclude.end(), i), 0) << i;
    }
  }
  std::mt19937_64 a(9), b(9);
  EXPECT_EQ(sampler.Sample(exclude, 10, a), sampler.Sample(exclude, 10, b));
  // Fewer eligible items than asked: all of them.
  const NegativeSampler small(6);
  std::mt19937_64 rng(1);
  auto all = small.Sample(std::vector<uint32_t>{0, 1, 2}, 10, rng);
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, (std::vector<uint32_t>{3, 4, 5}));
  // A pool barely larger than n (rejection mostly fails): still exact.
  std::vector<uint32_t> most(980);
  for (uint32_t i = 0; i < 980; ++i) most[i] = i;
  const NegativeSampler big(1000);
  auto few = big.Sample(most, 15, rng);
  ASSERT_EQ(few.size(), 15u);
  EXPECT_EQ(std::set<uint32_t>(few.begin(), few.end()).size(), 15u);
  for (uint32_t i : few) EXPECT_GE(i, 980u);
}

TEST(Protocols, PopularityNegativesFollowWeights) {
  // Item 0 carries almost all the mass; items 2 and 4 have none.
  const NegativeSampler sampler(6, {1000, 1, 0, 1, 0, 1});
  size_t zero_drawn = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    std::mt19937_64 rng(seed);
    const auto neg = sampler.Sample(std::vector<uint32_t>{5}, 1, rng);
    ASSERT_EQ(neg.size(), 1u);
    EXPECT_TRUE(neg[0] == 0 || neg[0] == 1 || neg[0] == 3) << neg[0];
    zero_drawn += neg[0] == 0;
  }
  EXPECT_GT(zero_drawn, 190u);
  std::mt19937_64 rng(3);
  auto two = sampler.Sample(std::vector<uint32_t>{0}, 2, rng);  // pool {1, 3, 5}
  ASSERT_EQ(two.size(), 2u);
  EXPECT_NE(two[0], two[1]);
  for (uint32_t i : two) EXPECT_TRUE(i == 1 || i == 3 || i == 5) << i;
  auto everything = sampler.Sample(std::vector<uint32_t>{0}, 5, rng);
  std::sort(everything.begin(), everything.end());
  EXPECT_EQ(everything, (std::vector<uint32_t>{1, 3, 5}));
}

// ---- splits ----------------------------------------------------------------------

TEST(Splits, LeaveOneOut) {
  const std::vector<rec::Interaction> data = {
      I(0, 1, 10), I(1, 1, 15), I(0, 2, 20), I(2, 5, 50), I(0, 4, 40),
      I(2, 6, 5),  I(0, 3, 30), I(1, 2, 25), I(2, 7, 50),  // user 2: 6@5, then 5@50 and 7@50 in input order
  };
  const Split test = LeaveOneOut(data, 3, Stage::kTest);
  EXPECT_EQ(test.name, "loo-test");
  EXPECT_TRUE(test.exclude_seen);
  // Held out: user 0's item 4 (ts 40) and user 2's item 7 (the later of two at ts 50).
  EXPECT_EQ(Items(test.train), (std::vector<uint32_t>{1, 1, 2, 5, 6, 3, 2}));
  ASSERT_EQ(test.cases.size(), 2u);  // user 1 has only two interactions
  EXPECT_EQ(test.cases[0].user, 0u);
  EXPECT_EQ(test.cases[0].history.user, 0u);
  EXPECT_EQ(test.cases[0].history.items, (std::vector<uint32_t>{1, 2, 3}));
  EXPECT_EQ(test.cases[0].history.ts_ms, (std::vector<int64_t>{10, 20, 30}));
  EXPECT_EQ(test.cases[0].history.weights, (std::vector<float>{1, 1, 1}));
  EXPECT_EQ(test.cases[0].targets, (std::vector<uint32_t>{4}));
  EXPECT_EQ(test.cases[1].user, 2u);
  EXPECT_EQ(test.cases[1].history.items, (std::vector<uint32_t>{6, 5}));
  EXPECT_EQ(test.cases[1].targets, (std::vector<uint32_t>{7}));

  const Split val = LeaveOneOut(data, 3, Stage::kValidation);
  EXPECT_EQ(val.name, "loo-validation");
  EXPECT_EQ(Items(val.train), (std::vector<uint32_t>{1, 1, 2, 6, 2}));
  ASSERT_EQ(val.cases.size(), 2u);
  EXPECT_EQ(val.cases[0].history.items, (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(val.cases[0].targets, (std::vector<uint32_t>{3}));
  EXPECT_EQ(val.cases[1].history.items, (std::vector<uint32_t>{6}));
  EXPECT_EQ(val.cases[1].targets, (std::vector<uint32_t>{5}));
}

TEST(Splits, LeaveOneOutTargetsTheLastNewItem) {
  // A shop log: view, cart and purchase of item 3 at the end; item 1 viewed
  // again after item 3 was first met. The test target is item 3 (the last
  // item met for the first time), held out from its first view on together
  // with everything later; validation targets item 2.
  const std::vector<rec::Interaction> data = {
      I(0, 1, 10), I(0, 2, 20), I(0, 1, 25), I(0, 3, 30), I(0, 1, 35), I(0, 3, 40),
      I(0, 3, 50), I(1, 5, 10), I(1, 5, 20), I(1, 5, 30), I(1, 6, 40),  // user 1: two distinct items only
  };
  const Split test = LeaveOneOut(data, 2, Stage::kTest);
  ASSERT_EQ(test.cases.size(), 1u);
  EXPECT_EQ(test.cases[0].history.items, (std::vector<uint32_t>{1, 2, 1}));
  EXPECT_EQ(test.cases[0].targets, (std::vector<uint32_t>{3}));
  EXPECT_EQ(Items(test.train), (std::vector<uint32_t>{1, 2, 1, 5, 5, 5, 6}));
  const Split val = LeaveOneOut(data, 2, Stage::kValidation);
  ASSERT_EQ(val.cases.size(), 1u);
  EXPECT_EQ(val.cases[0].history.items, (std::vector<uint32_t>{1}));
  EXPECT_EQ(val.cases[0].targets, (std::vector<uint32_t>{2}));
  EXPECT_EQ(Items(val.train), (std::vector<uint32_t>{1, 5, 5, 5, 6}));
}

TEST(Splits, Temporal) {
  const std::vector<rec::Interaction> data = {
      I(0, 0, 1),  I(0, 1, 2),  I(0, 2, 9), I(0, 0, 10), I(0, 6, 13), I(0, 6, 14),  // user 0
      I(1, 1, 3),  I(1, 2, 4),  I(1, 3, 5),                                         // user 1: all before
      I(2, 4, 6),  I(2, 5, 7),  I(2, 4, 8),                                         // user 2: all before
      I(3, 1, 11),                                                                  // user 3: all after
      I(4, 3, 0),  I(4, 3, 12),                                                     // user 4: repeats only
  };
  // 15 distinct timestamps 0..14; cutoff = sorted[floor(0.62 * 15) = 9] = 9.
  auto split = Temporal(data, 5, 0.62);
  ASSERT_TRUE(split.ok());
  EXPECT_EQ(split->name, "temporal:0.62");
  EXPECT_EQ(Times(split->train), (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 0}));
  ASSERT_EQ(split->cases.size(), 1u);
  const Case& c = split->cases[0];
  EXPECT_EQ(c.user, 0u);
  EXPECT_EQ(c.history.items, (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(c.history.ts_ms, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(c.targets, (std::vector<uint32_t>{2, 6}));  // item 0 is seen, item 6 once

  EXPECT_FALSE(Temporal(data, 5, 1.0).ok());
  EXPECT_FALSE(Temporal(data, 5, 0).ok());
  EXPECT_FALSE(Temporal(data, 5, std::nan("")).ok());
}

std::vector<rec::Interaction> SessionData() {
  return {
      // user 0: explicit session 7, then two keyless sessions split by a 2 h gap
      I(0, 0, 1000, 7, 2.0f),
      I(0, 1, 2000, 7),
      I(0, 2, 3000, 7),
      I(0, 3, 100000),
      I(0, 4, 700000),   // 10 min apart: one session
      I(0, 5, 7300000),  // 110 min later: a new one
      // user 1: session 7 (not user 0's) with a repeat, session 9 with one item
      I(1, 1, 9000000, 7, 3.0f),
      I(1, 1, 9100000, 7),
      I(1, 2, 8000000, 9),
      // user 2: keyless, 7 -> 8 -> 7
      I(2, 7, 9500000),
      I(2, 8, 9600000),
      I(2, 7, 9700000),
  };
}

TEST(Splits, SessionsByFraction) {
  const auto data = SessionData();
  // Sessions by last timestamp: u0/7 (3000), u0 [3,4] (700000), u0 [5] (7.3e6),
  // u1/9 (8e6), u1/7 (9.1e6), u2 (9.7e6). Half of six: the last three are test.
  auto split = Sessions(data, 3, {.test_fraction = 0.5});
  ASSERT_TRUE(split.ok());
  EXPECT_EQ(split->name, "sessions:0.5");
  EXPECT_FALSE(split->exclude_seen);
  EXPECT_EQ(Items(split->train), (std::vector<uint32_t>{0, 1, 2, 3, 4, 5}));
  ASSERT_EQ(split->cases.size(), 3u);  // u1/9 has one item: no case
  EXPECT_EQ(split->cases[0].user, kNone);
  EXPECT_EQ(split->cases[0].history.user, kNone);
  EXPECT_EQ(split->cases[0].history.items, (std::vector<uint32_t>{1}));
  EXPECT_EQ(split->cases[0].history.weights, (std::vector<float>{3.0f}));
  EXPECT_EQ(split->cases[0].targets, (std::vector<uint32_t>{1}));  // a repeat
  EXPECT_EQ(split->cases[1].history.items, (std::vector<uint32_t>{7}));
  EXPECT_EQ(split->cases[1].targets, (std::vector<uint32_t>{8}));
  EXPECT_EQ(split->cases[2].history.items, (std::vector<uint32_t>{7, 8}));
  EXPECT_EQ(split->cases[2].history.ts_ms, (std::vector<int64_t>{9500000, 9600000}));
  EXPECT_EQ(split->cases[2].targets, (std::vector<uint32_t>{7}));

  EXPECT_FALSE(Sessions(data, 3, {.test_fraction = 0}).ok());
  EXPECT_FALSE(Sessions(data, 3, {.test_fraction = 1.5}).ok());
}

TEST(Splits, SessionsByLastDays) {
  const auto data = SessionData();
  // A window of 1e6 ms before the last event (9.7e6): u1/7 and u2 only.
  auto split = Sessions(data, 3, {.last_days = 1e6 / 86400000.0});
  ASSERT_TRUE(split.ok());
  EXPECT_EQ(Items(split->train), (std::vector<uint32_t>{0, 1, 2, 3, 4, 5, 2}));
  ASSERT_EQ(split->cases.size(), 3u);
  EXPECT_EQ(split->cases[0].targets, (std::vector<uint32_t>{1}));
  EXPECT_EQ(split->cases[2].targets, (std::vector<uint32_t>{7}));
}

// ---- the runner ----------------------------------------------------------------

// Six items scored 5 4 3 3 1 0; three users, one target each.
struct Toy {
  FixedModel model{{5, 4, 3, 3, 1, 0}, "fixed:a<b>&\"c\""};
  Split split;
  Toy() {
    split.name = "toy";
    split.cases = {MakeCase(0, {0}, {2}), MakeCase(1, {1}, {0}), MakeCase(2, {2}, {5})};
    // Distinct users per item: 0: 3, 1: 2, 2: 1, 3: 1, 4: 0, 5: 0; four users.
    split.train = {I(0, 0, 1), I(0, 1, 2), I(1, 1, 3), I(1, 0, 4), I(2, 2, 5), I(3, 3, 6), I(3, 0, 7)};
  }
};

// With the history excluded the target ranks are: case 0: item 2 vs 1 (higher)
// and 3 (tied) -> 1; case 1: item 0 is best -> 0; case 2: item 5 below four -> 4.
void ExpectToyAccuracy(const EvalResult& r) {
  EXPECT_EQ(r.cases, 3u);
  EXPECT_EQ(r.users, 3u);
  EXPECT_DOUBLE_EQ(r.metrics.at("HR@1"), 1.0 / 3);
  EXPECT_DOUBLE_EQ(r.metrics.at("HR@2"), 2.0 / 3);
  EXPECT_DOUBLE_EQ(r.metrics.at("HR@5"), 1.0);
  EXPECT_DOUBLE_EQ(r.metrics.at("Recall@2"), 2.0 / 3);
  EXPECT_DOUBLE_EQ(r.metrics.at("NDCG@2"), (InvLog2(3) + 1) / 3);
  EXPECT_DOUBLE_EQ(r.metrics.at("NDCG@5"), (InvLog2(3) + 1 + InvLog2(6)) / 3);
  EXPECT_DOUBLE_EQ(r.metrics.at("MRR@5"), (0.5 + 1 + 0.2) / 3);
  EXPECT_DOUBLE_EQ(r.metrics.at("MAP@5"), (0.5 + 1 + 0.2) / 3);
  EXPECT_DOUBLE_EQ(r.metrics.at("MRR@1"), 1.0 / 3);
}

TEST(Evaluate, FullProtocolHandComputed) {
  Toy toy;
  EvalOptions options;
  options.ks = {5, 1, 2};
  options.list_k = 2;
  options.item_category = {0, 0, 1, 1, kNone, 2};
  auto r = Evaluate(toy.model, toy.split, 6, options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectToyAccuracy(*r);
  EXPECT_EQ(r->model, "fixed:a<b>&\"c\"");
  EXPECT_EQ(r->split, "toy");
  EXPECT_EQ(r->protocol, "full");
  // Top-2 lists without the history: [1, 2] (2 before 3 on the tie), [0, 2], [0, 1].
  EXPECT_DOUBLE_EQ(r->metrics.at("coverage@2"), 3.0 / 6);
  EXPECT_DOUBLE_EQ(r->metrics.at("diversity@2"), (1 + 1 + 0) / 3.0);
  const double n0 = -std::log2(3.0 / 4), n1 = 1, n2 = 2;  // items 0, 1, 2 by training users
  EXPECT_DOUBLE_EQ(r->metrics.at("novelty@2"), ((n1 + n2) / 2 + (n0 + n2) / 2 + (n0 + n1) / 2) / 3);
  const double p0 = 5.5 / 6, p1 = 4.5 / 6, p2 = 3.0 / 6;
  EXPECT_DOUBLE_EQ(r->metrics.at("popularity_bias@2"), ((p1 + p2) / 2 + (p0 + p2) / 2 + (p0 + p1) / 2) / 3);
  EXPECT_EQ(r->metrics.size(), 5u * 3 + 4);
  // Intervals for every accuracy metric, around the estimate.
  EXPECT_EQ(r->ci95.size(), 15u);
  for (const auto& [name, ci] : r->ci95) {
    EXPECT_LE(ci.first, r->metrics.at(name)) << name;
    EXPECT_GE(ci.second, r->metrics.at(name)) << name;
  }
  // Without categories there is no diversity.
  options.item_category.clear();
  auto plain = Evaluate(toy.model, toy.split, 6, options);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->metrics.count("diversity@2"), 0u);
}

TEST(Evaluate, SampledProtocolHandComputed) {
  // Four items are eligible per case, so sampled:4 draws all of them and the
  // ranks equal the full protocol's.
  Toy toy;
  EvalOptions options;
  options.ks = {1, 2, 5};
  options.protocol = *ParseProtocol("sampled:4");
  auto r = Evaluate(toy.model, toy.split, 6, options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectToyAccuracy(*r);
  EXPECT_EQ(r->protocol, "sampled:4");
  EXPECT_EQ(r->metrics.count("coverage@10"), 0u);  // beyond-accuracy is for the full protocol

  // popsampled:1 draws from items with training users only (0..3): case 2's
  // target (score 0) always has one higher negative, case 1's none.
  options.protocol = *ParseProtocol("popsampled:1");
  auto pop = Evaluate(toy.model, toy.split, 6, options);
  ASSERT_TRUE(pop.ok());
  EXPECT_EQ(pop->protocol, "popsampled:1");
  EXPECT_DOUBLE_EQ(pop->metrics.at("HR@2"), 1.0);
  EXPECT_GE(pop->metrics.at("HR@1"), 1.0 / 3);
  EXPECT_LE(pop->metrics.at("HR@1"), 2.0 / 3);
}

TEST(Evaluate, KeepSeenAndRepeatTargets) {
  Toy toy;
  EvalOptions options;
  options.ks = {5};
  options.bootstrap = 0;
  options.protocol.exclude_seen = false;
  auto r = Evaluate(toy.model, toy.split, 6, options);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->protocol, "full,keep_seen");
  EXPECT_TRUE(r->ci95.empty());
  // Ranks with the history kept: 2 (items 0, 1 higher, 3 tied), 0, 5.
  EXPECT_DOUBLE_EQ(r->metrics.at("HR@5"), 2.0 / 3);
  EXPECT_DOUBLE_EQ(r->metrics.at("MRR@5"), (1.0 / 3 + 1) / 3);

  // A target the user already has is a miss when seen items are excluded...
  Split repeat;
  repeat.name = "repeat";
  repeat.cases = {MakeCase(0, {3, 1}, {3})};
  options.protocol.exclude_seen.reset();
  auto miss = Evaluate(toy.model, repeat, 6, options);
  ASSERT_TRUE(miss.ok());
  EXPECT_EQ(miss->metrics.at("HR@5"), 0.0);
  // ...and found when they are kept (the session-split default).
  repeat.exclude_seen = false;
  auto hit = Evaluate(toy.model, repeat, 6, options);
  ASSERT_TRUE(hit.ok());
  EXPECT_EQ(hit->protocol, "full");
  EXPECT_DOUBLE_EQ(hit->metrics.at("MRR@5"), 1.0 / 3);  // items 0, 1 higher, 2 tied -> rank 2
}

TEST(Evaluate, TiedMultipleTargets) {
  // Targets 2 and 3 tie at score 3 behind items 0 and 1: both rank 2, so they
  // take positions 2 and 3.
  FixedModel model({5, 4, 3, 3, 1, 0});
  Split split;
  split.cases = {MakeCase(0, {}, {3, 2})};
  EvalOptions options;
  options.ks = {5};
  auto r = Evaluate(model, split, 6, options);
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(r->metrics.at("NDCG@5"), (InvLog2(4) + InvLog2(5)) / (1 + InvLog2(3)));
  EXPECT_DOUBLE_EQ(r->metrics.at("MRR@5"), 1.0 / 3);
  EXPECT_DOUBLE_EQ(r->metrics.at("MAP@5"), (1.0 / 3 + 2.0 / 4) / 2);
  EXPECT_DOUBLE_EQ(r->metrics.at("Recall@5"), 1.0);
}

TEST(Evaluate, MatchesBruteForceAndIgnoresThreadCount) {
  // Random scores with many ties, random multi-target cases; the one-pass
  // ranking must agree with TargetRank per target.
  const uint32_t n_items = 40;
  std::mt19937 rng(5);
  std::vector<float> scores(n_items);
  for (auto& s : scores) s = static_cast<float>(rng() % 6);
  scores[7] = -kInf;
  scores[9] = std::numeric_limits<float>::quiet_NaN();
  FixedModel model(scores);
  Split split;
  split.name = "random";
  for (uint32_t u = 0; u < 60; ++u) {
    std::set<uint32_t> history, targets;
    for (int j = 0; j < 4; ++j) history.insert(rng() % n_items);
    while (targets.size() < 1 + u % 4) {
      const uint32_t t = rng() % n_items;
      if (!history.count(t)) targets.insert(t);
    }
    split.cases.push_back(MakeCase(u, {history.begin(), history.end()}, {targets.begin(), targets.end()}));
  }
  EvalOptions options;
  options.ks = {1, 3, 10};
  auto r = Evaluate(model, split, n_items, options);
  ASSERT_TRUE(r.ok());
  for (size_t k : options.ks) {
    double ndcg = 0, map = 0, recall = 0;
    for (const Case& c : split.cases) {
      std::vector<float> masked = scores;
      for (uint32_t i : c.history.items) masked[i] = -kInf;
      std::vector<uint64_t> ranks;
      for (uint32_t t : c.targets) {
        std::vector<float> others;
        for (uint32_t i = 0; i < n_items; ++i) {
          if (i != t) others.push_back(masked[i]);
        }
        ranks.push_back(TargetRank(masked[t], others));
      }
      const Accuracy a = AccuracyFromRanks(ranks, k);
      ndcg += a.ndcg;
      map += a.map;
      recall += a.recall;
    }
    const double n = static_cast<double>(split.cases.size());
    EXPECT_NEAR(r->metrics.at("NDCG@" + std::to_string(k)), ndcg / n, 1e-12) << k;
    EXPECT_NEAR(r->metrics.at("MAP@" + std::to_string(k)), map / n, 1e-12) << k;
    EXPECT_NEAR(r->metrics.at("Recall@" + std::to_string(k)), recall / n, 1e-12) << k;
  }
  // Same numbers (sampling and bootstrap included) on three threads.
  for (const char* protocol : {"full", "sampled:5", "popsampled:5"}) {
    options.protocol = *ParseProtocol(protocol);
    split.train = {I(0, 1, 1), I(0, 2, 1), I(1, 2, 1), I(2, 30, 1)};
    options.threads = 1;
    auto one = Evaluate(model, split, n_items, options);
    options.threads = 3;
    uint64_t last_done = 0, calls = 0;
    options.progress = [&](uint64_t done, uint64_t total) {
      EXPECT_EQ(total, split.cases.size());
      EXPECT_GT(done, last_done);
      last_done = done;
      ++calls;
    };
    auto three = Evaluate(model, split, n_items, options);
    options.progress = nullptr;
    ASSERT_TRUE(one.ok() && three.ok()) << protocol;
    EXPECT_EQ(one->metrics, three->metrics) << protocol;
    EXPECT_EQ(one->ci95, three->ci95) << protocol;
    EXPECT_EQ(last_done, split.cases.size());
    EXPECT_GE(calls, 1u);
  }
}

TEST(Evaluate, Errors) {
  Toy toy;
  EvalOptions options;
  Split empty;
  empty.name = "nothing";
  auto r = Evaluate(toy.model, empty, 6, options);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("nothing"), std::string::npos);

  Split outside;
  outside.cases = {MakeCase(0, {1}, {9})};
  r = Evaluate(toy.model, outside, 6, options);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);

  options.ks = {0, 5};
  EXPECT_FALSE(Evaluate(toy.model, toy.split, 6, options).ok());
}

TEST(Evaluate, ItemsUnknownToTheModelScoreMinusInfinity) {
  // The model knows four items; item 5 was added later and is never ranked.
  FixedModel model({1, 2, 3, 4});
  Split split;
  split.cases = {MakeCase(0, {}, {5}), MakeCase(1, {}, {3})};
  EvalOptions options;
  options.ks = {1, 10};
  auto r = Evaluate(model, split, 6, options);
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(r->metrics.at("HR@10"), 0.5);
  EXPECT_DOUBLE_EQ(r->metrics.at("HR@1"), 0.5);
  EXPECT_DOUBLE_EQ(r->metrics.at("coverage@10"), 4.0 / 6);
}

// ---- reports --------------------------------------------------------------------

std::vector<EvalResult> TwoResults() {
  Toy toy;
  EvalOptions options;
  auto a = Evaluate(toy.model, toy.split, 6, options);
  FixedModel other({0, 1, 2, 3, 4, 5}, "pop<script>alert(1)</script>");
  auto b = Evaluate(other, toy.split, 6, options);
  EXPECT_TRUE(a.ok() && b.ok());
  a->fit_seconds = 1.5;
  return {*a, *b};
}

TEST(Reports, Json) {
  const auto results = TwoResults();
  const nlohmann::json j = ToJson(results[0]);
  std::set<std::string> keys;
  for (const auto& [key, value] : j.items()) keys.insert(key);
  EXPECT_EQ(keys, (std::set<std::string>{"model", "split", "protocol", "users", "cases", "metrics", "ci95",
                                         "fit_seconds", "eval_seconds"}));
  EXPECT_EQ(j["model"], "fixed:a<b>&\"c\"");
  EXPECT_EQ(j["users"], 3);
  EXPECT_EQ(j["cases"], 3);
  EXPECT_EQ(j["fit_seconds"], 1.5);
  EXPECT_DOUBLE_EQ(j["metrics"]["HR@10"].get<double>(), 1.0);
  ASSERT_TRUE(j["ci95"]["NDCG@10"].is_array());
  EXPECT_EQ(j["ci95"]["NDCG@10"].size(), 2u);
  EXPECT_TRUE(j["metrics"].contains("coverage@10"));
  EXPECT_FALSE(j["ci95"].contains("coverage@10"));
}

TEST(Reports, Table) {
  const std::string table = TableText(TwoResults());
  EXPECT_NE(table.find("split toy, protocol full"), std::string::npos) << table;
  for (const char* column : {"model", "HR@10", "NDCG@10", "MRR@10", "Recall@20", "coverage@10", "novelty@10"}) {
    EXPECT_NE(table.find(column), std::string::npos) << column << "\n" << table;
  }
  EXPECT_NE(table.find("fixed:a<b>&\"c\""), std::string::npos);
  EXPECT_EQ(table.find("HR@1 "), std::string::npos);  // only the main columns
  // Aligned: every row as long as the header (after trailing spaces are cut,
  // the last column is right-aligned so all rows end at the same place).
  std::vector<size_t> lengths;
  size_t start = table.find('\n') + 1;
  while (start < table.size()) {
    const size_t end = table.find('\n', start);
    lengths.push_back(end - start);
    start = end + 1;
  }
  ASSERT_EQ(lengths.size(), 3u);
  EXPECT_EQ(lengths[0], lengths[1]);
  EXPECT_EQ(lengths[1], lengths[2]);
}

TEST(Reports, HtmlIsSelfContainedAndEscaped) {
  TempDir dir;
  const std::string path = dir / "report.html";
  ASSERT_TRUE(WriteHtmlReport(TwoResults(), path, "Models & <friends>").ok());
  const std::string html = ReadText(path);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("fixed:a&lt;b&gt;&amp;&quot;c&quot;"), std::string::npos);
  EXPECT_NE(html.find("pop&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("Models &amp; &lt;friends&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("a<b>"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_NE(html.find("NDCG@10"), std::string::npos);
  EXPECT_NE(html.find("class=\"ci\""), std::string::npos);  // interval whiskers

  const Status bad = WriteHtmlReport(TwoResults(), dir / "missing/dir/report.html", "t");
  EXPECT_EQ(bad.code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace souk::eval
