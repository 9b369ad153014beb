// The store is souk's system of record: catalog, users, events, quarantined
// records, import sources and the model registry. `Store` is an interface so
// that a PostgreSQL backend can come later; SQLite (WAL) is the embedded
// default.
//
// Ids: every item and user gets a dense id 0..n-1 the first time it is seen.
// An event that names an unknown item or user creates a placeholder row
// (known = false) so no event is lost; importing the record later fills it in.
//
// Writes go through WriteBatch, which is atomic: it commits whole or leaves the
// store exactly as it was. Reads return flat columns (hot data is flat).
//
// Thread-safety: a Store is used by one thread at a time (callers serialise).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/core.h"
#include "core/status.h"

namespace souk {

struct StoreOptions {
  bool create_if_missing = true;
  int64_t cache_mb = 256;  // SQLite page cache
  // Fault injection for tests: when >= 0, the write of row number N (counted
  // over the life of the Store, items + users + events + quarantine) fails
  // with an I/O error, mid-transaction (once).
  int64_t fail_at_row = -1;
};

// Everything one atomic write carries. Any vector may be empty.
struct WriteBatch {
  std::vector<Item> items;
  std::vector<User> users;
  std::vector<Event> events;
  std::vector<QuarantineRecord> quarantine;
};

struct WriteResult {
  uint64_t items_inserted = 0, items_updated = 0;
  uint64_t users_inserted = 0, users_updated = 0;
  uint64_t events_stored = 0;
  uint64_t events_duplicate = 0;   // already stored: kept in quarantine as "duplicate event"
  uint64_t placeholder_items = 0;  // placeholders created for unknown items named by events
  uint64_t placeholder_users = 0;
  uint64_t quarantined = 0;  // quarantine rows written (rejects + duplicates)
};

// A registered import (one file), with its running counts.
struct SourceInfo {
  int64_t id = 0;
  std::string path;
  std::string table;   // items, users, events
  std::string status;  // running, done, failed
  int64_t started_ms = 0;
  uint64_t read = 0, accepted = 0, updated = 0, duplicates = 0, rejected = 0;
};

struct ItemRow {
  ItemId id;
  std::string ext_id;
  bool known;    // false: a placeholder created by an event
  bool deleted;  // removed from the catalog
  std::string title, description, brand, category, tags;
  double price;   // NaN = missing
  int64_t stock;  // -1 = missing
  std::string attrs_json;
};

// One response that showed items (search, recommend, similar, session):
// the events that name its request id join to it by position.
struct ImpressionRecord {
  std::string request_id;
  int64_t ts_ms = 0;
  std::string surface;  // search, recommend, similar, session
  std::string user;     // external user id, or empty
  std::string query;    // the search text, or the item / session it was for
  std::string model;    // what ranked it
  std::vector<std::string> items;  // external item ids, in the order shown
};

struct UserRow {
  UserId id;
  std::string ext_id;
  bool known;
  std::string attrs_json;
};

// Events as columns, in storage order. Strings are interned per load.
struct EventColumns {
  std::vector<int64_t> rowid;
  std::vector<UserId> user;
  std::vector<ItemId> item;  // kNoId when the event names no item
  std::vector<uint8_t> type;
  std::vector<int64_t> ts_ms;
  std::vector<float> value;           // NaN = none
  std::vector<uint32_t> session;      // index into sessions; 0 = none ("")
  std::vector<int32_t> source;        // source id
  std::vector<int64_t> line;          // source line
  std::vector<uint32_t> flags;        // EventFlag bits set by `souk clean`
  std::vector<std::string> sessions;  // sessions[0] == ""
  size_t size() const { return rowid.size(); }
};

// A search and the item the shopper then picked (Store::SearchPicks).
struct SearchPick {
  std::string query;
  UserId user;
  ItemId item;
  int64_t ts_ms;          // of the search
  int32_t position = -1;  // result position of the pick, -1 = none
};

// A search and what the shopper did in the same session before the next
// search (Store::SearchSessions): learning-to-rank training data.
struct SearchAction {
  ItemId item;
  uint8_t type;           // EventType: view, click, cart, purchase
  int32_t position = -1;  // result position, -1 = none
  int64_t ts_ms = 0;
  std::string request_id;  // the answer it refers to, or empty
};
struct SearchSession {
  std::string query;
  UserId user;
  int64_t ts_ms;  // of the search
  std::vector<SearchAction> actions;
};

// Reasons an event is excluded from training (bits of events.flags).
enum EventFlag : uint32_t {
  kFlagBot = 1u << 0,
  kFlagFutureTimestamp = 1u << 1,
  kFlagOldTimestamp = 1u << 2,
  kFlagOrphanItem = 1u << 3,
  kFlagOrphanUser = 1u << 4,
  kFlagOutOfOrder = 1u << 5,
};

struct QuarantineRow {
  int64_t id;
  int64_t source_id;
  std::string source_path;
  int64_t line;
  std::string table, reason, detail, column;
  std::string raw;
};

struct ModelRecord {
  int64_t id = 0;
  std::string name;          // e.g. "ials"
  std::string spec;          // describe-itself string, e.g. "ials:f=64,reg=0.01"
  std::string path;          // file relative to the data directory
  std::string metrics_json;  // evaluation results, or empty
  int64_t created_ms = 0;
  bool active = false;  // the one served for its name
};

// A bandit campaign (src/bandit policies served by src/campaign): its arms,
// policy spec and context features, and the policy's state bytes
// (bandit::Policy::SaveState), which are saved with every reward.
struct CampaignRecord {
  int64_t id = 0;
  std::string name;
  std::string policy;                 // spec, e.g. "ts" or "linucb:alpha=1"
  std::vector<std::string> arms;      // index = arm id
  std::vector<std::string> features;  // context feature names (linear policies)
  uint32_t slots = 1;                 // > 1: a slate policy fills this many positions
  uint64_t seed = 0;                  // exploration seed; decision n draws from (seed, n)
  int64_t created_ms = 0;
  std::string state;                  // policy state snapshot; empty = as created
  uint64_t state_seq = 0;             // the snapshot holds rewards 1..state_seq (reward order)
  uint64_t decisions = 0, rewarded = 0;  // counts (read-only, filled by reads)
  uint64_t last_seq = 0;                 // highest decision seq logged (read-only)
  uint64_t last_reward_seq = 0;          // highest reward seq recorded (read-only)
};

// One logged decision: what was chosen with which probability, in which
// context, and later its reward.
struct DecisionRecord {
  std::string id;
  int64_t campaign = 0;
  uint64_t seq = 0;                  // 1, 2, ... per campaign
  std::string user;                  // may be empty
  int64_t ts_ms = 0;
  std::vector<uint32_t> arms;        // chosen (top-down for slates)
  std::vector<double> propensities;  // probability of each chosen arm (at its slot)
  std::vector<float> context;        // the x the policy saw
  bool rewarded = false;
  std::vector<double> rewards;  // one per chosen arm once rewarded
  int64_t rewarded_ms = 0;
  uint64_t reward_seq = 0;  // 1, 2, ... per campaign, in the order rewards were recorded
};

// A business rule (src/rank applies them after ranking): pin an item to a
// position for a query, boost or bury what a filter matches, hide an item
// or what a filter matches. Empty surface = every surface (search,
// recommend); empty query = every query.
struct RuleRecord {
  int64_t id = 0;
  std::string kind;     // pin, boost, bury, hide
  std::string surface;  // "", search, recommend
  std::string query;    // normalised query text it applies to ("" = all)
  std::string item;     // pin, hide: an external item id
  int position = 0;     // pin: 1-based
  std::string filter;   // boost, bury, hide: a filter expression (souk search --filter syntax)
  int64_t created_ms = 0;
  bool operator==(const RuleRecord&) const = default;
};

struct StoreCounts {
  uint64_t items = 0, placeholder_items = 0, users = 0, placeholder_users = 0, events = 0, flagged_events = 0,
           quarantine = 0, sources = 0, models = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Opens (and with create_if_missing, creates) the SQLite store at `path`.
  static Result<std::unique_ptr<Store>> OpenSqlite(const std::string& path, const StoreOptions& options = {});

