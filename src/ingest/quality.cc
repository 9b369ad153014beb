// Data-quality rules. Each rule reads the store's flat columns and produces a
// Finding: what it checked, how many records it flagged, their ids, examples
// and a score. Thresholds come from souk.toml (quality.*).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>
#include <tuple>
#include <unordered_map>

#include "ingest/ingest.h"

namespace souk::ingest {
namespace {

using json = nlohmann::json;

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  size_t n = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + n, v.end());
  double hi = v[n];
  if (v.size() % 2) return hi;
  double lo = *std::max_element(v.begin(), v.begin() + n);
  return (lo + hi) / 2;
}

// Decodes UTF-8 (assumed valid) into code points.
std::vector<uint32_t> CodePoints(std::string_view s) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    uint32_t cp;
    size_t len;
    if (c < 0x80) {
      cp = c;
      len = 1;
    } else if ((c >> 5) == 6) {
      cp = c & 0x1F;
      len = 2;
    } else if ((c >> 4) == 14) {
      cp = c & 0x0F;
      len = 3;
    } else if ((c >> 3) == 30) {
      cp = c & 0x07;
      len = 4;
    } else {
      ++i;
      continue;
    }
    for (size_t k = 1; k < len && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out.push_back(cp);
    i += len;
  }
  return out;
}

bool IsCp1252Special(uint32_t cp) {
  static const uint32_t kSet[] = {0x20AC, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030,
                                  0x0160, 0x2039, 0x0152, 0x017D, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
                                  0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x017E, 0x0178};
  return std::find(std::begin(kSet), std::end(kSet), cp) != std::end(kSet);
}

// Why a title is broken, or empty if it looks fine.
std::string TitleProblem(std::string_view title) {
  std::string_view t = Trim(title);
  if (t.empty()) return "empty";
  if (t.find("\xEF\xBF\xBD") != std::string_view::npos) return "invalid_utf8";
  // HTML: a tag "<x", "</x" closed by '>', or an entity "&amp;" / "&#39;".
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '<' && i + 1 < t.size() && (std::isalpha(static_cast<unsigned char>(t[i + 1])) || t[i + 1] == '/') &&
        t.find('>', i) != std::string_view::npos)
      return "html";
    if (t[i] == '&') {
      size_t j = i + 1;
      if (j < t.size() && t[j] == '#') ++j;
      size_t k = j;
      while (k < t.size() && std::isalnum(static_cast<unsigned char>(t[k])) && k - j < 8) ++k;
      if (k > j && k < t.size() && t[k] == ';') return "html";
    }
  }
  // Mojibake: UTF-8 bytes decoded as Latin-1/cp1252 leave a lead-byte letter
  // (U+00C2..U+00EF) followed by a continuation-range char or a cp1252 symbol.
  auto cps = CodePoints(t);
  for (size_t i = 0; i + 1 < cps.size(); ++i) {
    if (cps[i] >= 0xC2 && cps[i] <= 0xEF && ((cps[i + 1] >= 0x80 && cps[i + 1] <= 0xBF) || IsCp1252Special(cps[i + 1])))
      return "mojibake";
  }
  for (uint32_t cp : cps)
    if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0)) return "control_characters";
  return "";
}

// Indices of a sequence that are not part of its longest non-decreasing
// subsequence, preferring to keep earlier elements on ties.
std::vector<size_t> OutOfOrder(const std::vector<int64_t>& ts) {
  size_t n = ts.size();
  // len[i]: longest non-decreasing subsequence starting at i (computed from
  // the right as longest non-increasing on the reversed sequence).
  std::vector<int> len(n);
  std::vector<int64_t> tails;  // tails[k]: largest start value of a run of length k+1 (negated trick)
  for (size_t ii = n; ii-- > 0;) {
    // Work on -ts so that "non-decreasing from i" becomes "non-increasing".
    int64_t v = -ts[ii];
    auto it = std::upper_bound(tails.begin(), tails.end(), v);
    len[ii] = static_cast<int>(it - tails.begin()) + 1;
    if (it == tails.end())
      tails.push_back(v);
    else
      *it = v;
  }
  int need = tails.empty() ? 0 : static_cast<int>(tails.size());
  std::vector<size_t> out;
  int64_t last = std::numeric_limits<int64_t>::min();
  for (size_t i = 0; i < n; ++i) {
    if (need > 0 && len[i] == need && ts[i] >= last) {
      last = ts[i];
      --need;
    } else {
      out.push_back(i);
    }
  }
  return out;
}

struct Ctx {
  const Config* config;
  std::vector<ItemRow> items;
  std::vector<UserRow> users;
  EventColumns ev;
  std::vector<QuarantineRow> quarantine;
  std::vector<SourceInfo> sources;
  std::unordered_map<int64_t, std::string> source_path;
  std::vector<std::string> type_names;  // by type id
  bool multi_event_sources = false;
  size_t examples = 5;
  std::vector<uint8_t> plausible_ts;  // per event
  std::vector<uint8_t> bot_user;      // per user
};

