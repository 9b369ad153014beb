// The bandit policies: counting policies (epsilon-greedy, UCB1, Bernoulli and
// Gaussian Thompson sampling), linear policies (disjoint LinUCB, linear
// Thompson sampling, hybrid LinUCB) and slate policies (cascade and
// position-based click models).
//
// Layout: per-arm statistics are flat arrays indexed by arm; linear policies
// keep each arm's inverse design matrix A_a^-1 as a dense row-major d x d
// block of one array, updated by Sherman-Morrison (rank one, O(d^2)) rather
// than re-inverted. Discounting is lazy: an arm's statistics are stored as of
// its last update together with that step, and scaled by discount^(steps
// since) when read, so a discounted update costs the same as a plain one.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "bandit/bandit.h"
#include "core/core.h"

namespace souk::bandit {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr std::string_view kStateMagic = "souk-bandit-state-1";

// ---- spec keys -------------------------------------------------------------------

class Keys {
 public:
  Keys(const PolicyOptions& o) : o_(o), used_(o.params.size(), false) {}

  double Get(std::string_view key, double fallback) {
    for (size_t i = 0; i < o_.params.size(); ++i) {
      if (o_.params[i].first != key) continue;
      used_[i] = true;
      const std::string& v = o_.params[i].second;
      double out = 0;
      const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
      if (ec != std::errc() || p != v.data() + v.size() || !std::isfinite(out)) {
        if (error_.ok())
          error_ = Status::InvalidArgument(o_.name + ": " + std::string(key) + "=" + v + " is not a number");
        return fallback;
      }
      return out;
    }
    return fallback;
  }
  std::string GetString(std::string_view key, const std::string& fallback) {
    for (size_t i = 0; i < o_.params.size(); ++i) {
      if (o_.params[i].first != key) continue;
      used_[i] = true;
      return o_.params[i].second;
    }
    return fallback;
  }
  // Positive / non-negative checks, reported once.
  double Positive(std::string_view key, double fallback) {
    const double v = Get(key, fallback);
    if (!(v > 0) && error_.ok()) error_ = Status::InvalidArgument(o_.name + ": " + std::string(key) + " must be > 0");
    return v;
  }
  double NonNegative(std::string_view key, double fallback) {
    const double v = Get(key, fallback);
    if (!(v >= 0) && error_.ok()) error_ = Status::InvalidArgument(o_.name + ": " + std::string(key) + " must be >= 0");
    return v;
  }
  Status Finish() const {
    if (!error_.ok()) return error_;
    for (size_t i = 0; i < used_.size(); ++i)
      if (!used_[i]) return Status::InvalidArgument(o_.name + ": unknown key '" + o_.params[i].first + "'");
    return Status::Ok();
  }

 private:
  const PolicyOptions& o_;
  std::vector<bool> used_;
  Status error_;
};

std::string Num(double v) {
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, p);
}

// Common suffix of every Describe(): the non-default shared keys.
std::string CommonKeys(const PolicyOptions& o, bool sampling) {
  std::string s;
  if (o.discount != 1) s += ",discount=" + Num(o.discount);
  if (o.window != 0) s += ",window=" + std::to_string(o.window);
  if (sampling) s += ",draws=" + std::to_string(o.draws);
  return s;
}

// ---- state bytes -----------------------------------------------------------------

