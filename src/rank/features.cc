// The feature store: per-item counters and daily buckets, per-user
// profiles, folded in one event at a time.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

#include "rank/rank.h"

namespace souk::rank {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int64_t kDayMs = 86'400'000;
constexpr int kBuckets = 32;  // daily buckets: enough for the 30-day window

// view 1, click 2, cart 3, purchase 4: how much an event says about taste.
float TasteWeight(uint8_t type) {
  switch (static_cast<EventType>(type)) {
    case EventType::kView:
      return 1;
    case EventType::kClick:
      return 2;
    case EventType::kCart:
      return 3;
    case EventType::kPurchase:
      return 4;
    default:
      return 0;
  }
}

std::string TopCategory(const std::string& path) {
  const size_t p = path.find(" > ");
  return p == std::string::npos ? path : path.substr(0, p);
}

struct Interner {
  std::unordered_map<std::string, uint32_t> ids;
  std::vector<std::string> names;
  uint32_t Id(const std::string& s) {
    auto [it, fresh] = ids.try_emplace(s, static_cast<uint32_t>(names.size()));
    if (fresh) names.push_back(s);
    return it->second;
  }
};

}  // namespace

struct FeatureStore::Rep {
  FeatureOptions options;
  Interner categories, tops, brands;
  struct ItemState {
    double price = kNaN, price_pct = kNaN;
    int64_t stock = -1;
    uint32_t category = 0, top = 0, brand = 0;
    int quality = 0;
    int64_t first_ms = -1;
    uint64_t counts[4] = {0, 0, 0, 0};  // view, click, cart, purchase
    std::array<uint32_t, kBuckets> day_count{};
    std::array<int32_t, kBuckets> day_stamp{};
  };
  std::vector<ItemState> items;
  struct UserState {
    uint64_t events = 0;
    int64_t last_ms = -1;
    int64_t last_day = std::numeric_limits<int64_t>::min();
    uint64_t active_days = 0;
    double monetary = 0;
    double taste = 0;  // total taste weight
    double lp_w = 0, lp_sum = 0, lp_sq = 0;  // log price moments, taste-weighted
    std::unordered_map<uint32_t, float> cat, top, brand;
    std::unordered_map<ItemId, uint16_t> seen;  // interactions per item
  };
  std::vector<UserState> users;
  std::vector<std::vector<std::pair<std::string, std::string>>> user_attrs;
  // Global rates (priors) and shares.
  uint64_t totals[4] = {0, 0, 0, 0};
  double taste_total = 0;
  std::vector<double> cat_taste, top_taste, brand_taste;
  int64_t last_ms = 0;

  ItemState* ItemAt(ItemId i) { return i < items.size() ? &items[i] : nullptr; }

  static double Window(const ItemState& s, int64_t now_day, int days) {
    double n = 0;
    for (int k = 0; k < kBuckets; ++k) {
      const int64_t age = now_day - s.day_stamp[k];
      if (s.day_count[k] && age >= 0 && age < days) n += s.day_count[k];
    }
    return n;
  }
  double Share(const std::unordered_map<uint32_t, float>& m, uint32_t key, double user_total,
               const std::vector<double>& global) const {
    const auto it = m.find(key);
    const double w = it == m.end() ? 0.0 : it->second;
    const double g = taste_total > 0 && key < global.size() ? global[key] / taste_total : 0.0;
    return (w + options.affinity_prior * g) / (user_total + options.affinity_prior);
  }
};

