// Item-kNN: cosine similarity between item columns of the user-item matrix,
// shrunk towards zero for items with little support (sim = dot / (|a||b| +
// shrink)), keeping the top-N neighbours of each item as a sparse matrix.
// A history scores an item by the summed similarity of its neighbours in the
// history, so new events count at once.
#include <algorithm>
#include <atomic>
#include <cmath>

#include "rec/internal.h"

namespace souk::rec {
namespace {

// itemknn:k=100,shrink=10,w=0,maxu=500
//  k      neighbours kept per item
//  shrink cosine shrinkage
//  w      1: use interaction weights (log1p) instead of 0/1
//  maxu   a user's most recent `maxu` items only (bounds the co-occurrence
//         cost of heavy users and bots)
class ItemKnn : public Model {
 public:
  explicit ItemKnn(Spec& spec) {
    k_ = spec.Int("k", 100);
    shrink_ = spec.Double("shrink", 10);
    weighted_ = spec.Int("w", 0) != 0;
    max_user_items_ = spec.Int("maxu", 500);
  }

  std::string Name() const override { return "itemknn"; }
  std::string Describe() const override {
    return "itemknn:k=" + std::to_string(k_) + ",shrink=" + FormatNumber(shrink_) + ",w=" + (weighted_ ? "1" : "0") +
           ",maxu=" + std::to_string(max_user_items_);
  }

  Status Fit(const Interactions& data, const FitContext& ctx) override {
    if (k_ < 1 || shrink_ < 0 || max_user_items_ < 1) {
      return Status::InvalidArgument("itemknn: need k >= 1, shrink >= 0, maxu >= 1");
    }
    const uint32_t n = data.num_items;
    // Per-user value of each item (0/1 or log1p weight), with heavy users cut
    // to their most recent items.
    std::vector<uint64_t> uptr(data.num_users + 1, 0);
    std::vector<uint32_t> uitems;
    std::vector<float> uvals;
    for (uint32_t u = 0; u < data.num_users; ++u) {
      auto items = data.UserItems(u);
      auto weights = data.UserWeights(u);
      if (items.size() <= static_cast<size_t>(max_user_items_)) {
        for (size_t j = 0; j < items.size(); ++j) {
          uitems.push_back(items[j]);
          uvals.push_back(weighted_ ? std::log1p(weights[j]) : 1.0f);
        }
      } else {
        // The most recent distinct items from the time-ordered sequence.
        std::vector<uint32_t> recent;
        auto seq = data.Sequence(u);
        for (size_t j = seq.size(); j-- > 0 && recent.size() < static_cast<size_t>(max_user_items_);) {
          if (std::find(recent.begin(), recent.end(), seq[j]) == recent.end()) recent.push_back(seq[j]);
        }
        std::sort(recent.begin(), recent.end());
        for (uint32_t i : recent) {
          const size_t j = std::lower_bound(items.begin(), items.end(), i) - items.begin();
          uitems.push_back(i);
          uvals.push_back(weighted_ ? std::log1p(weights[j]) : 1.0f);
        }
      }
      uptr[u + 1] = uitems.size();
    }
    // Item columns of the cut matrix.
    std::vector<uint64_t> iptr(n + 1, 0);
    for (uint32_t i : uitems) iptr[i + 1]++;
    for (uint32_t i = 0; i < n; ++i) iptr[i + 1] += iptr[i];
    std::vector<uint32_t> iusers(uitems.size());
    std::vector<float> ivals(uitems.size());
    {
      std::vector<uint64_t> next(iptr.begin(), iptr.end() - 1);
      for (uint32_t u = 0; u < data.num_users; ++u) {
        for (uint64_t e = uptr[u]; e < uptr[u + 1]; ++e) {
          const uint64_t p = next[uitems[e]]++;
          iusers[p] = u;
          ivals[p] = uvals[e];
        }
      }
    }
    std::vector<float> norm(n, 0.0f);
    for (uint32_t i = 0; i < n; ++i) {
      double s = 0;
      for (uint64_t e = iptr[i]; e < iptr[i + 1]; ++e) s += double{ivals[e]} * ivals[e];
      norm[i] = static_cast<float>(std::sqrt(s));
    }

    // Neighbour lists, computed in parallel; each worker owns a dense
    // accumulator and a touched-list.
    std::vector<std::vector<ScoredItem>> nbrs(n);
    const size_t keep = static_cast<size_t>(k_);
    std::atomic<uint64_t> done{0};
    ParallelFor(n, ctx.threads, [&](size_t begin, size_t end) {
      std::vector<float> acc(n, 0.0f);
      std::vector<uint32_t> touched;
      for (size_t i = begin; i < end; ++i) {
        touched.clear();
        for (uint64_t e = iptr[i]; e < iptr[i + 1]; ++e) {
          const uint32_t u = iusers[e];
          const float vi = ivals[e];
          for (uint64_t f = uptr[u]; f < uptr[u + 1]; ++f) {
            const uint32_t j = uitems[f];
            if (j == i) continue;
            if (acc[j] == 0.0f) touched.push_back(j);
            acc[j] += vi * uvals[f];
          }
        }
        std::vector<ScoredItem>& out = nbrs[i];
        out.reserve(std::min(touched.size(), keep));
        for (uint32_t j : touched) {
          const float sim = acc[j] / (norm[i] * norm[j] + static_cast<float>(shrink_));
          acc[j] = 0.0f;
          out.push_back({j, sim});
        }
        auto better = [](const ScoredItem& a, const ScoredItem& b) {
          return a.score > b.score || (a.score == b.score && a.item < b.item);
        };
        if (out.size() > keep) {
          std::nth_element(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(keep), out.end(), better);
          out.resize(keep);
        }
        std::sort(out.begin(), out.end(), better);
        const uint64_t d = ++done;
        if (ctx.progress && begin == 0 && (d & 1023) == 0) ctx.progress(d, n);
      }
    });
    pop_.assign(n, 0.0f);
    float max_pop = 1;
    for (uint32_t i = 0; i < n; ++i) max_pop = std::max(max_pop, static_cast<float>(iptr[i + 1] - iptr[i]));
    for (uint32_t i = 0; i < n; ++i) pop_[i] = static_cast<float>(iptr[i + 1] - iptr[i]) / max_pop;
    ptr_.assign(n + 1, 0);
    nbr_.clear();
    sim_.clear();
    for (uint32_t i = 0; i < n; ++i) {
      for (const ScoredItem& x : nbrs[i]) {
        nbr_.push_back(x.item);
        sim_.push_back(x.score);
      }
      ptr_[i + 1] = nbr_.size();
    }
    return Status::Ok();
  }