  // Registers an import of `path` into `table`; the id goes into SourceRef.
  virtual Result<int64_t> BeginSource(const std::string& path, const std::string& table) = 0;
  // Records the final counts and status of a source.
  virtual Status FinishSource(const SourceInfo& info) = 0;
  virtual Result<std::vector<SourceInfo>> Sources() = 0;

  // Writes the batch in one transaction; on error nothing of it is stored.
  // Items/users with a known id are updated; events equal to a stored one in
  // (user, item, type, timestamp, session) are not stored again but kept in
  // quarantine. With `counts_for` (optional), the source counts of
  // counts_for->id grow inside the same transaction by counts_for->read and
  // counts_for->rejected and by the accepted/updated/duplicates of this write.
  virtual Result<WriteResult> Write(const WriteBatch& batch, const SourceInfo* counts_for = nullptr) = 0;

  // Deletes an item: it stays as a row (events keep their ids) but is marked
  // deleted; importing it again undeletes it. NotFound for an unknown id.
  virtual Status DeleteItem(const std::string& ext_id) = 0;

  // ---- reads ----
  virtual Result<StoreCounts> Counts() = 0;
  // Whether any item came from a catalog (not only placeholders that
  // events created). Cheap: stops at the first such row.
  virtual Result<bool> HasCatalog() = 0;
  virtual Result<std::vector<ItemRow>> LoadItems() = 0;  // index == dense id
  // The rows of the given dense ids, in the given order (unknown ids skipped).
  virtual Result<std::vector<ItemRow>> GetItems(const std::vector<ItemId>& ids) = 0;
  // Catalog rows changed (inserted, updated, filled in or deleted) after
  // `since_ms`, and the latest change time of the catalog (0 if empty).
  virtual Result<std::vector<ItemRow>> ItemsChangedSince(int64_t since_ms) = 0;
  virtual Result<int64_t> LatestItemChange() = 0;
  virtual Result<std::vector<UserRow>> LoadUsers() = 0;  // index == dense id
  // All events; with `training_only`, only those with no flags.
  virtual Result<EventColumns> LoadEvents(bool training_only = false) = 0;
  // All events of one user (flags included, to be filtered by the caller), in
  // storage order: what real-time recommendations read for a request.
  virtual Result<EventColumns> LoadUserEvents(UserId user) = 0;
  // The events stored after event id `after` (flags included), in id
  // order: what a reader that has seen up to `after` has not.
  virtual Result<EventColumns> LoadEventsAfter(int64_t after) = 0;
  // Dense id of an external id, or kNoId when the store has none.
  virtual Result<UserId> FindUser(std::string_view ext_id) = 0;
  virtual Result<ItemId> FindItem(std::string_view ext_id) = 0;
  virtual Result<std::vector<QuarantineRow>> LoadQuarantine() = 0;
  virtual Result<std::vector<std::pair<std::string, int>>> EventTypes() = 0;
  // Distinct query texts of search events with how often each was searched
  // (unflagged events only), most searched first.
  virtual Result<std::vector<std::pair<std::string, uint64_t>>> SearchQueryCounts() = 0;
  // What shoppers picked after a search: for each unflagged search event
  // with a query and a session id, the first later event of the same user and
  // session that is a click, cart or purchase, or a view with a result
  // position, before that session's next search. In time order. Searches
  // followed by nothing are left out. Training data for query encoders.
  virtual Result<std::vector<SearchPick>> SearchPicks() = 0;
  // Every unflagged search event with a query and a session id, with the
  // item events (view, click, cart, purchase) of the same user and session
  // after it and before that session's next search, in time order. Searches
  // followed by nothing are kept (with no actions).
  virtual Result<std::vector<SearchSession>> SearchSessions() = 0;
  // Every unflagged item event that names a request id (what was done with
  // a shown answer), as actions with their request id, in storage order.
  virtual Result<std::vector<SearchAction>> RequestActions() = 0;

