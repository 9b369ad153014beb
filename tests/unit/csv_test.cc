#include "ingest/csv.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace souk::ingest {
namespace {

using souk::testing::TempDir;
using souk::testing::WriteText;

struct Got {
  std::string text;
  int64_t line;
  bool too_long, eof_in_quotes;
};

std::vector<Got> ScanAll(const std::string& path, RecordScanner::Options o = {}) {
  auto s = RecordScanner::Open(path, o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  std::vector<Got> out;
  RecordScanner::Record r;
  while ((*s)->Next(&r)) out.push_back({std::string(r.text), r.line, r.too_long, r.eof_in_quotes});
  EXPECT_TRUE((*s)->status().ok());
  return out;
}

std::vector<std::string> Split(std::string_view text, std::string* err = nullptr) {
  std::vector<std::string_view> f;
  std::string scratch;
  std::string e = SplitCsv(text, ',', &f, &scratch);
  if (err) *err = e;
  return std::vector<std::string>(f.begin(), f.end());
}

TEST(Csv, SplitsPlainAndQuotedFields) {
  EXPECT_EQ(Split("a,b,c"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(Split("a,,c,"), (std::vector<std::string>{"a", "", "c", ""}));
  EXPECT_EQ(Split("\"a,b\",\"say \"\"hi\"\"\",x"), (std::vector<std::string>{"a,b", "say \"hi\"", "x"}));
  EXPECT_EQ(Split("\"line1\nline2\",2"), (std::vector<std::string>{"line1\nline2", "2"}));
  EXPECT_EQ(Split("12\" screen,ok"), (std::vector<std::string>{"12\" screen", "ok"}));  // literal quote
  EXPECT_EQ(Split("\"\""), (std::vector<std::string>{""}));
}

TEST(Csv, ReportsMalformedQuoting) {
  std::string err;
  Split("\"abc\"def,x", &err);
  EXPECT_NE(err.find("after the closing quote of field 1"), std::string::npos) << err;
  Split("x,\"open", &err);
  EXPECT_NE(err.find("unterminated quoted field 2"), std::string::npos) << err;
}

TEST(Scanner, BomCrlfEmbeddedNewlinesAndLineNumbers) {
  TempDir dir;
  WriteText(dir / "f.csv", "\xEF\xBB\xBFid,desc\r\n1,\"two\r\nlines\"\r\n\r\n2,plain\r\n3,\"a,b\"");
  auto got = ScanAll(dir / "f.csv");
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].text, "id,desc");
  EXPECT_EQ(got[0].line, 1);
  EXPECT_EQ(got[1].text, "1,\"two\r\nlines\"");
  EXPECT_EQ(got[1].line, 2);
  EXPECT_EQ(got[2].text, "2,plain");
  EXPECT_EQ(got[2].line, 5);  // line 4 is blank
  EXPECT_EQ(got[3].text, "3,\"a,b\"");
  EXPECT_EQ(got[3].line, 6);
}

TEST(Scanner, LiteralQuoteInUnquotedFieldDoesNotSwallowLines) {
  TempDir dir;
  WriteText(dir / "f.csv", "a,b\n1,12\" screen\n2,x\n");
  auto got = ScanAll(dir / "f.csv");
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[1].text, "1,12\" screen");
  EXPECT_EQ(got[2].line, 3);
}

TEST(Scanner, FileEndingInsideQuotes) {
  TempDir dir;
  WriteText(dir / "f.csv", "a,b\n1,ok\n2,\"never closed\n3,x\n");
  auto got = ScanAll(dir / "f.csv");
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(got[2].eof_in_quotes);
  EXPECT_EQ(got[2].line, 3);
}

TEST(Scanner, RecordsAcrossBlockBoundaries) {
  TempDir dir;
  std::string text = "id,v\n";
  for (int i = 0; i < 2000; ++i) text += std::to_string(i) + ",\"value, with\nnewline " + std::to_string(i) + "\"\n";
  WriteText(dir / "f.csv", text);
  RecordScanner::Options o;
  o.block_bytes = 64;  // force many refills mid-record
  o.max_record_bytes = 1024;
  auto got = ScanAll(dir / "f.csv", o);
  ASSERT_EQ(got.size(), 2001u);
  for (int i = 0; i < 2000; ++i) {
    auto f = Split(got[i + 1].text);
    ASSERT_EQ(f.size(), 2u);
    EXPECT_EQ(f[0], std::to_string(i));
    EXPECT_EQ(f[1], "value, with\nnewline " + std::to_string(i));
    EXPECT_EQ(got[i + 1].line, 2 + 2 * i);
  }
}

TEST(Scanner, OverlongRecordIsTruncatedAndTheNextOneSurvives) {
  TempDir dir;
  std::string big(10 << 20, 'x');  // a 10 MB single line
  WriteText(dir / "f.csv", "a,b\n1,2\n" + big + "\n3,4\n");
  RecordScanner::Options o;
  o.max_record_bytes = 1 << 20;
  auto got = ScanAll(dir / "f.csv", o);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_TRUE(got[2].too_long);
  EXPECT_EQ(got[2].text.size(), size_t{1} << 20);
  EXPECT_EQ(got[2].line, 3);
  EXPECT_EQ(got[3].text, "3,4");
  EXPECT_EQ(got[3].line, 4);
}

TEST(Scanner, JsonlIgnoresQuotes) {
  TempDir dir;
  WriteText(dir / "f.jsonl", "{\"a\":\"x\\\"y\"}\n\n{\"a\":\"z\"}\n");
  RecordScanner::Options o;
  o.csv_quotes = false;
  auto got = ScanAll(dir / "f.jsonl", o);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].line, 3);
}

TEST(Scanner, MissingFileIsNotFound) {
  auto s = RecordScanner::Open("/nonexistent/dir/x.csv", {});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kNotFound);
  EXPECT_NE(s.status().message().find("No such file"), std::string::npos);
}

}  // namespace
}  // namespace souk::ingest
