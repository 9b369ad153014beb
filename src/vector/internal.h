// Internal to src/vector: the exact-search kernel both index kinds share,
// top-k selection, a small parallel-for, and the file reader/writer.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "vector/vector.h"

namespace souk::vector::internal {

inline constexpr size_t kNotFound = std::numeric_limits<size_t>::max();
inline constexpr float kNoScore = -std::numeric_limits<float>::infinity();

// ---- kernels -----------------------------------------------------------------

// Eight independent accumulators: without -ffast-math the compiler may not
// reorder a single running sum, but it does vectorise eight lanes.
inline float Dot(const float* a, const float* b, size_t d) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= d; i += 8) {
    for (size_t j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  }
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < d; ++i) s += a[i] * b[i];
  return s;
}

// -|a - b|^2, computed from the differences (not from norms, which cancels
// badly for near neighbours).
inline float NegL2(const float* a, const float* b, size_t d) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= d; i += 8) {
    for (size_t j = 0; j < 8; ++j) {
      const float t = a[i + j] - b[i + j];
      acc[j] += t * t;
    }
  }
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < d; ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return -s;
}

template <bool kL2>
inline float ScoreT(const float* q, const float* x, size_t d) {
  if constexpr (kL2) {
    return NegL2(q, x, d);
  } else {
    return Dot(q, x, d);
  }
}

inline float Score(Metric metric, const float* q, const float* x, size_t d) {
  return metric == Metric::kL2 ? NegL2(q, x, d) : Dot(q, x, d);
}

// Scales v to unit length; a zero vector stays zero (it scores 0 with
// everything under cosine).
inline void Normalize(float* v, size_t d) {
  const float norm = std::sqrt(Dot(v, v, d));
  if (norm > 0) {
    const float inv = 1.0f / norm;
    for (size_t i = 0; i < d; ++i) v[i] *= inv;
  }
}

inline bool AllFinite(const float* v, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(v[i])) return false;
  }
  return true;
}

// ---- top-k -------------------------------------------------------------------

struct Hit {
  float score;
  uint32_t id;
};

// The result order: higher score first, ties by lower id.
inline bool Better(const Hit& a, const Hit& b) { return a.score > b.score || (a.score == b.score && a.id < b.id); }

// The best k hits seen so far: a heap whose front is the worst kept hit, so
// most candidates are rejected by one comparison.
class TopK {
 public:
  explicit TopK(size_t k = 0) : k_(k) { heap_.reserve(k); }

  void Push(float score, uint32_t id) {
    const Hit hit{score, id};
    if (heap_.size() < k_) {
      if (std::isnan(score)) return;
      heap_.push_back(hit);
      std::push_heap(heap_.begin(), heap_.end(), Better);
    } else if (k_ > 0 && Better(hit, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), Better);
      heap_.back() = hit;
      std::push_heap(heap_.begin(), heap_.end(), Better);
    }
  }
  void Merge(const TopK& other) {
    for (const Hit& h : other.heap_) Push(h.score, h.id);
  }
  size_t size() const { return heap_.size(); }

  // Best first into k slots, padded with kNoId / -inf. Empties the heap.
  void Write(uint32_t* ids, float* scores) {
    std::sort_heap(heap_.begin(), heap_.end(), Better);
    for (size_t i = 0; i < k_; ++i) {
      ids[i] = i < heap_.size() ? heap_[i].id : kNoId;
      scores[i] = i < heap_.size() ? heap_[i].score : kNoScore;
    }
    heap_.clear();
  }

 private:
  size_t k_;
  std::vector<Hit> heap_;
};

inline void WriteEmpty(size_t k, uint32_t* ids, float* scores) {
  std::fill(ids, ids + k, kNoId);
  std::fill(scores, scores + k, kNoScore);
}

// ---- threads -----------------------------------------------------------------

// Runs fn(begin, end) over [0, n) cut into at most `threads` contiguous
// chunks, one of them on the calling thread. fn must not throw.
template <class F>
void ParallelFor(int threads, size_t n, F&& fn) {
  const size_t parts = std::min<size_t>(static_cast<size_t>(std::max(threads, 1)), n);
  if (parts <= 1) {
    if (n > 0) fn(size_t{0}, n);
    return;
  }
  std::vector<std::thread> pool;
  pool.reserve(parts - 1);
  for (size_t p = 1; p < parts; ++p) {
    pool.emplace_back([&fn, p, parts, n] { fn(n * p / parts, n * (p + 1) / parts); });
  }
  fn(size_t{0}, n / parts);
  for (auto& t : pool) t.join();
}

// ---- queries -----------------------------------------------------------------

// Queries ready to score: normalised copies for cosine, the caller's array
// otherwise. valid[q] is false for queries with non-finite values (they get
// no results).
struct PreparedQueries {
  const float* data = nullptr;
  std::vector<float> copy;
  std::vector<char> valid;
};
PreparedQueries PrepareQueries(Metric metric, size_t dim, size_t nq, const float* queries);