class Writer {
 public:
  void U64(uint64_t v) { out_.append(reinterpret_cast<const char*>(&v), sizeof v); }
  void F64(double v) { out_.append(reinterpret_cast<const char*>(&v), sizeof v); }
  void Str(std::string_view s) {
    U64(s.size());
    out_.append(s);
  }
  void Vec(const std::vector<double>& v) {
    U64(v.size());
    out_.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(double));
  }
  void Vec(const std::vector<uint64_t>& v) {
    U64(v.size());
    out_.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(uint64_t));
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool U64(uint64_t* v) { return Raw(v, sizeof *v); }
  bool F64(double* v) { return Raw(v, sizeof *v); }
  bool Str(std::string* s) {
    uint64_t n = 0;
    if (!U64(&n) || n > in_.size() - pos_) return false;
    s->assign(in_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  // The stored size must equal `want` (the shape of this policy).
  template <typename T>
  bool Vec(std::vector<T>* v, size_t want) {
    uint64_t n = 0;
    if (!U64(&n) || n != want || n * sizeof(T) > in_.size() - pos_) return false;
    v->resize(n);
    std::memcpy(v->data(), in_.data() + pos_, n * sizeof(T));
    pos_ += n * sizeof(T);
    return true;
  }
  bool AtEnd() const { return pos_ == in_.size(); }

 private:
  bool Raw(void* p, size_t n) {
    if (n > in_.size() - pos_) return false;
    std::memcpy(p, in_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  std::string_view in_;
  size_t pos_ = 0;
};

Status BadState(const std::string& what) { return Status::Corruption("bandit state: " + what); }

// Header of every state: magic, the policy's description, its update count.
void WriteHeader(Writer& w, const std::string& describe, uint64_t steps) {
  w.Str(kStateMagic);
  w.Str(describe);
  w.U64(steps);
}

Status ReadHeader(Reader& r, const std::string& describe, uint64_t* steps) {
  std::string magic, spec;
  if (!r.Str(&magic) || magic != kStateMagic) return BadState("not a souk bandit state (bad magic)");
  if (!r.Str(&spec)) return BadState("truncated");
  if (spec != describe) return BadState("the state is for '" + spec + "', this policy is '" + describe + "'");
  if (!r.U64(steps)) return BadState("truncated");
  return Status::Ok();
}

// ---- choice helpers --------------------------------------------------------------

// Uniformly random among the arms with the highest score (exact ties); the
// tie set's size goes to *ties.
uint32_t ArgmaxTies(std::span<const double> score, Rng& rng, std::vector<uint32_t>* ties) {
  ties->clear();
  double best = -kInf;
  for (uint32_t a = 0; a < score.size(); ++a) {
    if (score[a] > best) {
      best = score[a];
      ties->clear();
    }
    if (score[a] == best) ties->push_back(a);
  }
  if (ties->empty()) {  // every score NaN: treat all as tied
    for (uint32_t a = 0; a < score.size(); ++a) ties->push_back(a);
  }
  return ties->size() == 1 ? (*ties)[0] : (*ties)[rng.Below(ties->size())];
}

uint32_t Argmax(std::span<const double> score) {
  uint32_t best = 0;
  for (uint32_t a = 1; a < score.size(); ++a)
    if (score[a] > score[best]) best = a;
  return best;
}

// ---- per-arm counts with discount and window ------------------------------------

// n (trials) and s (reward sum) per arm. With discount < 1 the stored values
// are as of step last[a] and are scaled by discount^(step - last[a]) when
// read; with a window, the last `window` observations are kept in a ring and
// the oldest is subtracted when a new one arrives.
class ArmCounts {
 public:
  void Init(uint32_t arms, double discount, uint32_t window) {
    discount_ = discount;
    window_ = window;
    n_.assign(arms, 0);
    s_.assign(arms, 0);
    last_.assign(arms, 0);
  }
  double N(uint32_t a) const { return n_[a] * Fade(a); }
  double S(uint32_t a) const { return s_[a] * Fade(a); }
  uint64_t step() const { return step_; }
  void Step() { ++step_; }
  // One observation of arm a at the current step.
  void Add(uint32_t a, double trials, double reward) {
    if (discount_ != 1) {
      const double f = Fade(a);
      n_[a] *= f;
      s_[a] *= f;
      last_[a] = step_;
    }
    n_[a] += trials;
    s_[a] += reward;
    if (window_ > 0) {
      if (ring_.size() < window_) {
        ring_.push_back({a, trials, reward});
      } else {
        Obs& old = ring_[head_];
        n_[old.arm] = std::max(0.0, n_[old.arm] - old.trials);
        s_[old.arm] -= old.reward;
        if (n_[old.arm] == 0) s_[old.arm] = 0;  // no rounding residue on an emptied arm
        old = {a, trials, reward};
        head_ = (head_ + 1) % window_;
      }
    }
  }
  void Save(Writer& w) const {
    w.Vec(n_);
    w.Vec(s_);
    w.Vec(last_);
    w.U64(ring_.size());
    w.U64(head_);
    for (const Obs& o : ring_) {
      w.U64(o.arm);
      w.F64(o.trials);
      w.F64(o.reward);
    }
  }
  bool Load(Reader& r, uint64_t step) {
    step_ = step;
    const size_t arms = n_.size();
    uint64_t ring = 0, head = 0;
    if (!r.Vec(&n_, arms) || !r.Vec(&s_, arms) || !r.Vec(&last_, arms) || !r.U64(&ring) || !r.U64(&head)) return false;
    if (ring > window_ || (ring > 0 && head >= std::max<uint64_t>(ring, 1)) || (ring < window_ && head != 0))
      return false;
    ring_.resize(ring);
    head_ = head;
    for (Obs& o : ring_) {
      uint64_t a = 0;
      if (!r.U64(&a) || a >= arms || !r.F64(&o.trials) || !r.F64(&o.reward)) return false;
      o.arm = static_cast<uint32_t>(a);
    }
    return true;
  }

 private:
  double Fade(uint32_t a) const {
    return discount_ == 1 ? 1.0 : std::pow(discount_, static_cast<double>(step_ - last_[a]));
  }
  struct Obs {
    uint32_t arm;
    double trials, reward;
  };
  double discount_ = 1;
  uint32_t window_ = 0;
  uint64_t step_ = 0;
  std::vector<double> n_, s_;
  std::vector<uint64_t> last_;
  std::vector<Obs> ring_;
  size_t head_ = 0;
};

// State bytes of a policy whose whole state is its ArmCounts (counting
// policies and slates), and their loading: all or nothing.
std::string SaveCountsState(const std::string& describe, const ArmCounts& counts) {
  Writer w;
  WriteHeader(w, describe, counts.step());
  counts.Save(w);
  return w.Take();
}

Status LoadCountsState(std::string_view bytes, const std::string& describe, ArmCounts* counts) {
  Reader r(bytes);
  uint64_t steps = 0;
  SOUK_RETURN_IF_ERROR(ReadHeader(r, describe, &steps));
  ArmCounts loaded = *counts;
  if (!loaded.Load(r, steps) || !r.AtEnd()) return BadState("arm statistics do not fit " + describe);
  *counts = std::move(loaded);
  return Status::Ok();
}

// Probabilities of a sampling policy: the share of `draws` extra samples in
// which each arm wins, counting the decision's own sample as one more.
template <typename Sample>
void SampledProbabilities(uint32_t chosen, uint32_t draws, std::span<double> probs, std::vector<double>& scratch,
                          Sample sample) {
  std::fill(probs.begin(), probs.end(), 0.0);
  probs[chosen] = 1;
  for (uint32_t t = 0; t < draws; ++t) {
    sample(scratch);
    probs[Argmax(scratch)] += 1;
  }
  for (double& p : probs) p /= draws + 1.0;
}

// ---- counting policies -----------------------------------------------------------

class CountingPolicy : public Policy {
 public:
  explicit CountingPolicy(const PolicyOptions& o) : o_(o) {
    arms_ = o.arms;
    counts_.Init(o.arms, o.discount, o.window);
  }
  void Update(uint32_t arm, const Context&, double reward) override {
    counts_.Step();
    counts_.Add(arm, 1, Clamp(reward));
  }
  void Estimates(const Context&, std::span<double> mean, std::span<double> width) const override {
    for (uint32_t a = 0; a < arms_; ++a) {
      mean[a] = Mean(a);
      if (!width.empty()) width[a] = Width(a);
    }
  }
  uint64_t updates() const override { return counts_.step(); }
  std::string SaveState() const override { return SaveCountsState(Describe(), counts_); }
  Status LoadState(std::string_view bytes) override { return LoadCountsState(bytes, Describe(), &counts_); }

 protected:
  virtual double Clamp(double r) const { return r; }
  virtual double Width(uint32_t a) const {
    const double n = counts_.N(a);
    return n > 1e-12 ? 1 / std::sqrt(n) : kInf;
  }
  virtual double Mean(uint32_t a) const {
    const double n = counts_.N(a);
    return n > 0 ? counts_.S(a) / n : 0;
  }
  PolicyOptions o_;
  ArmCounts counts_;
};

class EpsilonGreedy final : public CountingPolicy {
 public:
  EpsilonGreedy(const PolicyOptions& o, double eps, double decay) : CountingPolicy(o), eps_(eps), decay_(decay) {}
  std::string Describe() const override {
    return "egreedy:eps=" + Num(eps_) + ",decay=" + Num(decay_) + CommonKeys(o_, false);
  }
  uint32_t Choose(const Context&, Rng& rng, std::span<double> probs) const override {
    std::vector<double> mean(arms_);
    for (uint32_t a = 0; a < arms_; ++a) mean[a] = Mean(a);
    thread_local std::vector<uint32_t> ties;
    const double eps = std::min(1.0, eps_ / (1 + decay_ * static_cast<double>(counts_.step())));
    const double u = rng.Uniform();  // always drawn, so the stream does not depend on the branch
    const uint32_t greedy = ArgmaxTies(mean, rng, &ties);
    const uint32_t chosen = u < eps ? static_cast<uint32_t>(rng.Below(arms_)) : greedy;
    if (!probs.empty()) {
      std::fill(probs.begin(), probs.end(), eps / arms_);
      for (uint32_t a : ties) probs[a] += (1 - eps) / ties.size();
    }
    return chosen;
  }

 private:
  double eps_, decay_;
};

class Ucb1 final : public CountingPolicy {
 public:
  Ucb1(const PolicyOptions& o, double c) : CountingPolicy(o), c_(c) {}
  std::string Describe() const override { return "ucb1:c=" + Num(c_) + CommonKeys(o_, false); }
  uint32_t Choose(const Context&, Rng& rng, std::span<double> probs) const override {
    std::vector<double> score(arms_);
    double total = 0;
    for (uint32_t a = 0; a < arms_; ++a) total += counts_.N(a);
    const double log_t = std::log(std::max(total, 1.0));
    for (uint32_t a = 0; a < arms_; ++a) {
      const double n = counts_.N(a);
      score[a] = n <= 1e-12 ? kInf : counts_.S(a) / n + std::sqrt(c_ * log_t / n);
    }
    thread_local std::vector<uint32_t> ties;
    const uint32_t chosen = ArgmaxTies(score, rng, &ties);
    if (!probs.empty()) {
      std::fill(probs.begin(), probs.end(), 0.0);
      for (uint32_t a : ties) probs[a] = 1.0 / ties.size();
    }
    return chosen;
  }

 private:
  double c_;
};

class BernoulliTs final : public CountingPolicy {
 public:
  BernoulliTs(const PolicyOptions& o, double a, double b) : CountingPolicy(o), a_(a), b_(b) {
    shapes_.resize(2 * static_cast<size_t>(arms_));
    for (uint32_t i = 0; i < arms_; ++i) Shapes(i, &shapes_[2 * i]);
  }
  void Update(uint32_t arm, const Context& ctx, double reward) override {
    CountingPolicy::Update(arm, ctx, reward);
    if (o_.window > 0) {
      for (uint32_t i = 0; i < arms_; ++i) Shapes(i, &shapes_[2 * i]);  // the window's oldest left some arm
    } else {
      Shapes(arm, &shapes_[2 * arm]);
    }
  }
  Status LoadState(std::string_view bytes) override {
    SOUK_RETURN_IF_ERROR(CountingPolicy::LoadState(bytes));
    for (uint32_t i = 0; i < arms_; ++i) Shapes(i, &shapes_[2 * i]);
    return Status::Ok();
  }
  std::string Describe() const override { return "ts:a=" + Num(a_) + ",b=" + Num(b_) + CommonKeys(o_, true); }
  uint32_t Choose(const Context&, Rng& rng, std::span<double> probs) const override {
    thread_local std::vector<double> draw;
    thread_local std::vector<Rng::GammaShape> fresh;
    draw.resize(arms_);
    // The posteriors' gamma constants: cached per arm (an arm's posterior
    // changes only when it is rewarded), except under a discount, where
    // every arm's counts fade every step.
    const std::vector<Rng::GammaShape>* shapes = &shapes_;
    if (o_.discount != 1) {
      fresh.resize(2 * static_cast<size_t>(arms_));
      for (uint32_t a = 0; a < arms_; ++a) Shapes(a, &fresh[2 * a]);
      shapes = &fresh;
    }
    auto sample = [&](std::vector<double>& out) {
      const Rng::GammaShape* g = shapes->data();
      for (uint32_t a = 0; a < arms_; ++a) {
        const double x = rng.Gamma(g[2 * a]), y = rng.Gamma(g[2 * a + 1]);
        out[a] = x / (x + y);
      }
    };
    sample(draw);
    const uint32_t chosen = Argmax(draw);
    if (!probs.empty()) SampledProbabilities(chosen, o_.draws, probs, draw, sample);
    return chosen;
  }

 protected:
  double Clamp(double r) const override { return std::clamp(r, 0.0, 1.0); }
  double Mean(uint32_t a) const override {
    const double n = counts_.N(a), s = counts_.S(a);
    return (a_ + s) / (a_ + b_ + n);
  }
  double Width(uint32_t a) const override {
    const double n = counts_.N(a), s = counts_.S(a);
    const double al = a_ + s, be = b_ + std::max(0.0, n - s);
    return std::sqrt(al * be / ((al + be) * (al + be) * (al + be + 1)));
  }

 private:
  // Beta(a + s, b + n - s) as two gamma shapes.
  void Shapes(uint32_t arm, Rng::GammaShape* out) const {
    const double n = counts_.N(arm), s = counts_.S(arm);
    out[0] = Rng::GammaShape(a_ + s);
    out[1] = Rng::GammaShape(b_ + std::max(0.0, n - s));
  }
  double a_, b_;
  std::vector<Rng::GammaShape> shapes_;  // 2 per arm: alpha's, beta's
};

class GaussianTs final : public CountingPolicy {
 public:
  GaussianTs(const PolicyOptions& o, double sigma, double m0, double s0)
      : CountingPolicy(o), sigma_(sigma), m0_(m0), s0_(s0) {}
  std::string Describe() const override {
    return "gts:sigma=" + Num(sigma_) + ",prior_mean=" + Num(m0_) + ",prior_sd=" + Num(s0_) + CommonKeys(o_, true);
  }
  uint32_t Choose(const Context&, Rng& rng, std::span<double> probs) const override {
    thread_local std::vector<double> mean, sd, draw;
    mean.resize(arms_);
    sd.resize(arms_);
    draw.resize(arms_);
    for (uint32_t a = 0; a < arms_; ++a) Posterior(a, &mean[a], &sd[a]);
    auto sample = [&](std::vector<double>& out) {
      for (uint32_t a = 0; a < arms_; ++a) out[a] = mean[a] + sd[a] * rng.Normal();
    };
    sample(draw);
    const uint32_t chosen = Argmax(draw);
    if (!probs.empty()) SampledProbabilities(chosen, o_.draws, probs, draw, sample);
    return chosen;
  }

 protected:
  double Mean(uint32_t a) const override {
    double m, s;
    Posterior(a, &m, &s);
    return m;
  }
  double Width(uint32_t a) const override {
    double m, s;
    Posterior(a, &m, &s);
    return s;
  }

 private:
  // Normal prior N(m0, s0^2), Normal likelihood with known sigma.
  void Posterior(uint32_t a, double* mean, double* sd) const {
    const double prec = 1 / (s0_ * s0_) + counts_.N(a) / (sigma_ * sigma_);
    *mean = (m0_ / (s0_ * s0_) + counts_.S(a) / (sigma_ * sigma_)) / prec;
    *sd = std::sqrt(1 / prec);
  }
  double sigma_, m0_, s0_;
};

// ---- linear algebra kernels ------------------------------------------------------

// y = A x for a row-major d x d A, each y_j a dot product of row j with x
// in two 4-lane accumulators (GCC vector extensions: one AVX2 register, or
// two SSE2 ones on the default clone). Cloned for AVX-512 / AVX2 where the
// CPU has them.
typedef double V4 __attribute__((vector_size(32)));

__attribute__((target_clones("avx512f", "avx2", "default"))) void SymMatVec(const double* A, const double* x, double* y,
                                                                            size_t d) {
  for (size_t j = 0; j < d; ++j) {
    const double* row = A + j * d;
    V4 acc = {0, 0, 0, 0}, acc2 = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 8 <= d; i += 8) {
      V4 a, b, c, e;
      std::memcpy(&a, row + i, sizeof a);
      std::memcpy(&b, x + i, sizeof b);
      std::memcpy(&c, row + i + 4, sizeof c);
      std::memcpy(&e, x + i + 4, sizeof e);
      acc += a * b;
      acc2 += c * e;
    }
    for (; i + 4 <= d; i += 4) {
      V4 a, b;
      std::memcpy(&a, row + i, sizeof a);
      std::memcpy(&b, x + i, sizeof b);
      acc += a * b;
    }
    acc += acc2;
    double s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (; i < d; ++i) s += row[i] * x[i];
    y[j] = s;
  }
}

// x^T A x in float for a row-major A whose rows are padded to `stride`
// (a multiple of 8, zeros beyond d) and an x padded the same way: the
// decision path of the linear policies (half the bytes of the double
// matrices, eight lanes per AVX2 register).
typedef float V8 __attribute__((vector_size(32)));

__attribute__((target_clones("avx512f", "avx2", "default"))) float QuadFormF(const float* A, const float* x, size_t d,
                                                                             size_t stride) {
  V8 total = {0, 0, 0, 0, 0, 0, 0, 0};
  for (size_t j = 0; j < d; ++j) {
    const float* row = A + j * stride;
    V8 acc = {0, 0, 0, 0, 0, 0, 0, 0};
    for (size_t i = 0; i < stride; i += 8) {
      V8 a, b;
      std::memcpy(&a, row + i, sizeof a);
      std::memcpy(&b, x + i, sizeof b);
      acc += a * b;
    }
    total += acc * x[j];
  }
  return ((total[0] + total[1]) + (total[2] + total[3])) + ((total[4] + total[5]) + (total[6] + total[7]));
}

// A += c u u^T.
__attribute__((target_clones("avx512f", "avx2", "default"))) void RankOne(double* A, const double* u, double c,
                                                                          size_t d) {
  for (size_t i = 0; i < d; ++i) {
    const double ci = c * u[i];
    double* row = A + i * d;
    for (size_t j = 0; j < d; ++j) row[j] += ci * u[j];
  }
}

double Dot(const double* a, const double* b, size_t d) {
  double s = 0;
  for (size_t i = 0; i < d; ++i) s += a[i] * b[i];
  return s;
}

// ---- disjoint linear policies ----------------------------------------------------

// Per arm: A_a^-1 (d x d), b_a and theta_a = A_a^-1 b_a, with A_a = reg I +
// sum of x x^T over the arm's rewards. Discount: A_a and b_a are stored as
// of the arm's last update; theta is invariant to their common scale, and
// the width x^T A^-1 x grows by 1 / discount per step since.
class LinearPolicy : public Policy {
 public:
  LinearPolicy(const PolicyOptions& o, double reg) : o_(o), reg_(reg), d_(o.dim), stride_((o.dim + 7) / 8 * 8) {
    arms_ = o.arms;
    ainv_.assign(static_cast<size_t>(arms_) * d_ * d_, 0);
    for (uint32_t a = 0; a < arms_; ++a)
      for (size_t i = 0; i < d_; ++i) ainv_[(a * d_ + i) * d_ + i] = 1 / reg_;
    ainv_f_.assign(static_cast<size_t>(arms_) * d_ * stride_, 0.0f);
    for (uint32_t a = 0; a < arms_; ++a) Mirror(a);
    b_.assign(static_cast<size_t>(arms_) * d_, 0);
    theta_.assign(b_.size(), 0);
    last_.assign(arms_, 0);
  }
  void Update(uint32_t arm, const Context& ctx, double reward) override {
    ++step_;
    thread_local std::vector<double> x;
    Load(ctx, &x);
    if (o_.discount != 1) {
      const double f = std::pow(o_.discount, static_cast<double>(step_ - last_[arm]));
      double* A = &ainv_[static_cast<size_t>(arm) * d_ * d_];
      for (size_t i = 0; i < d_ * d_; ++i) A[i] /= f;
      double* b = &b_[static_cast<size_t>(arm) * d_];
      for (size_t i = 0; i < d_; ++i) b[i] *= f;
      last_[arm] = step_;
    }
    Add(arm, x.data(), reward, +1);
    if (o_.window > 0) {
      if (ring_.size() < o_.window) {
        ring_.push_back({arm, x, reward});
      } else {
        Obs& old = ring_[head_];
        Add(old.arm, old.x.data(), old.reward, -1);
        old = {arm, x, reward};
        head_ = (head_ + 1) % o_.window;
      }
    }
  }
  void Estimates(const Context& ctx, std::span<double> mean, std::span<double> width) const override {
    thread_local std::vector<double> x, w;
    Load(ctx, &x);
    w.resize(arms_);
    MeansAndWidths(x.data(), mean.data(), w.data());
    if (!width.empty()) std::copy(w.begin(), w.end(), width.begin());
  }
  uint64_t updates() const override { return step_; }
  std::string SaveState() const override {
    Writer w;
    WriteHeader(w, Describe(), step_);
    w.Vec(ainv_);
    w.Vec(b_);
    w.Vec(last_);
    w.U64(ring_.size());
    w.U64(head_);
    for (const Obs& o : ring_) {
      w.U64(o.arm);
      w.F64(o.reward);
      w.Vec(o.x);
    }
    return w.Take();
  }
  Status LoadState(std::string_view bytes) override {
    Reader r(bytes);
    uint64_t steps = 0;
    SOUK_RETURN_IF_ERROR(ReadHeader(r, Describe(), &steps));
    std::vector<double> ainv, b;
    std::vector<uint64_t> last;
    uint64_t ring = 0, head = 0;
    if (!r.Vec(&ainv, ainv_.size()) || !r.Vec(&b, b_.size()) || !r.Vec(&last, last_.size()) || !r.U64(&ring) ||
        !r.U64(&head) || ring > o_.window || (ring > 0 && head >= ring) || (ring < o_.window && head != 0))
      return BadState("linear statistics do not fit " + Describe());
    std::vector<Obs> obs(ring);
    for (Obs& o : obs) {
      uint64_t a = 0;
      if (!r.U64(&a) || a >= arms_ || !r.F64(&o.reward) || !r.Vec(&o.x, d_))
        return BadState("window does not fit " + Describe());
      o.arm = static_cast<uint32_t>(a);
    }
    if (!r.AtEnd()) return BadState("trailing bytes");
    step_ = steps;
    ainv_ = std::move(ainv);
    b_ = std::move(b);
    last_ = std::move(last);
    ring_ = std::move(obs);
    head_ = head;
    for (uint32_t a = 0; a < arms_; ++a) Theta(a), Mirror(a);
    return Status::Ok();
  }

 protected:
  // The float copy of arm a's A^-1 that decisions read.
  void Mirror(uint32_t a) {
    const double* A = &ainv_[static_cast<size_t>(a) * d_ * d_];
    float* F = &ainv_f_[static_cast<size_t>(a) * d_ * stride_];
    for (size_t j = 0; j < d_; ++j)
      for (size_t i = 0; i < d_; ++i) F[j * stride_ + i] = static_cast<float>(A[j * d_ + i]);
  }
  // MeansAndWidths for decisions: the widths from the float copy (relative
  // error ~1e-6; Estimates reports the double ones).
  void DecisionScores(const std::vector<double>& x, double* mean, double* width) const {
    thread_local std::vector<float> xf;
    xf.assign(stride_, 0.0f);
    for (size_t i = 0; i < d_; ++i) xf[i] = static_cast<float>(x[i]);
    for (uint32_t a = 0; a < arms_; ++a) {
      double q = QuadFormF(&ainv_f_[static_cast<size_t>(a) * d_ * stride_], xf.data(), d_, stride_);
      if (o_.discount != 1) q /= std::pow(o_.discount, static_cast<double>(step_ - last_[a]));
      mean[a] = Dot(&theta_[static_cast<size_t>(a) * d_], x.data(), d_);
      width[a] = std::sqrt(std::max(q, 0.0));
    }
  }
  void Load(const Context& ctx, std::vector<double>* x) const {
    x->assign(d_, 0);
    const size_t n = std::min<size_t>(d_, ctx.x.size());
    for (size_t i = 0; i < n; ++i) (*x)[i] = ctx.x[i];
  }
  // Mean theta_a . x and width sqrt(x^T A_a^-1 x) of every arm.
  void MeansAndWidths(const double* x, double* mean, double* width) const {
    thread_local std::vector<double> y;
    y.resize(d_);
    for (uint32_t a = 0; a < arms_; ++a) {
      SymMatVec(&ainv_[static_cast<size_t>(a) * d_ * d_], x, y.data(), d_);
      double q = Dot(x, y.data(), d_);
      if (o_.discount != 1) q /= std::pow(o_.discount, static_cast<double>(step_ - last_[a]));
      mean[a] = Dot(&theta_[static_cast<size_t>(a) * d_], x, d_);
      width[a] = std::sqrt(std::max(q, 0.0));
    }
  }
  // Sherman-Morrison: (A + s x x^T)^-1 = A^-1 - s (A^-1 x)(A^-1 x)^T / (1 + s x^T A^-1 x), s = +-1.
  void Add(uint32_t arm, const double* x, double reward, int sign) {
    double* A = &ainv_[static_cast<size_t>(arm) * d_ * d_];
    thread_local std::vector<double> u;
    u.resize(d_);
    SymMatVec(A, x, u.data(), d_);
    const double denom = 1 + sign * Dot(x, u.data(), d_);
    if (denom > 1e-12) RankOne(A, u.data(), -sign / denom, d_);
    double* b = &b_[static_cast<size_t>(arm) * d_];
    for (size_t i = 0; i < d_; ++i) b[i] += sign * reward * x[i];
    Theta(arm);
    Mirror(arm);
  }
  void Theta(uint32_t arm) {
    SymMatVec(&ainv_[static_cast<size_t>(arm) * d_ * d_], &b_[static_cast<size_t>(arm) * d_],
              &theta_[static_cast<size_t>(arm) * d_], d_);
  }
  struct Obs {
    uint32_t arm;
    std::vector<double> x;
    double reward;
  };
  PolicyOptions o_;
  double reg_;
  size_t d_, stride_;
  uint64_t step_ = 0;
  std::vector<double> ainv_, b_, theta_;
  std::vector<float> ainv_f_;  // A^-1 in float, rows padded to stride_
  std::vector<uint64_t> last_;
  std::vector<Obs> ring_;
  size_t head_ = 0;
};

class LinUcb final : public LinearPolicy {
 public:
  LinUcb(const PolicyOptions& o, double alpha, double reg) : LinearPolicy(o, reg), alpha_(alpha) {}
  std::string Describe() const override {
    return "linucb:alpha=" + Num(alpha_) + ",reg=" + Num(reg_) + CommonKeys(o_, false);
  }
  uint32_t Choose(const Context& ctx, Rng& rng, std::span<double> probs) const override {
    thread_local std::vector<double> x, mean, width;
    Load(ctx, &x);
    mean.resize(arms_);
    width.resize(arms_);
    DecisionScores(x, mean.data(), width.data());
    for (uint32_t a = 0; a < arms_; ++a) mean[a] += alpha_ * width[a];
    thread_local std::vector<uint32_t> ties;
    const uint32_t chosen = ArgmaxTies(mean, rng, &ties);
    if (!probs.empty()) {
      std::fill(probs.begin(), probs.end(), 0.0);
      for (uint32_t a : ties) probs[a] = 1.0 / ties.size();
    }
    return chosen;
  }

 private:
  double alpha_;
};

// Linear Thompson sampling with one model per arm: theta_a ~ N(theta_hat_a,
// v^2 A_a^-1) independently per arm, so the sampled score theta_a . x is
// itself N(theta_hat_a . x, v^2 x^T A_a^-1 x): one normal draw per arm, no
// Cholesky factor needed, exactly the same decision distribution.
class LinTs final : public LinearPolicy {
 public:
  LinTs(const PolicyOptions& o, double v, double reg) : LinearPolicy(o, reg), v_(v) {}
  std::string Describe() const override { return "lints:v=" + Num(v_) + ",reg=" + Num(reg_) + CommonKeys(o_, true); }
  uint32_t Choose(const Context& ctx, Rng& rng, std::span<double> probs) const override {
    thread_local std::vector<double> x, mean, width, draw;
    Load(ctx, &x);
    mean.resize(arms_);
    width.resize(arms_);
    draw.resize(arms_);
    DecisionScores(x, mean.data(), width.data());
    auto sample = [&](std::vector<double>& out) {
      for (uint32_t a = 0; a < arms_; ++a) out[a] = mean[a] + v_ * width[a] * rng.Normal();
    };
    sample(draw);
    const uint32_t chosen = Argmax(draw);
    if (!probs.empty()) SampledProbabilities(chosen, o_.draws, probs, draw, sample);
    return chosen;
  }

 private:
  double v_;
};

// ---- hybrid LinUCB (Li et al. 2010, Algorithm 2) ---------------------------------

// Shared coefficients beta over per-arm features z (Context::arm_x, k =
// arm_dim), per-arm coefficients theta_a over the shared context x (d = dim).
// A0 (k x k) is re-inverted after each update (O(k^3), k is small); each
// arm's A_a^-1 (d x d) is kept by Sherman-Morrison.
class HybridLinUcb final : public Policy {
 public:
  HybridLinUcb(const PolicyOptions& o, double alpha, double reg)
      : o_(o), alpha_(alpha), reg_(reg), d_(o.dim), k_(o.arm_dim) {
    arms_ = o.arms;
    a0_.assign(k_ * k_, 0);
    a0inv_.assign(k_ * k_, 0);
    for (size_t i = 0; i < k_; ++i) a0_[i * k_ + i] = reg_, a0inv_[i * k_ + i] = 1 / reg_;
    b0_.assign(k_, 0);
    ainv_.assign(static_cast<size_t>(arms_) * d_ * d_, 0);
    for (uint32_t a = 0; a < arms_; ++a)
      for (size_t i = 0; i < d_; ++i) ainv_[(a * d_ + i) * d_ + i] = 1 / reg_;
    B_.assign(static_cast<size_t>(arms_) * d_ * k_, 0);
    b_.assign(static_cast<size_t>(arms_) * d_, 0);
  }
  std::string Describe() const override { return "hlinucb:alpha=" + Num(alpha_) + ",reg=" + Num(reg_); }

  uint32_t Choose(const Context& ctx, Rng& rng, std::span<double> probs) const override {
    std::vector<double> score(arms_), width(arms_);
    Scores(ctx, score.data(), width.data());
    for (uint32_t a = 0; a < arms_; ++a) score[a] += alpha_ * width[a];
    thread_local std::vector<uint32_t> ties;
    const uint32_t chosen = ArgmaxTies(score, rng, &ties);
    if (!probs.empty()) {
      std::fill(probs.begin(), probs.end(), 0.0);
      for (uint32_t a : ties) probs[a] = 1.0 / ties.size();
    }
    return chosen;
  }
  void Estimates(const Context& ctx, std::span<double> mean, std::span<double> width) const override {
    std::vector<double> w(arms_);
    Scores(ctx, mean.data(), w.data());
    if (!width.empty()) std::copy(w.begin(), w.end(), width.begin());
  }

  void Update(uint32_t arm, const Context& ctx, double reward) override {
    ++step_;
    std::vector<double> x, z;
    LoadX(ctx, &x);
    LoadZ(ctx, arm, &z);
    double* Ainv = &ainv_[static_cast<size_t>(arm) * d_ * d_];
    double* B = &B_[static_cast<size_t>(arm) * d_ * k_];
    double* b = &b_[static_cast<size_t>(arm) * d_];
    // A0 += B^T A^-1 B, b0 += B^T A^-1 b (before), then the arm's update,
    // then A0 += z z^T - B^T A^-1 B, b0 += r z - B^T A^-1 b (after).
    auto fold = [&](double sign) {
      std::vector<double> AB(d_ * k_), Ab(d_);
      for (size_t c = 0; c < k_; ++c) {
        std::vector<double> col(d_), out(d_);
        for (size_t i = 0; i < d_; ++i) col[i] = B[i * k_ + c];
        SymMatVec(Ainv, col.data(), out.data(), d_);
        for (size_t i = 0; i < d_; ++i) AB[i * k_ + c] = out[i];
      }
      SymMatVec(Ainv, b, Ab.data(), d_);
      for (size_t r = 0; r < k_; ++r) {
        for (size_t c = 0; c < k_; ++c) {
          double s = 0;
          for (size_t i = 0; i < d_; ++i) s += B[i * k_ + r] * AB[i * k_ + c];
          a0_[r * k_ + c] += sign * s;
        }
        double s = 0;
        for (size_t i = 0; i < d_; ++i) s += B[i * k_ + r] * Ab[i];
        b0_[r] += sign * s;
      }
    };
    fold(+1);
    {
      std::vector<double> u(d_);
      SymMatVec(Ainv, x.data(), u.data(), d_);
      RankOne(Ainv, u.data(), -1 / (1 + Dot(x.data(), u.data(), d_)), d_);
    }
    for (size_t i = 0; i < d_; ++i) {
      for (size_t c = 0; c < k_; ++c) B[i * k_ + c] += x[i] * z[c];
      b[i] += reward * x[i];
    }
    for (size_t r = 0; r < k_; ++r) {
      for (size_t c = 0; c < k_; ++c) a0_[r * k_ + c] += z[r] * z[c];
      b0_[r] += reward * z[r];
    }
    fold(-1);
    InvertA0();
  }
  uint64_t updates() const override { return step_; }
  std::string SaveState() const override {
    Writer w;
    WriteHeader(w, Describe(), step_);
    w.Vec(a0_);
    w.Vec(b0_);
    w.Vec(ainv_);
    w.Vec(B_);
    w.Vec(b_);
    return w.Take();
  }
  Status LoadState(std::string_view bytes) override {
    Reader r(bytes);
    uint64_t steps = 0;
    SOUK_RETURN_IF_ERROR(ReadHeader(r, Describe(), &steps));
    std::vector<double> a0, b0, ainv, B, b;
    if (!r.Vec(&a0, a0_.size()) || !r.Vec(&b0, b0_.size()) || !r.Vec(&ainv, ainv_.size()) || !r.Vec(&B, B_.size()) ||
        !r.Vec(&b, b_.size()) || !r.AtEnd())
      return BadState("hybrid statistics do not fit " + Describe());
    step_ = steps;
    a0_ = std::move(a0);
    b0_ = std::move(b0);
    ainv_ = std::move(ainv);
    B_ = std::move(B);
    b_ = std::move(b);
    InvertA0();
    return Status::Ok();
  }

 private:
  void LoadX(const Context& ctx, std::vector<double>* x) const {
    x->assign(d_, 0);
    for (size_t i = 0; i < std::min<size_t>(d_, ctx.x.size()); ++i) (*x)[i] = ctx.x[i];
  }
  void LoadZ(const Context& ctx, uint32_t arm, std::vector<double>* z) const {
    z->assign(k_, 0);
    const size_t off = static_cast<size_t>(arm) * k_;
    for (size_t i = 0; i < k_ && off + i < ctx.arm_x.size(); ++i) (*z)[i] = ctx.arm_x[off + i];
  }
  // Cholesky inverse of the k x k A0 (symmetric positive definite).
  void InvertA0() {
    std::vector<double> L(k_ * k_, 0);
    for (size_t j = 0; j < k_; ++j) {
      double s = a0_[j * k_ + j];
      for (size_t m = 0; m < j; ++m) s -= L[j * k_ + m] * L[j * k_ + m];
      L[j * k_ + j] = std::sqrt(std::max(s, 1e-12));
      for (size_t i = j + 1; i < k_; ++i) {
        double t = a0_[i * k_ + j];
        for (size_t m = 0; m < j; ++m) t -= L[i * k_ + m] * L[j * k_ + m];
        L[i * k_ + j] = t / L[j * k_ + j];
      }
    }
    // inverse = L^-T L^-1, column by column.
    for (size_t c = 0; c < k_; ++c) {
      std::vector<double> y(k_, 0);
      for (size_t i = 0; i < k_; ++i) {
        double t = i == c ? 1.0 : 0.0;
        for (size_t m = 0; m < i; ++m) t -= L[i * k_ + m] * y[m];
        y[i] = t / L[i * k_ + i];
      }
      for (size_t i = k_; i-- > 0;) {
        double t = y[i];
        for (size_t m = i + 1; m < k_; ++m) t -= L[m * k_ + i] * y[m];
        y[i] = t / L[i * k_ + i];
      }
      for (size_t i = 0; i < k_; ++i) a0inv_[i * k_ + c] = y[i];
    }
  }
  // Means z . beta + x . theta_a and widths sqrt(s_a) of Algorithm 2.
  void Scores(const Context& ctx, double* out, double* width) const {
    std::vector<double> x, z, beta(k_), u(d_), w(k_), a0z(k_), a0w(k_), t(d_), theta(d_);
    LoadX(ctx, &x);
    for (size_t r = 0; r < k_; ++r) beta[r] = Dot(&a0inv_[r * k_], b0_.data(), k_);
    for (uint32_t a = 0; a < arms_; ++a) {
      LoadZ(ctx, a, &z);
      const double* Ainv = &ainv_[static_cast<size_t>(a) * d_ * d_];
      const double* B = &B_[static_cast<size_t>(a) * d_ * k_];
      const double* b = &b_[static_cast<size_t>(a) * d_];
      // theta = A^-1 (b - B beta)
      for (size_t i = 0; i < d_; ++i) t[i] = b[i] - Dot(&B[i * k_], beta.data(), k_);
      SymMatVec(Ainv, t.data(), theta.data(), d_);
      out[a] = Dot(z.data(), beta.data(), k_) + Dot(x.data(), theta.data(), d_);
      {
        SymMatVec(Ainv, x.data(), u.data(), d_);  // u = A^-1 x
        for (size_t c = 0; c < k_; ++c) {         // w = B^T A^-1 x
          double s = 0;
          for (size_t i = 0; i < d_; ++i) s += B[i * k_ + c] * u[i];
          w[c] = s;
        }
        for (size_t r = 0; r < k_; ++r) {
          a0z[r] = Dot(&a0inv_[r * k_], z.data(), k_);
          a0w[r] = Dot(&a0inv_[r * k_], w.data(), k_);
        }
        const double s = Dot(z.data(), a0z.data(), k_) - 2 * Dot(z.data(), a0w.data(), k_) +
                         Dot(x.data(), u.data(), d_) + Dot(w.data(), a0w.data(), k_);
        width[a] = std::sqrt(std::max(s, 0.0));
      }
    }
  }
  PolicyOptions o_;
  double alpha_, reg_;
  size_t d_, k_;
  uint64_t step_ = 0;
  std::vector<double> a0_, a0inv_, b0_, ainv_, B_, b_;
};

// ---- slates ----------------------------------------------------------------------

class Slate final : public SlatePolicy {
 public:
  Slate(const PolicyOptions& o, bool cascade, bool ts, double a, double b, std::vector<double> kappa)
      : o_(o), cascade_(cascade), ts_(ts), a_(a), b_(b), kappa_(std::move(kappa)) {
    arms_ = o.arms;
    slots_ = static_cast<uint32_t>(kappa_.size());
    counts_.Init(arms_, o.discount, o.window);
  }
  std::string Describe() const override {
    std::string s = "slate:model=" + std::string(cascade_ ? "cascade" : "pbm") + ",slots=" + std::to_string(slots_) +
                    ",base=" + (ts_ ? "ts" : "ucb") + ",a=" + Num(a_) + ",b=" + Num(b_);
    if (!cascade_) {
      s += ",kappa=";
      for (size_t i = 0; i < kappa_.size(); ++i) s += (i ? ";" : "") + Num(kappa_[i]);
    }
    return s + CommonKeys(o_, ts_);
  }
  void Choose(const Context&, Rng& rng, std::span<uint32_t> slate, std::span<double> marginals) const override {
    thread_local std::vector<double> score;
    thread_local std::vector<uint32_t> order;
    score.resize(arms_);
    order.resize(arms_);
    auto fill = [&](std::vector<double>& s) {
      if (ts_) {
        for (uint32_t i = 0; i < arms_; ++i) {
          const double n = counts_.N(i), c = counts_.S(i);
          s[i] = rng.Beta(a_ + c, b_ + std::max(0.0, n - c));
        }
      } else {
        double total = 0;
        for (uint32_t i = 0; i < arms_; ++i) total += counts_.N(i);
        const double log_t = std::log(std::max(total, 1.0));
        for (uint32_t i = 0; i < arms_; ++i) {
          const double n = counts_.N(i);
          s[i] = n <= 1e-12 ? kInf : counts_.S(i) / n + std::sqrt(2 * log_t / n);
        }
      }
    };
    auto top = [&](const std::vector<double>& s, uint32_t* out) {
      for (uint32_t i = 0; i < arms_; ++i) order[i] = i;
      std::partial_sort(order.begin(), order.begin() + slots_, order.end(),
                        [&](uint32_t x, uint32_t y) { return s[x] > s[y] || (s[x] == s[y] && x < y); });
      std::copy(order.begin(), order.begin() + slots_, out);
    };
    fill(score);
    top(score, slate.data());
    if (marginals.empty()) return;
    std::fill(marginals.begin(), marginals.end(), 0.0);
    const uint32_t draws = ts_ ? o_.draws : 0;  // UCB is deterministic (ties by arm id)
    for (uint32_t k = 0; k < slots_; ++k) marginals[static_cast<size_t>(k) * arms_ + slate[k]] += 1;
    std::vector<uint32_t> other(slots_);
    for (uint32_t t = 0; t < draws; ++t) {
      fill(score);
      top(score, other.data());
      for (uint32_t k = 0; k < slots_; ++k) marginals[static_cast<size_t>(k) * arms_ + other[k]] += 1;
    }
    for (double& m : marginals) m /= draws + 1.0;
  }
  void Update(std::span<const uint32_t> slate, const Context&, std::span<const double> rewards) override {
    counts_.Step();
    const size_t n = std::min(slate.size(), rewards.size());
    if (cascade_) {
      for (size_t k = 0; k < n; ++k) {
        const bool click = rewards[k] > 0;
        counts_.Add(slate[k], 1, click ? 1 : 0);
        if (click) break;  // below the first click: not examined
      }
    } else {
      for (size_t k = 0; k < n && k < kappa_.size(); ++k)
        counts_.Add(slate[k], kappa_[k], std::clamp(rewards[k], 0.0, 1.0));
    }
  }
  void Estimates(std::span<double> out) const override {
    for (uint32_t i = 0; i < arms_; ++i) out[i] = (a_ + counts_.S(i)) / (a_ + b_ + counts_.N(i));
  }
  std::string SaveState() const override { return SaveCountsState(Describe(), counts_); }
  Status LoadState(std::string_view bytes) override { return LoadCountsState(bytes, Describe(), &counts_); }

 private:
  PolicyOptions o_;
  bool cascade_, ts_;
  double a_, b_;
  std::vector<double> kappa_;
  ArmCounts counts_;
};

Status CheckCommon(const PolicyOptions& o) {
  if (o.arms == 0) return Status::InvalidArgument(o.name + ": a policy needs at least one arm");
  if (!(o.discount > 0 && o.discount <= 1)) return Status::InvalidArgument(o.name + ": discount must be in (0, 1]");
  if (o.discount != 1 && o.window != 0)
    return Status::InvalidArgument(o.name + ": discount and window are exclusive (choose one)");
  return Status::Ok();
}

}  // namespace

Result<PolicyOptions> ParsePolicySpec(std::string_view spec, uint32_t arms, uint32_t dim, uint32_t arm_dim) {
  PolicyOptions o;
  o.arms = arms;
  o.dim = dim;
  o.arm_dim = arm_dim;
  const size_t colon = spec.find(':');
  o.name = std::string(Trim(spec.substr(0, colon)));
  if (o.name.empty()) return Status::InvalidArgument("empty policy spec (expected e.g. 'ts' or 'linucb:alpha=1')");
  if (colon == std::string_view::npos) return o;
  for (std::string_view piece : SplitTrimmed(spec.substr(colon + 1), ',')) {
    const size_t eq = piece.find('=');
    if (eq == std::string_view::npos || eq == 0)
      return Status::InvalidArgument("policy spec '" + std::string(spec) + "': expected key=value, got '" +
                                     std::string(piece) + "'");
    const std::string key(Trim(piece.substr(0, eq))), value(Trim(piece.substr(eq + 1)));
    auto number = [&](double* out) -> Status {
      const auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), *out);
      if (ec != std::errc() || p != value.data() + value.size() || !std::isfinite(*out))
        return Status::InvalidArgument(o.name + ": " + key + "=" + value + " is not a number");
      return Status::Ok();
    };
    double v = 0;
    if (key == "discount") {
      SOUK_RETURN_IF_ERROR(number(&v));
      o.discount = v;
    } else if (key == "window" || key == "draws") {
      SOUK_RETURN_IF_ERROR(number(&v));
      if (!(v >= 0 && v <= 1e8 && v == std::floor(v)))
        return Status::InvalidArgument(o.name + ": " + key + " must be a whole number >= 0");
      (key == "window" ? o.window : o.draws) = static_cast<uint32_t>(v);
    } else {
      o.params.emplace_back(key, value);
    }
  }
  return o;
}

