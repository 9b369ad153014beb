// The exact index: a flat row-major matrix scanned in full by every search.
// Layout: vectors_[r * dim .. r * dim + dim) is row r, ids_[r] its id; rows
// are dense (Remove moves the last row into the hole), so a scan reads one
// contiguous array.
#include <cassert>
#include <unordered_map>

#include "vector/internal.h"

namespace souk::vector::internal {
namespace {

class ExactIndex final : public VectorIndex {
 public:
  ExactIndex(size_t dim, const VectorIndexOptions& options) : VectorIndex(dim), options_(options) {
    options_.kind = IndexKind::kExact;
  }

  std::string Describe() const override { return DescribeOptions(options_); }
  const VectorIndexOptions& options() const override { return options_; }
  size_t size() const override { return ids_.size(); }
  bool Contains(uint32_t id) const override { return row_of_.count(id) > 0; }

  Status Add(size_t n, const float* vectors, const uint32_t* ids) override {
    SOUK_RETURN_IF_ERROR(ValidateAdd(dim_, n, vectors, ids));
    vectors_.reserve(vectors_.size() + n * dim_);
    ids_.reserve(ids_.size() + n);
    for (size_t i = 0; i < n; ++i) {
      auto [it, added] = row_of_.try_emplace(ids[i], static_cast<uint32_t>(ids_.size()));
      if (added) {
        ids_.push_back(ids[i]);
        vectors_.resize(vectors_.size() + dim_);
      }
      float* row = vectors_.data() + size_t{it->second} * dim_;
      std::copy(vectors + i * dim_, vectors + (i + 1) * dim_, row);
      if (options_.metric == Metric::kCosine) Normalize(row, dim_);
    }
    return Status::Ok();
  }

  Status Remove(uint32_t id) override {
    auto it = row_of_.find(id);
    if (it == row_of_.end()) return Status::NotFound("id " + std::to_string(id) + " is not in the index");
    const uint32_t row = it->second, last = static_cast<uint32_t>(ids_.size() - 1);
    row_of_.erase(it);
    if (row != last) {
      std::copy(vectors_.begin() + size_t{last} * dim_, vectors_.begin() + size_t{last + 1} * dim_,
                vectors_.begin() + size_t{row} * dim_);
      ids_[row] = ids_[last];
      row_of_[ids_[row]] = row;
    }
    ids_.pop_back();
    vectors_.resize(ids_.size() * dim_);
    return Status::Ok();
  }

  void Search(size_t nq, const float* queries, size_t k, uint32_t* ids_out, float* scores_out,
              const SearchParams& params) const override {
    if (k == 0 || nq == 0) return;
    const PreparedQueries pq = PrepareQueries(options_.metric, dim_, nq, queries);
    std::vector<size_t> all(nq);
    for (size_t q = 0; q < nq; ++q) all[q] = q;
    ExactSearch(Rows{this}, options_.metric, dim_, pq, all, k, params.filter, options_.threads, ids_out, scores_out);
  }

  Status Save(const std::string& path) const override {
    FileWriter out;
    SOUK_RETURN_IF_ERROR(out.Open(path));
    WriteHeader(out, FileHeader{IndexKind::kExact, options_.metric, static_cast<uint32_t>(dim_), ids_.size(),
                                ids_.size(), Describe()});
    out.Write(ids_.data(), ids_.size() * sizeof(uint32_t));
    out.Write(vectors_.data(), vectors_.size() * sizeof(float));
    return out.Finish();
  }

  Status LoadPayload(FileReader& in, const FileHeader& h) {
    if (h.count != h.rows) return in.Corrupt("an exact index stores only live rows");
    // The header was checked against the file size, so these fit in memory
    // as well as the file did.
    ids_.resize(h.rows);
    vectors_.resize(h.rows * dim_);
    if (!in.Read(ids_.data(), ids_.size() * sizeof(uint32_t))) return in.Truncated();
    if (!in.Read(vectors_.data(), vectors_.size() * sizeof(float))) return in.Truncated();
    SOUK_RETURN_IF_ERROR(in.Finish());
    row_of_.reserve(ids_.size());
    for (size_t r = 0; r < ids_.size(); ++r) {
      if (ids_[r] == kNoId) return in.Corrupt("row " + std::to_string(r) + " has the reserved id");
      if (!row_of_.emplace(ids_[r], static_cast<uint32_t>(r)).second) {
        return in.Corrupt("id " + std::to_string(ids_[r]) + " appears twice");
      }
    }
    if (!AllFinite(vectors_.data(), vectors_.size())) return in.Corrupt("non-finite vector values");
    return Status::Ok();
  }

 private:
  struct Rows {
    const ExactIndex* index;
    static constexpr bool kMayHaveDead = false;
    size_t rows() const { return index->ids_.size(); }
    const float* Vec(size_t r) const { return index->vectors_.data() + r * index->dim_; }
    uint32_t Id(size_t r) const { return index->ids_[r]; }
    bool Live(size_t) const { return true; }
    size_t Find(uint32_t id) const {
      auto it = index->row_of_.find(id);
      return it == index->row_of_.end() ? kNotFound : it->second;
    }
  };

  VectorIndexOptions options_;
  std::vector<float> vectors_;
  std::vector<uint32_t> ids_;
  std::unordered_map<uint32_t, uint32_t> row_of_;  // id -> row
};

}  // namespace

std::unique_ptr<VectorIndex> NewExactIndex(size_t dim, const VectorIndexOptions& options) {
  return std::make_unique<ExactIndex>(dim, options);
}

Result<std::unique_ptr<VectorIndex>> LoadExact(FileReader& in, const FileHeader& header,
                                               const VectorIndexOptions& options) {
  auto index = std::make_unique<ExactIndex>(header.dim, options);
  SOUK_RETURN_IF_ERROR(index->LoadPayload(in, header));
  return std::unique_ptr<VectorIndex>(std::move(index));
}

}  // namespace souk::vector::internal
