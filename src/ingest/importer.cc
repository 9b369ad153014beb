// The import pipeline: RecordScanner -> fields (CSV split or JSON object) ->
// validation (typed record or quarantine) -> batches -> Store::Write.
#include <fmt/format.h>

#include <chrono>
#include <deque>
#include <nlohmann/json.hpp>

#include "ingest/csv.h"
#include "ingest/ingest.h"

namespace souk::ingest {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxIdBytes = 512;

// ---- schemas -------------------------------------------------------------------

struct ColumnDef {
  const char* name;
  std::vector<const char*> aliases;
  bool required;
};

enum ItemCol { kIItemId, kITitle, kIDescription, kIBrand, kICategory, kITags, kIPrice, kIStock, kNumItemCols };
enum UserCol { kUUserId, kNumUserCols };
enum EventCol {
  kEUserId,
  kEItemId,
  kEType,
  kETimestamp,
  kEValue,
  kESession,
  kEQuery,
  kEPosition,
  kEPropensity,
  kECampaign,
  kERequestId,
  kNumEventCols
};

const std::vector<ColumnDef>& Schema(const std::string& table) {
  static const std::vector<ColumnDef> kItems = {
      {"item_id", {"itemid", "id", "item", "product_id", "sku"}, true},
      {"title", {"name", "product_name"}, false},
      {"description", {"desc"}, false},
      {"brand", {}, false},
      {"category", {"categories", "category_path"}, false},
      {"tags", {"tag"}, false},
      {"price", {}, false},
      {"stock", {"inventory", "quantity"}, false},
  };
  static const std::vector<ColumnDef> kUsers = {
      {"user_id", {"userid", "id", "user", "visitorid", "visitor_id", "customer_id"}, true},
  };
  static const std::vector<ColumnDef> kEvents = {
      {"user_id", {"userid", "user", "visitorid", "visitor_id", "customer_id"}, true},
      {"item_id", {"itemid", "item", "product_id", "sku"}, true},
      {"event_type", {"event", "type", "action", "eventtype"}, true},
      {"timestamp", {"time", "ts", "event_time", "datetime"}, true},
      {"value", {"rating", "amount"}, false},
      {"session_id", {"sessionid", "session"}, false},
      {"query", {"search_query", "q"}, false},
      {"position", {"rank", "pos"}, false},
      {"propensity", {"propensity_score"}, false},
      {"campaign_id", {"campaign"}, false},
      {"request_id", {}, false},
  };
  if (table == "items") return kItems;
  if (table == "users") return kUsers;
  return kEvents;
}

// Which schema column a header name is, or -1.
int FindColumn(const std::vector<ColumnDef>& schema, std::string_view header) {
  std::string h = ToLowerAscii(Trim(header));
  for (size_t i = 0; i < schema.size(); ++i) {
    if (h == schema[i].name) return static_cast<int>(i);
  }
  for (size_t i = 0; i < schema.size(); ++i)
    for (const char* a : schema[i].aliases)
      if (h == a) return static_cast<int>(i);
  return -1;
}

// ---- one row, independent of the file format --------------------------------------

struct Row {
  std::vector<std::string_view> vals;  // by schema column; empty = missing
  std::vector<bool> present;           // column present in this row
  json attrs;                          // unknown columns (object or null)
  SourceRef src;
};

// Per-import state shared by the validators.
struct Ctx {
  const std::string* table;
  const EventTypeRegistry* types;
  ImportSummary* summary;
};

struct Reject {
  std::string reason, detail, column;
};

// Checks an id field; returns a reject reason or empty.
std::optional<Reject> CheckId(std::string_view v, const char* column) {
  if (v.empty()) return Reject{fmt::format("missing {}", column), fmt::format("missing {}", column), column};
  if (v.size() > kMaxIdBytes)
    return Reject{fmt::format("{} too long", column),
                  fmt::format("{} is {} bytes, more than {}", column, v.size(), kMaxIdBytes), column};
  if (!IsValidUtf8(v)) return Reject{"invalid UTF-8", fmt::format("invalid UTF-8 in {}", column), column};
  for (unsigned char c : v)
    if (c < 0x20 || c == 0x7F)
      return Reject{"control character", fmt::format("control character in {}", column), column};
  return std::nullopt;
}

// Copies a text field, replacing invalid UTF-8 (counted as a warning).
std::string Text(std::string_view v, Ctx& ctx, const char* column) {
  std::string s(v);
  if (RepairUtf8(&s)) ++ctx.summary->warnings[fmt::format("invalid UTF-8 replaced in {}", column)];
  return s;
}

std::string NormalizeCategory(std::string_view v) { return Join(SplitTrimmed(v, '>'), " > "); }

std::string NormalizeTags(std::string_view v) { return Join(SplitTrimmed(v, '|'), "|"); }

std::string AttrsText(const json& attrs) { return attrs.is_object() && !attrs.empty() ? attrs.dump() : ""; }

std::optional<Reject> ValidateItem(const Row& row, Ctx& ctx, Item* item) {
  std::string_view id = Trim(row.vals[kIItemId]);
  if (auto r = CheckId(id, "item_id")) return r;
  item->id.assign(id);
  item->title = Text(Trim(row.vals[kITitle]), ctx, "title");
  item->description = Text(row.vals[kIDescription], ctx, "description");
  item->brand = Text(Trim(row.vals[kIBrand]), ctx, "brand");
  item->category = NormalizeCategory(Text(row.vals[kICategory], ctx, "category"));
  item->tags = NormalizeTags(Text(row.vals[kITags], ctx, "tags"));
  std::string_view price = Trim(row.vals[kIPrice]);
  item->price = NaN();
  if (!price.empty()) {
    auto p = ParseDouble(price);
    if (!p || !std::isfinite(*p))
      return Reject{"invalid price", fmt::format("invalid price '{}'", Shorten(price)), "price"};
    if (*p < 0) return Reject{"negative price", fmt::format("negative price {}", Shorten(price)), "price"};
    item->price = *p;
  }
  std::string_view stock = Trim(row.vals[kIStock]);
  item->stock = -1;
  if (!stock.empty()) {
    auto s = ParseInt(stock);
    if (!s) return Reject{"invalid stock", fmt::format("invalid stock '{}'", Shorten(stock)), "stock"};
    if (*s < 0) return Reject{"negative stock", fmt::format("negative stock {}", *s), "stock"};
    item->stock = *s;
  }
  item->attrs_json = AttrsText(row.attrs);
  item->src = row.src;
  return std::nullopt;
}

std::optional<Reject> ValidateUser(const Row& row, Ctx&, User* user) {
  std::string_view id = Trim(row.vals[kUUserId]);
  if (auto r = CheckId(id, "user_id")) return r;
  user->id.assign(id);
  user->attrs_json = AttrsText(row.attrs);
  user->src = row.src;
  return std::nullopt;
}

std::optional<Reject> ValidateEvent(const Row& row, Ctx& ctx, Event* e) {
  std::string_view user = Trim(row.vals[kEUserId]);
  if (auto r = CheckId(user, "user_id")) return r;
  std::string_view type = Trim(row.vals[kEType]);
  if (type.empty()) return Reject{"missing event_type", "missing event_type", "event_type"};
  auto type_id = ctx.types->Find(type);
  if (!type_id)
    return Reject{"unknown event_type", fmt::format("unknown event_type '{}'", Shorten(type)), "event_type"};
  std::string_view item = Trim(row.vals[kEItemId]);
  if (!item.empty() || *type_id != static_cast<int>(EventType::kSearch)) {
    if (auto r = CheckId(item, "item_id")) return r;
  }
  std::string_view ts = row.vals[kETimestamp];
  if (Trim(ts).empty()) return Reject{"missing timestamp", "missing timestamp", "timestamp"};
  auto t = ParseTimestamp(ts);
  if (!t.ok())
    return Reject{"invalid timestamp", fmt::format("invalid timestamp '{}': {}", Shorten(ts), t.status().message()),
                  "timestamp"};
  e->user.assign(user);
  e->item.assign(item);
  e->type = *type_id;
  e->ts_ms = *t;
  e->value = NaN();
  if (std::string_view v = Trim(row.vals[kEValue]); !v.empty()) {
    auto d = ParseDouble(v);
    if (!d || !std::isfinite(*d))
      return Reject{"invalid value", fmt::format("invalid value '{}'", Shorten(v)), "value"};
    e->value = *d;
  }
  e->position = -1;
  if (std::string_view v = Trim(row.vals[kEPosition]); !v.empty()) {
    auto p = ParseInt(v);
    if (!p || *p < 0 || *p > 1000000)
      return Reject{"invalid position", fmt::format("invalid position '{}'", Shorten(v)), "position"};
    e->position = static_cast<int32_t>(*p);
  }
  e->propensity = NaN();
  if (std::string_view v = Trim(row.vals[kEPropensity]); !v.empty()) {
    auto p = ParseDouble(v);
    if (!p || !(*p > 0 && *p <= 1))
      return Reject{"invalid propensity", fmt::format("invalid propensity '{}' (want 0 < p <= 1)", Shorten(v)),
                    "propensity"};
    e->propensity = *p;
  }
  e->session = Text(Trim(row.vals[kESession]), ctx, "session_id");
  e->query = Text(Trim(row.vals[kEQuery]), ctx, "query");
  e->campaign = Text(Trim(row.vals[kECampaign]), ctx, "campaign_id");
  e->request_id = Text(Trim(row.vals[kERequestId]), ctx, "request_id");
  e->attrs_json = AttrsText(row.attrs);
  e->src = row.src;
  return std::nullopt;
}

// Raw text of the records of one batch; views into it stay valid until Clear.
class Arena {
 public:
  std::string_view Copy(std::string_view s) {
    while (used_ < chunks_.size() && chunks_[used_].capacity() - chunks_[used_].size() < s.size()) ++used_;
    if (used_ == chunks_.size()) {
      chunks_.emplace_back();
      chunks_.back().reserve(std::max<size_t>(s.size(), 1 << 20));
    }
    std::string& c = chunks_[used_];
    size_t at = c.size();
    c.append(s);
    return std::string_view(c.data() + at, s.size());
  }
  // Forgets the contents but keeps the memory (no page faults next batch).
  void Clear() {
    for (auto& c : chunks_) c.clear();
    used_ = 0;
  }

