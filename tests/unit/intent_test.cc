// Query intent: the classifier learns planted categories, held-out accuracy
// is counted right, save/load round-trips, and damaged files are errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "search/search.h"
#include "test_util.h"

namespace souk::search {
namespace {

namespace fs = std::filesystem;

std::vector<IntentPair> Planted() {
  const std::vector<std::pair<std::string, std::vector<std::string>>> groups = {
      {"shoes > running", {"running shoes", "trail runner", "jogging sneakers", "marathon shoes", "road running"}},
      {"kitchen > coffee", {"espresso machine", "coffee grinder", "french press", "coffee beans", "milk frother"}},
      {"garden > tools", {"garden hose", "pruning shears", "lawn mower", "leaf rake", "garden spade"}},
  };
  std::vector<IntentPair> pairs;
  for (int rep = 0; rep < 5; ++rep)
    for (const auto& [cat, queries] : groups)
      for (const auto& q : queries) pairs.push_back({q, cat});
  return pairs;
}

TEST(IntentTest, LearnsPlantedCategories) {
  auto m = IntentModel::Train(Planted(), IntentOptions{});
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ((*m)->categories().size(), 3u);
  EXPECT_EQ((*m)->Predict("running shoes", 1)[0].category, "shoes > running");
  EXPECT_EQ((*m)->Predict("coffee grinder", 1)[0].category, "kitchen > coffee");
  // Unseen combinations of seen words and a misspelling (character trigrams).
  EXPECT_EQ((*m)->Predict("garden rake", 1)[0].category, "garden > tools");
  EXPECT_EQ((*m)->Predict("espreso", 1)[0].category, "kitchen > coffee");
  auto top = (*m)->Predict("trail running", 3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_GT(top[0].probability, 0.5f);
  EXPECT_GE(top[0].probability, top[1].probability);
  float sum = 0;
  for (float p : (*m)->Probabilities("anything")) sum += p;
  EXPECT_NEAR(sum, 1.0f, 1e-4);
}

TEST(IntentTest, DeterministicGivenSeed) {
  auto a = IntentModel::Train(Planted(), IntentOptions{});
  auto b = IntentModel::Train(Planted(), IntentOptions{});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ((*a)->Probabilities("lawn shoes"), (*b)->Probabilities("lawn shoes"));
}

TEST(IntentTest, HeldOutAccuracyCounts) {
  auto m = IntentModel::Train(Planted(), IntentOptions{});
  ASSERT_TRUE(m.ok());
  // Two right at 1, one wrong at 1 but (with 3 classes) always right at 3.
  std::vector<IntentPair> held = {
      {"running shoes", "shoes > running"}, {"lawn mower", "garden > tools"}, {"french press", "garden > tools"}};
  IntentAccuracy acc = EvaluateIntent(**m, held);
  EXPECT_EQ(acc.pairs, 3u);
  EXPECT_NEAR(acc.at1, 2.0 / 3, 1e-9);
  EXPECT_NEAR(acc.at3, 1.0, 1e-9);
  // The split is by query text: every pair of a query is on one side.
  EXPECT_EQ(IsHeldOutQuery("running shoes", 0.2), IsHeldOutQuery("running shoes", 0.2));
  int held_n = 0;
  for (int i = 0; i < 1000; ++i) held_n += IsHeldOutQuery("q" + std::to_string(i), 0.2);
  EXPECT_GT(held_n, 150);
  EXPECT_LT(held_n, 250);
}

TEST(IntentTest, SaveLoadAndDamage) {
  souk::testing::TempDir dir;
  const std::string path = (fs::path(dir.path()) / "intent.bin").string();
  auto m = IntentModel::Train(Planted(), IntentOptions{});
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE((*m)->Save(path).ok());
  auto l = IntentModel::Load(path);
  ASSERT_TRUE(l.ok()) << l.status().message();
  for (const char* q : {"running shoes", "coffee", "hose", "nothing like it"})
    EXPECT_EQ((*m)->Probabilities(q), (*l)->Probabilities(q)) << q;
  EXPECT_EQ((*l)->categories(), (*m)->categories());

  EXPECT_EQ(IntentModel::Load(path + ".missing").status().code(), StatusCode::kNotFound);
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  for (size_t keep : {size_t{0}, size_t{5}, size_t{20}, bytes.size() / 2, bytes.size() - 1}) {
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), keep);
    EXPECT_EQ(IntentModel::Load(path).status().code(), StatusCode::kCorruption) << keep;
  }
  std::string flipped = bytes;
  flipped[flipped.size() / 2] ^= 0x40;
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(flipped.data(), flipped.size());
  EXPECT_EQ(IntentModel::Load(path).status().code(), StatusCode::kCorruption);
}

TEST(IntentTest, RerankBoostAndFilter) {
  auto m = IntentModel::Train(Planted(), IntentOptions{});
  ASSERT_TRUE(m.ok());
  const std::vector<std::string> cat = {"garden > tools", "shoes > running", "kitchen > coffee"};
  auto cat_of = [&](uint32_t d) -> const std::string& { return cat[d]; };
  std::vector<Hit> hits = {{0, 1.0f}, {1, 0.9f}, {2, 0.8f}};
  IntentRerankOptions o;
  EXPECT_EQ(ApplyIntent(**m, "running shoes", hits, cat_of, o).size(), 3u);  // kNone: unchanged
  o.mode = IntentMode::kBoost;
  auto boosted = ApplyIntent(**m, "running shoes", hits, cat_of, o);
  ASSERT_EQ(boosted.size(), 3u);
  EXPECT_EQ(boosted[0].doc, 1u);
  o.mode = IntentMode::kFilter;
  o.threshold = 0.5f;
  auto filtered = ApplyIntent(**m, "running shoes", hits, cat_of, o);
  ASSERT_EQ(filtered.size(), 1u);
  EXPECT_EQ(filtered[0].doc, 1u);
  // Nothing in the predicted category: the unfiltered list.
  EXPECT_EQ(ApplyIntent(**m, "running shoes", {{0, 1.0f}, {2, 0.5f}}, cat_of, o).size(), 2u);
  o.threshold = 1.0f;  // never confident enough: unchanged
  EXPECT_EQ(ApplyIntent(**m, "running shoes", hits, cat_of, o).size(), 3u);
}

// The CLI end to end on a small generated shop: train, predict, and
// search-eval with and without --intent (without it, the output is as before).
TEST(IntentCliTest, TrainPredictEval) {
  souk::testing::TempDir dir;
  const std::string shop = dir / "shop";
  using souk::testing::RunSouk;
  ASSERT_EQ(RunSouk(dir, "gen " + shop + " --users 300 --items 200 --days 15 --seed 3").code, 0);
  auto r = RunSouk(dir, "intent " + shop + " --train --json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_GT(j["pairs"].get<int>(), 0);
  EXPECT_GT(j["categories"].get<int>(), 1);
  EXPECT_GE(j["accuracy@3"].get<double>(), j["accuracy@1"].get<double>());
  EXPECT_TRUE(fs::exists(shop + "/models/intent.bin"));
  r = RunSouk(dir, "intent " + shop + " 'running shoes' --k 2 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["categories"].size(), 2u);
  const std::string eval = "search-eval " + shop + " --judgments " + shop + "/generated/judgments.csv --json";
  r = RunSouk(dir, eval);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(nlohmann::json::parse(r.out).contains("intent"));
  for (const char* mode : {"boost", "filter"}) {
    r = RunSouk(dir, eval + " --intent " + mode);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out)["intent"], mode);
  }
  r = RunSouk(dir, "search " + shop + " shoes --intent boost --k 5 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_LE(nlohmann::json::parse(r.out)["hits"].size(), 5u);
  // A damaged model is a clear error.
  std::ofstream(shop + "/models/intent.bin", std::ios::binary | std::ios::trunc) << "SOUKINT1";
  r = RunSouk(dir, "intent " + shop + " shoes");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("intent model"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace souk::search
