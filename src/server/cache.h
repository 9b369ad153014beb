// Serving caches of `souk serve` (internal to src/server): the catalog's
// display fields in memory, and recommendation answers per user, both kept
// coherent with the store by change tracking (see HttpServer::SyncChanges).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "store/store.h"

namespace souk::server {

// What a response shows of an item, by external id. Loaded whole once, then
// only the rows the store reports changed (ItemsChangedSince).
class CatalogView {
 public:
  struct Row {
    ItemId id = kNoId;
    bool deleted = false;
    std::string title, brand, category;
    double price = 0;  // NaN = none
  };
  // Loads the changes since the last refresh (everything the first time).
  Status Refresh(Store* store);
  // Adds title, price, brand and category to every {"item_id":..} of `items`.
  void Decorate(nlohmann::json* items) const;
  std::optional<Row> Get(const std::string& ext_id) const;
  size_t size() const;

 private:
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, Row> rows_;
  int64_t since_ms_ = -1;  // -1: nothing loaded
};

// Answers of the recommendation routes, by user (or "item:ID" for similar
// items) and variant ("k|exclude"). Invalidated per user when that user's
// events change, whole when the catalog or the models change. A Put made
// from reads that began before an invalidation is dropped (the epoch), so a
// stale answer never outlives the change that made it stale.
class ResultCache {
 public:
  explicit ResultCache(size_t capacity) : capacity_(capacity) {}
  uint64_t Epoch() const { return epoch_.load(); }
  std::optional<nlohmann::json> Get(const std::string& key, const std::string& variant);
  void Put(const std::string& key, const std::string& variant, nlohmann::json value, uint64_t epoch);
  void Invalidate(const std::vector<std::string>& keys);
  void Clear();
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }
  size_t entries();

 private:
  std::mutex mu_;
  std::unordered_map<std::string, std::unordered_map<std::string, nlohmann::json>> by_key_;
  size_t entries_ = 0, capacity_;
  std::atomic<uint64_t> epoch_{0}, hits_{0}, misses_{0};
};

}  // namespace souk::server
