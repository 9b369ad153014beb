// EASE (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data"):
// the item-item weight matrix B = I - P diag(1/diag(P)) with
// P = (X^T X + lambda I)^-1 and diag(B) = 0, in closed form. A history
// scores an item by summing B's rows of its items, so new events count at
// once. The cost is a dense n x n inverse (n^3 flops, 4 n^2 bytes), so the
// model refuses catalogs above `max_items` with a message saying so.
//
// The inverse runs in LAPACK (spotrf + spotri from OpenBLAS, multithreaded).
// OpenBLAS is loaded on first use with dlopen rather than linked: its
// runtime CPU detection reads the CPU model, and on virtual machines that
// report a generic "Intel Xeon Processor" it falls back to SSE3 kernels that
// are 3x slower; loading it ourselves lets us set OPENBLAS_CORETYPE from the
// CPU's feature bits first (unless the user set it). Without OpenBLAS the
// inverse falls back to Eigen.
#include <dlfcn.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <mutex>

#include "rec/internal.h"

namespace souk::rec {
namespace {}  // namespace

void ChooseBlasKernels() {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;
  __builtin_cpu_init();
  const char* core = __builtin_cpu_supports("avx512f") ? "SkylakeX"
                     : __builtin_cpu_supports("avx2")  ? "Haswell"
                                                       : nullptr;
  if (core != nullptr) setenv("OPENBLAS_CORETYPE", core, 1);
}

namespace {

struct Lapack {
  using Potr = void (*)(const char*, const int*, float*, const int*, int*);
  Potr spotrf = nullptr, spotri = nullptr;
  void (*set_threads)(int) = nullptr;
  bool ok() const { return spotrf && spotri; }
};

const Lapack& GetLapack() {
  static Lapack lapack;
  static std::once_flag once;
  std::call_once(once, [] {
    ChooseBlasKernels();
    void* lib = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!lib) return;
    lapack.spotrf = reinterpret_cast<Lapack::Potr>(dlsym(lib, "spotrf_"));
    lapack.spotri = reinterpret_cast<Lapack::Potr>(dlsym(lib, "spotri_"));
    lapack.set_threads = reinterpret_cast<void (*)(int)>(dlsym(lib, "openblas_set_num_threads"));
  });
  return lapack;
}

// Inverts the symmetric positive definite n x n matrix `a` in place (both
// triangles filled on return).
Status InvertSpd(std::vector<float>* a, uint64_t n, int threads) {
  const Lapack& lapack = GetLapack();
  if (lapack.ok()) {
    if (lapack.set_threads) lapack.set_threads(std::max(1, threads));
    const int ni = static_cast<int>(n);
    int info = 0;
    // Symmetric, so row- and column-major agree; "L" is the column-major
    // lower triangle.
    lapack.spotrf("L", &ni, a->data(), &ni, &info);
    if (info != 0) return Status::Internal("ease: Cholesky failed (info " + std::to_string(info) + ")");
    lapack.spotri("L", &ni, a->data(), &ni, &info);
    if (info != 0) return Status::Internal("ease: inverse failed (info " + std::to_string(info) + ")");
    // The column-major lower triangle (i >= j at [j*n + i]) holds P; mirror it.
    for (uint64_t j = 0; j < n; ++j) {
      for (uint64_t i = j + 1; i < n; ++i) (*a)[i * n + j] = (*a)[j * n + i];
    }
    return Status::Ok();
  }
  const auto dim = static_cast<Eigen::Index>(n);
  Eigen::Map<Eigen::MatrixXf> m(a->data(), dim, dim);
  Eigen::LLT<Eigen::MatrixXf> llt(m);
  if (llt.info() != Eigen::Success) return Status::Internal("ease: Cholesky failed");
  m = llt.solve(Eigen::MatrixXf::Identity(dim, dim));
  return Status::Ok();
}

// ease:lambda=500,max_items=30000
class Ease : public Model {
 public:
  explicit Ease(Spec& spec) {
    lambda_ = spec.Double("lambda", 500);
    max_items_ = spec.Int("max_items", 30000);
  }

