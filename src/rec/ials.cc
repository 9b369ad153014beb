// iALS: implicit-feedback matrix factorisation (Hu, Koren, Volinsky 2008)
// trained by alternating least squares with conjugate-gradient row updates
// (Takács, Pilászy, Tikk 2011).
//
// ials:f=64,reg=10,a=10,it=15,cg=3[,seed=N]
//  f    factors per user and item
//  reg  L2 penalty on every factor
//  a    confidence slope: an observed pair (u, i) with summed interaction
//       weight w has confidence c = 1 + a*w; unobserved pairs have c = 1
//  it   epochs (one epoch = all users, then all items)
//  cg   conjugate-gradient steps per row and epoch
//  seed initialisation seed (default: FitContext::seed)
//
// Defaults: tuned by leave-last-out HR@10 over all items on the SASRec Games
// data (31k users, 23.7k items) and on the planted-groups unit test. HR@10
// hardly moves for reg in 0.1..30 on Games, but small reg lets the 64 factors
// fit noise on small catalogs (item similarities stop following the planted
// groups below reg=5); a=10 rather than 20-40 because souk's weights already
// reach 8 per purchase and add up over repeats. cg=3 as in Takács et al.;
// more steps per epoch cost time and gain little.
//
// Loss: sum over all (u, i) of c_ui (p_ui - x_u.y_i)^2 + reg (|X|^2 + |Y|^2),
// p = 1 for observed pairs, 0 otherwise. With the other side fixed, user u's
// optimum solves
//   (YtY + sum_{i in u} (c_ui - 1) y_i y_i^T + reg I) x_u = sum_{i in u} c_ui y_i.
// YtY is shared by all rows (computed once per half-epoch), so one CG step
// costs O(n_u f + f^2) instead of the O(f^3) of an exact solve, and starting
// from the previous epoch's vector a few steps are enough (Takács et al.).
//
// Layout: item factors num_items x f, user factors num_users x f, row-major
// floats. Only the item factors are kept after Fit and saved: Score folds any
// history into a fresh user vector by the exact solve above, so a user's
// latest events count without retraining.
//
// Threads: rows of one side are independent given the other side and the Gram
// matrix is computed on one thread, so the factors do not depend on
// FitContext::threads.
#include <Eigen/Dense>
#include <algorithm>
#include <atomic>
#include <random>

#include "rec/internal.h"