FeatureStore::FeatureStore(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
FeatureStore::~FeatureStore() = default;

std::unique_ptr<FeatureStore> FeatureStore::Build(const std::vector<ItemRow>& items, const std::vector<UserRow>& users,
                                                  const FeatureOptions& options) {
  auto rep = std::make_unique<Rep>();
  rep->options = options;
  rep->categories.Id("");
  rep->tops.Id("");
  rep->brands.Id("");
  rep->items.resize(items.size());
  std::unordered_map<uint32_t, std::vector<double>> prices;  // by category
  for (size_t i = 0; i < items.size(); ++i) {
    const ItemRow& r = items[i];
    Rep::ItemState& s = rep->items[i];
    s.price = r.price;
    s.stock = r.stock;
    s.category = rep->categories.Id(r.category);
    s.top = rep->tops.Id(TopCategory(r.category));
    s.brand = rep->brands.Id(r.brand);
    s.quality = (std::isnan(r.price) ? 1 : 0) | (r.brand.empty() ? 2 : 0) | (r.title.size() < 3 ? 4 : 0) |
                (r.known ? 0 : 8);
    if (!std::isnan(r.price)) prices[s.category].push_back(r.price);
  }
  for (auto& [c, v] : prices) std::sort(v.begin(), v.end());
  for (auto& s : rep->items) {
    if (std::isnan(s.price)) continue;
    const auto& v = prices[s.category];
    const auto lo = std::lower_bound(v.begin(), v.end(), s.price) - v.begin();
    const auto hi = std::upper_bound(v.begin(), v.end(), s.price) - v.begin();
    s.price_pct = v.size() > 1 ? (0.5 * static_cast<double>(lo + hi) - 0.5) / static_cast<double>(v.size() - 1) : 0.5;
  }
  rep->users.resize(users.size());
  rep->user_attrs.resize(users.size());
  for (size_t u = 0; u < users.size(); ++u) {
    // attrs_json is a flat JSON object of strings and numbers; kept as text pairs.
    const std::string& a = users[u].attrs_json;
    size_t p = 0;
    while ((p = a.find('"', p)) != std::string::npos) {
      const size_t ke = a.find('"', p + 1);
      if (ke == std::string::npos) break;
      std::string key = a.substr(p + 1, ke - p - 1);
      size_t vs = a.find(':', ke);
      if (vs == std::string::npos) break;
      ++vs;
      while (vs < a.size() && a[vs] == ' ') ++vs;
      size_t ve;
      std::string val;
      if (vs < a.size() && a[vs] == '"') {
        ve = a.find('"', vs + 1);
        if (ve == std::string::npos) break;
        val = a.substr(vs + 1, ve - vs - 1);
        ++ve;
      } else {
        ve = a.find_first_of(",}", vs);
        if (ve == std::string::npos) ve = a.size();
        val = a.substr(vs, ve - vs);
      }
      rep->user_attrs[u].emplace_back(std::move(key), std::move(val));
      p = ve;
    }
  }
  rep->cat_taste.assign(rep->categories.names.size(), 0);
  rep->top_taste.assign(rep->tops.names.size(), 0);
  rep->brand_taste.assign(rep->brands.names.size(), 0);
  return std::unique_ptr<FeatureStore>(new FeatureStore(std::move(rep)));
}

void FeatureStore::Apply(UserId user, ItemId item, uint8_t type, int64_t ts_ms) {
  Rep& r = *rep_;
  r.last_ms = std::max(r.last_ms, ts_ms);
  const int64_t day = ts_ms >= 0 ? ts_ms / kDayMs : -1 - (-ts_ms - 1) / kDayMs;
  Rep::UserState* us = user < r.users.size() ? &r.users[user] : nullptr;
  if (us) {
    ++us->events;
    us->last_ms = std::max(us->last_ms, ts_ms);
    if (day != us->last_day) ++us->active_days, us->last_day = day;
  }
  Rep::ItemState* is = r.ItemAt(item);
  if (!is || type > static_cast<uint8_t>(EventType::kPurchase)) return;
  if (type == static_cast<uint8_t>(EventType::kRating)) return;
  ++is->counts[type];
  ++r.totals[type];
  if (is->first_ms < 0 || ts_ms < is->first_ms) is->first_ms = ts_ms;
  const int b = static_cast<int>(((day % kBuckets) + kBuckets) % kBuckets);
  if (is->day_count[b] == 0 || is->day_stamp[b] < day) is->day_stamp[b] = static_cast<int32_t>(day), is->day_count[b] = 0;
  if (is->day_stamp[b] == day) ++is->day_count[b];  // an event older than its bucket's day is past the windows
  const float w = TasteWeight(type);
  r.taste_total += w;
  r.cat_taste[is->category] += w;
  r.top_taste[is->top] += w;
  r.brand_taste[is->brand] += w;
  if (!us) return;
  us->taste += w;
  us->cat[is->category] += w;
  us->top[is->top] += w;
  if (is->brand) us->brand[is->brand] += w;
  auto& seen = us->seen[item];
  if (seen < 65535) ++seen;
  if (!std::isnan(is->price) && is->price > 0) {
    const double lp = std::log(is->price);
    us->lp_w += w, us->lp_sum += w * lp, us->lp_sq += w * lp * lp;
    if (type == static_cast<uint8_t>(EventType::kPurchase)) us->monetary += is->price;
  }
}

void FeatureStore::ApplyAll(const EventColumns& ev, int64_t until_ms) {
  std::vector<size_t> order;
  order.reserve(ev.size());
  for (size_t i = 0; i < ev.size(); ++i)
    if (ev.flags[i] == 0 && ev.ts_ms[i] < until_ms) order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ev.ts_ms[a] < ev.ts_ms[b]; });
  for (size_t i : order) Apply(ev.user[i], ev.item[i], ev.type[i], ev.ts_ms[i]);
}

