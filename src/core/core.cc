#include "core/core.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "souk_version.h"  // generated: SOUK_GIT_REV

namespace souk {

// ---- event types -------------------------------------------------------------

std::string_view EventTypeName(EventType type) {
  switch (type) {
    case EventType::kView:
      return "view";
    case EventType::kClick:
      return "click";
    case EventType::kCart:
      return "cart";
    case EventType::kPurchase:
      return "purchase";
    case EventType::kRating:
      return "rating";
    case EventType::kSearch:
      return "search";
    case EventType::kImpression:
      return "impression";
  }
  return "unknown";
}

EventTypeRegistry::EventTypeRegistry() {
  for (int i = 0; i < kNumBuiltinEventTypes; ++i) {
    std::string name(EventTypeName(static_cast<EventType>(i)));
    names_.emplace_back(name, i);
    canonical_.emplace_back(i, name);
  }
  // Aliases seen in public shop logs (RetailRocket, Diginetica, GA4 exports).
  const std::pair<const char*, EventType> aliases[] = {
      {"views", EventType::kView},        {"pageview", EventType::kView},  {"page_view", EventType::kView},
      {"view_item", EventType::kView},    {"detail", EventType::kView},    {"clicks", EventType::kClick},
      {"select_item", EventType::kClick}, {"addtocart", EventType::kCart}, {"add_to_cart", EventType::kCart},
      {"add-to-cart", EventType::kCart},  {"basket", EventType::kCart},    {"transaction", EventType::kPurchase},
      {"order", EventType::kPurchase},    {"buy", EventType::kPurchase},   {"purchases", EventType::kPurchase},
      {"review", EventType::kRating},     {"query", EventType::kSearch},   {"impressions", EventType::kImpression},
  };
  for (const auto& [name, type] : aliases) names_.emplace_back(name, static_cast<int>(type));
}

Result<int> EventTypeRegistry::Add(std::string_view name) {
  std::string lower = ToLowerAscii(Trim(name));
  if (lower.empty()) return Status::InvalidArgument("empty event type name");
  if (Find(lower)) return Status::AlreadyExists("event type '" + lower + "' already exists");
  int id = kFirstExtraEventType;
  for (const auto& [cid, cname] : canonical_) id = std::max(id, cid + 1);
  if (id > 255) return Status::ResourceExhausted("too many event types (at most 240 custom)");
  names_.emplace_back(lower, id);
  canonical_.emplace_back(id, lower);
  return id;
}

std::optional<int> EventTypeRegistry::Find(std::string_view name) const {
  // Fast path: exact lower-case match (the common case in big files).
  for (const auto& [n, id] : names_)
    if (n == name) return id;
  std::string lower = ToLowerAscii(Trim(name));
  for (const auto& [n, id] : names_)
    if (n == lower) return id;
  return std::nullopt;
}

std::string EventTypeRegistry::Name(int id) const {
  for (const auto& [cid, cname] : canonical_)
    if (cid == id) return cname;
  return "type" + std::to_string(id);
}

std::vector<std::pair<int, std::string>> EventTypeRegistry::All() const { return canonical_; }

// ---- time --------------------------------------------------------------------

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

static void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yy + (*m <= 2);
}

static bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static unsigned DaysInMonth(int64_t y, unsigned m) {
  static const unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

namespace {

// Reads exactly n digits at s[*pos]; false if not digits.
bool Digits(std::string_view s, size_t* pos, int n, int* out) {
  if (*pos + n > s.size()) return false;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    char c = s[*pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *pos += n;
  *out = v;
  return true;
}

std::optional<int64_t> ParseIso8601(std::string_view s) {
  size_t p = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!Digits(s, &p, 4, &year) || p >= s.size() || s[p++] != '-') return std::nullopt;
  if (!Digits(s, &p, 2, &month) || p >= s.size() || s[p++] != '-') return std::nullopt;
  if (!Digits(s, &p, 2, &day)) return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > static_cast<int>(DaysInMonth(year, month))) return std::nullopt;
  int64_t ms = 0;
  int64_t offset_min = 0;
  if (p < s.size()) {
    if (s[p] != 'T' && s[p] != 't' && s[p] != ' ') return std::nullopt;
    ++p;
    if (!Digits(s, &p, 2, &hour) || p >= s.size() || s[p++] != ':') return std::nullopt;
    if (!Digits(s, &p, 2, &minute)) return std::nullopt;
    if (p < s.size() && s[p] == ':') {
      ++p;
      if (!Digits(s, &p, 2, &second)) return std::nullopt;
      if (p < s.size() && (s[p] == '.' || s[p] == ',')) {
        ++p;
        int64_t scale = 100;
        size_t start = p;
        while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
          ms += (s[p] - '0') * scale;
          scale /= 10;
          ++p;
        }
        if (p == start) return std::nullopt;
      }
    }
    if (hour > 23 || minute > 59 || second > 60) return std::nullopt;
    if (p < s.size()) {
      char c = s[p];
      if (c == 'Z' || c == 'z') {
        ++p;
      } else if (c == '+' || c == '-') {
        ++p;
        int oh, om = 0;
        if (!Digits(s, &p, 2, &oh)) return std::nullopt;
        if (p < s.size() && s[p] == ':') ++p;
        if (p < s.size() && !Digits(s, &p, 2, &om)) return std::nullopt;
        if (oh > 23 || om > 59) return std::nullopt;
        offset_min = (oh * 60 + om) * (c == '+' ? 1 : -1);
      } else {
        return std::nullopt;
      }
    }
  }
  if (p != s.size()) return std::nullopt;
  int64_t days = DaysFromCivil(year, month, day);
  int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_min * 60;
  return secs * 1000 + ms;
}

}  // namespace

Result<int64_t> ParseTimestamp(std::string_view text) {
  std::string_view s = Trim(text);
  if (s.empty()) return Status::InvalidArgument("empty timestamp");
  bool numeric = true;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E')) {
      numeric = false;
      break;
    }
  // "2026-03-01" is all digits and dashes: treat as a date when it looks like one.
  if (numeric && s.size() >= 10 && s[4] == '-') numeric = false;
  if (numeric) {
    auto v = ParseDouble(s);
    if (!v || !std::isfinite(*v)) return Status::InvalidArgument("not a number");
    double x = *v;
    double a = std::fabs(x);
    double ms = a >= 1e14 ? x / 1000.0 : a >= 1e11 ? x : x * 1000.0;
    if (std::fabs(ms) > 9.2e15) return Status::InvalidArgument("out of range");
    return static_cast<int64_t>(std::llround(ms));
  }
  auto iso = ParseIso8601(s);
  if (!iso) return Status::InvalidArgument("not Unix seconds or ISO-8601");
  return *iso;
}

std::string FormatTimestamp(int64_t ts_ms) {
  int64_t secs = ts_ms >= 0 ? ts_ms / 1000 : (ts_ms - 999) / 1000;
  int64_t ms = ts_ms - secs * 1000;
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  int64_t rem = secs - days * 86400;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  char buf[128];
  if (ms)
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ", static_cast<long long>(y), m, d,
                  static_cast<long long>(rem / 3600), static_cast<long long>(rem / 60 % 60),
                  static_cast<long long>(rem % 60), static_cast<long long>(ms));
  else
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ", static_cast<long long>(y), m, d,
                  static_cast<long long>(rem / 3600), static_cast<long long>(rem / 60 % 60),
                  static_cast<long long>(rem % 60));
  return buf;
}

std::string FormatDate(int64_t ts_ms) { return FormatTimestamp(ts_ms).substr(0, 10); }

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- numbers -------------------------------------------------------------------

std::optional<double> ParseDouble(std::string_view text) {
  std::string_view s = Trim(text);
  if (s.empty()) return std::nullopt;
  if (s[0] == '+') s.remove_prefix(1);
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<int64_t> ParseInt(std::string_view text) {
  std::string_view s = Trim(text);
  if (s.empty()) return std::nullopt;
  if (s[0] == '+') s.remove_prefix(1);
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) {
    // Accept "12.0" style integers written by spreadsheets.
    auto d = ParseDouble(s);
    if (d && std::isfinite(*d) && *d == std::floor(*d) && std::fabs(*d) < 9e15) return static_cast<int64_t>(*d);
    return std::nullopt;
  }
  return v;
}

// ---- text ----------------------------------------------------------------------

std::string_view Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\n')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r' || s[e - 1] == '\n')) --e;
  return s.substr(b, e - b);
}

