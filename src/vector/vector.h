// Vector search: one VectorIndex interface over dense uint32 item ids, with
// two kinds behind it, built from a spec string like the recommenders:
//
//   "exact:metric=ip"                      brute force over a flat matrix
//   "hnsw:M=16,efc=200,ef=64,metric=ip"    hnswlib graph (approximate)
//
// The interface is batch-first in the faiss style: Add takes n vectors as a
// row-major n x dim float array, Search takes nq queries and fills
// caller-owned nq x k arrays of ids and scores. Scores are similarities,
// higher is better, whatever the metric: the inner product for ip and cosine,
// minus the squared Euclidean distance for l2. Results are best first, ties
// by lower id; a query with fewer than k results has its row padded with
// kNoId and -inf.
//
// An hnsw index answers exactly (the same answer as "exact") when that is as
// cheap or cheaper: while it holds fewer than exact_below vectors, when a
// search asks for it (SearchParams::exact), and when a filter allows so few
// ids that walking the graph would visit most of it anyway; and for a query
// the graph returned too few results for (a filter allowing fewer ids than
// it seemed to, a graph cut up by removals). Exact search is also the
// ground truth for MeasureRecall.
//
// Files: Save/LoadVectorIndex, format in docs/vector.md (magic "SOUKVECI",
// version, kind, metric, dim, counts, spec, payload, checksum). A truncated,
// corrupt or foreign file is an error Status, never a crash.
//
// Thread-safety: after building, Search (and Save, size, Describe) may be
// called from many threads at once. Add and Remove are not thread-safe: no
// other call may run on the index while they do.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/core.h"
#include "core/status.h"

namespace souk::vector {

enum class Metric : uint32_t {
  kInnerProduct = 0,  // "ip": score = <q, x>
  kCosine = 1,        // "cosine": vectors normalised on add and on query, then ip
  kL2 = 2,            // "l2": score = -|q - x|^2
};

// "ip", "cosine", "l2".
std::string_view MetricName(Metric metric);

enum class IndexKind : uint32_t { kExact = 0, kHnsw = 1 };

struct VectorIndexOptions {
  IndexKind kind = IndexKind::kHnsw;
  Metric metric = Metric::kInnerProduct;
  // hnsw graph: links per node (M, 2M on the bottom layer), candidate list
  // size while building (efc) and, by default, while searching (ef; a
  // search can override it). Bigger is slower and more accurate.
  size_t M = 16;
  size_t ef_construction = 200;
  size_t ef_search = 64;
  // An hnsw index with fewer live vectors than this searches exactly: below
  // a few thousand vectors a scan is as fast as the graph and always right.
  size_t exact_below = 5000;
  // Threads one Add (the hnsw build) or one Search may use: a batch is
  // split by query, one exact query over many rows by row. 1 = only the
  // caller's thread, right for servers that run a request per thread.
  int threads = 1;
  // Seeds the hnsw level generator. With threads = 1 the same adds give the
  // same graph; parallel builds depend on scheduling.
  uint64_t seed = 42;
};

// Parses "kind" or "kind:key=value,...". Kinds: exact (keys: metric), hnsw
// (keys: M, efc, ef, metric, exact_below). Unknown kinds or keys and bad
// values are InvalidArgument naming them. threads and seed are not part of a
// spec (they do not change what the index is); they keep their defaults.
Result<VectorIndexOptions> ParseVectorIndexSpec(std::string_view spec);

// Which ids a search may return. Cheap to construct per request; a filter
// must outlive the Search calls that use it.
class IdFilter {
 public:
  // Ids whose bit is set: bit (id % 64) of words[id / 64]; ids past the end
  // are not allowed. Does not copy: `words` must outlive the filter.
  static IdFilter Bitmap(std::span<const uint64_t> words);
  // Exactly these ids (copied; any order, duplicates are fine).
  static IdFilter Allow(std::span<const uint32_t> ids);
  // The ids for which allow(id) is true. It is called from the searching
  // threads, so it must be safe to call concurrently.
  static IdFilter Predicate(std::function<bool(uint32_t)> allow);

  bool Allows(uint32_t id) const;
  // How many ids it allows when that is known (Bitmap, Allow), else nullopt.
  // Used to choose between the graph and an exact scan.
  std::optional<size_t> count() const { return count_; }
  // The allowed ids, sorted, for Allow filters; empty for the others.
  std::span<const uint32_t> ids() const { return ids_; }

