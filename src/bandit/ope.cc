// Off-policy estimators (IPS, SNIPS, DM, DR, switch-DR), the cross-fitted
// reward model behind DM and its relatives, bootstrap intervals and the
// synthetic logs with a known true value.
#include <fmt/format.h>

#include <Eigen/Dense>
#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <numeric>

#include "bandit/bandit.h"

namespace souk::bandit {

namespace {

// Where each feature of (round, arm, position) sits in the model's vector.
struct Layout {
  uint32_t arms = 0, positions = 1, dim = 0, item_dim = 0;
  bool arm_x = false, cross = false;
  uint32_t o_arm = 1, o_pos = 0, o_x = 0, o_arm_x = 0, o_item = 0, o_cross = 0, size = 0;

  Layout(const OpeLog& log, bool with_cross)
      : arms(log.arms), positions(log.positions), dim(log.dim), item_dim(log.item_dim) {
    arm_x = !log.arm_x.empty();
    cross = with_cross && dim > 0;
    o_pos = o_arm + arms;
    o_x = o_pos + (positions > 1 ? positions : 0);
    o_arm_x = o_x + dim;
    o_item = o_arm_x + (arm_x ? 1 : 0);
    o_cross = o_item + (log.item_x.empty() ? 0 : item_dim);
    size = o_cross + (cross ? dim * arms : 0);
  }

  // Writes the features of round i with arm a at its logged position into out[0, size).
  void Features(const OpeLog& log, size_t i, uint32_t a, double* out) const {
    std::fill(out, out + size, 0.0);
    out[0] = 1;
    out[o_arm + a] = 1;
    if (positions > 1) out[o_pos + log.position[i]] = 1;
    const float* x = log.x.data() + i * dim;
    for (uint32_t j = 0; j < dim; ++j) out[o_x + j] = x[j];
    if (arm_x) out[o_arm_x] = log.arm_x[i * arms + a];
    if (!log.item_x.empty())
      for (uint32_t j = 0; j < item_dim; ++j) out[o_item + j] = log.item_x[static_cast<size_t>(a) * item_dim + j];
    if (cross)
      for (uint32_t j = 0; j < dim; ++j) out[o_cross + a * dim + j] = x[j];
  }
};

double Sigmoid(double z) { return z >= 0 ? 1 / (1 + std::exp(-z)) : std::exp(z) / (1 + std::exp(z)); }
double Log1pExp(double z) { return z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z)); }

// Ridge: (X'X + lambda D) beta = X'y, D = I without the intercept.
Eigen::VectorXd FitRidge(const Eigen::MatrixXd& X, const Eigen::VectorXd& y, double lambda) {
  Eigen::MatrixXd A = Eigen::MatrixXd::Zero(X.cols(), X.cols());
  A.selfadjointView<Eigen::Lower>().rankUpdate(X.transpose());
  for (Eigen::Index j = 0; j < A.cols(); ++j) A(j, j) += (j == 0 ? 0 : lambda) + 1e-9;
  return Eigen::LDLT<Eigen::MatrixXd>(A).solve(X.transpose() * y);
}

// L2-penalised logistic regression by Newton's method with step halving
// (the loss is convex, so this converges; the penalty keeps it bounded on
// separable data such as arms that were never clicked).
Eigen::VectorXd FitLogistic(const Eigen::MatrixXd& X, const Eigen::VectorXd& y, double lambda) {
  const Eigen::Index p = X.cols();
  Eigen::VectorXd beta = Eigen::VectorXd::Zero(p);
  const double mean = std::clamp(y.mean(), 1e-6, 1 - 1e-6);
  beta(0) = std::log(mean / (1 - mean));
  auto loss = [&](const Eigen::VectorXd& b) {
    const Eigen::VectorXd eta = X * b;
    double l = 0;
    for (Eigen::Index i = 0; i < eta.size(); ++i) l += Log1pExp(eta(i)) - y(i) * eta(i);
    return l + 0.5 * lambda * (b.squaredNorm() - b(0) * b(0));
  };
  double current = loss(beta);
  for (int iter = 0; iter < 50; ++iter) {
    const Eigen::VectorXd eta = X * beta;
    Eigen::VectorXd prob(eta.size()), sw(eta.size());
    for (Eigen::Index i = 0; i < eta.size(); ++i) {
      prob(i) = Sigmoid(eta(i));
      sw(i) = std::sqrt(std::max(prob(i) * (1 - prob(i)), 1e-12));
    }
    Eigen::VectorXd grad = X.transpose() * (prob - y);
    grad.tail(p - 1) += lambda * beta.tail(p - 1);
    const Eigen::MatrixXd Xw = sw.asDiagonal() * X;
    Eigen::MatrixXd H = Eigen::MatrixXd::Zero(p, p);
    H.selfadjointView<Eigen::Lower>().rankUpdate(Xw.transpose());
    for (Eigen::Index j = 0; j < p; ++j) H(j, j) += (j == 0 ? 0 : lambda) + 1e-9;
    const Eigen::VectorXd step = Eigen::LDLT<Eigen::MatrixXd>(H).solve(grad);
    double t = 1, next = loss(beta - step);
    while (next > current && t > 1e-6) {
      t /= 2;
      next = loss(beta - t * step);
    }
    if (next > current) break;  // no descent left: at the optimum up to rounding
    beta -= t * step;
    const double change = current - next;
    current = next;
    if ((t * step).cwiseAbs().maxCoeff() < 1e-8 || change < 1e-10 * (1 + std::abs(current))) break;
  }
  return beta;
}

