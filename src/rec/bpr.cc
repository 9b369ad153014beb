// BPR-MF: Bayesian personalised ranking (Rendle et al. 2009) with item
// biases, trained by SGD on sampled (user, positive, negative) triples.
//
// bpr:f=64,lr=0.1,reg=0.02,it=50[,seed=N]
//  f    factors per user and item
//  lr   SGD learning rate
//  reg  L2 penalty on the factors and item biases touched by a step
//  it   epochs; one epoch = nnz() triples
//  seed sampling and initialisation seed (default: FitContext::seed)
//
// Defaults: tuned by leave-last-out HR@10 over all items on the SASRec Games
// data and on the planted-groups unit test. BPR converges slowly on sparse
// data (Games: HR@10 0.024 after 30 epochs at lr=0.05, 0.051 after 50 at
// lr=0.1, reg=0.02), so lr is high and it is 50; more epochs still help a
// little (0.053 at 100) at twice the time.
//
// A triple is a uniformly drawn observed (u, i) pair and an item j drawn
// uniformly from the items u has not interacted with (membership by binary
// search in u's sorted CSR row). Interaction weights are not used: BPR learns
// from the order "seen above unseen" only.
//
// Threads: Hogwild (Recht et al. 2011). Each worker draws its own triples and
// updates the shared factors without locks; collisions are rare and only add
// noise. The result is therefore deterministic for a seed only with
// threads=1.
//
// Layout: user factors num_users x f; item factors num_items x (f+1),
// row-major, whose last column is the item bias. UserVector() ends in a 1, so
// ItemFactors() . UserVector() is exactly Score(), and FactorDim() is f+1.
//
// Score: a user known to the model (history.user < num_users) is scored with
// the learned vector; any other history is folded in by a fixed, seeded run of
// SGD steps on its items with the item factors frozen, so the same history
// always gets the same scores.
#include <Eigen/Dense>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

#include "rec/internal.h"

namespace souk::rec {
namespace {

using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstRowMapF = Eigen::Map<const RowMatrixF>;
using ConstVecMapF = Eigen::Map<const Eigen::VectorXf>;

constexpr int64_t kMaxFactors = 1024;
constexpr int kNegativeTries = 64;  // a user who has seen almost everything gets skipped
// Fold-in: passes over the history's items, at least kFoldMinSteps steps.
constexpr int kFoldPasses = 20;
constexpr int kFoldMinSteps = 200;
constexpr uint64_t kFoldSeed = 0x9e3779b97f4a7c15ull;

// SplitMix64: small, fast, and good enough for sampling.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) (Lemire's multiply-shift; the bias is below 2^-32).
  uint64_t Below(uint64_t n) { return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64); }

 private:
  uint64_t state_;
};

inline float SigmoidNeg(float x) { return 1.0f / (1.0f + std::exp(x)); }  // sigma(-x)

// One BPR step for (u, i, j): ascend ln sigma(x_ui - x_uj) - reg |.|^2.
// Item rows are f factors then the bias.
// Returns sigma(-x), from which the sample's loss -ln sigma(x) follows.
inline float Step(float* __restrict pu, float* __restrict pi, float* __restrict pj, int f, float lr, float reg) {
  float x = pi[f] - pj[f];
  for (int d = 0; d < f; ++d) x += pu[d] * (pi[d] - pj[d]);
  const float g = SigmoidNeg(x);
  for (int d = 0; d < f; ++d) {
    const float u = pu[d], vi = pi[d], vj = pj[d];
    pu[d] += lr * (g * (vi - vj) - reg * u);
    pi[d] += lr * (g * u - reg * vi);
    pj[d] += lr * (-g * u - reg * vj);
  }
  pi[f] += lr * (g - reg * pi[f]);
  pj[f] += lr * (-g - reg * pj[f]);
  return g;
}

// The same step with the items frozen (fold-in).
inline void StepUser(float* __restrict pu, const float* pi, const float* pj, int f, float lr, float reg) {
  float x = pi[f] - pj[f];
  for (int d = 0; d < f; ++d) x += pu[d] * (pi[d] - pj[d]);
  const float g = SigmoidNeg(x);
  for (int d = 0; d < f; ++d) pu[d] += lr * (g * (pi[d] - pj[d]) - reg * pu[d]);
}

class Bpr : public Model {
 public:
  explicit Bpr(Spec& spec) {
    f_ = spec.Int("f", 64);
    lr_ = spec.Double("lr", 0.1);
    reg_ = spec.Double("reg", 0.02);
    epochs_ = spec.Int("it", 50);
    seed_ = spec.Int("seed", -1);
  }

  std::string Name() const override { return "bpr"; }
  std::string Describe() const override {
    std::string s = "bpr:f=" + std::to_string(f_) + ",lr=" + FormatNumber(lr_) + ",reg=" + FormatNumber(reg_) +
                    ",it=" + std::to_string(epochs_);
    if (seed_ >= 0) s += ",seed=" + std::to_string(seed_);
    return s;
  }

