// The hnsw index: hnswlib's HierarchicalNSW graph, searched through its
// public members rather than searchKnn, because the packaged hnswlib
// (Debian 0.6.2) has no per-query ef (setEf is a shared field, so two
// threads searching with different ef would race) and no filters.
//
// This is the only translation unit that includes hnswlib: its header
// defines non-inline functions (cpuid, AVXCapable), so a second includer in
// the same binary would not link.
#include <hnswlib/hnswlib.h>

#include <atomic>
#include <cassert>
#include <mutex>

#include "vector/internal.h"

namespace souk::vector::internal {
namespace {

using Graph = hnswlib::HierarchicalNSW<float>;
using hnswlib::linklistsizeint;
using hnswlib::tableint;

constexpr size_t kInitialCapacity = 1024;
// hnswlib draws levels as -ln(U) / ln(M); level 64 would take U < e^-44.
constexpr uint32_t kMaxLevel = 64;
// A filter allowing less than this fraction of the vectors sends the search
// to an exact scan: the graph would have to be walked with ef / fraction
// candidates, visiting a large part of it anyway.
constexpr double kMinGraphFraction = 1.0 / 32;
// Predicate filters say nothing about how many ids they allow; this many
// evenly spaced rows are tested to estimate it.
constexpr size_t kFilterSamples = 512;
// Batches smaller than this search on the calling thread.
constexpr size_t kParallelQueries = 8;

std::unique_ptr<hnswlib::SpaceInterface<float>> MakeSpace(Metric metric, size_t dim) {
  if (metric == Metric::kL2) return std::make_unique<hnswlib::L2Space>(dim);
  // Cosine vectors are normalised before they reach the graph.
  return std::make_unique<hnswlib::InnerProductSpace>(dim);
}

class HnswIndex final : public VectorIndex {
 public:
  // Throws std::bad_alloc (or hnswlib's runtime_error) when the graph's
  // first arrays cannot be allocated; the factories catch it.
  HnswIndex(size_t dim, const VectorIndexOptions& options, size_t capacity)
      : VectorIndex(dim), options_(options), space_(MakeSpace(options.metric, dim)) {
    options_.kind = IndexKind::kHnsw;
    graph_ = std::make_unique<Graph>(space_.get(), std::max<size_t>(capacity, 1), options_.M, options_.ef_construction,
                                     static_cast<size_t>(options_.seed));
  }

  std::string Describe() const override { return DescribeOptions(options_); }
  const VectorIndexOptions& options() const override { return options_; }
  size_t size() const override { return graph_->cur_element_count - graph_->num_deleted_; }
  bool Contains(uint32_t id) const override { return FindLive(id) != kNotFound; }

  Status Add(size_t n, const float* vectors, const uint32_t* ids) override;
  Status Remove(uint32_t id) override;
  void Search(size_t nq, const float* queries, size_t k, uint32_t* ids_out, float* scores_out,
              const SearchParams& params) const override;
  Status Save(const std::string& path) const override;
  Status LoadPayload(FileReader& in, const FileHeader& h);

 private:
  // The graph's storage seen as rows for the exact scan: row r is internal
  // id r, its vector lives inside hnswlib's level-0 block.
  struct Rows {
    const Graph* g;
    static constexpr bool kMayHaveDead = true;
    size_t rows() const { return g->cur_element_count; }
    const float* Vec(size_t r) const {
      return reinterpret_cast<const float*>(g->getDataByInternalId(static_cast<tableint>(r)));
    }
    uint32_t Id(size_t r) const { return static_cast<uint32_t>(g->getExternalLabel(static_cast<tableint>(r))); }
    bool Live(size_t r) const { return !g->isMarkedDeleted(static_cast<tableint>(r)); }
    size_t Find(uint32_t id) const {
      auto it = g->label_lookup_.find(id);
      return it == g->label_lookup_.end() ? kNotFound : it->second;
    }
  };