// q(i, a) for every arm of round i, from a fitted beta, without building the
// feature vectors: the shared part once, then each arm's own terms.
void Predict(const OpeLog& log, const Layout& L, const Eigen::VectorXd& beta, bool logistic, size_t i, double* out) {
  double shared = beta(0);
  if (L.positions > 1) shared += beta(L.o_pos + log.position[i]);
  const float* x = log.x.data() + i * L.dim;
  for (uint32_t j = 0; j < L.dim; ++j) shared += beta(L.o_x + j) * x[j];
  for (uint32_t a = 0; a < L.arms; ++a) {
    double z = shared + beta(L.o_arm + a);
    if (L.arm_x) z += beta(L.o_arm_x) * log.arm_x[i * L.arms + a];
    if (!log.item_x.empty())
      for (uint32_t j = 0; j < L.item_dim; ++j)
        z += beta(L.o_item + j) * log.item_x[static_cast<size_t>(a) * L.item_dim + j];
    if (L.cross)
      for (uint32_t j = 0; j < L.dim; ++j) z += beta(L.o_cross + a * L.dim + j) * x[j];
    out[a] = logistic ? Sigmoid(z) : z;
  }
}

// A standard normal by Box-Muller from Uniform() alone, so the synthetic logs
// (and the numbers documented for them) do not move when Rng::Normal's
// algorithm changes.
double StdNormal(Rng& rng) {
  double u = rng.Uniform();
  while (u == 0) u = rng.Uniform();
  const double v = rng.Uniform();
  return std::sqrt(-2 * std::log(u)) * std::cos(2 * std::numbers::pi * v);
}

double Quantile(std::vector<double>& v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

Status CheckOptions(const OpeOptions& o) {
  if (!(o.clip >= 0)) return Status::InvalidArgument(fmt::format("clip {} must be >= 0 (0 = no clipping)", o.clip));
  if (!(o.tau >= 0)) return Status::InvalidArgument(fmt::format("tau {} must be >= 0", o.tau));
  if (!(o.lambda >= 0)) return Status::InvalidArgument(fmt::format("lambda {} must be >= 0", o.lambda));
  if (!(o.confidence > 0 && o.confidence < 1))
    return Status::InvalidArgument(fmt::format("confidence {} must be in (0, 1)", o.confidence));
  if (o.folds < 1) return Status::InvalidArgument("folds must be >= 1");
  if (o.reward_model != "auto" && o.reward_model != "ridge" && o.reward_model != "logistic")
    return Status::InvalidArgument(fmt::format("unknown reward model '{}' (auto, ridge or logistic)", o.reward_model));
  if (o.features != "auto" && o.features != "arm" && o.features != "cross")
    return Status::InvalidArgument(fmt::format("unknown features '{}' (auto, arm or cross)", o.features));
  return Status::Ok();
}

Status CheckLog(const OpeLog& log) {
  const size_t n = log.rounds();
  if (n == 0) return Status::InvalidArgument("the log has no rounds");
  if (log.arms == 0 || log.positions == 0) return Status::InvalidArgument("the log has no arms or positions");
  if (log.position.size() != n || log.reward.size() != n || log.propensity.size() != n || log.x.size() != n * log.dim ||
      (!log.arm_x.empty() && log.arm_x.size() != n * log.arms) ||
      (!log.item_x.empty() && log.item_x.size() != static_cast<size_t>(log.arms) * log.item_dim))
    return Status::InvalidArgument("the log's arrays have inconsistent sizes");
  for (size_t i = 0; i < n; ++i)
    if (log.arm[i] >= log.arms || log.position[i] >= log.positions || !(log.propensity[i] > 0) || log.propensity[i] > 1)
      return Status::InvalidArgument(fmt::format("round {} has an arm, position or propensity out of range", i));
  return Status::Ok();
}

}  // namespace

