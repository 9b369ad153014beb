#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "ingest/ingest.h"
#include "test_util.h"

namespace souk::ingest {
namespace {

using souk::testing::TempDir;
using souk::testing::WriteText;

// Builds a small shop by hand with one instance of each fault at a known
// place, imports it and runs the rules.
class QualityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Store::OpenSqlite(dir_ / "souk.db");
    ASSERT_TRUE(s.ok());
    store_ = std::move(s).value();
    ASSERT_TRUE(config_.Set("quality.now", "2026-07-01T00:00:00Z").ok());
  }
  void Import(const std::string& table, const std::string& text) {
    std::string path = dir_ / (table + ".csv");
    WriteText(path, text);
    ImportOptions o;
    o.table = table;
    o.progress = false;
    ImportSummary sum;
    ASSERT_TRUE(ImportFile(store_.get(), types_, path, o, &sum).ok());
  }
  const Finding& Get(const QualityReport& r, const std::string& rule, const std::string& column = "") {
    for (const auto& f : r.findings)
      if (f.rule == rule && (column.empty() || f.column == column)) return f;
    static Finding none;
    ADD_FAILURE() << "no finding " << rule;
    return none;
  }

  TempDir dir_;
  Config config_;
  EventTypeRegistry types_;
  std::unique_ptr<Store> store_;
};

TEST_F(QualityTest, FindsEachPlantedFault) {
  // Catalog: 3 categories x 10 items with prices near 20, 100 and 500.
  std::string items = "item_id,title,category,price\n";
  const char* cats[] = {"Home > Mugs", "Sports > Shoes", "Tech > Phones"};
  const double base[] = {20, 100, 500};
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 10; ++i)
      items += fmt::format("I{}{},Item {} {},{},{:.2f}\n", c, i, c, i, cats[c], base[c] * (0.8 + 0.04 * i));
  items += "IOUT,Gold Mug,Home > Mugs,2000.00\n";           // price outlier (100x)
  items += "IEMPTY,,Home > Mugs,21\n";                      // empty title
  items += "IHTML,<b>Bold</b> Mug,Home > Mugs,22\n";        // html
  items += "IMOJI,Menâ€™s Mug,Home > Mugs,23\n";            // mojibake
  items += "IUTF,Bad \xFF Mug,Home > Mugs,24\n";            // invalid UTF-8 (repaired at import)
  items += "ICAFE,Café Crème Mug 运动鞋,Home > Mugs,20\n";  // fine: real accents and CJK
  Import("items", items);
  Import("users", "user_id,region\nh0,eu\nh1,eu\nh2,eu\nh3,eu\nbot1,eu\nbot2,eu\n");

  // Events: 20 days; humans h0..h3 browse with irregular gaps.
  const int64_t day0 = 1780272000;  // 2026-06-01
  std::string ev = "user_id,item_id,event_type,timestamp,session_id\n";
  int line = 1;
  std::vector<int> orphan_item_lines, orphan_user_lines, future_lines, old_lines, ooo_lines;
  uint64_t rng = 12345;
  auto next = [&]() {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<int>((rng >> 33) % 1000);
  };
  const char* kinds[] = {"view", "view", "view", "click", "click", "cart", "purchase"};
  for (int d = 0; d < 20; ++d) {
    int per_user = d == 12 ? 8 : 60;  // day 12: an outage
    for (int u = 0; u < 4; ++u) {
      int64_t t = day0 + d * 86400 + 3600 * (u + 1);
      std::string session = fmt::format("s{}_{}", d, u);
      for (int k = 0; k < per_user; ++k) {
        t += 20 + next() % 200;
        const char* type = kinds[next() % 7];
        if (d == 15 && std::string(type) == "click") type = "view";  // day 15: clicks vanish
        std::string item = fmt::format("I{}{}", next() % 3, next() % 10);
        int64_t ts = t;
        std::string user = fmt::format("h{}", u);
        ++line;
        if (d == 3 && u == 0 && k == 5) {
          item = "GHOST";
          orphan_item_lines.push_back(line);
        }
        if (d == 4 && u == 1 && k == 5) {
          user = "stranger";
          session = "sx";
          orphan_user_lines.push_back(line);
        }
        if (d == 5 && u == 2 && k == 5) {
          ts = 2524608000;
          future_lines.push_back(line);
        }  // 2050
        if (d == 6 && u == 3 && k == 5) {
          ts = 0;
          old_lines.push_back(line);
        }
        if (d == 7 && u == 0 && k == 5) {
          ts = t - 3600;
          ooo_lines.push_back(line);
        }
        ev += fmt::format("{},{},{},{},{}\n", user, item, type, ts, session);
        if (user == "stranger") session = fmt::format("s{}_{}", d, u);
      }
    }
  }
  // bot1: 200 views, one every 3 s (regular); bot2: 40 views in 40 seconds.
  for (int k = 0; k < 200; ++k, ++line) ev += fmt::format("bot1,I00,view,{},b1\n", day0 + 9 * 86400 + 7200 + 3 * k);
  for (int k = 0; k < 40; ++k, ++line) ev += fmt::format("bot2,I01,view,{},b2\n", day0 + 10 * 86400 + 9000 + k);
  Import("events", ev);

  auto r = RunQuality(store_.get(), config_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto lines = [](const std::vector<int>& v) {
    std::vector<std::string> out;
    for (int l : v) out.push_back(std::to_string(l));
    return out;
  };
  EXPECT_EQ(Get(*r, "orphan_item").flagged, lines(orphan_item_lines));
  EXPECT_EQ(Get(*r, "orphan_user").flagged, lines(orphan_user_lines));
  EXPECT_EQ(Get(*r, "future_timestamp").flagged, lines(future_lines));
  EXPECT_EQ(Get(*r, "old_timestamp").flagged, lines(old_lines));
  EXPECT_EQ(Get(*r, "out_of_order").flagged, lines(ooo_lines));
  EXPECT_EQ(Get(*r, "bot_user").flagged, (std::vector<std::string>{"bot1", "bot2"}));
  EXPECT_EQ(Get(*r, "price_outlier").flagged, (std::vector<std::string>{"IOUT"}));
  auto titles = Get(*r, "broken_title").flagged;
  std::set<std::string> broken(titles.begin(), titles.end());
  EXPECT_EQ(broken, (std::set<std::string>{"IEMPTY", "IHTML", "IMOJI", "IUTF"}));
  EXPECT_EQ(Get(*r, "volume_shift").flagged, (std::vector<std::string>{"2026-06-13"}));
  EXPECT_EQ(Get(*r, "mix_shift").flagged, (std::vector<std::string>{"2026-06-16"}));
  EXPECT_EQ(Get(*r, "missing_value", "title").flagged, (std::vector<std::string>{"IEMPTY"}));
  EXPECT_EQ(Get(*r, "bot_user").examples.size(), 2u);
  EXPECT_LT(Get(*r, "bot_user").score, 1.0);
  EXPECT_GT(r->days.size(), 18u);

  // JSON follows the contract: rules with rule, count and flagged ids, lines as numbers.
  auto j = nlohmann::json::parse(QualityJson(*r));
  bool saw_future = false;
  for (const auto& rule : j["rules"]) {
    ASSERT_TRUE(rule.contains("rule") && rule.contains("count") && rule.contains("flagged"));
    EXPECT_EQ(rule["count"].get<size_t>(), rule["flagged"].size());
    if (rule["rule"] == "future_timestamp") {
      saw_future = true;
      EXPECT_EQ(rule["flagged"][0], future_lines[0]);
    }
  }
  EXPECT_TRUE(saw_future);
  std::string html = QualityHtml(*r);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("bot_user"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);  // self-contained, static

  // souk clean: flagged events leave the training view, nothing is deleted.
  auto n = CleanEvents(store_.get(), *r);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 5u + 240u);  // 5 single-event faults + all bot events
  auto all = store_->LoadEvents(false);
  auto train = store_->LoadEvents(true);
  EXPECT_EQ(all->size() - train->size(), *n);
}