std::vector<std::string> AsciiWords(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || u >= 0x80) {
      cur += static_cast<char>(std::tolower(u));
    } else if (!cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

std::vector<std::string_view> SplitTrimmed(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t end = s.find(sep, start);
    std::string_view part = Trim(s.substr(start, end == std::string_view::npos ? s.npos : end - start));
    if (!part.empty()) out.push_back(part);
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

std::string Join(const std::vector<std::string_view>& parts, std::string_view glue) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += glue;
    out += parts[i];
  }
  return out;
}

std::string ToLowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

namespace {
// Length of the valid UTF-8 sequence at s[i], or 0 if invalid.
size_t Utf8SeqLen(std::string_view s, size_t i) {
  const auto* u = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  unsigned char c = u[i];
  if (c < 0x80) return 1;
  auto cont = [&](size_t k) { return i + k < n && (u[i + k] & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c == 0xE0) return i + 1 < n && u[i + 1] >= 0xA0 && u[i + 1] <= 0xBF && cont(2) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(1) && cont(2) ? 3 : 0;
  if (c == 0xED) return i + 1 < n && u[i + 1] >= 0x80 && u[i + 1] <= 0x9F && cont(2) ? 3 : 0;
  if (c == 0xF0) return i + 1 < n && u[i + 1] >= 0x90 && u[i + 1] <= 0xBF && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c == 0xF4) return i + 1 < n && u[i + 1] >= 0x80 && u[i + 1] <= 0x8F && cont(2) && cont(3) ? 4 : 0;
  return 0;
}
}  // namespace

bool IsValidUtf8(std::string_view s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    // Skip ASCII eight bytes at a time.
    while (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if (w & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= n) break;
    size_t len = Utf8SeqLen(s, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

size_t RepairUtf8(std::string* s) {
  if (IsValidUtf8(*s)) return 0;
  std::string out;
  out.reserve(s->size() + 8);
  size_t replaced = 0;
  size_t i = 0;
  while (i < s->size()) {
    size_t len = Utf8SeqLen(*s, i);
    if (len) {
      out.append(*s, i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++replaced;
      ++i;
      // One replacement for a run of stray continuation bytes.
      while (i < s->size() && (static_cast<unsigned char>((*s)[i]) & 0xC0) == 0x80) ++i;
    }
  }
  *s = std::move(out);
  return replaced;
}

std::string Shorten(std::string_view s, size_t max) {
  if (s.size() <= max) return std::string(s);
  size_t cut = max > 3 ? max - 3 : 0;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return std::string(s.substr(0, cut)) + "...";
}

std::string HtmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string WithThousands(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  int count = 0;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (count && count % 3 == 0) out += ',';
    out += *it;
    ++count;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

// ---- progress ------------------------------------------------------------------

Progress::Progress(std::string label, uint64_t total)
    : label_(std::move(label)), total_(total), enabled_(isatty(STDERR_FILENO) != 0) {
  start_ = last_ = std::chrono::steady_clock::now();
}

Progress::~Progress() { Finish(); }

void Progress::Update(uint64_t done, uint64_t rows) {
  if (!enabled_ || finished_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  double secs = std::chrono::duration<double>(now - start_).count();
  double frac = total_ ? std::min(1.0, static_cast<double>(done) / total_) : 0;
  int width = 30;
  int filled = static_cast<int>(frac * width);
  std::string bar(filled, '#');
  bar.resize(width, '.');
  char rate[64] = "";
  if (rows && secs > 0)
    std::snprintf(rate, sizeof rate, "  %s rows  %.0f rows/s", WithThousands(rows).c_str(), rows / secs);
  double eta = frac > 0.001 ? secs * (1 - frac) / frac : 0;
  std::fprintf(stderr, "\r%s [%s] %5.1f%%%s  eta %.0fs   ", label_.c_str(), bar.c_str(), frac * 100, rate, eta);
  std::fflush(stderr);
}

void Progress::Finish() {
  if (!enabled_ || finished_) return;
  finished_ = true;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
}

std::string SoukVersion() {
#ifdef SOUK_VERSION
  return std::string(SOUK_VERSION) + " (" SOUK_GIT_REV ")";
#else
  return "dev";
#endif
}

}  // namespace souk