namespace souk::rec {
namespace {

using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstRowMapF = Eigen::Map<const RowMatrixF>;
using VecMapF = Eigen::Map<Eigen::VectorXf>;
using ConstVecMapF = Eigen::Map<const Eigen::VectorXf>;

constexpr int64_t kMaxFactors = 1024;
constexpr int64_t kMaxCgSteps = 1024;
constexpr uint64_t kTasksPerThread = 64;

// Per-worker buffers of a half-epoch.
struct Scratch {
  RowMatrixF y;  // the row's observed columns, gathered: len x f
  Eigen::VectorXf cw, t, res, p, ap;
};

// Runs fn(row, scratch) for rows [0, n) on `threads` workers, each with its
// own Scratch. Rows are handed out in tasks of about equal work (a row costs
// its length plus f for the Gram product, times f), many per worker: row
// lengths follow popularity, and a static split would leave one worker with
// the heavy rows.
template <typename Fn>
void ForEachRow(const std::vector<uint64_t>& ptr, size_t n, int f, int threads, Fn&& fn) {
  if (threads <= 1 || n < 2) {
    Scratch scratch;
    for (size_t r = 0; r < n; ++r) fn(r, scratch);
    return;
  }
  const uint64_t total = ptr[n] - ptr[0] + uint64_t{n} * f;
  const uint64_t target = std::max<uint64_t>(1, total / (kTasksPerThread * threads));
  std::vector<size_t> bounds{0};
  uint64_t work = 0;
  for (size_t r = 0; r < n; ++r) {
    work += ptr[r + 1] - ptr[r] + f;
    if (work >= target) {
      bounds.push_back(r + 1);
      work = 0;
    }
  }
  if (bounds.back() != n) bounds.push_back(n);
  const size_t tasks = bounds.size() - 1;
  const size_t workers = std::min<size_t>(static_cast<size_t>(threads), tasks);
  std::atomic<size_t> next{0};
  ParallelFor(workers, static_cast<int>(workers), [&](size_t begin, size_t end) {
    for (size_t w = begin; w < end; ++w) {
      Scratch scratch;
      for (size_t t; (t = next.fetch_add(1, std::memory_order_relaxed)) < tasks;) {
        for (size_t r = bounds[t]; r < bounds[t + 1]; ++r) fn(r, scratch);
      }
    }
  });
}

// One half-epoch: every row x_r of `rows` (n x f) takes `cg_steps` CG steps
// towards its least-squares optimum against the fixed `cols` (m x f). Row r's
// observed columns are idx[ptr[r]..ptr[r+1]) with weights w[...].
//
// The observed columns are gathered into a dense block first: the CG passes
// then stream it (two matrix-vector products per step) instead of chasing
// scattered rows each time.
void UpdateSide(const std::vector<uint64_t>& ptr, const std::vector<uint32_t>& idx, const std::vector<float>& w,
                const std::vector<float>& cols, size_t m, std::vector<float>& rows, size_t n, int f, float reg,
                float alpha, int cg_steps, int threads) {
  const ConstRowMapF y_all(cols.data(), static_cast<Eigen::Index>(m), f);
  Eigen::MatrixXf gram = y_all.transpose() * y_all;
  gram.diagonal().array() += reg;
  ForEachRow(ptr, n, f, threads, [&](size_t r, Scratch& s) {
    VecMapF x(rows.data() + r * f, f);
    const uint64_t begin = ptr[r];
    const Eigen::Index len = static_cast<Eigen::Index>(ptr[r + 1] - begin);
    s.y.resize(len, f);
    s.cw.resize(len);
    for (Eigen::Index k = 0; k < len; ++k) {
      s.y.row(k) = ConstVecMapF(cols.data() + size_t{idx[begin + k]} * f, f).transpose();
      s.cw[k] = alpha * w[begin + k];  // c - 1
    }
    // res = b - A x = Y_u^T (c - (c-1) .* (Y_u x)) - (YtY + reg I) x
    s.t.noalias() = s.y * x;
    s.t = (1.0f + s.cw.array() - s.cw.array() * s.t.array()).matrix();
    s.res.noalias() = -gram * x;
    s.res.noalias() += s.y.transpose() * s.t;
    s.p = s.res;
    float rs = s.res.squaredNorm();
    for (int step = 0; step < cg_steps && rs > 1e-20f; ++step) {
      // ap = A p = (YtY + reg I) p + Y_u^T ((c-1) .* (Y_u p))
      s.t.noalias() = s.y * s.p;
      s.t.array() *= s.cw.array();
      s.ap.noalias() = gram * s.p;
      s.ap.noalias() += s.y.transpose() * s.t;
      const float pap = s.p.dot(s.ap);
      if (!(pap > 0)) break;
      const float a = rs / pap;
      x += a * s.p;
      s.res -= a * s.ap;
      const float rs_next = s.res.squaredNorm();
      s.p = s.res + (rs_next / rs) * s.p;
      rs = rs_next;
    }
  });
}

class Ials : public Model {
 public:
  explicit Ials(Spec& spec) {
    f_ = spec.Int("f", 64);
    reg_ = spec.Double("reg", 10);
    alpha_ = spec.Double("a", 10);
    epochs_ = spec.Int("it", 15);
    cg_steps_ = spec.Int("cg", 3);
    seed_ = spec.Int("seed", -1);
  }

