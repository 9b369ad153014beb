// Off-policy evaluation inputs: the decision-log readers (souk JSONL, Open
// Bandit Dataset CSV) and target policies. Every error names the file, the
// line and what is wrong with it.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>

#include "bandit/bandit.h"

namespace souk::bandit {

namespace {

using json = nlohmann::json;

Status LineError(const std::string& path, uint64_t line, const std::string& what) {
  return Status::InvalidArgument(fmt::format("{}:{}: {}", path, line, what));
}

// Splits one CSV record at commas; double-quoted fields may hold commas and
// "" for a quote. OBD has neither, but a hand-edited file may.
std::vector<std::string> SplitCsv(std::string_view line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cur += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(std::move(cur));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

bool ParseDouble(std::string_view s, double* out) {
  s = Trim(s);
  if (s.empty()) return false;
  if (s.front() == '+') s.remove_prefix(1);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && std::isfinite(*out);
}

bool ParseIndex(std::string_view s, int64_t* out) {
  double d;
  if (!ParseDouble(s, &d) || d != std::floor(d) || d < 0 || d > 4e9) return false;
  *out = static_cast<int64_t>(d);
  return true;
}

Status CheckPropensity(const std::string& path, uint64_t line, const std::string& column, double p) {
  if (!(p > 0 && p <= 1)) return LineError(path, line, fmt::format("{} {} is outside (0, 1]", column, p));
  return Status::Ok();
}

// Reads a whole text file as lines (without terminators).
Result<std::vector<std::string>> ReadLines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(fmt::format("cannot open '{}'", path));
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
  }
  if (in.bad()) return Status::IoError(fmt::format("reading '{}' failed", path));
  return lines;
}

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// Categorical values -> dense ids in order of first appearance.
struct Vocab {
  std::unordered_map<std::string, uint32_t> ids;
  uint32_t Id(const std::string& v) { return ids.emplace(v, static_cast<uint32_t>(ids.size())).first->second; }
};

// item_context.csv: item_id plus feature columns; numeric columns are used
// as they are, the others one-hot encoded.
Status ReadItemContext(const std::string& path, OpeLog* log) {
  SOUK_ASSIGN_OR_RETURN(auto lines, ReadLines(path));
  if (lines.empty()) return Status::InvalidArgument(fmt::format("{}: empty file (no header row)", path));
  const auto header = SplitCsv(lines[0]);
  int id_col = -1;
  std::vector<int> feature_cols;
  for (size_t c = 0; c < header.size(); ++c) {
    const std::string_view h = Trim(header[c]);
    if (h == "item_id")
      id_col = static_cast<int>(c);
    else if (!h.empty())
      feature_cols.push_back(static_cast<int>(c));
  }
  if (id_col < 0) return LineError(path, 1, "missing column 'item_id'");
  std::vector<std::vector<std::string>> rows;
  std::vector<int64_t> ids;
  int64_t max_id = -1;
  for (size_t l = 1; l < lines.size(); ++l) {
    if (Trim(lines[l]).empty()) continue;
    auto f = SplitCsv(lines[l]);
    if (f.size() != header.size())
      return LineError(path, l + 1, fmt::format("{} fields, the header has {}", f.size(), header.size()));
    int64_t id;
    if (!ParseIndex(f[id_col], &id))
      return LineError(path, l + 1, fmt::format("item_id '{}' is not a non-negative integer", f[id_col]));
    max_id = std::max(max_id, id);
    ids.push_back(id);
    rows.push_back(std::move(f));
  }
  if (max_id >= 100000) return LineError(path, 2, fmt::format("item_id {} is implausibly large", max_id));
  // Per column: numeric if every value parses, else one-hot.
  std::vector<uint32_t> offset, width;
  std::vector<bool> numeric;
  std::vector<Vocab> vocab(feature_cols.size());
  uint32_t item_dim = 0;
  for (size_t k = 0; k < feature_cols.size(); ++k) {
    bool all_numeric = true;
    double d;
    for (const auto& r : rows) all_numeric = all_numeric && ParseDouble(r[feature_cols[k]], &d);
    numeric.push_back(all_numeric);
    if (!all_numeric)
      for (const auto& r : rows) vocab[k].Id(std::string(Trim(r[feature_cols[k]])));
    offset.push_back(item_dim);
    width.push_back(all_numeric ? 1 : static_cast<uint32_t>(vocab[k].ids.size()));
    item_dim += width.back();
  }
  const uint32_t arms = std::max<uint32_t>(log->arms, static_cast<uint32_t>(max_id + 1));
  log->item_dim = item_dim;
  log->item_x.assign(static_cast<size_t>(arms) * item_dim, 0.0f);
  for (size_t r = 0; r < rows.size(); ++r) {
    float* out = log->item_x.data() + static_cast<size_t>(ids[r]) * item_dim;
    for (size_t k = 0; k < feature_cols.size(); ++k) {
      const std::string& v = rows[r][feature_cols[k]];
      double d = 0;
      if (numeric[k] && ParseDouble(v, &d))
        out[offset[k]] = static_cast<float>(d);
      else if (!numeric[k])
        out[offset[k] + vocab[k].Id(std::string(Trim(v)))] = 1.0f;
    }
  }
  log->arms = arms;
  return Status::Ok();
}

}  // namespace

