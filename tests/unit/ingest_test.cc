#include "ingest/ingest.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace souk::ingest {
namespace {

using souk::testing::TempDir;
using souk::testing::WriteText;

class ImportTest : public ::testing::Test {
 protected:
  void SetUp() override { OpenStore({}); }
  void OpenStore(StoreOptions o) {
    store_.reset();
    auto s = Store::OpenSqlite(dir_ / "souk.db", o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }
  Status Import(const std::string& table, const std::string& name, const std::string& text, ImportSummary* sum,
                int64_t batch_rows = 100000) {
    WriteText(dir_ / name, text);
    ImportOptions o;
    o.table = table;
    o.batch_rows = batch_rows;
    o.progress = false;
    o.on_reject = [this](const QuarantineRecord& q) { rejects_.push_back(q.src.line); };
    return ImportFile(store_.get(), types_, dir_ / name, o, sum);
  }
  static void ExpectIdentity(const ImportSummary& s) {
    EXPECT_EQ(s.read, s.accepted + s.updated + s.duplicates + s.rejected)
        << "read " << s.read << " accepted " << s.accepted << " updated " << s.updated << " duplicates " << s.duplicates
        << " rejected " << s.rejected;
  }
  std::vector<QuarantineRow> Quarantine() { return *store_->LoadQuarantine(); }

  TempDir dir_;
  EventTypeRegistry types_;
  std::unique_ptr<Store> store_;
  std::vector<int64_t> rejects_;
};

TEST_F(ImportTest, ItemsCsvWithQuotingAttributesAndUpdates) {
  ImportSummary s;
  std::string csv =
      "item_id,title,description,brand,category,tags,price,stock,color\n"
      "I1,Trail Runner,\"Light, fast \"\"trail\"\" shoe\nwith grip\",Acme,Shoes>Running, sale | new ,59.90,3,red\n"
      "I2,运动鞋 男款,,李宁,Shoes > Running,,199,0,\n"
      "I1,Trail Runner 2,,Acme,Shoes > Running,,64.50,2,blue\n";
  ASSERT_TRUE(Import("items", "items.csv", csv, &s).ok());
  EXPECT_EQ(s.read, 3u);
  EXPECT_EQ(s.accepted, 2u);
  EXPECT_EQ(s.updated, 1u);
  ExpectIdentity(s);
  auto items = *store_->LoadItems();
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].title, "Trail Runner 2");
  EXPECT_EQ(items[0].category, "Shoes > Running");
  EXPECT_EQ(items[0].attrs_json, "{\"color\":\"blue\"}");
  EXPECT_EQ(items[1].title, "运动鞋 男款");
  EXPECT_EQ(items[1].stock, 0);
}

TEST_F(ImportTest, TagsAndDescriptionsAreNormalised) {
  ImportSummary s;
  ASSERT_TRUE(
      Import("items", "i.csv", "item_id,title,description,tags\nI1,T,\"two\nlines\", sale | new ||x \n", &s).ok());
  auto items = *store_->LoadItems();
  EXPECT_EQ(items[0].tags, "sale|new|x");
  EXPECT_EQ(items[0].description, "two\nlines");
}

