// souk's vocabulary: the Item, User and Event records that flow from ingest to
// the store, dense ids, event types, timestamps, UTF-8 checks and a terminal
// progress bar. Everything here is a value type with no I/O except Progress.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <istream>
#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace souk {

// Items and users are mapped to dense ids 0..n-1 when they are first seen;
// hot paths hold these, strings live at the edges.
using ItemId = uint32_t;
using UserId = uint32_t;
inline constexpr uint32_t kNoId = std::numeric_limits<uint32_t>::max();

// Built-in event types. Values are stored in the database: never renumber.
// Types added through the `events.extra_types` setting get ids from 16 on.
enum class EventType : uint8_t {
  kView = 0,
  kClick = 1,
  kCart = 2,
  kPurchase = 3,
  kRating = 4,
  kSearch = 5,
  kImpression = 6,
};
inline constexpr int kNumBuiltinEventTypes = 7;
inline constexpr int kFirstExtraEventType = 16;

// "view", "click", ... for built-in types.
std::string_view EventTypeName(EventType type);

// Maps names (case-insensitive, with common aliases such as "addtocart",
// "add_to_cart", "transaction", "order", "pageview") to event type ids.
// Extra names come from configuration.
class EventTypeRegistry {
 public:
  EventTypeRegistry();
  // Adds a custom type; returns its id. Errors if the name is empty or taken.
  Result<int> Add(std::string_view name);
  // The id for a name or alias, or nullopt.
  std::optional<int> Find(std::string_view name) const;
  // The canonical name of an id ("view", or a custom name).
  std::string Name(int id) const;
  // All (id, name) pairs, built-ins first.
  std::vector<std::pair<int, std::string>> All() const;

 private:
  std::vector<std::pair<std::string, int>> names_;  // lower-case name or alias -> id
  std::vector<std::pair<int, std::string>> canonical_;
};

// Where a record came from: a registered source file and the physical line
// (1-based; the header is line 1) where the record starts. `raw` points into
// the reader's buffer and is only valid during the call that receives it.
struct SourceRef {
  int64_t source_id = 0;
  int64_t line = 0;
  std::string_view raw;
};

inline double NaN() { return std::numeric_limits<double>::quiet_NaN(); }

struct Item {
  std::string id;  // external id, non-empty
  std::string title;
  std::string description;
  std::string brand;
  std::string category;    // path "a > b > c", normalised spacing
  std::string tags;        // '|'-separated
  double price = NaN();    // NaN = missing
  int64_t stock = -1;      // -1 = missing
  std::string attrs_json;  // unknown columns as a JSON object, or empty
  SourceRef src;
};

struct User {
  std::string id;
  std::string attrs_json;
  SourceRef src;
};

struct Event {
  std::string user;   // external user id, non-empty
  std::string item;   // external item id; empty only for search events
  int type = 0;       // EventType or a custom id
  int64_t ts_ms = 0;  // milliseconds since the Unix epoch (UTC)
  double value = NaN();
  std::string session;  // empty = none
  std::string query;
  int32_t position = -1;  // -1 = none
  double propensity = NaN();
  std::string campaign;
  std::string request_id;
  std::string attrs_json;
  SourceRef src;
};

// A record that was not stored, kept with the reason so nothing is lost.
struct QuarantineRecord {
  std::string table;   // "items", "users", "events"
  std::string reason;  // short category used for counting, e.g. "invalid timestamp"
  std::string detail;  // the full message, e.g. "invalid timestamp 'abc' (column timestamp)"
  std::string column;  // the offending column, or empty
  SourceRef src;       // source, line and raw text
};

// ---- time ------------------------------------------------------------------

// Parses a timestamp: Unix seconds (integer or fractional; values of 1e11 and
// more are taken as milliseconds, 1e14 and more as microseconds) or ISO-8601
// ("2026-03-01", "2026-03-01T12:00:00Z", "2026-03-01 12:00:00.250+08:00").
// Returns milliseconds since the epoch.
Result<int64_t> ParseTimestamp(std::string_view text);
// "2026-03-01T12:00:00Z" (milliseconds are shown only when non-zero).
std::string FormatTimestamp(int64_t ts_ms);
// "2026-03-01" for the UTC day containing ts_ms.
std::string FormatDate(int64_t ts_ms);
// Days since the epoch for a civil date, and back (Howard Hinnant's algorithms).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);
int64_t NowMs();

