// Learning to rank through the CLI on a generated shop (whose shoppers
// prefer their price band and brands): `souk train --model ltr-search`,
// `souk search-eval --rank none|ltr` on the held-out period, `souk
// features`, and the fallback when the ranker is missing or corrupt.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <nlohmann/json.hpp>

#include "test_util.h"

namespace souk {
namespace {

using json = nlohmann::json;
using souk::testing::CmdResult;
using souk::testing::TempDir;

CmdResult Souk(const TempDir& dir, const std::string& args) { return souk::testing::RunSouk(dir, args); }

TEST(RankCli, LtrBeatsBm25OnTheHeldOutPeriodAndFallsBack) {
  TempDir dir;
  const std::string shop = dir / "shop";
  ASSERT_EQ(Souk(dir, "gen " + shop + " --users 1500 --items 500 --days 30 --seed 11 --no-faults").code, 0);
  ASSERT_EQ(Souk(dir, "index " + shop).code, 0);
  const std::string test_file = shop + "/reports/ltr-search-test.csv";

  // No ranker yet: search-eval --rank ltr warns and evaluates BM25F's order.
  CmdResult r = Souk(dir, "search-eval " + shop + " --judgments " + shop + "/generated/judgments.csv --rank ltr --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: ranker not used"), std::string::npos) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["rank"], "none");
  EXPECT_TRUE(j.contains("warning"));
  const double bm25_judged = j["NDCG@10"].get<double>();

  r = Souk(dir, "train " + shop + " --model ltr-search --json");
  ASSERT_EQ(r.code, 0) << r.err;
  json meta = json::parse(r.out);
  EXPECT_GT(meta["train_queries"].get<int>(), 500);
  EXPECT_GT(meta["valid_queries"].get<int>(), 50);
  EXPECT_GT(meta["rounds"].get<int>(), 0);
  EXPECT_EQ(meta["features"].size(), 35u);
  EXPECT_FALSE(meta["importance"].empty());
  // Query intent learnt from the training period, with the ranker.
  EXPECT_TRUE(meta["intent"]["used"].get<bool>()) << meta["intent"];
  EXPECT_GT(meta["intent"]["classes"].get<int>(), 1);
  EXPECT_TRUE(std::filesystem::exists(shop + "/models/ltr-search-intent.bin"));
  ASSERT_TRUE(std::filesystem::exists(test_file));
  ASSERT_TRUE(std::filesystem::exists(shop + "/models/ltr-search.json"));