TEST_F(ImportTest, EventsCsvAccountingDuplicatesAndRejects) {
  ImportSummary s;
  std::string csv =
      "user_id,item_id,event_type,timestamp,value,session_id,query,position\n"
      "u1,I1,view,1700000000,,s1,,\n"              // 2
      "u1,I1,view,1700000000,,s1,,\n"              // 3 duplicate
      "u1,,search,1700000010,,s1,trail shoes,\n"   // 4 search without item
      "u1,I1,click,2023-11-14T22:13:40Z,,s1,,3\n"  // 5
      ",I1,view,1700000050,,s2,,\n"                // 6 missing user_id
      "u2,I1,teleport,1700000060,,s3,,\n"          // 7 unknown type
      "u2,I1,view,not-a-time,,s3,,\n"              // 8 bad timestamp
      "u2,,view,1700000070,,s3,,\n"                // 9 view without item
      "u2,I1,rating,1700000080,five,s3,,\n"        // 10 bad value
      "u2,I1,view,1700000090,,s3,,-1\n"            // 11 bad position
      "u2,I1,view,1700000100,,s3\n"                // 12 too few fields
      "u2,I1,AddToCart,1700000110,,s3,,\n";        // 13 alias
  ASSERT_TRUE(Import("events", "events.csv", csv, &s).ok());
  EXPECT_EQ(s.read, 12u);
  EXPECT_EQ(s.accepted, 4u);
  EXPECT_EQ(s.duplicates, 1u);
  EXPECT_EQ(s.rejected, 7u);
  ExpectIdentity(s);
  EXPECT_EQ(s.reasons["missing user_id"], 1u);
  EXPECT_EQ(s.reasons["unknown event_type"], 1u);
  EXPECT_EQ(s.reasons["invalid timestamp"], 1u);
  EXPECT_EQ(s.reasons["missing item_id"], 1u);
  EXPECT_EQ(s.reasons["invalid value"], 1u);
  EXPECT_EQ(s.reasons["invalid position"], 1u);
  EXPECT_EQ(s.reasons["wrong number of fields"], 1u);
  EXPECT_EQ(rejects_, (std::vector<int64_t>{6, 7, 8, 9, 10, 11, 12}));
  auto q = Quarantine();
  ASSERT_EQ(q.size(), 8u);  // 7 rejects + 1 duplicate, each with line and raw text
  bool found = false;
  for (const auto& r : q)
    if (r.line == 8) {
      found = true;
      EXPECT_EQ(r.raw, "u2,I1,view,not-a-time,,s3,,");
      EXPECT_EQ(r.column, "timestamp");
      EXPECT_NE(r.detail.find("'not-a-time'"), std::string::npos);
    }
  EXPECT_TRUE(found);
  // Importing the same file again stores nothing new and loses nothing.
  ImportSummary again;
  ASSERT_TRUE(Import("events", "events.csv", csv, &again).ok());
  EXPECT_EQ(again.accepted, 0u);
  EXPECT_EQ(again.duplicates, 5u);
  ExpectIdentity(again);
  EXPECT_EQ(store_->Counts()->events, 4u);
}

TEST_F(ImportTest, JsonlEventsAndItems) {
  ImportSummary s;
  std::string jsonl =
      "{\"user_id\":\"u1\",\"item_id\":\"I1\",\"event_type\":\"purchase\",\"timestamp\":1700000000,\"value\":49.5,"
      "\"device\":\"ios\"}\n"
      "{\"user_id\":\"u1\",\"item_id\":\"I2\",\"event_type\":\"view\",\"timestamp\":\"2023-11-14T22:13:20Z\"}\n"
      "{\"user_id\":\"u1\",\"item_id\":\"I2\",\"event_type\":\"view\"\n"  // malformed JSON (line 3)
      "[1,2,3]\n"                                                         // not an object (line 4)
      "{\"user_id\":\"u3\",\"event_type\":\"view\",\"timestamp\":1}\n";   // missing item_id (line 5)
  ASSERT_TRUE(Import("events", "ev.jsonl", jsonl, &s).ok());
  EXPECT_EQ(s.format, "jsonl");
  EXPECT_EQ(s.read, 5u);
  EXPECT_EQ(s.accepted, 2u);
  EXPECT_EQ(s.rejected, 3u);
  EXPECT_EQ(s.reasons["malformed JSON"], 2u);
  EXPECT_EQ(s.reasons["missing item_id"], 1u);
  ExpectIdentity(s);
  ImportSummary is;
  ASSERT_TRUE(Import("items", "items.jsonl",
                     "{\"item_id\":\"I1\",\"title\":\"Mug\",\"tags\":[\"a\",\"b\"],\"category\":[\"Home\",\"Kitchen\"],"
                     "\"price\":12.5,\"specs\":{\"ml\":350}}\n",
                     &is)
                  .ok());
  auto items = *store_->LoadItems();
  EXPECT_EQ(items[0].tags, "a|b");
  EXPECT_EQ(items[0].category, "Home > Kitchen");
  EXPECT_EQ(items[0].attrs_json, "{\"specs\":{\"ml\":350}}");
}