const OpeEstimate* OpeReport::Find(std::string_view name) const {
  for (const auto& e : estimates)
    if (e.name == name) return &e;
  return nullptr;
}

Result<std::vector<double>> FitRewardModel(const OpeLog& log, const OpeOptions& options, std::string* describe) {
  SOUK_RETURN_IF_ERROR(CheckOptions(options));
  SOUK_RETURN_IF_ERROR(CheckLog(log));
  const size_t n = log.rounds(), k = log.arms;
  bool binary = true;
  for (double r : log.reward) binary = binary && r >= 0 && r <= 1;
  std::string kind = options.reward_model;
  if (kind == "auto") kind = binary ? "logistic" : "ridge";
  if (kind == "logistic" && !binary)
    return Status::InvalidArgument(
        "the logistic reward model needs rewards in [0, 1] and the log has others; use --reward-model ridge");
  const bool logistic = kind == "logistic";
  const bool cross =
      options.features == "cross" || (options.features == "auto" && static_cast<uint64_t>(log.dim) * log.arms <= 512);
  const Layout layout(log, cross);
  const uint32_t folds = static_cast<uint32_t>(std::min<size_t>(options.folds, n));
  // Folds: a seeded shuffle dealt round-robin.
  std::vector<uint32_t> fold(n, 0);
  if (folds > 1) {
    std::vector<size_t> perm(n);
    std::iota(perm.begin(), perm.end(), 0);
    Rng rng(options.seed ^ 0x5eedf01d5ull);
    for (size_t i = n - 1; i > 0; --i) std::swap(perm[i], perm[rng.Below(i + 1)]);
    for (size_t r = 0; r < n; ++r) fold[perm[r]] = static_cast<uint32_t>(r % folds);
  }
  std::vector<double> q(n * k);
  std::vector<double> row(layout.size);
  for (uint32_t f = 0; f < folds; ++f) {
    size_t m = 0;
    for (size_t i = 0; i < n; ++i) m += folds == 1 || fold[i] != f;
    Eigen::MatrixXd X(m, layout.size);
    Eigen::VectorXd y(m);
    size_t r = 0;
    for (size_t i = 0; i < n; ++i) {
      if (folds > 1 && fold[i] == f) continue;
      layout.Features(log, i, log.arm[i], row.data());
      X.row(r) = Eigen::Map<const Eigen::RowVectorXd>(row.data(), layout.size);
      y(r++) = log.reward[i];
    }
    const Eigen::VectorXd beta = logistic ? FitLogistic(X, y, options.lambda) : FitRidge(X, y, options.lambda);
    if (!beta.allFinite()) return Status::Internal("the reward model did not converge (non-finite weights)");
    for (size_t i = 0; i < n; ++i)
      if (folds == 1 || fold[i] == f) Predict(log, layout, beta, logistic, i, q.data() + i * k);
  }
  if (describe != nullptr)
    *describe = fmt::format("{}:lambda={},features={},dim={},folds={}", kind, options.lambda, cross ? "cross" : "arm",
                            layout.size, folds);
  return q;
}