  // A judgments file with a user column holds its queries out of what
  // other models learn from the search log (here the intent classifier).
  r = Souk(dir, "intent " + shop + " --train --holdout-judgments " + test_file +
                    " --validation-share 0 --test-share 1 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_GT(json::parse(r.out)["skipped_judged_pairs"].get<int>(), 100) << r.out;

  // The held-out period: judged (query, user) searches the model never saw.
  r = Souk(dir, "search-eval " + shop + " --judgments " + test_file + " --rank none --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const json none = json::parse(r.out);
  r = Souk(dir, "search-eval " + shop + " --judgments " + test_file + " --rank ltr --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const json ltr = json::parse(r.out);
  EXPECT_EQ(ltr["rank"], "ltr");
  EXPECT_EQ(ltr["queries"], none["queries"]);
  EXPECT_GT(none["queries"].get<int>(), 100);
  EXPECT_GT(ltr["NDCG@10"].get<double>(), none["NDCG@10"].get<double>() + 0.02) << none << ltr;
  EXPECT_GT(ltr["MRR"].get<double>(), none["MRR"].get<double>());
  // Only the top rank.depth is re-ordered: recall@100 is BM25F's.
  EXPECT_NEAR(ltr["recall@100"].get<double>(), none["recall@100"].get<double>(), 1e-9);
  // The generator's query-level judgments too.
  r = Souk(dir, "search-eval " + shop + " --judgments " + shop + "/generated/judgments.csv --rank ltr --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_GT(json::parse(r.out)["NDCG@10"].get<double>(), bm25_judged);

  // A corrupt model: the same fallback, with a warning naming the file.
  { std::ofstream(shop + "/models/ltr-search.json") << "not a model"; }
  r = Souk(dir, "search-eval " + shop + " --judgments " + test_file + " --rank ltr --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("ltr-search.json"), std::string::npos) << r.err;
  EXPECT_EQ(json::parse(r.out)["rank"], "none");
  EXPECT_NEAR(json::parse(r.out)["NDCG@10"].get<double>(), none["NDCG@10"].get<double>(), 1e-12);
}

TEST(RankCli, FeaturesShowItemUserAndPair) {
  TempDir dir;
  const std::string shop = dir / "shop";
  ASSERT_EQ(Souk(dir, "gen " + shop + " --users 300 --items 120 --days 14 --seed 5 --no-faults").code, 0);
  CmdResult r = Souk(dir, "features " + shop + " --user U000002 --item I000001 --query shoes --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["item"]["item_id"], "I000001");
  EXPECT_GE(j["item"]["ctr"].get<double>(), 0);
  EXPECT_TRUE(j["user"].contains("segment"));
  EXPECT_GT(j["user"]["events"].get<int>(), 0);
  EXPECT_FALSE(j["user"]["categories"].empty());
  EXPECT_EQ(j["ranking_features"].size(), 35u);
  EXPECT_TRUE(j["ranking_features"].contains("user_brand_affinity"));
  // Unknown ids and no ids: one-line errors.
  r = Souk(dir, "features " + shop + " --user NOPE");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no user NOPE"), std::string::npos) << r.err;
  EXPECT_EQ(Souk(dir, "features " + shop).code, 1);
}

}  // namespace
}  // namespace souk

namespace souk {
namespace {

TEST(RankCli, DiversitySweepTradesAccuracyForVarietyAndDrawsIt) {
  TempDir dir;
  const std::string shop = dir / "shop";
  ASSERT_EQ(Souk(dir, "gen " + shop + " --users 600 --items 300 --days 20 --seed 3 --no-faults").code, 0);
  CmdResult r = Souk(dir, "eval " + shop + " --model ials --diversity-sweep 0,0.3,0.6 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(r.out);
  ASSERT_EQ(j["sweep"].size(), 3u);
  const auto div = [&](int i) { return j["sweep"][i]["metrics"]["diversity@10"].get<double>(); };
  EXPECT_LT(div(0), div(1));
  EXPECT_LE(div(1), div(2));
  EXPECT_EQ(j["sweep"][0]["lambda"], 0.0);
  EXPECT_TRUE(std::filesystem::exists(j["html"].get<std::string>()));
  EXPECT_NE(souk::testing::ReadText(j["html"].get<std::string>()).find("<svg"), std::string::npos);
  EXPECT_EQ(Souk(dir, "eval " + shop + " --model ials --diversity-sweep 0,2").code, 1);
  EXPECT_EQ(Souk(dir, "eval " + shop + " --model ials --model pop --diversity-sweep 0").code, 1);
}

}  // namespace
}  // namespace souk

namespace souk {
namespace {

TEST(RankCli, RecommendationsExplainAndBlend) {
  TempDir dir;
  const std::string shop = dir / "shop";
  ASSERT_EQ(Souk(dir, "gen " + shop + " --users 400 --items 200 --days 14 --seed 9 --no-faults").code, 0);
  ASSERT_EQ(Souk(dir, "train " + shop).code, 0);
  CmdResult r = Souk(dir, "recommend " + shop + " U000002 --explain --k 8 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  ASSERT_EQ(j["items"].size(), 8u);
  EXPECT_EQ(j["model"].get<std::string>().rfind("ials", 0), 0u);
  for (const auto& x : j["items"]) {
    EXPECT_FALSE(x["reason"].get<std::string>().empty()) << x;
    ASSERT_FALSE(x["because"].empty()) << x;
    EXPECT_EQ(x["because"][0]["source"], "user");
  }
  // The plain answer: the same items, in the same order.
  r = Souk(dir, "recommend " + shop + " U000002 --k 8 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const json plain = json::parse(r.out);
  for (size_t i = 0; i < 8; ++i) EXPECT_EQ(plain["items"][i]["item_id"], j["items"][i]["item_id"]);

  r = Souk(dir, "recommend " + shop + " U000002 --blend --explain --k 10 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  j = json::parse(r.out);
  EXPECT_EQ(j["model"], "blend");
  EXPECT_TRUE(j["blend"].contains("user"));
  EXPECT_TRUE(j["blend"].contains("similar"));
  EXPECT_TRUE(j["blend"].contains("pop"));
  ASSERT_EQ(j["items"].size(), 10u);
  std::set<std::string> ids;
  bool viewed = false;
  for (const auto& x : j["items"]) {
    EXPECT_TRUE(ids.insert(x["item_id"].get<std::string>()).second) << x;
    for (const auto& b : x["because"]) viewed |= b.contains("because_you_viewed");
  }
  EXPECT_TRUE(viewed) << j;
  // Scores (fused reciprocal ranks) are non-increasing.
  for (size_t i = 1; i < 10; ++i) EXPECT_LE(j["items"][i]["score"].get<double>(), j["items"][i - 1]["score"].get<double>());
  EXPECT_EQ(Souk(dir, "recommend " + shop + " U000002 --blend --model pop").code, 1);
}

}  // namespace
}  // namespace souk

namespace souk {
namespace {

// The recommendations re-ranker: trained, evaluated against the user model
// and the plain blend on leave-one-out, served by `souk recommend`.
TEST(RankCli, LtrRecsTrainsEvaluatesAndServes) {
  TempDir dir;
  const std::string shop = dir / "shop";
  ASSERT_EQ(Souk(dir, "gen " + shop + " --users 1500 --items 500 --days 30 --seed 5 --no-faults").code, 0);
  std::map<std::string, double> ndcg;
  for (const std::string m : {"ials", "blend", "ltr-recs:users=1500,rounds=100"}) {
    CmdResult r = Souk(dir, "eval " + shop + " --model " + m + " --json");
    ASSERT_EQ(r.code, 0) << m << ": " << r.err;
    ndcg[m.substr(0, m.find(':'))] = json::parse(r.out)["metrics"]["NDCG@10"].get<double>();
  }
  // The generator's shoppers follow their brands, price band and recent
  // categories: features the re-ranker sees and the generators do not.
  EXPECT_GT(ndcg["ltr-recs"], ndcg["blend"]) << json(ndcg);
  EXPECT_GT(ndcg["ltr-recs"], ndcg["ials"] * 1.05) << json(ndcg);

  CmdResult r = Souk(dir, "train " + shop + " --model ltr-recs:users=1500,rounds=100 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_TRUE(std::filesystem::exists(shop + "/models/ltr-recs.bin"));
  r = Souk(dir, "recommend " + shop + " U000002 --model ltr-recs --k 10 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["model"].get<std::string>().rfind("ltr-recs:", 0), 0u) << j;
  ASSERT_EQ(j["items"].size(), 10u);
  std::set<std::string> ids;
  for (const auto& x : j["items"]) EXPECT_TRUE(ids.insert(x["item_id"].get<std::string>()).second);
  // A broken file says so.
  { std::ofstream(shop + "/models/ltr-recs.bin") << "SOUKREC1 garbage"; }
  r = Souk(dir, "recommend " + shop + " U000002 --model ltr-recs --json");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("ltr-recs"), std::string::npos) << r.err;
}

// Business rules on recommendations and in `souk search`, and diversity in
// `souk recommend`.
TEST(RankCli, RulesApplyToRecommendationsAndSearchAndDiversityToRecommend) {
  TempDir dir;
  const std::string shop = dir / "shop";
  ASSERT_EQ(Souk(dir, "gen " + shop + " --users 400 --items 200 --days 14 --seed 9 --no-faults").code, 0);
  ASSERT_EQ(Souk(dir, "train " + shop).code, 0);
  ASSERT_EQ(Souk(dir, "index " + shop).code, 0);
  const auto items = [](const json& j) {
    std::vector<std::string> out;
    for (const auto& x : j.contains("items") ? j["items"] : j["hits"]) out.push_back(x["item_id"].get<std::string>());
    return out;
  };
  CmdResult r = Souk(dir, "recommend " + shop + " U000002 --k 10 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<std::string> before = items(json::parse(r.out));
  ASSERT_EQ(before.size(), 10u);
  EXPECT_FALSE(json::parse(r.out).contains("rules"));

  // Diversity: the same number of items, over at least as many categories.
  r = Souk(dir, "recommend " + shop + " U000002 --k 10 --diversity 0.6 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const json div = json::parse(r.out);
  ASSERT_EQ(div["items"].size(), 10u);
  EXPECT_EQ(div["diversity"]["lambda"], 0.6);
  const auto categories = [&](const std::vector<std::string>& ids) {
    std::set<std::string> cats;
    for (const auto& id : ids) {
      CmdResult f = Souk(dir, "features " + shop + " --item " + id + " --json");
      cats.insert(json::parse(f.out)["item"]["category"].get<std::string>());
    }
    return cats.size();
  };
  EXPECT_GT(categories(items(div)), categories(before));
  EXPECT_NE(Souk(dir, "recommend " + shop + " U000002 --diversity 2").code, 0);

  // A pin (an item not in the list), a hide (the list's first item).
  std::string other;
  for (int i = 190; i < 200 && other.empty(); ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "I%06d", i);
    if (std::find(before.begin(), before.end(), id) == before.end()) other = id;
  }
  ASSERT_FALSE(other.empty());
  r = Souk(dir, "rules add " + shop + " --kind pin --surface recommend --item " + other + " --position 2 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const int64_t pin = json::parse(r.out)["id"].get<int64_t>();
  r = Souk(dir, "rules add " + shop + " --kind hide --surface recommend --item " + before[0] + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Souk(dir, "rules add " + shop + " --kind hide --surface recommend --query x --item " + before[0]).code, 1);
  r = Souk(dir, "recommend " + shop + " U000002 --k 10 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  std::vector<std::string> after = items(j);
  ASSERT_EQ(after.size(), 10u) << j;
  EXPECT_EQ(after[1], other);
  EXPECT_EQ(std::find(after.begin(), after.end(), before[0]), after.end());
  EXPECT_EQ(after[0], before[1]);
  EXPECT_EQ(j["rules"].size(), 2u);
  std::set<std::string> unique(after.begin(), after.end());
  EXPECT_EQ(unique.size(), after.size());

  // Search rules through the CLI: a pin for one query; --no-rules shows the
  // ranked order.
  r = Souk(dir, "search " + shop + " shoes --k 5 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<std::string> hits = items(json::parse(r.out));
  ASSERT_GE(hits.size(), 3u);
  ASSERT_EQ(Souk(dir, "rules add " + shop + " --kind pin --surface search --query Shoes --item " + hits[2] +
                          " --position 1").code, 0);
  r = Souk(dir, "search " + shop + " shoes --k 5 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  j = json::parse(r.out);
  EXPECT_EQ(items(j)[0], hits[2]);
  EXPECT_EQ(items(j).size(), hits.size());
  EXPECT_EQ(j["rules"].size(), 1u);
  r = Souk(dir, "search " + shop + " shoes --k 5 --no-rules --json");
  EXPECT_EQ(items(json::parse(r.out)), hits);
  // The pin is for that query only; the recommend rules do not touch search.
  r = Souk(dir, "search " + shop + " dress --k 5 --json");
  EXPECT_FALSE(json::parse(r.out).contains("rules")) << r.out;
  ASSERT_EQ(Souk(dir, "rules delete " + shop + " " + std::to_string(pin)).code, 0);
  r = Souk(dir, "recommend " + shop + " U000002 --k 10 --json");
  EXPECT_EQ(json::parse(r.out)["rules"].size(), 1u);
}

}  // namespace
}  // namespace souk