  void Score(const History& history, std::span<float> scores) const override {
    std::fill(scores.begin(), scores.end(), 0.0f);
    // Each distinct history item counts once (its value as in training).
    std::vector<std::pair<uint32_t, float>> h;
    for (size_t j = 0; j < history.items.size(); ++j) {
      const uint32_t i = history.items[j];
      if (i >= num_items()) continue;
      const float w = history.weights.empty() ? 1.0f : history.weights[j];
      h.emplace_back(i, w);
    }
    std::sort(h.begin(), h.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (size_t j = 0; j < h.size();) {
      size_t e = j;
      float w = 0;
      while (e < h.size() && h[e].first == h[j].first) w += h[e++].second;
      const float v = weighted_ ? std::log1p(w) : 1.0f;
      const uint32_t i = h[j].first;
      for (uint64_t p = ptr_[i]; p < ptr_[i + 1]; ++p) scores[nbr_[p]] += v * sim_[p];
      j = e;
    }
    // Items no history item points to rank after every item with evidence,
    // by popularity (instead of one big tie at 0).
    for (uint32_t i = 0; i < num_items(); ++i) {
      if (scores[i] <= 0.0f) scores[i] = -1.0f + pop_[i];
    }
  }

  Result<std::vector<ScoredItem>> Similar(uint32_t item, size_t k) const override {
    if (item >= num_items()) return Status::NotFound("item was not in the training data");
    std::vector<ScoredItem> out;
    for (uint64_t p = ptr_[item]; p < ptr_[item + 1] && out.size() < k; ++p) out.push_back({nbr_[p], sim_[p]});
    return out;
  }

  uint32_t num_items() const override { return ptr_.empty() ? 0 : static_cast<uint32_t>(ptr_.size() - 1); }

  Status SaveState(std::ostream& out) const override {
    WriteVector(out, ptr_);
    WriteVector(out, nbr_);
    WriteVector(out, sim_);
    WriteVector(out, pop_);
    return Status::Ok();
  }
  Status LoadState(std::istream& in) override {
    if (!ReadVector(in, &ptr_) || !ReadVector(in, &nbr_) || !ReadVector(in, &sim_) || !ReadVector(in, &pop_)) {
      return CorruptState("itemknn");
    }
    if (ptr_.empty() || nbr_.size() != sim_.size() || ptr_.back() != nbr_.size() || pop_.size() + 1 != ptr_.size()) {
      return CorruptState("itemknn");
    }
    const uint32_t n = num_items();
    for (uint32_t j : nbr_) {
      if (j >= n) return CorruptState("itemknn");
    }
    return Status::Ok();
  }

 private:
  int64_t k_ = 100;
  double shrink_ = 10;
  bool weighted_ = false;
  int64_t max_user_items_ = 500;
  std::vector<uint64_t> ptr_;  // CSR: neighbours of item i are ptr_[i]..ptr_[i+1]
  std::vector<uint32_t> nbr_;
  std::vector<float> sim_;
  std::vector<float> pop_;  // users per item / max, the fallback order
};

}  // namespace

std::unique_ptr<Model> NewItemKnn(Spec& spec) { return std::make_unique<ItemKnn>(spec); }

}  // namespace souk::rec