Result<std::unique_ptr<Policy>> MakePolicy(const PolicyOptions& o) {
  SOUK_RETURN_IF_ERROR(CheckCommon(o));
  Keys keys(o);
  std::unique_ptr<Policy> p;
  const bool linear = o.name == "linucb" || o.name == "lints" || o.name == "hlinucb";
  if (linear && o.dim == 0) return Status::InvalidArgument(o.name + " needs a context dimension > 0");
  if (o.name == "egreedy") {
    const double eps = keys.NonNegative("eps", 0.1), decay = keys.NonNegative("decay", 0);
    if (eps > 1) return Status::InvalidArgument("egreedy: eps must be in [0, 1]");
    p = std::make_unique<EpsilonGreedy>(o, eps, decay);
  } else if (o.name == "ucb1") {
    p = std::make_unique<Ucb1>(o, keys.Positive("c", 2));
  } else if (o.name == "ts") {
    p = std::make_unique<BernoulliTs>(o, keys.Positive("a", 1), keys.Positive("b", 1));
  } else if (o.name == "gts") {
    const double sigma = keys.Positive("sigma", 1), m0 = keys.Get("prior_mean", 0), s0 = keys.Positive("prior_sd", 1);
    p = std::make_unique<GaussianTs>(o, sigma, m0, s0);
  } else if (o.name == "linucb") {
    const double alpha = keys.NonNegative("alpha", 1), reg = keys.Positive("reg", 1);
    p = std::make_unique<LinUcb>(o, alpha, reg);
  } else if (o.name == "lints") {
    const double v = keys.NonNegative("v", 0.5), reg = keys.Positive("reg", 1);
    p = std::make_unique<LinTs>(o, v, reg);
  } else if (o.name == "hlinucb") {
    if (o.arm_dim == 0) return Status::InvalidArgument("hlinucb needs per-arm features (arm_dim > 0)");
    if (o.discount != 1 || o.window != 0) return Status::InvalidArgument("hlinucb takes neither discount nor window");
    const double alpha = keys.NonNegative("alpha", 1), reg = keys.Positive("reg", 1);
    p = std::make_unique<HybridLinUcb>(o, alpha, reg);
  } else {
    return Status::InvalidArgument("unknown policy '" + o.name +
                                   "' (known: egreedy, ucb1, ts, gts, linucb, lints, hlinucb; slates: slate)");
  }
  SOUK_RETURN_IF_ERROR(keys.Finish());
  return p;
}

