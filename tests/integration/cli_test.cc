// The `souk` binary through its command-line contract: exit codes, one-line
// errors on stderr, and the --json shapes other tools script against.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace souk {
namespace {

using json = nlohmann::json;
using souk::testing::CmdResult;
using souk::testing::ReadText;
using souk::testing::TempDir;
using souk::testing::WriteText;

CmdResult Souk(const TempDir& dir, const std::string& args) { return souk::testing::RunSouk(dir, args); }

TEST(Cli, InitImportQualityClean) {
  TempDir dir;
  std::string shop = dir / "shop";
  CmdResult r = Souk(dir, "init " + shop + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(json::parse(r.out)["created"].get<bool>());
  EXPECT_TRUE(std::filesystem::exists(shop + "/souk.toml"));
  EXPECT_EQ(Souk(dir, "init " + shop).code, 0);  // idempotent

  WriteText(dir / "items.csv", "item_id,title,price\nI1,Mug,9.5\nI2,Cup,abc\n");
  WriteText(dir / "events.csv",
            "user_id,item_id,event_type,timestamp\nu1,I1,view,1780272000\nu1,I1,view,1780272000\n"
            "u1,I1,teleport,1780272001\nu2,I9,click,2026-06-01T10:00:00Z\n");
  r = Souk(dir, "import " + shop + " --items " + (dir / "items.csv") + " --events " + (dir / "events.csv") + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["read"], 6);
  EXPECT_EQ(j["accepted"], 3);
  EXPECT_EQ(j["duplicates"], 1);
  EXPECT_EQ(j["rejected"], 2);
  EXPECT_EQ(j["read"].get<int>(),
            j["accepted"].get<int>() + j["updated"].get<int>() + j["duplicates"].get<int>() + j["rejected"].get<int>());
  EXPECT_EQ(j["files"].size(), 2u);
  // Rejected rows are named on stderr as file:line: problem.
  EXPECT_NE(r.err.find("items.csv:3: invalid price 'abc'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("events.csv:4: unknown event_type 'teleport'"), std::string::npos) << r.err;

  std::string html = dir / "report.html";
  r = Souk(dir, "quality " + shop + " --json --html " + html);
  ASSERT_EQ(r.code, 0) << r.err;
  j = json::parse(r.out);
  ASSERT_TRUE(j["rules"].is_array());
  bool saw_orphan = false;
  for (const auto& rule : j["rules"]) {
    if (rule["rule"] == "orphan_item") {
      saw_orphan = true;
      EXPECT_EQ(rule["flagged"], json::array({5}));  // I9 is not in the catalog
    }
  }
  EXPECT_TRUE(saw_orphan);
  EXPECT_NE(ReadText(html).find("<svg"), std::string::npos);

  r = Souk(dir, "clean " + shop + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["flagged"], 1);
  r = Souk(dir, "info " + shop + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  j = json::parse(r.out);
  EXPECT_EQ(j["events"], 2);
  EXPECT_EQ(j["flagged_events"], 1);
  EXPECT_EQ(j["sources"].size(), 2u);
}

TEST(Cli, ErrorsAreOneLineAndNonZero) {
  TempDir dir;
  std::string shop = dir / "shop";
  CmdResult r = Souk(dir, "import " + shop + " --events x.csv");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("is not a souk data directory"), std::string::npos) << r.err;
  ASSERT_EQ(Souk(dir, "init " + shop).code, 0);
  r = Souk(dir, "import " + shop + " --events " + (dir / "missing.csv"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("missing.csv"), std::string::npos);
  EXPECT_NE(r.err.find("No such file or directory"), std::string::npos);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  WriteText(dir / "ev.csv", "user_id,item_id,timestamp\nu1,I1,1\n");
  r = Souk(dir, "import " + shop + " --events " + (dir / "ev.csv"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("ev.csv:1: missing required column 'event_type'"), std::string::npos) << r.err;
  r = Souk(dir, "import " + shop);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("nothing to import"), std::string::npos);
  WriteText(shop + "/souk.toml", "[quality]\nprice_zz = 3\n");
  r = Souk(dir, "quality " + shop);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("souk.toml:2: unknown setting 'quality.price_zz'"), std::string::npos) << r.err;
  EXPECT_NE(Souk(dir, "frobnicate").code, 0);
}

TEST(Cli, GenLeavesAReadyDataDirectory) {
  TempDir dir;
  std::string shop = dir / "demo";
  CmdResult r = Souk(dir, "gen " + shop + " --users 400 --items 200 --days 20 --seed 3 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  for (const char* f : {"items.csv", "users.csv", "events.csv", "ground_truth.csv", "judgments.csv"})
    EXPECT_TRUE(std::filesystem::exists(shop + "/generated/" + f)) << f;
  EXPECT_EQ(j["import"]["files"].size(), 3u);
  uint64_t events = j["events"];
  EXPECT_EQ(j["import"]["files"][2]["read"].get<uint64_t>(), events);
  r = Souk(dir, "info " + shop + " --json");
  ASSERT_EQ(r.code, 0);
  EXPECT_GT(json::parse(r.out)["events"].get<uint64_t>(), events / 2);
  // Generating into a directory that already holds a shop is refused.
  r = Souk(dir, "gen " + shop + " --users 10 --items 10 --days 2");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("already holds a shop"), std::string::npos) << r.err;
  // Same seed, same shop.
  std::string again = dir / "again";
  ASSERT_EQ(Souk(dir, "gen " + again + " --users 400 --items 200 --days 20 --seed 3 --no-import").code, 0);
  EXPECT_EQ(ReadText(shop + "/generated/events.csv"), ReadText(again + "/generated/events.csv"));
}

TEST(Cli, SearchSeesNewItemsWithoutReindexing) {
  TempDir dir;
  std::string shop = dir / "shop";
  ASSERT_EQ(Souk(dir, "init " + shop).code, 0);
  WriteText(dir / "a.csv",
            "item_id,title,brand,category,price\nI1,Red running shoes,Acme,Shoes,50\n"
            "I2,Blue coffee mug,Brewo,Kitchen,9\n");
  ASSERT_EQ(Souk(dir, "import " + shop + " --items " + (dir / "a.csv")).code, 0);
  CmdResult r = Souk(dir, "index " + shop + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["docs"], 2);
  r = Souk(dir, "search " + shop + " \"running shoes\" --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["hits"][0]["item_id"], "I1");
  // A new item and a changed one, no `souk index`: visible on the next search.
  WriteText(dir / "b.csv",
            "item_id,title,brand,category,price\nI3,Trail running shoes,Acme,Shoes,80\n"
            "I1,Red rain boots,Acme,Shoes,60\n");
  ASSERT_EQ(Souk(dir, "import " + shop + " --items " + (dir / "b.csv")).code, 0);
  r = Souk(dir, "search " + shop + " \"running shoes\" --json --k 1");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["hits"][0]["item_id"], "I3");
  r = Souk(dir, "search " + shop + " boots --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["hits"][0]["item_id"], "I1");
  // Filters, facets and a bad filter through the CLI.
  r = Souk(dir, "search " + shop + " shoes --filter 'price:[70 TO 90]' --facets brand --json");
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  ASSERT_EQ(j["hits"].size(), 1u);
  EXPECT_EQ(j["hits"][0]["item_id"], "I3");
  EXPECT_EQ(j["facets"]["brand"][0]["value"], "Acme");
  r = Souk(dir, "search " + shop + " shoes --filter 'price:[70 TO'");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("filter: column"), std::string::npos) << r.err;
  r = Souk(dir, "suggest " + shop + " runn --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(json::parse(r.out)["suggestions"].empty());
}

}  // namespace
}  // namespace souk