int64_t FeatureStore::last_ms() const { return rep_->last_ms; }

ItemFeatures FeatureStore::Item(ItemId item, int64_t now_ms) const {
  const Rep& r = *rep_;
  ItemFeatures f;
  if (item >= r.items.size()) return f;
  const Rep::ItemState& s = r.items[item];
  f.price = s.price;
  f.price_pct = s.price_pct;
  f.stock = s.stock;
  f.age_days = s.first_ms < 0 ? kNaN : static_cast<double>(now_ms - s.first_ms) / kDayMs;
  f.views = s.counts[0], f.clicks = s.counts[1], f.carts = s.counts[2], f.purchases = s.counts[3];
  const double ctr0 = (r.totals[1] + 1.0) / (r.totals[0] + 10.0);
  const double cart0 = (r.totals[2] + 1.0) / (r.totals[0] + 10.0);
  const double cvr0 = (r.totals[3] + 1.0) / (r.totals[1] + 10.0);
  const double mv = r.options.prior_views, mc = r.options.prior_clicks;
  f.ctr = (f.clicks + mv * ctr0) / (f.views + mv);
  f.cart_rate = (f.carts + mv * cart0) / (f.views + mv);
  f.conversion = (f.purchases + mc * cvr0) / (f.clicks + mc);
  const int64_t day = now_ms / kDayMs;
  // Windows count now's day and the days before it.
  f.pop_1d = Rep::Window(s, day, 1);
  f.pop_7d = Rep::Window(s, day, 7);
  f.pop_30d = Rep::Window(s, day, 30);
  f.trend = (f.pop_7d / 7.0 + 0.5) / (f.pop_30d / 30.0 + 0.5);
  f.quality_flags = s.quality;
  f.category = r.categories.names[s.category];
  f.brand = r.brands.names[s.brand];
  return f;
}

namespace {

std::vector<std::pair<std::string, double>> Top(const std::unordered_map<uint32_t, float>& m,
                                                const std::vector<std::string>& names, double total, size_t k) {
  std::vector<std::pair<std::string, double>> out;
  for (const auto& [id, w] : m) out.emplace_back(names[id], total > 0 ? w / total : 0.0);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (out.size() > k) out.resize(k);
  return out;
}

}  // namespace

UserProfile FeatureStore::Profile(UserId user, int64_t now_ms) const {
  const Rep& r = *rep_;
  UserProfile p;
  p.log_price_mean = p.log_price_sd = p.recency_days = kNaN;
  if (user >= r.users.size()) return p;
  const Rep::UserState& s = r.users[user];
  p.events = s.events;
  p.active_days = s.active_days;
  p.monetary = s.monetary;
  if (s.last_ms >= 0) p.recency_days = static_cast<double>(now_ms - s.last_ms) / kDayMs;
  if (s.lp_w > 0) {
    p.log_price_mean = s.lp_sum / s.lp_w;
    p.log_price_sd = std::sqrt(std::max(0.0, s.lp_sq / s.lp_w - p.log_price_mean * p.log_price_mean));
  }
  const int rs = std::isnan(p.recency_days) ? 1 : p.recency_days <= 7 ? 3 : p.recency_days <= 30 ? 2 : 1;
  const int fs = s.active_days >= 5 ? 3 : s.active_days >= 2 ? 2 : 1;
  const int ms = s.monetary <= 0 ? 1 : s.monetary < 200 ? 2 : 3;
  p.segment = "R" + std::to_string(rs) + "F" + std::to_string(fs) + "M" + std::to_string(ms);
  p.categories = Top(s.cat, r.categories.names, s.taste, 5);
  p.brands = Top(s.brand, r.brands.names, s.taste, 5);
  p.attributes = r.user_attrs[user];
  return p;
}

