// `souk ope` through the command-line contract: the JSON shape and values on
// a small hand-made log (souk JSONL and OBD CSV), --synthetic, and one-line
// errors with a non-zero exit on bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "test_util.h"

namespace souk {
namespace {

using json = nlohmann::json;
using souk::testing::CmdResult;
using souk::testing::TempDir;
using souk::testing::WriteText;

CmdResult Souk(const TempDir& dir, const std::string& args) { return souk::testing::RunSouk(dir, args); }

// Two arms; rounds (arm, propensity, reward): (0, 0.5, 1), (1, 0.25, 0),
// (0, 0.8, 0), (1, 0.5, 1), plus one decision without a reward yet.
// Uniform target: weights 1, 2, 0.625, 1; ips = 2/4 = 0.5, snips = 2/4.625.
constexpr char kLog[] =
    "{\"decision\":\"a\",\"campaign\":\"c\",\"arm\":0,\"arms\":2,\"position\":0,\"propensity\":0.5,\"reward\":1,"
    "\"x\":[1]}\n"
    "{\"decision\":\"b\",\"campaign\":\"c\",\"arm\":1,\"arms\":2,\"position\":0,\"propensity\":0.25,\"reward\":0,"
    "\"x\":[0]}\n"
    "{\"decision\":\"c\",\"campaign\":\"c\",\"arm\":0,\"arms\":2,\"position\":0,\"propensity\":0.8,\"reward\":0,"
    "\"x\":[1]}\n"
    "{\"decision\":\"d\",\"campaign\":\"c\",\"arm\":1,\"arms\":2,\"position\":0,\"propensity\":0.5,\"reward\":1,"
    "\"x\":[0]}\n"
    "{\"decision\":\"e\",\"campaign\":\"c\",\"arm\":1,\"arms\":2,\"position\":0,\"propensity\":0.5,\"x\":[0]}\n";

TEST(OpeCli, JsonOnASoukLog) {
  TempDir dir;
  WriteText(dir / "log.jsonl", kLog);
  CmdResult r = Souk(dir, "ope --log " + (dir / "log.jsonl") + " --policy uniform --bootstrap 50 --seed 3 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["n"], 4);
  EXPECT_EQ(j["skipped"], 1);
  EXPECT_EQ(j["format"], "souk");
  EXPECT_EQ(j["policy"], "uniform");
  EXPECT_NEAR(j["estimators"]["ips"].get<double>(), 0.5, 1e-12);
  EXPECT_NEAR(j["estimators"]["snips"].get<double>(), 2 / 4.625, 1e-12);
  EXPECT_NEAR(j["logged_value"].get<double>(), 0.5, 1e-12);
  EXPECT_NEAR(j["max_weight"].get<double>(), 2, 1e-12);
  for (const char* e : {"ips", "snips", "dm", "dr", "switch-dr"}) {
    ASSERT_TRUE(j["estimators"].contains(e)) << e;
    ASSERT_TRUE(j["ci95"][e].is_array()) << e;
    EXPECT_LE(j["ci95"][e][0].get<double>(), j["ci95"][e][1].get<double>()) << e;
  }
  // Same seed, same output.
  CmdResult again = Souk(dir, "ope --log " + (dir / "log.jsonl") + " --policy uniform --bootstrap 50 --seed 3 --json");
  EXPECT_EQ(again.out, r.out);
  // Human output: a table with every estimator.
  CmdResult text = Souk(dir, "ope --log " + (dir / "log.jsonl") + " --policy arm:0 --clip 1.5");
  ASSERT_EQ(text.code, 0) << text.err;
  for (const char* e : {"ips", "snips", "dm", "dr", "switch-dr", "95% interval"})
    EXPECT_NE(text.out.find(e), std::string::npos) << e << "\n" << text.out;
}

TEST(OpeCli, JsonOnAnObdLog) {
  TempDir dir;
  WriteText(dir / "men.csv",
            ",timestamp,item_id,position,click,propensity_score,user_feature_0,user-item_affinity_0,"
            "user-item_affinity_1\n"
            "0,2019-11-24 00:01:03+00:00,1,2,0,0.25,aa,0.0,3.0\n"
            "1,2019-11-24 00:01:04+00:00,0,1,1,0.5,bb,1.0,0.0\n"
            "2,2019-11-24 00:01:05+00:00,1,3,0,0.125,aa,0.0,0.0\n");
  CmdResult r = Souk(dir, "ope --log " + (dir / "men.csv") + " --format obd --policy uniform --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["n"], 3);
  EXPECT_EQ(j["arms"], 2);
  EXPECT_EQ(j["positions"], 3);
  // ips = (0 + 1 * 0.5/0.5 + 0) / 3
  EXPECT_NEAR(j["estimators"]["ips"].get<double>(), 1.0 / 3, 1e-12);
}

TEST(OpeCli, Synthetic) {
  TempDir dir;
  CmdResult r = Souk(dir, "ope --synthetic 10000 --seed 1 --bootstrap 100 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["n"], 10000);
  const double truth = j["true_value"].get<double>();
  EXPECT_LE(std::abs(j["errors"]["dr"].get<double>()), std::abs(j["errors"]["ips"].get<double>()));
  EXPECT_LE(std::abs(j["estimators"]["dr"].get<double>() - truth), 0.05 * truth);
  CmdResult text = Souk(dir, "ope --synthetic 2000");
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_NE(text.out.find("truth"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("error"), std::string::npos) << text.out;
}

TEST(OpeCli, BadInputIsAOneLineError) {
  TempDir dir;
  WriteText(dir / "bad.jsonl",
            "{\"arm\":0,\"arms\":2,\"propensity\":0.5,\"reward\":1}\n"
            "{\"arm\":1,\"arms\":2,\"propensity\":2,\"reward\":0}\n");
  WriteText(dir / "log.jsonl", kLog);
  struct Case {
    std::string args, expect;
  };
  const std::vector<Case> cases = {
      {"ope --log " + (dir / "bad.jsonl") + " --policy uniform --json",
       (dir / "bad.jsonl") + ":2: \"propensity\" 2 is outside (0, 1]"},
      {"ope --log " + (dir / "missing.jsonl") + " --policy uniform", "cannot open"},
      {"ope --log " + (dir / "log.jsonl") + " --policy greedy", "unknown policy 'greedy'"},
      {"ope --log " + (dir / "log.jsonl") + " --policy arm:7", "arm must be an integer in 0..1"},
      {"ope --log " + (dir / "log.jsonl"), "--policy is required"},
      {"ope --log " + (dir / "log.jsonl") + " --policy uniform --clip -1", "clip -1 must be >= 0"},
  };
  for (const auto& c : cases) {
    CmdResult r = Souk(dir, c.args);
    EXPECT_NE(r.code, 0) << c.args;
    EXPECT_TRUE(r.out.empty()) << c.args << ": " << r.out;
    EXPECT_EQ(r.err.rfind("souk: error: ", 0), 0u) << c.args << ": " << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.args << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << c.args << ": " << r.err;
  }
}

}  // namespace
}  // namespace souk
