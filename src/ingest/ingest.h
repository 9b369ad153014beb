// Ingest: streaming import of catalogs, users and behaviour logs (CSV or
// JSONL) into the store with validation and quarantine, and the data-quality
// rules that find the faults real shop logs have.
//
// Accounting: for every import, read = accepted + updated + duplicates +
// rejected. Every rejected row is kept in the store's quarantine with its
// file, line, raw text and reason.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/core.h"
#include "store/store.h"

namespace souk::ingest {

// ---- import ------------------------------------------------------------------

struct ImportOptions {
  std::string table;            // "items", "users" or "events"
  std::string format;           // "csv", "tsv", "jsonl"; empty = from the extension
  int64_t batch_rows = 100000;  // rows per transaction; 0 = whole file in one
  int64_t max_record_bytes = 1 << 20;
  bool progress = true;  // progress bar on stderr when it is a terminal
  // Called for each rejected row (e.g. to print "file:17: reason"). Optional.
  std::function<void(const QuarantineRecord&)> on_reject;
};

// Fills the import options from the settings.
ImportOptions ImportOptionsFromConfig(const Config& config, std::string table);

struct ImportSummary {
  std::string path, table, format;
  uint64_t read = 0, accepted = 0, updated = 0, duplicates = 0, rejected = 0;
  std::map<std::string, uint64_t> reasons;                // rejected (and duplicates) by reason
  std::map<std::string, uint64_t> warnings;               // accepted with a repair, by kind
  uint64_t placeholder_items = 0, placeholder_users = 0;  // placeholders created by events
  uint64_t batches = 0;
  double seconds = 0;
  int64_t committed_through_line = 0;  // last line of the last committed batch
};

// Imports one file. Errors that stop the import (missing file, empty file, a
// header without a required column, a failed write) return a non-OK status;
// batches committed before a failed write stay committed and the failing batch
// is rolled back whole, as `summary` then says. Importing the same file again
// is safe: items and users are upserted and events deduplicated.
Status ImportFile(Store* store, const EventTypeRegistry& types, const std::string& path, const ImportOptions& options,
                  ImportSummary* summary);

// {"read":N,"accepted":N,"updated":N,"duplicates":N,"rejected":N,"reasons":{..},...}
std::string SummaryJson(const ImportSummary& summary);
// A few human lines.
std::string SummaryText(const ImportSummary& summary);

// The event type registry with the custom types of `events.extra_types`.
Result<EventTypeRegistry> EventTypesFromConfig(const Config& config);

// ---- data quality --------------------------------------------------------------

struct Finding {
  std::string rule;         // e.g. "bot_user"
  std::string table;        // items, users, events, days
  std::string column;       // the column concerned, or empty
  std::string description;  // what the rule checks
  uint64_t count = 0;       // records flagged
  uint64_t checked = 0;     // records examined
  double score = 1.0;       // 1 - count/checked: 1 is clean
  // Ids of what was flagged: item_id for item rules, user_id for user rules,
  // the source line for event rules ("path:line" when events came from more
  // than one file), YYYY-MM-DD for day rules.
  std::vector<std::string> flagged;
  std::vector<std::string> examples;  // human-readable, at most quality.examples
  // Events to exclude from training, as store rowids (event rules only).
  std::vector<int64_t> event_rowids;
};

struct ColumnStats {
  uint64_t missing = 0, invalid = 0;
};

struct DayStats {
  std::string date;
  std::map<std::string, uint64_t> by_type;
  uint64_t total = 0;
};

struct CategoryPrices {
  std::string category;
  std::vector<double> log_prices;  // of known items with a price > 0
  std::vector<double> flagged;     // log prices of its price outliers
};

struct QualityReport {
  std::string data_dir;
  int64_t generated_ms = 0;
  StoreCounts counts;
  std::vector<Finding> findings;
  std::map<std::string, std::map<std::string, ColumnStats>> columns;  // table -> column -> stats
  std::vector<DayStats> days;                                         // events per day (plausible timestamps)
  std::vector<CategoryPrices> prices;                                 // top categories by item count
  double score = 1.0;                                                 // mean of the rule scores
};

// Runs every rule over the store.
Result<QualityReport> RunQuality(Store* store, const Config& config);

// {"rules":[{"rule":..,"count":..,"flagged":[..],...}],"score":..,...}
std::string QualityJson(const QualityReport& report);
std::string QualityText(const QualityReport& report);
// One self-contained HTML file with tables and inline SVG charts.
std::string QualityHtml(const QualityReport& report);

// Flags the events found by the event and user rules so training views skip
// them (nothing is deleted). Returns the number of events flagged.
Result<uint64_t> CleanEvents(Store* store, const QualityReport& report);

}  // namespace souk::ingest