const std::vector<std::string>& FeatureStore::FeatureNames() {
  static const std::vector<std::string> names = {
      // query and candidate generator
      "bm25", "bm25_rank", "bm25_rel", "bm25_title", "bm25_brand", "bm25_category", "bm25_tags", "bm25_description",
      "query_terms", "query_intent_p", "query_intent_top", "vector_sim",
      // item
      "log_price", "price_pct_category", "in_stock", "log_stock", "age_days", "ctr", "cart_rate", "conversion",
      "pop_1d", "pop_7d", "pop_30d", "trend", "quality_flags",
      // user
      "user_events", "user_recency_days", "user_active_days", "user_monetary",
      // cross
      "user_category_affinity", "user_top_category_affinity", "user_brand_affinity", "price_vs_user_band",
      "price_z_user_band", "user_item_interactions"};
  return names;
}

void FeatureStore::Vector(UserId user, ItemId item, const QueryContext& q, int64_t now_ms, float* out) const {
  const Rep& r = *rep_;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  size_t k = 0;
  out[k++] = q.score;
  out[k++] = static_cast<float>(q.rank);
  out[k++] = q.top_score > 0 ? q.score / q.top_score : 0.0f;
  for (int f = 0; f < FieldScorer::kFields; ++f)
    out[k++] = f < static_cast<int>(q.field_scores.size()) ? q.field_scores[f] : 0.0f;
  out[k++] = static_cast<float>(q.terms);
  out[k++] = q.intent_p;
  out[k++] = q.intent_top;
  out[k++] = q.vector_sim;
  const ItemFeatures it = Item(item, now_ms);
  const bool priced = !std::isnan(it.price) && it.price > 0;
  out[k++] = priced ? static_cast<float>(std::log(it.price)) : nan;
  out[k++] = static_cast<float>(it.price_pct);
  out[k++] = it.stock < 0 ? nan : it.stock > 0 ? 1.0f : 0.0f;
  out[k++] = it.stock < 0 ? nan : static_cast<float>(std::log1p(static_cast<double>(it.stock)));
  out[k++] = static_cast<float>(it.age_days);
  out[k++] = static_cast<float>(it.ctr);
  out[k++] = static_cast<float>(it.cart_rate);
  out[k++] = static_cast<float>(it.conversion);
  out[k++] = static_cast<float>(std::log1p(it.pop_1d));
  out[k++] = static_cast<float>(std::log1p(it.pop_7d));
  out[k++] = static_cast<float>(std::log1p(it.pop_30d));
  out[k++] = static_cast<float>(it.trend);
  out[k++] = static_cast<float>(it.quality_flags);
  const Rep::UserState* us = user < r.users.size() ? &r.users[user] : nullptr;
  const Rep::ItemState* is = item < r.items.size() ? &r.items[item] : nullptr;
  if (!us || us->events == 0 || !is) {
    for (; k < FeatureNames().size(); ++k) out[k] = nan;
    return;
  }
  out[k++] = static_cast<float>(std::log1p(static_cast<double>(us->events)));
  out[k++] = us->last_ms >= 0 ? static_cast<float>(static_cast<double>(now_ms - us->last_ms) / kDayMs) : nan;
  out[k++] = static_cast<float>(us->active_days);
  out[k++] = static_cast<float>(std::log1p(us->monetary));
  out[k++] = static_cast<float>(r.Share(us->cat, is->category, us->taste, r.cat_taste));
  out[k++] = static_cast<float>(r.Share(us->top, is->top, us->taste, r.top_taste));
  out[k++] = is->brand ? static_cast<float>(r.Share(us->brand, is->brand, us->taste, r.brand_taste)) : nan;
  if (priced && us->lp_w > 0) {
    const double mean = us->lp_sum / us->lp_w;
    const double sd = std::sqrt(std::max(0.0, us->lp_sq / us->lp_w - mean * mean));
    const double d = std::log(it.price) - mean;
    out[k++] = static_cast<float>(d);
    out[k++] = static_cast<float>(std::abs(d) / (sd + 0.1));
  } else {
    out[k++] = nan;
    out[k++] = nan;
  }
  const auto seen = us->seen.find(item);
  out[k++] = seen == us->seen.end() ? 0.0f : static_cast<float>(seen->second);
}

}  // namespace souk::rank
