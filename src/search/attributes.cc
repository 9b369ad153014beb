// Document attributes for filters and facets: value tables, the filter
// evaluator and facet counting.
#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "core/core.h"
#include "search/filter.h"
#include "search/internal.h"

namespace souk::search {

std::string NormalizeValue(std::string_view v) {
  static const text::Analyzer kAnalyzer(text::AnalyzerOptions{}, nullptr);
  std::string n = kAnalyzer.Normalize(v);
  // Collapse whitespace runs.
  std::string out;
  bool space = false;
  for (char c : n) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::string NormalizeCategory(std::string_view v) {
  std::vector<std::string> parts;
  for (std::string_view p : SplitTrimmed(v, '>'))
    if (std::string n = NormalizeValue(p); !n.empty()) parts.push_back(std::move(n));
  std::vector<std::string_view> views(parts.begin(), parts.end());
  return Join(views, " > ");
}

namespace {

uint32_t Intern(std::string_view display, std::string norm, std::vector<std::string>* values,
                std::vector<std::string>* norms, std::unordered_map<std::string, uint32_t>* ids) {
  if (norm.empty()) return 0;
  auto [it, inserted] = ids->try_emplace(norm, static_cast<uint32_t>(values->size()));
  if (inserted) {
    values->emplace_back(display);
    norms->push_back(std::move(norm));
  }
  return it->second;
}

// "a > b" is a run of consecutive components of "x > a > b > c".
bool CategoryRunMatches(const std::string& path, const std::string& run) {
  size_t pos = 0;
  while ((pos = path.find(run, pos)) != std::string::npos) {
    bool start_ok = pos == 0 || path.compare(pos - 3, 3, " > ") == 0;
    size_t end = pos + run.size();
    bool end_ok = end == path.size() || path.compare(end, 3, " > ") == 0;
    if (start_ok && end_ok) return true;
    ++pos;
  }
  return false;
}

}  // namespace

void Index::Rep::SetAttributes(const std::vector<Document>& docs) {
  brands = categories = tags = {""};
  brands_norm = categories_norm = tags_norm = {""};
  std::unordered_map<std::string, uint32_t> bid, cid, tid;
  attr_price.assign(max_doc, std::numeric_limits<float>::quiet_NaN());
  attr_stock.assign(max_doc, -1);
  attr_brand.assign(max_doc, 0);
  attr_category.assign(max_doc, 0);
  tag_offsets.assign(max_doc + 1, 0);
  attr_tags.clear();
  size_t next = 0;
  for (uint32_t d = 0; d < max_doc; ++d) {
    tag_offsets[d] = static_cast<uint32_t>(attr_tags.size());
    if (next >= docs.size() || docs[next].id != d) continue;
    const Attributes& a = docs[next++].attrs;
    attr_price[d] = static_cast<float>(a.price);
    attr_stock[d] = static_cast<int32_t>(std::clamp<int64_t>(a.stock, -1, INT32_MAX));
    attr_brand[d] = Intern(Trim(a.brand), NormalizeValue(a.brand), &brands, &brands_norm, &bid);
    attr_category[d] = Intern(Trim(a.category), NormalizeCategory(a.category), &categories, &categories_norm, &cid);
    for (std::string_view one : SplitTrimmed(a.tags, '|'))
      if (uint32_t id = Intern(one, NormalizeValue(one), &tags, &tags_norm, &tid)) attr_tags.push_back(id);
  }
  tag_offsets[max_doc] = static_cast<uint32_t>(attr_tags.size());
  // Computed once, not per filtered query.
  present.clear();
  if (docs.size() != max_doc) {
    present.assign(max_doc, 0);
    for (const auto& d : docs) present[d.id] = 1;
  }
}

std::vector<uint8_t> Index::Rep::FilterBitmap(const FilterNode& node) const {
  std::vector<uint8_t> out(max_doc, 0);
  switch (node.kind) {
    case FilterNode::kAnd:
    case FilterNode::kOr: {
      bool is_and = node.kind == FilterNode::kAnd;
      out.assign(max_doc, is_and ? 1 : 0);
      for (const auto& child : node.children) {
        auto b = FilterBitmap(*child);
        for (uint32_t d = 0; d < max_doc; ++d) out[d] = is_and ? (out[d] & b[d]) : (out[d] | b[d]);
      }
      break;
    }
    case FilterNode::kNot: {
      auto b = FilterBitmap(*node.children[0]);
      for (uint32_t d = 0; d < max_doc; ++d) out[d] = !b[d];
      break;
    }
    case FilterNode::kNumber: {
      for (uint32_t d = 0; d < max_doc; ++d) {
        double v = node.field == "price" ? static_cast<double>(attr_price[d]) : attr_stock[d] < 0 ? NAN : attr_stock[d];
        if (std::isnan(v)) continue;
        bool lo = node.lo_open ? v > node.lo : v >= node.lo;
        bool hi = node.hi_open ? v < node.hi : v <= node.hi;
        out[d] = lo && hi;
      }
      break;
    }
    case FilterNode::kText: {
      const auto& norms = node.field == "brand" ? brands_norm : node.field == "category" ? categories_norm : tags_norm;
      std::vector<uint8_t> value_ok(norms.size(), 0);
      std::string want = node.field == "category" ? NormalizeCategory(node.text) : node.text;
      for (size_t i = 1; i < norms.size(); ++i)
        value_ok[i] = node.field == "category" ? CategoryRunMatches(norms[i], want) : norms[i] == want;
      for (uint32_t d = 0; d < max_doc; ++d) {
        if (node.field == "brand")
          out[d] = value_ok[attr_brand[d]];
        else if (node.field == "category")
          out[d] = value_ok[attr_category[d]];
        else
          for (uint32_t k = tag_offsets[d]; k < tag_offsets[d + 1] && !out[d]; ++k) out[d] = value_ok[attr_tags[k]];
      }
      break;
    }
  }
  // Ids that are not documents (gaps) never pass.
  if (!present.empty())
    for (uint32_t d = 0; d < max_doc; ++d) out[d] &= present[d];
  return out;
}

}  // namespace souk::search
