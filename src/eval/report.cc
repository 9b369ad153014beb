// Evaluation reports: JSON, an aligned text table and a self-contained HTML
// page with inline SVG charts.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/core.h"
#include "eval/eval.h"

namespace souk::eval {

namespace {

// Display order of metric families; the preferred k of each in the main table.
struct Family {
  const char* name;
  size_t preferred_k;
};
constexpr Family kFamilyOrder[] = {{"HR", 10},        {"NDCG", 10},    {"MRR", 10},
                                   {"Recall", 20},    {"MAP", 10},     {"coverage", 10},
                                   {"diversity", 10}, {"novelty", 10}, {"popularity_bias", 10}};
constexpr size_t kNumFamilies = std::size(kFamilyOrder);

// "NDCG@10" -> (family index, 10); unknown families sort last.
std::pair<size_t, size_t> ParseName(const std::string& name) {
  const size_t at = name.rfind('@');
  const std::string family = name.substr(0, at);
  size_t k = 0;
  if (at != std::string::npos) {
    const auto v = ParseInt(std::string_view(name).substr(at + 1));
    if (v && *v > 0) k = static_cast<size_t>(*v);
  }
  for (size_t f = 0; f < kNumFamilies; ++f) {
    if (family == kFamilyOrder[f].name) return {f, k};
  }
  return {kNumFamilies, k};
}

// Every metric name in the results, in display order.
std::vector<std::string> AllMetrics(const std::vector<EvalResult>& results) {
  std::set<std::string> names;
  for (const auto& r : results) {
    for (const auto& [name, value] : r.metrics) names.insert(name);
  }
  std::vector<std::string> out(names.begin(), names.end());
  std::stable_sort(out.begin(), out.end(),
                   [](const std::string& a, const std::string& b) { return ParseName(a) < ParseName(b); });
  return out;
}

// One column per family: the preferred k when present, else the largest k.
std::vector<std::string> MainMetrics(const std::vector<EvalResult>& results) {
  const std::vector<std::string> all = AllMetrics(results);
  std::vector<std::string> out;
  for (size_t f = 0; f < kNumFamilies; ++f) {
    std::string pick;
    size_t pick_k = 0;
    for (const std::string& name : all) {
      const auto [family, k] = ParseName(name);
      if (family != f) continue;
      if (k == kFamilyOrder[f].preferred_k) {
        pick = name;
        break;
      }
      if (pick.empty() || k > pick_k) {
        pick = name;
        pick_k = k;
      }
    }
    if (!pick.empty()) out.push_back(pick);
  }
  return out;
}

const double* Find(const EvalResult& r, const std::string& name) {
  auto it = r.metrics.find(name);
  return it == r.metrics.end() ? nullptr : &it->second;
}

const std::pair<double, double>* FindCi(const EvalResult& r, const std::string& name) {
  auto it = r.ci95.find(name);
  return it == r.ci95.end() ? nullptr : &it->second;
}

std::string Format(double v, int precision) {
  if (std::isnan(v)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", precision, v);
  return buf;
}

// Novelty is in bits and seconds are seconds; everything else is a rate.
int PrecisionFor(const std::string& metric) { return metric.rfind("novelty", 0) == 0 ? 3 : 4; }

bool SameEverywhere(const std::vector<EvalResult>& results, std::string EvalResult::*field) {
  for (const auto& r : results) {
    if (r.*field != results.front().*field) return false;
  }
  return true;
}

}  // namespace

nlohmann::json ToJson(const EvalResult& result) {
  nlohmann::json j;
  j["model"] = result.model;
  j["split"] = result.split;
  j["protocol"] = result.protocol;
  j["users"] = result.users;
  j["cases"] = result.cases;
  j["metrics"] = nlohmann::json::object();
  for (const auto& [name, value] : result.metrics) j["metrics"][name] = value;
  j["ci95"] = nlohmann::json::object();
  for (const auto& [name, ci] : result.ci95) j["ci95"][name] = {ci.first, ci.second};
  j["fit_seconds"] = result.fit_seconds;
  j["eval_seconds"] = result.eval_seconds;
  return j;
}

std::string TableText(const std::vector<EvalResult>& results) {
  if (results.empty()) return "";
  const bool same_split = SameEverywhere(results, &EvalResult::split);
  const bool same_protocol = SameEverywhere(results, &EvalResult::protocol);
  const std::vector<std::string> metrics = MainMetrics(results);

  std::vector<std::string> header = {"model"};
  if (!same_split) header.push_back("split");
  if (!same_protocol) header.push_back("protocol");
  header.push_back("cases");
  header.insert(header.end(), metrics.begin(), metrics.end());
  header.push_back("fit_s");
  header.push_back("eval_s");

  std::vector<std::vector<std::string>> rows = {header};
  for (const auto& r : results) {
    std::vector<std::string> row = {r.model};
    if (!same_split) row.push_back(r.split);
    if (!same_protocol) row.push_back(r.protocol);
    row.push_back(std::to_string(r.cases));
    for (const std::string& m : metrics) {
      const double* v = Find(r, m);
      row.push_back(v ? Format(*v, PrecisionFor(m)) : "-");
    }
    row.push_back(Format(r.fit_seconds, 2));
    row.push_back(Format(r.eval_seconds, 2));
    rows.push_back(std::move(row));
  }

  const size_t text_columns = 1 + !same_split + !same_protocol;  // left-aligned
  std::vector<size_t> width(header.size(), 0);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  if (same_split || same_protocol) {
    if (same_split) out += "split " + results.front().split;
    if (same_split && same_protocol) out += ", ";
    if (same_protocol) out += "protocol " + results.front().protocol;
    out += "\n";
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      if (c > 0) line += "  ";
      const std::string pad(width[c] - row[c].size(), ' ');
      line += c < text_columns ? row[c] + pad : pad + row[c];
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

namespace {

// A horizontal bar chart of one metric, one bar per result, with the 95%
// interval as a whisker.
std::string SvgChart(const std::vector<EvalResult>& results, const std::string& metric) {
  constexpr int kLabel = 320, kBars = 330, kValue = 70, kRow = 26, kTop = 28;
  const int height = kTop + kRow * static_cast<int>(results.size()) + 8;
  double max_value = 0;
  for (const auto& r : results) {
    if (const double* v = Find(r, metric); v && std::isfinite(*v)) max_value = std::max(max_value, *v);
    if (const auto* ci = FindCi(r, metric); ci && std::isfinite(ci->second))
      max_value = std::max(max_value, ci->second);
  }
  if (!(max_value > 0)) max_value = 1;
  auto x_of = [&](double v) { return kLabel + std::clamp(v / max_value, 0.0, 1.0) * kBars; };
  char buf[512];
  std::string s;
  std::snprintf(buf, sizeof(buf),
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" role=\"img\" "
                "aria-label=\"%s\">\n",
                kLabel + kBars + kValue, height, HtmlEscape(metric).c_str());
  s += buf;
  s += "<text x=\"0\" y=\"18\" class=\"title\">" + HtmlEscape(metric) + "</text>\n";
  for (size_t i = 0; i < results.size(); ++i) {
    const EvalResult& r = results[i];
    const int y = kTop + kRow * static_cast<int>(i);
    s += "<g><title>" + HtmlEscape(r.model) + "</title>";
    std::snprintf(buf, sizeof(buf), "<text x=\"%d\" y=\"%d\" class=\"label\">", kLabel - 8, y + 15);
    s += buf + HtmlEscape(Shorten(r.model, 44)) + "</text>";
    const double* v = Find(r, metric);
    if (v && std::isfinite(*v)) {
      std::snprintf(buf, sizeof(buf), "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"18\" class=\"bar\"/>", kLabel,
                    y + 2, x_of(*v) - kLabel);
      s += buf;
      if (const auto* ci = FindCi(r, metric); ci && std::isfinite(ci->first) && std::isfinite(ci->second)) {
        const double lo = x_of(ci->first), hi = x_of(ci->second);
        std::snprintf(buf, sizeof(buf), "<path d=\"M%.1f %d H%.1f M%.1f %d V%d M%.1f %d V%d\" class=\"ci\"/>", lo,
                      y + 11, hi, lo, y + 6, y + 16, hi, y + 6, y + 16);
        s += buf;
      }
    }
    std::snprintf(buf, sizeof(buf), "<text x=\"%d\" y=\"%d\" class=\"value\">", kLabel + kBars + 6, y + 15);
    s += buf + HtmlEscape(v ? Format(*v, PrecisionFor(metric)) : "-") + "</text></g>\n";
  }
  s += "</svg>\n";
  return s;
}

}  // namespace

Status WriteHtmlReport(const std::vector<EvalResult>& results, const std::string& path, const std::string& title) {
  const std::vector<std::string> main = MainMetrics(results);
  const std::vector<std::string> all = AllMetrics(results);
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + HtmlEscape(title) +
       "</title>\n<style>\n"
       "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\n"
       "table{border-collapse:collapse;margin:1em 0}\n"
       "th,td{border:1px solid #ccc;padding:4px 8px;text-align:right;vertical-align:top}\n"
       "th:first-child,td:first-child{text-align:left}\n"
       "td small{color:#666}\n"
       ".charts{display:flex;flex-wrap:wrap;gap:1.5em}\n"
       "svg .title{font-weight:bold;font-size:14px}\n"
       "svg .label{text-anchor:end;font-size:12px}\n"
       "svg .value{font-size:12px}\n"
       "svg .bar{fill:#4a7fb5}\n"
       "svg .ci{stroke:#222;stroke-width:1.5;fill:none}\n"
       "</style>\n</head>\n<body>\n";
  h += "<h1>" + HtmlEscape(title) + "</h1>\n";
  if (results.empty()) {
    h += "<p>No results.</p>\n";
  } else {
    h += "<h2>Summary</h2>\n<table>\n<tr><th>model</th><th>split</th><th>protocol</th><th>users</th><th>cases</th>";
    for (const auto& m : main) h += "<th>" + HtmlEscape(m) + "</th>";
    h += "<th>fit s</th><th>eval s</th></tr>\n";
    for (const auto& r : results) {
      h += "<tr><td>" + HtmlEscape(r.model) + "</td><td>" + HtmlEscape(r.split) + "</td><td>" + HtmlEscape(r.protocol) +
           "</td><td>" + std::to_string(r.users) + "</td><td>" + std::to_string(r.cases) + "</td>";
      for (const auto& m : main) {
        const double* v = Find(r, m);
        h += "<td>" + HtmlEscape(v ? Format(*v, PrecisionFor(m)) : "-") + "</td>";
      }
      h += "<td>" + Format(r.fit_seconds, 2) + "</td><td>" + Format(r.eval_seconds, 2) + "</td></tr>\n";
    }
    h += "</table>\n<h2>Charts</h2>\n<p>Bars are means over cases; whiskers are 95% bootstrap intervals.</p>\n";
    h += "<div class=\"charts\">\n";
    for (const auto& m : main) h += SvgChart(results, m);
    h += "</div>\n<h2>All metrics</h2>\n<table>\n<tr><th>metric</th>";
    for (const auto& r : results) h += "<th>" + HtmlEscape(r.model) + "</th>";
    h += "</tr>\n";
    for (const auto& m : all) {
      h += "<tr><td>" + HtmlEscape(m) + "</td>";
      for (const auto& r : results) {
        const double* v = Find(r, m);
        h += "<td>" + HtmlEscape(v ? Format(*v, PrecisionFor(m)) : "-");
        if (const auto* ci = FindCi(r, m)) {
          h += "<br><small>[" + HtmlEscape(Format(ci->first, PrecisionFor(m))) + ", " +
               HtmlEscape(Format(ci->second, PrecisionFor(m))) + "]</small>";
        }
        h += "</td>";
      }
      h += "</tr>\n";
    }
    h += "</table>\n";
  }
  h += "</body>\n</html>\n";

  // Write beside the target and rename, so a failed write leaves no half page.
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Status::IoError("cannot write " + tmp);
    out << h;
    out.flush();
    if (!out) return Status::IoError("write failed: " + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    const std::string why = ec.message();
    std::filesystem::remove(tmp, ec);
    return Status::IoError("cannot write " + path + ": " + why);
  }
  return Status::Ok();
}

}  // namespace souk::eval