Result<std::unique_ptr<Policy>> MakePolicy(std::string_view spec, uint32_t arms, uint32_t dim, uint32_t arm_dim) {
  SOUK_ASSIGN_OR_RETURN(PolicyOptions o, ParsePolicySpec(spec, arms, dim, arm_dim));
  return MakePolicy(o);
}

Result<std::unique_ptr<SlatePolicy>> MakeSlatePolicy(std::string_view spec, uint32_t arms) {
  SOUK_ASSIGN_OR_RETURN(PolicyOptions o, ParsePolicySpec(spec, arms));
  if (o.name != "slate")
    return Status::InvalidArgument("a slate policy spec starts with 'slate' (got '" + o.name + "')");
  SOUK_RETURN_IF_ERROR(CheckCommon(o));
  Keys keys(o);
  const std::string model = keys.GetString("model", "cascade"), base = keys.GetString("base", "ts");
  if (model != "cascade" && model != "pbm") return Status::InvalidArgument("slate: model must be cascade or pbm");
  if (base != "ts" && base != "ucb") return Status::InvalidArgument("slate: base must be ts or ucb");
  const double slots_d = keys.Positive("slots", 3);
  if (slots_d != std::floor(slots_d) || slots_d > arms)
    return Status::InvalidArgument("slate: slots must be a whole number <= the number of arms (" +
                                   std::to_string(arms) + ")");
  const uint32_t slots = static_cast<uint32_t>(slots_d);
  std::vector<double> kappa(slots, 1.0);
  const std::string ks = keys.GetString("kappa", "");
  if (model == "pbm") {
    if (ks.empty()) return Status::InvalidArgument("slate: model=pbm needs kappa=K1;K2;... (one per slot)");
    std::vector<double> parsed;
    for (std::string_view piece : SplitTrimmed(ks, ';')) {
      double v = 0;
      const auto [p, ec] = std::from_chars(piece.data(), piece.data() + piece.size(), v);
      if (ec != std::errc() || p != piece.data() + piece.size() || !(v > 0 && v <= 1))
        return Status::InvalidArgument("slate: kappa values must be numbers in (0, 1], got '" + std::string(piece) +
                                       "'");
      if (!parsed.empty() && v > parsed.back())
        return Status::InvalidArgument("slate: kappa must not increase down the slate");
      parsed.push_back(v);
    }
    if (parsed.size() != slots)
      return Status::InvalidArgument("slate: kappa has " + std::to_string(parsed.size()) + " values for " +
                                     std::to_string(slots) + " slots");
    kappa = std::move(parsed);
  } else if (!ks.empty()) {
    return Status::InvalidArgument("slate: kappa is for model=pbm");
  }
  const double a = keys.Positive("a", 1), b = keys.Positive("b", 1);
  SOUK_RETURN_IF_ERROR(keys.Finish());
  return std::unique_ptr<SlatePolicy>(new Slate(o, model == "cascade", base == "ts", a, b, std::move(kappa)));
}

}  // namespace souk::bandit