  std::string Name() const override { return "ials"; }
  std::string Describe() const override {
    std::string s = "ials:f=" + std::to_string(f_) + ",reg=" + FormatNumber(reg_) + ",a=" + FormatNumber(alpha_) +
                    ",it=" + std::to_string(epochs_) + ",cg=" + std::to_string(cg_steps_);
    if (seed_ >= 0) s += ",seed=" + std::to_string(seed_);
    return s;
  }

  Status Fit(const Interactions& data, const FitContext& ctx) override {
    SOUK_RETURN_IF_ERROR(Validate());
    const int f = static_cast<int>(f_);
    num_items_ = data.num_items;
    const size_t num_users = data.num_users;
    std::vector<float> users(num_users * f);
    items_.assign(size_t{num_items_} * f, 0.0f);
    // Small random start: large enough to break the symmetry between
    // factors, small enough that the first solves are driven by the data.
    std::mt19937_64 rng(seed_ >= 0 ? static_cast<uint64_t>(seed_) : ctx.seed);
    std::normal_distribution<float> normal(0.0f, 0.01f);
    for (float& v : items_) v = normal(rng);
    for (float& v : users) v = normal(rng);
    const float reg = static_cast<float>(reg_), alpha = static_cast<float>(alpha_);
    for (int64_t e = 0; e < epochs_; ++e) {
      UpdateSide(data.user_ptr, data.user_items, data.user_weights, items_, num_items_, users, num_users, f, reg, alpha,
                 static_cast<int>(cg_steps_), ctx.threads);
      UpdateSide(data.item_ptr, data.item_users, data.item_weights, users, num_users, items_, num_items_, f, reg, alpha,
                 static_cast<int>(cg_steps_), ctx.threads);
      if (ctx.progress) ctx.progress(static_cast<uint64_t>(e + 1), static_cast<uint64_t>(epochs_));
    }
    Prepare();
    return Status::Ok();
  }

  void Score(const History& history, std::span<float> scores) const override {
    assert(scores.size() == num_items_);
    if (num_items_ == 0) return;
    const Eigen::VectorXf x = FoldIn(history);
    Eigen::Map<Eigen::VectorXf> out(scores.data(), num_items_);
    out.noalias() = ItemMatrix() * x;
  }

  Result<std::vector<ScoredItem>> Similar(uint32_t item, size_t k) const override {
    if (item >= num_items_) {
      return Status::NotFound("ials: item " + std::to_string(item) + " is not in the model (" +
                              std::to_string(num_items_) + " items)");
    }
    const int f = static_cast<int>(f_);
    std::vector<float> scores(num_items_);
    Eigen::Map<Eigen::VectorXf> out(scores.data(), num_items_);
    out.noalias() = ItemMatrix() * ConstVecMapF(items_.data() + size_t{item} * f, f);
    for (uint32_t j = 0; j < num_items_; ++j) {
      const float denom = norms_[j] * norms_[item];
      scores[j] = denom > 0 ? scores[j] / denom : 0.0f;
    }
    scores[item] = kNegInf;
    return TopK(scores, k);
  }

  size_t FactorDim() const override { return static_cast<size_t>(f_); }
  const float* ItemFactors() const override { return items_.empty() ? nullptr : items_.data(); }
  std::vector<float> UserVector(const History& history) const override {
    if (num_items_ == 0) return {};
    const Eigen::VectorXf x = FoldIn(history);
    return std::vector<float>(x.data(), x.data() + x.size());
  }

  uint32_t num_items() const override { return num_items_; }

  Status SaveState(std::ostream& out) const override {
    WritePod<uint32_t>(out, static_cast<uint32_t>(f_));
    WritePod<uint32_t>(out, num_items_);
    WriteVector(out, items_);
    return Status::Ok();
  }

  Status LoadState(std::istream& in) override {
    uint32_t f = 0, n = 0;
    if (!Validate().ok() || !ReadPod(in, &f) || !ReadPod(in, &n) || f != f_ || !ReadVector(in, &items_) ||
        items_.size() != size_t{n} * f) {
      items_.clear();
      num_items_ = 0;
      return CorruptState("ials");
    }
    num_items_ = n;
    Prepare();
    return Status::Ok();
  }