TEST_F(ImportTest, MissingFile) {
  ImportSummary s;
  ImportOptions o;
  o.table = "events";
  Status st = ImportFile(store_.get(), types_, dir_ / "nope.csv", o, &s);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("nope.csv"), std::string::npos);
  EXPECT_NE(st.message().find("No such file or directory"), std::string::npos);
}

TEST_F(ImportTest, EmptyFile) {
  ImportSummary s;
  Status st = Import("events", "empty.csv", "", &s);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("empty.csv: the file is empty"), std::string::npos) << st.message();
  EXPECT_EQ(s.read, 0u);
}

TEST_F(ImportTest, MissingRequiredColumn) {
  ImportSummary s;
  Status st = Import("events", "ev.csv", "user_id,item_id,event_type\nu1,I1,view\n", &s);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("ev.csv:1: missing required column 'timestamp'"), std::string::npos) << st.message();
  EXPECT_EQ(store_->Counts()->events, 0u);
}

TEST_F(ImportTest, WrongTypes) {
  ImportSummary s;
  ASSERT_TRUE(Import("items", "items.csv",
                     "item_id,title,price,stock\nI1,A,abc,1\nI2,B,-5.00,1\nI3,C,10,many\nI4,D,nan,1\nI5,E,9.5,2\n", &s)
                  .ok());
  EXPECT_EQ(s.accepted, 1u);
  EXPECT_EQ(s.rejected, 4u);
  EXPECT_EQ(s.reasons["invalid price"], 2u);
  EXPECT_EQ(s.reasons["negative price"], 1u);
  EXPECT_EQ(s.reasons["invalid stock"], 1u);
  ExpectIdentity(s);
  EXPECT_EQ(rejects_, (std::vector<int64_t>{2, 3, 4, 5}));
}

TEST_F(ImportTest, MalformedCsvQuoting) {
  ImportSummary s;
  ASSERT_TRUE(Import("items", "items.csv", "item_id,title\nI1,\"ok\"\nI2,\"bad\"tail\nI3,fine\n", &s).ok());
  EXPECT_EQ(s.accepted, 2u);
  EXPECT_EQ(s.rejected, 1u);
  EXPECT_EQ(s.reasons["malformed CSV"], 1u);
  EXPECT_EQ(rejects_, (std::vector<int64_t>{3}));
  ExpectIdentity(s);
  auto q = Quarantine();
  ASSERT_EQ(q.size(), 1u);
  EXPECT_NE(q[0].detail.find("after the closing quote of field 2"), std::string::npos) << q[0].detail;
}

TEST_F(ImportTest, InvalidUtf8) {
  ImportSummary s;
  ASSERT_TRUE(Import("items", "items.csv", "item_id,title\nI1,Bad \xFF title\nI\xC3\x28,x\nI3,ok\n", &s).ok());
  // A title with invalid UTF-8 is kept (repaired with U+FFFD, counted as a
  // warning, and flagged later by the broken_title rule); an id is rejected.
  EXPECT_EQ(s.accepted, 2u);
  EXPECT_EQ(s.rejected, 1u);
  EXPECT_EQ(s.reasons["invalid UTF-8"], 1u);
  EXPECT_EQ(s.warnings["invalid UTF-8 replaced in title"], 1u);
  EXPECT_EQ(rejects_, (std::vector<int64_t>{3}));
  ExpectIdentity(s);
  EXPECT_EQ((*store_->LoadItems())[0].title, "Bad \xEF\xBF\xBD title");
}

TEST_F(ImportTest, TenMegabyteSingleLine) {
  ImportSummary s;
  std::string big = "u1,I1,view,1700000000,,s1,," + std::string(10 << 20, 'x');
  ASSERT_TRUE(Import("events", "ev.csv",
                     "user_id,item_id,event_type,timestamp,value,session_id,query,position\n" + big +
                         "\nu1,I2,view,1700000001,,s1,,\n",
                     &s)
                  .ok());
  EXPECT_EQ(s.read, 2u);
  EXPECT_EQ(s.accepted, 1u);
  EXPECT_EQ(s.rejected, 1u);
  EXPECT_EQ(s.reasons["record too long"], 1u);
  EXPECT_EQ(rejects_, (std::vector<int64_t>{2}));
  ExpectIdentity(s);
  auto q = Quarantine();
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].raw.size(), size_t{1} << 20);  // the kept prefix
  EXPECT_NE(q[0].detail.find("longer than import.max_record_bytes"), std::string::npos);
}