  std::string Name() const override { return "ease"; }
  std::string Describe() const override {
    return "ease:lambda=" + FormatNumber(lambda_) + ",max_items=" + std::to_string(max_items_);
  }

  Status Fit(const Interactions& data, const FitContext& ctx) override {
    if (!(lambda_ > 0)) return Status::InvalidArgument("ease: lambda must be > 0");
    const uint64_t n = data.num_items;
    if (static_cast<int64_t>(n) > max_items_) {
      return Status::FailedPrecondition(
          "ease: the catalog has " + std::to_string(n) + " items, above max_items=" + std::to_string(max_items_) +
          " (EASE inverts a dense n x n matrix: " + std::to_string(n * n * 4 / (1 << 20)) +
          " MiB and n^3 work); use itemknn or ials, or raise it with --model ease:max_items=N");
    }
    if (n > 46340) return Status::FailedPrecondition("ease: more than 46,340 items overflow LAPACK's int indexing");
    n_ = static_cast<uint32_t>(n);
    b_.assign(n * n, 0.0f);
    // Gram matrix X^T X of the 0/1 user-item matrix (lower triangle is
    // enough for LAPACK, but filling both halves keeps the loop simple).
    for (uint32_t u = 0; u < data.num_users; ++u) {
      auto items = data.UserItems(u);
      for (size_t a = 0; a < items.size(); ++a) {
        float* row = b_.data() + uint64_t{items[a]} * n;
        for (size_t c = 0; c < items.size(); ++c) row[items[c]] += 1.0f;
      }
    }
    for (uint64_t i = 0; i < n; ++i) b_[i * n + i] += static_cast<float>(lambda_);
    if (ctx.progress) ctx.progress(1, 3);
    SOUK_RETURN_IF_ERROR(InvertSpd(&b_, n, ctx.threads));
    if (ctx.progress) ctx.progress(2, 3);
    // B(h, j) = -P(h, j) / P(j, j), B(j, j) = 0; row h is contiguous.
    std::vector<float> inv_diag(n);
    for (uint64_t j = 0; j < n; ++j) inv_diag[j] = -1.0f / b_[j * n + j];
    ParallelFor(n, ctx.threads, [&](size_t begin, size_t end) {
      for (size_t h = begin; h < end; ++h) {
        float* row = b_.data() + h * n;
        for (uint64_t j = 0; j < n; ++j) row[j] *= inv_diag[j];
        row[h] = 0.0f;
      }
    });
    if (ctx.progress) ctx.progress(3, 3);
    return Status::Ok();
  }

  void Score(const History& history, std::span<float> scores) const override {
    std::fill(scores.begin(), scores.end(), 0.0f);
    std::vector<uint32_t> items;
    for (uint32_t i : history.items) {
      if (i < n_) items.push_back(i);
    }
    std::sort(items.begin(), items.end());
    items.erase(std::unique(items.begin(), items.end()), items.end());
    for (uint32_t h : items) {
      const float* row = b_.data() + uint64_t{h} * n_;
      for (uint32_t j = 0; j < n_; ++j) scores[j] += row[j];
    }
  }

  Result<std::vector<ScoredItem>> Similar(uint32_t item, size_t k) const override {
    if (item >= n_) return Status::NotFound("item was not in the training data");
    std::vector<float> row(b_.begin() + uint64_t{item} * n_, b_.begin() + uint64_t{item + 1} * n_);
    row[item] = kNegInf;
    return TopK(row, k);
  }

  uint32_t num_items() const override { return n_; }

  Status SaveState(std::ostream& out) const override {
    WritePod(out, n_);
    WriteVector(out, b_);
    return Status::Ok();
  }
  Status LoadState(std::istream& in) override {
    if (!ReadPod(in, &n_) || !ReadVector(in, &b_) || b_.size() != uint64_t{n_} * n_) return CorruptState("ease");
    return Status::Ok();
  }

 private:
  double lambda_ = 500;
  int64_t max_items_ = 30000;
  uint32_t n_ = 0;
  std::vector<float> b_;  // row-major n x n
};

}  // namespace

std::unique_ptr<Model> NewEase(Spec& spec) { return std::make_unique<Ease>(spec); }

}  // namespace souk::rec
