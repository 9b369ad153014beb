// SQLite backend of Store. Schema and the reasons behind it:
// - items/users: INTEGER PRIMARY KEY is the dense id (assigned here, 0..n-1);
//   ext_id is UNIQUE. known = 0 marks a placeholder created by an event.
// - events: rowid table, append-only. The unique index events_dedup, led by
//   ts so that time-ordered logs insert near the end of the index, makes exact
//   duplicates (user, item, type, ts, session) a cheap INSERT OR IGNORE.
// - quarantine keeps every record that was not stored, with its raw text.
// WAL + synchronous=NORMAL: a crash can lose the last commits but never
// corrupts; each Write() is one transaction.
#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <unordered_map>

#include "store/store.h"

namespace souk {
namespace {

constexpr int kSchemaVersion = 1;

const char* kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources(
  id INTEGER PRIMARY KEY, path TEXT NOT NULL, tbl TEXT NOT NULL, status TEXT NOT NULL,
  started_ms INTEGER NOT NULL, finished_ms INTEGER,
  n_read INTEGER NOT NULL DEFAULT 0, n_accepted INTEGER NOT NULL DEFAULT 0,
  n_updated INTEGER NOT NULL DEFAULT 0, n_duplicates INTEGER NOT NULL DEFAULT 0,
  n_rejected INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS items(
  id INTEGER PRIMARY KEY, ext_id TEXT NOT NULL UNIQUE, known INTEGER NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0,
  title TEXT, description TEXT, brand TEXT, category TEXT, tags TEXT,
  price REAL, stock INTEGER, attrs TEXT,
  src INTEGER REFERENCES sources(id), line INTEGER, updated_ms INTEGER);
CREATE TABLE IF NOT EXISTS users(
  id INTEGER PRIMARY KEY, ext_id TEXT NOT NULL UNIQUE, known INTEGER NOT NULL,
  attrs TEXT, src INTEGER REFERENCES sources(id), line INTEGER, updated_ms INTEGER);
CREATE TABLE IF NOT EXISTS event_types(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS events(
  id INTEGER PRIMARY KEY,
  user INTEGER NOT NULL REFERENCES users(id),
  item INTEGER REFERENCES items(id),
  type INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  value REAL, session TEXT NOT NULL DEFAULT '', query TEXT, position INTEGER,
  propensity REAL, campaign TEXT, request_id TEXT, attrs TEXT,
  src INTEGER REFERENCES sources(id), line INTEGER,
  flags INTEGER NOT NULL DEFAULT 0);
CREATE UNIQUE INDEX IF NOT EXISTS events_dedup ON events(ts, user, coalesce(item, -1), type, session);
CREATE VIEW IF NOT EXISTS training_events AS SELECT * FROM events WHERE flags = 0;
CREATE TABLE IF NOT EXISTS quarantine(
  id INTEGER PRIMARY KEY, src INTEGER REFERENCES sources(id), line INTEGER,
  tbl TEXT NOT NULL, reason TEXT NOT NULL, detail TEXT, col TEXT, raw BLOB,
  created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS models(
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, spec TEXT NOT NULL, path TEXT,
  metrics TEXT, created_ms INTEGER NOT NULL, active INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS rules(
  id INTEGER PRIMARY KEY, kind TEXT NOT NULL, surface TEXT NOT NULL DEFAULT '', query TEXT NOT NULL DEFAULT '',
  item TEXT NOT NULL DEFAULT '', position INTEGER NOT NULL DEFAULT 0, filter TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS campaigns(
  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, policy TEXT NOT NULL,
  arms TEXT NOT NULL, features TEXT NOT NULL, slots INTEGER NOT NULL, seed INTEGER NOT NULL,
  created_ms INTEGER NOT NULL, state BLOB, state_seq INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS decisions(
  id TEXT PRIMARY KEY, campaign INTEGER NOT NULL REFERENCES campaigns(id), seq INTEGER NOT NULL,
  user TEXT, ts_ms INTEGER NOT NULL, arms BLOB NOT NULL, propensities BLOB NOT NULL, context BLOB,
  rewards BLOB, rewarded_ms INTEGER, reward_seq INTEGER);
CREATE UNIQUE INDEX IF NOT EXISTS decisions_seq ON decisions(campaign, seq);
CREATE UNIQUE INDEX IF NOT EXISTS decisions_reward_seq ON decisions(campaign, reward_seq);
)SQL";

// A prepared statement, finalized on destruction.
class Stmt {
 public:
  Stmt() = default;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() { sqlite3_finalize(stmt_); }
  Status Prepare(sqlite3* db, const char* sql) {
    sqlite3_finalize(stmt_);
    stmt_ = nullptr;
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) != SQLITE_OK)
      return Status::Internal(fmt::format("SQLite prepare failed: {} in: {}", sqlite3_errmsg(db), sql));
    return Status::Ok();
  }
  sqlite3_stmt* get() { return stmt_; }
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  void Text(int i, std::string_view s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
  }
  void TextOrNull(int i, std::string_view s) {
    if (s.empty())
      sqlite3_bind_null(stmt_, i);
    else
      Text(i, s);
  }
  void Blob(int i, std::string_view s) {
    sqlite3_bind_blob(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
  }
  void Int(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void Double(int i, double v) { sqlite3_bind_double(stmt_, i, v); }
  void DoubleOrNull(int i, double v) {
    if (std::isnan(v))
      sqlite3_bind_null(stmt_, i);
    else
      Double(i, v);
  }
  void Null(int i) { sqlite3_bind_null(stmt_, i); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

std::string ColText(sqlite3_stmt* s, int i) {
  const unsigned char* t = sqlite3_column_text(s, i);
  return t ? std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(s, i)) : std::string();
}

double ColDoubleOrNaN(sqlite3_stmt* s, int i) {
  return sqlite3_column_type(s, i) == SQLITE_NULL ? NaN() : sqlite3_column_double(s, i);
}

// The columns every item query selects, in this order.
#define SOUK_ITEM_COLUMNS "id,ext_id,known,deleted,title,description,brand,category,tags,price,stock,attrs"

ItemRow ReadItemRow(sqlite3_stmt* q) {
  ItemRow r;
  r.id = static_cast<ItemId>(sqlite3_column_int64(q, 0));
  r.ext_id = ColText(q, 1);
  r.known = sqlite3_column_int(q, 2) != 0;
  r.deleted = sqlite3_column_int(q, 3) != 0;
  r.title = ColText(q, 4);
  r.description = ColText(q, 5);
  r.brand = ColText(q, 6);
  r.category = ColText(q, 7);
  r.tags = ColText(q, 8);
  r.price = ColDoubleOrNaN(q, 9);
  r.stock = sqlite3_column_type(q, 10) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, 10);
  r.attrs_json = ColText(q, 11);
  return r;
}

// An open-addressing hash index from external id strings to dense ids
// 0..n-1. Keys live in one arena; slots hold id + 1 (0 = empty). Ids are only
// appended, and Truncate drops the newest ones (for rollbacks).
class FlatIds {
 public:
  size_t size() const { return starts_.size(); }

  uint32_t Find(std::string_view key) const {
    if (slots_.empty()) return kNoId;
    uint64_t h = Hash(key);
    auto tag = static_cast<uint32_t>(h >> 32);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      uint32_t s = slots_[i];
      if (s == 0) return kNoId;
      if (tags_[s - 1] == tag && Key(s - 1) == key) return s - 1;
    }
  }

  uint32_t Add(std::string_view key) {
    auto id = static_cast<uint32_t>(starts_.size());
    starts_.push_back(arena_.size());
    arena_.append(key);
    uint64_t h = Hash(key);
    tags_.push_back(static_cast<uint32_t>(h >> 32));
    if ((starts_.size() + 1) * 2 > slots_.size())
      Rehash(std::max<size_t>(64, slots_.size() * 2));
    else
      Place(id, h);
    return id;
  }

  void Truncate(size_t n) {
    if (n >= starts_.size()) return;
    arena_.resize(starts_[n]);
    starts_.resize(n);
    tags_.resize(n);
    Rehash(slots_.size());
  }

 private:
  static uint64_t Hash(std::string_view key) {
    uint64_t h = std::hash<std::string_view>()(key);
    return h ^ (h >> 29) * 0xbf58476d1ce4e5b9ULL;
  }
  std::string_view Key(uint32_t id) const {
    size_t b = starts_[id];
    size_t e = id + 1 < starts_.size() ? starts_[id + 1] : arena_.size();
    return std::string_view(arena_.data() + b, e - b);
  }
  void Place(uint32_t id, uint64_t h) {
    size_t i = h & mask_;
    while (slots_[i]) i = (i + 1) & mask_;
    slots_[i] = id + 1;
  }
  void Rehash(size_t capacity) {
    slots_.assign(capacity, 0);
    mask_ = capacity - 1;
    for (uint32_t id = 0; id < starts_.size(); ++id) Place(id, Hash(Key(id)));
  }

  std::vector<uint32_t> slots_;
  size_t mask_ = 0;
  std::vector<uint32_t> tags_;  // per id: high hash bits, a cheap first compare
  std::vector<size_t> starts_;  // per id: offset of its key in arena_
  std::string arena_;
};

class SqliteStore final : public Store {
 public:
  SqliteStore(sqlite3* db, const StoreOptions& options) : db_(db), options_(options) {}
  // sqlite3_close_v2 defers the close until the member statements are
  // finalized by their destructors, which run after this body.
  ~SqliteStore() override { sqlite3_close_v2(db_); }

  Status Init();

  Result<int64_t> BeginSource(const std::string& path, const std::string& table) override;
  Status FinishSource(const SourceInfo& info) override;
  Result<std::vector<SourceInfo>> Sources() override;
  Result<WriteResult> Write(const WriteBatch& batch, const SourceInfo* counts_for) override;
  Status DeleteItem(const std::string& ext_id) override;
  Result<StoreCounts> Counts() override;
  Result<std::vector<ItemRow>> LoadItems() override;
  Result<std::vector<UserRow>> LoadUsers() override;
  Result<std::vector<ItemRow>> GetItems(const std::vector<ItemId>& ids) override;
  Result<std::vector<ItemRow>> ItemsChangedSince(int64_t since_ms) override;
  Result<int64_t> LatestItemChange() override;
  Result<EventColumns> LoadEvents(bool training_only) override;
  Result<EventColumns> LoadUserEvents(UserId user) override;
  Result<EventColumns> LoadEventsAfter(int64_t after) override;
  Result<UserId> FindUser(std::string_view ext_id) override { return FindId("users", ext_id); }
  Result<ItemId> FindItem(std::string_view ext_id) override { return FindId("items", ext_id); }
  Result<std::vector<QuarantineRow>> LoadQuarantine() override;
  Result<std::vector<std::pair<std::string, int>>> EventTypes() override;
  Result<std::vector<std::pair<std::string, uint64_t>>> SearchQueryCounts() override;
  Result<std::vector<SearchPick>> SearchPicks() override;
  Result<std::vector<SearchSession>> SearchSessions() override;
  Result<std::vector<SearchAction>> RequestActions() override;
  Result<int64_t> AddRule(const RuleRecord& rule) override;
  Status DeleteRule(int64_t id) override;
  Result<std::vector<RuleRecord>> Rules() override;
  Status SetEventFlags(const std::vector<std::pair<int64_t, uint32_t>>& rowid_flags) override;
  Result<int64_t> RegisterModel(const ModelRecord& record) override;
  Result<std::vector<ModelRecord>> Models() override;
  Status SaveEventTypes(const EventTypeRegistry& registry) override;
  Status PrepareForServing() override {
    SOUK_RETURN_IF_ERROR(AttachImpressions());
    return Exec("CREATE INDEX IF NOT EXISTS events_user ON events(user, id)");
  }
  Result<int64_t> DataVersion() override;
  Result<int64_t> CatalogVersion() override;
  Status BumpCatalogVersion();
  Result<bool> HasCatalog() override {
    Stmt st;
    SOUK_RETURN_IF_ERROR(st.Prepare(db_, "SELECT EXISTS(SELECT 1 FROM items WHERE known=1)"));
    if (sqlite3_step(st.get()) != SQLITE_ROW) return Error("has catalog");
    return sqlite3_column_int(st.get(), 0) != 0;
  }
  Result<std::vector<std::string>> EventUsersSince(int64_t after, int64_t* max_id) override;
  Status LogImpressions(const std::vector<ImpressionRecord>& impressions) override;
  // Impressions live in their own file beside the store (NAME-impressions.db,
  // attached as `imp`): a high-volume log whose writes and checkpoints must
  // not slow the store's readers or grow its file.
  Status AttachImpressions();
  bool impressions_attached_ = false;
  Result<ImpressionRecord> GetImpression(std::string_view request_id) override;
  Result<std::vector<ImpressionRecord>> Impressions(int64_t since_ms, size_t limit) override;
  Status ReadSnapshot(const std::function<Status()>& reads) override {
    if (!sqlite3_get_autocommit(db_)) return reads();
    SOUK_RETURN_IF_ERROR(Exec("BEGIN"));
    Status st;
    try {
      st = reads();
    } catch (...) {
      (void)Exec("ROLLBACK");  // no connection is left inside a stale snapshot
      throw;
    }
    Status end = Exec(st.ok() ? "COMMIT" : "ROLLBACK");
    return st.ok() ? end : st;
  }
  Result<int64_t> CreateCampaign(const CampaignRecord& record) override;
  Result<std::vector<CampaignRecord>> Campaigns() override;
  Result<CampaignRecord> GetCampaign(std::string_view name) override;
  Status LogDecision(const DecisionRecord& decision) override;
  Result<DecisionRecord> GetDecision(std::string_view id) override;
  Status RecordReward(std::string_view decision_id, const std::vector<double>& rewards, int64_t ts_ms,
                      uint64_t reward_seq, const std::string& state) override;
  Status SaveCampaignState(int64_t campaign, const std::string& state, uint64_t state_seq) override;
  Result<std::vector<DecisionRecord>> RewardsAfter(int64_t campaign, uint64_t after) override;
  Result<std::vector<DecisionRecord>> Decisions(int64_t campaign, uint64_t after_seq) override;

 private:
  Result<std::vector<CampaignRecord>> ReadCampaigns(const char* where, std::string_view bind);
  // Id map of one entity kind with an undo log for rolled-back batches.
  // Ext id -> dense id for one entity kind, with the size at the last
  // commit so a rolled-back batch can be undone.
  struct IdMap {
    FlatIds ids;
    std::vector<uint8_t> known;
    size_t committed = 0;
    std::vector<std::pair<uint32_t, uint8_t>> known_changes;
    uint32_t Add(std::string_view key, uint8_t is_known) {
      known.push_back(is_known);
      return ids.Add(key);
    }
    void Commit() {
      committed = ids.size();
      known_changes.clear();
    }
    void Rollback() {
      ids.Truncate(committed);
      known.resize(committed);
      for (auto it = known_changes.rbegin(); it != known_changes.rend(); ++it) known[it->first] = it->second;
      known_changes.clear();
    }
  };

  Status Exec(const char* sql);
  Result<uint32_t> FindId(const char* table, std::string_view ext_id);
  Result<EventColumns> ReadEvents(const char* sql, int64_t bind);
  Status Error(const char* what) const {
    return Status::IoError(fmt::format("SQLite {}: {}", what, sqlite3_errmsg(db_)));
  }
  Status Step(Stmt& st, const char* what);
  Status CheckFault();
  Status LoadIdMaps();
  Status WriteRows(const WriteBatch& batch, const SourceInfo* counts_for, WriteResult* r);
  Result<uint32_t> ResolveUser(std::string_view ext, WriteResult* r);
  Result<uint32_t> ResolveItem(std::string_view ext, WriteResult* r);
  Status InsertQuarantine(const QuarantineRecord& q);
  struct ResolvedEvent {
    const Event* e;
    uint32_t user, item;
  };
  static constexpr size_t kEventChunk = 32;
  Status InsertEventChunk(const std::vector<ResolvedEvent>& chunk, WriteResult* r);
  Stmt& EventInsert(size_t rows);

  sqlite3* db_;
  StoreOptions options_;
  int64_t rows_written_ = 0;
  bool maps_loaded_ = false;
  IdMap items_, users_;
  Stmt insert_item_, update_item_, placeholder_item_;
  Stmt insert_user_, update_user_, placeholder_user_;
  Stmt insert_quarantine_, update_source_, find_event_;
  std::vector<std::unique_ptr<Stmt>> insert_events_;  // by rows per statement
  int64_t max_event_rowid_ = -1;                      // -1: not loaded
};

Status SqliteStore::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    return Status::IoError(fmt::format("SQLite: {} (in: {:.60})", msg, sql));
  }
  return Status::Ok();
}

Status SqliteStore::Step(Stmt& st, const char* what) {
  int rc = sqlite3_step(st.get());
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
    Status s = Error(what);
    st.Reset();
    return s;
  }
  return Status::Ok();
}

Status SqliteStore::CheckFault() {
  // The injected failure fires once, like a transient disk error.
  if (options_.fail_at_row >= 0 && rows_written_++ == options_.fail_at_row)
    return Status::IoError(fmt::format("injected write failure at row {}", options_.fail_at_row));
  return Status::Ok();
}

Status SqliteStore::Init() {
  sqlite3_busy_timeout(db_, 5000);
  // Large pages: the store is append-heavy (events, bulk imports) and is read
  // mostly by full scans that load models, so fewer, bigger pages win (32 KiB
  // imports ~20% faster than 4 KiB). Only takes effect on a new database.
  SOUK_RETURN_IF_ERROR(Exec("PRAGMA page_size=32768"));
  SOUK_RETURN_IF_ERROR(Exec("PRAGMA journal_mode=WAL"));
  SOUK_RETURN_IF_ERROR(Exec("PRAGMA synchronous=NORMAL"));
  SOUK_RETURN_IF_ERROR(Exec("PRAGMA foreign_keys=ON"));
  SOUK_RETURN_IF_ERROR(Exec("PRAGMA temp_store=MEMORY"));
  SOUK_RETURN_IF_ERROR(Exec(fmt::format("PRAGMA cache_size=-{}", options_.cache_mb * 1024).c_str()));
  SOUK_RETURN_IF_ERROR(Exec(kSchema));
  // Schema version: written once, checked on every open.
  {
    Stmt st;
    SOUK_RETURN_IF_ERROR(st.Prepare(db_, "SELECT value FROM meta WHERE key='schema_version'"));
    if (sqlite3_step(st.get()) == SQLITE_ROW) {
      int v = std::atoi(ColText(st.get(), 0).c_str());
      if (v != kSchemaVersion)
        return Status::FailedPrecondition(
            fmt::format("store schema version {} is not the supported version {}", v, kSchemaVersion));
    } else {
      SOUK_RETURN_IF_ERROR(Exec(fmt::format("INSERT INTO meta VALUES('schema_version','{}')", kSchemaVersion).c_str()));
    }
  }
  SOUK_RETURN_IF_ERROR(insert_item_.Prepare(
      db_,
      "INSERT INTO items(id,ext_id,known,title,description,brand,category,tags,price,stock,attrs,src,line,updated_ms)"
      " VALUES(?1,?2,1,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)"));
  SOUK_RETURN_IF_ERROR(update_item_.Prepare(
      db_,
      "UPDATE items SET known=1,deleted=0,title=?3,description=?4,brand=?5,category=?6,tags=?7,price=?8,"
      "stock=?9,attrs=?10,src=?11,line=?12,updated_ms=?13 WHERE id=?1"));
  SOUK_RETURN_IF_ERROR(placeholder_item_.Prepare(db_, "INSERT INTO items(id,ext_id,known) VALUES(?1,?2,0)"));
  SOUK_RETURN_IF_ERROR(insert_user_.Prepare(
      db_, "INSERT INTO users(id,ext_id,known,attrs,src,line,updated_ms) VALUES(?1,?2,1,?3,?4,?5,?6)"));
  SOUK_RETURN_IF_ERROR(
      update_user_.Prepare(db_, "UPDATE users SET known=1,attrs=?3,src=?4,line=?5,updated_ms=?6 WHERE id=?1"));
  SOUK_RETURN_IF_ERROR(placeholder_user_.Prepare(db_, "INSERT INTO users(id,ext_id,known) VALUES(?1,?2,0)"));
  SOUK_RETURN_IF_ERROR(find_event_.Prepare(
      db_, "SELECT id FROM events WHERE ts=?1 AND user=?2 AND coalesce(item,-1)=?3 AND type=?4 AND session=?5"));
  SOUK_RETURN_IF_ERROR(insert_quarantine_.Prepare(
      db_, "INSERT INTO quarantine(src,line,tbl,reason,detail,col,raw,created_ms) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)"));
  SOUK_RETURN_IF_ERROR(
      update_source_.Prepare(db_,
                             "UPDATE sources SET n_read=n_read+?2,n_accepted=n_accepted+?3,n_updated=n_updated+?4,"
                             "n_duplicates=n_duplicates+?5,n_rejected=n_rejected+?6 WHERE id=?1"));
  return Status::Ok();
}

Status SqliteStore::LoadIdMaps() {
  if (maps_loaded_) return Status::Ok();
  for (auto [map, sql] : {std::pair{&items_, "SELECT id,ext_id,known FROM items ORDER BY id"},
                          std::pair{&users_, "SELECT id,ext_id,known FROM users ORDER BY id"}}) {
    Stmt st;
    SOUK_RETURN_IF_ERROR(st.Prepare(db_, sql));
    int rc;
    while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
      auto id = static_cast<uint32_t>(sqlite3_column_int64(st.get(), 0));
      if (id != map->known.size()) return Status::Corruption(fmt::format("dense ids are not contiguous at id {}", id));
      map->Add(ColText(st.get(), 1), static_cast<uint8_t>(sqlite3_column_int(st.get(), 2)));
    }
    if (rc != SQLITE_DONE) return Error("load ids");
    map->Commit();
  }
  maps_loaded_ = true;
  return Status::Ok();
}

Result<int64_t> SqliteStore::BeginSource(const std::string& path, const std::string& table) {
  Stmt st;
  SOUK_RETURN_IF_ERROR(st.Prepare(db_, "INSERT INTO sources(path,tbl,status,started_ms) VALUES(?1,?2,'running',?3)"));
  st.Text(1, path);
  st.Text(2, table);
  st.Int(3, NowMs());
  SOUK_RETURN_IF_ERROR(Step(st, "register source"));
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db_));
}