Result<OpeLog> ReadSoukLog(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(fmt::format("cannot open '{}'", path));
  OpeLog log;
  std::string line;
  uint64_t lineno = 0, first_line = 0;
  int64_t arms = -1, dim = -1;
  bool has_campaign = false;
  uint32_t max_position = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (Trim(line).empty()) continue;
    json j;
    try {
      j = json::parse(line);
    } catch (const json::exception& e) {
      return LineError(path, lineno, fmt::format("not JSON ({})", e.what()));
    }
    if (!j.is_object()) return LineError(path, lineno, "not a JSON object");
    auto get_int = [&](const char* key, bool required, int64_t def, int64_t* out) -> Status {
      auto it = j.find(key);
      if (it == j.end() || it->is_null()) {
        if (required) return LineError(path, lineno, fmt::format("missing \"{}\"", key));
        *out = def;
        return Status::Ok();
      }
      if (!it->is_number_integer() && !it->is_number_unsigned())
        return LineError(path, lineno, fmt::format("\"{}\" is {}, not an integer", key, it->dump()));
      *out = it->get<int64_t>();
      if (*out < 0) return LineError(path, lineno, fmt::format("\"{}\" is {}, must be >= 0", key, *out));
      return Status::Ok();
    };
    int64_t arm, k, position;
    SOUK_RETURN_IF_ERROR(get_int("arm", true, 0, &arm));
    SOUK_RETURN_IF_ERROR(get_int("arms", true, 0, &k));
    SOUK_RETURN_IF_ERROR(get_int("position", false, 0, &position));
    if (k < 1 || k > 1000000) return LineError(path, lineno, fmt::format("\"arms\" is {}, must be in 1..1000000", k));
    if (arms < 0) {
      arms = k;
      first_line = lineno;
    } else if (k != arms) {
      return LineError(path, lineno, fmt::format("\"arms\" is {} but {} on line {}", k, arms, first_line));
    }
    if (arm >= arms) return LineError(path, lineno, fmt::format("\"arm\" {} is not below \"arms\" {}", arm, arms));
    if (position > 255) return LineError(path, lineno, fmt::format("\"position\" {} is above 255", position));
    if (auto it = j.find("campaign"); it != j.end() && !it->is_null()) {
      if (!it->is_string()) return LineError(path, lineno, "\"campaign\" is not a string");
      const std::string c = it->get<std::string>();
      if (!has_campaign) {
        log.campaign = c;
        has_campaign = true;
      } else if (c != log.campaign) {
        return LineError(path, lineno,
                         fmt::format("campaign \"{}\" but \"{}\" before: one campaign per log", c, log.campaign));
      }
    }
    auto pit = j.find("propensity");
    if (pit == j.end() || pit->is_null()) return LineError(path, lineno, "missing \"propensity\"");
    if (!pit->is_number())
      return LineError(path, lineno, fmt::format("\"propensity\" is {}, not a number", pit->dump()));
    const double p = pit->get<double>();
    SOUK_RETURN_IF_ERROR(CheckPropensity(path, lineno, "\"propensity\"", p));
    std::vector<float> x;
    if (auto it = j.find("x"); it != j.end() && !it->is_null()) {
      if (!it->is_array()) return LineError(path, lineno, "\"x\" is not an array");
      for (const auto& v : *it) {
        if (!v.is_number()) return LineError(path, lineno, fmt::format("\"x\" holds {}, not a number", v.dump()));
        x.push_back(v.get<float>());
        if (!std::isfinite(x.back())) return LineError(path, lineno, "\"x\" holds a non-finite number");
      }
    }
    if (dim < 0)
      dim = static_cast<int64_t>(x.size());
    else if (static_cast<int64_t>(x.size()) != dim)
      return LineError(path, lineno, fmt::format("\"x\" has {} features but {} on line {}", x.size(), dim, first_line));
    const uint64_t row = log.rows++;
    auto rit = j.find("reward");
    if (rit == j.end() || rit->is_null()) {
      ++log.skipped;
      continue;
    }
    if (!rit->is_number()) return LineError(path, lineno, fmt::format("\"reward\" is {}, not a number", rit->dump()));
    const double r = rit->get<double>();
    if (!std::isfinite(r)) return LineError(path, lineno, "\"reward\" is not finite");
    log.arm.push_back(static_cast<uint32_t>(arm));
    log.position.push_back(static_cast<uint32_t>(position));
    max_position = std::max(max_position, static_cast<uint32_t>(position));
    log.reward.push_back(r);
    log.propensity.push_back(p);
    log.x.insert(log.x.end(), x.begin(), x.end());
    log.line.push_back(lineno);
    log.row.push_back(row);
  }
  if (in.bad()) return Status::IoError(fmt::format("reading '{}' failed", path));
  if (log.rounds() == 0)
    return Status::InvalidArgument(
        fmt::format("{}: no decision with a reward ({} read, {} without a reward)", path, log.rows, log.skipped));
  log.arms = static_cast<uint32_t>(arms);
  log.dim = static_cast<uint32_t>(dim);
  log.positions = max_position + 1;
  return log;
}

