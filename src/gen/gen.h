// Demo-shop generator: writes a realistic, deterministic e-commerce data set
// (catalog, users, behaviour log, search judgments) with a recoverable latent
// structure and injected data faults whose exact locations are listed in a
// ground-truth file, so search, recommenders and data-quality checks can be
// scored against known answers. docs/generator.md describes the behaviour
// model and every file and column.
//
// Determinism: the output is a pure function of GenOptions (except
// `progress`). The same options give byte-identical files: the generator has
// its own RNG (xoshiro256** seeded by splitmix64) and distribution code, never
// reads the clock and never uses std:: distributions.
//
// Thread safety: GenerateShop keeps no global state; concurrent calls with
// different output directories are safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "core/status.h"

namespace souk::gen {

// Rates of injected faults. Event rates are fractions of the events in
// events.csv before faults are applied (after the day faults), item rates are
// fractions of items, the bot rate a fraction of users. Counts are rounded to
// the nearest integer, so tiny shops may get none. Every rate may be 0.
// docs/generator.md describes each fault and its ground-truth row.
struct FaultRates {
  // An exact byte copy of an earlier event row, inserted 1-5 rows after it.
  double duplicate_event = 0.01;
  // An event row an importer must reject: empty user_id, unparsable
  // timestamp, unknown event_type or an empty item_id on an item event.
  double invalid_event = 0.002;
  // An item row an importer must reject: price "abc", price "-5.00" or an
  // empty item_id. Such items never appear in events.
  double invalid_item = 0.005;
  // An event whose item_id is in no row of items.csv.
  double orphan_item = 0.003;
  // An event whose user_id is in no row of users.csv (with its own session).
  double orphan_user = 0.003;
  // An event timestamp between 2035-01-01 and 2099-12-31.
  double future_timestamp = 0.002;
  // An event timestamp between 1970-01-01 (sometimes exactly 0) and 1999-12-31.
  double old_timestamp = 0.002;
  // An event 10 minutes to 3 hours earlier than the previous event of its
  // session (the only such event in that session).
  double out_of_order = 0.002;
  // Users (listed in users.csv) whose only events are bursts of 150-1500
  // machine-regular views. At least 3 when users >= 300 and the rate is > 0.
  double bot_user = 0.005;
  // Item price multiplied or divided by U(50, 300).
  double price_outlier = 0.01;
  // Item title empty, with invalid UTF-8, with HTML markup, or mojibake.
  double broken_title = 0.01;
  // Whole-day faults, only when GenOptions::days >= 14: days whose human
  // events are mostly dropped (a tracking outage) ...
  uint32_t volume_shift_days = 1;
  double volume_shift_drop = 0.85;  // fraction of that day's human events dropped
  // ... and days without any click event (other types unchanged).
  uint32_t mix_shift_days = 1;
};

struct GenOptions {
  uint32_t users = 5000;  // >= 1; bots are included in this count
  uint32_t items = 2000;  // >= 1
  uint32_t days = 60;     // >= 1; length of the behaviour log
  uint64_t seed = 42;
  // Unix seconds; the last generated day ends here. The window
  // [end_time - days*86400, end_time) must lie within 2000-01-01..2035-01-01
  // so that the timestamp faults are distinguishable from normal events.
  // Fixed by default (2026-07-01T00:00:00Z) to keep the output deterministic.
  int64_t end_time = 1782864000;
  // Fraction of items with Chinese titles (and Chinese brands), in [0, 1].
  double chinese_title_share = 0.10;
  // Fraction of (English) search queries that are paraphrases sharing no
  // word with the wanted item's title ("jogging footwear" for running
  // shoes), in [0, 1]. They test semantic retrieval: BM25 cannot match
  // them. 0 (the default) leaves every file byte-identical to a shop
  // generated without the option; above 0, judgments.csv gets a fourth
  // column, kind (paraphrase or plain), and only query texts change.
  double paraphrase_share = 0;
  bool inject_faults = true;
  FaultRates faults;
  // Called now and then with the fraction done (0..1], from the calling
  // thread. Optional; not part of the output.
  std::function<void(double fraction)> progress;
};

// What was written. Counts are of rows in the written files, faults included.
struct GenStats {
  uint64_t items = 0;      // data records in items.csv
  uint64_t users = 0;      // data records in users.csv (bots included)
  uint64_t events = 0;     // data lines in events.csv
  uint64_t sessions = 0;   // distinct non-empty session_id values in events.csv
  uint64_t searches = 0;   // rows of events.csv whose event_type is "search"
  uint64_t purchases = 0;  // rows of events.csv whose event_type is "purchase"
  uint64_t judgments = 0;  // data rows in judgments.csv
  // Rows in ground_truth.csv per fault name (duplicate_event, invalid_row,
  // orphan_item, orphan_user, future_timestamp, old_timestamp, out_of_order,
  // bot_user, price_outlier, broken_title, volume_shift, mix_shift); every
  // name is present, with 0 when none was injected.
  std::map<std::string, uint64_t> faults;
};

// Writes items.csv, users.csv, events.csv, ground_truth.csv, judgments.csv,
// synonyms.txt and manifest.json into `out_dir`, replacing files of those
// names. `out_dir` must exist. Returns InvalidArgument for options out of
// range, NotFound when out_dir does not exist, IoError when a file cannot be
// written. Memory is about 40 bytes per event plus the catalog (a 10M-event
// shop needs well under 2 GB).
Result<GenStats> GenerateShop(const GenOptions& options, const std::string& out_dir);

}  // namespace souk::gen