Status SqliteStore::FinishSource(const SourceInfo& info) {
  Stmt st;
  SOUK_RETURN_IF_ERROR(st.Prepare(db_, "UPDATE sources SET status=?2, finished_ms=?3 WHERE id=?1"));
  st.Int(1, info.id);
  st.Text(2, info.status);
  st.Int(3, NowMs());
  return Step(st, "finish source");
}

Result<std::vector<SourceInfo>> SqliteStore::Sources() {
  Stmt st;
  SOUK_RETURN_IF_ERROR(
      st.Prepare(db_,
                 "SELECT id,path,tbl,status,started_ms,n_read,n_accepted,n_updated,n_duplicates,n_rejected "
                 "FROM sources ORDER BY id"));
  std::vector<SourceInfo> out;
  while (sqlite3_step(st.get()) == SQLITE_ROW) {
    SourceInfo s;
    auto* q = st.get();
    s.id = sqlite3_column_int64(q, 0);
    s.path = ColText(q, 1);
    s.table = ColText(q, 2);
    s.status = ColText(q, 3);
    s.started_ms = sqlite3_column_int64(q, 4);
    s.read = sqlite3_column_int64(q, 5);
    s.accepted = sqlite3_column_int64(q, 6);
    s.updated = sqlite3_column_int64(q, 7);
    s.duplicates = sqlite3_column_int64(q, 8);
    s.rejected = sqlite3_column_int64(q, 9);
    out.push_back(std::move(s));
  }
  return out;
}