// ---- numbers ---------------------------------------------------------------

// Strict parsers: the whole text (after trimming ASCII spaces) must be a number.
std::optional<double> ParseDouble(std::string_view text);
std::optional<int64_t> ParseInt(std::string_view text);

// ---- text ------------------------------------------------------------------

std::string_view Trim(std::string_view s);
// The parts of `s` between `sep`s, trimmed, empty parts left out:
// SplitTrimmed(" a | b || c", '|') == {"a", "b", "c"}.
std::vector<std::string_view> SplitTrimmed(std::string_view s, char sep);
// The parts joined with `glue`.
std::string Join(const std::vector<std::string_view>& parts, std::string_view glue);
std::string ToLowerAscii(std::string_view s);
// Lower-cased words of `s`, split at every byte that is neither an ASCII
// letter or digit nor part of a UTF-8 sequence (so "Men’s 500ml" ->
// {"men’s", "500ml"}). A cheap tokenizer for feature hashing and the
// generator; search uses text::Analyzer.
std::vector<std::string> AsciiWords(std::string_view s);
// True if `s` is well-formed UTF-8 (no overlongs, surrogates or code points
// above U+10FFFF).
bool IsValidUtf8(std::string_view s);
// Replaces each maximal invalid sequence with U+FFFD. Returns the number of
// replacements.
size_t RepairUtf8(std::string* s);
// The text cut to at most `max` bytes (at a UTF-8 boundary) with "..." added.
std::string Shorten(std::string_view s, size_t max = 60);
// Escapes text for HTML.
std::string HtmlEscape(std::string_view s);
// "1,234,567"
std::string WithThousands(uint64_t n);

// ---- progress --------------------------------------------------------------

// A progress bar on stderr, drawn only when stderr is a terminal, at most ten
// times a second. Not thread-safe.
class Progress {
 public:
  Progress(std::string label, uint64_t total);
  ~Progress();
  void Update(uint64_t done, uint64_t rows = 0);
  void Finish();

 private:
  std::string label_;
  uint64_t total_;
  bool enabled_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

std::string SoukVersion();

// ---- binary files (host layout, little-endian on every supported machine) ----
// What the model and index files are made of: plain values, and vectors and
// strings as a uint64 count then the bytes. Readers refuse counts above
// `max_elems`, so a corrupt file cannot allocate terabytes.

template <typename T>
void WritePod(std::ostream& out, const T& value) {
  out.write(reinterpret_cast<const char*>(&value), sizeof(T));
}
template <typename T>
bool ReadPod(std::istream& in, T* value) {
  return static_cast<bool>(in.read(reinterpret_cast<char*>(value), sizeof(T)));
}
template <typename T>
void WriteVector(std::ostream& out, const std::vector<T>& v) {
  WritePod<uint64_t>(out, v.size());
  if (!v.empty())
    out.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(T)));
}
template <typename T>
bool ReadVector(std::istream& in, std::vector<T>* v, uint64_t max_elems = uint64_t{1} << 34) {
  uint64_t n = 0;
  if (!ReadPod(in, &n) || n > max_elems) return false;
  v->resize(n);
  if (n == 0) return true;
  return static_cast<bool>(in.read(reinterpret_cast<char*>(v->data()), static_cast<std::streamsize>(n * sizeof(T))));
}
inline void WriteString(std::ostream& out, const std::string& s) {
  WritePod<uint64_t>(out, s.size());
  out.write(s.data(), static_cast<std::streamsize>(s.size()));
}
inline bool ReadString(std::istream& in, std::string* s, uint64_t max_bytes = uint64_t{1} << 34) {
  uint64_t n = 0;
  if (!ReadPod(in, &n) || n > max_bytes) return false;
  s->resize(n);
  return n == 0 || static_cast<bool>(in.read(s->data(), static_cast<std::streamsize>(n)));
}

}  // namespace souk
