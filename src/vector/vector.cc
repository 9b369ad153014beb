// What both index kinds share: specs, filters, query preparation, the file
// header and checksum, loading, recall.
#include "vector/vector.h"

#include <bit>
#include <cassert>
#include <filesystem>
#include <unordered_set>

#include "vector/internal.h"

namespace souk::vector {

using internal::FileHeader;
using internal::FileReader;
using internal::FileWriter;

std::string_view MetricName(Metric metric) {
  switch (metric) {
    case Metric::kInnerProduct:
      return "ip";
    case Metric::kCosine:
      return "cosine";
    case Metric::kL2:
      return "l2";
  }
  return "?";
}

// ---- specs -----------------------------------------------------------------

namespace {

constexpr size_t kMaxM = 1024;              // 2M links must fit hnswlib's 16-bit list counts
constexpr size_t kMaxEf = size_t{1} << 24;  // beyond this a search is a scan anyway

Status CheckOptions(const VectorIndexOptions& o) {
  if (o.kind == IndexKind::kHnsw) {
    if (o.M < 2 || o.M > kMaxM) return Status::InvalidArgument("M must be in 2.." + std::to_string(kMaxM));
    if (o.ef_construction < 1 || o.ef_construction > kMaxEf) return Status::InvalidArgument("efc must be >= 1");
    if (o.ef_search < 1 || o.ef_search > kMaxEf) return Status::InvalidArgument("ef must be >= 1");
  }
  return Status::Ok();
}

Result<size_t> ParseCount(const std::string& key, std::string_view value) {
  auto v = ParseInt(value);
  if (!v || *v < 0) return Status::InvalidArgument("bad value for " + key + ": '" + std::string(value) + "'");
  return static_cast<size_t>(*v);
}

}  // namespace

Result<VectorIndexOptions> ParseVectorIndexSpec(std::string_view spec) {
  VectorIndexOptions o;
  const size_t colon = spec.find(':');
  const std::string kind(Trim(spec.substr(0, colon)));
  if (kind == "exact") {
    o.kind = IndexKind::kExact;
  } else if (kind == "hnsw") {
    o.kind = IndexKind::kHnsw;
  } else {
    return Status::InvalidArgument("unknown vector index kind '" + kind + "' (kinds: exact, hnsw)");
  }
  if (colon != std::string_view::npos) {
    for (std::string_view part : SplitTrimmed(spec.substr(colon + 1), ',')) {
      if (part.empty()) continue;
      const size_t eq = part.find('=');
      if (eq == std::string_view::npos)
        return Status::InvalidArgument("expected key=value in '" + std::string(part) + "'");
      const std::string key(Trim(part.substr(0, eq)));
      const std::string_view value = Trim(part.substr(eq + 1));
      if (key == "metric") {
        if (value == "ip") {
          o.metric = Metric::kInnerProduct;
        } else if (value == "cosine") {
          o.metric = Metric::kCosine;
        } else if (value == "l2") {
          o.metric = Metric::kL2;
        } else {
          return Status::InvalidArgument("unknown metric '" + std::string(value) + "' (metrics: ip, cosine, l2)");
        }
        continue;
      }
      size_t* field = nullptr;
      if (o.kind == IndexKind::kHnsw) {
        if (key == "M") field = &o.M;
        if (key == "efc") field = &o.ef_construction;
        if (key == "ef") field = &o.ef_search;
        if (key == "exact_below") field = &o.exact_below;
      }
      if (field == nullptr) return Status::InvalidArgument("unknown key '" + key + "' for " + kind);
      SOUK_ASSIGN_OR_RETURN(*field, ParseCount(key, value));
    }
  }
  SOUK_RETURN_IF_ERROR(CheckOptions(o));
  return o;
}

namespace internal {

std::string DescribeOptions(const VectorIndexOptions& o) {
  const std::string metric(MetricName(o.metric));
  if (o.kind == IndexKind::kExact) return "exact:metric=" + metric;
  std::string s = "hnsw:M=" + std::to_string(o.M) + ",efc=" + std::to_string(o.ef_construction) +
                  ",ef=" + std::to_string(o.ef_search) + ",metric=" + metric;
  if (o.exact_below != VectorIndexOptions{}.exact_below) s += ",exact_below=" + std::to_string(o.exact_below);
  return s;
}

}  // namespace internal

Result<std::unique_ptr<VectorIndex>> MakeVectorIndex(size_t dim, const VectorIndexOptions& options) {
  if (dim < 1 || dim > kMaxDim) {
    return Status::InvalidArgument("vector dimension " + std::to_string(dim) + " is not in 1.." +
                                   std::to_string(kMaxDim));
  }
  SOUK_RETURN_IF_ERROR(CheckOptions(options));
  if (options.kind == IndexKind::kExact) return internal::NewExactIndex(dim, options);
  try {
    return internal::NewHnswIndex(dim, options);
  } catch (const std::exception& e) {  // hnswlib allocates its first arrays up front
    return Status::ResourceExhausted(std::string("cannot allocate an hnsw index: ") + e.what());
  }
}

Result<std::unique_ptr<VectorIndex>> MakeVectorIndex(std::string_view spec, size_t dim, int threads, uint64_t seed) {
  SOUK_ASSIGN_OR_RETURN(VectorIndexOptions options, ParseVectorIndexSpec(spec));
  options.threads = threads;
  options.seed = seed;
  return MakeVectorIndex(dim, options);
}

// ---- filters -----------------------------------------------------------------

IdFilter IdFilter::Bitmap(std::span<const uint64_t> words) {
  IdFilter f;
  f.type_ = Type::kBitmap;
  f.words_ = words;
  size_t count = 0;
  for (uint64_t w : words) count += static_cast<size_t>(std::popcount(w));
  f.count_ = count;
  return f;
}

IdFilter IdFilter::Allow(std::span<const uint32_t> ids) {
  IdFilter f;
  f.type_ = Type::kAllow;
  f.ids_.assign(ids.begin(), ids.end());
  std::sort(f.ids_.begin(), f.ids_.end());
  f.ids_.erase(std::unique(f.ids_.begin(), f.ids_.end()), f.ids_.end());
  f.count_ = f.ids_.size();
  return f;
}

IdFilter IdFilter::Predicate(std::function<bool(uint32_t)> allow) {
  assert(allow);
  IdFilter f;
  f.type_ = Type::kPredicate;
  f.allow_ = std::move(allow);
  return f;
}

bool IdFilter::Allows(uint32_t id) const {
  switch (type_) {
    case Type::kBitmap:
      return id / 64 < words_.size() && (words_[id / 64] >> (id % 64) & 1);
    case Type::kAllow:
      return std::binary_search(ids_.begin(), ids_.end(), id);
    case Type::kPredicate:
      return allow_(id);
  }
  return false;
}

// ---- shared helpers ------------------------------------------------------------

namespace internal {

PreparedQueries PrepareQueries(Metric metric, size_t dim, size_t nq, const float* queries) {
  PreparedQueries pq;
  pq.valid.resize(nq);
  for (size_t q = 0; q < nq; ++q) pq.valid[q] = AllFinite(queries + q * dim, dim);
  if (metric == Metric::kCosine) {
    pq.copy.assign(queries, queries + nq * dim);
    for (size_t q = 0; q < nq; ++q) Normalize(pq.copy.data() + q * dim, dim);
    pq.data = pq.copy.data();
  } else {
    pq.data = queries;
  }
  return pq;
}

Status ValidateAdd(size_t dim, size_t n, const float* vectors, const uint32_t* ids) {
  for (size_t i = 0; i < n; ++i) {
    if (ids[i] == kNoId) return Status::InvalidArgument("vector " + std::to_string(i) + " has the reserved id kNoId");
    if (!AllFinite(vectors + i * dim, dim)) {
      return Status::InvalidArgument("vector " + std::to_string(i) + " (id " + std::to_string(ids[i]) +
                                     ") has a non-finite value");
    }
  }
  return Status::Ok();
}

std::vector<size_t> LastOccurrences(size_t n, const uint32_t* ids) {
  std::vector<size_t> order;
  order.reserve(n);
  std::unordered_set<uint32_t> seen;
  seen.reserve(n);
  for (size_t i = n; i-- > 0;) {
    if (seen.insert(ids[i]).second) order.push_back(i);
  }
  std::reverse(order.begin(), order.end());
  return order;
}

// ---- checksum and files --------------------------------------------------------

void Hasher::Update(const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  total_ += n;
  while (n > 0 && fill_ > 0 && fill_ < 8) {
    pending_[fill_++] = *p++;
    --n;
  }
  if (fill_ == 8) {
    uint64_t w;
    std::memcpy(&w, pending_, 8);
    Mix(w);
    fill_ = 0;
  }
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    Mix(w);
  }
  while (n > 0) {
    pending_[fill_++] = *p++;
    --n;
  }
}

uint64_t Hasher::Digest() const {
  Hasher h = *this;
  if (h.fill_ > 0) {
    uint64_t w = 0;
    std::memcpy(&w, h.pending_, h.fill_);
    h.Mix(w);
  }
  h.Mix(total_);
  uint64_t x = h.h_;  // splitmix64's finaliser: every input bit reaches every output bit
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

Status FileWriter::Open(const std::string& path) {
  path_ = path;
  tmp_ = path + ".tmp";
  out_.open(tmp_, std::ios::binary | std::ios::trunc);
  if (!out_) return Status::IoError("cannot write " + tmp_);
  return Status::Ok();
}

void FileWriter::Write(const void* data, size_t n) {
  if (n == 0) return;
  hash_.Update(data, n);
  out_.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
}

Status FileWriter::Finish() {
  const uint64_t digest = hash_.Digest();
  out_.write(reinterpret_cast<const char*>(&digest), sizeof(digest));
  out_.close();
  std::error_code ec;
  if (!out_) {
    std::filesystem::remove(tmp_, ec);
    return Status::IoError("cannot write " + tmp_);
  }
  std::filesystem::rename(tmp_, path_, ec);
  if (ec) {
    std::filesystem::remove(tmp_, ec);
    return Status::IoError("cannot rename " + tmp_ + " to " + path_);
  }
  return Status::Ok();
}

Status FileReader::Open(const std::string& path) {
  path_ = path;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Status::NotFound("no vector index file " + path);
  in_.open(path, std::ios::binary);
  if (!in_) return Status::IoError("cannot read " + path);
  in_.seekg(0, std::ios::end);
  const std::streamoff size = in_.tellg();
  in_.seekg(0, std::ios::beg);
  if (size < 0 || !in_) return Status::IoError("cannot read " + path);
  remaining_ = static_cast<uint64_t>(size);
  return Status::Ok();
}

bool FileReader::Read(void* data, size_t n) {
  if (n > remaining()) return false;
  if (n == 0) return true;
  in_.read(static_cast<char*>(data), static_cast<std::streamsize>(n));
  if (static_cast<size_t>(in_.gcount()) != n) return false;
  remaining_ -= n;
  hash_.Update(data, n);
  return true;
}

Status FileReader::Finish() {
  if (remaining_ != 8) return remaining_ < 8 ? Truncated() : Corrupt("unexpected bytes after the index");
  uint64_t digest = 0;
  in_.read(reinterpret_cast<char*>(&digest), sizeof(digest));
  if (in_.gcount() != sizeof(digest)) return Truncated();
  remaining_ = 0;
  if (digest != hash_.Digest()) return Corrupt("checksum mismatch");
  return Status::Ok();
}

void WriteHeader(FileWriter& out, const FileHeader& h) {
  out.Write(kMagic, sizeof(kMagic));
  out.Pod(kFormatVersion);
  out.Pod(static_cast<uint32_t>(h.kind));
  out.Pod(static_cast<uint32_t>(h.metric));
  out.Pod(h.dim);
  out.Pod(h.count);
  out.Pod(h.rows);
  out.Pod(static_cast<uint32_t>(h.spec.size()));
  out.Write(h.spec.data(), h.spec.size());
}

}  // namespace internal

Result<std::unique_ptr<VectorIndex>> LoadVectorIndex(const std::string& path, size_t expected_dim, int threads) {
  FileReader in;
  SOUK_RETURN_IF_ERROR(in.Open(path));
  char magic[sizeof(internal::kMagic)];
  if (!in.Read(magic, sizeof(magic)) || std::memcmp(magic, internal::kMagic, sizeof(magic)) != 0) {
    return Status::Corruption(path + " is not a souk vector index (bad magic)");
  }
  uint32_t version = 0, kind = 0, metric = 0, spec_len = 0;
  FileHeader h;
  if (!in.Pod(&version)) return in.Truncated();
  if (version != internal::kFormatVersion) {
    return Status::Corruption(path + " has vector index format version " + std::to_string(version) +
                              "; this build reads version " + std::to_string(internal::kFormatVersion));
  }
  if (!in.Pod(&kind) || !in.Pod(&metric) || !in.Pod(&h.dim) || !in.Pod(&h.count) || !in.Pod(&h.rows) ||
      !in.Pod(&spec_len)) {
    return in.Truncated();
  }
  if (kind > static_cast<uint32_t>(IndexKind::kHnsw)) return in.Corrupt("unknown index kind " + std::to_string(kind));
  if (metric > static_cast<uint32_t>(Metric::kL2)) return in.Corrupt("unknown metric " + std::to_string(metric));
  if (h.dim < 1 || h.dim > kMaxDim) return in.Corrupt("dimension " + std::to_string(h.dim));
  if (h.count > h.rows) return in.Corrupt("more live vectors than rows");
  if (spec_len > internal::kMaxSpecLength) return in.Corrupt("spec length " + std::to_string(spec_len));
  h.kind = static_cast<IndexKind>(kind);
  h.metric = static_cast<Metric>(metric);
  h.spec.resize(spec_len);
  if (!in.Read(h.spec.data(), spec_len)) return in.Truncated();
  if (expected_dim != 0 && h.dim != expected_dim) {
    return Status::InvalidArgument(path + " holds " + std::to_string(h.dim) + "-dimensional vectors, expected " +
                                   std::to_string(expected_dim));
  }
  auto options = ParseVectorIndexSpec(h.spec);
  if (!options.ok()) return in.Corrupt("spec '" + h.spec + "': " + options.status().message());
  if (options->kind != h.kind || options->metric != h.metric) {
    return in.Corrupt("spec '" + h.spec + "' does not match the header");
  }
  // Every row holds at least its vector: a header claiming more rows than the
  // file can hold is caught before anything is allocated for them.
  if (h.rows > in.remaining() / (uint64_t{h.dim} * sizeof(float))) return in.Truncated();
  options->threads = threads;
  if (h.kind == IndexKind::kExact) return internal::LoadExact(in, h, *options);
  return internal::LoadHnsw(in, h, *options);
}

double MeasureRecall(const VectorIndex& index, const VectorIndex& truth, size_t nq, const float* queries, size_t k,
                     const SearchParams& params) {
  assert(index.dim() == truth.dim() && index.metric() == truth.metric());
  if (nq == 0 || k == 0) return 1;
  std::vector<uint32_t> got(nq * k), want(nq * k);
  std::vector<float> scores(nq * k);
  index.Search(nq, queries, k, got.data(), scores.data(), params);
  SearchParams exact = params;
  exact.exact = true;
  truth.Search(nq, queries, k, want.data(), scores.data(), exact);
  size_t found = 0, total = 0;
  for (size_t q = 0; q < nq; ++q) {
    const uint32_t* g = got.data() + q * k;
    for (size_t i = 0; i < k; ++i) {
      const uint32_t id = want[q * k + i];
      if (id == kNoId) continue;
      ++total;
      found += std::find(g, g + k, id) != g + k;
    }
  }
  return total == 0 ? 1.0 : static_cast<double>(found) / static_cast<double>(total);
}

}  // namespace souk::vector
