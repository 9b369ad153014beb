#include "server/cache.h"

#include <cmath>

namespace souk::server {

Status CatalogView::Refresh(Store* store) {
  std::vector<ItemRow> rows;
  int64_t latest = 0;
  Status st = store->ReadSnapshot([&]() -> Status {
    SOUK_ASSIGN_OR_RETURN(latest, store->LatestItemChange());
    int64_t since;
    {
      std::shared_lock lock(mu_);
      since = since_ms_;
    }
    if (since < 0) {
      SOUK_ASSIGN_OR_RETURN(rows, store->LoadItems());
    } else {
      // Called when the catalog version moved. Rows are stamped with the
      // writer's clock taken before it waited for the write lock (up to
      // the 5 s busy timeout), so the window reaches 10 s back; applying
      // a row twice is harmless, missing one is not.
      SOUK_ASSIGN_OR_RETURN(rows, store->ItemsChangedSince(since - 10000));
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  std::unique_lock lock(mu_);
  for (ItemRow& r : rows) {
    Row& row = rows_[r.ext_id];
    row.id = r.id;
    row.deleted = r.deleted;
    row.title = std::move(r.title);
    row.brand = std::move(r.brand);
    row.category = std::move(r.category);
    row.price = r.price;
  }
  since_ms_ = std::max<int64_t>(latest, 0);
  return Status::Ok();
}

void CatalogView::Decorate(nlohmann::json* items) const {
  std::shared_lock lock(mu_);
  for (auto& x : *items) {
    auto it = rows_.find(x["item_id"].get<std::string>());
    if (it == rows_.end()) continue;
    const Row& r = it->second;
    x["title"] = r.title;
    x["price"] = std::isnan(r.price) ? nlohmann::json(nullptr) : nlohmann::json(r.price);
    x["brand"] = r.brand;
    x["category"] = r.category;
  }
}

std::optional<CatalogView::Row> CatalogView::Get(const std::string& ext_id) const {
  std::shared_lock lock(mu_);
  auto it = rows_.find(ext_id);
  if (it == rows_.end()) return std::nullopt;
  return it->second;
}

size_t CatalogView::size() const {
  std::shared_lock lock(mu_);
  return rows_.size();
}

std::optional<nlohmann::json> ResultCache::Get(const std::string& key, const std::string& variant) {
  std::lock_guard lock(mu_);
  auto it = by_key_.find(key);
  if (it != by_key_.end()) {
    auto v = it->second.find(variant);
    if (v != it->second.end()) {
      ++hits_;
      return v->second;
    }
  }
  ++misses_;
  return std::nullopt;
}

void ResultCache::Put(const std::string& key, const std::string& variant, nlohmann::json value, uint64_t epoch) {
  std::lock_guard lock(mu_);
  if (epoch != epoch_.load() || capacity_ == 0) return;
  if (entries_ >= capacity_) {  // full: start over (cheap, and rare at a sane capacity)
    by_key_.clear();
    entries_ = 0;
  }
  auto [it, inserted] = by_key_[key].insert_or_assign(variant, std::move(value));
  if (inserted) ++entries_;
}

void ResultCache::Invalidate(const std::vector<std::string>& keys) {
  std::lock_guard lock(mu_);
  ++epoch_;
  for (const auto& k : keys) {
    auto it = by_key_.find(k);
    if (it == by_key_.end()) continue;
    entries_ -= it->second.size();
    by_key_.erase(it);
  }
}

void ResultCache::Clear() {
  std::lock_guard lock(mu_);
  ++epoch_;
  by_key_.clear();
  entries_ = 0;
}

size_t ResultCache::entries() {
  std::lock_guard lock(mu_);
  return entries_;
}

}  // namespace souk::server