  // ---- cleaning ----
  // Replaces all event flags: events listed get their flags, all others 0.
  virtual Status SetEventFlags(const std::vector<std::pair<int64_t, uint32_t>>& rowid_flags) = 0;

  // ---- model registry ----
  // Adds a model; when `record.active`, it becomes the active one for its name.
  virtual Result<int64_t> RegisterModel(const ModelRecord& record) = 0;
  virtual Result<std::vector<ModelRecord>> Models() = 0;

  // Registers custom event types (name -> id) so the mapping is stored.
  virtual Status SaveEventTypes(const EventTypeRegistry& registry) = 0;

  // Indexes that per-request reads need but bulk imports would only pay
  // for (events by user, for real-time recommendations): made once, kept
  // from then on; and the impressions log (its own file beside the store,
  // NAME-impressions.db) attached. Idempotent; call it outside a read
  // snapshot.
  virtual Status PrepareForServing() = 0;

  // Runs `reads` as one read transaction: every read inside sees the same
  // snapshot and the file locks are taken once, not per statement (a
  // request's lookups cost one lock round instead of dozens). Nested calls
  // and calls inside a write batch just run `reads`.
  virtual Status ReadSnapshot(const std::function<Status()>& reads) = 0;

  // ---- change tracking (serving caches) ----
  // A number that changes when another connection commits (PRAGMA
  // data_version): cheap enough to poll.
  virtual Result<int64_t> DataVersion() = 0;
  // A counter that every write of catalog rows (items, placeholders,
  // deletes) increments in its transaction; 0 for a store never written.
  virtual Result<int64_t> CatalogVersion() = 0;
  // External ids of the users with events stored after event id `after`,
  // and the largest event id (`*max_id`, `after` when there is none). With
  // `after` < 0: no users, and `*max_id` = the largest event id now.
  virtual Result<std::vector<std::string>> EventUsersSince(int64_t after, int64_t* max_id) = 0;

