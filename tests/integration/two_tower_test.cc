// Two-tower retrieval and hybrid search. In-process (the test binary loads
// libsouk_deep.so like souk does): exact save/load and clear errors for bad
// model files, and the fusion math on hand examples. Through the CLI, on a
// small generated shop with paraphrased queries: vector search finds the
// planted items that BM25 cannot match, and an item without events is
// still found by its text and has vector neighbours.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "deep/deep.h"
#include "rec/rec.h"
#include "search/search.h"
#include "test_util.h"

namespace souk {
namespace {

using json = nlohmann::json;
using souk::testing::CmdResult;
using souk::testing::ReadText;
using souk::testing::TempDir;
using souk::testing::WriteText;

// ---- fusion math ------------------------------------------------------------------

TEST(Fusion, RrfOnAHandExample) {
  // a: docs 1, 2, 3; b: docs 3, 1, 4. With k = 60:
  //   1: 1/61 + 1/62, 3: 1/63 + 1/61, 2: 1/62, 4: 1/63.
  const std::vector<search::Hit> a = {{1, 9.0f}, {2, 5.0f}, {3, 1.0f}}, b = {{3, 0.9f}, {1, 0.8f}, {4, 0.1f}};
  auto f = search::FuseRrf({a, b}, 10);
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[0].doc, 1u);
  EXPECT_NEAR(f[0].score, 1.0 / 61 + 1.0 / 62, 1e-7);
  EXPECT_EQ(f[1].doc, 3u);
  EXPECT_NEAR(f[1].score, 1.0 / 61 + 1.0 / 63, 1e-7);
  EXPECT_EQ(f[2].doc, 2u);
  EXPECT_NEAR(f[2].score, 1.0 / 62, 1e-7);
  EXPECT_EQ(f[3].doc, 4u);
  // k cuts; ties go to the lower doc id.
  auto top = search::FuseRrf({{{7, 1.0f}}, {{5, 1.0f}}}, 1);
  ASSERT_EQ(top.size(), 1u);
  EXPECT_EQ(top[0].doc, 5u);
}

TEST(Fusion, BlendNormalisesEachList) {
  // a scores 10..0 -> 1..0, b 0.9..0.1 -> 1..0.
  const std::vector<search::Hit> a = {{1, 10.0f}, {2, 5.0f}, {3, 0.0f}}, b = {{3, 0.9f}, {4, 0.1f}};
  auto only_a = search::FuseBlend(a, b, 0.0, 10);
  EXPECT_EQ(only_a[0].doc, 1u);
  EXPECT_NEAR(only_a[0].score, 1.0, 1e-6);
  auto mix = search::FuseBlend(a, b, 0.5, 10);
  // 1: 0.5, 2: 0.25, 3: 0 + 0.5 = 0.5, 4: 0 -> ties (1, 3) by doc id.
  ASSERT_EQ(mix.size(), 4u);
  EXPECT_EQ(mix[0].doc, 1u);
  EXPECT_EQ(mix[1].doc, 3u);
  EXPECT_NEAR(mix[1].score, 0.5, 1e-6);
  EXPECT_EQ(mix[2].doc, 2u);
  EXPECT_NEAR(mix[2].score, 0.25, 1e-6);
}

// ---- in-process model ----------------------------------------------------------------

void LoadModule() {
  static const bool loaded = [] {
    void* lib = dlopen(SOUK_DEEP_MODULE, RTLD_NOW | RTLD_LOCAL);
    EXPECT_NE(lib, nullptr) << dlerror();
    if (lib == nullptr) return false;
    auto reg = reinterpret_cast<void (*)()>(dlsym(lib, "souk_deep_register"));
    EXPECT_NE(reg, nullptr);
    if (reg) reg();
    return true;
  }();
  ASSERT_TRUE(loaded);
}

// 40 items in 4 leaves; users stay in one leaf; searches name the leaf by a
// word no title uses.
struct Toy {
  rec::Interactions data;
  rec::ItemContent content;
};
Toy MakeToy() {
  const char* leaves[] = {"running shoes", "water bottle", "cell handset", "yoga mat"};
  const char* asks[] = {"jogging footwear", "drink flask", "pocket phone", "stretching pad"};
  Toy t;
  std::vector<rec::Interaction> xs;
  for (uint32_t i = 0; i < 40; ++i) {
    t.content.titles.push_back("Brand" + std::to_string(i % 5) + " " + leaves[i % 4] + " model " + std::to_string(i));
    t.content.descriptions.push_back("a fine product");
    t.content.brands.push_back("Brand" + std::to_string(i % 5));
    t.content.categories.push_back(std::string("Top > ") + leaves[i % 4]);
    t.content.prices.push_back(10.0 + i);
  }
  for (uint32_t u = 0; u < 80; ++u)
    for (uint32_t k = 0; k < 5; ++k) {
      const uint32_t item = (u % 4) + 4 * ((u * 7 + k * 3) % 10);
      xs.push_back({u, item, 1.0f, int64_t{1000} * (u * 10 + k), 0});
      if (k == 0) t.content.queries.push_back({asks[u % 4], item, u, int64_t{1000} * (u * 10 + k)});
    }
  t.data = rec::BuildInteractions(xs, 80, 40);
  return t;
}

constexpr const char* kToySpec = "twotower:d=16,buckets=4096,epochs=3,bs=32,lr=0.01,seed=3";

TEST(TwoTowerModel, SaveLoadGivesIdenticalVectors) {
  LoadModule();
  Toy toy = MakeToy();
  auto m = rec::MakeModel(kToySpec);
  ASSERT_TRUE(m.ok()) << m.status().message();
  rec::FitContext ctx;
  EXPECT_EQ((*m)->Fit(toy.data, ctx).code(), StatusCode::kFailedPrecondition);  // no content
  ctx.content = &toy.content;
  ASSERT_TRUE((*m)->Fit(toy.data, ctx).ok());
  ASSERT_EQ((*m)->FactorDim(), 16u);
  TempDir dir;
  const std::string path = dir / "tt.bin";
  ASSERT_TRUE(rec::SaveModel(**m, path).ok());
  auto loaded = rec::LoadModel(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ((*loaded)->Describe(), (*m)->Describe());
  ASSERT_EQ((*loaded)->num_items(), 40u);
  for (size_t i = 0; i < 40 * 16; ++i) ASSERT_EQ((*loaded)->ItemFactors()[i], (*m)->ItemFactors()[i]) << i;
  const std::vector<std::string> texts = {"jogging footwear", "drink flask", ""};
  std::vector<float> a, b;
  ASSERT_TRUE((*m)->EmbedQueries(texts, &a).ok());
  ASSERT_TRUE((*loaded)->EmbedQueries(texts, &b).ok());
  EXPECT_EQ(a, b);
  rec::History h;
  h.items = {0, 4, 8};
  EXPECT_EQ((*m)->UserVector(h), (*loaded)->UserVector(h));
  // Vectors are unit length.
  double norm = 0;
  for (size_t k = 0; k < 16; ++k) norm += a[k] * a[k];
  EXPECT_NEAR(norm, 1.0, 1e-4);
}

TEST(TwoTowerModel, BadModelFilesGiveClearErrors) {
  LoadModule();
  Toy toy = MakeToy();
  auto m = rec::MakeModel(kToySpec);
  ASSERT_TRUE(m.ok());
  rec::FitContext ctx;
  ctx.content = &toy.content;
  ASSERT_TRUE((*m)->Fit(toy.data, ctx).ok());
  TempDir dir;
  const std::string path = dir / "tt.bin";
  ASSERT_TRUE(rec::SaveModel(**m, path).ok());
  const std::string bytes = ReadText(path);
  // Truncated at several points: always a Corruption saying so (past the
  // header, naming twotower).
  for (size_t cut : {bytes.size() - 7, bytes.size() / 2, size_t{40}}) {
    WriteText(dir / "cut.bin", bytes.substr(0, cut));
    auto r = rec::LoadModel(dir / "cut.bin");
    ASSERT_FALSE(r.ok()) << cut;
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << r.status().message();
    EXPECT_NE(r.status().message().find("truncated"), std::string::npos) << r.status().message();
    if (cut > 100) {
      EXPECT_NE(r.status().message().find("twotower"), std::string::npos) << r.status().message();
    }
  }
  // The same bytes under a spec of another dimension do not fit.
  std::string other = bytes;
  const std::string from = "twotower:d=16", to = "twotower:d=32";
  const size_t at = other.find(from);
  ASSERT_NE(at, std::string::npos);
  other.replace(at, from.size(), to);
  WriteText(dir / "other.bin", other);
  auto r = rec::LoadModel(dir / "other.bin");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << r.status().message();
  // Bad spec values are InvalidArgument at fit time.
  auto bad = rec::MakeModel("twotower:temp=0");
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ((*bad)->Fit(toy.data, ctx).code(), StatusCode::kInvalidArgument);
}

// ---- through the CLI, on a generated shop --------------------------------------------

CmdResult Souk(const TempDir& dir, const std::string& args) { return souk::testing::RunSouk(dir, args); }

TEST(TwoTowerCli, ParaphrasesColdStartAndHybridSearch) {
  TempDir dir;
  const std::string shop = dir / "shop";
  CmdResult g = Souk(
      dir, "gen " + shop + " --users 600 --items 300 --days 20 --seed 5 --no-faults --paraphrase-share 0.5 --json");
  ASSERT_EQ(g.code, 0) << g.err;
  // A cold item: in the catalog, in no event.
  WriteText(dir / "cold.csv",
            "item_id,title,description,brand,category,tags,price,stock\n"
            "COLD1,Quixby Cushioned running shoes Blue EU 42,Light shoes for daily runs.,Quixby,"
            "Fashion > Shoes > Running Shoes,,79.99,5\n");
  ASSERT_EQ(Souk(dir, "import " + shop + " --items " + (dir / "cold.csv")).code, 0);
  CmdResult t = Souk(dir, "train " + shop + " --model 'twotower:d=32,buckets=20000,epochs=6,bs=128,seed=1' --json");
  ASSERT_EQ(t.code, 0) << t.err;
  const json tj = json::parse(t.out);
  ASSERT_TRUE(tj["models"][0].contains("vector_index")) << t.out;
  EXPECT_EQ(tj["models"][0]["vector_index"]["searches"], "exact");

  // Paraphrase queries and their planted (grade 3) items.
  std::map<std::string, std::set<std::string>> wanted;
  {
    std::istringstream in(ReadText(shop + "/generated/judgments.csv"));
    std::string line;
    std::getline(in, line);
    ASSERT_EQ(line, "query,item_id,grade,kind");
    while (std::getline(in, line)) {
      std::vector<std::string> f;
      std::stringstream ss(line);
      for (std::string x; std::getline(ss, x, ',');) f.push_back(x);
      if (f.size() == 4 && f[3] == "paraphrase" && f[2] == "3") wanted[f[0]].insert(f[1]);
    }
  }
  ASSERT_GE(wanted.size(), 10u);
  std::string queries;
  for (const auto& [q, items] : wanted) queries += q + "\n";
  WriteText(dir / "q.txt", queries);
  auto found_in_top10 = [&](const std::string& mode) {
    CmdResult r = Souk(dir, "search " + shop + " --queries " + (dir / "q.txt") + " --k 10 --mode " + mode);
    EXPECT_EQ(r.code, 0) << r.err;
    size_t hit = 0;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) {
      const json j = json::parse(line);
      const auto& items = wanted[j["query"].get<std::string>()];
      for (const auto& h : j["hits"])
        if (items.count(h["item_id"].get<std::string>())) {
          ++hit;
          break;
        }
    }
    return hit;
  };
  const size_t vec = found_in_top10("vector"), lex = found_in_top10("bm25");
  // The paraphrases share no word with the titles: BM25 finds few planted
  // items (only through descriptions or categories), the query tower most.
  EXPECT_GT(vec, wanted.size() / 2) << "vector " << vec << " bm25 " << lex << " of " << wanted.size();
  EXPECT_GT(vec, 2 * lex) << "vector " << vec << " bm25 " << lex << " of " << wanted.size();

  // The cold item: found by its text (hybrid keeps BM25's match near the
  // top), and it has vector neighbours, some of its own leaf.
  CmdResult h = Souk(dir, "search " + shop + " 'quixby running shoes' --mode hybrid --k 3 --json");
  ASSERT_EQ(h.code, 0) << h.err;
  const json hj = json::parse(h.out);
  bool cold_found = false;
  for (const auto& x : hj["hits"]) cold_found = cold_found || x["item_id"] == "COLD1";
  EXPECT_TRUE(cold_found) << h.out;
  CmdResult s = Souk(dir, "similar " + shop + " COLD1 --model twotower --k 10 --json");
  ASSERT_EQ(s.code, 0) << s.err;
  const json sj = json::parse(s.out);
  ASSERT_EQ(sj["items"].size(), 10u);
  std::string ids;
  for (const auto& x : sj["items"]) ids += x["item_id"].get<std::string>() + "\n";
  WriteText(dir / "sim.txt", ids);
  // Its neighbours' categories, from the generated catalog.
  std::map<std::string, std::string> category;
  {
    std::istringstream in(ReadText(shop + "/generated/items.csv"));
    for (std::string line; std::getline(in, line);)
      category[line.substr(0, line.find(','))] = line.find("Running Shoes") != std::string::npos ? "run" : "other";
  }
  int same = 0;
  for (const auto& x : sj["items"]) same += category[x["item_id"].get<std::string>()] == "run";
  // A 300-item shop has about 4 running shoes (81 leaves): chance would
  // put 0.1 of them in a top 10.
  EXPECT_GE(same, 1) << s.out;

  // User-to-item retrieval through the user tower.
  CmdResult rec = Souk(dir, "recommend " + shop + " U000010 --model twotower --k 5 --json");
  ASSERT_EQ(rec.code, 0) << rec.err;
  EXPECT_EQ(json::parse(rec.out)["items"].size(), 5u);

  // search-eval reports every mode on the same test queries, per kind.
  CmdResult e =
      Souk(dir, "search-eval " + shop + " --judgments " + shop + "/generated/judgments.csv --mode all --json");
  ASSERT_EQ(e.code, 0) << e.err;
  const json ej = json::parse(e.out);
  ASSERT_EQ(ej["results"].size(), 4u);
  EXPECT_TRUE(ej["results"][0]["by_kind"].contains("paraphrase")) << e.out;
  const double bm25 = ej["results"][0]["NDCG@10"], rrf = ej["results"][2]["NDCG@10"];
  EXPECT_GT(rrf, bm25) << e.out;

  // Unseen queries: a three-way split (validation 0.2, test 0.4, the rest
  // learnt from). The model skips every validation and test query, the
  // blend weight is tuned on validation queries it never saw, and the test
  // queries are new to both.
  const std::string judged = shop + "/generated/judgments.csv";
  CmdResult th = Souk(dir, "train " + shop + " --model 'twotower:d=32,buckets=20000,epochs=6,bs=128,seed=1'" +
                               " --holdout-judgments " + judged + " --test-share 0.4 --json");
  ASSERT_EQ(th.code, 0) << th.err;
  const json hold = json::parse(th.out)["held_out"];
  EXPECT_GT(hold["searches"].get<size_t>(), 0u) << th.out;
  EXPECT_LT(hold["searches"].get<size_t>(), hold["of"].get<size_t>()) << th.out;
  CmdResult eh = Souk(dir, "search-eval " + shop + " --judgments " + judged + " --mode all --test-share 0.4 --json");
  ASSERT_EQ(eh.code, 0) << eh.err;
  const json ehj = json::parse(eh.out);
  const double bm25_unseen = ehj["results"][0]["NDCG@10"], blend_unseen = ehj["results"][3]["NDCG@10"];
  EXPECT_GT(blend_unseen, bm25_unseen) << eh.out;
  // A test share of 0.4 tests fewer queries than the two-way split (0.8).
  EXPECT_LT(ehj["results"][0]["queries"].get<size_t>(), ej["results"][0]["queries"].get<size_t>());
  CmdResult over = Souk(dir, "search-eval " + shop + " --judgments " + judged +
                                 " --mode bm25 --validation-share 0.5 --test-share 0.6");
  EXPECT_NE(over.code, 0);
  EXPECT_NE(over.err.find("more than 1"), std::string::npos) << over.err;
  // A model without a query tower is refused for vector search.
  ASSERT_EQ(Souk(dir, "train " + shop + " --model pop").code, 0);
  CmdResult bad = Souk(dir, "search " + shop + " shoes --mode vector --vector-model pop");
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.err.find("query tower"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace souk