Result<OpeReport> EstimateOpe(const OpeLog& log, std::span<const double> target, std::span<const double> q,
                              const OpeOptions& options) {
  SOUK_RETURN_IF_ERROR(CheckOptions(options));
  SOUK_RETURN_IF_ERROR(CheckLog(log));
  const size_t n = log.rounds(), k = log.arms;
  if (target.size() != n * k)
    return Status::InvalidArgument(
        fmt::format("the target policy has {} probabilities, the log needs {} (rounds x arms)", target.size(), n * k));
  if (q.size() != n * k)
    return Status::InvalidArgument(fmt::format("the reward model has {} values, expected {}", q.size(), n * k));
  OpeReport rep;
  rep.n = n;
  // Per-round terms; every estimator is a mean of them (SNIPS a ratio of two).
  std::vector<double> w(n), wr(n), dm(n), dr(n), sw(n);
  double sum_w = 0, sum_w2 = 0;
  for (size_t i = 0; i < n; ++i) {
    const double* pi = target.data() + i * k;
    const double* qi = q.data() + i * k;
    const uint32_t a = log.arm[i];
    const double raw = pi[a] / log.propensity[i];
    rep.max_weight = std::max(rep.max_weight, raw);
    double wi = raw;
    if (options.clip > 0 && raw > options.clip) {
      wi = options.clip;
      ++rep.clipped;
    }
    const double r = log.reward[i];
    double dmi = 0;
    for (size_t b = 0; b < k; ++b) dmi += pi[b] * qi[b];
    const double correction = wi * (r - qi[a]);
    w[i] = wi;
    wr[i] = wi * r;
    dm[i] = dmi;
    dr[i] = dmi + correction;
    const bool use_dr = raw <= options.tau;
    sw[i] = dmi + (use_dr ? correction : 0);
    rep.switched += !use_dr;
    sum_w += wi;
    sum_w2 += wi * wi;
    rep.logged_value += r;
  }
  rep.logged_value /= static_cast<double>(n);
  rep.ess = sum_w2 > 0 ? sum_w * sum_w / sum_w2 : 0;
  // The five estimators from sums over a multiset of rounds (counts[i] times round i).
  auto estimate = [&](auto&& each_round) {
    double s_w = 0, s_wr = 0, s_dm = 0, s_dr = 0, s_sw = 0, m = 0;
    each_round([&](size_t i) {
      s_w += w[i];
      s_wr += wr[i];
      s_dm += dm[i];
      s_dr += dr[i];
      s_sw += sw[i];
      m += 1;
    });
    return std::array<double, 5>{s_wr / m, s_w > 0 ? s_wr / s_w : 0, s_dm / m, s_dr / m, s_sw / m};
  };
  const auto point = estimate([&](auto&& add) {
    for (size_t i = 0; i < n; ++i) add(i);
  });
  std::array<std::vector<double>, 5> boot;
  if (options.bootstrap > 0) {
    Rng rng(options.seed);
    for (auto& b : boot) b.reserve(options.bootstrap);
    for (uint32_t b = 0; b < options.bootstrap; ++b) {
      const auto e = estimate([&](auto&& add) {
        for (size_t j = 0; j < n; ++j) add(static_cast<size_t>(rng.Below(n)));
      });
      for (size_t s = 0; s < 5; ++s) boot[s].push_back(e[s]);
    }
  }
  const double alpha = (1 - options.confidence) / 2;
  for (size_t s = 0; s < 5; ++s) {
    OpeEstimate e;
    e.name = kOpeEstimators[s];
    e.value = point[s];
    e.lo = e.hi = point[s];
    if (options.bootstrap > 0) {
      e.lo = Quantile(boot[s], alpha);
      e.hi = Quantile(boot[s], 1 - alpha);
    }
    rep.estimates.push_back(std::move(e));
  }
  return rep;
}

Result<OpeReport> EvaluateOpe(const OpeLog& log, std::span<const double> target, const OpeOptions& options) {
  std::string describe;
  SOUK_ASSIGN_OR_RETURN(auto q, FitRewardModel(log, options, &describe));
  OpeOptions point_options = options;
  if (options.refit) point_options.bootstrap = 0;
  SOUK_ASSIGN_OR_RETURN(auto rep, EstimateOpe(log, target, q, point_options));
  rep.reward_model = describe;
  if (!options.refit || options.bootstrap == 0) return rep;
  // Each resample is a log of its own: refit (cross-fitted, folds seeded per
  // resample), then the point estimates.
  const size_t n = log.rounds(), k = log.arms;
  Rng rng(options.seed);
  std::array<std::vector<double>, 5> boot;
  OpeOptions inner = options;
  inner.bootstrap = 0;
  inner.refit = false;
  for (uint32_t b = 0; b < options.bootstrap; ++b) {
    OpeLog sub;
    sub.arms = log.arms;
    sub.positions = log.positions;
    sub.dim = log.dim;
    sub.item_dim = log.item_dim;
    sub.item_x = log.item_x;
    sub.rows = n;
    std::vector<double> sub_target;
    sub_target.reserve(n * k);
    for (size_t j = 0; j < n; ++j) {
      const size_t i = static_cast<size_t>(rng.Below(n));
      sub.arm.push_back(log.arm[i]);
      sub.position.push_back(log.position[i]);
      sub.reward.push_back(log.reward[i]);
      sub.propensity.push_back(log.propensity[i]);
      sub.line.push_back(log.line.empty() ? i : log.line[i]);
      sub.x.insert(sub.x.end(), log.x.begin() + i * log.dim, log.x.begin() + (i + 1) * log.dim);
      if (!log.arm_x.empty())
        sub.arm_x.insert(sub.arm_x.end(), log.arm_x.begin() + i * k, log.arm_x.begin() + (i + 1) * k);
      sub_target.insert(sub_target.end(), target.begin() + i * k, target.begin() + (i + 1) * k);
    }
    inner.seed = options.seed + 1 + b;
    SOUK_ASSIGN_OR_RETURN(auto sub_q, FitRewardModel(sub, inner));
    SOUK_ASSIGN_OR_RETURN(auto sub_rep, EstimateOpe(sub, sub_target, sub_q, inner));
    for (size_t s = 0; s < 5; ++s) boot[s].push_back(sub_rep.estimates[s].value);
  }
  const double alpha = (1 - options.confidence) / 2;
  for (size_t s = 0; s < 5; ++s) {
    rep.estimates[s].lo = Quantile(boot[s], alpha);
    rep.estimates[s].hi = Quantile(boot[s], 1 - alpha);
  }
  return rep;
}

