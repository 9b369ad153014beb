// `souk train`, `recommend`, `similar`, `eval`, `tune` and `score-lists`
// through the command-line contract, on a small generated shop: JSON shapes,
// real-time use of new events without retraining, fallbacks and errors.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "test_util.h"

namespace souk {
namespace {

using json = nlohmann::json;
using souk::testing::CmdResult;
using souk::testing::ReadText;
using souk::testing::TempDir;
using souk::testing::WriteText;

CmdResult Souk(const TempDir& dir, const std::string& args) { return souk::testing::RunSouk(dir, args); }

std::vector<std::string> ItemIds(const json& j) {
  std::vector<std::string> ids;
  for (const auto& x : j["items"]) ids.push_back(x["item_id"].get<std::string>());
  return ids;
}

class CliRec : public ::testing::Test {
 protected:
  void SetUp() override {
    shop_ = dir_ / "shop";
    CmdResult r = Souk(dir_, "gen " + shop_ + " --users 400 --items 150 --days 14 --seed 7 --no-faults --json");
    ASSERT_EQ(r.code, 0) << r.err;
  }
  TempDir dir_;
  std::string shop_;
};

TEST_F(CliRec, TrainRecommendSimilarAndRealTime) {
  CmdResult r = Souk(dir_, "recommend " + shop_ + " U000001");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no trained model 'ials'"), std::string::npos) << r.err;

  r = Souk(dir_, "train " + shop_ + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  std::set<std::string> names;
  for (const auto& m : j["models"]) names.insert(m["name"].get<std::string>());
  EXPECT_EQ(names, (std::set<std::string>{"pop", "itemknn", "sknn", "ials"}));
  EXPECT_TRUE(std::filesystem::exists(shop_ + "/models/ials.bin"));

  // A known user: k items, none already in the history.
  r = Souk(dir_, "recommend " + shop_ + " U000002 --k 5 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  j = json::parse(r.out);
  EXPECT_EQ(j["user"], "U000002");
  EXPECT_EQ(j["items"].size(), 5u);
  EXPECT_EQ(j["model"].get<std::string>().rfind("ials:", 0), 0u);
  EXPECT_FALSE(j.contains("fallback"));

  // Real time: a new shopper's events count at once, without retraining.
  const std::vector<std::string> first =
      ItemIds(json::parse(Souk(dir_, "similar " + shop_ + " I000010 --k 3 --json").out));
  ASSERT_EQ(first.size(), 3u);
  WriteText(dir_ / "e1.csv", "user_id,item_id,event_type,timestamp\nnewbie,I000010,view,1782000000\nnewbie," +
                                 first[0] + ",cart,1782000060\n");
  ASSERT_EQ(Souk(dir_, "import " + shop_ + " --events " + (dir_ / "e1.csv")).code, 0);
  r = Souk(dir_, "recommend " + shop_ + " newbie --k 10 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  j = json::parse(r.out);
  EXPECT_EQ(j["history"], 2);
  EXPECT_FALSE(j.contains("fallback")) << j.dump();
  std::vector<std::string> ids = ItemIds(j);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), "I000010"), 0);  // seen
  EXPECT_EQ(std::count(ids.begin(), ids.end(), first[0]), 0);
  WriteText(dir_ / "e2.csv", "user_id,item_id,event_type,timestamp\nnewbie," + first[1] + ",purchase,1782000120\n");
  ASSERT_EQ(Souk(dir_, "import " + shop_ + " --events " + (dir_ / "e2.csv")).code, 0);
  j = json::parse(Souk(dir_, "recommend " + shop_ + " newbie --k 10 --json").out);
  EXPECT_EQ(j["history"], 3);
  ids = ItemIds(j);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), first[1]), 0);
  // --include-seen keeps history items.
  j = json::parse(Souk(dir_, "recommend " + shop_ + " newbie --k 150 --include-seen --json").out);
  ids = ItemIds(j);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), "I000010"), 1);

  // Unknown user: popularity, and it says so.
  r = Souk(dir_, "recommend " + shop_ + " nobody --k 3 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  j = json::parse(r.out);
  EXPECT_EQ(j["items"].size(), 3u);
  EXPECT_NE(j["fallback"].get<std::string>().find("unknown user"), std::string::npos);

  // Batch users: one JSON line each.
  WriteText(dir_ / "users.txt", "U000001\nU000003\nnobody\n");
  r = Souk(dir_, "recommend " + shop_ + " --users " + (dir_ / "users.txt") + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    EXPECT_EQ(json::parse(line)["items"].size(), 10u);
    ++n;
  }
  EXPECT_EQ(n, 3);

  // Anonymous sessions: session-kNN; unknown items are named, not fatal.
  r = Souk(dir_, "recommend " + shop_ + " --session I000010," + first[0] + ",NOPE --k 4 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  j = json::parse(r.out);
  EXPECT_EQ(j["items"].size(), 4u);
  EXPECT_EQ(j["model"].get<std::string>().rfind("sknn:", 0), 0u);
  EXPECT_EQ(j["unknown_items"], json::array({"NOPE"}));
  r = Souk(dir_, "recommend " + shop_ + " --session NOPE --k 4 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(json::parse(r.out).contains("fallback"));

  // Similar items and their errors.
  r = Souk(dir_, "similar " + shop_ + " I000999 --json");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("unknown item 'I000999'"), std::string::npos) << r.err;
  r = Souk(dir_, "similar " + shop_ + " I000010 --model sknn");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no item-to-item similarity"), std::string::npos) << r.err;
  r = Souk(dir_, "recommend " + shop_);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("give a USER"), std::string::npos) << r.err;
}

