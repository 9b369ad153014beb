#include "gen/gen.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace souk::gen {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() / ("souk_gen_test_" + std::string(info->test_suite_name()) + "_" + info->name() +
                                         "_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string Sub(const std::string& name) const {
    fs::create_directories(path_ / name);
    return (path_ / name).string();
  }
  std::string path() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A minimal RFC 4180 reader: quoted fields may hold commas, quotes ("") and
// newlines. Records remember the physical line where they start (1-based).
struct Record {
  int64_t line = 0;
  std::vector<std::string> f;
};

std::vector<Record> ParseCsv(const std::string& text) {
  std::vector<Record> out;
  Record rec;
  std::string field;
  int64_t line = 1;
  bool in_quotes = false, field_started = false;
  rec.line = 1;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"')
          field.push_back('"'), ++i;
        else
          in_quotes = false;
      } else {
        if (c == '\n') ++line;
        field.push_back(c);
      }
      continue;
    }
    if (c == '"' && !field_started) {
      in_quotes = true;
      field_started = true;
    } else if (c == ',') {
      rec.f.push_back(std::move(field));
      field.clear();
      field_started = false;
    } else if (c == '\n') {
      rec.f.push_back(std::move(field));
      field.clear();
      field_started = false;
      out.push_back(std::move(rec));
      rec = Record();
      rec.line = ++line;
    } else {
      field.push_back(c);
      field_started = true;
    }
  }
  EXPECT_FALSE(in_quotes) << "file ends inside quotes";
  if (field_started || !rec.f.empty()) {
    rec.f.push_back(field);
    out.push_back(rec);
  }
  return out;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

bool ValidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    int n;
    uint32_t cp;
    if (c < 0x80)
      n = 0, cp = c;
    else if ((c & 0xE0) == 0xC0)
      n = 1, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0)
      n = 2, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0)
      n = 3, cp = c & 0x07;
    else
      return false;
    for (int k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return false;  // overlong
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;
    if (cp == 0xFFFD) return false;  // the replacement character counts as broken here
    i += n + 1;
  }
  return true;
}

bool HasCjk(const std::string& s) {
  for (size_t i = 0; i + 2 < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0xE4 && c <= 0xE9) return true;  // U+4000..U+9FFF
  }
  return false;
}

