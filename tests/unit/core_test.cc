#include "core/core.h"

#include <gtest/gtest.h>

#include "core/config.h"
#include "core/status.h"
#include "test_util.h"

namespace souk {
namespace {

using souk::testing::ReadText;
using souk::testing::TempDir;
using souk::testing::WriteText;

Result<int> Half(int x) {
  if (x % 2) return Status::InvalidArgument("odd");
  return x / 2;
}

Status UseHalf(int x, int* out) {
  SOUK_ASSIGN_OR_RETURN(*out, Half(x));
  return Status::Ok();
}

TEST(Status, OkAndErrors) {
  EXPECT_TRUE(Status::Ok().ok());
  Status s = Status::NotFound("no such item");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.ToString(), "not found: no such item");
  EXPECT_EQ(s.WithContext("items.csv").message(), "items.csv: no such item");
  int v = 0;
  EXPECT_TRUE(UseHalf(8, &v).ok());
  EXPECT_EQ(v, 4);
  Status odd = UseHalf(7, &v);
  EXPECT_EQ(odd.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(odd.message(), "odd");
}

TEST(Time, ParsesUnixSecondsMillisAndIso) {
  EXPECT_EQ(*ParseTimestamp("1700000000"), 1700000000000);
  EXPECT_EQ(*ParseTimestamp("1700000000.5"), 1700000000500);
  EXPECT_EQ(*ParseTimestamp("1700000000123"), 1700000000123);  // milliseconds
  EXPECT_EQ(*ParseTimestamp("0"), 0);
  EXPECT_EQ(*ParseTimestamp("2023-11-14T22:13:20Z"), 1700000000000);
  EXPECT_EQ(*ParseTimestamp("2023-11-14 22:13:20"), 1700000000000);
  EXPECT_EQ(*ParseTimestamp("2023-11-15T06:13:20+08:00"), 1700000000000);
  EXPECT_EQ(*ParseTimestamp("2023-11-14T22:13:20.250Z"), 1700000000250);
  EXPECT_EQ(*ParseTimestamp("2023-11-14"), 1699920000000);
  EXPECT_EQ(*ParseTimestamp(" 2024-02-29T00:00:00Z "), 1709164800000);
}

TEST(Time, RejectsGarbage) {
  for (const char* bad : {"", "not-a-time", "2026-13-45T25:00:00Z", "2023-02-29", "2023-11-14T25:00", "2023-11-14Tx",
                          "12abc", "2023-11-14T10:00:00Q"}) {
    EXPECT_FALSE(ParseTimestamp(bad).ok()) << bad;
  }
}

TEST(Time, FormatsRoundTrip) {
  EXPECT_EQ(FormatTimestamp(1700000000000), "2023-11-14T22:13:20Z");
  EXPECT_EQ(FormatTimestamp(1700000000250), "2023-11-14T22:13:20.250Z");
  EXPECT_EQ(FormatDate(1700000000000), "2023-11-14");
  EXPECT_EQ(FormatTimestamp(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatTimestamp(-1000), "1969-12-31T23:59:59Z");
  for (int64_t t : {int64_t{0}, int64_t{951782400000}, int64_t{4102444800000}})
    EXPECT_EQ(*ParseTimestamp(FormatTimestamp(t)), t);
}

TEST(Numbers, StrictParsing) {
  EXPECT_EQ(*ParseDouble("12.5"), 12.5);
  EXPECT_EQ(*ParseDouble(" +3 "), 3.0);
  EXPECT_FALSE(ParseDouble("12,5"));
  EXPECT_FALSE(ParseDouble("abc"));
  EXPECT_FALSE(ParseDouble(""));
  EXPECT_EQ(*ParseInt("42"), 42);
  EXPECT_EQ(*ParseInt("42.0"), 42);
  EXPECT_FALSE(ParseInt("42.5"));
  EXPECT_FALSE(ParseInt("4x"));
}

TEST(Utf8, ValidatesAndRepairs) {
  EXPECT_TRUE(IsValidUtf8("plain ascii text that is long enough"));
  EXPECT_TRUE(IsValidUtf8("运动鞋 Café"));
  EXPECT_FALSE(IsValidUtf8("bad \xFF byte"));
  EXPECT_FALSE(IsValidUtf8("\xC3\x28"));          // bad continuation
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("cut \xE8\xBF"));      // truncated sequence
  std::string s = "Shoe \xFF\xFE size \xC3\x28";
  EXPECT_EQ(RepairUtf8(&s), 3u);
  EXPECT_TRUE(IsValidUtf8(s));
  EXPECT_EQ(s, "Shoe \xEF\xBF\xBD\xEF\xBF\xBD size \xEF\xBF\xBD(");
  std::string ok = "fine";
  EXPECT_EQ(RepairUtf8(&ok), 0u);
}

TEST(Text, Helpers) {
  EXPECT_EQ(Trim("  a b \r\n"), "a b");
  EXPECT_EQ(ToLowerAscii("AbC-Ä"), "abc-Ä");
  EXPECT_EQ(WithThousands(1234567), "1,234,567");
  EXPECT_EQ(WithThousands(12), "12");
  EXPECT_EQ(HtmlEscape("<a href=\"x\">&</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;");
  std::string cut = Shorten("运动鞋运动鞋运动鞋运动鞋运动鞋运动鞋运动鞋运动鞋", 20);
  EXPECT_TRUE(IsValidUtf8(cut));
  EXPECT_LE(cut.size(), 20u);
}

TEST(EventTypes, BuiltinsAliasesAndCustom) {
  EventTypeRegistry reg;
  EXPECT_EQ(*reg.Find("view"), 0);
  EXPECT_EQ(*reg.Find("Purchase"), static_cast<int>(EventType::kPurchase));
  EXPECT_EQ(*reg.Find("addtocart"), static_cast<int>(EventType::kCart));
  EXPECT_EQ(*reg.Find("transaction"), static_cast<int>(EventType::kPurchase));
  EXPECT_FALSE(reg.Find("teleport"));
  auto id = reg.Add("wishlist");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, kFirstExtraEventType);
  EXPECT_EQ(*reg.Find("WISHLIST"), kFirstExtraEventType);
  EXPECT_EQ(reg.Name(kFirstExtraEventType), "wishlist");
  EXPECT_FALSE(reg.Add("view").ok());
}

TEST(Config, DefaultsAndOverrides) {
  TempDir dir;
  Config defaults;
  EXPECT_EQ(defaults.GetInt("import.batch_rows"), 100000);
  EXPECT_DOUBLE_EQ(defaults.GetDouble("quality.price_z"), 3.5);
  WriteText(dir / "souk.toml", "[quality]\nprice_z = 4\nnow = \"2026-07-01\"\n[import]\nbatch_rows = 10\n");
  auto c = Config::Load(dir / "souk.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_DOUBLE_EQ(c->GetDouble("quality.price_z"), 4.0);
  EXPECT_EQ(c->GetInt("import.batch_rows"), 10);
  EXPECT_EQ(c->GetString("quality.now"), "2026-07-01");
  // Missing file: defaults.
  EXPECT_TRUE(Config::Load(dir / "nope.toml").ok());
}

TEST(Config, ErrorsNameTheLine) {
  TempDir dir;
  WriteText(dir / "a.toml", "[import]\nbatch_rows = 5\nbatch_rowz = 6\n");
  auto a = Config::Load(dir / "a.toml");
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("a.toml:3: unknown setting 'import.batch_rowz'"), std::string::npos)
      << a.status().message();
  WriteText(dir / "b.toml", "[import]\nbatch_rows = \"many\"\n");
  auto b = Config::Load(dir / "b.toml");
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("b.toml:2: setting 'import.batch_rows' must be of type integer"),
            std::string::npos)
      << b.status().message();
  WriteText(dir / "c.toml", "[import\nbatch_rows = 5\n");
  EXPECT_FALSE(Config::Load(dir / "c.toml").ok());
}

TEST(Config, WrittenTomlLoadsBack) {
  TempDir dir;
  Config c;
  ASSERT_TRUE(c.Set("quality.now", "2026-01-01").ok());
  WriteText(dir / "souk.toml", c.ToToml());
  auto back = Config::Load(dir / "souk.toml");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  for (const auto& d : AllSettings()) EXPECT_EQ(back->Text(d.name), c.Text(d.name)) << d.name;
}

TEST(Config, DocsAreGeneratedFromTheTable) {
  // docs/config.md is `souk config --markdown`; regenerate it when settings change.
  std::string docs = ReadText(std::string(SOUK_SOURCE_DIR) + "/docs/config.md");
  EXPECT_EQ(docs, Config::Markdown()) << "docs/config.md is stale: run `build/souk config --markdown > docs/config.md`";
}

}  // namespace
}  // namespace souk

namespace souk {
namespace {

TEST(Text, SplitTrimmedAndJoin) {
  EXPECT_EQ(SplitTrimmed(" a | b || c ", '|'), (std::vector<std::string_view>{"a", "b", "c"}));
  EXPECT_TRUE(SplitTrimmed("  ", ',').empty());
  EXPECT_EQ(Join(SplitTrimmed("Shoes>Running >  Trail", '>'), " > "), "Shoes > Running > Trail");
}

}  // namespace
}  // namespace souk