std::string EventKey(const Ctx& c, size_t i) {
  if (!c.multi_event_sources) return std::to_string(c.ev.line[i]);
  auto it = c.source_path.find(c.ev.source[i]);
  return fmt::format("{}:{}", it == c.source_path.end() ? "?" : it->second, c.ev.line[i]);
}

std::string EventDesc(const Ctx& c, size_t i) {
  std::string item = c.ev.item[i] == kNoId ? "-" : c.items[c.ev.item[i]].ext_id;
  std::string type = c.ev.type[i] < c.type_names.size() ? c.type_names[c.ev.type[i]] : std::to_string(c.ev.type[i]);
  return fmt::format("line {}: user {} {} item {} at {}", EventKey(c, i), c.users[c.ev.user[i]].ext_id, type, item,
                     FormatTimestamp(c.ev.ts_ms[i]));
}

void Finish(Finding* f) {
  f->count = f->flagged.size();
  f->score = f->checked ? 1.0 - static_cast<double>(f->count) / f->checked : 1.0;
}

void AddExample(const Ctx& c, Finding* f, std::string text) {
  if (f->examples.size() < c.examples) f->examples.push_back(std::move(text));
}

// ---- rules -------------------------------------------------------------------------

void QuarantineRules(Ctx& c, std::vector<Finding>* out) {
  std::map<std::string, uint64_t> read_by_table;
  for (const auto& s : c.sources) read_by_table[s.table] += s.read;
  std::map<std::string, Finding> invalid;
  Finding dup;
  dup.rule = "duplicate_event";
  dup.table = "events";
  dup.description = "events identical to a stored one in user, item, type, timestamp and session (not stored twice)";
  dup.checked = read_by_table["events"];
  std::set<int64_t> event_sources;
  for (const auto& s : c.sources)
    if (s.table == "events") event_sources.insert(s.id);
  bool multi = event_sources.size() > 1;
  for (const auto& q : c.quarantine) {
    std::string key = (q.table == "events" && !multi) || q.table != "events"
                          ? std::to_string(q.line)
                          : fmt::format("{}:{}", q.source_path, q.line);
    if (q.table != "events" || !multi) {
      // Non-event tables may also come from several files.
      size_t n = 0;
      for (const auto& s : c.sources) n += s.table == q.table;
      if (n > 1) key = fmt::format("{}:{}", q.source_path, q.line);
    }
    if (q.reason == "duplicate event") {
      dup.flagged.push_back(key);
      AddExample(c, &dup, fmt::format("{}:{}: {}", q.source_path, q.line, Shorten(q.raw)));
      continue;
    }
    Finding& f = invalid[q.table];
    if (f.rule.empty()) {
      f.rule = "invalid_row";
      f.table = q.table;
      f.description = "rows rejected at import (kept in quarantine with the reason)";
      f.checked = read_by_table[q.table];
    }
    f.flagged.push_back(key);
    AddExample(c, &f, fmt::format("{}:{}: {}", q.source_path, q.line, q.detail.empty() ? q.reason : q.detail));
  }
  for (auto& [table, f] : invalid) {
    Finish(&f);
    out->push_back(std::move(f));
  }
  for (const auto& [table, n] : read_by_table) {
    if (!invalid.count(table)) {
      Finding f;
      f.rule = "invalid_row";
      f.table = table;
      f.description = "rows rejected at import (kept in quarantine with the reason)";
      f.checked = n;
      Finish(&f);
      out->push_back(std::move(f));
    }
  }
  Finish(&dup);
  out->push_back(std::move(dup));
}

void MissingValueRules(Ctx& c, std::vector<Finding>* out) {
  struct Col {
    const char* name;
    bool (*missing)(const ItemRow&);
  };
  const Col cols[] = {
      {"title", [](const ItemRow& r) { return Trim(r.title).empty(); }},
      {"description", [](const ItemRow& r) { return Trim(r.description).empty(); }},
      {"brand", [](const ItemRow& r) { return Trim(r.brand).empty(); }},
      {"category", [](const ItemRow& r) { return r.category.empty(); }},
      {"price", [](const ItemRow& r) { return std::isnan(r.price); }},
  };
  for (const auto& col : cols) {
    Finding f;
    f.rule = "missing_value";
    f.table = "items";
    f.column = col.name;
    f.description = fmt::format("catalog items without a {}", col.name);
    for (const auto& it : c.items) {
      if (!it.known || it.deleted) continue;
      ++f.checked;
      if (col.missing(it)) {
        f.flagged.push_back(it.ext_id);
        AddExample(c, &f, it.ext_id);
      }
    }
    Finish(&f);
    out->push_back(std::move(f));
  }
}

