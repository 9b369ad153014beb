// The self-contained HTML data-quality report: tables plus inline SVG charts
// (no scripts, no external files), so it can be mailed or archived as is.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "ingest/ingest.h"

namespace souk::ingest {
namespace {

const char* kPalette[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
                          "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

std::string EventsPerDayChart(const QualityReport& r) {
  if (r.days.empty()) return "<p>No events with plausible timestamps.</p>";
  std::set<std::string> flagged_days;
  for (const auto& f : r.findings)
    if (f.table == "days") flagged_days.insert(f.flagged.begin(), f.flagged.end());
  std::vector<std::string> types;
  for (const auto& d : r.days)
    for (const auto& [t, n] : d.by_type)
      if (std::find(types.begin(), types.end(), t) == types.end()) types.push_back(t);
  uint64_t maxv = 1;
  for (const auto& d : r.days) maxv = std::max(maxv, d.total);
  const double W = 900, H = 260, L = 60, B = 30, T = 10;
  double bw = (W - L - 10) / r.days.size();
  std::ostringstream s;
  s << fmt::format("<svg viewBox='0 0 {} {}' width='100%' role='img' aria-label='events per day'>", W, H + 30);
  for (int k = 0; k <= 4; ++k) {
    double y = T + (H - T - B) * (1 - k / 4.0);
    s << fmt::format("<line x1='{}' x2='{}' y1='{:.1f}' y2='{:.1f}' stroke='#ddd'/>", L, W - 10, y, y);
    s << fmt::format("<text x='{}' y='{:.1f}' font-size='10' text-anchor='end'>{}</text>", L - 4, y + 3,
                     WithThousands(maxv * k / 4));
  }
  for (size_t i = 0; i < r.days.size(); ++i) {
    const auto& d = r.days[i];
    double x = L + i * bw;
    double y = H - B;
    for (size_t t = 0; t < types.size(); ++t) {
      auto it = d.by_type.find(types[t]);
      if (it == d.by_type.end()) continue;
      double h = (H - T - B) * static_cast<double>(it->second) / maxv;
      y -= h;
      s << fmt::format(
          "<rect x='{:.1f}' y='{:.1f}' width='{:.1f}' height='{:.1f}' fill='{}'><title>{} {}: {}</title></rect>", x, y,
          std::max(bw - 1, 0.5), h, kPalette[t % 10], d.date, types[t], it->second);
    }
    if (flagged_days.count(d.date))
      s << fmt::format(
          "<text x='{:.1f}' y='{:.1f}' font-size='12' fill='#c00' text-anchor='middle'>&#9650;<title>{} "
          "flagged</title></text>",
          x + bw / 2, H - B + 14, d.date);
    if (r.days.size() <= 20 || i % (r.days.size() / 10 + 1) == 0)
      s << fmt::format("<text x='{:.1f}' y='{}' font-size='9' text-anchor='middle'>{}</text>", x + bw / 2, H + 2,
                       d.date.substr(5));
  }
  double lx = L;
  for (size_t t = 0; t < types.size(); ++t) {
    s << fmt::format(
        "<rect x='{:.0f}' y='{}' width='10' height='10' fill='{}'/><text x='{:.0f}' y='{}' font-size='11'>{}</text>",
        lx, H + 14, kPalette[t % 10], lx + 14, H + 23, HtmlEscape(types[t]));
    lx += 20 + 8 * types[t].size();
  }
  s << "</svg>";
  return s.str();
}

std::string FindingsChart(const QualityReport& r) {
  std::vector<const Finding*> fs;
  for (const auto& f : r.findings)
    if (f.checked) fs.push_back(&f);
  const double W = 900, row = 20, L = 260;
  double H = row * fs.size() + 20;
  double maxlog = 1;
  for (auto* f : fs) maxlog = std::max(maxlog, std::log10(1.0 + f->count));
  std::ostringstream s;
  s << fmt::format("<svg viewBox='0 0 {} {}' width='100%' role='img' aria-label='findings per rule'>", W, H);
  for (size_t i = 0; i < fs.size(); ++i) {
    const Finding& f = *fs[i];
    double y = 5 + i * row;
    std::string name = f.rule + (f.column.empty() ? "" : " (" + f.table + "." + f.column + ")") +
                       (f.rule == "invalid_row" ? " (" + f.table + ")" : "");
    double w = (W - L - 230) * std::log10(1.0 + f.count) / maxlog;
    const char* color = f.score >= 0.999 ? "#59a14f" : f.score >= 0.99 ? "#edc948" : "#e15759";
    s << fmt::format("<text x='{}' y='{:.0f}' font-size='11' text-anchor='end'>{}</text>", L - 6, y + 13,
                     HtmlEscape(name));
    s << fmt::format("<rect x='{}' y='{:.0f}' width='{:.1f}' height='{}' fill='{}'/>", L, y + 2, std::max(w, 1.0),
                     row - 5, color);
    s << fmt::format("<text x='{:.0f}' y='{:.0f}' font-size='11'>{} of {} (score {:.3f})</text>", L + w + 6, y + 13,
                     WithThousands(f.count), WithThousands(f.checked), f.score);
  }
  s << "</svg>";
  return s.str();
}

std::string PriceHistograms(const QualityReport& r) {
  if (r.prices.empty()) return "<p>No priced items.</p>";
  std::ostringstream s;
  s << "<div class='grid'>";
  for (const auto& cp : r.prices) {
    if (cp.log_prices.empty()) continue;
    double lo = *std::min_element(cp.log_prices.begin(), cp.log_prices.end());
    double hi = *std::max_element(cp.log_prices.begin(), cp.log_prices.end());
    const int nb = 24;
    if (hi - lo < 1e-9) hi = lo + 1;
    std::vector<int> bins(nb, 0);
    std::vector<bool> outlier(nb, false);
    auto bin = [&](double v) { return std::clamp(static_cast<int>((v - lo) / (hi - lo) * nb), 0, nb - 1); };
    for (double v : cp.log_prices) bins[bin(v)]++;
    for (double v : cp.flagged) outlier[bin(v)] = true;
    int maxb = *std::max_element(bins.begin(), bins.end());
    const double W = 280, H = 120;
    s << "<figure><svg viewBox='0 0 280 140' width='100%'>";
    for (int b = 0; b < nb; ++b) {
      double h = (H - 10) * bins[b] / std::max(1, maxb);
      double x0 = std::exp(lo + (hi - lo) * b / nb), x1 = std::exp(lo + (hi - lo) * (b + 1) / nb);
      s << fmt::format(
          "<rect x='{:.1f}' y='{:.1f}' width='{:.1f}' height='{:.1f}' fill='{}'><title>{:.2f}-{:.2f}: "
          "{}{}</title></rect>",
          b * W / nb, H - h, W / nb - 1, h, outlier[b] ? "#e15759" : "#4e79a7", x0, x1, bins[b],
          outlier[b] ? " (price outlier)" : "");
    }
    s << fmt::format(
        "<text x='0' y='135' font-size='10'>{:.2f}</text><text x='280' y='135' font-size='10' "
        "text-anchor='end'>{:.2f}</text>",
        std::exp(lo), std::exp(hi));
    s << "</svg><figcaption>" << HtmlEscape(cp.category) << " (" << cp.log_prices.size() << " items, log scale"
      << (cp.flagged.empty() ? "" : fmt::format("; {} outlier(s) in red", cp.flagged.size()))
      << ")</figcaption></figure>";
  }
  s << "</div>";
  return s.str();
}

}  // namespace

std::string QualityHtml(const QualityReport& r) {
  std::ostringstream s;
  s << "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>souk data quality</title><style>"
       "body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1000px;color:#222;padding:0 1em}"
       "h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd}"
       "table{border-collapse:collapse;width:100%;font-size:13px}td,th{border-bottom:1px solid #eee;padding:4px 6px;"
       "text-align:left;vertical-align:top}th{background:#f6f6f6}td.n{text-align:right;font-variant-numeric:tabular-"
       "nums}"
       ".ok{color:#2a7}.warn{color:#b80}.bad{color:#c22}.grid{display:grid;grid-template-columns:repeat(3,1fr);gap:"
       "12px}"
       "figure{margin:0}figcaption{font-size:12px;color:#555}code{font-size:12px}.muted{color:#777}"
       "</style></head><body>";
  s << "<h1>souk data-quality report</h1>";
  s << fmt::format("<p class='muted'>{} &middot; generated {} &middot; overall score <b>{:.4f}</b></p>",
                   HtmlEscape(r.data_dir), FormatTimestamp(r.generated_ms), r.score);
  s << fmt::format(
      "<p>{} catalog items ({} more named only by events), {} users ({} more named only by events), "
      "{} events ({} flagged by <code>souk clean</code>), {} quarantined records.</p>",
      WithThousands(r.counts.items), WithThousands(r.counts.placeholder_items), WithThousands(r.counts.users),
      WithThousands(r.counts.placeholder_users), WithThousands(r.counts.events), WithThousands(r.counts.flagged_events),
      WithThousands(r.counts.quarantine));
  s << "<h2>Findings per rule</h2>" << FindingsChart(r);
  s << "<table><tr><th>rule</th><th>table.column</th><th>flagged</th><th>checked</th><th>score</th><th>what it "
       "checks</th><th>examples</th></tr>";
  for (const auto& f : r.findings) {
    const char* cls = f.score >= 0.999 ? "ok" : f.score >= 0.99 ? "warn" : "bad";
    s << "<tr><td>" << HtmlEscape(f.rule) << "</td><td>" << HtmlEscape(f.table);
    if (!f.column.empty()) s << '.' << HtmlEscape(f.column);
    s << "</td><td class=n>" << WithThousands(f.count) << "</td><td class=n>" << WithThousands(f.checked)
      << "</td><td class='n " << cls << "'>" << fmt::format("{:.4f}", f.score) << "</td><td>"
      << HtmlEscape(f.description) << "</td><td>";
    for (const auto& e : f.examples) {
      std::string safe = e;
      RepairUtf8(&safe);
      s << "<div><code>" << HtmlEscape(safe) << "</code></div>";
    }
    s << "</td></tr>";
  }
  s << "</table>";
  s << "<h2>Events per day</h2><p class='muted'>Plausible timestamps, bot-like users excluded; "
       "&#9650; marks a day flagged by the volume or mix rule.</p>"
    << EventsPerDayChart(r);
  s << "<h2>Price distribution per category</h2><p class='muted'>Categories with price outliers first (outliers in "
       "red), then the largest; "
       "bins on a log scale.</p>"
    << PriceHistograms(r);
  s << "<h2>Columns</h2><table><tr><th>table</th><th>column</th><th>missing</th><th>invalid (rejected)</th></tr>";
  for (const auto& [table, cols] : r.columns)
    for (const auto& [col, st] : cols)
      s << "<tr><td>" << HtmlEscape(table) << "</td><td>" << HtmlEscape(col) << "</td><td class=n>"
        << WithThousands(st.missing) << "</td><td class=n>" << WithThousands(st.invalid) << "</td></tr>";
  s << "</table></body></html>\n";
  return s.str();
}

}  // namespace souk::ingest