TEST_F(QualityTest, CleanLogHasNoFindings) {
  std::string items = "item_id,title,description,brand,category,price\n";
  for (int i = 0; i < 20; ++i) items += fmt::format("I{},Mug {},A mug,Acme,Home > Mugs,{}\n", i, i, 10 + i);
  Import("items", items);
  std::string ev = "user_id,item_id,event_type,timestamp,session_id\n";
  const int64_t day0 = 1780272000;
  for (int d = 0; d < 10; ++d)
    for (int u = 0; u < 10; ++u)
      for (int k = 0; k < 30; ++k)
        ev += fmt::format("u{},I{},{},{},s{}_{}\n", u, (u + k) % 20, k % 3 ? "view" : "click",
                          day0 + d * 86400 + u * 3000 + k * 60 + (k * k) % 37, d, u);
  Import("events", ev);
  auto r = RunQuality(store_.get(), config_);
  ASSERT_TRUE(r.ok());
  for (const auto& f : r->findings)
    EXPECT_EQ(f.count, 0u) << f.rule << ": " << (f.examples.empty() ? "" : f.examples[0]);
  EXPECT_DOUBLE_EQ(r->score, 1.0);
}

TEST_F(QualityTest, InvalidRowsAndDuplicatesComeFromQuarantine) {
  Import("events",
         "user_id,item_id,event_type,timestamp\nu1,I1,view,1780272000\nu1,I1,view,1780272000\nu1,I1,warp,1780272001\n");
  auto r = RunQuality(store_.get(), config_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Get(*r, "duplicate_event").flagged, (std::vector<std::string>{"3"}));
  EXPECT_EQ(Get(*r, "invalid_row").flagged, (std::vector<std::string>{"4"}));
  EXPECT_EQ(Get(*r, "invalid_row").checked, 3u);
}

TEST_F(QualityTest, BadSettingIsAClearError) {
  ASSERT_TRUE(config_.Set("quality.min_timestamp", "yesterday").ok());
  Import("events", "user_id,item_id,event_type,timestamp\nu1,I1,view,1780272000\n");
  auto r = RunQuality(store_.get(), config_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("quality.min_timestamp"), std::string::npos);
}

}  // namespace
}  // namespace souk::ingest
