// Deep models through the CLI (the souk binary loads libsouk_deep.so on
// demand): SASRec learns a planted next-item rule, serves it for sessions,
// round-trips through its model file, and reports broken files clearly.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
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

constexpr int kItems = 30;

std::string Item(int i) {
  std::string s = "I";
  s += std::to_string((i % kItems + kItems) % kItems);
  return s;
}

// 400 users, each walking 8 consecutive items of a 30-item cycle: the next
// item is always the current one + 1.
std::string PlantedEvents() {
  std::mt19937 rng(5);
  std::ostringstream out;
  out << "user_id,item_id,event_type,timestamp\n";
  for (int u = 0; u < 400; ++u) {
    const int start = static_cast<int>(rng() % kItems);
    for (int t = 0; t < 8; ++t)
      out << "u" << u << "," << Item(start + t) << ",click," << 1780000000 + u * 1000 + t * 60 << "\n";
  }
  return out.str();
}

TEST(Deep, SasRecLearnsAPlantedNextItemRule) {
  TempDir dir;
  const std::string shop = dir / "shop";
  ASSERT_EQ(Souk(dir, "init " + shop).code, 0);
  WriteText(dir / "events.csv", PlantedEvents());
  ASSERT_EQ(Souk(dir, "import " + shop + " --events " + (dir / "events.csv")).code, 0);
  const std::string spec =
      "'sasrec:d=32,len=8,layers=1,heads=2,drop=0.1,lr=0.005,bs=64,epochs=40,every=5,patience=3,seed=1'";
  CmdResult r = Souk(dir, "train " + shop + " --model " + spec + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["models"][0]["name"], "sasrec");

  int right = 0;
  for (int start : {0, 5, 11, 17, 24}) {
    std::string session = Item(start);
    for (int k : {1, 2}) {
      session += ',';
      session += Item(start + k);
    }
    // SASRec never learns to rank down items already in the sequence (its
    // negatives are unseen items), so serve it with seen items excluded.
    r = Souk(dir, "recommend " + shop + " --session " + session + " --model sasrec --exclude-seen --k 3 --json");
    ASSERT_EQ(r.code, 0) << r.err;
    const json j = json::parse(r.out);
    ASSERT_EQ(j["items"].size(), 3u);
    right += j["items"][0]["item_id"] == Item(start + 3);
  }
  EXPECT_GE(right, 4);

  // The saved model answers the same way twice (load is exact).
  const std::string a = Souk(dir, "recommend " + shop + " --session I3,I4 --model sasrec --json").out;
  const std::string b = Souk(dir, "recommend " + shop + " --session I3,I4 --model sasrec --json").out;
  EXPECT_EQ(a, b);
  EXPECT_FALSE(a.empty());

  // A truncated model file is a clear error, not a crash.
  const std::string path = shop + "/models/sasrec.bin";
  const std::string bytes = ReadText(path);
  WriteText(path, bytes.substr(0, bytes.size() / 2));
  r = Souk(dir, "recommend " + shop + " --session I3,I4 --model sasrec");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("truncated"), std::string::npos) << r.err;

  // The training curve is on disk, and `souk runs` lists and shows it.
  r = Souk(dir, "runs " + shop + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const json runs = json::parse(r.out)["runs"];
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["model"].get<std::string>().rfind("sasrec:d=32,", 0), 0u) << runs[0];
  const size_t epochs = runs[0]["epochs"].get<size_t>();
  EXPECT_GE(epochs, 5u);
  EXPECT_LE(epochs, 40u);
  EXPECT_GT(runs[0]["best_val_ndcg10"].get<double>(), 0.5);  // the rule is easy to learn
  r = Souk(dir, "runs " + shop + " " + runs[0]["run"].get<std::string>() + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const json curve = json::parse(r.out)["curve"];
  ASSERT_EQ(curve.size(), epochs);
  EXPECT_EQ(curve[0]["epoch"], 1);
  EXPECT_TRUE(curve[4].contains("val_ndcg10"));  // every=5 validates epoch 5
  EXPECT_FALSE(curve[0].contains("val_ndcg10"));
  r = Souk(dir, "runs " + shop + " no-such-run");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no run 'no-such-run'"), std::string::npos) << r.err;

  // Bad specs are refused before training.
  r = Souk(dir, "train " + shop + " --model 'sasrec:d=30,heads=4'");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("divisible by heads"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace souk
