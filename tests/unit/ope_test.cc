// Off-policy evaluation: every estimator on a hand-made log against values
// computed by hand, clipping and switching, the reward model, bootstrap
// intervals, the synthetic target (DR beats IPS and is within 5% of the
// truth), and the souk and OBD readers with their error messages.
#include <gtest/gtest.h>

#include <cmath>

#include "bandit/bandit.h"
#include "test_util.h"

namespace souk::bandit {
namespace {

using souk::testing::TempDir;
using souk::testing::WriteText;

// Two arms, one position, no context; four rounds:
//   round  arm  propensity  reward
//     0     0     0.5         1
//     1     1     0.25        0
//     2     0     0.8         0
//     3     1     0.5         1
OpeLog HandLog() {
  OpeLog log;
  log.arms = 2;
  log.arm = {0, 1, 0, 1};
  log.position = {0, 0, 0, 0};
  log.propensity = {0.5, 0.25, 0.8, 0.5};
  log.reward = {1, 0, 0, 1};
  log.rows = 4;
  return log;
}

// A reward model that says 0.6 for arm 0 and 0.4 for arm 1 in every round.
std::vector<double> HandQ() { return {0.6, 0.4, 0.6, 0.4, 0.6, 0.4, 0.6, 0.4}; }

OpeOptions NoBootstrap() {
  OpeOptions o;
  o.bootstrap = 0;
  return o;
}

double Value(const OpeReport& rep, const char* name) {
  const OpeEstimate* e = rep.Find(name);
  EXPECT_NE(e, nullptr) << name;
  return e ? e->value : NAN;
}

TEST(Ope, EstimatorsOnAHandMadeLogUniformTarget) {
  const OpeLog log = HandLog();
  auto target = TargetPolicy(log, "uniform");
  ASSERT_TRUE(target.ok()) << target.status().message();
  EXPECT_EQ(*target, std::vector<double>(8, 0.5));
  OpeOptions o = NoBootstrap();
  o.tau = 100;  // switch-DR = DR
  auto rep = EstimateOpe(log, *target, HandQ(), o);
  ASSERT_TRUE(rep.ok()) << rep.status().message();
  // Weights 0.5/p: 1, 2, 0.625, 1.
  // ips = (1*1 + 2*0 + 0.625*0 + 1*1) / 4 = 0.5
  EXPECT_NEAR(Value(*rep, "ips"), 0.5, 1e-12);
  // snips = 2 / (1 + 2 + 0.625 + 1) = 2 / 4.625
  EXPECT_NEAR(Value(*rep, "snips"), 2 / 4.625, 1e-12);
  // dm = mean(0.5 * 0.6 + 0.5 * 0.4) = 0.5
  EXPECT_NEAR(Value(*rep, "dm"), 0.5, 1e-12);
  // dr = 0.5 + (1*(1-0.6) + 2*(0-0.4) + 0.625*(0-0.6) + 1*(1-0.4)) / 4
  //    = 0.5 + (0.4 - 0.8 - 0.375 + 0.6) / 4 = 0.5 - 0.04375 = 0.45625
  EXPECT_NEAR(Value(*rep, "dr"), 0.45625, 1e-12);
  EXPECT_NEAR(Value(*rep, "switch-dr"), 0.45625, 1e-12);
  EXPECT_EQ(rep->n, 4u);
  EXPECT_NEAR(rep->logged_value, 0.5, 1e-12);
  EXPECT_NEAR(rep->max_weight, 2, 1e-12);
  // ess = 4.625^2 / (1 + 4 + 0.390625 + 1)
  EXPECT_NEAR(rep->ess, 4.625 * 4.625 / 6.390625, 1e-12);
  EXPECT_EQ(rep->clipped, 0u);
  EXPECT_EQ(rep->switched, 0u);
  // Without bootstrap the interval is the point.
  EXPECT_EQ(rep->Find("dr")->lo, rep->Find("dr")->value);
}

TEST(Ope, EstimatorsOnAHandMadeLogDeterministicTarget) {
  const OpeLog log = HandLog();
  auto target = TargetPolicy(log, "arm:0");
  ASSERT_TRUE(target.ok());
  auto rep = EstimateOpe(log, *target, HandQ(), NoBootstrap());
  ASSERT_TRUE(rep.ok()) << rep.status().message();
  // Weights 1/p on arm-0 rounds: 2, 0, 1.25, 0.
  // ips = (2*1 + 1.25*0) / 4 = 0.5; snips = 2 / 3.25
  EXPECT_NEAR(Value(*rep, "ips"), 0.5, 1e-12);
  EXPECT_NEAR(Value(*rep, "snips"), 2 / 3.25, 1e-12);
  // dm = q(arm 0) = 0.6; dr = 0.6 + (2*(1-0.6) + 1.25*(0-0.6)) / 4 = 0.6 + 0.05/4 = 0.6125
  EXPECT_NEAR(Value(*rep, "dm"), 0.6, 1e-12);
  EXPECT_NEAR(Value(*rep, "dr"), 0.6125, 1e-12);
  // tau = 10 (default): no weight above it.
  EXPECT_NEAR(Value(*rep, "switch-dr"), 0.6125, 1e-12);
}

TEST(Ope, ClippingCapsTheWeights) {
  const OpeLog log = HandLog();
  auto target = TargetPolicy(log, "uniform");
  OpeOptions o = NoBootstrap();
  o.clip = 1.5;  // round 1's weight 2 -> 1.5
  o.tau = 100;
  auto rep = EstimateOpe(log, *target, HandQ(), o);
  ASSERT_TRUE(rep.ok());
  EXPECT_EQ(rep->clipped, 1u);
  EXPECT_NEAR(rep->max_weight, 2, 1e-12);  // before clipping
  // ips unchanged (round 1's reward is 0); snips = 2 / (1 + 1.5 + 0.625 + 1) = 2 / 4.125
  EXPECT_NEAR(Value(*rep, "ips"), 0.5, 1e-12);
  EXPECT_NEAR(Value(*rep, "snips"), 2 / 4.125, 1e-12);
  // dr = 0.5 + (0.4 + 1.5*(0-0.4) - 0.375 + 0.6) / 4 = 0.5 + 0.025/4 = 0.50625
  EXPECT_NEAR(Value(*rep, "dr"), 0.50625, 1e-12);
}

TEST(Ope, SwitchDrUsesTheDirectMethodWhereWeightsAreLarge) {
  const OpeLog log = HandLog();
  auto target = TargetPolicy(log, "uniform");
  OpeOptions o = NoBootstrap();
  o.tau = 1.5;  // round 1 (weight 2) gets the DM alone
  auto rep = EstimateOpe(log, *target, HandQ(), o);
  ASSERT_TRUE(rep.ok());
  EXPECT_EQ(rep->switched, 1u);
  // switch-dr = 0.5 + (0.4 - 0.375 + 0.6) / 4 = 0.5 + 0.15625 = 0.65625
  EXPECT_NEAR(Value(*rep, "switch-dr"), 0.65625, 1e-12);
  EXPECT_NEAR(Value(*rep, "dr"), 0.45625, 1e-12);
  // tau = 0: every round is the DM's.
  o.tau = 0;
  rep = EstimateOpe(log, *target, HandQ(), o);
  ASSERT_TRUE(rep.ok());
  EXPECT_EQ(rep->switched, 4u);
  EXPECT_NEAR(Value(*rep, "switch-dr"), Value(*rep, "dm"), 1e-12);
}

TEST(Ope, RejectsBadOptionsAndShapes) {
  const OpeLog log = HandLog();
  auto target = TargetPolicy(log, "uniform");
  OpeOptions o = NoBootstrap();
  o.clip = -1;
  EXPECT_FALSE(EstimateOpe(log, *target, HandQ(), o).ok());
  EXPECT_FALSE(EstimateOpe(log, std::vector<double>(3, 0.5), HandQ(), NoBootstrap()).ok());
  o = NoBootstrap();
  o.reward_model = "forest";
  EXPECT_FALSE(FitRewardModel(log, o).ok());
  EXPECT_FALSE(TargetPolicy(log, "arm:2").ok());
  EXPECT_FALSE(TargetPolicy(log, "greedy").ok());
}

// Arm 0 rewards 1, 1, 0 (mean 2/3), arm 1 rewards 1, 0, 0, 0 (mean 1/4).
OpeLog ArmMeansLog() {
  OpeLog log;
  log.arms = 2;
  log.arm = {0, 0, 0, 1, 1, 1, 1};
  log.position.assign(7, 0);
  log.propensity.assign(7, 0.5);
  log.reward = {1, 1, 0, 1, 0, 0, 0};
  log.rows = 7;
  return log;
}

TEST(Ope, RewardModelsRecoverPerArmMeans) {
  const OpeLog log = ArmMeansLog();
  for (const char* kind : {"ridge", "logistic"}) {
    OpeOptions o = NoBootstrap();
    o.reward_model = kind;
    o.lambda = 1e-7;  // intercept + arm one-hots, unpenalised in effect: the per-arm means
    o.folds = 1;
    std::string describe;
    auto q = FitRewardModel(log, o, &describe);
    ASSERT_TRUE(q.ok()) << q.status().message();
    for (size_t i = 0; i < 7; ++i) {
      EXPECT_NEAR((*q)[i * 2], 2.0 / 3, 1e-4) << kind;
      EXPECT_NEAR((*q)[i * 2 + 1], 0.25, 1e-4) << kind;
    }
    EXPECT_NE(describe.find(kind), std::string::npos);
    // DM with arm:1 is arm 1's mean.
    auto rep = EvaluateOpe(log, *TargetPolicy(log, "arm:1"), o);
    ASSERT_TRUE(rep.ok());
    EXPECT_NEAR(Value(*rep, "dm"), 0.25, 1e-4);
  }
  // Rewards outside [0, 1] cannot be fit by the logistic model; auto picks ridge.
  OpeLog big = log;
  big.reward[0] = 5;
  OpeOptions o = NoBootstrap();
  o.reward_model = "logistic";
  EXPECT_FALSE(FitRewardModel(big, o).ok());
  o.reward_model = "auto";
  std::string describe;
  ASSERT_TRUE(FitRewardModel(big, o, &describe).ok());
  EXPECT_EQ(describe.rfind("ridge", 0), 0u) << describe;
}

TEST(Ope, CrossFittingIsDeterministicPerSeed) {
  auto syn = MakeSyntheticOpe({.rounds = 600, .seed = 3});
  ASSERT_TRUE(syn.ok());
  OpeOptions o = NoBootstrap();
  o.seed = 5;
  auto a = FitRewardModel(syn->log, o), b = FitRewardModel(syn->log, o);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  o.seed = 6;
  auto c = FitRewardModel(syn->log, o);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(*a, *c);  // other folds, other fits
}

TEST(Ope, BootstrapIntervalsContainTheEstimateAndRepeatPerSeed) {
  auto syn = MakeSyntheticOpe({.rounds = 2000, .seed = 2});
  ASSERT_TRUE(syn.ok());
  OpeOptions o;
  o.bootstrap = 200;
  o.seed = 11;
  auto a = EvaluateOpe(syn->log, syn->target, o);
  auto b = EvaluateOpe(syn->log, syn->target, o);
  ASSERT_TRUE(a.ok() && b.ok());
  for (size_t s = 0; s < a->estimates.size(); ++s) {
    const auto& e = a->estimates[s];
    EXPECT_LT(e.lo, e.value) << e.name;
    EXPECT_GT(e.hi, e.value) << e.name;
    EXPECT_EQ(e.lo, b->estimates[s].lo) << e.name;
    EXPECT_EQ(e.hi, b->estimates[s].hi) << e.name;
  }
  o.seed = 12;
  auto c = EvaluateOpe(syn->log, syn->target, o);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(a->Find("ips")->lo, c->Find("ips")->lo);
  // A wider confidence gives a wider interval.
  o.seed = 11;
  o.confidence = 0.5;
  auto narrow = EvaluateOpe(syn->log, syn->target, o);
  ASSERT_TRUE(narrow.ok());
  EXPECT_LT(narrow->Find("dr")->hi - narrow->Find("dr")->lo, a->Find("dr")->hi - a->Find("dr")->lo);
}

TEST(Ope, RefitBootstrapWidensTheDirectMethodsInterval) {
  auto syn = MakeSyntheticOpe({.rounds = 2000, .seed = 2});
  ASSERT_TRUE(syn.ok());
  OpeOptions o;
  o.bootstrap = 20;
  o.seed = 11;
  auto plain = EvaluateOpe(syn->log, syn->target, o);
  o.refit = true;
  auto refit = EvaluateOpe(syn->log, syn->target, o);
  auto again = EvaluateOpe(syn->log, syn->target, o);
  ASSERT_TRUE(plain.ok() && refit.ok() && again.ok());
  // Same point estimates; intervals repeat per seed.
  for (size_t s = 0; s < 5; ++s) {
    EXPECT_EQ(plain->estimates[s].value, refit->estimates[s].value);
    EXPECT_EQ(refit->estimates[s].lo, again->estimates[s].lo);
    EXPECT_EQ(refit->estimates[s].hi, again->estimates[s].hi);
  }
  // Resampling one fit's predictions ignores the model's own variance.
  const auto width = [](const OpeReport& r) { return r.Find("dm")->hi - r.Find("dm")->lo; };
  EXPECT_GT(width(*refit), width(*plain));
}

TEST(Ope, SyntheticTrueValueIsExact) {
  // One arm's worth of checks: with epsilon = 1 the target is uniform, and
  // the truth is the mean over rounds of the arms' mean click probability;
  // IPS of a log is unbiased for it, so on 20,000 rounds it lands near.
  auto syn = MakeSyntheticOpe({.rounds = 20000, .epsilon = 1, .seed = 4});
  ASSERT_TRUE(syn.ok());
  EXPECT_GT(syn->true_value, 0.05);
  EXPECT_LT(syn->true_value, 0.95);
  for (double p : syn->target) EXPECT_DOUBLE_EQ(p, 1.0 / 5);
  auto rep = EvaluateOpe(syn->log, syn->target, NoBootstrap());
  ASSERT_TRUE(rep.ok());
  EXPECT_NEAR(Value(*rep, "ips"), syn->true_value, 0.03);
}

TEST(Ope, SyntheticDrBeatsIpsWithinFivePercent) {
  // 10,000 rounds, logging = softmax of noisy scores, target = epsilon-greedy.
  // DR is within 5% of the truth on every seed, and its mean absolute error
  // over seeds 1..10 is below IPS's. Per seed DR's error is below IPS's on 13
  // of seeds 1..20 (docs/bandit.md): DR removes the variance of which arm was
  // logged, not the Bernoulli noise, so it does not win every draw; the
  // per-seed comparison is asserted for seed 1, the example in the docs.
  double ips_sum = 0, dr_sum = 0;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    auto syn = MakeSyntheticOpe({.rounds = 10000, .seed = seed});
    ASSERT_TRUE(syn.ok());
    EXPECT_GT(syn->true_value, syn->logging_value + 0.02) << "the target must differ from the logging policy";
    auto rep = EvaluateOpe(syn->log, syn->target, NoBootstrap());
    ASSERT_TRUE(rep.ok()) << rep.status().message();
    const double truth = syn->true_value;
    const double ips_err = std::abs(Value(*rep, "ips") - truth);
    const double dr_err = std::abs(Value(*rep, "dr") - truth);
    if (seed == 1) EXPECT_LE(dr_err, ips_err);
    EXPECT_LE(dr_err, 0.05 * truth) << "seed " << seed << " truth " << truth;
    ips_sum += ips_err;
    dr_sum += dr_err;
  }
  EXPECT_LT(dr_sum, ips_sum);
}

// ---- Readers ----

TEST(OpeReaders, SoukLog) {
  TempDir dir;
  const std::string path = dir / "log.jsonl";
  WriteText(path,
            "{\"decision\":\"d1\",\"campaign\":\"home\",\"arm\":0,\"arms\":3,\"position\":0,\"propensity\":0.5,"
            "\"reward\":1,\"x\":[0.5,1]}\n"
            "{\"decision\":\"d2\",\"campaign\":\"home\",\"arm\":2,\"arms\":3,\"propensity\":0.25,\"reward\":null,"
            "\"x\":[1,2]}\n"
            "\n"
            "{\"decision\":\"d3\",\"campaign\":\"home\",\"arm\":1,\"arms\":3,\"position\":1,\"propensity\":1,"
            "\"x\":[0,0]}\n"
            "{\"decision\":\"d4\",\"campaign\":\"home\",\"arm\":2,\"arms\":3,\"position\":1,\"propensity\":0.2,"
            "\"reward\":0,\"x\":[3,4]}\n");
  auto log = ReadSoukLog(path);
  ASSERT_TRUE(log.ok()) << log.status().message();
  EXPECT_EQ(log->rounds(), 2u);
  EXPECT_EQ(log->rows, 4u);
  EXPECT_EQ(log->skipped, 2u);
  EXPECT_EQ(log->arms, 3u);
  EXPECT_EQ(log->positions, 2u);
  EXPECT_EQ(log->dim, 2u);
  EXPECT_EQ(log->campaign, "home");
  EXPECT_EQ(log->arm, (std::vector<uint32_t>{0, 2}));
  EXPECT_EQ(log->position, (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(log->propensity, (std::vector<double>{0.5, 0.2}));
  EXPECT_EQ(log->reward, (std::vector<double>{1, 0}));
  EXPECT_EQ(log->x, (std::vector<float>{0.5f, 1, 3, 4}));
  EXPECT_EQ(log->line, (std::vector<uint64_t>{1, 5}));
}

TEST(OpeReaders, ReadsWhatCampaignLogWrites) {
  // `souk campaign log DIR NAME` writes one line per chosen arm (slots of a
  // slate are positions), with ts_ms and user besides, reward null until rewarded.
  TempDir dir;
  const std::string path = dir / "campaign.jsonl";
  WriteText(path,
            "{\"arm\":2,\"arms\":4,\"campaign\":\"home\",\"decision\":\"9f2c-1\",\"position\":0,"
            "\"propensity\":0.4,\"reward\":1.0,\"ts_ms\":1700000000000,\"user\":\"u1\",\"x\":[0.3,1.0]}\n"
            "{\"arm\":0,\"arms\":4,\"campaign\":\"home\",\"decision\":\"9f2c-1\",\"position\":1,"
            "\"propensity\":0.3,\"reward\":0.0,\"ts_ms\":1700000000000,\"user\":\"u1\",\"x\":[0.3,1.0]}\n"
            "{\"arm\":1,\"arms\":4,\"campaign\":\"home\",\"decision\":\"9f2c-2\",\"position\":0,"
            "\"propensity\":0.5,\"reward\":null,\"ts_ms\":1700000000100,\"x\":[0.0,1.0]}\n");
  auto log = ReadSoukLog(path);
  ASSERT_TRUE(log.ok()) << log.status().message();
  EXPECT_EQ(log->rounds(), 2u);
  EXPECT_EQ(log->skipped, 1u);
  EXPECT_EQ(log->arms, 4u);
  EXPECT_EQ(log->positions, 2u);
  EXPECT_EQ(log->campaign, "home");
  EXPECT_EQ(log->x, (std::vector<float>{0.3f, 1, 0.3f, 1}));
  // uniform: weights 0.25/0.4 and 0.25/0.3; ips = (0.625 * 1 + 0) / 2
  auto rep = EstimateOpe(*log, *TargetPolicy(*log, "uniform"), std::vector<double>(8, 0.5), NoBootstrap());
  ASSERT_TRUE(rep.ok());
  EXPECT_NEAR(Value(*rep, "ips"), 0.3125, 1e-12);
}

std::string SoukError(const TempDir& dir, const std::string& text) {
  const std::string path = dir / "bad.jsonl";
  WriteText(path, text);
  auto log = ReadSoukLog(path);
  EXPECT_FALSE(log.ok()) << text;
  return log.ok() ? "" : log.status().message();
}

TEST(OpeReaders, SoukLogErrorsSayWhereAndWhat) {
  TempDir dir;
  const std::string good = "{\"arm\":0,\"arms\":2,\"propensity\":0.5,\"reward\":1}\n";
  const std::string p = dir / "bad.jsonl";
  EXPECT_EQ(SoukError(dir, good + "{\"arm\":0,\"arms\":2,\"propensity\":1.5,\"reward\":1}\n"),
            p + ":2: \"propensity\" 1.5 is outside (0, 1]");
  EXPECT_EQ(SoukError(dir, good + "{\"arm\":0,\"arms\":2,\"propensity\":0,\"reward\":1}\n"),
            p + ":2: \"propensity\" 0 is outside (0, 1]");
  EXPECT_EQ(SoukError(dir, good + "{\"arm\":0,\"arms\":2,\"reward\":1}\n"), p + ":2: missing \"propensity\"");
  EXPECT_EQ(SoukError(dir, good + "{\"arm\":0,\"arms\":3,\"propensity\":0.5,\"reward\":1}\n"),
            p + ":2: \"arms\" is 3 but 2 on line 1");
  EXPECT_EQ(SoukError(dir, good + "{\"arm\":2,\"arms\":2,\"propensity\":0.5,\"reward\":1}\n"),
            p + ":2: \"arm\" 2 is not below \"arms\" 2");
  EXPECT_EQ(SoukError(dir, good + "{\"arm\":0,\"arms\":2,\"propensity\":0.5,\"reward\":\"yes\"}\n"),
            p + ":2: \"reward\" is \"yes\", not a number");
  EXPECT_EQ(SoukError(dir, good + "{\"arm\":0,\"arms\":2,\"propensity\":0.5,\"reward\":1,\"x\":[1]}\n"),
            p + ":2: \"x\" has 1 features but 0 on line 1");
  EXPECT_NE(SoukError(dir, good + "{\"arm\":0,\"arms\":2,\n").find(p + ":2: not JSON"), std::string::npos);
  EXPECT_NE(SoukError(dir, "{\"arm\":0,\"arms\":2,\"propensity\":0.5}\n").find("no decision with a reward"),
            std::string::npos);
  auto missing = ReadSoukLog(dir / "nope.jsonl");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

constexpr char kObdHeader[] =
    ",timestamp,item_id,position,click,propensity_score,user_feature_0,user_feature_1,user-item_affinity_0,"
    "user-item_affinity_1\n";

TEST(OpeReaders, ObdLog) {
  TempDir dir;
  const std::string path = dir / "men.csv";
  WriteText(path, std::string(kObdHeader) +
                      "0,2019-11-24 00:01:03+00:00,1,2,0,0.25,aa,xx,0.0,3.0\n"
                      "1,2019-11-24 00:01:04+00:00,0,1,1,0.5,bb,xx,1.0,0.0\n"
                      "2,2019-11-24 00:01:05+00:00,1,3,0,0.125,aa,yy,0.0,0.0\n");
  const std::string items = dir / "item_context.csv";
  WriteText(items,
            ",item_id,item_feature_0,item_feature_1\n"
            "0,0,-0.5,c1\n"
            "1,1,0.25,c2\n");
  auto log = ReadObdLog(path, items);
  ASSERT_TRUE(log.ok()) << log.status().message();
  EXPECT_EQ(log->rounds(), 3u);
  EXPECT_EQ(log->arms, 2u);
  EXPECT_EQ(log->positions, 3u);
  EXPECT_EQ(log->arm, (std::vector<uint32_t>{1, 0, 1}));
  EXPECT_EQ(log->position, (std::vector<uint32_t>{1, 0, 2}));
  EXPECT_EQ(log->reward, (std::vector<double>{0, 1, 0}));
  EXPECT_EQ(log->propensity, (std::vector<double>{0.25, 0.5, 0.125}));
  // x = one-hot user_feature_0 (aa, bb), one-hot user_feature_1 (xx, yy), then the two affinities.
  ASSERT_EQ(log->dim, 6u);
  EXPECT_EQ(log->x, (std::vector<float>{1, 0, 1, 0, 0, 3, 0, 1, 1, 0, 1, 0, 1, 0, 0, 1, 0, 0}));
  // One affinity per arm: also the per-arm feature.
  EXPECT_EQ(log->arm_x, (std::vector<float>{0, 3, 1, 0, 0, 0}));
  // Items: item_feature_0 numeric, item_feature_1 one-hot (c1, c2).
  ASSERT_EQ(log->item_dim, 3u);
  EXPECT_EQ(log->item_x, (std::vector<float>{-0.5f, 1, 0, 0.25f, 0, 1}));
  // The uniform policy over the two arms; IPS by hand = (0 + 1 * 0.5/0.5 + 0) / 3 = 1/3.
  auto target = TargetPolicy(*log, "uniform");
  ASSERT_TRUE(target.ok());
  OpeOptions o = NoBootstrap();
  auto rep = EvaluateOpe(*log, *target, o);
  ASSERT_TRUE(rep.ok()) << rep.status().message();
  EXPECT_NEAR(Value(*rep, "ips"), 1.0 / 3, 1e-12);
}

std::string ObdError(const TempDir& dir, const std::string& text) {
  const std::string path = dir / "bad.csv";
  WriteText(path, text);
  auto log = ReadObdLog(path);
  EXPECT_FALSE(log.ok()) << text;
  return log.ok() ? "" : log.status().message();
}

TEST(OpeReaders, ObdErrorsSayWhereAndWhat) {
  TempDir dir;
  const std::string p = dir / "bad.csv";
  const std::string h = kObdHeader;
  EXPECT_EQ(ObdError(dir, ",item_id,position,propensity_score\n0,1,1,0.5\n"), p + ":1: missing column 'click'");
  EXPECT_EQ(ObdError(dir, h + "0,t,1,2,0,0.25,aa,xx,0,0\n1,t,0,1,1,1.5,bb,xx,1,0\n"),
            p + ":3: propensity_score 1.5 is outside (0, 1]");
  EXPECT_EQ(ObdError(dir, h + "0,t,1,2,maybe,0.25,aa,xx,0,0\n"), p + ":2: click 'maybe' is not a number");
  EXPECT_EQ(ObdError(dir, h + "0,t,1,0,0,0.25,aa,xx,0,0\n"), p + ":2: position '0' is not an integer in 1..256");
  EXPECT_EQ(ObdError(dir, h + "0,t,x,1,0,0.25,aa,xx,0,0\n"), p + ":2: item_id 'x' is not a non-negative integer");
  EXPECT_EQ(ObdError(dir, h + "0,t,1,1,0,0.25,aa,xx,0\n"), p + ":2: 9 fields, the header has 10");
  EXPECT_EQ(ObdError(dir, h + "0,t,1,1,0,0.25,aa,xx,0,high\n"), p + ":2: user-item_affinity_1 'high' is not a number");
  EXPECT_EQ(ObdError(dir, h), p + ": no rows after the header");
}

TEST(OpeReaders, ObdItemContextErrors) {
  TempDir dir;
  const std::string log = dir / "men.csv";
  WriteText(log, std::string(kObdHeader) + "0,t,1,2,0,0.25,aa,xx,0,0\n");
  const std::string items = dir / "item_context.csv";
  WriteText(items, ",item,item_feature_0\n0,0,1\n");
  auto r = ReadObdLog(log, items);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), items + ":1: missing column 'item_id'");
  WriteText(items, ",item_id,item_feature_0\n0,0,1\n1,one,2\n");
  r = ReadObdLog(log, items);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), items + ":3: item_id 'one' is not a non-negative integer");
  r = ReadObdLog(log, dir / "nope.csv");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST(OpeReaders, TargetPolicyFileWithALinePerDecision) {
  TempDir dir;
  // Three decisions, the second without a reward yet.
  WriteText(dir / "log.jsonl",
            "{\"arm\":0,\"arms\":2,\"propensity\":0.5,\"reward\":1}\n"
            "{\"arm\":1,\"arms\":2,\"propensity\":0.5}\n"
            "\n"
            "{\"arm\":1,\"arms\":2,\"propensity\":0.5,\"reward\":0}\n");
  auto log = ReadSoukLog(dir / "log.jsonl");
  ASSERT_TRUE(log.ok()) << log.status().message();
  EXPECT_EQ(log->row, (std::vector<uint64_t>{0, 2}));
  // One line per decision: the second line belongs to the unrewarded decision and is passed over.
  WriteText(dir / "pi.jsonl", "[1,0]\n[0.5,0.5]\n[0.25,0.75]\n");
  auto t = TargetPolicy(*log, "file:" + (dir / "pi.jsonl"));
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(*t, (std::vector<double>{1, 0, 0.25, 0.75}));
  // One line per rewarded round works too.
  WriteText(dir / "pi.jsonl", "[1,0]\n[0.25,0.75]\n");
  t = TargetPolicy(*log, "file:" + (dir / "pi.jsonl"));
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(*t, (std::vector<double>{1, 0, 0.25, 0.75}));
}

TEST(OpeReaders, TargetPolicyFile) {
  TempDir dir;
  const OpeLog log = HandLog();
  const std::string path = dir / "pi.jsonl";
  WriteText(path, "[1,0]\n[0.5,0.5]\n[0.25,0.75]\n[0,1]\n");
  auto t = TargetPolicy(log, "file:" + path);
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(*t, (std::vector<double>{1, 0, 0.5, 0.5, 0.25, 0.75, 0, 1}));
  // Weights: 1/0.5 = 2, 0.5/0.25 = 2, 0.25/0.8 = 0.3125, 1/0.5 = 2; ips = (2 + 0 + 0 + 2) / 4 = 1.
  auto rep = EstimateOpe(log, *t, HandQ(), NoBootstrap());
  ASSERT_TRUE(rep.ok());
  EXPECT_NEAR(Value(*rep, "ips"), 1.0, 1e-12);
  WriteText(path, "[1,0]\n[0.5,0.75]\n[0.25,0.75]\n[0,1]\n");
  auto bad = TargetPolicy(log, "file:" + path);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), path + ":2: probabilities sum to 1.25, not 1");
  WriteText(path, "[1,0]\n[0.5,0.5]\n");
  bad = TargetPolicy(log, "file:" + path);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), path + ": 2 distributions, but the log has 4 rewarded rounds (4 decisions)");
  WriteText(path, "[1,0,0]\n");
  bad = TargetPolicy(log, "file:" + path);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), path + ":1: expected an array of 2 probabilities (one per arm)");
}

}  // namespace
}  // namespace souk::bandit