void OrphanRules(Ctx& c, std::vector<Finding>* out) {
  bool have_users = std::any_of(c.users.begin(), c.users.end(), [](const UserRow& u) { return u.known; });
  bool have_items = std::any_of(c.items.begin(), c.items.end(), [](const ItemRow& i) { return i.known; });
  Finding fi, fu;
  fi.rule = "orphan_item";
  fi.table = "events";
  fi.column = "item_id";
  fi.description = "events naming an item that is not in the catalog";
  fu.rule = "orphan_user";
  fu.table = "events";
  fu.column = "user_id";
  fu.description = "events naming a user that is not among the imported users";
  for (size_t i = 0; i < c.ev.size(); ++i) {
    if (have_items && c.ev.item[i] != kNoId) {
      ++fi.checked;
      if (!c.items[c.ev.item[i]].known) {
        fi.flagged.push_back(EventKey(c, i));
        fi.event_rowids.push_back(c.ev.rowid[i]);
        AddExample(c, &fi, EventDesc(c, i));
      }
    }
    if (have_users) {
      ++fu.checked;
      if (!c.users[c.ev.user[i]].known) {
        fu.flagged.push_back(EventKey(c, i));
        fu.event_rowids.push_back(c.ev.rowid[i]);
        AddExample(c, &fu, EventDesc(c, i));
      }
    }
  }
  if (!have_items) fi.description += " (skipped: no catalog imported)";
  if (!have_users) fu.description += " (skipped: no users imported)";
  Finish(&fi);
  Finish(&fu);
  out->push_back(std::move(fi));
  out->push_back(std::move(fu));
}

Status TimestampRules(Ctx& c, std::vector<Finding>* out) {
  int64_t now = NowMs();
  if (const std::string& n = c.config->GetString("quality.now"); !n.empty()) {
    auto t = ParseTimestamp(n);
    if (!t.ok()) return Status::InvalidArgument(fmt::format("quality.now: invalid time '{}'", n));
    now = *t;
  }
  int64_t future = now + c.config->GetInt("quality.future_tolerance_s") * 1000;
  auto min_ts = ParseTimestamp(c.config->GetString("quality.min_timestamp"));
  if (!min_ts.ok())
    return Status::InvalidArgument(
        fmt::format("quality.min_timestamp: invalid time '{}'", c.config->GetString("quality.min_timestamp")));
  Finding ff, fo;
  ff.rule = "future_timestamp";
  ff.table = "events";
  ff.column = "timestamp";
  ff.description = fmt::format("events later than {} (now plus the tolerance)", FormatTimestamp(future));
  fo.rule = "old_timestamp";
  fo.table = "events";
  fo.column = "timestamp";
  fo.description = fmt::format("events before {}", FormatTimestamp(*min_ts));
  c.plausible_ts.assign(c.ev.size(), 1);
  for (size_t i = 0; i < c.ev.size(); ++i) {
    int64_t t = c.ev.ts_ms[i];
    if (t > future) {
      c.plausible_ts[i] = 0;
      ff.flagged.push_back(EventKey(c, i));
      ff.event_rowids.push_back(c.ev.rowid[i]);
      AddExample(c, &ff, EventDesc(c, i));
    } else if (t < *min_ts) {
      c.plausible_ts[i] = 0;
      fo.flagged.push_back(EventKey(c, i));
      fo.event_rowids.push_back(c.ev.rowid[i]);
      AddExample(c, &fo, EventDesc(c, i));
    }
  }
  ff.checked = fo.checked = c.ev.size();
  Finish(&ff);
  Finish(&fo);
  out->push_back(std::move(ff));
  out->push_back(std::move(fo));

  // Out of order within a session: in file order, the events that are not on
  // the longest time-ordered path through the session (plausible times only).
  Finding f;
  f.rule = "out_of_order";
  f.table = "events";
  f.column = "timestamp";
  const int64_t tol = c.config->GetInt("quality.order_tolerance_s") * 1000;
  f.description = "events whose timestamp breaks the order of their session (in file order)";
  std::unordered_map<uint64_t, std::vector<size_t>> by_session;  // (user, session) -> events
  for (size_t i = 0; i < c.ev.size(); ++i) {
    if (!c.ev.session[i] || !c.plausible_ts[i]) continue;
    by_session[(static_cast<uint64_t>(c.ev.user[i]) << 32) | c.ev.session[i]].push_back(i);
  }
  std::vector<size_t> flagged;
  std::vector<int64_t> ts;
  for (auto& [key, idx] : by_session) {
    f.checked += idx.size();
    if (idx.size() < 2) continue;
    // Storage order is file order within a source; order by (source, line).
    std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
      return std::tie(c.ev.source[a], c.ev.line[a]) < std::tie(c.ev.source[b], c.ev.line[b]);
    });
    ts.clear();
    for (size_t i : idx) ts.push_back(c.ev.ts_ms[i]);
    auto bad = OutOfOrder(ts);
    if (bad.empty()) continue;
    std::vector<uint8_t> is_bad(idx.size(), 0);
    for (size_t b : bad) is_bad[b] = 1;
    for (size_t b : bad) {
      // How far off is it from its kept neighbours?
      int64_t prev = std::numeric_limits<int64_t>::min(), next = std::numeric_limits<int64_t>::max();
      for (size_t k = b; k-- > 0;)
        if (!is_bad[k]) {
          prev = ts[k];
          break;
        }
      for (size_t k = b + 1; k < idx.size(); ++k)
        if (!is_bad[k]) {
          next = ts[k];
          break;
        }
      bool off = (prev != std::numeric_limits<int64_t>::min() && prev - ts[b] > tol) ||
                 (next != std::numeric_limits<int64_t>::max() && ts[b] - next > tol);
      if (off) flagged.push_back(idx[b]);
    }
  }
  std::sort(flagged.begin(), flagged.end());
  for (size_t i : flagged) {
    f.flagged.push_back(EventKey(c, i));
    f.event_rowids.push_back(c.ev.rowid[i]);
    AddExample(c, &f, EventDesc(c, i) + " (session " + c.ev.sessions[c.ev.session[i]] + ")");
  }
  Finish(&f);
  out->push_back(std::move(f));
  return Status::Ok();
}