bool IsInt(const std::string& s) {
  if (s.empty()) return false;
  for (size_t i = s[0] == '-' ? 1 : 0; i < s.size(); ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

bool IsPrice(const std::string& s) {
  if (s.empty() || s[0] == '-') return false;
  const size_t dot = s.find('.');
  return dot != std::string::npos && IsInt(s.substr(0, dot)) && s.size() - dot == 3 && IsInt(s.substr(dot + 1));
}

// Everything a test needs from one generated shop.
struct Shop {
  GenStats stats;
  std::string dir;
  std::vector<Record> items, users, events, gt, judgments;
  std::vector<std::string> event_lines;  // physical lines of events.csv
};

Shop Generate(const GenOptions& options, const std::string& dir) {
  Shop shop;
  auto result = GenerateShop(options, dir);
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  if (!result.ok()) return shop;
  shop.stats = *result;
  shop.dir = dir;
  shop.items = ParseCsv(ReadFile(dir + "/items.csv"));
  shop.users = ParseCsv(ReadFile(dir + "/users.csv"));
  const std::string events = ReadFile(dir + "/events.csv");
  shop.events = ParseCsv(events);
  shop.event_lines = Lines(events);
  shop.gt = ParseCsv(ReadFile(dir + "/ground_truth.csv"));
  shop.judgments = ParseCsv(ReadFile(dir + "/judgments.csv"));
  return shop;
}

GenOptions SmallOptions() {
  GenOptions o;
  o.users = 1500;
  o.items = 600;
  o.days = 30;
  o.seed = 7;
  return o;
}

constexpr int64_t kWindowEnd = 1782864000;

// ---------------------------------------------------------------------------

TEST(GenTest, SameSeedGivesIdenticalFilesAndOtherSeedDiffers) {
  TempDir tmp;
  GenOptions o;
  o.users = 400;
  o.items = 200;
  o.days = 20;
  ASSERT_TRUE(GenerateShop(o, tmp.Sub("a")).ok());
  ASSERT_TRUE(GenerateShop(o, tmp.Sub("b")).ok());
  o.seed = 43;
  ASSERT_TRUE(GenerateShop(o, tmp.Sub("c")).ok());
  for (const char* f :
       {"items.csv", "users.csv", "events.csv", "ground_truth.csv", "judgments.csv", "synonyms.txt", "manifest.json"}) {
    const std::string a = ReadFile(tmp.path() + "/a/" + f);
    EXPECT_FALSE(a.empty()) << f;
    EXPECT_EQ(a, ReadFile(tmp.path() + "/b/" + f)) << f;
  }
  EXPECT_NE(ReadFile(tmp.path() + "/a/events.csv"), ReadFile(tmp.path() + "/c/events.csv"));
  EXPECT_NE(ReadFile(tmp.path() + "/a/items.csv"), ReadFile(tmp.path() + "/c/items.csv"));
}

TEST(GenTest, ErrorsComeBackAsStatus) {
  TempDir tmp;
  GenOptions o = SmallOptions();
  auto missing = GenerateShop(o, tmp.path() + "/does/not/exist");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  o.users = 0;
  auto bad = GenerateShop(o, tmp.path());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  o = SmallOptions();
  o.end_time = 2100000000;  // past 2035: future-timestamp faults would be ambiguous
  EXPECT_EQ(GenerateShop(o, tmp.path()).status().code(), StatusCode::kInvalidArgument);
}

TEST(GenTest, TinyShopWorks) {
  TempDir tmp;
  GenOptions o;
  o.users = 1;
  o.items = 1;
  o.days = 1;
  auto r = GenerateShop(o, tmp.path());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->items, 1u);
  EXPECT_EQ(r->users, 1u);
}

TEST(GenTest, ProgressIsReportedUpToOne) {
  TempDir tmp;
  GenOptions o;
  o.users = 300;
  o.items = 100;
  o.days = 14;
  std::vector<double> seen;
  o.progress = [&](double f) { seen.push_back(f); };
  ASSERT_TRUE(GenerateShop(o, tmp.path()).ok());
  ASSERT_FALSE(seen.empty());
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_DOUBLE_EQ(seen.back(), 1.0);
}

TEST(GenTest, FilesHaveTheDocumentedShape) {
  TempDir tmp;
  const Shop shop = Generate(SmallOptions(), tmp.path());
  ASSERT_FALSE(shop.items.empty());

  const std::vector<std::string> item_header = {"item_id", "title", "description", "brand",     "category",
                                                "tags",    "price", "stock",       "created_at"};
  EXPECT_EQ(shop.items[0].f, item_header);
  EXPECT_EQ(shop.users[0].f, (std::vector<std::string>{"user_id", "signup_date", "region", "device", "age_band"}));
  EXPECT_EQ(shop.events[0].f, (std::vector<std::string>{"user_id", "item_id", "event_type", "timestamp", "value",
                                                        "session_id", "query", "position"}));
  EXPECT_EQ(shop.gt[0].f, (std::vector<std::string>{"fault", "table", "key", "detail"}));
  EXPECT_EQ(shop.judgments[0].f, (std::vector<std::string>{"query", "item_id", "grade"}));
  for (const auto& r : shop.items) ASSERT_EQ(r.f.size(), 9u) << "items line " << r.line;
  for (const auto& r : shop.users) ASSERT_EQ(r.f.size(), 5u) << "users line " << r.line;
  for (const auto& r : shop.events) ASSERT_EQ(r.f.size(), 8u) << "events line " << r.line;
  for (const auto& r : shop.gt) ASSERT_EQ(r.f.size(), 4u) << "ground truth line " << r.line;
  for (const auto& r : shop.judgments) ASSERT_EQ(r.f.size(), 3u) << "judgments line " << r.line;

  EXPECT_EQ(shop.stats.items, shop.items.size() - 1);
  EXPECT_EQ(shop.stats.users, shop.users.size() - 1);
  EXPECT_EQ(shop.stats.events, shop.events.size() - 1);
  EXPECT_EQ(shop.stats.judgments, shop.judgments.size() - 1);
  // events.csv has no embedded newlines: record N is physical line N + 1.
  EXPECT_EQ(shop.event_lines.size(), shop.events.size());
  for (size_t i = 0; i < shop.events.size(); ++i) ASSERT_EQ(shop.events[i].line, static_cast<int64_t>(i + 1));

  // Categories: >= 5 top-level and >= 50 leaves, as "Top > Mid > Leaf".
  std::set<std::string> tops, leaves;
  size_t chinese = 0, multiline = 0, zero_stock = 0, quoted = 0;
  for (size_t i = 1; i < shop.items.size(); ++i) {
    const auto& f = shop.items[i].f;
    const std::string& cat = f[4];
    const size_t a = cat.find(" > "), b = cat.rfind(" > ");
    ASSERT_TRUE(a != std::string::npos && b != a) << cat;
    tops.insert(cat.substr(0, a));
    leaves.insert(cat);
    chinese += HasCjk(f[1]);
    multiline += f[2].find('\n') != std::string::npos;
    quoted += f[2].find('"') != std::string::npos;
    zero_stock += f[7] == "0";
    EXPECT_TRUE(IsInt(f[7])) << f[7];
    EXPECT_EQ(f[8].size(), 10u);
    EXPECT_LT(f[8], "2026-07-01");
  }
  EXPECT_GE(tops.size(), 5u);
  EXPECT_GE(leaves.size(), 50u);
  const double n = static_cast<double>(shop.items.size() - 1);
  EXPECT_GT(chinese, 0.04 * n);
  EXPECT_LT(chinese, 0.18 * n);
  EXPECT_GE(multiline, 1u);
  EXPECT_GE(quoted, 1u);
  EXPECT_GT(zero_stock, 0.01 * n);
  EXPECT_LT(zero_stock, 0.10 * n);

  // Volume: a realistic number of events with all types present.
  std::map<std::string, size_t> types;
  for (size_t i = 1; i < shop.events.size(); ++i) ++types[shop.events[i].f[2]];
  for (const char* t : {"view", "click", "cart", "purchase", "rating", "search"}) EXPECT_GT(types[t], 0u) << t;
  EXPECT_EQ(shop.stats.searches, types["search"]);
  EXPECT_EQ(shop.stats.purchases, types["purchase"]);
  EXPECT_GT(types["view"], types["click"]);
  EXPECT_GT(types["click"], types["cart"]);
  EXPECT_GT(types["cart"], types["purchase"]);

  const auto synonyms = Lines(ReadFile(tmp.path() + "/synonyms.txt"));
  EXPECT_GE(synonyms.size(), 30u);
  for (const auto& line : synonyms) EXPECT_NE(line.find(','), std::string::npos) << line;
  const std::string manifest = ReadFile(tmp.path() + "/manifest.json");
  EXPECT_NE(manifest.find("\"events\": " + std::to_string(shop.stats.events)), std::string::npos);
}

// Faults are where the ground truth says, and normal rows carry none of their
// signatures.
TEST(GenTest, GroundTruthPointsAtRealFaultsAndNormalDataIsClean) {
  TempDir tmp;
  const GenOptions o = SmallOptions();
  const Shop shop = Generate(o, tmp.path());
  ASSERT_GT(shop.gt.size(), 1u);

  std::map<std::string, uint64_t> gt_counts;
  for (size_t i = 1; i < shop.gt.size(); ++i) ++gt_counts[shop.gt[i].f[0]];
  for (const auto& [name, count] : shop.stats.faults) EXPECT_EQ(gt_counts[name], count) << name;
  for (const char* name :
       {"duplicate_event", "invalid_row", "orphan_item", "orphan_user", "future_timestamp", "old_timestamp",
        "out_of_order", "bot_user", "price_outlier", "broken_title", "volume_shift", "mix_shift"}) {
    EXPECT_GT(shop.stats.faults.at(name), 0u) << name;
  }
  EXPECT_GE(shop.stats.faults.at("bot_user"), 3u);

  std::set<std::string> item_ids, user_ids;
  std::map<int64_t, const Record*> item_by_line;
  for (size_t i = 1; i < shop.items.size(); ++i) {
    item_ids.insert(shop.items[i].f[0]);
    item_by_line[shop.items[i].line] = &shop.items[i];
  }
  for (size_t i = 1; i < shop.users.size(); ++i) user_ids.insert(shop.users[i].f[0]);

  std::set<int64_t> fault_lines;
  std::set<std::string> bots, outlier_items, broken_items, invalid_item_lines;
  std::set<std::string> volume_days, mix_days;
  for (size_t g = 1; g < shop.gt.size(); ++g) {
    const auto& f = shop.gt[g].f;
    const std::string& name = f[0];
    if (f[1] == "events" && name != "volume_shift" && name != "mix_shift") {
      const int64_t line = std::stoll(f[2]);
      fault_lines.insert(line);
      ASSERT_GE(line, 2);
      ASSERT_LE(line, static_cast<int64_t>(shop.events.size()));
      const auto& ev = shop.events[line - 1].f;
      if (name == "duplicate_event") {
        bool found = false;
        for (int64_t k = std::max<int64_t>(2, line - 5); k < line; ++k)
          found |= shop.event_lines[k - 1] == shop.event_lines[line - 1];
        EXPECT_TRUE(found) << "line " << line;
        const int64_t source = std::stoll(f[3].substr(f[3].rfind(' ') + 1));
        EXPECT_EQ(shop.event_lines[source - 1], shop.event_lines[line - 1]);
      } else if (name == "invalid_row") {
        const bool item_type = ev[2] == "view" || ev[2] == "click" || ev[2] == "cart" || ev[2] == "purchase";
        const bool bad = ev[0].empty() || !IsInt(ev[3]) || ev[2] == "teleport" || (item_type && ev[1].empty());
        EXPECT_TRUE(bad) << shop.event_lines[line - 1];
      } else if (name == "orphan_item") {
        EXPECT_FALSE(ev[1].empty());
        EXPECT_EQ(item_ids.count(ev[1]), 0u) << ev[1];
      } else if (name == "orphan_user") {
        EXPECT_EQ(user_ids.count(ev[0]), 0u) << ev[0];
      } else if (name == "future_timestamp") {
        EXPECT_GE(std::stoll(ev[3]), 2051222400);
        EXPECT_LE(std::stoll(ev[3]), 4102444799);
      } else if (name == "old_timestamp") {
        EXPECT_LT(std::stoll(ev[3]), 946684800);
        EXPECT_GE(std::stoll(ev[3]), 0);
      } else if (name == "out_of_order") {
        int64_t prev = -1;
        for (int64_t k = line - 1; k >= 2 && prev < 0; --k)
          if (shop.events[k - 1].f[5] == ev[5]) prev = std::stoll(shop.events[k - 1].f[3]);
        ASSERT_GE(prev, 0) << "no previous event in session, line " << line;
        EXPECT_GE(prev - std::stoll(ev[3]), 600);
        EXPECT_LE(prev - std::stoll(ev[3]), 10800);
      } else {
        ADD_FAILURE() << "unexpected event fault " << name;
      }
    } else if (name == "invalid_row") {
      ASSERT_EQ(f[1], "items");
      auto it = item_by_line.find(std::stoll(f[2]));
      ASSERT_NE(it, item_by_line.end()) << "no item record starts at line " << f[2];
      const auto& row = it->second->f;
      EXPECT_TRUE(row[0].empty() || !IsPrice(row[6])) << row[0] << " " << row[6];
      invalid_item_lines.insert(f[2]);
    } else if (name == "price_outlier") {
      outlier_items.insert(f[2]);
    } else if (name == "broken_title") {
      broken_items.insert(f[2]);
    } else if (name == "bot_user") {
      EXPECT_EQ(user_ids.count(f[2]), 1u);
      bots.insert(f[2]);
    } else if (name == "volume_shift") {
      volume_days.insert(f[2]);
    } else if (name == "mix_shift") {
      mix_days.insert(f[2]);
    }
  }

  // Items: normal rows are valid, prices tight within the leaf, titles clean.
  std::map<std::string, std::vector<double>> leaf_prices;
  for (size_t i = 1; i < shop.items.size(); ++i) {
    const auto& f = shop.items[i].f;
    const std::string line = std::to_string(shop.items[i].line);
    if (invalid_item_lines.count(line)) continue;
    EXPECT_FALSE(f[0].empty());
    EXPECT_TRUE(IsPrice(f[6])) << f[0] << " " << f[6];
    const std::string& title = f[1];
    const bool broken = title.empty() || !ValidUtf8(title) || title.find_first_of("<>&") != std::string::npos ||
                        title.find("\xC3\x83") != std::string::npos ||            // Ã
                        title.find("\xC3\xA2\xE2\x82\xAC") != std::string::npos;  // â€
    EXPECT_EQ(broken, broken_items.count(f[0]) == 1) << f[0] << ": " << title;
    if (!outlier_items.count(f[0])) leaf_prices[f[4]].push_back(std::stod(f[6]));
  }
  std::map<std::string, double> leaf_median;
  for (auto& [leaf, prices] : leaf_prices) {
    std::sort(prices.begin(), prices.end());
    leaf_median[leaf] = prices[prices.size() / 2];
    // +-2.5 sigma with sigma 0.35 => at most e^1.75 (5.8x) apart, plus rounding.
    EXPECT_LE(prices.back() / prices.front(), 6.5) << leaf;
  }
  for (size_t i = 1; i < shop.items.size(); ++i) {
    const auto& f = shop.items[i].f;
    if (!outlier_items.count(f[0])) continue;
    const double ratio = std::stod(f[6]) / leaf_median[f[4]];
    EXPECT_TRUE(ratio > 20 || ratio < 1.0 / 20) << f[0] << " ratio " << ratio;
  }

  // Events: normal rows reference known ids, are in timestamp order, carry
  // no duplicates, and humans never exceed 20 events a minute.
  const int64_t start = kWindowEnd - static_cast<int64_t>(o.days) * 86400;
  int64_t last_ts = 0;
  std::unordered_set<std::string> seen_rows;
  std::map<std::string, std::vector<int64_t>> user_times;
  std::map<std::string, std::set<std::string>> user_types;
  std::map<std::string, int64_t> session_last;
  std::map<std::string, std::map<std::string, size_t>> day_types;
  for (size_t i = 1; i < shop.events.size(); ++i) {
    const auto& f = shop.events[i].f;
    const int64_t line = static_cast<int64_t>(i + 1);
    if (fault_lines.count(line)) continue;
    ASSERT_TRUE(seen_rows.insert(shop.event_lines[i]).second) << "unexpected duplicate at line " << line;
    ASSERT_EQ(user_ids.count(f[0]), 1u) << line;
    ASSERT_TRUE(IsInt(f[3])) << line;
    const int64_t ts = std::stoll(f[3]);
    ASSERT_GE(ts, start);
    ASSERT_LT(ts, kWindowEnd);
    ASSERT_GE(ts, last_ts) << "not sorted at line " << line;
    last_ts = ts;
    if (f[2] == "search") {
      EXPECT_TRUE(f[1].empty());
      EXPECT_FALSE(f[6].empty());
    } else {
      ASSERT_EQ(item_ids.count(f[1]), 1u) << line;
    }
    auto [it, fresh] = session_last.try_emplace(f[5], ts);
    ASSERT_TRUE(fresh || it->second <= ts) << "session goes back in time at line " << line;
    it->second = ts;
    user_times[f[0]].push_back(ts);
    user_types[f[0]].insert(f[2]);
    // UTC day of the event.
    const int64_t day = ts / 86400;
    day_types[std::to_string(day)][f[2]]++;
  }
  for (const auto& [user, times] : user_times) {
    if (bots.count(user)) {
      EXPECT_EQ(user_types[user], std::set<std::string>{"view"}) << user;
      EXPECT_GE(times.size(), 150u) << user;
      // Machine-like: > 40 views in some minute, or near-constant gaps.
      size_t per_minute = 0;
      for (size_t k = 0, j = 0; k < times.size(); ++k) {
        while (times[k] - times[j] >= 60) ++j;
        per_minute = std::max(per_minute, k - j + 1);
      }
      std::vector<double> gaps;
      for (size_t k = 1; k < times.size(); ++k)
        if (times[k] - times[k - 1] < 600) gaps.push_back(static_cast<double>(times[k] - times[k - 1]));
      double mean = 0, var = 0;
      for (double g : gaps) mean += g / gaps.size();
      for (double g : gaps) var += (g - mean) * (g - mean) / gaps.size();
      EXPECT_TRUE(per_minute > 40 || std::sqrt(var) / mean < 0.2) << user << " " << per_minute;
      continue;
    }
    for (size_t k = 20; k < times.size(); ++k) ASSERT_GE(times[k] - times[k - 20], 60) << user;
  }
  for (const auto& bot : bots) EXPECT_TRUE(user_times.count(bot)) << bot;

  // Day faults: the outage day is far below a normal day; the mix-shift day
  // has no clicks while every other day does.
  auto day_key = [](const std::string& iso) {
    const int y = std::stoi(iso.substr(0, 4)), m = std::stoi(iso.substr(5, 2)), d = std::stoi(iso.substr(8, 2));
    // days since epoch (civil), Howard Hinnant.
    const int yy = y - (m <= 2);
    const int era = yy / 400, yoe = yy - era * 400;
    const int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return std::to_string(static_cast<int64_t>(era) * 146097 + doe - 719468);
  };
  std::vector<size_t> totals;
  for (const auto& [day, counts] : day_types) {
    size_t total = 0;
    for (const auto& [t, c] : counts) total += c;
    totals.push_back(total);
  }
  std::sort(totals.begin(), totals.end());
  const size_t median_day = totals[totals.size() / 2];
  for (const auto& d : volume_days) {
    size_t total = 0;
    for (const auto& [t, c] : day_types[day_key(d)]) total += c;
    EXPECT_LT(total, median_day * 4 / 10) << d;
  }
  for (const auto& d : mix_days) {
    EXPECT_EQ(day_types[day_key(d)]["click"], 0u) << d;
    EXPECT_GT(day_types[day_key(d)]["view"], 0u) << d;
  }
  const int64_t first_full_day = (start + 86399) / 86400, last_day = (kWindowEnd - 1) / 86400;
  for (const auto& [day, counts] : day_types) {
    const int64_t d = std::stoll(day);
    if (d < first_full_day || d >= last_day) continue;
    bool is_mix = false;
    for (const auto& m : mix_days) is_mix |= day_key(m) == day;
    if (!is_mix) {
      EXPECT_GT(counts.count("click") ? counts.at("click") : 0u, 0u) << day;
    }
  }
}

TEST(GenTest, SearchesHaveJudgmentsAndPositions) {
  TempDir tmp;
  const Shop shop = Generate(SmallOptions(), tmp.path());
  std::map<std::string, std::map<std::string, int>> graded;
  std::set<std::pair<std::string, std::string>> pairs;
  for (size_t i = 1; i < shop.judgments.size(); ++i) {
    const auto& f = shop.judgments[i].f;
    EXPECT_TRUE(f[2] == "3" || f[2] == "1") << f[2];
    EXPECT_TRUE(pairs.emplace(f[0], f[1]).second) << "repeated pair " << f[0] << " " << f[1];
    graded[f[0]][f[1]] = std::stoi(f[2]);
  }
  for (const auto& [q, items] : graded) {
    size_t ones = 0;
    for (const auto& [item, grade] : items) ones += grade == 1;
    EXPECT_LE(ones, 20u) << q;
  }
  std::set<std::string> item_ids;
  for (size_t i = 1; i < shop.items.size(); ++i) item_ids.insert(shop.items[i].f[0]);
  // The view that follows a search in its session is the item searched for.
  std::map<std::string, std::string> last_query;  // session -> query
  size_t checked = 0, chinese = 0, positions_low = 0, positions = 0;
  for (size_t i = 1; i < shop.events.size(); ++i) {
    const auto& f = shop.events[i].f;
    if (f[2] == "search") {
      last_query[f[5]] = f[6];
      EXPECT_TRUE(graded.count(f[6])) << f[6];
      chinese += HasCjk(f[6]);
      EXPECT_LE(std::count(f[6].begin(), f[6].end(), ' '), 2) << f[6];
      continue;
    }
    if (f[7].empty()) continue;
    const int pos = std::stoi(f[7]);
    EXPECT_GE(pos, 1);
    EXPECT_LE(pos, 20);
    ++positions;
    positions_low += pos <= 5;
    auto q = last_query.find(f[5]);
    // Skip rows turned into faults and sessions whose search was lost.
    if (q == last_query.end() || f[1].empty() || item_ids.count(f[1]) == 0) continue;
    EXPECT_EQ(graded[q->second][f[1]], 3) << q->second << " " << f[1];
    ++checked;
  }
  EXPECT_GT(checked, 100u);
  EXPECT_GT(chinese, 0u);
  EXPECT_GT(positions_low * 2, positions);  // lower positions are likelier
}

// Holds out each user's last clicked-or-purchased item (with the rest of that
// session) and checks that item co-occurrence beats global popularity.
TEST(GenTest, LatentStructureIsRecoverable) {
  TempDir tmp;
  GenOptions o;
  o.users = 2000;
  o.items = 500;
  o.days = 30;
  o.seed = 11;
  o.inject_faults = false;
  const Shop shop = Generate(o, tmp.path());
  ASSERT_GT(shop.events.size(), 1000u);

  std::unordered_map<std::string, uint32_t> item_index;
  for (size_t i = 1; i < shop.items.size(); ++i) item_index.emplace(shop.items[i].f[0], static_cast<uint32_t>(i - 1));
  const size_t n_items = item_index.size();
  struct Row {
    uint32_t item;
    std::string type, session;
  };
  std::map<std::string, std::vector<Row>> by_user;  // events are in time order
  for (size_t i = 1; i < shop.events.size(); ++i) {
    const auto& f = shop.events[i].f;
    if (f[1].empty() || f[2] == "rating") continue;
    by_user[f[0]].push_back({item_index.at(f[1]), f[2], f[5]});
  }
  struct Case {
    std::vector<uint32_t> history;
    uint32_t target;
  };
  std::vector<Case> cases;
  for (const auto& [user, rows] : by_user) {
    int last = -1;
    for (int k = 0; k < static_cast<int>(rows.size()); ++k)
      if (rows[k].type == "click" || rows[k].type == "purchase") last = k;
    if (last < 0) continue;
    Case c{{}, rows[last].item};
    for (const auto& r : rows) {
      if (r.session == rows[last].session) break;
      c.history.push_back(r.item);
    }
    std::sort(c.history.begin(), c.history.end());
    c.history.erase(std::unique(c.history.begin(), c.history.end()), c.history.end());
    if (!c.history.empty()) cases.push_back(std::move(c));
  }
  ASSERT_GT(cases.size(), 500u);

  std::vector<double> pop(n_items, 0);
  std::vector<double> co(n_items * n_items, 0);
  for (const auto& c : cases) {
    for (uint32_t a : c.history) {
      pop[a] += 1;
      for (uint32_t b : c.history)
        if (a != b) co[a * n_items + b] += 1;
    }
  }
  auto top10 = [&](const std::vector<double>& score, const std::vector<uint32_t>& exclude) {
    std::vector<uint32_t> ids;
    for (uint32_t i = 0; i < n_items; ++i)
      if (!std::binary_search(exclude.begin(), exclude.end(), i)) ids.push_back(i);
    std::partial_sort(ids.begin(), ids.begin() + std::min<size_t>(10, ids.size()), ids.end(),
                      [&](uint32_t a, uint32_t b) { return score[a] != score[b] ? score[a] > score[b] : a < b; });
    ids.resize(std::min<size_t>(10, ids.size()));
    return ids;
  };
  size_t hits_pop = 0, hits_knn = 0;
  std::vector<double> score(n_items);
  for (const auto& c : cases) {
    auto p = top10(pop, c.history);
    hits_pop += std::find(p.begin(), p.end(), c.target) != p.end();
    std::fill(score.begin(), score.end(), 0.0);
    for (uint32_t h : c.history)
      for (uint32_t j = 0; j < n_items; ++j)
        if (co[h * n_items + j] > 0) score[j] += co[h * n_items + j] / std::sqrt(pop[h] * pop[j]);
    auto k = top10(score, c.history);
    hits_knn += std::find(k.begin(), k.end(), c.target) != k.end();
  }
  const double hr_pop = static_cast<double>(hits_pop) / cases.size();
  const double hr_knn = static_cast<double>(hits_knn) / cases.size();
  RecordProperty("hr_pop", std::to_string(hr_pop));
  RecordProperty("hr_knn", std::to_string(hr_knn));
  std::printf("HR@10 popularity %.4f, item-kNN %.4f over %zu users\n", hr_pop, hr_knn, cases.size());
  EXPECT_GE(hr_knn, 1.5 * hr_pop);
  EXPECT_GT(hr_knn, 0.05);
}

TEST(GenTest, WithoutFaultsTheDataIsClean) {
  TempDir tmp;
  GenOptions o = SmallOptions();
  o.inject_faults = false;
  const Shop shop = Generate(o, tmp.path());
  EXPECT_EQ(shop.gt.size(), 1u);  // header only
  for (const auto& [name, count] : shop.stats.faults) EXPECT_EQ(count, 0u) << name;
  int64_t last = 0;
  for (size_t i = 1; i < shop.events.size(); ++i) {
    const int64_t ts = std::stoll(shop.events[i].f[3]);
    ASSERT_GE(ts, last);
    last = ts;
  }
  for (size_t i = 1; i < shop.items.size(); ++i) {
    EXPECT_TRUE(ValidUtf8(shop.items[i].f[1])) << shop.items[i].f[1];
    EXPECT_TRUE(IsPrice(shop.items[i].f[6]));
  }
}

}  // namespace
}  // namespace souk::gen