 private:
  enum class Type { kBitmap, kAllow, kPredicate };
  Type type_ = Type::kPredicate;
  std::span<const uint64_t> words_;
  std::vector<uint32_t> ids_;
  std::function<bool(uint32_t)> allow_;
  std::optional<size_t> count_;
};

struct SearchParams {
  // hnsw candidate list size; 0 = the index's ef_search. Raised to k when
  // smaller. Ignored by exact indexes.
  size_t ef = 0;
  // Only ids the filter allows are returned; nullptr = all.
  const IdFilter* filter = nullptr;
  // Scan every vector instead of walking the graph (ground truth).
  bool exact = false;
};

class VectorIndex {
 public:
  virtual ~VectorIndex() = default;

  // "hnsw:M=16,efc=200,ef=64,metric=ip" (exact_below=N is added when not the
  // default) or "exact:metric=ip"; ParseVectorIndexSpec(Describe()) gives
  // back this configuration.
  virtual std::string Describe() const = 0;
  virtual const VectorIndexOptions& options() const = 0;
  size_t dim() const { return dim_; }
  Metric metric() const { return options().metric; }
  // Live vectors (removed ones not counted).
  virtual size_t size() const = 0;
  // Whether `id` has a live vector.
  virtual bool Contains(uint32_t id) const = 0;

  // Adds n vectors (`vectors` row-major n x dim) under `ids`. An id already
  // in the index gets the new vector (a removed id comes back); when an id
  // repeats within the batch, its last vector wins. Non-finite values or
  // the id kNoId are InvalidArgument and nothing is added. Not thread-safe.
  virtual Status Add(size_t n, const float* vectors, const uint32_t* ids) = 0;

  // Removes `id` from future results; NotFound when it has no live vector.
  // hnsw keeps the node in the graph (marked deleted) so the graph stays
  // connected; re-adding the id reuses it. Not thread-safe.
  virtual Status Remove(uint32_t id) = 0;

  // For each of the nq queries (row-major nq x dim), the best k ids and
  // their scores into ids_out[q*k..q*k+k) and scores_out[q*k..q*k+k) (both
  // caller-owned, nq*k long), best first, padded with kNoId / -inf. Queries
  // with non-finite values get no results. Thread-safe.
  virtual void Search(size_t nq, const float* queries, size_t k, uint32_t* ids_out, float* scores_out,
                      const SearchParams& params = {}) const = 0;

  // Writes the index to `path` (via a temporary file and a rename, so a
  // failed save leaves an existing file as it was). Thread-safe with Search.
  virtual Status Save(const std::string& path) const = 0;

 protected:
  explicit VectorIndex(size_t dim) : dim_(dim) {}
  size_t dim_;
};

// An empty index of dimension `dim` (>= 1). Bad options (M < 2, ef or efc
// 0, dim 0 or above kMaxDim) are InvalidArgument.
Result<std::unique_ptr<VectorIndex>> MakeVectorIndex(size_t dim, const VectorIndexOptions& options);
// Same, from a spec string, with the given threads and seed.
Result<std::unique_ptr<VectorIndex>> MakeVectorIndex(std::string_view spec, size_t dim, int threads = 1,
                                                     uint64_t seed = 42);

inline constexpr size_t kMaxDim = 65536;

// Reads an index written by Save. `threads` as in VectorIndexOptions. When
// expected_dim is not 0, a file of another dimension is InvalidArgument.
// Missing files are NotFound; truncated or corrupt files, bad magic or an
// unknown version are Corruption.
Result<std::unique_ptr<VectorIndex>> LoadVectorIndex(const std::string& path, size_t expected_dim = 0, int threads = 1);

// recall@k of `index` (searched with `params`) against `truth` searched
// exactly: of the true top-k ids over all nq queries, the fraction `index`
// also returned. `truth` may be the same object. 1 when there is nothing to
// find. Both must have the same dim and metric (asserted).
double MeasureRecall(const VectorIndex& index, const VectorIndex& truth, size_t nq, const float* queries, size_t k,
                     const SearchParams& params = {});

}  // namespace souk::vector