Result<uint32_t> SqliteStore::ResolveUser(std::string_view ext, WriteResult* r) {
  if (uint32_t id = users_.ids.Find(ext); id != kNoId) return id;
  SOUK_RETURN_IF_ERROR(CheckFault());
  auto id = static_cast<uint32_t>(users_.known.size());
  placeholder_user_.Reset();
  placeholder_user_.Int(1, id);
  placeholder_user_.Text(2, ext);
  SOUK_RETURN_IF_ERROR(Step(placeholder_user_, "insert user placeholder"));
  users_.Add(ext, 0);
  ++r->placeholder_users;
  return id;
}

Result<uint32_t> SqliteStore::ResolveItem(std::string_view ext, WriteResult* r) {
  if (uint32_t id = items_.ids.Find(ext); id != kNoId) return id;
  SOUK_RETURN_IF_ERROR(CheckFault());
  auto id = static_cast<uint32_t>(items_.known.size());
  placeholder_item_.Reset();
  placeholder_item_.Int(1, id);
  placeholder_item_.Text(2, ext);
  SOUK_RETURN_IF_ERROR(Step(placeholder_item_, "insert item placeholder"));
  items_.Add(ext, 0);
  ++r->placeholder_items;
  return id;
}

Status SqliteStore::InsertQuarantine(const QuarantineRecord& q) {
  SOUK_RETURN_IF_ERROR(CheckFault());
  Stmt& st = insert_quarantine_;
  st.Reset();
  if (q.src.source_id)
    st.Int(1, q.src.source_id);
  else
    st.Null(1);
  st.Int(2, q.src.line);
  st.Text(3, q.table);
  st.Text(4, q.reason);
  st.TextOrNull(5, q.detail);
  st.TextOrNull(6, q.column);
  st.Blob(7, q.src.raw);
  st.Int(8, NowMs());
  return Step(st, "insert quarantine");
}

Status SqliteStore::WriteRows(const WriteBatch& batch, const SourceInfo* counts_for, WriteResult* r) {
  const int64_t now = NowMs();
  for (const Item& it : batch.items) {
    SOUK_RETURN_IF_ERROR(CheckFault());
    uint32_t found = items_.ids.Find(it.id);
    bool exists = found != kNoId;
    Stmt& st = exists ? update_item_ : insert_item_;
    st.Reset();
    uint32_t id = exists ? found : static_cast<uint32_t>(items_.known.size());
    st.Int(1, id);
    if (!exists) st.Text(2, it.id);
    st.Text(3, it.title);
    st.TextOrNull(4, it.description);
    st.TextOrNull(5, it.brand);
    st.TextOrNull(6, it.category);
    st.TextOrNull(7, it.tags);
    st.DoubleOrNull(8, it.price);
    if (it.stock >= 0) st.Int(9, it.stock);
    st.TextOrNull(10, it.attrs_json);
    if (it.src.source_id) st.Int(11, it.src.source_id);
    st.Int(12, it.src.line);
    st.Int(13, now);
    SOUK_RETURN_IF_ERROR(Step(st, exists ? "update item" : "insert item"));
    if (!exists) {
      items_.Add(it.id, 1);
      ++r->items_inserted;
    } else if (items_.known[id]) {
      ++r->items_updated;
    } else {  // a placeholder filled in: new to the catalog
      items_.known_changes.emplace_back(id, 0);
      items_.known[id] = 1;
      ++r->items_inserted;
    }
  }
  for (const User& u : batch.users) {
    SOUK_RETURN_IF_ERROR(CheckFault());
    uint32_t found = users_.ids.Find(u.id);
    bool exists = found != kNoId;
    Stmt& st = exists ? update_user_ : insert_user_;
    st.Reset();
    uint32_t id = exists ? found : static_cast<uint32_t>(users_.known.size());
    st.Int(1, id);
    if (!exists) st.Text(2, u.id);
    st.TextOrNull(3, u.attrs_json);
    if (u.src.source_id) st.Int(4, u.src.source_id);
    st.Int(5, u.src.line);
    st.Int(6, now);
    SOUK_RETURN_IF_ERROR(Step(st, exists ? "update user" : "insert user"));
    if (!exists) {
      users_.Add(u.id, 1);
      ++r->users_inserted;
    } else if (users_.known[id]) {
      ++r->users_updated;
    } else {
      users_.known_changes.emplace_back(id, 0);
      users_.known[id] = 1;
      ++r->users_inserted;
    }
  }
  // Events go in chunks of kEventChunk rows per INSERT: one statement
  // execution per chunk keeps SQLite's cursors open across rows, which
  // roughly halves the cost per row. Duplicates are ignored by the unique
  // index; when a chunk stores fewer rows than it holds, FindDuplicates says
  // which ones were not stored.
  std::vector<ResolvedEvent> chunk;
  chunk.reserve(kEventChunk);
  for (size_t i = 0; i < batch.events.size(); ++i) {
    const Event& e = batch.events[i];
    SOUK_ASSIGN_OR_RETURN(uint32_t user, ResolveUser(e.user, r));
    uint32_t item = kNoId;
    if (!e.item.empty()) {
      SOUK_ASSIGN_OR_RETURN(item, ResolveItem(e.item, r));
    }
    SOUK_RETURN_IF_ERROR(CheckFault());
    chunk.push_back(ResolvedEvent{&e, user, item});
    if (chunk.size() == kEventChunk || i + 1 == batch.events.size()) {
      SOUK_RETURN_IF_ERROR(InsertEventChunk(chunk, r));
      chunk.clear();
    }
  }
  for (const QuarantineRecord& q : batch.quarantine) {
    SOUK_RETURN_IF_ERROR(InsertQuarantine(q));
    ++r->quarantined;
  }
  if (counts_for) {
    Stmt& st = update_source_;
    st.Reset();
    st.Int(1, counts_for->id);
    st.Int(2, static_cast<int64_t>(counts_for->read));
    st.Int(3, static_cast<int64_t>(r->items_inserted + r->users_inserted + r->events_stored));
    st.Int(4, static_cast<int64_t>(r->items_updated + r->users_updated));
    st.Int(5, static_cast<int64_t>(r->events_duplicate));
    st.Int(6, static_cast<int64_t>(counts_for->rejected));
    SOUK_RETURN_IF_ERROR(Step(st, "update source counts"));
  }
  return Status::Ok();
}