// Checks an Add batch: no kNoId ids, no non-finite values.
Status ValidateAdd(size_t dim, size_t n, const float* vectors, const uint32_t* ids);

// Indexes into an Add batch of the last occurrence of each id, in batch
// order: "the last vector wins" without adding an id twice.
std::vector<size_t> LastOccurrences(size_t n, const uint32_t* ids);

// ---- exact search ----------------------------------------------------------

// Exact search over any row store. Rows provides:
//   size_t rows() const;                  rows 0..rows()-1
//   const float* Vec(size_t r) const;     the row's dim floats
//   uint32_t Id(size_t r) const;
//   bool Live(size_t r) const;            false for removed rows
//   size_t Find(uint32_t id) const;       the row holding id, or kNotFound
//   static constexpr bool kMayHaveDead;   whether Live can be false

// Rows per block: a block of a 64-d matrix is 128 KiB, so it stays in L2
// while every query of a batch is scored against it.
inline size_t BlockRows(size_t dim) { return std::max<size_t>(16, (128 * 1024) / (dim * sizeof(float))); }

// Scores queries [q0, q1) against rows [r0, r1), pushing into tops[q - q0].
template <bool kL2, class Rows>
void ScanRange(const Rows& rows, size_t dim, const PreparedQueries& pq, size_t q0, size_t q1, size_t r0, size_t r1,
               const IdFilter* filter, TopK* tops) {
  const size_t block = BlockRows(dim);
  const bool need_mask = filter != nullptr || Rows::kMayHaveDead;
  std::vector<char> mask(need_mask ? block : 0);
  for (size_t b0 = r0; b0 < r1; b0 += block) {
    const size_t b1 = std::min(r1, b0 + block);
    if (need_mask) {
      for (size_t r = b0; r < b1; ++r) mask[r - b0] = rows.Live(r) && (filter == nullptr || filter->Allows(rows.Id(r)));
    }
    for (size_t q = q0; q < q1; ++q) {
      if (!pq.valid[q]) continue;
      const float* query = pq.data + q * dim;
      TopK& top = tops[q - q0];
      for (size_t r = b0; r < b1; ++r) {
        if (need_mask && !mask[r - b0]) continue;
        top.Push(ScoreT<kL2>(query, rows.Vec(r), dim), rows.Id(r));
      }
    }
  }
}

// An Allow filter: score only the listed ids.
template <bool kL2, class Rows>
void ScanList(const Rows& rows, size_t dim, const PreparedQueries& pq, size_t q0, size_t q1, const IdFilter& filter,
              TopK* tops) {
  std::vector<size_t> found;
  for (uint32_t id : filter.ids()) {
    const size_t r = rows.Find(id);
    if (r != kNotFound && rows.Live(r)) found.push_back(r);
  }
  for (size_t q = q0; q < q1; ++q) {
    if (!pq.valid[q]) continue;
    for (size_t r : found) tops[q - q0].Push(ScoreT<kL2>(pq.data + q * dim, rows.Vec(r), dim), rows.Id(r));
  }
}

// Below this many multiply-adds a search stays on the calling thread:
// starting threads costs tens of microseconds.
inline constexpr size_t kParallelWork = size_t{1} << 21;

// Exact top-k for the valid queries listed in `which` (indices into pq),
// written to ids_out/scores_out at each query's row. Batches are split by
// query across threads; one or few queries over many rows are split by row
// and merged.
template <bool kL2, class Rows>
void ExactSearchT(const Rows& rows, size_t dim, const PreparedQueries& pq, const std::vector<size_t>& which, size_t k,
                  const IdFilter* filter, int threads, uint32_t* ids_out, float* scores_out) {
  const size_t nq = which.size();
  const bool list = filter != nullptr && filter->count().has_value() && filter->ids().size() == *filter->count();
  // Queries are gathered so the scan reads them contiguously.
  PreparedQueries sub;
  sub.copy.resize(nq * dim);
  sub.valid.resize(nq);
  for (size_t i = 0; i < nq; ++i) {
    std::memcpy(sub.copy.data() + i * dim, pq.data + which[i] * dim, dim * sizeof(float));
    sub.valid[i] = pq.valid[which[i]];
  }
  sub.data = sub.copy.data();

  const size_t work = (list ? filter->ids().size() : rows.rows()) * dim * nq;
  const int t = work < kParallelWork ? 1 : threads;
  std::vector<TopK> tops(nq, TopK(k));
  auto scan = [&](size_t q0, size_t q1, size_t r0, size_t r1, TopK* out) {
    if (list) {
      ScanList<kL2>(rows, dim, sub, q0, q1, *filter, out);
    } else {
      ScanRange<kL2>(rows, dim, sub, q0, q1, r0, r1, filter, out);
    }
  };
  if (t <= 1 || nq >= static_cast<size_t>(t) || list) {
    ParallelFor(t, nq, [&](size_t q0, size_t q1) { scan(q0, q1, 0, rows.rows(), tops.data() + q0); });
  } else {
    std::vector<std::vector<TopK>> parts(static_cast<size_t>(t), std::vector<TopK>(nq, TopK(k)));
    const size_t n = rows.rows();
    ParallelFor(t, static_cast<size_t>(t), [&](size_t p0, size_t p1) {
      for (size_t p = p0; p < p1; ++p) scan(0, nq, n * p / t, n * (p + 1) / t, parts[p].data());
    });
    for (auto& part : parts) {
      for (size_t q = 0; q < nq; ++q) tops[q].Merge(part[q]);
    }
  }
  for (size_t i = 0; i < nq; ++i) tops[i].Write(ids_out + which[i] * k, scores_out + which[i] * k);
}