TEST_F(ImportTest, FileEndingMidRecord) {
  ImportSummary s;
  ASSERT_TRUE(
      Import("events", "ev.csv", "user_id,item_id,event_type,timestamp\nu1,I1,view,1700000000\nu1,I2,vi", &s).ok());
  EXPECT_EQ(s.accepted, 1u);
  EXPECT_EQ(s.rejected, 1u);
  ExpectIdentity(s);
  auto q = Quarantine();
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].line, 3);
  EXPECT_NE(q[0].detail.find("the file may end mid-record"), std::string::npos) << q[0].detail;
  // Cut inside a quoted field.
  ImportSummary s2;
  ASSERT_TRUE(Import("items", "items.csv", "item_id,title\nI1,ok\nI2,\"cut off in the mid", &s2).ok());
  EXPECT_EQ(s2.rejected, 1u);
  EXPECT_EQ(s2.reasons["malformed CSV"], 1u);
  ExpectIdentity(s2);
}

TEST_F(ImportTest, FailingBatchRollsBackWholeAndReimportIsSafe) {
  StoreOptions o;
  o.fail_at_row = 7;  // the 8th row written
  OpenStore(o);
  std::string csv = "user_id,item_id,event_type,timestamp\n";
  for (int i = 0; i < 10; ++i) csv += "u1,I1,view," + std::to_string(1700000000 + i) + "\n";
  ImportSummary s;
  // Batches of 3 lines: batch 1 writes placeholders u1, I1 + 3 events (rows 0-4);
  // batch 2 writes rows 5-7 and fails on its third event.
  Status st = Import("events", "ev.csv", csv, &s, /*batch_rows=*/3);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("batch of lines 5-7 rolled back"), std::string::npos) << st.message();
  EXPECT_EQ(s.read, 3u);
  EXPECT_EQ(s.accepted, 3u);
  ExpectIdentity(s);
  EXPECT_EQ(store_->Counts()->events, 3u);  // batch 1 only
  OpenStore({});
  ImportSummary again;
  ASSERT_TRUE(Import("events", "ev.csv", csv, &again, 3).ok());
  EXPECT_EQ(again.accepted, 7u);
  EXPECT_EQ(again.duplicates, 3u);
  ExpectIdentity(again);
  EXPECT_EQ(store_->Counts()->events, 10u);
}

TEST_F(ImportTest, SummaryJsonHasTheContractFields) {
  ImportSummary s;
  ASSERT_TRUE(Import("events", "ev.csv", "user_id,item_id,event_type,timestamp\nu1,I1,view,1\nu1,I1,bad,1\n", &s).ok());
  auto j = nlohmann::json::parse(SummaryJson(s));
  for (const char* k : {"read", "accepted", "updated", "duplicates", "rejected", "reasons"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["read"], 2);
  EXPECT_EQ(j["reasons"]["unknown event_type"], 1);
}

}  // namespace
}  // namespace souk::ingest

namespace souk::ingest {
namespace {

TEST_F(ImportTest, JsonlSearchEventsNeedNoItemKey) {
  ImportSummary s;
  ASSERT_TRUE(Import("events", "s.jsonl",
                     "{\"user_id\":\"u1\",\"event_type\":\"search\",\"timestamp\":1700000000,\"query\":\"red shoes\"}\n"
                     "{\"user_id\":\"u1\",\"event_type\":\"click\",\"timestamp\":1700000001}\n",
                     &s)
                  .ok());
  EXPECT_EQ(s.accepted, 1u);
  EXPECT_EQ(s.rejected, 1u);
  EXPECT_EQ(s.reasons["missing item_id"], 1u);
  ExpectIdentity(s);
}

}  // namespace
}  // namespace souk::ingest
