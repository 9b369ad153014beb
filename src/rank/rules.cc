// Business rules: hide, boost, bury, pin — after ranking, in a fixed order.
#include <algorithm>
#include <cctype>
#include <fmt/format.h>
#include <unordered_set>

#include "rank/rank.h"

namespace souk::rank {

std::string NormalizeRuleQuery(std::string_view q) {
  size_t b = 0, e = q.size();
  while (b < e && std::isspace(static_cast<unsigned char>(q[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(q[e - 1]))) --e;
  std::string out;
  bool space = false;
  for (size_t i = b; i < e; ++i) {
    const unsigned char c = static_cast<unsigned char>(q[i]);
    if (std::isspace(c)) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += static_cast<char>(std::tolower(c));
  }
  return out;
}

bool RuleApplies(const RuleRecord& r, const RuleContext& ctx) {
  if (!r.surface.empty() && r.surface != ctx.surface) return false;
  if (!r.query.empty() && NormalizeRuleQuery(r.query) != NormalizeRuleQuery(ctx.query)) return false;
  return true;
}

Status ValidateRule(const RuleRecord& r) {
  if (r.surface != "" && r.surface != "search" && r.surface != "recommend")
    return Status::InvalidArgument("rule surface must be search, recommend or empty (both), not '" + r.surface + "'");
  if (r.surface == "recommend" && !r.query.empty())
    return Status::InvalidArgument("a recommend rule takes no query (recommendations have none)");
  if (r.kind == "pin") {
    if (r.item.empty() || r.position < 1) return Status::InvalidArgument("a pin rule needs an item and a position >= 1");
    if (!r.filter.empty()) return Status::InvalidArgument("a pin rule takes an item, not a filter");
    return Status::Ok();
  }
  if (r.kind == "boost" || r.kind == "bury") {
    if (r.filter.empty()) return Status::InvalidArgument(fmt::format("a {} rule needs a filter", r.kind));
    if (!r.item.empty()) return Status::InvalidArgument(fmt::format("a {} rule takes a filter, not an item", r.kind));
    return Status::Ok();
  }
  if (r.kind == "hide") {
    if (r.item.empty() == r.filter.empty()) return Status::InvalidArgument("a hide rule needs an item or a filter (one)");
    return Status::Ok();
  }
  return Status::InvalidArgument("rule kind must be pin, boost, bury or hide, not '" + r.kind + "'");
}

std::vector<ItemId> ApplyRules(const std::vector<RuleRecord>& rules, const RuleContext& ctx, std::vector<ItemId> ranked,
                               const RuleHooks& hooks) {
  std::vector<size_t> active;
  for (size_t i = 0; i < rules.size(); ++i)
    if (RuleApplies(rules[i], ctx)) active.push_back(i);
  // 2. hide.
  std::unordered_set<ItemId> hidden;
  for (size_t i : active)
    if (rules[i].kind == "hide" && !rules[i].item.empty() && hooks.lookup) hidden.insert(hooks.lookup(rules[i].item));
  auto is_hidden = [&](ItemId item) {
    if (hidden.count(item)) return true;
    if (ctx.exclude_out_of_stock && hooks.out_of_stock && hooks.out_of_stock(item)) return true;
    for (size_t i : active)
      if (rules[i].kind == "hide" && !rules[i].filter.empty() && hooks.matches && hooks.matches(i, item)) return true;
    return false;
  };
  std::vector<ItemId> kept;
  std::unordered_set<ItemId> seen;
  for (ItemId item : ranked)
    if (seen.insert(item).second && !is_hidden(item)) kept.push_back(item);
  // 3. boost / bury.
  bool any = false;
  for (size_t i : active) any |= rules[i].kind == "boost" || rules[i].kind == "bury";
  if (any && hooks.matches) {
    std::vector<std::pair<int, ItemId>> keyed;
    for (ItemId item : kept) {
      int key = 0;
      for (size_t i : active) {
        if (rules[i].kind == "boost" && hooks.matches(i, item)) --key;
        if (rules[i].kind == "bury" && hooks.matches(i, item)) ++key;
      }
      keyed.emplace_back(key, item);
    }
    std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (size_t j = 0; j < kept.size(); ++j) kept[j] = keyed[j].second;
  }
  // 4. pin.
  std::vector<size_t> pins;
  for (size_t i : active)
    if (rules[i].kind == "pin") pins.push_back(i);
  std::stable_sort(pins.begin(), pins.end(),
                   [&](size_t a, size_t b) { return rules[a].position < rules[b].position; });
  // All pinned items leave their places first, then go in by position, so
  // one pin's removal cannot shift another's.
  std::vector<std::pair<size_t, ItemId>> placed;  // (0-based position, item)
  std::unordered_set<ItemId> pinned;
  for (size_t i : pins) {
    const ItemId item = hooks.lookup ? hooks.lookup(rules[i].item) : kNoId;
    if (item == kNoId || is_hidden(item) || !pinned.insert(item).second) continue;
    placed.emplace_back(static_cast<size_t>(rules[i].position - 1), item);
  }
  if (!placed.empty()) {
    std::erase_if(kept, [&](ItemId item) { return pinned.count(item) > 0; });
    for (const auto& [pos, item] : placed)
      kept.insert(kept.begin() + static_cast<std::ptrdiff_t>(std::min(kept.size(), pos)), item);
  }
  // 5. k.
  if (kept.size() > ctx.k) kept.resize(ctx.k);
  return kept;
}

}  // namespace souk::rank