void BotRule(Ctx& c, std::vector<Finding>* out) {
  const int64_t per_minute = c.config->GetInt("quality.bot_events_per_minute");
  const int64_t min_gaps = c.config->GetInt("quality.bot_regular_min_gaps");
  const double dispersion = c.config->GetDouble("quality.bot_gap_dispersion");
  const int64_t views_only_min = c.config->GetInt("quality.bot_views_only_min");
  Finding f;
  f.rule = "bot_user";
  f.table = "users";
  f.column = "user_id";
  f.description = fmt::format(
      "users with >= {} events in a minute, machine-regular gaps (MAD < {:.0f}% of the median over >= {} gaps), "
      "or >= {} views and no other action",
      per_minute, dispersion * 100, min_gaps, views_only_min);
  // Group plausible events by user, in time order.
  const size_t nu = c.users.size();
  std::vector<uint32_t> start(nu + 1, 0);
  uint64_t non_view = 0, plausible = 0;
  for (size_t i = 0; i < c.ev.size(); ++i) {
    if (!c.plausible_ts[i]) continue;
    ++start[c.ev.user[i] + 1];
    ++plausible;
    non_view += c.ev.type[i] != static_cast<uint8_t>(EventType::kView);
  }
  const bool log_has_actions = plausible && non_view >= plausible / 20;
  for (size_t u = 0; u < nu; ++u) start[u + 1] += start[u];
  std::vector<uint32_t> order(start[nu]);
  std::vector<uint32_t> fill(start.begin(), start.end() - 1);
  for (size_t i = 0; i < c.ev.size(); ++i)
    if (c.plausible_ts[i]) order[fill[c.ev.user[i]]++] = static_cast<uint32_t>(i);
  c.bot_user.assign(nu, 0);
  std::vector<double> gaps;
  for (size_t u = 0; u < nu; ++u) {
    auto b = order.begin() + start[u], e = order.begin() + start[u + 1];
    size_t n = e - b;
    if (n == 0) continue;
    ++f.checked;
    if (n < 3) continue;
    std::sort(b, e, [&](uint32_t x, uint32_t y) { return c.ev.ts_ms[x] < c.ev.ts_ms[y]; });
    // Densest minute.
    size_t best = 0;
    for (size_t lo = 0, hi = 0; hi < n; ++hi) {
      while (c.ev.ts_ms[b[hi]] - c.ev.ts_ms[b[lo]] >= 60000) ++lo;
      best = std::max(best, hi - lo + 1);
    }
    std::string why;
    if (static_cast<int64_t>(best) >= per_minute) why = fmt::format("{} events within one minute", best);
    // Regularity of in-session gaps (0 < gap <= 30 min).
    if (why.empty()) {
      gaps.clear();
      for (size_t k = 1; k < n; ++k) {
        int64_t g = c.ev.ts_ms[b[k]] - c.ev.ts_ms[b[k - 1]];
        if (g > 0 && g <= 1800000) gaps.push_back(static_cast<double>(g));
      }
      if (static_cast<int64_t>(gaps.size()) >= min_gaps) {
        double med = Median(gaps);
        std::vector<double> dev(gaps.size());
        for (size_t k = 0; k < gaps.size(); ++k) dev[k] = std::fabs(gaps[k] - med);
        double mad = Median(dev);
        if (med > 0 && mad / med < dispersion)
          why = fmt::format("{} gaps, median {:.1f} s, deviation {:.1f}%", gaps.size(), med / 1000, 100 * mad / med);
      }
    }
    if (why.empty() && log_has_actions && static_cast<int64_t>(n) >= views_only_min) {
      bool only_views =
          std::all_of(b, e, [&](uint32_t i) { return c.ev.type[i] == static_cast<uint8_t>(EventType::kView); });
      if (only_views) why = fmt::format("{} views and no other action", n);
    }
    if (why.empty()) continue;
    c.bot_user[u] = 1;
    f.flagged.push_back(c.users[u].ext_id);
    AddExample(c, &f, fmt::format("{}: {}", c.users[u].ext_id, why));
  }
  for (size_t i = 0; i < c.ev.size(); ++i)
    if (c.bot_user[c.ev.user[i]]) f.event_rowids.push_back(c.ev.rowid[i]);
  Finish(&f);
  out->push_back(std::move(f));
}

