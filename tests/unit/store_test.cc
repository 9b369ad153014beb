#include "store/store.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "test_util.h"

namespace souk {
namespace {

using souk::testing::TempDir;

Item MakeItem(const std::string& id, const std::string& title, double price) {
  Item it;
  it.id = id;
  it.title = title;
  it.category = "Shoes > Running";
  it.price = price;
  return it;
}

Event MakeEvent(const std::string& user, const std::string& item, EventType type, int64_t ts,
                std::string session = "s1") {
  Event e;
  e.user = user;
  e.item = item;
  e.type = static_cast<int>(type);
  e.ts_ms = ts;
  e.session = std::move(session);
  return e;
}

std::unique_ptr<Store> Open(const TempDir& dir, StoreOptions o = {}) {
  auto s = Store::OpenSqlite(dir / "souk.db", o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return std::move(s).value();
}

TEST(Store, UpsertsItemsAndCountsUpdates) {
  TempDir dir;
  auto store = Open(dir);
  WriteBatch b;
  b.items = {MakeItem("A", "Runner", 50), MakeItem("B", "Trail", 70)};
  auto r = store->Write(b);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->items_inserted, 2u);
  EXPECT_EQ(r->items_updated, 0u);
  b.items = {MakeItem("A", "Runner v2", 55), MakeItem("C", "Road", 60)};
  r = store->Write(b);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->items_inserted, 1u);
  EXPECT_EQ(r->items_updated, 1u);
  auto items = store->LoadItems();
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), 3u);
  // Dense ids in first-seen order.
  EXPECT_EQ((*items)[0].ext_id, "A");
  EXPECT_EQ((*items)[0].id, 0u);
  EXPECT_EQ((*items)[0].title, "Runner v2");
  EXPECT_DOUBLE_EQ((*items)[0].price, 55);
  EXPECT_EQ((*items)[2].ext_id, "C");
  EXPECT_EQ((*items)[2].id, 2u);
}

TEST(Store, EventsCreatePlaceholdersAndDeduplicate) {
  TempDir dir;
  auto store = Open(dir);
  WriteBatch b;
  b.items = {MakeItem("A", "Runner", 50)};
  b.events = {MakeEvent("u1", "A", EventType::kView, 1000), MakeEvent("u1", "Z", EventType::kClick, 2000),
              MakeEvent("u1", "A", EventType::kView, 1000),        // exact duplicate
              MakeEvent("u1", "A", EventType::kView, 1000, "s2"),  // other session: not a duplicate
              MakeEvent("u2", "", EventType::kSearch, 3000)};      // search without item
  b.events[4].query = "running shoes";
  auto r = store->Write(b);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->events_stored, 4u);
  EXPECT_EQ(r->events_duplicate, 1u);
  EXPECT_EQ(r->placeholder_items, 1u);  // Z
  EXPECT_EQ(r->placeholder_users, 2u);  // u1, u2 (no users imported)
  // The same search again is a duplicate too (NULL item still dedups).
  WriteBatch again;
  again.events = {MakeEvent("u2", "", EventType::kSearch, 3000)};
  r = store->Write(again);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->events_duplicate, 1u);
  auto q = store->LoadQuarantine();
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->size(), 2u);
  EXPECT_EQ((*q)[0].reason, "duplicate event");
  // Filling a placeholder counts as a new catalog item, not an update.
  WriteBatch fill;
  fill.items = {MakeItem("Z", "Zoom", 90)};
  r = store->Write(fill);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->items_inserted, 1u);
  EXPECT_EQ(r->items_updated, 0u);
  auto counts = store->Counts();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->items, 2u);
  EXPECT_EQ(counts->placeholder_items, 0u);
  EXPECT_EQ(counts->events, 4u);
  auto ev = store->LoadEvents();
  ASSERT_TRUE(ev.ok());
  ASSERT_EQ(ev->size(), 4u);
  EXPECT_EQ(ev->item[3], kNoId);
  EXPECT_EQ(ev->sessions[ev->session[0]], "s1");
  EXPECT_EQ(ev->sessions[ev->session[2]], "s2");
}