  Status Fit(const Interactions& data, const FitContext& ctx) override {
    SOUK_RETURN_IF_ERROR(Validate());
    const int f = static_cast<int>(f_);
    const size_t stride = static_cast<size_t>(f) + 1;
    num_users_ = data.num_users;
    num_items_ = data.num_items;
    const uint64_t seed = seed_ >= 0 ? static_cast<uint64_t>(seed_) : ctx.seed;
    {
      std::mt19937_64 init(seed);
      std::normal_distribution<float> normal(0.0f, 0.1f);
      users_.resize(size_t{num_users_} * f);
      for (float& v : users_) v = normal(init);
      items_.resize(size_t{num_items_} * stride);
      for (size_t k = 0; k < items_.size(); ++k)
        items_[k] = (k % stride == static_cast<size_t>(f)) ? 0.0f : normal(init);
    }
    const uint64_t nnz = data.nnz();
    const float lr = static_cast<float>(lr_), reg = static_cast<float>(reg_);
    const int workers = std::max(1, ctx.threads);
    // The user of each CSR entry: one lookup per sample instead of a binary
    // search over user_ptr (sampling is memory-bound).
    std::vector<uint32_t> entry_user(nnz);
    for (uint32_t u = 0; u < num_users_; ++u) {
      std::fill(entry_user.begin() + data.user_ptr[u], entry_user.begin() + data.user_ptr[u + 1], u);
    }
    // With a run log: each epoch's mean loss -ln sigma(x_uij) over its
    // samples (measured before each step's update), one JSON line.
    const bool logging = static_cast<bool>(ctx.log);
    std::vector<double> loss(static_cast<size_t>(workers));
    std::vector<uint64_t> counted(static_cast<size_t>(workers));
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t e = 0; e < epochs_ && nnz > 0 && num_items_ > 1; ++e) {
      std::fill(loss.begin(), loss.end(), 0.0);
      std::fill(counted.begin(), counted.end(), 0);
      ParallelFor(static_cast<size_t>(workers), workers, [&](size_t begin, size_t end) {
        for (size_t w = begin; w < end; ++w) {
          // One stream per (seed, epoch, worker).
          Rng rng(Rng(seed).Next() ^ Rng(static_cast<uint64_t>(e) * workers + w + 1).Next());
          const uint64_t samples = nnz * (w + 1) / workers - nnz * w / workers;
          for (uint64_t s = 0; s < samples; ++s) {
            const uint64_t k = rng.Below(nnz);
            const uint32_t u = entry_user[k];
            const std::span<const uint32_t> row = data.UserItems(u);
            const uint32_t i = data.user_items[k];
            uint32_t j = kNone;
            for (int t = 0; t < kNegativeTries; ++t) {
              const uint32_t c = static_cast<uint32_t>(rng.Below(num_items_));
              if (!std::binary_search(row.begin(), row.end(), c)) {
                j = c;
                break;
              }
            }
            if (j == kNone) continue;
            const float g =
                Step(users_.data() + size_t{u} * f, items_.data() + i * stride, items_.data() + j * stride, f, lr, reg);
            if (logging) {
              loss[w] -= std::log1p(-std::min(g, 1.0f - 1e-7f));
              ++counted[w];
            }
          }
        }
      });
      if (logging) {
        double sum = 0;
        uint64_t n = 0;
        for (size_t w = 0; w < loss.size(); ++w) sum += loss[w], n += counted[w];
        char line[160];
        std::snprintf(line, sizeof line, "{\"epoch\":%lld,\"loss\":%.6f,\"seconds\":%.3f}",
                      static_cast<long long>(e + 1), n ? sum / static_cast<double>(n) : 0.0,
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        ctx.log(line);
      }
      if (ctx.progress) ctx.progress(static_cast<uint64_t>(e + 1), static_cast<uint64_t>(epochs_));
    }
    PrepareNorms();
    return Status::Ok();
  }

  void Score(const History& history, std::span<float> scores) const override {
    assert(scores.size() == num_items_);
    if (num_items_ == 0) return;
    const std::vector<float> x = UserVector(history);
    Eigen::Map<Eigen::VectorXf> out(scores.data(), num_items_);
    out.noalias() = ItemMatrix() * ConstVecMapF(x.data(), static_cast<Eigen::Index>(x.size()));
  }

  Result<std::vector<ScoredItem>> Similar(uint32_t item, size_t k) const override {
    if (item >= num_items_) {
      return Status::NotFound("bpr: item " + std::to_string(item) + " is not in the model (" +
                              std::to_string(num_items_) + " items)");
    }
    // Cosine over the factors, bias left out: similarity, not popularity.
    const int f = static_cast<int>(f_);
    const ConstRowMapF q = ItemMatrix();
    const ConstVecMapF y(items_.data() + size_t{item} * (f + 1), f);
    std::vector<float> scores(num_items_);
    Eigen::Map<Eigen::VectorXf> out(scores.data(), num_items_);
    out.noalias() = q.leftCols(f) * y;
    for (uint32_t j = 0; j < num_items_; ++j) {
      const float denom = norms_[j] * norms_[item];
      scores[j] = denom > 0 ? scores[j] / denom : 0.0f;
    }
    scores[item] = kNegInf;
    return TopK(scores, k);
  }