void PriceRule(Ctx& c, std::vector<Finding>* out, std::vector<CategoryPrices>* prices) {
  const double zmax = c.config->GetDouble("quality.price_z");
  const double min_ratio = std::max(1.0, c.config->GetDouble("quality.price_min_ratio"));
  const size_t min_items = static_cast<size_t>(std::max<int64_t>(3, c.config->GetInt("quality.price_min_items")));
  Finding f;
  f.rule = "price_outlier";
  f.table = "items";
  f.column = "price";
  f.description = fmt::format(
      "prices whose robust z-score of log price within the category exceeds {} and that are {}x or more off its median "
      "({}x when the category has under 3 priced items and its parent is used)",
      zmax, min_ratio, min_ratio * min_ratio);
  // Centre: the median log price of the item's own category when it has at
  // least 3 priced items (a median of 3 survives one outlier), else of its
  // parent if that has min_items. Scale: the MAD of items' deviations from
  // their own category's centre, pooled over the category or, when it is
  // small, over its nearest ancestor (or the whole catalog) with min_items
  // such deviations. Pooling
  // deviations (not prices) keeps a parent's mix of cheap and dear leaves from
  // looking like outliers.
  std::unordered_map<std::string, std::vector<double>> by_path;  // every prefix -> log prices
  std::unordered_map<std::string, std::vector<double>> own;      // exact category -> log prices
  auto prefixes = [](const std::string& cat) {
    std::vector<std::string> out;
    size_t pos = 0;
    for (;;) {
      size_t gt = cat.find(" > ", pos);
      out.push_back(cat.substr(0, gt));
      if (gt == std::string::npos) break;
      pos = gt + 3;
    }
    return out;  // shortest first
  };
  for (const auto& it : c.items) {
    if (!it.known || it.deleted || !(it.price > 0)) continue;
    double lp = std::log(it.price);
    own[it.category].push_back(lp);
    for (auto& p : prefixes(it.category)) by_path[p].push_back(lp);
  }
  std::unordered_map<std::string, double> own_median, path_median;
  for (auto& [cat, v] : own)
    if (v.size() >= 3) own_median[cat] = Median(v);
  for (auto& [path, v] : by_path)
    if (v.size() >= min_items) path_median[path] = Median(v);
  // Deviations from the own-category centre, pooled per prefix.
  std::unordered_map<std::string, std::vector<double>> dev_by_path;
  for (const auto& [cat, v] : own) {
    auto m = own_median.find(cat);
    if (m == own_median.end()) continue;
    // "" pools the whole catalog: the last resort for the scale.
    for (auto& p : prefixes(cat))
      for (double x : v) dev_by_path[p].push_back(std::fabs(x - m->second));
    for (double x : v) dev_by_path[""].push_back(std::fabs(x - m->second));
  }
  std::unordered_map<std::string, double> path_mad;
  for (auto& [path, d] : dev_by_path)
    if (d.size() >= min_items) path_mad[path] = std::max(Median(d), 0.05);
  for (const auto& it : c.items) {
    if (!it.known || it.deleted || !(it.price > 0)) continue;
    auto pre = prefixes(it.category);
    double centre = 0, mad = 0;
    std::string used;
    bool have_centre = false, have_mad = false;
    if (auto m = own_median.find(it.category); m != own_median.end()) {
      centre = m->second;
      used = it.category;
      have_centre = true;
    }
    pre.insert(pre.begin(), "");
    for (auto p = pre.rbegin(); p != pre.rend(); ++p) {
      // A centre from an ancestor: only the parent, which is still specific.
      if (!have_centre && pre.size() >= 3 && *p == pre[pre.size() - 2]) {
        if (auto m = path_median.find(*p); m != path_median.end()) {
          centre = m->second;
          used = *p;
          have_centre = true;
        }
      }
      if (!have_mad) {
        if (auto m = path_mad.find(*p); m != path_mad.end()) {
          mad = m->second;
          have_mad = true;
        }
      }
    }
    if (!have_centre || !have_mad) continue;
    ++f.checked;
    double z = 0.6745 * (std::log(it.price) - centre) / mad;
    // Both tests: z alone flags ordinary spread in small, tight categories.
    // An item judged against an ancestor (its own category has < 3 priced
    // items) is compared with a mix of leaves, so it must be off by the
    // square of the ratio.
    double need = used == it.category ? std::log(min_ratio) : 2 * std::log(min_ratio);
    if (std::fabs(z) > zmax && std::fabs(std::log(it.price) - centre) >= need) {
      f.flagged.push_back(it.ext_id);
      AddExample(c, &f,
                 fmt::format("{} '{}': price {:.2f}, category '{}' median {:.2f} (z = {:.1f})", it.ext_id,
                             Shorten(it.title), it.price, used.empty() ? "(none)" : used, std::exp(centre), z));
    }
  }
  // Histograms for the report: leaf categories with outliers first, then the
  // ones with the most priced items; 12 in all.
  std::unordered_map<std::string, std::vector<double>> flagged_by_cat;
  {
    std::set<std::string> ids(f.flagged.begin(), f.flagged.end());
    for (const auto& it : c.items)
      if (it.known && !it.deleted && it.price > 0 && ids.count(it.ext_id))
        flagged_by_cat[it.category].push_back(std::log(it.price));
  }
  std::vector<std::tuple<bool, size_t, std::string>> leaves;
  for (const auto& [cat, v] : own) leaves.emplace_back(flagged_by_cat.count(cat) > 0, v.size(), cat);
  std::sort(leaves.begin(), leaves.end(), [](const auto& a, const auto& b) {
    if (std::get<0>(a) != std::get<0>(b)) return std::get<0>(a);
    if (std::get<1>(a) != std::get<1>(b)) return std::get<1>(a) > std::get<1>(b);
    return std::get<2>(a) < std::get<2>(b);
  });
  for (size_t k = 0; k < leaves.size() && k < 12; ++k) {
    const std::string& cat = std::get<2>(leaves[k]);
    prices->push_back(CategoryPrices{cat, own[cat], flagged_by_cat[cat]});
  }
  Finish(&f);
  out->push_back(std::move(f));
}