template <class Rows>
void ExactSearch(const Rows& rows, Metric metric, size_t dim, const PreparedQueries& pq,
                 const std::vector<size_t>& which, size_t k, const IdFilter* filter, int threads, uint32_t* ids_out,
                 float* scores_out) {
  if (metric == Metric::kL2) {
    ExactSearchT<true>(rows, dim, pq, which, k, filter, threads, ids_out, scores_out);
  } else {
    ExactSearchT<false>(rows, dim, pq, which, k, filter, threads, ids_out, scores_out);
  }
}

// ---- files -------------------------------------------------------------------

// A checksum over a byte stream that does not depend on how the stream is
// cut into calls (the writer and the reader use different chunks). Not
// cryptographic: it catches torn and bit-flipped files.
class Hasher {
 public:
  void Update(const void* data, size_t n);
  uint64_t Digest() const;

 private:
  void Mix(uint64_t word) { h_ = ((h_ << 31 | h_ >> 33) ^ word) * 0x9E3779B97F4A7C15ull; }
  uint64_t h_ = 0x736f756b76656331ull;
  uint64_t total_ = 0;
  unsigned char pending_[8] = {};
  size_t fill_ = 0;
};

inline constexpr char kMagic[8] = {'S', 'O', 'U', 'K', 'V', 'E', 'C', 'I'};
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr uint32_t kMaxSpecLength = 4096;

// Writes `path` through path.tmp and a rename; every byte is hashed and the
// digest is the file's last 8 bytes.
class FileWriter {
 public:
  Status Open(const std::string& path);
  void Write(const void* data, size_t n);
  template <class T>
  void Pod(const T& value) {
    Write(&value, sizeof(T));
  }
  Status Finish();

 private:
  std::ofstream out_;
  std::string path_, tmp_;
  Hasher hash_;
};

// Reads a file written by FileWriter, never past its end.
class FileReader {
 public:
  Status Open(const std::string& path);
  bool Read(void* data, size_t n);
  template <class T>
  bool Pod(T* value) {
    return Read(value, sizeof(T));
  }
  // Bytes left before the checksum.
  uint64_t remaining() const { return remaining_ >= 8 ? remaining_ - 8 : 0; }
  // Checks the checksum and that nothing follows it.
  Status Finish();
  const std::string& path() const { return path_; }
  Status Truncated() const { return Status::Corruption(path_ + " is truncated"); }
  Status Corrupt(const std::string& why) const { return Status::Corruption(path_ + " is corrupt: " + why); }

 private:
  std::ifstream in_;
  std::string path_;
  uint64_t remaining_ = 0;
  Hasher hash_;
};

// The fields every index file starts with.
struct FileHeader {
  IndexKind kind = IndexKind::kExact;
  Metric metric = Metric::kInnerProduct;
  uint32_t dim = 0;
  uint64_t count = 0;  // live vectors
  uint64_t rows = 0;   // stored rows (hnsw keeps removed ones)
  std::string spec;    // Describe()
};
void WriteHeader(FileWriter& out, const FileHeader& header);

// ---- the two kinds -----------------------------------------------------------

std::string DescribeOptions(const VectorIndexOptions& options);
std::unique_ptr<VectorIndex> NewExactIndex(size_t dim, const VectorIndexOptions& options);
std::unique_ptr<VectorIndex> NewHnswIndex(size_t dim, const VectorIndexOptions& options);
// Read the payload after the header; `options` come from the header's spec.
Result<std::unique_ptr<VectorIndex>> LoadExact(FileReader& in, const FileHeader& header,
                                               const VectorIndexOptions& options);
Result<std::unique_ptr<VectorIndex>> LoadHnsw(FileReader& in, const FileHeader& header,
                                              const VectorIndexOptions& options);

}  // namespace souk::vector::internal