TEST(Store, FailedWriteLeavesTheStoreAsItWas) {
  TempDir dir;
  StoreOptions o;
  o.fail_at_row = 5;  // the 6th row written fails mid-transaction
  auto store = Open(dir, o);
  WriteBatch first;
  first.items = {MakeItem("A", "Runner", 50), MakeItem("B", "Trail", 70)};
  ASSERT_TRUE(store->Write(first).ok());  // rows 0-1
  WriteBatch b;
  b.items = {MakeItem("C", "Road", 60)};                      // row 2
  b.events = {MakeEvent("u1", "A", EventType::kView, 1000),   // placeholder u1 = row 3, event row 4
              MakeEvent("u2", "Q", EventType::kView, 1000)};  // placeholder u2 = row 5: fails
  auto r = store->Write(b);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
  EXPECT_NE(r.status().message().find("rolled back"), std::string::npos);
  auto c = store->Counts();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->items, 2u);
  EXPECT_EQ(c->placeholder_users, 0u);
  EXPECT_EQ(c->events, 0u);
  // The in-memory id maps were rolled back too: new ids stay dense.
  WriteBatch next;
  next.items = {MakeItem("D", "Hike", 80)};
  ASSERT_TRUE(store->Write(next).ok());
  auto items = store->LoadItems();
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), 3u);
  EXPECT_EQ((*items)[2].ext_id, "D");
  EXPECT_EQ((*items)[2].id, 2u);
}

TEST(Store, PersistsAcrossReopen) {
  TempDir dir;
  {
    auto store = Open(dir);
    WriteBatch b;
    b.items = {MakeItem("A", "Runner", 50)};
    b.events = {MakeEvent("u1", "A", EventType::kPurchase, 5000)};
    ASSERT_TRUE(store->Write(b).ok());
  }
  auto store = Open(dir);
  WriteBatch b;
  b.events = {MakeEvent("u1", "A", EventType::kPurchase, 5000), MakeEvent("u9", "A", EventType::kView, 6000)};
  auto r = store->Write(b);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->events_duplicate, 1u);
  EXPECT_EQ(r->placeholder_users, 1u);
  auto users = store->LoadUsers();
  ASSERT_TRUE(users.ok());
  ASSERT_EQ(users->size(), 2u);
  EXPECT_EQ((*users)[1].ext_id, "u9");
  EXPECT_EQ((*users)[1].id, 1u);
}

TEST(Store, MissingStoreWithoutCreateIsNotFound) {
  TempDir dir;
  StoreOptions o;
  o.create_if_missing = false;
  auto s = Store::OpenSqlite(dir / "none.db", o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kNotFound);
}

TEST(Store, FlagsAndTrainingView) {
  TempDir dir;
  auto store = Open(dir);
  WriteBatch b;
  for (int i = 0; i < 5; ++i) b.events.push_back(MakeEvent("u1", "A", EventType::kView, 1000 * i));
  ASSERT_TRUE(store->Write(b).ok());
  auto ev = store->LoadEvents();
  ASSERT_TRUE(ev.ok());
  ASSERT_TRUE(store->SetEventFlags({{ev->rowid[1], kFlagBot}, {ev->rowid[3], kFlagOutOfOrder}}).ok());
  auto train = store->LoadEvents(/*training_only=*/true);
  ASSERT_TRUE(train.ok());
  EXPECT_EQ(train->size(), 3u);
  EXPECT_EQ(store->Counts()->flagged_events, 2u);
  ASSERT_TRUE(store->SetEventFlags({}).ok());
  EXPECT_EQ(store->LoadEvents(true)->size(), 5u);
}