void TitleRule(Ctx& c, std::vector<Finding>* out) {
  Finding f;
  f.rule = "broken_title";
  f.table = "items";
  f.column = "title";
  f.description =
      "titles that are empty, hold invalid UTF-8 (replaced at import), HTML, mojibake or control characters";
  for (const auto& it : c.items) {
    if (!it.known || it.deleted) continue;
    ++f.checked;
    std::string why = TitleProblem(it.title);
    if (why.empty()) continue;
    f.flagged.push_back(it.ext_id);
    AddExample(c, &f, fmt::format("{}: {} '{}'", it.ext_id, why, Shorten(it.title)));
  }
  Finish(&f);
  out->push_back(std::move(f));
}

void DayRules(Ctx& c, std::vector<Finding>* out, std::vector<DayStats>* days_out) {
  const double ratio = c.config->GetDouble("quality.day_volume_ratio");
  const double max_tvd = c.config->GetDouble("quality.day_mix_tvd");
  const int64_t window = c.config->GetInt("quality.day_window");
  const double min_events = static_cast<double>(c.config->GetInt("quality.day_min_events"));
  Finding fv, fm;
  fv.rule = "volume_shift";
  fv.table = "days";
  fv.description =
      fmt::format("days whose event count is more than {}x off the median of the {} days around them (bots excluded)",
                  ratio, 2 * window);
  fm.rule = "mix_shift";
  fm.table = "days";
  fm.description = fmt::format(
      "days whose event-type mix is more than {} (total variation) from the surrounding days' mix", max_tvd);
  // Per-day counts by type, for plausible non-bot events.
  std::map<int64_t, std::vector<uint64_t>> per_day;
  const size_t ntypes = 256;
  for (size_t i = 0; i < c.ev.size(); ++i) {
    if (!c.plausible_ts[i] || c.bot_user[c.ev.user[i]]) continue;
    int64_t t = c.ev.ts_ms[i];
    int64_t day = (t >= 0 ? t : t - 86399999) / 86400000;
    auto& v = per_day[day];
    if (v.empty()) v.assign(ntypes, 0);
    ++v[c.ev.type[i]];
  }
  if (per_day.empty()) {
    out->push_back(std::move(fv));
    out->push_back(std::move(fm));
    return;
  }
  int64_t first = per_day.begin()->first, last = per_day.rbegin()->first;
  std::vector<int> used_types;
  {
    std::vector<uint64_t> tot(ntypes, 0);
    for (auto& [d, v] : per_day)
      for (size_t t = 0; t < ntypes; ++t) tot[t] += v[t];
    for (size_t t = 0; t < ntypes; ++t)
      if (tot[t]) used_types.push_back(static_cast<int>(t));
  }
  const int64_t ndays = last - first + 1;
  std::vector<double> total(ndays, 0);
  std::vector<std::vector<double>> share(ndays, std::vector<double>(used_types.size(), 0));
  for (int64_t d = 0; d < ndays; ++d) {
    auto it = per_day.find(first + d);
    DayStats ds;
    ds.date = FormatDate((first + d) * 86400000);
    if (it != per_day.end()) {
      for (size_t k = 0; k < used_types.size(); ++k) {
        uint64_t n = it->second[used_types[k]];
        total[d] += n;
        ds.total += n;
        if (n)
          ds.by_type[c.type_names.size() > static_cast<size_t>(used_types[k]) ? c.type_names[used_types[k]]
                                                                              : std::to_string(used_types[k])] = n;
      }
      for (size_t k = 0; k < used_types.size(); ++k)
        share[d][k] = total[d] > 0 ? it->second[used_types[k]] / total[d] : 0;
    }
    days_out->push_back(std::move(ds));
  }
  // The first and last day of a log are usually partial: they are baselines
  // for their neighbours but are not judged themselves.
  for (int64_t d = 1; d + 1 < ndays; ++d) {
    std::vector<double> base;
    std::vector<std::vector<double>> base_share(used_types.size());
    for (int64_t k = std::max<int64_t>(1, d - window); k <= std::min<int64_t>(ndays - 2, d + window); ++k) {
      if (k == d) continue;
      base.push_back(total[k]);
      if (total[k] > 0)
        for (size_t t = 0; t < used_types.size(); ++t) base_share[t].push_back(share[k][t]);
    }
    if (base.size() < 3) continue;
    double median = Median(base);
    if (median < min_events) continue;
    ++fv.checked;
    double r = (total[d] + 1) / (median + 1);
    std::string date = FormatDate((first + d) * 86400000);
    if (r > ratio || r < 1 / ratio) {
      fv.flagged.push_back(date);
      AddExample(c, &fv,
                 fmt::format("{}: {} events, the surrounding days' median is {}", date, static_cast<uint64_t>(total[d]),
                             static_cast<uint64_t>(median)));
    }
    if (total[d] < std::max(50.0, min_events / 4)) continue;
    ++fm.checked;
    std::vector<double> q(used_types.size());
    double qsum = 0;
    for (size_t t = 0; t < used_types.size(); ++t) qsum += q[t] = Median(base_share[t]);
    double tvd = 0;
    std::string moved;
    double biggest = 0;
    for (size_t t = 0; t < used_types.size(); ++t) {
      double qt = qsum > 0 ? q[t] / qsum : 0;
      double diff = share[d][t] - qt;
      tvd += std::fabs(diff) / 2;
      if (std::fabs(diff) > biggest) {
        biggest = std::fabs(diff);
        std::string name = static_cast<size_t>(used_types[t]) < c.type_names.size() ? c.type_names[used_types[t]]
                                                                                    : std::to_string(used_types[t]);
        moved = fmt::format("{} {:.1f}% vs {:.1f}%", name, 100 * share[d][t], 100 * qt);
      }
    }
    if (tvd > max_tvd) {
      fm.flagged.push_back(date);
      AddExample(c, &fm, fmt::format("{}: distance {:.2f}; {}", date, tvd, moved));
    }
  }
  Finish(&fv);
  Finish(&fm);
  out->push_back(std::move(fv));
  out->push_back(std::move(fm));
}