Stmt& SqliteStore::EventInsert(size_t rows) {
  if (insert_events_.size() <= rows) insert_events_.resize(rows + 1);
  auto& st = insert_events_[rows];
  if (!st) {
    std::string sql =
        "INSERT OR IGNORE INTO events(user,item,type,ts,value,session,query,position,propensity,campaign,"
        "request_id,attrs,src,line) VALUES ";
    for (size_t k = 0; k < rows; ++k) sql += k ? ",(?,?,?,?,?,?,?,?,?,?,?,?,?,?)" : "(?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
    st = std::make_unique<Stmt>();
    Status s = st->Prepare(db_, sql.c_str());
    assert(s.ok() && "event insert must prepare");
    (void)s;
  }
  return *st;
}

Status SqliteStore::InsertEventChunk(const std::vector<ResolvedEvent>& chunk, WriteResult* r) {
  if (chunk.empty()) return Status::Ok();
  if (max_event_rowid_ < 0) {
    Stmt q;
    SOUK_RETURN_IF_ERROR(q.Prepare(db_, "SELECT coalesce(max(id),0) FROM events"));
    if (sqlite3_step(q.get()) != SQLITE_ROW) return Error("max event id");
    max_event_rowid_ = sqlite3_column_int64(q.get(), 0);
  }
  Stmt& st = EventInsert(chunk.size());
  sqlite3_reset(st.get());
  for (size_t k = 0; k < chunk.size(); ++k) {
    const Event& e = *chunk[k].e;
    int b = static_cast<int>(k) * 14;
    st.Int(b + 1, chunk[k].user);
    if (chunk[k].item != kNoId)
      st.Int(b + 2, chunk[k].item);
    else
      st.Null(b + 2);
    st.Int(b + 3, e.type);
    st.Int(b + 4, e.ts_ms);
    st.DoubleOrNull(b + 5, e.value);
    st.Text(b + 6, e.session);
    st.TextOrNull(b + 7, e.query);
    if (e.position >= 0)
      st.Int(b + 8, e.position);
    else
      st.Null(b + 8);
    st.DoubleOrNull(b + 9, e.propensity);
    st.TextOrNull(b + 10, e.campaign);
    st.TextOrNull(b + 11, e.request_id);
    st.TextOrNull(b + 12, e.attrs_json);
    if (e.src.source_id)
      st.Int(b + 13, e.src.source_id);
    else
      st.Null(b + 13);
    st.Int(b + 14, e.src.line);
  }
  SOUK_RETURN_IF_ERROR(Step(st, "insert events"));
  const int64_t before = max_event_rowid_;
  const auto stored = static_cast<size_t>(sqlite3_changes(db_));
  max_event_rowid_ += static_cast<int64_t>(stored);
  r->events_stored += stored;
  if (stored == chunk.size()) return Status::Ok();
  auto quarantine_duplicate = [&](const Event& e) -> Status {
    ++r->events_duplicate;
    QuarantineRecord q;
    q.table = "events";
    q.reason = "duplicate event";
    q.detail = "same user, item, type, timestamp and session as a stored event";
    q.src = e.src;
    ++r->quarantined;
    return InsertQuarantine(q);
  };
  // Some rows were duplicates. Cheap case first: rows equal to an earlier row
  // of the same chunk are never stored; if they account for every row not
  // stored, nothing older was duplicated and no lookup is needed.
  auto same_key = [](const ResolvedEvent& a, const ResolvedEvent& b) {
    return a.e->ts_ms == b.e->ts_ms && a.user == b.user && a.item == b.item && a.e->type == b.e->type &&
           a.e->session == b.e->session;
  };
  std::vector<uint8_t> in_chunk_dup(chunk.size(), 0);
  size_t n_in_chunk = 0;
  for (size_t k = 1; k < chunk.size(); ++k)
    for (size_t j = 0; j < k; ++j)
      if (same_key(chunk[j], chunk[k])) {
        in_chunk_dup[k] = 1;
        ++n_in_chunk;
        break;
      }
  if (stored + n_in_chunk == chunk.size()) {
    for (size_t k = 0; k < chunk.size(); ++k)
      if (in_chunk_dup[k]) SOUK_RETURN_IF_ERROR(quarantine_duplicate(*chunk[k].e));
    return Status::Ok();
  }
  // General case: rowids of this chunk's rows are (before, before + stored];
  // a row whose key resolves to such a rowid not claimed by an earlier row of
  // the chunk is the one that was stored.
  std::vector<int64_t> claimed;
  for (const auto& re : chunk) {
    const Event& e = *re.e;
    find_event_.Reset();
    find_event_.Int(1, e.ts_ms);
    find_event_.Int(2, re.user);
    find_event_.Int(3, re.item == kNoId ? -1 : static_cast<int64_t>(re.item));
    find_event_.Int(4, e.type);
    find_event_.Text(5, e.session);
    if (sqlite3_step(find_event_.get()) != SQLITE_ROW) return Error("find stored event");
    int64_t id = sqlite3_column_int64(find_event_.get(), 0);
    bool mine = id > before && std::find(claimed.begin(), claimed.end(), id) == claimed.end();
    if (mine) {
      claimed.push_back(id);
      continue;
    }
    SOUK_RETURN_IF_ERROR(quarantine_duplicate(e));
  }
  if (claimed.size() != stored) return Status::Internal("duplicate accounting does not add up");
  return Status::Ok();
}

Result<WriteResult> SqliteStore::Write(const WriteBatch& batch, const SourceInfo* counts_for) {
  SOUK_RETURN_IF_ERROR(LoadIdMaps());
  // Every id this path writes comes from the id maps, which mirror the
  // items/users tables (placeholders are inserted before the events naming
  // them), so SQLite's per-row foreign-key lookups would only repeat that
  // work; they stay on for every other statement. A debug build verifies
  // the keys after each batch instead.
  SOUK_RETURN_IF_ERROR(Exec("PRAGMA foreign_keys=OFF"));
  Status s = Exec("BEGIN IMMEDIATE");
  if (!s.ok()) {
    (void)Exec("PRAGMA foreign_keys=ON");
    return s;
  }
  WriteResult r;
  s = WriteRows(batch, counts_for, &r);
  // A counter, not a clock, says the catalog changed (readers that cache it
  // compare it; two writes in one millisecond must not look like one).
  if (s.ok() && (!batch.items.empty() || r.placeholder_items > 0)) s = BumpCatalogVersion();
#ifndef NDEBUG
  if (s.ok()) {
    Stmt fk;
    s = fk.Prepare(db_, "PRAGMA foreign_key_check");
    if (s.ok() && sqlite3_step(fk.get()) == SQLITE_ROW) s = Status::Internal("foreign key violated by a batch");
  }
#endif
  if (s.ok()) s = Exec("COMMIT");
  if (!s.ok()) {
    // ROLLBACK can itself fail only if the transaction is already gone.
    (void)Exec("ROLLBACK");
    (void)Exec("PRAGMA foreign_keys=ON");
    max_event_rowid_ = -1;  // reload after a rollback
    items_.Rollback();
    users_.Rollback();
    return s.WithContext("write rolled back");
  }
  SOUK_RETURN_IF_ERROR(Exec("PRAGMA foreign_keys=ON"));
  items_.Commit();
  users_.Commit();
  return r;
}

Status SqliteStore::DeleteItem(const std::string& ext_id) {
  Stmt st;
  SOUK_RETURN_IF_ERROR(st.Prepare(db_, "UPDATE items SET deleted=1, updated_ms=?2 WHERE ext_id=?1 AND known=1"));
  st.Text(1, ext_id);
  st.Int(2, NowMs());
  SOUK_RETURN_IF_ERROR(Step(st, "delete item"));
  if (sqlite3_changes(db_) == 0) return Status::NotFound(fmt::format("no item '{}' in the catalog", ext_id));
  return BumpCatalogVersion();
}

Status SqliteStore::BumpCatalogVersion() {
  return Exec(
      "INSERT INTO meta(key,value) VALUES('catalog_version','1') "
      "ON CONFLICT(key) DO UPDATE SET value=CAST(CAST(value AS INTEGER)+1 AS TEXT)");
}

Result<int64_t> SqliteStore::CatalogVersion() {
  Stmt st;
  SOUK_RETURN_IF_ERROR(st.Prepare(db_, "SELECT value FROM meta WHERE key='catalog_version'"));
  const int rc = sqlite3_step(st.get());
  if (rc == SQLITE_DONE) return int64_t{0};
  if (rc != SQLITE_ROW) return Error("catalog version");
  return static_cast<int64_t>(std::atoll(ColText(st.get(), 0).c_str()));
}

Result<StoreCounts> SqliteStore::Counts() {
  StoreCounts c;
  struct Q {
    const char* sql;
    uint64_t* out;
  } qs[] = {
      {"SELECT count(*) FROM items WHERE known=1 AND deleted=0", &c.items},
      {"SELECT count(*) FROM items WHERE known=0", &c.placeholder_items},
      {"SELECT count(*) FROM users WHERE known=1", &c.users},
      {"SELECT count(*) FROM users WHERE known=0", &c.placeholder_users},
      {"SELECT count(*) FROM events", &c.events},
      {"SELECT count(*) FROM events WHERE flags<>0", &c.flagged_events},
      {"SELECT count(*) FROM quarantine", &c.quarantine},
      {"SELECT count(*) FROM sources", &c.sources},
      {"SELECT count(*) FROM models", &c.models},
  };
  for (auto& q : qs) {
    Stmt st;
    SOUK_RETURN_IF_ERROR(st.Prepare(db_, q.sql));
    if (sqlite3_step(st.get()) != SQLITE_ROW) return Error("count");
    *q.out = sqlite3_column_int64(st.get(), 0);
  }
  return c;
}