 private:
  Status Validate() const {
    if (f_ < 1 || f_ > kMaxFactors) {
      return Status::InvalidArgument("ials: f=" + std::to_string(f_) + " (factors must be 1.." +
                                     std::to_string(kMaxFactors) + ")");
    }
    if (!(reg_ >= 0)) return Status::InvalidArgument("ials: reg=" + FormatNumber(reg_) + " (must be >= 0)");
    if (!(alpha_ >= 0)) return Status::InvalidArgument("ials: a=" + FormatNumber(alpha_) + " (must be >= 0)");
    if (epochs_ < 1 || epochs_ > 100000) {
      return Status::InvalidArgument("ials: it=" + std::to_string(epochs_) + " (epochs must be >= 1)");
    }
    if (seed_ < -1) return Status::InvalidArgument("ials: seed=" + std::to_string(seed_) + " (must be >= 0)");
    if (cg_steps_ < 1 || cg_steps_ > kMaxCgSteps) {
      return Status::InvalidArgument("ials: cg=" + std::to_string(cg_steps_) + " (CG steps must be 1.." +
                                     std::to_string(kMaxCgSteps) + ")");
    }
    return Status::Ok();
  }

  ConstRowMapF ItemMatrix() const {
    return ConstRowMapF(items_.data(), static_cast<Eigen::Index>(num_items_), static_cast<Eigen::Index>(f_));
  }

  // The fold-in's shared part (YtY, in double: history solves add rank-one
  // terms to it) and the item norms for Similar.
  void Prepare() {
    const ConstRowMapF y = ItemMatrix();
    gram_ = (y.transpose() * y).cast<double>();
    norms_.resize(num_items_);
    for (uint32_t i = 0; i < num_items_; ++i) norms_[i] = y.row(i).norm();
  }

  // The exact least-squares user vector for `history`: one entry per distinct
  // item (weights summed, as in Interactions), items outside the model ignored.
  Eigen::VectorXf FoldIn(const History& history) const {
    const int f = static_cast<int>(f_);
    std::vector<std::pair<uint32_t, float>> seen;
    seen.reserve(history.items.size());
    for (size_t k = 0; k < history.items.size(); ++k) {
      const uint32_t i = history.items[k];
      if (i >= num_items_) continue;
      seen.emplace_back(i, history.weights.empty() ? 1.0f : history.weights[k]);
    }
    if (seen.empty()) return Eigen::VectorXf::Zero(f);
    std::sort(seen.begin(), seen.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    Eigen::MatrixXd a = gram_;
    a.diagonal().array() += reg_;
    Eigen::VectorXd b = Eigen::VectorXd::Zero(f);
    for (size_t k = 0; k < seen.size();) {
      const uint32_t i = seen[k].first;
      double w = 0;
      for (; k < seen.size() && seen[k].first == i; ++k) w += seen[k].second;
      const Eigen::VectorXd y = ConstVecMapF(items_.data() + size_t{i} * f, f).cast<double>();
      const double c = 1.0 + alpha_ * w;
      a.selfadjointView<Eigen::Lower>().rankUpdate(y, c - 1.0);
      b += c * y;
    }
    // Lower triangle only: rankUpdate wrote there and gram_ is symmetric.
    return a.selfadjointView<Eigen::Lower>().ldlt().solve(b).cast<float>();
  }

  // The spec (defaults in the constructor).
  int64_t f_;
  double reg_;
  double alpha_;
  int64_t epochs_;
  int64_t cg_steps_;
  int64_t seed_;  // -1 = FitContext::seed

  uint32_t num_items_ = 0;
  std::vector<float> items_;  // num_items x f, row-major
  Eigen::MatrixXd gram_;      // YtY
  std::vector<float> norms_;  // |y_i|
};

}  // namespace

std::unique_ptr<Model> NewIals(Spec& spec) { return std::make_unique<Ials>(spec); }

}  // namespace souk::rec