 private:
  std::deque<std::string> chunks_;
  size_t used_ = 0;
};

std::string DetectFormat(const std::string& path, const std::string& format) {
  if (!format.empty()) return ToLowerAscii(format);
  std::string lower = ToLowerAscii(path);
  auto ends = [&](std::string_view suf) {
    return lower.size() >= suf.size() && lower.compare(lower.size() - suf.size(), suf.size(), suf) == 0;
  };
  if (ends(".jsonl") || ends(".ndjson") || ends(".json")) return "jsonl";
  if (ends(".tsv") || ends(".tab")) return "tsv";
  return "csv";
}

// Converts a JSON scalar to the text a CSV cell would hold.
std::string JsonScalarText(const json& v, bool is_tags, bool is_category) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array() && (is_tags || is_category)) {
    std::string out;
    for (const auto& e : v) {
      if (!out.empty()) out += is_tags ? "|" : " > ";
      out += e.is_string() ? e.get<std::string>() : e.dump();
    }
    return out;
  }
  return v.dump();
}

}  // namespace

ImportOptions ImportOptionsFromConfig(const Config& config, std::string table) {
  ImportOptions o;
  o.table = std::move(table);
  o.batch_rows = config.GetInt("import.batch_rows");
  o.max_record_bytes = config.GetInt("import.max_record_bytes");
  return o;
}