Result<std::vector<ItemRow>> SqliteStore::ItemsChangedSince(int64_t since_ms) {
  Stmt st;
  SOUK_RETURN_IF_ERROR(st.Prepare(db_, "SELECT " SOUK_ITEM_COLUMNS " FROM items WHERE updated_ms > ?1 ORDER BY id"));
  st.Int(1, since_ms);
  std::vector<ItemRow> out;
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) out.push_back(ReadItemRow(st.get()));
  if (rc != SQLITE_DONE) return Error("items changed since");
  return out;
}

Result<int64_t> SqliteStore::LatestItemChange() {
  Stmt st;
  SOUK_RETURN_IF_ERROR(st.Prepare(db_, "SELECT coalesce(max(updated_ms), 0) FROM items"));
  if (sqlite3_step(st.get()) != SQLITE_ROW) return Error("latest item change");
  return static_cast<int64_t>(sqlite3_column_int64(st.get(), 0));
}

Result<std::vector<ItemRow>> SqliteStore::GetItems(const std::vector<ItemId>& ids) {
  Stmt st;
  SOUK_RETURN_IF_ERROR(st.Prepare(db_, "SELECT " SOUK_ITEM_COLUMNS " FROM items WHERE id=?1"));
  std::vector<ItemRow> out;
  // One read transaction for all the lookups (not one per statement).
  const bool own = ids.size() > 1 && sqlite3_get_autocommit(db_);
  if (own) SOUK_RETURN_IF_ERROR(Exec("BEGIN"));
  struct End {
    SqliteStore* s;
    bool own;
    ~End() {
      if (own) (void)s->Exec("COMMIT");
    }
  } end{this, own};
  for (ItemId id : ids) {
    st.Reset();
    st.Int(1, id);
    int rc = sqlite3_step(st.get());
    if (rc == SQLITE_DONE) continue;
    if (rc != SQLITE_ROW) return Error("get item");
    out.push_back(ReadItemRow(st.get()));
  }
  return out;
}

Result<std::vector<ItemRow>> SqliteStore::LoadItems() {
  Stmt st;
  SOUK_RETURN_IF_ERROR(st.Prepare(db_, "SELECT " SOUK_ITEM_COLUMNS " FROM items ORDER BY id"));
  std::vector<ItemRow> out;
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
    out.push_back(ReadItemRow(st.get()));
  }
  if (rc != SQLITE_DONE) return Error("load items");
  return out;
}

Result<std::vector<UserRow>> SqliteStore::LoadUsers() {
  Stmt st;
  SOUK_RETURN_IF_ERROR(st.Prepare(db_, "SELECT id,ext_id,known,attrs FROM users ORDER BY id"));
  std::vector<UserRow> out;
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
    auto* q = st.get();
    out.push_back(UserRow{static_cast<UserId>(sqlite3_column_int64(q, 0)), ColText(q, 1), sqlite3_column_int(q, 2) != 0,
                          ColText(q, 3)});
  }
  if (rc != SQLITE_DONE) return Error("load users");
  return out;
}

Result<EventColumns> SqliteStore::LoadEvents(bool training_only) {
  return ReadEvents(
      training_only ? "SELECT id,user,item,type,ts,value,session,src,line,flags FROM events WHERE flags=0 ORDER BY id"
                    : "SELECT id,user,item,type,ts,value,session,src,line,flags FROM events ORDER BY id",
      -1);
}

Result<EventColumns> SqliteStore::LoadEventsAfter(int64_t after) {
  return ReadEvents("SELECT id,user,item,type,ts,value,session,src,line,flags FROM events WHERE id>?1 ORDER BY id",
                    std::max<int64_t>(0, after));
}

Result<EventColumns> SqliteStore::LoadUserEvents(UserId user) {
  // No index on user: a scan of the events table (tens of millions of rows a
  // second) keeps imports fast; the server keeps histories in memory.
  return ReadEvents("SELECT id,user,item,type,ts,value,session,src,line,flags FROM events WHERE user=?1 ORDER BY id",
                    user);
}

Result<int64_t> SqliteStore::DataVersion() {
  Stmt st;
  SOUK_RETURN_IF_ERROR(st.Prepare(db_, "PRAGMA data_version"));
  if (sqlite3_step(st.get()) != SQLITE_ROW) return Error("data_version");
  return static_cast<int64_t>(sqlite3_column_int64(st.get(), 0));
}

Result<std::vector<std::string>> SqliteStore::EventUsersSince(int64_t after, int64_t* max_id) {
  *max_id = after;
  Stmt st;
  if (after < 0) {  // where to start: the largest id, no users
    SOUK_RETURN_IF_ERROR(st.Prepare(db_, "SELECT coalesce(max(id), 0) FROM events"));
    if (sqlite3_step(st.get()) != SQLITE_ROW) return Error("max event id");
    *max_id = sqlite3_column_int64(st.get(), 0);
    return std::vector<std::string>{};
  }
  SOUK_RETURN_IF_ERROR(st.Prepare(db_, "SELECT e.id, u.ext_id FROM events e JOIN users u ON u.id = e.user WHERE e.id > ?1"));
  st.Int(1, after);
  std::vector<std::string> out;
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
    *max_id = std::max<int64_t>(*max_id, sqlite3_column_int64(st.get(), 0));
    out.push_back(ColText(st.get(), 1));
  }
  if (rc != SQLITE_DONE) return Error("events since");
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Status SqliteStore::AttachImpressions() {
  if (impressions_attached_) return Status::Ok();
  if (!sqlite3_get_autocommit(db_))
    return Status::FailedPrecondition("impressions are attached outside a transaction (PrepareForServing)");
  const char* main = sqlite3_db_filename(db_, "main");
  if (!main || !*main) return Status::FailedPrecondition("an in-memory store keeps no impressions");
  std::string path = main;
  const size_t dot = path.rfind(".db");
  path = (dot != std::string::npos && dot + 3 == path.size() ? path.substr(0, dot) : path) + "-impressions.db";
  {  // ATTACH cannot create the file on a store opened without create
    sqlite3* created = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &created, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    sqlite3_close_v2(created);
    if (rc != SQLITE_OK) return Status::IoError(fmt::format("cannot create the impressions log {}", path));
  }
  std::string quoted;
  for (char c : path) quoted += c == '\'' ? std::string("''") : std::string(1, c);
  SOUK_RETURN_IF_ERROR(Exec(fmt::format("ATTACH DATABASE '{}' AS imp", quoted).c_str()));
  SOUK_RETURN_IF_ERROR(Exec("PRAGMA imp.journal_mode=WAL"));
  SOUK_RETURN_IF_ERROR(Exec("PRAGMA imp.synchronous=NORMAL"));
  SOUK_RETURN_IF_ERROR(
      Exec("CREATE TABLE IF NOT EXISTS imp.impression_segments(first_id TEXT PRIMARY KEY, last_id TEXT NOT NULL, "
           "n INTEGER NOT NULL, data BLOB NOT NULL) WITHOUT ROWID"));
  impressions_attached_ = true;
  return Status::Ok();
}

// Impressions are written as segments: one row per batch (the server
// writes one every 200 ms), its records length-prefixed in a blob, keyed by
// the first and last request id it holds. At serving rates that is one
// insert per batch instead of one per response; a lookup reads the few
// segments whose id range can hold the id.
namespace {

void PutU32(std::string* out, uint32_t v) { out->append(reinterpret_cast<const char*>(&v), sizeof v); }
void PutStr(std::string* out, const std::string& v) {
  PutU32(out, static_cast<uint32_t>(v.size()));
  out->append(v);
}

class SegmentReader {
 public:
  SegmentReader(const void* data, size_t size) : p_(static_cast<const char*>(data)), end_(p_ + size) {}
  bool U32(uint32_t* v) {
    if (end_ - p_ < 4) return false;
    std::memcpy(v, p_, 4);
    p_ += 4;
    return true;
  }
  bool I64(int64_t* v) {
    if (end_ - p_ < 8) return false;
    std::memcpy(v, p_, 8);
    p_ += 8;
    return true;
  }
  bool Str(std::string* v) {
    uint32_t n;
    if (!U32(&n) || static_cast<size_t>(end_ - p_) < n) return false;
    v->assign(p_, n);
    p_ += n;
    return true;
  }
  bool Record(ImpressionRecord* r) {
    uint32_t n = 0;
    if (!Str(&r->request_id) || !I64(&r->ts_ms) || !Str(&r->surface) || !Str(&r->user) || !Str(&r->query) ||
        !Str(&r->model) || !U32(&n) || n > static_cast<size_t>(end_ - p_) / 4)
      return false;
    r->items.resize(n);
    for (auto& item : r->items)
      if (!Str(&item)) return false;
    return true;
  }
  bool done() const { return p_ == end_; }

 private:
  const char* p_;
  const char* end_;
};

Status DecodeSegment(sqlite3_stmt* st, int col, std::vector<ImpressionRecord>* out) {
  SegmentReader in(sqlite3_column_blob(st, col), static_cast<size_t>(sqlite3_column_bytes(st, col)));
  while (!in.done()) {
    ImpressionRecord r;
    if (!in.Record(&r)) return Status::Corruption("a truncated impressions segment");
    out->push_back(std::move(r));
  }
  return Status::Ok();
}

}  // namespace