void ColumnStatsOf(Ctx& c, QualityReport* r) {
  auto& items = r->columns["items"];
  for (const auto& it : c.items) {
    if (!it.known || it.deleted) continue;
    if (Trim(it.title).empty()) ++items["title"].missing;
    if (Trim(it.description).empty()) ++items["description"].missing;
    if (Trim(it.brand).empty()) ++items["brand"].missing;
    if (it.category.empty()) ++items["category"].missing;
    if (it.tags.empty()) ++items["tags"].missing;
    if (std::isnan(it.price)) ++items["price"].missing;
    if (it.stock < 0) ++items["stock"].missing;
  }
  auto& events = r->columns["events"];
  for (size_t i = 0; i < c.ev.size(); ++i) {
    if (!c.ev.session[i]) ++events["session_id"].missing;
    if (c.ev.item[i] == kNoId) ++events["item_id"].missing;
  }
  for (const auto& q : c.quarantine) {
    if (q.reason == "duplicate event") continue;
    ++r->columns[q.table][q.column.empty() ? "(row)" : q.column].invalid;
  }
}

}  // namespace

Result<QualityReport> RunQuality(Store* store, const Config& config) {
  Ctx c;
  c.config = &config;
  c.examples = static_cast<size_t>(std::max<int64_t>(0, config.GetInt("quality.examples")));
  SOUK_ASSIGN_OR_RETURN(c.items, store->LoadItems());
  SOUK_ASSIGN_OR_RETURN(c.users, store->LoadUsers());
  SOUK_ASSIGN_OR_RETURN(c.ev, store->LoadEvents(false));
  SOUK_ASSIGN_OR_RETURN(c.quarantine, store->LoadQuarantine());
  SOUK_ASSIGN_OR_RETURN(c.sources, store->Sources());
  for (const auto& s : c.sources) c.source_path[s.id] = s.path;
  {
    std::set<int32_t> ids(c.ev.source.begin(), c.ev.source.end());
    c.multi_event_sources = ids.size() > 1;
  }
  SOUK_ASSIGN_OR_RETURN(auto reg, EventTypesFromConfig(config));
  c.type_names.resize(256);
  for (int t = 0; t < 256; ++t) c.type_names[t] = reg.Name(t);

  QualityReport r;
  r.generated_ms = NowMs();
  SOUK_ASSIGN_OR_RETURN(r.counts, store->Counts());
  QuarantineRules(c, &r.findings);
  MissingValueRules(c, &r.findings);
  OrphanRules(c, &r.findings);
  SOUK_RETURN_IF_ERROR(TimestampRules(c, &r.findings));
  BotRule(c, &r.findings);
  PriceRule(c, &r.findings, &r.prices);
  TitleRule(c, &r.findings);
  DayRules(c, &r.findings, &r.days);
  ColumnStatsOf(c, &r);
  double sum = 0;
  int n = 0;
  for (const auto& f : r.findings)
    if (f.checked) {
      sum += f.score;
      ++n;
    }
  r.score = n ? sum / n : 1.0;
  return r;
}