Result<EventTypeRegistry> EventTypesFromConfig(const Config& config) {
  EventTypeRegistry reg;
  for (std::string_view name : SplitTrimmed(config.GetString("events.extra_types"), ',')) {
    auto r = reg.Add(name);
    if (!r.ok()) return r.status().WithContext("events.extra_types");
  }
  return reg;
}

Status ImportFile(Store* store, const EventTypeRegistry& types, const std::string& path, const ImportOptions& options,
                  ImportSummary* summary) {
  auto started = std::chrono::steady_clock::now();
  *summary = ImportSummary();
  summary->path = path;
  summary->table = options.table;
  if (options.table != "items" && options.table != "users" && options.table != "events")
    return Status::InvalidArgument(fmt::format("unknown table '{}' (items, users or events)", options.table));
  const std::string format = DetectFormat(path, options.format);
  summary->format = format;
  if (format != "csv" && format != "tsv" && format != "jsonl")
    return Status::InvalidArgument(fmt::format("unknown format '{}' (csv, tsv or jsonl)", format));
  const bool is_csv = format != "jsonl";
  const char delimiter = format == "tsv" ? '\t' : ',';

  RecordScanner::Options so;
  so.csv_quotes = is_csv;
  so.delimiter = delimiter;
  so.max_record_bytes = static_cast<size_t>(std::max<int64_t>(1024, options.max_record_bytes));
  SOUK_ASSIGN_OR_RETURN(auto scanner, RecordScanner::Open(path, so));
  if (scanner->file_size() == 0)
    return Status::InvalidArgument(
        fmt::format("{}: the file is empty (expected {})", path, is_csv ? "a header row" : "one JSON object per line"));

  const auto& schema = Schema(options.table);
  const size_t ncols = schema.size();
  std::vector<std::string_view> fields;
  std::string scratch;

  // CSV header: map file columns to schema columns.
  std::vector<int> col_of;  // file column -> schema column or -1
  std::vector<std::string> header_names;
  RecordScanner::Record rec;
  if (is_csv) {
    if (!scanner->Next(&rec)) {
      if (!scanner->status().ok()) return scanner->status().WithContext(path);
      return Status::InvalidArgument(fmt::format("{}: no header row (the file holds only blank lines)", path));
    }
    if (rec.too_long)
      return Status::InvalidArgument(
          fmt::format("{}:1: the header row is longer than {} bytes", path, so.max_record_bytes));
    std::string err = SplitCsv(rec.text, delimiter, &fields, &scratch);
    if (!err.empty()) return Status::InvalidArgument(fmt::format("{}:1: malformed header: {}", path, err));
    std::vector<bool> seen(ncols, false);
    for (auto f : fields) {
      std::string name(Trim(f));
      int c = FindColumn(schema, name);
      if (c >= 0 && seen[c])
        return Status::InvalidArgument(
            fmt::format("{}:1: column '{}' appears twice in the header", path, schema[c].name));
      if (c >= 0) seen[c] = true;
      if (name.empty()) name = fmt::format("column{}", col_of.size() + 1);
      col_of.push_back(c);
      header_names.push_back(name);
    }
    for (size_t c = 0; c < ncols; ++c) {
      if (schema[c].required && !seen[c]) {
        std::string have;
        for (const auto& h : header_names) have += (have.empty() ? "" : ",") + h;
        return Status::InvalidArgument(fmt::format("{}:1: missing required column '{}' (the header has: {})", path,
                                                   schema[c].name, Shorten(have)));
      }
    }
  }

  SOUK_ASSIGN_OR_RETURN(int64_t source_id, store->BeginSource(path, options.table));
  SourceInfo batch_counts;
  batch_counts.id = source_id;

  Ctx ctx{&options.table, &types, summary};
  WriteBatch batch;
  Arena arena;
  int64_t batch_first_line = 0, last_line = 0;
  const size_t batch_rows = options.batch_rows > 0 ? static_cast<size_t>(options.batch_rows) : SIZE_MAX;
  size_t in_batch = 0;
  std::map<std::string, uint64_t> batch_reasons;  // merged into the summary on commit
  Progress progress(fmt::format("import {}", options.table), scanner->file_size());
  if (!options.progress) progress.Finish();

  auto flush = [&]() -> Status {
    if (in_batch == 0) return Status::Ok();
    auto wr = store->Write(batch, &batch_counts);
    if (!wr.ok()) {
      return wr.status().WithContext(fmt::format(
          "{}: batch of lines {}-{} rolled back ({} rows before line {} are committed; "
          "importing the file again is safe)",
          path, batch_first_line, last_line,
          summary->accepted + summary->updated + summary->duplicates + summary->rejected, batch_first_line));
    }
    const WriteResult& r = *wr;
    summary->read += batch_counts.read;
    summary->rejected += batch_counts.rejected;
    summary->accepted += r.items_inserted + r.users_inserted + r.events_stored;
    summary->updated += r.items_updated + r.users_updated;
    summary->duplicates += r.events_duplicate;
    if (r.events_duplicate) summary->reasons["duplicate event"] += r.events_duplicate;
    for (const auto& [k, v] : batch_reasons) summary->reasons[k] += v;
    batch_reasons.clear();
    summary->placeholder_items += r.placeholder_items;
    summary->placeholder_users += r.placeholder_users;
    summary->committed_through_line = last_line;
    ++summary->batches;
    batch.items.clear();
    batch.users.clear();
    batch.events.clear();
    batch.quarantine.clear();
    batch_counts.read = batch_counts.rejected = 0;
    arena.Clear();
    in_batch = 0;
    return Status::Ok();
  };

  Row row;
  row.vals.resize(ncols);
  Status status;
  while (scanner->Next(&rec)) {
    if (in_batch == 0) batch_first_line = rec.line;
    last_line = rec.line + rec.lines - 1;
    ++batch_counts.read;
    ++in_batch;
    row.src = SourceRef{source_id, rec.line, arena.Copy(rec.text)};
    std::optional<Reject> reject;
    if (rec.too_long) {
      reject = Reject{"record too long",
                      fmt::format("record of {} bytes is longer than import.max_record_bytes ({}); the first {} bytes "
                                  "are kept",
                                  rec.full_bytes, so.max_record_bytes, so.max_record_bytes),
                      ""};
    } else if (rec.eof_in_quotes) {
      reject = Reject{
          "malformed CSV",
          fmt::format("the file ends inside a quoted field that starts on line {} (truncated file?)", rec.line), ""};
    } else if (is_csv) {
      std::string err = SplitCsv(rec.text, delimiter, &fields, &scratch);
      if (!err.empty()) {
        reject = Reject{"malformed CSV", "malformed CSV: " + err, ""};
      } else if (fields.size() != col_of.size()) {
        reject = Reject{"wrong number of fields",
                        fmt::format("expected {} fields (as in the header), got {}{}", col_of.size(), fields.size(),
                                    scanner->consumed() >= scanner->file_size() && fields.size() < col_of.size()
                                        ? " (the file may end mid-record)"
                                        : ""),
                        ""};
      } else {
        std::fill(row.vals.begin(), row.vals.end(), std::string_view());
        row.attrs = nullptr;
        for (size_t i = 0; i < fields.size(); ++i) {
          int c = col_of[i];
          if (c >= 0)
            row.vals[c] = fields[i];
          else if (!fields[i].empty()) {
            std::string v(fields[i]);
            RepairUtf8(&v);
            row.attrs[header_names[i]] = std::move(v);
          }
        }
      }
    } else {
      // JSONL: one object per line.
      json obj;
      std::string err;
      if (!IsValidUtf8(rec.text)) {
        reject = Reject{"invalid UTF-8", "invalid UTF-8 in a JSON line", ""};
      } else {
        try {
          obj = json::parse(rec.text);
          if (!obj.is_object()) err = fmt::format("expected a JSON object, got {}", obj.type_name());
        } catch (const json::exception& e) {
          err = e.what();
          // Drop nlohmann's "[json.exception.parse_error.101] " prefix.
          if (auto p = err.find("] "); p != std::string::npos) err = err.substr(p + 2);
        }
        if (!err.empty()) reject = Reject{"malformed JSON", "malformed JSON: " + err, ""};
      }
      if (!reject) {
        scratch.clear();
        std::vector<std::string> texts(ncols);
        std::fill(row.vals.begin(), row.vals.end(), std::string_view());
        row.attrs = nullptr;
        for (auto& [k, v] : obj.items()) {
          int c = FindColumn(schema, k);
          if (c >= 0) {
            texts[c] =
                JsonScalarText(v, options.table == "items" && c == kITags, options.table == "items" && c == kICategory);
          } else {
            row.attrs[k] = v;
          }
        }
        // A missing key is an empty value: validation decides (an event of
        // type search needs no item_id), with the same reasons as for CSV.
        // The views must outlive validation: keep the texts in the arena.
        for (size_t c = 0; c < ncols; ++c) row.vals[c] = texts[c].empty() ? std::string_view() : arena.Copy(texts[c]);
      }
    }
    if (!reject) {
      if (options.table == "items") {
        Item item;
        reject = ValidateItem(row, ctx, &item);
        if (!reject) batch.items.push_back(std::move(item));
      } else if (options.table == "users") {
        User user;
        reject = ValidateUser(row, ctx, &user);
        if (!reject) batch.users.push_back(std::move(user));
      } else {
        Event e;
        reject = ValidateEvent(row, ctx, &e);
        if (!reject) batch.events.push_back(std::move(e));
      }
    }
    if (reject) {
      QuarantineRecord q;
      q.table = options.table;
      q.reason = reject->reason;
      q.detail = reject->detail;
      q.column = reject->column;
      q.src = row.src;
      ++batch_counts.rejected;
      ++batch_reasons[q.reason];
      if (options.on_reject) options.on_reject(q);
      batch.quarantine.push_back(std::move(q));
    }
    if (in_batch >= batch_rows) {
      status = flush();
      if (!status.ok()) break;
    }
    progress.Update(scanner->consumed(), summary->read + batch_counts.read);
  }
  if (status.ok() && !scanner->status().ok()) status = scanner->status().WithContext(path);
  if (status.ok()) status = flush();
  progress.Finish();
  if (!status.ok()) {
    SourceInfo done;
    done.id = source_id;
    done.status = "failed";
    (void)store->FinishSource(done);
    summary->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return status;
  }
  SourceInfo done;
  done.id = source_id;
  done.status = "done";
  SOUK_RETURN_IF_ERROR(store->FinishSource(done));
  summary->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return Status::Ok();
}