Status SqliteStore::LogImpressions(const std::vector<ImpressionRecord>& impressions) {
  if (impressions.empty()) return Status::Ok();
  SOUK_RETURN_IF_ERROR(AttachImpressions());
  std::vector<const ImpressionRecord*> sorted;
  for (const auto& r : impressions) sorted.push_back(&r);
  std::sort(sorted.begin(), sorted.end(),
            [](const ImpressionRecord* a, const ImpressionRecord* b) { return a->request_id < b->request_id; });
  std::string blob;
  for (const ImpressionRecord* r : sorted) {
    PutStr(&blob, r->request_id);
    blob.append(reinterpret_cast<const char*>(&r->ts_ms), sizeof r->ts_ms);
    PutStr(&blob, r->surface);
    PutStr(&blob, r->user);
    PutStr(&blob, r->query);
    PutStr(&blob, r->model);
    PutU32(&blob, static_cast<uint32_t>(r->items.size()));
    for (const auto& item : r->items) PutStr(&blob, item);
  }
  Stmt st;
  SOUK_RETURN_IF_ERROR(st.Prepare(
      db_, "INSERT OR REPLACE INTO imp.impression_segments(first_id,last_id,n,data) VALUES(?1,?2,?3,?4)"));
  st.Text(1, sorted.front()->request_id);
  st.Text(2, sorted.back()->request_id);
  st.Int(3, static_cast<int64_t>(sorted.size()));
  sqlite3_bind_blob(st.get(), 4, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
  return Step(st, "log impressions");
}

// Segments may overlap a little (a response that took its id before one
// flush can be queued for the next), so lookups read a few back.
constexpr int kSegmentOverlap = 16;

Result<ImpressionRecord> SqliteStore::GetImpression(std::string_view request_id) {
  SOUK_RETURN_IF_ERROR(AttachImpressions());
  Stmt st;
  SOUK_RETURN_IF_ERROR(st.Prepare(db_,
                                  "SELECT last_id, data FROM imp.impression_segments WHERE first_id<=?1 ORDER BY "
                                  "first_id DESC LIMIT ?2"));
  st.Text(1, request_id);
  st.Int(2, kSegmentOverlap);
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
    if (ColText(st.get(), 0) < request_id) continue;
    std::vector<ImpressionRecord> records;
    SOUK_RETURN_IF_ERROR(DecodeSegment(st.get(), 1, &records));
    for (auto& r : records)
      if (r.request_id == request_id) return std::move(r);
  }
  if (rc != SQLITE_DONE) return Error("get impression");
  return Status::NotFound(fmt::format("no impression with request id '{}'", request_id));
}

Result<std::vector<ImpressionRecord>> SqliteStore::Impressions(int64_t since_ms, size_t limit) {
  SOUK_RETURN_IF_ERROR(AttachImpressions());
  // Request ids begin with the time in ms (12 hex digits), so a time range
  // is an id range.
  const std::string from = fmt::format("r{:012x}", static_cast<uint64_t>(std::max<int64_t>(0, since_ms)));
  Stmt st;
  SOUK_RETURN_IF_ERROR(
      st.Prepare(db_, "SELECT data FROM imp.impression_segments WHERE last_id>=?1 ORDER BY first_id"));
  st.Text(1, from);
  std::vector<ImpressionRecord> out;
  int rc, extra = 0;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
    std::vector<ImpressionRecord> records;
    SOUK_RETURN_IF_ERROR(DecodeSegment(st.get(), 0, &records));
    for (auto& r : records)
      if (r.request_id >= from) out.push_back(std::move(r));
    if (out.size() >= limit && ++extra > kSegmentOverlap) break;
  }
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return Error("impressions");
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.request_id < b.request_id; });
  if (out.size() > limit) out.resize(limit);
  return out;
}

Result<uint32_t> SqliteStore::FindId(const char* table, std::string_view ext_id) {
  Stmt st;
  SOUK_RETURN_IF_ERROR(st.Prepare(db_, fmt::format("SELECT id FROM {} WHERE ext_id=?1", table).c_str()));
  st.Text(1, ext_id);
  const int rc = sqlite3_step(st.get());
  if (rc == SQLITE_ROW) return static_cast<uint32_t>(sqlite3_column_int64(st.get(), 0));
  if (rc != SQLITE_DONE) return Error("find id");
  return kNoId;
}

Result<EventColumns> SqliteStore::ReadEvents(const char* sql, int64_t bind) {
  Stmt st;
  SOUK_RETURN_IF_ERROR(st.Prepare(db_, sql));
  if (bind >= 0) st.Int(1, bind);
  EventColumns c;
  c.sessions.emplace_back();
  std::unordered_map<std::string, uint32_t> session_ids;
  std::string key;
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
    auto* q = st.get();
    c.rowid.push_back(sqlite3_column_int64(q, 0));
    c.user.push_back(static_cast<UserId>(sqlite3_column_int64(q, 1)));
    c.item.push_back(sqlite3_column_type(q, 2) == SQLITE_NULL ? kNoId
                                                              : static_cast<ItemId>(sqlite3_column_int64(q, 2)));
    c.type.push_back(static_cast<uint8_t>(sqlite3_column_int(q, 3)));
    c.ts_ms.push_back(sqlite3_column_int64(q, 4));
    c.value.push_back(static_cast<float>(ColDoubleOrNaN(q, 5)));
    int n = sqlite3_column_bytes(q, 6);
    if (n == 0) {
      c.session.push_back(0);
    } else {
      key.assign(reinterpret_cast<const char*>(sqlite3_column_text(q, 6)), n);
      auto [it, inserted] = session_ids.emplace(key, static_cast<uint32_t>(c.sessions.size()));
      if (inserted) c.sessions.push_back(key);
      c.session.push_back(it->second);
    }
    c.source.push_back(static_cast<int32_t>(sqlite3_column_int64(q, 7)));
    c.line.push_back(sqlite3_column_int64(q, 8));
    c.flags.push_back(static_cast<uint32_t>(sqlite3_column_int64(q, 9)));
  }
  if (rc != SQLITE_DONE) return Error("load events");
  return c;
}

Result<std::vector<QuarantineRow>> SqliteStore::LoadQuarantine() {
  Stmt st;
  SOUK_RETURN_IF_ERROR(
      st.Prepare(db_,
                 "SELECT q.id,coalesce(q.src,0),coalesce(s.path,''),q.line,q.tbl,q.reason,q.detail,q.col,q.raw "
                 "FROM quarantine q LEFT JOIN sources s ON s.id=q.src ORDER BY q.id"));
  std::vector<QuarantineRow> out;
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
    auto* q = st.get();
    QuarantineRow r;
    r.id = sqlite3_column_int64(q, 0);
    r.source_id = sqlite3_column_int64(q, 1);
    r.source_path = ColText(q, 2);
    r.line = sqlite3_column_int64(q, 3);
    r.table = ColText(q, 4);
    r.reason = ColText(q, 5);
    r.detail = ColText(q, 6);
    r.column = ColText(q, 7);
    const void* b = sqlite3_column_blob(q, 8);
    if (b) r.raw.assign(static_cast<const char*>(b), sqlite3_column_bytes(q, 8));
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return Error("load quarantine");
  return out;
}

Result<std::vector<std::pair<std::string, int>>> SqliteStore::EventTypes() {
  Stmt st;
  SOUK_RETURN_IF_ERROR(st.Prepare(db_, "SELECT name,id FROM event_types ORDER BY id"));
  std::vector<std::pair<std::string, int>> out;
  while (sqlite3_step(st.get()) == SQLITE_ROW) out.emplace_back(ColText(st.get(), 0), sqlite3_column_int(st.get(), 1));
  return out;
}

Result<std::vector<std::pair<std::string, uint64_t>>> SqliteStore::SearchQueryCounts() {
  Stmt st;
  SOUK_RETURN_IF_ERROR(
      st.Prepare(db_,
                 "SELECT query, count(*) AS n FROM events WHERE type=5 AND flags=0 AND query IS NOT NULL AND query<>'' "
                 "GROUP BY query ORDER BY n DESC, query"));
  std::vector<std::pair<std::string, uint64_t>> out;
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW)
    out.emplace_back(ColText(st.get(), 0), static_cast<uint64_t>(sqlite3_column_int64(st.get(), 1)));
  if (rc != SQLITE_DONE) return Error("search query counts");
  return out;
}

Result<std::vector<SearchPick>> SqliteStore::SearchPicks() {
  // The first pick of each search session: a click, cart or purchase, or a
  // view with a result position.
  SOUK_ASSIGN_OR_RETURN(std::vector<SearchSession> sessions, SearchSessions());
  std::vector<SearchPick> out;
  for (const SearchSession& s : sessions)
    for (const SearchAction& a : s.actions) {
      const bool pick = a.type == static_cast<uint8_t>(EventType::kClick) ||
                        a.type == static_cast<uint8_t>(EventType::kCart) ||
                        a.type == static_cast<uint8_t>(EventType::kPurchase) ||
                        (a.type == static_cast<uint8_t>(EventType::kView) && a.position >= 0);
      if (!pick) continue;
      out.push_back({s.query, s.user, a.item, s.ts_ms, a.position});
      break;
    }
  return out;  // in the sessions' (search time) order
}

Result<std::vector<SearchSession>> SqliteStore::SearchSessions() {
  Stmt st;
  SOUK_RETURN_IF_ERROR(st.Prepare(
      db_,
      "SELECT user,session,ts,type,item,query,position,request_id FROM events WHERE flags=0 AND session<>'' AND "
      "((type=5 AND query IS NOT NULL AND query<>'') OR (type IN (0,1,2,3) AND item IS NOT NULL)) "
      "ORDER BY user,session,ts,id"));
  std::vector<SearchSession> out;
  int64_t cur_user = -1;
  std::string cur_session, session;
  bool open = false;  // out.back() is this session's latest search
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
    sqlite3_stmt* q = st.get();
    const int64_t user = sqlite3_column_int64(q, 0);
    session = ColText(q, 1);
    if (user != cur_user || session != cur_session) {
      cur_user = user;
      cur_session = session;
      open = false;
    }
    const int type = sqlite3_column_int(q, 3);
    if (type == static_cast<int>(EventType::kSearch)) {
      out.push_back(SearchSession{ColText(q, 5), static_cast<UserId>(user), sqlite3_column_int64(q, 2), {}});
      open = true;
      continue;
    }
    if (!open) continue;
    SearchAction a;
    a.item = static_cast<ItemId>(sqlite3_column_int64(q, 4));
    a.type = static_cast<uint8_t>(type);
    a.position = sqlite3_column_type(q, 6) == SQLITE_NULL ? -1 : sqlite3_column_int(q, 6);
    a.ts_ms = sqlite3_column_int64(q, 2);
    a.request_id = ColText(q, 7);
    out.back().actions.push_back(std::move(a));
  }
  if (rc != SQLITE_DONE) return Error("search sessions");
  std::stable_sort(out.begin(), out.end(),
                   [](const SearchSession& a, const SearchSession& b) { return a.ts_ms < b.ts_ms; });
  return out;
}