TEST_F(CliRec, EvalAndTune) {
  CmdResult r = Souk(dir_, "eval " + shop_ + " --model itemknn --json");
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["model"], "itemknn:k=100,shrink=10,w=0,maxu=500");
  EXPECT_EQ(j["split"], "loo-test");
  EXPECT_EQ(j["protocol"], "full");
  EXPECT_GT(j["users"].get<int>(), 100);
  for (const char* m : {"HR@10", "NDCG@10", "MRR@10", "Recall@20", "MAP@10", "coverage@10", "novelty@10"}) {
    EXPECT_TRUE(j["metrics"].contains(m)) << m;
  }
  const double hr = j["metrics"]["HR@10"];
  EXPECT_LE(j["ci95"]["HR@10"][0].get<double>(), hr);
  EXPECT_GE(j["ci95"]["HR@10"][1].get<double>(), hr);

  r = Souk(dir_, "eval " + shop_ + " --model pop --protocol sampled:50 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["protocol"], "sampled:50");

  r = Souk(dir_, "eval " + shop_ + " --all --split temporal --html " + (dir_ / "eval.html"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("ials:"), std::string::npos) << r.out;
  const std::string html = ReadText(dir_ / "eval.html");
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("itemknn:k=100"), std::string::npos);

  r = Souk(dir_, "eval " + shop_ + " --model itemknn --protocol sampled:x");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("sampled"), std::string::npos) << r.err;
  r = Souk(dir_, "eval " + shop_ + " --model 'ials:f=0'");
  EXPECT_EQ(r.code, 1);
  EXPECT_FALSE(r.err.empty());
  r = Souk(dir_, "eval " + shop_ + " --model 'itemknn:neighbours=3'");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("unknown parameter 'neighbours'"), std::string::npos) << r.err;

  // Tune keeps the best validation spec; a bare name then resolves to it.
  r = Souk(dir_, "tune " + shop_ + " --model itemknn --trials 4 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  j = json::parse(r.out);
  EXPECT_EQ(j["trials"].size(), 4u);
  const std::string best = j["best"];
  json tuned = json::parse(ReadText(shop_ + "/tuned.json"));
  EXPECT_EQ(tuned["itemknn"]["spec"], best);
  EXPECT_EQ(tuned["itemknn"]["split"], "loo-validation");
  r = Souk(dir_, "eval " + shop_ + " --model itemknn --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["model"], best);
}

TEST(CliScoreLists, HandComputedAndErrors) {
  TempDir dir;
  // Target b at rank 2 of 3, target z missing: HR@2 = 0.5, MRR@2 = 0.25.
  WriteText(dir / "lists.tsv", "b\ta,b,c\nz\ta,b,c\n");
  CmdResult r = Souk(dir, "score-lists " + (dir / "lists.tsv") + " --k 2 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["lists"], 2);
  EXPECT_DOUBLE_EQ(j["metrics"]["HR@2"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(j["metrics"]["MRR@2"].get<double>(), 0.25);
  WriteText(dir / "bad.tsv", "b a,b,c\n");
  r = Souk(dir, "score-lists " + (dir / "bad.tsv"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("bad.tsv:1: expected TARGET<TAB>"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace souk