std::string SummaryJson(const ImportSummary& s) {
  json j;
  j["file"] = s.path;
  j["table"] = s.table;
  j["format"] = s.format;
  j["read"] = s.read;
  j["accepted"] = s.accepted;
  j["updated"] = s.updated;
  j["duplicates"] = s.duplicates;
  j["rejected"] = s.rejected;
  j["reasons"] = json::object();
  for (const auto& [k, v] : s.reasons) j["reasons"][k] = v;
  j["warnings"] = json::object();
  for (const auto& [k, v] : s.warnings) j["warnings"][k] = v;
  j["new_users_from_events"] = s.placeholder_users;
  j["unknown_items_in_events"] = s.placeholder_items;
  j["batches"] = s.batches;
  j["seconds"] = std::round(s.seconds * 1000) / 1000;
  j["rows_per_second"] = s.seconds > 0 ? std::round(s.read / s.seconds) : 0.0;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string SummaryText(const ImportSummary& s) {
  std::string out =
      fmt::format("{} ({} {}): read {}, accepted {}, updated {}, duplicates {}, rejected {}  [{:.2f} s, {} rows/s]\n",
                  s.path, s.table, s.format, WithThousands(s.read), WithThousands(s.accepted), WithThousands(s.updated),
                  WithThousands(s.duplicates), WithThousands(s.rejected), s.seconds,
                  WithThousands(s.seconds > 0 ? static_cast<uint64_t>(s.read / s.seconds) : 0));
  if (!s.reasons.empty()) {
    out += "  not stored:";
    for (const auto& [k, v] : s.reasons) out += fmt::format(" {} {};", k, WithThousands(v));
    out.back() = '\n';
  }
  if (!s.warnings.empty()) {
    out += "  repaired:";
    for (const auto& [k, v] : s.warnings) out += fmt::format(" {} {};", k, WithThousands(v));
    out.back() = '\n';
  }
  if (s.placeholder_users || s.placeholder_items)
    out += fmt::format("  events named {} users and {} items not seen before (kept as placeholders)\n",
                       WithThousands(s.placeholder_users), WithThousands(s.placeholder_items));
  return out;
}

}  // namespace souk::ingest