Result<std::vector<SearchAction>> SqliteStore::RequestActions() {
  Stmt st;
  SOUK_RETURN_IF_ERROR(st.Prepare(db_,
                                  "SELECT item,type,position,ts,request_id FROM events WHERE flags=0 AND request_id "
                                  "IS NOT NULL AND request_id<>'' AND item IS NOT NULL ORDER BY id"));
  std::vector<SearchAction> out;
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
    sqlite3_stmt* q = st.get();
    SearchAction a;
    a.item = static_cast<ItemId>(sqlite3_column_int64(q, 0));
    a.type = static_cast<uint8_t>(sqlite3_column_int(q, 1));
    a.position = sqlite3_column_type(q, 2) == SQLITE_NULL ? -1 : sqlite3_column_int(q, 2);
    a.ts_ms = sqlite3_column_int64(q, 3);
    a.request_id = ColText(q, 4);
    out.push_back(std::move(a));
  }
  if (rc != SQLITE_DONE) return Error("request actions");
  return out;
}

Result<int64_t> SqliteStore::AddRule(const RuleRecord& r) {
  Stmt st;
  SOUK_RETURN_IF_ERROR(st.Prepare(
      db_, "INSERT INTO rules(kind,surface,query,item,position,filter,created_ms) VALUES(?1,?2,?3,?4,?5,?6,?7)"));
  st.Text(1, r.kind);
  st.Text(2, r.surface);
  st.Text(3, r.query);
  st.Text(4, r.item);
  st.Int(5, r.position);
  st.Text(6, r.filter);
  st.Int(7, r.created_ms ? r.created_ms : NowMs());
  SOUK_RETURN_IF_ERROR(Step(st, "add rule"));
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db_));
}

Status SqliteStore::DeleteRule(int64_t id) {
  Stmt st;
  SOUK_RETURN_IF_ERROR(st.Prepare(db_, "DELETE FROM rules WHERE id=?1"));
  st.Int(1, id);
  SOUK_RETURN_IF_ERROR(Step(st, "delete rule"));
  if (sqlite3_changes(db_) == 0) return Status::NotFound("no rule " + std::to_string(id));
  return Status::Ok();
}

Result<std::vector<RuleRecord>> SqliteStore::Rules() {
  Stmt st;
  SOUK_RETURN_IF_ERROR(
      st.Prepare(db_, "SELECT id,kind,surface,query,item,position,filter,created_ms FROM rules ORDER BY id"));
  std::vector<RuleRecord> out;
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
    sqlite3_stmt* q = st.get();
    RuleRecord r;
    r.id = sqlite3_column_int64(q, 0);
    r.kind = ColText(q, 1);
    r.surface = ColText(q, 2);
    r.query = ColText(q, 3);
    r.item = ColText(q, 4);
    r.position = sqlite3_column_int(q, 5);
    r.filter = ColText(q, 6);
    r.created_ms = sqlite3_column_int64(q, 7);
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return Error("rules");
  return out;
}

Status SqliteStore::SaveEventTypes(const EventTypeRegistry& registry) {
  SOUK_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Stmt st;
  Status s = st.Prepare(db_, "INSERT OR REPLACE INTO event_types(id,name) VALUES(?1,?2)");
  for (const auto& [id, name] : registry.All()) {
    if (!s.ok()) break;
    st.Reset();
    st.Int(1, id);
    st.Text(2, name);
    s = Step(st, "save event types");
  }
  if (s.ok()) s = Exec("COMMIT");
  if (!s.ok()) (void)Exec("ROLLBACK");
  return s;
}

Status SqliteStore::SetEventFlags(const std::vector<std::pair<int64_t, uint32_t>>& rowid_flags) {
  SOUK_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Status s = Exec("UPDATE events SET flags=0 WHERE flags<>0");
  Stmt st;
  if (s.ok()) s = st.Prepare(db_, "UPDATE events SET flags=?2 WHERE id=?1");
  for (const auto& [rowid, flags] : rowid_flags) {
    if (!s.ok()) break;
    st.Reset();
    st.Int(1, rowid);
    st.Int(2, flags);
    s = Step(st, "set event flags");
  }
  if (s.ok()) s = Exec("COMMIT");
  if (!s.ok()) (void)Exec("ROLLBACK");
  return s;
}

Result<int64_t> SqliteStore::RegisterModel(const ModelRecord& record) {
  if (record.name.empty() || record.spec.empty()) return Status::InvalidArgument("a model needs a name and a spec");
  SOUK_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Status s;
  if (record.active) {
    Stmt st;
    s = st.Prepare(db_, "UPDATE models SET active=0 WHERE name=?1");
    if (s.ok()) {
      st.Text(1, record.name);
      s = Step(st, "deactivate models");
    }
  }
  int64_t id = 0;
  if (s.ok()) {
    Stmt st;
    s = st.Prepare(db_, "INSERT INTO models(name,spec,path,metrics,created_ms,active) VALUES(?1,?2,?3,?4,?5,?6)");
    if (s.ok()) {
      st.Text(1, record.name);
      st.Text(2, record.spec);
      st.TextOrNull(3, record.path);
      st.TextOrNull(4, record.metrics_json);
      st.Int(5, record.created_ms ? record.created_ms : NowMs());
      st.Int(6, record.active ? 1 : 0);
      s = Step(st, "register model");
      id = sqlite3_last_insert_rowid(db_);
    }
  }
  if (s.ok()) s = Exec("COMMIT");
  if (!s.ok()) {
    (void)Exec("ROLLBACK");
    return s;
  }
  return id;
}

Result<std::vector<ModelRecord>> SqliteStore::Models() {
  Stmt st;
  SOUK_RETURN_IF_ERROR(st.Prepare(
      db_, "SELECT id,name,spec,coalesce(path,''),coalesce(metrics,''),created_ms,active FROM models ORDER BY id"));
  std::vector<ModelRecord> out;
  while (sqlite3_step(st.get()) == SQLITE_ROW) {
    auto* q = st.get();
    ModelRecord m;
    m.id = sqlite3_column_int64(q, 0);
    m.name = ColText(q, 1);
    m.spec = ColText(q, 2);
    m.path = ColText(q, 3);
    m.metrics_json = ColText(q, 4);
    m.created_ms = sqlite3_column_int64(q, 5);
    m.active = sqlite3_column_int(q, 6) != 0;
    out.push_back(std::move(m));
  }
  return out;
}


// ---- campaigns ----------------------------------------------------------------------
// Names lists are stored one per line (names cannot hold control
// characters: CreateCampaign refuses them); numbers as raw little-endian
// arrays in BLOBs.

template <typename T>
std::string_view AsBytes(const std::vector<T>& v) {
  return {reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T)};
}

template <typename T>
std::vector<T> ColArray(sqlite3_stmt* s, int i) {
  const void* p = sqlite3_column_blob(s, i);
  const size_t n = static_cast<size_t>(sqlite3_column_bytes(s, i)) / sizeof(T);
  std::vector<T> out(n);
  if (n) std::memcpy(out.data(), p, n * sizeof(T));
  return out;
}

std::string JoinLines(const std::vector<std::string>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? "\n" : "") + v[i];
  return out;
}

std::vector<std::string> SplitLines(const std::string& s) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  size_t b = 0;
  for (size_t e; (e = s.find('\n', b)) != std::string::npos; b = e + 1) out.push_back(s.substr(b, e - b));
  out.push_back(s.substr(b));
  return out;
}

Status CheckName(const std::string& what, const std::string& name) {
  if (name.empty()) return Status::InvalidArgument(what + " names must not be empty");
  for (unsigned char c : name)
    if (c < 0x20 || c == 0x7f) return Status::InvalidArgument(what + " name '" + name + "' has a control character");
  return Status::Ok();
}

Result<int64_t> SqliteStore::CreateCampaign(const CampaignRecord& r) {
  SOUK_RETURN_IF_ERROR(CheckName("campaign", r.name));
  if (r.policy.empty()) return Status::InvalidArgument("campaign '" + r.name + "' needs a policy");
  if (r.arms.empty()) return Status::InvalidArgument("campaign '" + r.name + "' needs at least one arm");
  for (const auto& a : r.arms) SOUK_RETURN_IF_ERROR(CheckName("arm", a));
  for (const auto& f : r.features) SOUK_RETURN_IF_ERROR(CheckName("feature", f));
  Stmt st;
  SOUK_RETURN_IF_ERROR(st.Prepare(db_,
                                  "INSERT INTO campaigns(name,policy,arms,features,slots,seed,created_ms,state) "
                                  "VALUES(?1,?2,?3,?4,?5,?6,?7,?8)"));
  const std::string arms = JoinLines(r.arms), features = JoinLines(r.features);
  st.Text(1, r.name);
  st.Text(2, r.policy);
  st.Text(3, arms);
  st.Text(4, features);
  st.Int(5, r.slots);
  st.Int(6, static_cast<int64_t>(r.seed));
  st.Int(7, r.created_ms ? r.created_ms : NowMs());
  if (r.state.empty())
    st.Null(8);
  else
    st.Blob(8, r.state);
  const int rc = sqlite3_step(st.get());
  if (rc == SQLITE_CONSTRAINT) return Status::AlreadyExists("campaign '" + r.name + "' already exists");
  if (rc != SQLITE_DONE) return Error("create campaign");
  return sqlite3_last_insert_rowid(db_);
}