Result<OpeLog> ReadObdLog(const std::string& path, const std::string& item_context) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(fmt::format("cannot open '{}'", path));
  std::string line;
  if (!std::getline(in, line)) return Status::InvalidArgument(fmt::format("{}: empty file (no header row)", path));
  const auto header = SplitCsv(Trim(line));
  int c_item = -1, c_pos = -1, c_click = -1, c_prop = -1;
  std::vector<int> c_user, c_aff;
  for (size_t c = 0; c < header.size(); ++c) {
    const std::string_view h = Trim(header[c]);
    const int ci = static_cast<int>(c);
    if (h == "item_id")
      c_item = ci;
    else if (h == "position")
      c_pos = ci;
    else if (h == "click")
      c_click = ci;
    else if (h == "propensity_score" || h == "action_prob")
      c_prop = ci;
    else if (StartsWith(h, "user_feature_"))
      c_user.push_back(ci);
    else if (StartsWith(h, "user-item_affinity_") || StartsWith(h, "user_item_affinity_"))
      c_aff.push_back(ci);
  }
  for (auto [col, name] : {std::pair{c_item, "item_id"}, std::pair{c_pos, "position"}, std::pair{c_click, "click"},
                           std::pair{c_prop, "propensity_score"}})
    if (col < 0) return LineError(path, 1, fmt::format("missing column '{}'", name));
  OpeLog log;
  std::vector<Vocab> vocab(c_user.size());
  std::vector<uint32_t> cats;  // rounds x c_user.size()
  std::vector<float> aff;      // rounds x c_aff.size()
  uint64_t lineno = 1;
  uint32_t max_item = 0, max_pos = 0;
  const std::string prop_name = std::string(Trim(header[c_prop]));
  while (std::getline(in, line)) {
    ++lineno;
    if (Trim(line).empty()) continue;
    const auto f = SplitCsv(Trim(line));
    if (f.size() != header.size())
      return LineError(path, lineno, fmt::format("{} fields, the header has {}", f.size(), header.size()));
    int64_t item, pos;
    double click, p;
    if (!ParseIndex(f[c_item], &item) || item >= 1000000)
      return LineError(path, lineno, fmt::format("item_id '{}' is not a non-negative integer", f[c_item]));
    if (!ParseIndex(f[c_pos], &pos) || pos < 1 || pos > 256)
      return LineError(path, lineno, fmt::format("position '{}' is not an integer in 1..256", f[c_pos]));
    if (!ParseDouble(f[c_click], &click))
      return LineError(path, lineno, fmt::format("click '{}' is not a number", f[c_click]));
    if (!ParseDouble(f[c_prop], &p))
      return LineError(path, lineno, fmt::format("{} '{}' is not a number", prop_name, f[c_prop]));
    SOUK_RETURN_IF_ERROR(CheckPropensity(path, lineno, prop_name, p));
    for (size_t k = 0; k < c_user.size(); ++k) cats.push_back(vocab[k].Id(std::string(Trim(f[c_user[k]]))));
    for (int c : c_aff) {
      double v;
      if (!ParseDouble(f[c], &v))
        return LineError(path, lineno, fmt::format("{} '{}' is not a number", Trim(header[c]), f[c]));
      aff.push_back(static_cast<float>(v));
    }
    log.arm.push_back(static_cast<uint32_t>(item));
    log.position.push_back(static_cast<uint32_t>(pos - 1));
    log.reward.push_back(click);
    log.propensity.push_back(p);
    log.line.push_back(lineno);
    log.row.push_back(log.arm.size() - 1);
    max_item = std::max(max_item, static_cast<uint32_t>(item));
    max_pos = std::max(max_pos, static_cast<uint32_t>(pos));
  }
  if (in.bad()) return Status::IoError(fmt::format("reading '{}' failed", path));
  const size_t n = log.rounds();
  if (n == 0) return Status::InvalidArgument(fmt::format("{}: no rows after the header", path));
  log.rows = n;
  log.arms = max_item + 1;
  log.positions = max_pos;
  // x = one-hot user features, then the affinities.
  std::vector<uint32_t> offset;
  uint32_t dim = 0;
  for (const auto& v : vocab) {
    offset.push_back(dim);
    dim += static_cast<uint32_t>(v.ids.size());
  }
  const uint32_t aff_offset = dim;
  dim += static_cast<uint32_t>(c_aff.size());
  log.dim = dim;
  log.x.assign(n * dim, 0.0f);
  for (size_t i = 0; i < n; ++i) {
    float* row = log.x.data() + i * dim;
    for (size_t k = 0; k < c_user.size(); ++k) row[offset[k] + cats[i * c_user.size() + k]] = 1.0f;
    for (size_t k = 0; k < c_aff.size(); ++k) row[aff_offset + k] = aff[i * c_aff.size() + k];
  }
  if (!item_context.empty()) SOUK_RETURN_IF_ERROR(ReadItemContext(item_context, &log));
  // One affinity per arm: also the per-arm feature the reward model uses.
  if (!c_aff.empty() && c_aff.size() == log.arms) log.arm_x = aff;
  return log;
}