  size_t FactorDim() const override { return static_cast<size_t>(f_) + 1; }
  const float* ItemFactors() const override { return items_.empty() ? nullptr : items_.data(); }

  std::vector<float> UserVector(const History& history) const override {
    if (num_items_ == 0) return {};
    const size_t f = static_cast<size_t>(f_);
    std::vector<float> x(f + 1, 0.0f);
    x[f] = 1.0f;
    if (history.user != kNone && history.user < num_users_) {
      std::copy_n(users_.data() + size_t{history.user} * f, f, x.begin());
    } else {
      FoldIn(history, x.data());
    }
    return x;
  }

  uint32_t num_items() const override { return num_items_; }

  Status SaveState(std::ostream& out) const override {
    WritePod<uint32_t>(out, static_cast<uint32_t>(f_));
    WritePod<uint32_t>(out, num_users_);
    WritePod<uint32_t>(out, num_items_);
    WriteVector(out, users_);
    WriteVector(out, items_);
    return Status::Ok();
  }

  Status LoadState(std::istream& in) override {
    uint32_t f = 0, nu = 0, ni = 0;
    if (!Validate().ok() || !ReadPod(in, &f) || !ReadPod(in, &nu) || !ReadPod(in, &ni) || f != f_ ||
        !ReadVector(in, &users_) || !ReadVector(in, &items_) || users_.size() != size_t{nu} * f ||
        items_.size() != size_t{ni} * (f + 1)) {
      users_.clear();
      items_.clear();
      num_users_ = num_items_ = 0;
      return CorruptState("bpr");
    }
    num_users_ = nu;
    num_items_ = ni;
    PrepareNorms();
    return Status::Ok();
  }

 private:
  Status Validate() const {
    if (f_ < 1 || f_ > kMaxFactors) {
      return Status::InvalidArgument("bpr: f=" + std::to_string(f_) + " (factors must be 1.." +
                                     std::to_string(kMaxFactors) + ")");
    }
    if (!(lr_ > 0)) return Status::InvalidArgument("bpr: lr=" + FormatNumber(lr_) + " (must be > 0)");
    if (!(reg_ >= 0)) return Status::InvalidArgument("bpr: reg=" + FormatNumber(reg_) + " (must be >= 0)");
    if (seed_ < -1) return Status::InvalidArgument("bpr: seed=" + std::to_string(seed_) + " (must be >= 0)");
    if (epochs_ < 1 || epochs_ > 100000) {
      return Status::InvalidArgument("bpr: it=" + std::to_string(epochs_) + " (epochs must be >= 1)");
    }
    return Status::Ok();
  }

  ConstRowMapF ItemMatrix() const {
    return ConstRowMapF(items_.data(), static_cast<Eigen::Index>(num_items_), static_cast<Eigen::Index>(f_ + 1));
  }

  void PrepareNorms() {
    const ConstRowMapF q = ItemMatrix();
    norms_.resize(num_items_);
    for (uint32_t i = 0; i < num_items_; ++i) norms_[i] = q.row(i).head(f_).norm();
  }

  // SGD on the user vector only, from zero, cycling over the history's
  // distinct items with negatives from a fixed-seed generator. An empty
  // history keeps x = 0: scores are the item biases, a popularity order.
  void FoldIn(const History& history, float* x) const {
    std::vector<uint32_t> seen;
    seen.reserve(history.items.size());
    for (uint32_t i : history.items) {
      if (i < num_items_) seen.push_back(i);
    }
    std::sort(seen.begin(), seen.end());
    seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
    if (seen.empty() || seen.size() >= num_items_) return;
    const int f = static_cast<int>(f_);
    const size_t stride = static_cast<size_t>(f) + 1;
    const size_t steps = std::max<size_t>(kFoldMinSteps, kFoldPasses * seen.size());
    const float* items = items_.data();
    Rng rng(kFoldSeed);
    for (size_t s = 0; s < steps; ++s) {
      const uint32_t i = seen[s % seen.size()];
      uint32_t j = kNone;
      for (int t = 0; t < kNegativeTries; ++t) {
        const uint32_t c = static_cast<uint32_t>(rng.Below(num_items_));
        if (!std::binary_search(seen.begin(), seen.end(), c)) {
          j = c;
          break;
        }
      }
      if (j == kNone) continue;
      StepUser(x, items + i * stride, items + j * stride, f, static_cast<float>(lr_), static_cast<float>(reg_));
    }
  }

  // The spec (defaults in the constructor).
  int64_t f_;
  double lr_;
  double reg_;
  int64_t epochs_;
  int64_t seed_;  // -1 = FitContext::seed

  uint32_t num_users_ = 0;
  uint32_t num_items_ = 0;
  std::vector<float> users_;  // num_users x f
  std::vector<float> items_;  // num_items x (f+1): factors, then the bias
  std::vector<float> norms_;  // |factors of item i| (bias excluded)
};

}  // namespace

std::unique_ptr<Model> NewBpr(Spec& spec) { return std::make_unique<Bpr>(spec); }

}  // namespace souk::rec