TEST(Store, ModelRegistryKeepsOneActivePerName) {
  TempDir dir;
  auto store = Open(dir);
  ModelRecord m;
  m.name = "ials";
  m.spec = "ials:f=64,reg=0.01";
  m.path = "models/ials-1.bin";
  m.active = true;
  ASSERT_TRUE(store->RegisterModel(m).ok());
  m.spec = "ials:f=128,reg=0.01";
  m.path = "models/ials-2.bin";
  ASSERT_TRUE(store->RegisterModel(m).ok());
  ModelRecord bad;
  EXPECT_FALSE(store->RegisterModel(bad).ok());
  auto models = store->Models();
  ASSERT_TRUE(models.ok());
  ASSERT_EQ(models->size(), 2u);
  EXPECT_FALSE((*models)[0].active);
  EXPECT_TRUE((*models)[1].active);
  EXPECT_EQ((*models)[1].spec, "ials:f=128,reg=0.01");
}

TEST(Store, DeleteItem) {
  TempDir dir;
  auto store = Open(dir);
  WriteBatch b;
  b.items = {MakeItem("A", "Runner", 50)};
  ASSERT_TRUE(store->Write(b).ok());
  ASSERT_TRUE(store->DeleteItem("A").ok());
  EXPECT_EQ(store->DeleteItem("nope").code(), StatusCode::kNotFound);
  EXPECT_EQ(store->Counts()->items, 0u);
  EXPECT_TRUE((*store->LoadItems())[0].deleted);
  ASSERT_TRUE(store->Write(b).ok());  // importing it again undeletes
  EXPECT_EQ(store->Counts()->items, 1u);
}

// Impressions: batches stored as segments (in their own file beside the
// store), every record found by its id, time ranges in id order, across
// overlapping batches and a reopen.
TEST(Store, ImpressionsRoundTripByIdAndTime) {
  TempDir dir;
  auto make = [](int64_t ms, int n, const std::string& surface) {
    ImpressionRecord r;
    r.request_id = fmt::format("r{:012x}{:08x}", static_cast<uint64_t>(ms), n);
    r.ts_ms = ms;
    r.surface = surface;
    r.user = n % 2 ? "U1" : "";
    r.query = "q\nwith\tcontrol " + std::to_string(n);
    r.model = "ials";
    for (int i = 0; i <= n % 4; ++i) r.items.push_back("I" + std::to_string(n * 10 + i));
    return r;
  };
  std::vector<ImpressionRecord> all;
  {
    auto store = Open(dir);
    ASSERT_TRUE(store->PrepareForServing().ok());
    std::vector<ImpressionRecord> a, b;
    for (int n = 0; n < 50; ++n) a.push_back(make(1000 + 2 * n, n, "search"));
    for (int n = 50; n < 90; ++n) b.push_back(make(1000 + 2 * (n - 45), n, "recommend"));  // overlaps a's range
    ASSERT_TRUE(store->LogImpressions(a).ok());
    ASSERT_TRUE(store->LogImpressions(b).ok());
    all = a;
    all.insert(all.end(), b.begin(), b.end());
  }
  auto store = Open(dir);
  ASSERT_TRUE(store->PrepareForServing().ok());
  for (const auto& want : all) {
    auto got = store->GetImpression(want.request_id);
    ASSERT_TRUE(got.ok()) << want.request_id << ": " << got.status().message();
    EXPECT_EQ(got->surface, want.surface);
    EXPECT_EQ(got->user, want.user);
    EXPECT_EQ(got->query, want.query);
    EXPECT_EQ(got->ts_ms, want.ts_ms);
    EXPECT_EQ(got->items, want.items);
  }
  EXPECT_EQ(store->GetImpression("r000000000000ffffffff").status().code(), StatusCode::kNotFound);
  auto since = store->Impressions(1050, 1000);
  ASSERT_TRUE(since.ok());
  size_t expected = 0;
  for (const auto& r : all) expected += r.ts_ms >= 1050;
  ASSERT_EQ(since->size(), expected);
  for (size_t i = 1; i < since->size(); ++i) EXPECT_LT((*since)[i - 1].request_id, (*since)[i].request_id);
  EXPECT_EQ(store->Impressions(0, 7)->size(), 7u);
  EXPECT_TRUE(std::filesystem::exists(dir / "souk-impressions.db"));
}

}  // namespace
}  // namespace souk