  size_t FindLive(uint32_t id) const {
    const size_t r = Rows{graph_.get()}.Find(id);
    return r != kNotFound && !graph_->isMarkedDeleted(static_cast<tableint>(r)) ? r : kNotFound;
  }
  double AllowedFraction(const IdFilter& filter) const;
  bool GraphSearch(const float* query, size_t k, size_t ef, const IdFilter* filter, size_t want, uint32_t* ids_out,
                   float* scores_out) const;

  VectorIndexOptions options_;
  // space_ must outlive graph_: the graph keeps a pointer to its dimension.
  std::unique_ptr<hnswlib::SpaceInterface<float>> space_;
  std::unique_ptr<Graph> graph_;
};

Status HnswIndex::Add(size_t n, const float* vectors, const uint32_t* ids) {
  SOUK_RETURN_IF_ERROR(ValidateAdd(dim_, n, vectors, ids));
  if (n == 0) return Status::Ok();
  // hnswlib would update an id given twice in one batch, racing with itself
  // when the batch is split across threads; keep each id's last vector only.
  const std::vector<size_t> order = LastOccurrences(n, ids);
  std::vector<float> normalized;
  const float* data = vectors;
  if (options_.metric == Metric::kCosine) {
    normalized.assign(vectors, vectors + n * dim_);
    for (size_t i : order) Normalize(normalized.data() + i * dim_, dim_);
    data = normalized.data();
  }
  size_t fresh = 0;
  for (size_t i : order) fresh += graph_->label_lookup_.count(ids[i]) == 0;
  try {
    const size_t need = graph_->cur_element_count + fresh;
    if (need > graph_->max_elements_) graph_->resizeIndex(std::max(need, graph_->max_elements_ * 2));
  } catch (const std::exception& e) {
    return Status::ResourceExhausted(std::string("hnsw index cannot grow: ") + e.what());
  }

  std::mutex error_mu;
  Status error;
  auto add = [&](size_t j) {
    try {
      graph_->addPoint(data + order[j] * dim_, ids[order[j]]);
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(error_mu);
      if (error.ok()) error = Status::Internal(std::string("hnsw add: ") + e.what());
    }
  };
  size_t start = 0;
  // The first node becomes the entry point; insert it alone so parallel
  // inserts always find one.
  if (graph_->cur_element_count == 0) add(start++);
  std::atomic<size_t> next{start};
  // One thread for small batches, and always for threads = 1, which keeps a
  // build reproducible (parallel inserts depend on scheduling).
  const int threads = order.size() - start >= 64 ? options_.threads : 1;
  ParallelFor(threads, static_cast<size_t>(std::max(threads, 1)), [&](size_t, size_t) {
    for (size_t j; (j = next.fetch_add(1)) < order.size();) add(j);
  });
  return error;
}

Status HnswIndex::Remove(uint32_t id) {
  const size_t r = FindLive(id);
  if (r == kNotFound) return Status::NotFound("id " + std::to_string(id) + " is not in the index");
  graph_->markDeletedInternal(static_cast<tableint>(r));
  return Status::Ok();
}

double HnswIndex::AllowedFraction(const IdFilter& filter) const {
  const size_t live = size();
  if (filter.count()) return std::min(1.0, static_cast<double>(*filter.count()) / static_cast<double>(live));
  const size_t rows = graph_->cur_element_count;
  const size_t step = std::max<size_t>(1, rows / kFilterSamples);
  size_t tested = 0, allowed = 0;
  for (size_t r = 0; r < rows && tested < kFilterSamples; r += step) {
    if (graph_->isMarkedDeleted(static_cast<tableint>(r))) continue;
    ++tested;
    allowed += filter.Allows(static_cast<uint32_t>(graph_->getExternalLabel(static_cast<tableint>(r))));
  }
  return tested == 0 ? 1.0 : static_cast<double>(allowed) / static_cast<double>(tested);
}

// One query through the graph: hnswlib's searchKnn with ef passed in, then
// the nearest candidates that are live and allowed, rescored with the exact
// kernel so scores (and tie order) match an exact search. Returns false when
// fewer than `want` results were found, for the caller to scan instead.
bool HnswIndex::GraphSearch(const float* query, size_t k, size_t ef, const IdFilter* filter, size_t want,
                            uint32_t* ids_out, float* scores_out) const {
  const Graph& g = *graph_;
  tableint cur = g.enterpoint_node_;
  float cur_dist = g.fstdistfunc_(query, g.getDataByInternalId(cur), g.dist_func_param_);
  for (int level = g.maxlevel_; level > 0; --level) {
    for (bool changed = true; changed;) {
      changed = false;
      linklistsizeint* list = g.get_linklist(cur, level);
      const size_t count = g.getListCount(list);
      const tableint* links = reinterpret_cast<const tableint*>(list + 1);
      for (size_t i = 0; i < count; ++i) {
        const float d = g.fstdistfunc_(query, g.getDataByInternalId(links[i]), g.dist_func_param_);
        if (d < cur_dist) {
          cur_dist = d;
          cur = links[i];
          changed = true;
        }
      }
    }
  }
  // In hnswlib 0.6/0.7 the template argument says whether to skip deleted
  // nodes; the loop below skips them too, so results stay right either way.
  auto top = g.num_deleted_ ? g.searchBaseLayerST<true>(cur, query, ef) : g.searchBaseLayerST<false>(cur, query, ef);
  // A max-heap on distance: it pops the farthest first.
  std::vector<tableint> nearest(top.size());
  for (size_t i = nearest.size(); i-- > 0; top.pop()) nearest[i] = top.top().second;
  TopK best(k);
  size_t taken = 0;
  for (tableint c : nearest) {
    if (taken == k) break;
    if (g.isMarkedDeleted(c)) continue;
    const auto id = static_cast<uint32_t>(g.getExternalLabel(c));
    if (filter != nullptr && !filter->Allows(id)) continue;
    best.Push(Score(options_.metric, query, reinterpret_cast<const float*>(g.getDataByInternalId(c)), dim_), id);
    ++taken;
  }
  best.Write(ids_out, scores_out);
  return taken >= want;
}

void HnswIndex::Search(size_t nq, const float* queries, size_t k, uint32_t* ids_out, float* scores_out,
                       const SearchParams& params) const {
  if (k == 0 || nq == 0) return;
  const size_t live = size();
  if (live == 0) {
    for (size_t q = 0; q < nq; ++q) WriteEmpty(k, ids_out + q * k, scores_out + q * k);
    return;
  }
  const PreparedQueries pq = PrepareQueries(options_.metric, dim_, nq, queries);
  const IdFilter* filter = params.filter;
  // Decided once per batch: graph or scan.
  bool exact = params.exact || live < options_.exact_below;
  double fraction = 1;
  if (!exact && filter != nullptr) {
    fraction = AllowedFraction(*filter);
    exact = fraction < kMinGraphFraction || fraction * static_cast<double>(live) <= options_.exact_below;
  }
  std::vector<size_t> scan;
  if (exact) {
    scan.resize(nq);
    for (size_t q = 0; q < nq; ++q) scan[q] = q;
  } else {
    size_t ef = std::max(params.ef != 0 ? params.ef : options_.ef_search, k);
    // Over-fetch so that about ef of the candidates pass the filter.
    if (filter != nullptr) ef = static_cast<size_t>(static_cast<double>(ef) / fraction) + 1;
    ef = std::min(ef, graph_->cur_element_count);
    const size_t want = filter != nullptr ? k : std::min(k, live);
    std::vector<char> failed(nq, 0);
    const int threads = nq >= kParallelQueries ? options_.threads : 1;
    ParallelFor(threads, nq, [&](size_t q0, size_t q1) {
      for (size_t q = q0; q < q1; ++q) {
        if (!pq.valid[q]) {
          WriteEmpty(k, ids_out + q * k, scores_out + q * k);
        } else {
          failed[q] = !GraphSearch(pq.data + q * dim_, k, ef, filter, want, ids_out + q * k, scores_out + q * k);
        }
      }
    });
    // Too few results: a filter that allows fewer ids than it seemed to, or
    // a graph cut up by deletions. The scan gives the right answer.
    for (size_t q = 0; q < nq; ++q) {
      if (failed[q]) scan.push_back(q);
    }
  }
  if (!scan.empty()) {
    ExactSearch(Rows{graph_.get()}, options_.metric, dim_, pq, scan, k, filter, options_.threads, ids_out, scores_out);
  }
}

// Payload after the header (all little-endian, rows = internal ids 0..rows-1):
//   u32 entry point, u32 max level
//   u32 id[rows], u8 deleted[rows], u32 level[rows], f32 vectors[rows * dim]
//   per row, per level 0..level[r]: u32 count, u32 neighbour[count]
// A layout of our own, not hnswlib's saveIndex, so files do not depend on
// hnswlib's in-memory layout and can be checked before anything trusts them.
Status HnswIndex::Save(const std::string& path) const {
  const Graph& g = *graph_;
  const size_t rows = g.cur_element_count;
  FileWriter out;
  SOUK_RETURN_IF_ERROR(out.Open(path));
  WriteHeader(out,
              FileHeader{IndexKind::kHnsw, options_.metric, static_cast<uint32_t>(dim_), size(), rows, Describe()});
  out.Pod(static_cast<uint32_t>(rows ? g.enterpoint_node_ : kNoId));
  out.Pod(static_cast<uint32_t>(rows ? g.maxlevel_ : 0));
  std::vector<uint32_t> ids(rows), levels(rows);
  std::vector<uint8_t> deleted(rows);
  for (size_t r = 0; r < rows; ++r) {
    ids[r] = static_cast<uint32_t>(g.getExternalLabel(static_cast<tableint>(r)));
    deleted[r] = g.isMarkedDeleted(static_cast<tableint>(r)) ? 1 : 0;
    levels[r] = static_cast<uint32_t>(g.element_levels_[r]);
  }
  out.Write(ids.data(), rows * sizeof(uint32_t));
  out.Write(deleted.data(), rows);
  out.Write(levels.data(), rows * sizeof(uint32_t));
  for (size_t r = 0; r < rows; ++r) out.Write(g.getDataByInternalId(static_cast<tableint>(r)), dim_ * sizeof(float));
  for (size_t r = 0; r < rows; ++r) {
    for (uint32_t level = 0; level <= levels[r]; ++level) {
      linklistsizeint* list = g.get_linklist_at_level(static_cast<tableint>(r), static_cast<int>(level));
      const uint32_t count = g.getListCount(list);
      out.Pod(count);
      out.Write(list + 1, count * sizeof(tableint));
    }
  }
  return out.Finish();
}

// Fills the freshly constructed graph (capacity h.rows) from the file,
// checking everything a search would trust: counts, neighbour ids and
// levels, the entry point, ids, finiteness. On error the graph is left in a
// state its destructor can free (element_levels_ is only set for rows whose
// upper link lists are allocated).
Status HnswIndex::LoadPayload(FileReader& in, const FileHeader& h) {
  Graph& g = *graph_;
  const size_t rows = h.rows;
  uint32_t entry = 0, max_level = 0;
  if (!in.Pod(&entry) || !in.Pod(&max_level)) return in.Truncated();
  std::vector<uint32_t> ids(rows), levels(rows);
  std::vector<uint8_t> deleted(rows);
  if (!in.Read(ids.data(), rows * sizeof(uint32_t)) || !in.Read(deleted.data(), rows) ||
      !in.Read(levels.data(), rows * sizeof(uint32_t))) {
    return in.Truncated();
  }
  if (rows > 0) {
    if (entry >= rows) return in.Corrupt("entry point " + std::to_string(entry) + " out of range");
    if (max_level > kMaxLevel || levels[entry] != max_level) return in.Corrupt("bad entry point level");
  }
  size_t num_deleted = 0;
  for (size_t r = 0; r < rows; ++r) {
    if (levels[r] > max_level) return in.Corrupt("row " + std::to_string(r) + " above the top level");
    if (deleted[r] > 1) return in.Corrupt("bad deleted flag");
    if (ids[r] == kNoId) return in.Corrupt("row " + std::to_string(r) + " has the reserved id");
    num_deleted += deleted[r];
  }
  if (rows - num_deleted != h.count) return in.Corrupt("live count does not match the header");

  g.cur_element_count = rows;
  g.label_lookup_.reserve(rows);
  for (size_t r = 0; r < rows; ++r) {
    const auto t = static_cast<tableint>(r);
    std::memset(g.data_level0_memory_ + r * g.size_data_per_element_ + g.offsetLevel0_, 0, g.size_data_per_element_);
    g.setExternalLabel(t, ids[r]);
    if (!g.label_lookup_.emplace(ids[r], t).second) {
      return in.Corrupt("id " + std::to_string(ids[r]) + " appears twice");
    }
  }
  for (size_t r = 0; r < rows; ++r) {
    auto* v = reinterpret_cast<float*>(g.getDataByInternalId(static_cast<tableint>(r)));
    if (!in.Read(v, dim_ * sizeof(float))) return in.Truncated();
    if (!AllFinite(v, dim_)) return in.Corrupt("row " + std::to_string(r) + " has non-finite values");
  }
  std::vector<tableint> links;
  for (size_t r = 0; r < rows; ++r) {
    const auto t = static_cast<tableint>(r);
    if (levels[r] > 0) {
      // The same allocation addPoint makes, so hnswlib's destructor and
      // later inserts treat it as their own.
      g.linkLists_[r] = static_cast<char*>(std::malloc(g.size_links_per_element_ * levels[r] + 1));
      if (g.linkLists_[r] == nullptr) return Status::ResourceExhausted("out of memory loading " + in.path());
      std::memset(g.linkLists_[r], 0, g.size_links_per_element_ * levels[r] + 1);
      g.element_levels_[r] = static_cast<int>(levels[r]);
    }
    for (uint32_t level = 0; level <= levels[r]; ++level) {
      uint32_t count = 0;
      if (!in.Pod(&count)) return in.Truncated();
      if (count > (level == 0 ? g.maxM0_ : g.maxM_))
        return in.Corrupt("row " + std::to_string(r) + " has too many links");
      links.resize(count);
      if (!in.Read(links.data(), count * sizeof(tableint))) return in.Truncated();
      for (tableint n : links) {
        // A neighbour must exist at this level, or the search would read its
        // (missing) link list there.
        if (n >= rows || levels[n] < level) return in.Corrupt("row " + std::to_string(r) + " has a bad link");
      }
      linklistsizeint* list = g.get_linklist_at_level(t, static_cast<int>(level));
      g.setListCount(list, static_cast<unsigned short>(count));
      std::memcpy(list + 1, links.data(), count * sizeof(tableint));
    }
  }
  for (size_t r = 0; r < rows; ++r) {
    if (deleted[r]) g.markDeletedInternal(static_cast<tableint>(r));
  }
  if (rows > 0) {
    g.enterpoint_node_ = entry;
    g.maxlevel_ = static_cast<int>(max_level);
  }
  return in.Finish();
}

}  // namespace

std::unique_ptr<VectorIndex> NewHnswIndex(size_t dim, const VectorIndexOptions& options) {
  return std::make_unique<HnswIndex>(dim, options, kInitialCapacity);
}

Result<std::unique_ptr<VectorIndex>> LoadHnsw(FileReader& in, const FileHeader& header,
                                              const VectorIndexOptions& options) {
  // Smallest row: id, flag, level, vector, one link count.
  const uint64_t min_row = 4 + 1 + 4 + uint64_t{header.dim} * sizeof(float) + 4;
  if (header.rows > in.remaining() / min_row) return in.Truncated();
  if (header.rows >= kNoId) return in.Corrupt("too many rows");
  std::unique_ptr<HnswIndex> index;
  try {
    index = std::make_unique<HnswIndex>(header.dim, options, header.rows);
  } catch (const std::exception& e) {
    return Status::ResourceExhausted("cannot allocate the hnsw index for " + in.path() + ": " + e.what());
  }
  SOUK_RETURN_IF_ERROR(index->LoadPayload(in, header));
  return std::unique_ptr<VectorIndex>(std::move(index));
}

}  // namespace souk::vector::internal