Result<std::vector<CampaignRecord>> SqliteStore::ReadCampaigns(const char* where, std::string_view bind) {
  Stmt st;
  const std::string sql = fmt::format(
      "SELECT c.id,c.name,c.policy,c.arms,c.features,c.slots,c.seed,c.created_ms,c.state,c.state_seq,"
      "(SELECT count(*) FROM decisions d WHERE d.campaign=c.id),"
      "(SELECT count(*) FROM decisions d WHERE d.campaign=c.id AND d.rewards IS NOT NULL),"
      "(SELECT coalesce(max(seq),0) FROM decisions d WHERE d.campaign=c.id),"
      "(SELECT coalesce(max(reward_seq),0) FROM decisions d WHERE d.campaign=c.id) "
      "FROM campaigns c {} ORDER BY c.id",
      where);
  SOUK_RETURN_IF_ERROR(st.Prepare(db_, sql.c_str()));
  if (!bind.empty()) st.Text(1, bind);
  std::vector<CampaignRecord> out;
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
    auto* q = st.get();
    CampaignRecord c;
    c.id = sqlite3_column_int64(q, 0);
    c.name = ColText(q, 1);
    c.policy = ColText(q, 2);
    c.arms = SplitLines(ColText(q, 3));
    c.features = SplitLines(ColText(q, 4));
    c.slots = static_cast<uint32_t>(sqlite3_column_int64(q, 5));
    c.seed = static_cast<uint64_t>(sqlite3_column_int64(q, 6));
    c.created_ms = sqlite3_column_int64(q, 7);
    if (sqlite3_column_type(q, 8) != SQLITE_NULL)
      c.state.assign(static_cast<const char*>(sqlite3_column_blob(q, 8)), sqlite3_column_bytes(q, 8));
    c.state_seq = static_cast<uint64_t>(sqlite3_column_int64(q, 9));
    c.decisions = static_cast<uint64_t>(sqlite3_column_int64(q, 10));
    c.rewarded = static_cast<uint64_t>(sqlite3_column_int64(q, 11));
    c.last_seq = static_cast<uint64_t>(sqlite3_column_int64(q, 12));
    c.last_reward_seq = static_cast<uint64_t>(sqlite3_column_int64(q, 13));
    out.push_back(std::move(c));
  }
  if (rc != SQLITE_DONE) return Error("read campaigns");
  return out;
}

Result<std::vector<CampaignRecord>> SqliteStore::Campaigns() { return ReadCampaigns("", ""); }

Result<CampaignRecord> SqliteStore::GetCampaign(std::string_view name) {
  if (name.empty()) return Status::NotFound("no campaign ''");
  SOUK_ASSIGN_OR_RETURN(auto v, ReadCampaigns("WHERE c.name=?1", name));
  if (v.empty()) return Status::NotFound("no campaign '" + std::string(name) + "'");
  return std::move(v[0]);
}

Status SqliteStore::LogDecision(const DecisionRecord& d) {
  if (d.id.empty()) return Status::InvalidArgument("a decision needs an id");
  Stmt st;
  SOUK_RETURN_IF_ERROR(st.Prepare(db_,
                                  "INSERT INTO decisions(id,campaign,seq,user,ts_ms,arms,propensities,context) "
                                  "VALUES(?1,?2,?3,?4,?5,?6,?7,?8)"));
  st.Text(1, d.id);
  st.Int(2, d.campaign);
  st.Int(3, static_cast<int64_t>(d.seq));
  st.TextOrNull(4, d.user);
  st.Int(5, d.ts_ms ? d.ts_ms : NowMs());
  st.Blob(6, AsBytes(d.arms));
  st.Blob(7, AsBytes(d.propensities));
  st.Blob(8, AsBytes(d.context));
  const int rc = sqlite3_step(st.get());
  if (rc == SQLITE_CONSTRAINT)
    return Status::AlreadyExists("decision '" + d.id + "' (or its sequence number) is already logged");
  if (rc != SQLITE_DONE) return Error("log decision");
  return Status::Ok();
}

namespace {
constexpr const char* kDecisionColumns =
    "id,campaign,seq,coalesce(user,''),ts_ms,arms,propensities,context,rewards,rewarded_ms,coalesce(reward_seq,0)";

DecisionRecord ReadDecision(sqlite3_stmt* q) {
  DecisionRecord d;
  d.id = ColText(q, 0);
  d.campaign = sqlite3_column_int64(q, 1);
  d.seq = static_cast<uint64_t>(sqlite3_column_int64(q, 2));
  d.user = ColText(q, 3);
  d.ts_ms = sqlite3_column_int64(q, 4);
  d.arms = ColArray<uint32_t>(q, 5);
  d.propensities = ColArray<double>(q, 6);
  d.context = ColArray<float>(q, 7);
  d.rewarded = sqlite3_column_type(q, 8) != SQLITE_NULL;
  if (d.rewarded) {
    d.rewards = ColArray<double>(q, 8);
    d.rewarded_ms = sqlite3_column_int64(q, 9);
    d.reward_seq = static_cast<uint64_t>(sqlite3_column_int64(q, 10));
  }
  return d;
}
}  // namespace

Result<DecisionRecord> SqliteStore::GetDecision(std::string_view id) {
  Stmt st;
  SOUK_RETURN_IF_ERROR(st.Prepare(db_, fmt::format("SELECT {} FROM decisions WHERE id=?1", kDecisionColumns).c_str()));
  st.Text(1, id);
  const int rc = sqlite3_step(st.get());
  if (rc == SQLITE_ROW) return ReadDecision(st.get());
  if (rc != SQLITE_DONE) return Error("read decision");
  return Status::NotFound("no decision '" + std::string(id) + "'");
}

Status SqliteStore::RecordReward(std::string_view decision_id, const std::vector<double>& rewards, int64_t ts_ms,
                                 uint64_t reward_seq, const std::string& state) {
  SOUK_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  auto body = [&]() -> Status {
    Stmt st;
    SOUK_RETURN_IF_ERROR(st.Prepare(
        db_, "UPDATE decisions SET rewards=?2, rewarded_ms=?3, reward_seq=?4 WHERE id=?1 AND rewards IS NULL"));
    st.Text(1, decision_id);
    st.Blob(2, AsBytes(rewards));
    st.Int(3, ts_ms ? ts_ms : NowMs());
    st.Int(4, static_cast<int64_t>(reward_seq));
    const int rc = sqlite3_step(st.get());
    if (rc == SQLITE_CONSTRAINT)
      return Status::FailedPrecondition(
          fmt::format("reward number {} of this campaign is already recorded (another writer)", reward_seq));
    if (rc != SQLITE_DONE) return Error("record reward");
    if (sqlite3_changes(db_) == 0) {
      Stmt q;
      SOUK_RETURN_IF_ERROR(q.Prepare(db_, "SELECT 1 FROM decisions WHERE id=?1"));
      q.Text(1, decision_id);
      if (sqlite3_step(q.get()) == SQLITE_ROW)
        return Status::AlreadyExists("decision '" + std::string(decision_id) + "' already has its reward");
      return Status::NotFound("no decision '" + std::string(decision_id) + "'");
    }
    if (state.empty()) return Status::Ok();
    Stmt up;
    SOUK_RETURN_IF_ERROR(up.Prepare(
        db_, "UPDATE campaigns SET state=?2, state_seq=?3 WHERE id=(SELECT campaign FROM decisions WHERE id=?1)"));
    up.Text(1, decision_id);
    up.Blob(2, state);
    up.Int(3, static_cast<int64_t>(reward_seq));
    return Step(up, "save campaign state");
  };
  Status s = body();
  if (s.ok()) s = Exec("COMMIT");
  if (!s.ok()) (void)Exec("ROLLBACK");
  return s;
}

Status SqliteStore::SaveCampaignState(int64_t campaign, const std::string& state, uint64_t state_seq) {
  Stmt up;
  SOUK_RETURN_IF_ERROR(up.Prepare(db_, "UPDATE campaigns SET state=?2, state_seq=?3 WHERE id=?1 AND state_seq<=?3"));
  up.Int(1, campaign);
  up.Blob(2, state);
  up.Int(3, static_cast<int64_t>(state_seq));
  return Step(up, "save campaign state");
}

Result<std::vector<DecisionRecord>> SqliteStore::RewardsAfter(int64_t campaign, uint64_t after) {
  Stmt st;
  SOUK_RETURN_IF_ERROR(st.Prepare(
      db_, fmt::format("SELECT {} FROM decisions WHERE campaign=?1 AND reward_seq>?2 ORDER BY reward_seq",
                       kDecisionColumns)
               .c_str()));
  st.Int(1, campaign);
  st.Int(2, static_cast<int64_t>(after));
  std::vector<DecisionRecord> out;
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) out.push_back(ReadDecision(st.get()));
  if (rc != SQLITE_DONE) return Error("read rewards");
  return out;
}

Result<std::vector<DecisionRecord>> SqliteStore::Decisions(int64_t campaign, uint64_t after_seq) {
  Stmt st;
  SOUK_RETURN_IF_ERROR(st.Prepare(
      db_, fmt::format("SELECT {} FROM decisions WHERE campaign=?1 AND seq>?2 ORDER BY seq", kDecisionColumns).c_str()));
  st.Int(1, campaign);
  st.Int(2, static_cast<int64_t>(after_seq));
  std::vector<DecisionRecord> out;
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) out.push_back(ReadDecision(st.get()));
  if (rc != SQLITE_DONE) return Error("read decisions");
  return out;
}

}  // namespace

Result<std::unique_ptr<Store>> Store::OpenSqlite(const std::string& path, const StoreOptions& options) {
  // Memory statistics take a global mutex on every allocation; souk never
  // reads them. Must run before SQLite initialises, hence once, first.
  static const bool configured = [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)configured;
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (options.create_if_missing) flags |= SQLITE_OPEN_CREATE;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close_v2(db);
    if (!options.create_if_missing && rc == SQLITE_CANTOPEN)
      return Status::NotFound(fmt::format("no store at '{}' (run `souk init` first)", path));
    return Status::IoError(fmt::format("cannot open store '{}': {}", path, msg));
  }
  auto store = std::make_unique<SqliteStore>(db, options);
  Status s = store->Init();
  if (!s.ok()) return s.WithContext(path);
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace souk
