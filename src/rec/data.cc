// Store events -> weighted interactions and request-time histories.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_map>

#include "rec/internal.h"

namespace souk::rec {

float EventTypeWeight(const EventWeights& w, int type) {
  switch (static_cast<EventType>(type)) {
    case EventType::kView:
      return w.view;
    case EventType::kClick:
      return w.click;
    case EventType::kCart:
      return w.cart;
    case EventType::kPurchase:
      return w.purchase;
    case EventType::kRating:
      return w.rating;
    case EventType::kSearch:
    case EventType::kImpression:
      return 0;
  }
  return type >= kFirstExtraEventType ? w.other : 0;
}

namespace {

double Decay(const EventWeights& w, int64_t now_ms, int64_t ts_ms) {
  if (!(w.half_life_days > 0)) return 1;
  const double age_days = std::max<double>(0, static_cast<double>(now_ms - ts_ms) / 86400000.0);
  return std::exp2(-age_days / w.half_life_days);
}

// Appends the usable events of `c` as interactions (session keys as given).
void AppendInteractions(const EventColumns& c, const EventWeights& w, int64_t now_ms, std::vector<Interaction>* out) {
  for (size_t k = 0; k < c.size(); ++k) {
    if (c.item[k] == kNoId || (c.flags[k] != 0 && !w.include_flagged)) continue;
    const float tw = EventTypeWeight(w, c.type[k]);
    if (!(tw > 0)) continue;
    Interaction x;
    x.user = c.user[k];
    x.item = c.item[k];
    x.weight = static_cast<float>(tw * Decay(w, now_ms, c.ts_ms[k]));
    x.ts_ms = c.ts_ms[k];
    x.session = c.session[k];
    out->push_back(x);
  }
}

int64_t LatestTs(const EventColumns& c) {
  int64_t now = 0;
  for (int64_t t : c.ts_ms) now = std::max(now, t);
  return now;
}

}  // namespace

Result<TrainingData> LoadTrainingData(Store& store, const EventWeights& weights) {
  TrainingData d;
  SOUK_ASSIGN_OR_RETURN(StoreCounts counts, store.Counts());
  d.num_users = static_cast<uint32_t>(counts.users + counts.placeholder_users);
  d.num_items = static_cast<uint32_t>(counts.items + counts.placeholder_items);
  SOUK_ASSIGN_OR_RETURN(EventColumns c, store.LoadEvents(!weights.include_flagged));
  AppendInteractions(c, weights, LatestTs(c), &d.interactions);
  for (const Interaction& x : d.interactions) {
    d.num_users = std::max(d.num_users, x.user + 1);
    d.num_items = std::max(d.num_items, x.item + 1);
  }
  SOUK_ASSIGN_OR_RETURN(std::vector<ItemRow> items, store.LoadItems());
  d.num_items = std::max<uint32_t>(d.num_items, static_cast<uint32_t>(items.size()));
  d.item_category.assign(d.num_items, kNone);
  std::unordered_map<std::string, uint32_t> ids;
  for (const ItemRow& row : items) {
    if (row.category.empty() || row.id >= d.num_items) continue;
    auto [it, fresh] = ids.try_emplace(row.category, static_cast<uint32_t>(d.categories.size()));
    if (fresh) d.categories.push_back(row.category);
    d.item_category[row.id] = it->second;
  }
  return d;
}

Result<ItemContent> LoadItemContent(Store& store, uint32_t num_items) {
  ItemContent c;
  c.titles.resize(num_items);
  c.descriptions.resize(num_items);
  c.brands.resize(num_items);
  c.categories.resize(num_items);
  c.prices.assign(num_items, std::numeric_limits<double>::quiet_NaN());
  SOUK_ASSIGN_OR_RETURN(std::vector<ItemRow> items, store.LoadItems());
  for (ItemRow& row : items) {
    if (row.id >= num_items || !row.known || row.deleted) continue;
    c.titles[row.id] = std::move(row.title);
    c.descriptions[row.id] = std::move(row.description);
    c.brands[row.id] = std::move(row.brand);
    c.categories[row.id] = std::move(row.category);
    c.prices[row.id] = row.price;
  }
  SOUK_ASSIGN_OR_RETURN(std::vector<SearchPick> picks, store.SearchPicks());
  c.queries.reserve(picks.size());
  for (SearchPick& p : picks) {
    if (p.item >= num_items) continue;
    c.queries.push_back({std::move(p.query), p.item, p.user, p.ts_ms});
  }
  return c;
}

Result<History> LoadHistory(Store& store, uint32_t user, const EventWeights& weights) {
  SOUK_ASSIGN_OR_RETURN(EventColumns c, store.LoadUserEvents(user));
  std::vector<Interaction> xs;
  AppendInteractions(c, weights, LatestTs(c), &xs);
  std::stable_sort(xs.begin(), xs.end(), [](const Interaction& a, const Interaction& b) { return a.ts_ms < b.ts_ms; });
  History h;
  h.user = user;
  for (const Interaction& x : xs) {
    h.items.push_back(x.item);
    h.weights.push_back(x.weight);
    h.ts_ms.push_back(x.ts_ms);
  }
  return h;
}

}  // namespace souk::rec
