// The bandit commands through the souk binary: `campaign` (create, decide,
// reward twice, unknown decision, show, log) and `bandit simulate` (the
// contract's JSON shape, the chart, bad options).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "campaign/campaign.h"
#include "test_util.h"

namespace souk {
namespace {

using json = nlohmann::json;
using souk::testing::CmdResult;
using souk::testing::ReadText;
using souk::testing::TempDir;

CmdResult Souk(const TempDir& dir, const std::string& args) { return souk::testing::RunSouk(dir, args); }

TEST(CampaignCli, DecideRewardShowAndLog) {
  TempDir dir;
  const std::string d = dir / "shop";
  ASSERT_EQ(Souk(dir, "init " + d).code, 0);
  CmdResult c = Souk(dir, "campaign create " + d + " hero --arms red,green,blue --policy ts --seed 3 --json");
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_EQ(json::parse(c.out)["policy"], "ts:a=1,b=1,draws=1000");
  CmdResult dec = Souk(dir, "campaign decide " + d + " hero --user U1 --json");
  ASSERT_EQ(dec.code, 0) << dec.err;
  const json dj = json::parse(dec.out);
  const std::string id = dj["decision"];
  ASSERT_EQ(dj["arms"].size(), 1u);
  const double p = dj["propensities"][0];
  EXPECT_GT(p, 0);
  EXPECT_LE(p, 1);
  CmdResult r1 = Souk(dir, "campaign reward " + d + " " + id + " 1 --json");
  ASSERT_EQ(r1.code, 0) << r1.err;
  EXPECT_EQ(json::parse(r1.out)["duplicate"], false);
  CmdResult r2 = Souk(dir, "campaign reward " + d + " " + id + " 0 --json");
  ASSERT_EQ(r2.code, 0) << r2.err;
  EXPECT_EQ(json::parse(r2.out)["duplicate"], true);
  EXPECT_EQ(json::parse(r2.out)["rewards"][0], 1.0);
  CmdResult bad = Souk(dir, "campaign reward " + d + " no-such-id 1");
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("no decision 'no-such-id'"), std::string::npos) << bad.err;
  // Show: the rewarded arm has one pull; probabilities sum to 1.
  CmdResult s = Souk(dir, "campaign show " + d + " hero --json");
  ASSERT_EQ(s.code, 0) << s.err;
  const json sj = json::parse(s.out);
  double total = 0;
  for (const auto& a : sj["arms"]) {
    total += a["probability"].get<double>();
    if (a["arm"] == dj["arms"][0]) EXPECT_EQ(a["pulls"], 1);
  }
  EXPECT_NEAR(total, 1, 1e-9);
  EXPECT_EQ(sj["updates"], 1);
  // The log: one JSON line per chosen arm, with propensity and reward.
  CmdResult log = Souk(dir, "campaign log " + d + " hero");
  ASSERT_EQ(log.code, 0) << log.err;
  const json line = json::parse(log.out.substr(0, log.out.find('\n')));
  EXPECT_EQ(line["decision"], id);
  EXPECT_EQ(line["propensity"], p);
  EXPECT_EQ(line["reward"], 1.0);
  EXPECT_EQ(line["arms"], 3);
  // Errors: unknown campaign, duplicate name, bad context.
  EXPECT_NE(Souk(dir, "campaign decide " + d + " nope").code, 0);
  EXPECT_NE(Souk(dir, "campaign create " + d + " hero --arms a,b").code, 0);
  CmdResult ctx = Souk(dir, "campaign decide " + d + " hero --context 'age=abc'");
  EXPECT_NE(ctx.code, 0);
  EXPECT_NE(ctx.err.find("not a number"), std::string::npos) << ctx.err;
  // State survives: a second process sees the update count.
  CmdResult again = Souk(dir, "campaign list " + d + " --json");
  ASSERT_EQ(again.code, 0);
  EXPECT_EQ(json::parse(again.out)["campaigns"][0]["rewarded"], 1);
}

// A campaign's own log, exported and evaluated off-policy: an epsilon-greedy
// campaign (propensities exact) on arms with known click rates; the value
// of "always arm 2" and of the uniform policy are estimated from the log
// and compared with the truth.
TEST(CampaignCli, LogFeedsOffPolicyEvaluation) {
  TempDir dir;
  const std::string d = dir / "shop";
  ASSERT_EQ(Souk(dir, "init " + d).code, 0);
  const std::vector<double> ctr = {0.05, 0.10, 0.30, 0.15};
  {
    auto store = Store::OpenSqlite(d + "/souk.db");
    ASSERT_TRUE(store.ok());
    campaign::CampaignService svc(store->get());
    campaign::CampaignSpec spec;
    spec.name = "hero";
    spec.policy = "egreedy:eps=0.5";
    spec.arms = {"a", "b", "c", "d"};
    spec.seed = 11;
    ASSERT_TRUE(svc.Create(spec).ok());
    bandit::Rng env(12);
    for (int t = 0; t < 4000; ++t) {
      auto dec = svc.Decide("hero", "", {});
      ASSERT_TRUE(dec.ok());
      ASSERT_TRUE(svc.Reward(dec->id, {env.Uniform() < ctr[dec->arms[0]] ? 1.0 : 0.0}).ok());
    }
  }
  CmdResult log = Souk(dir, "campaign log " + d + " hero");
  ASSERT_EQ(log.code, 0) << log.err;
  souk::testing::WriteText(dir / "hero.jsonl", log.out);
  for (const auto& [policy, truth] :
       std::vector<std::pair<std::string, double>>{{"arm:2", 0.30}, {"uniform", (0.05 + 0.10 + 0.30 + 0.15) / 4}}) {
    CmdResult ope = Souk(dir, "ope --log " + (dir / "hero.jsonl") + " --format souk --policy " + policy + " --json");
    ASSERT_EQ(ope.code, 0) << ope.err;
    const json j = json::parse(ope.out);
    EXPECT_EQ(j["n"], 4000);
    for (const char* est : {"ips", "snips", "dr"}) {
      const double v = j["estimators"][est];
      EXPECT_NEAR(v, truth, 0.04) << policy << " " << est << ": " << ope.out;
    }
  }
}

TEST(BanditCli, SimulateJsonShapeAndChart) {
  TempDir dir;
  CmdResult r = Souk(dir, "bandit simulate --env bernoulli --arms 5 --rounds 20000 --policy ts --seeds 2 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(r.out);
  for (const char* k : {"policy", "rounds", "regret", "lower_bound"}) EXPECT_TRUE(j.contains(k)) << k << r.out;
  EXPECT_EQ(j["rounds"], 20000);
  EXPECT_GT(j["lower_bound"].get<double>(), 0);
  EXPECT_LT(j["regret"].get<double>(), 1.5 * j["lower_bound"].get<double>()) << r.out;
  const std::string html = dir / "regret.html";
  CmdResult all =
      Souk(dir, "bandit simulate --env logistic --arms 4 --dim 5 --rounds 3000 --seeds 2 --html " + html + " --json");
  ASSERT_EQ(all.code, 0) << all.err;
  const json aj = json::parse(all.out);
  ASSERT_EQ(aj["results"].size(), 5u);
  EXPECT_EQ(aj["results"][0]["lower_bound"], nullptr);
  EXPECT_NE(ReadText(html).find("<svg"), std::string::npos);
  // The shop environment: a generated shop's session simulator as a
  // contextual bandit, where the best category depends on the user's state.
  ASSERT_EQ(Souk(dir, "gen " + (dir / "shop") + " --users 300 --items 200 --days 10 --seed 3").code, 0);
  CmdResult shop = Souk(dir, "bandit simulate --env shop --shop " + (dir / "shop") +
                                 " --rounds 20000 --seeds 2 --policy ts --policy linucb:alpha=0.2 --json");
  ASSERT_EQ(shop.code, 0) << shop.err;
  const json sj = json::parse(shop.out);
  ASSERT_EQ(sj["results"].size(), 2u);
  EXPECT_LT(sj["results"][1]["regret"].get<double>(), 0.75 * sj["results"][0]["regret"].get<double>()) << shop.out;
  EXPECT_NE(Souk(dir, "bandit simulate --env shop").code, 0);  // needs --shop
  CmdResult bad = Souk(dir, "bandit simulate --env bernoulli --policy nope");
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.err.find("unknown policy"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace souk
