// End to end on a generated shop: generate, import, run the quality rules and
// score them against the generator's ground truth. Every injected fault type
// must be found with recall >= 0.95 and false alarms <= 2% of what is flagged.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>

#include "gen/gen.h"
#include "ingest/ingest.h"
#include "test_util.h"

namespace souk {
namespace {

using souk::testing::TempDir;

// Minimal RFC 4180 line reader for ground_truth.csv (fault,table,key,detail).
std::vector<std::vector<std::string>> ReadCsv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::vector<std::string>> rows(1);
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"')
        field += '"', ++i;
      else if (c == '"')
        quoted = false;
      else
        field += c;
    } else if (c == '"')
      quoted = true;
    else if (c == ',')
      rows.back().push_back(field), field.clear();
    else if (c == '\n') {
      rows.back().push_back(field);
      field.clear();
      rows.emplace_back();
    } else if (c != '\r')
      field += c;
  }
  if (!field.empty() || !rows.back().empty()) rows.back().push_back(field);
  if (rows.back().empty()) rows.pop_back();
  return rows;
}

struct Score {
  size_t injected = 0, flagged = 0, found = 0;
};

void RunShop(const gen::GenOptions& opts) {
  TempDir dir;
  std::string gdir = dir / "generated";
  std::filesystem::create_directories(gdir);
  auto stats = gen::GenerateShop(opts, gdir);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  auto store = Store::OpenSqlite(dir / "souk.db");
  ASSERT_TRUE(store.ok());
  EventTypeRegistry types;
  for (const char* table : {"items", "users", "events"}) {
    ingest::ImportOptions o;
    o.table = table;
    o.progress = false;
    ingest::ImportSummary sum;
    ASSERT_TRUE(ingest::ImportFile(store->get(), types, gdir + "/" + table + ".csv", o, &sum).ok());
    EXPECT_EQ(sum.read, sum.accepted + sum.updated + sum.duplicates + sum.rejected) << table;
  }
  Config config;
  // Pin "now" so the run does not depend on the wall clock.
  ASSERT_TRUE(config.Set("quality.now", "2026-07-02T00:00:00Z").ok());
  auto report = ingest::RunQuality(store->get(), config);
  ASSERT_TRUE(report.ok()) << report.status().ToString();

  std::map<std::string, std::set<std::string>> truth, flagged;
  auto rows = ReadCsv(gdir + "/ground_truth.csv");
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows[0], (std::vector<std::string>{"fault", "table", "key", "detail"}));
  for (size_t i = 1; i < rows.size(); ++i) {
    ASSERT_GE(rows[i].size(), 3u);
    std::string key = rows[i][0] == "invalid_row" ? "invalid_row/" + rows[i][1] : rows[i][0];
    truth[key].insert(rows[i][2]);
  }
  for (const auto& f : report->findings) {
    std::string key = f.rule == "invalid_row" ? "invalid_row/" + f.table : f.rule;
    flagged[key].insert(f.flagged.begin(), f.flagged.end());
  }
  // Every fault type the generator knows was injected.
  for (const char* k :
       {"duplicate_event", "invalid_row/events", "invalid_row/items", "orphan_item", "orphan_user", "future_timestamp",
        "old_timestamp", "out_of_order", "bot_user", "price_outlier", "broken_title", "volume_shift", "mix_shift"})
    EXPECT_FALSE(truth[k].empty()) << k << " not injected";
  std::string table =
      fmt::format("{:<20}{:>9}{:>9}{:>7}{:>8}{:>9}\n", "fault", "injected", "flagged", "found", "recall", "false%");
  for (const auto& [k, t] : truth) {
    const auto& f = flagged[k];
    size_t found = 0;
    for (const auto& id : t) found += f.count(id);
    double recall = static_cast<double>(found) / t.size();
    double false_alarms = f.empty() ? 0.0 : static_cast<double>(f.size() - found) / f.size();
    table += fmt::format("{:<20}{:>9}{:>9}{:>7}{:>8.3f}{:>8.2f}%\n", k, t.size(), f.size(), found, recall,
                         100 * false_alarms);
    EXPECT_GE(recall, 0.95) << k;
    EXPECT_LE(false_alarms, 0.02) << k;
  }
  std::printf("%s", table.c_str());
}

TEST(Shop, DefaultShopFaultsAreFound) {
  gen::GenOptions o;  // the default shop: 5000 users, 2000 items, 60 days, seed 42
  RunShop(o);
}

TEST(Shop, SmallShopOtherSeedFaultsAreFound) {
  gen::GenOptions o;
  o.users = 1000;
  o.items = 400;
  o.days = 30;
  o.seed = 7;
  RunShop(o);
}

}  // namespace
}  // namespace souk