Result<std::vector<double>> TargetPolicy(const OpeLog& log, std::string_view spec) {
  const size_t n = log.rounds(), k = log.arms;
  if (k == 0) return Status::InvalidArgument("the log has no arms");
  if (spec == "uniform") return std::vector<double>(n * k, 1.0 / static_cast<double>(k));
  if (StartsWith(spec, "arm:")) {
    int64_t a;
    if (!ParseIndex(spec.substr(4), &a) || a >= static_cast<int64_t>(k))
      return Status::InvalidArgument(
          fmt::format("policy '{}': the arm must be an integer in 0..{} (the log's arms)", spec, k - 1));
    std::vector<double> t(n * k, 0.0);
    for (size_t i = 0; i < n; ++i) t[i * k + a] = 1.0;
    return t;
  }
  if (StartsWith(spec, "file:")) {
    const std::string path(spec.substr(5));
    SOUK_ASSIGN_OR_RETURN(auto lines, ReadLines(path));
    std::vector<std::vector<double>> dists;
    std::vector<uint64_t> at;
    for (size_t l = 0; l < lines.size(); ++l) {
      if (Trim(lines[l]).empty()) continue;
      json j;
      try {
        j = json::parse(lines[l]);
      } catch (const json::exception& e) {
        return LineError(path, l + 1, fmt::format("not JSON ({})", e.what()));
      }
      if (!j.is_array() || j.size() != k)
        return LineError(path, l + 1, fmt::format("expected an array of {} probabilities (one per arm)", k));
      std::vector<double> d;
      double sum = 0;
      for (const auto& v : j) {
        if (!v.is_number()) return LineError(path, l + 1, fmt::format("{} is not a number", v.dump()));
        const double p = v.get<double>();
        if (!(p >= 0 && p <= 1)) return LineError(path, l + 1, fmt::format("probability {} is outside [0, 1]", p));
        d.push_back(p);
        sum += p;
      }
      if (std::abs(sum - 1) > 1e-6) return LineError(path, l + 1, fmt::format("probabilities sum to {}, not 1", sum));
      dists.push_back(std::move(d));
      at.push_back(l + 1);
    }
    std::vector<double> t(n * k);
    if (dists.size() == n) {
      for (size_t i = 0; i < n; ++i) std::copy(dists[i].begin(), dists[i].end(), t.begin() + i * k);
    } else if (dists.size() == log.rows && log.row.size() == n) {
      // One line per decision read: take those of the rewarded rounds.
      for (size_t i = 0; i < n; ++i) std::copy(dists[log.row[i]].begin(), dists[log.row[i]].end(), t.begin() + i * k);
    } else {
      return Status::InvalidArgument(fmt::format(
          "{}: {} distributions, but the log has {} rewarded rounds ({} decisions)", path, dists.size(), n, log.rows));
    }
    return t;
  }
  return Status::InvalidArgument(fmt::format("unknown policy '{}' (uniform, arm:N or file:PATH)", spec));
}

}  // namespace souk::bandit
