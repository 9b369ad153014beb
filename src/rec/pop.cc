// Popularity (global or within the history's categories) and trending
// (time-decayed recent popularity): the baselines every other model must
// beat, and the fallback for users without history.
#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "rec/internal.h"

namespace souk::rec {
namespace {

// pop:by=users|weight,cat=0|1
//  by=users  counts distinct users per item (robust to repeat-clickers);
//  by=weight sums interaction weights (purchases count more than views).
//  cat=1     ranks items of the history's categories first, in proportion to
//            how much of the history each category holds, then the rest.
class Popularity : public Model {
 public:
  explicit Popularity(Spec& spec) {
    by_ = spec.String("by", "users");
    per_category_ = spec.Int("cat", 0) != 0;
  }

  std::string Name() const override { return "pop"; }
  std::string Describe() const override { return "pop:by=" + by_ + ",cat=" + (per_category_ ? "1" : "0"); }

  Status Fit(const Interactions& data, const FitContext& ctx) override {
    if (by_ != "users" && by_ != "weight") {
      return Status::InvalidArgument("pop: by=" + by_ + " (expected users or weight)");
    }
    pop_.assign(data.num_items, 0.0f);
    for (uint32_t i = 0; i < data.num_items; ++i) {
      if (by_ == "users") {
        pop_[i] = static_cast<float>(data.item_ptr[i + 1] - data.item_ptr[i]);
      } else {
        for (float w : data.ItemWeights(i)) pop_[i] += w;
      }
    }
    category_.clear();
    if (per_category_) {
      category_ = ctx.item_category;
      category_.resize(data.num_items, kNone);
    }
    return Status::Ok();
  }

  void Score(const History& history, std::span<float> scores) const override {
    std::copy(pop_.begin(), pop_.end(), scores.begin());
    if (!per_category_ || history.items.empty()) return;
    std::unordered_map<uint32_t, float> share;
    float total = 0;
    for (uint32_t i : history.items) {
      if (i < category_.size() && category_[i] != kNone) {
        share[category_[i]] += 1;
        total += 1;
      }
    }
    if (total == 0) return;
    // Category share dominates; popularity orders within a share level.
    const float scale = *std::max_element(pop_.begin(), pop_.end()) + 1;
    for (size_t i = 0; i < pop_.size(); ++i) {
      const auto it = category_[i] == kNone ? share.end() : share.find(category_[i]);
      if (it != share.end()) scores[i] += scale * (1 + it->second / total);
    }
  }

  uint32_t num_items() const override { return static_cast<uint32_t>(pop_.size()); }

  Status SaveState(std::ostream& out) const override {
    WriteVector(out, pop_);
    WriteVector(out, category_);
    return Status::Ok();
  }
  Status LoadState(std::istream& in) override {
    if (!ReadVector(in, &pop_) || !ReadVector(in, &category_)) return CorruptState("pop");
    if (!category_.empty() && category_.size() != pop_.size()) return CorruptState("pop");
    return Status::Ok();
  }

 private:
  std::string by_;
  bool per_category_ = false;
  std::vector<float> pop_;
  std::vector<uint32_t> category_;
};

// trending:half_life=3,window=14 (days). Each interaction counts
// weight * 0.5^(age / half_life) where age is measured from the latest
// interaction in the data; interactions older than `window` do not count.
class Trending : public Model {
 public:
  explicit Trending(Spec& spec) {
    half_life_days_ = spec.Double("half_life", 3);
    window_days_ = spec.Double("window", 14);
  }

  std::string Name() const override { return "trending"; }
  std::string Describe() const override {
    return "trending:half_life=" + FormatNumber(half_life_days_) + ",window=" + FormatNumber(window_days_);
  }

  Status Fit(const Interactions& data, const FitContext&) override {
    if (!(half_life_days_ > 0) || !(window_days_ > 0)) {
      return Status::InvalidArgument("trending: half_life and window must be > 0 days");
    }
    constexpr double kDayMs = 86400000.0;
    const int64_t now = data.max_ts_ms;
    score_.assign(data.num_items, 0.0f);
    for (size_t k = 0; k < data.seq_items.size(); ++k) {
      const double age_days = static_cast<double>(now - data.seq_ts[k]) / kDayMs;
      if (age_days > window_days_) continue;
      score_[data.seq_items[k]] += static_cast<float>(std::exp2(-age_days / half_life_days_));
    }
    // Items with no recent activity keep a trace of all-time popularity so
    // that the list is never shorter than the catalog's active items.
    for (uint32_t i = 0; i < data.num_items; ++i) {
      score_[i] += 1e-6f * static_cast<float>(data.item_ptr[i + 1] - data.item_ptr[i]);
    }
    return Status::Ok();
  }

  void Score(const History&, std::span<float> scores) const override {
    std::copy(score_.begin(), score_.end(), scores.begin());
  }

  uint32_t num_items() const override { return static_cast<uint32_t>(score_.size()); }
  Status SaveState(std::ostream& out) const override {
    WriteVector(out, score_);
    return Status::Ok();
  }
  Status LoadState(std::istream& in) override {
    return ReadVector(in, &score_) ? Status::Ok() : CorruptState("trending");
  }

 private:
  double half_life_days_ = 3, window_days_ = 14;
  std::vector<float> score_;
};

}  // namespace

std::unique_ptr<Model> NewPopularity(Spec& spec) { return std::make_unique<Popularity>(spec); }
std::unique_ptr<Model> NewTrending(Spec& spec) { return std::make_unique<Trending>(spec); }

}  // namespace souk::rec