Result<uint64_t> CleanEvents(Store* store, const QualityReport& report) {
  std::unordered_map<int64_t, uint32_t> flags;
  for (const auto& f : report.findings) {
    uint32_t bit = f.rule == "bot_user"           ? static_cast<uint32_t>(kFlagBot)
                   : f.rule == "future_timestamp" ? kFlagFutureTimestamp
                   : f.rule == "old_timestamp"    ? kFlagOldTimestamp
                   : f.rule == "orphan_item"      ? kFlagOrphanItem
                   : f.rule == "orphan_user"      ? kFlagOrphanUser
                   : f.rule == "out_of_order"     ? kFlagOutOfOrder
                                                  : 0u;
    if (!bit) continue;
    for (int64_t id : f.event_rowids) flags[id] |= bit;
  }
  std::vector<std::pair<int64_t, uint32_t>> list(flags.begin(), flags.end());
  std::sort(list.begin(), list.end());
  SOUK_RETURN_IF_ERROR(store->SetEventFlags(list));
  return static_cast<uint64_t>(list.size());
}

std::string QualityJson(const QualityReport& r) {
  json j;
  j["data_dir"] = r.data_dir;
  j["generated"] = FormatTimestamp(r.generated_ms);
  j["score"] = std::round(r.score * 10000) / 10000;
  j["counts"] = {{"items", r.counts.items},          {"placeholder_items", r.counts.placeholder_items},
                 {"users", r.counts.users},          {"placeholder_users", r.counts.placeholder_users},
                 {"events", r.counts.events},        {"flagged_events", r.counts.flagged_events},
                 {"quarantine", r.counts.quarantine}};
  j["rules"] = json::array();
  for (const auto& f : r.findings) {
    json x;
    x["rule"] = f.rule;
    x["table"] = f.table;
    if (!f.column.empty()) x["column"] = f.column;
    x["description"] = f.description;
    x["count"] = f.count;
    x["checked"] = f.checked;
    x["score"] = std::round(f.score * 10000) / 10000;
    // Event lines are numbers when they come from one file.
    json flagged = json::array();
    bool lines = f.table == "events" || f.rule == "invalid_row";
    for (const auto& id : f.flagged) {
      auto n = lines ? ParseInt(id) : std::nullopt;
      if (n && id.find(':') == std::string::npos)
        flagged.push_back(*n);
      else
        flagged.push_back(id);
    }
    x["flagged"] = std::move(flagged);
    x["examples"] = f.examples;
    j["rules"].push_back(std::move(x));
  }
  json cols = json::object();
  for (const auto& [table, m] : r.columns)
    for (const auto& [col, s] : m) cols[table][col] = {{"missing", s.missing}, {"invalid", s.invalid}};
  j["columns"] = cols;
  j["days"] = json::array();
  for (const auto& d : r.days) j["days"].push_back({{"date", d.date}, {"total", d.total}, {"by_type", d.by_type}});
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string QualityText(const QualityReport& r) {
  std::string out = fmt::format("data quality: score {:.3f}  ({} items, {} users, {} events, {} quarantined)\n\n",
                                r.score, WithThousands(r.counts.items), WithThousands(r.counts.users),
                                WithThousands(r.counts.events), WithThousands(r.counts.quarantine));
  out += fmt::format("{:<18} {:<7} {:<12} {:>9} {:>10} {:>7}  {}\n", "rule", "table", "column", "flagged", "checked",
                     "score", "example");
  for (const auto& f : r.findings) {
    out += fmt::format("{:<18} {:<7} {:<12} {:>9} {:>10} {:>7.4f}  {}\n", f.rule, f.table, f.column,
                       WithThousands(f.count), WithThousands(f.checked), f.score,
                       f.examples.empty() ? "" : Shorten(f.examples[0]));
  }
  return out;
}

}  // namespace souk::ingest