Result<SyntheticOpe> MakeSyntheticOpe(const SyntheticOpeOptions& o) {
  if (o.rounds < 1 || o.arms < 2 || o.dim < 1)
    return Status::InvalidArgument("synthetic logs need rounds >= 1, arms >= 2 and dim >= 1");
  if (!(o.temperature > 0) || !(o.noise >= 0) || !(o.scale > 0) || !(o.epsilon >= 0 && o.epsilon <= 1))
    return Status::InvalidArgument("synthetic logs need temperature > 0, noise >= 0, scale > 0 and epsilon in [0, 1]");
  Rng rng(o.seed);
  const uint32_t k = o.arms, d = o.dim;
  std::vector<double> theta(static_cast<size_t>(k) * d);
  for (uint32_t a = 0; a < k; ++a) {
    theta[a * d] = o.intercept + 0.5 * StdNormal(rng);
    for (uint32_t j = 1; j < d; ++j) theta[a * d + j] = o.scale * StdNormal(rng) / std::sqrt(static_cast<double>(d));
  }
  SyntheticOpe s;
  OpeLog& log = s.log;
  log.arms = k;
  log.dim = d;
  log.positions = 1;
  log.rows = o.rounds;
  s.target.resize(o.rounds * k);
  std::vector<double> score(k), mu(k);
  for (uint64_t t = 0; t < o.rounds; ++t) {
    log.x.push_back(1.0f);
    for (uint32_t j = 1; j < d; ++j) log.x.push_back(static_cast<float>(StdNormal(rng)));
    const float* x = log.x.data() + t * d;
    uint32_t best = 0;
    for (uint32_t a = 0; a < k; ++a) {
      score[a] = 0;
      for (uint32_t j = 0; j < d; ++j) score[a] += theta[a * d + j] * x[j];
      if (score[a] > score[best]) best = a;
    }
    double mx = -1e300;
    for (uint32_t a = 0; a < k; ++a) {
      mu[a] = (score[a] + o.noise * o.scale * StdNormal(rng)) / (o.temperature * o.scale);
      mx = std::max(mx, mu[a]);
    }
    double z = 0;
    for (uint32_t a = 0; a < k; ++a) z += (mu[a] = std::exp(mu[a] - mx));
    for (uint32_t a = 0; a < k; ++a) mu[a] /= z;
    double u = rng.Uniform();
    uint32_t arm = k - 1;
    for (uint32_t a = 0; a < k; ++a) {
      if (u < mu[a]) {
        arm = a;
        break;
      }
      u -= mu[a];
    }
    double* pi = s.target.data() + t * k;
    for (uint32_t a = 0; a < k; ++a) {
      pi[a] = o.epsilon / k + (a == best ? 1 - o.epsilon : 0);
      s.true_value += pi[a] * Sigmoid(score[a]);
      s.logging_value += mu[a] * Sigmoid(score[a]);
    }
    log.arm.push_back(arm);
    log.position.push_back(0);
    log.propensity.push_back(std::max(mu[arm], 1e-300));
    log.reward.push_back(rng.Uniform() < Sigmoid(score[arm]) ? 1.0 : 0.0);
    log.line.push_back(t + 1);
  }
  s.true_value /= static_cast<double>(o.rounds);
  s.logging_value /= static_cast<double>(o.rounds);
  return s;
}

}  // namespace souk::bandit