  // ---- impressions: what a response showed (for joining clicks to it) ----
  virtual Status LogImpressions(const std::vector<ImpressionRecord>& impressions) = 0;
  // NotFound for an unknown request id.
  virtual Result<ImpressionRecord> GetImpression(std::string_view request_id) = 0;
  // Impressions logged at or after `since_ms`, oldest first, at most `limit`
  // (request ids must begin with "r" and the time in ms as 12 hex digits,
  // as the server's do: the table is ordered by them).
  virtual Result<std::vector<ImpressionRecord>> Impressions(int64_t since_ms, size_t limit) = 0;

  // ---- business rules ----
  virtual Result<int64_t> AddRule(const RuleRecord& rule) = 0;
  virtual Status DeleteRule(int64_t id) = 0;  // NotFound for an unknown id
  virtual Result<std::vector<RuleRecord>> Rules() = 0;  // in id order

  // ---- campaigns ----
  // AlreadyExists when the name is taken.
  virtual Result<int64_t> CreateCampaign(const CampaignRecord& record) = 0;
  virtual Result<std::vector<CampaignRecord>> Campaigns() = 0;
  virtual Result<CampaignRecord> GetCampaign(std::string_view name) = 0;  // NotFound
  // Logs a decision (AlreadyExists on a used id).
  virtual Status LogDecision(const DecisionRecord& decision) = 0;
  virtual Result<DecisionRecord> GetDecision(std::string_view id) = 0;  // NotFound
  // In one transaction: joins `rewards` to the decision as the campaign's
  // reward number `reward_seq` and, when `state` is not empty, saves it as
  // the campaign's policy snapshot (holding rewards 1..reward_seq).
  // AlreadyExists (and nothing changes) when the decision already has its
  // reward; NotFound for an unknown id; FailedPrecondition when another
  // writer already recorded reward number `reward_seq`.
  virtual Status RecordReward(std::string_view decision_id, const std::vector<double>& rewards, int64_t ts_ms,
                              uint64_t reward_seq, const std::string& state) = 0;
  // Saves a policy snapshot holding rewards 1..state_seq.
  virtual Status SaveCampaignState(int64_t campaign, const std::string& state, uint64_t state_seq) = 0;
  // The decisions rewarded after reward number `after`, in reward order
  // (what a snapshot does not hold yet).
  virtual Result<std::vector<DecisionRecord>> RewardsAfter(int64_t campaign, uint64_t after) = 0;
  // A campaign's decisions in order (seq); `after_seq` skips the first ones.
  virtual Result<std::vector<DecisionRecord>> Decisions(int64_t campaign, uint64_t after_seq = 0) = 0;
};

}  // namespace souk
