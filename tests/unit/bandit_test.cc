// Bandit policies: convergence on easy problems, propensities that sum to 1
// and match how often arms are really chosen, Sherman-Morrison against a
// direct inverse (with window and discount), determinism per seed, state
// save/load, slates, and spec errors.
#include "bandit/bandit.h"

#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <cmath>
#include <map>
#include <set>

namespace souk::bandit {
namespace {

std::unique_ptr<Policy> Make(const std::string& spec, uint32_t arms, uint32_t dim = 0, uint32_t arm_dim = 0) {
  auto p = MakePolicy(spec, arms, dim, arm_dim);
  EXPECT_TRUE(p.ok()) << spec << ": " << p.status().ToString();
  return p.ok() ? std::move(*p) : nullptr;
}

// Bernoulli arms; returns the share of the last `tail` rounds on the best arm.
double BestArmShare(Policy& p, const std::vector<double>& means, int rounds, int tail, uint64_t seed) {
  Rng rng(seed), env(seed + 1000);
  const uint32_t best = static_cast<uint32_t>(std::max_element(means.begin(), means.end()) - means.begin());
  int hits = 0;
  for (int t = 0; t < rounds; ++t) {
    const uint32_t a = p.Choose({}, rng, {});
    if (t >= rounds - tail) hits += a == best;
    p.Update(a, {}, env.Uniform() < means[a] ? 1.0 : 0.0);
  }
  return static_cast<double>(hits) / tail;
}

TEST(Rng, SameSeedSameStreamAndSaneMoments) {
  Rng a(7), b(7), c(8);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.Next(), b.Next());
  EXPECT_NE(Rng(7).Next(), c.Next());
  Rng r(3);
  double sum = 0, sq = 0, beta = 0, gamma = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double z = r.Normal();
    sum += z;
    sq += z * z;
    beta += r.Beta(2, 6);
    gamma += r.Gamma(0.5);
  }
  EXPECT_NEAR(sum / n, 0, 0.01);
  EXPECT_NEAR(sq / n, 1, 0.01);
  EXPECT_NEAR(beta / n, 0.25, 0.003);  // a / (a + b)
  EXPECT_NEAR(gamma / n, 0.5, 0.01);   // shape
  for (int i = 0; i < 1000; ++i) EXPECT_LT(r.Below(7), 7u);
  // Gamma's mean and variance (both = shape) through the inline fast path
  // and its exact fallback, and Beta's variance ab / ((a+b)^2 (a+b+1)).
  for (double shape : {1.0, 3.0, 17.5}) {
    const Rng::GammaShape g(shape);
    double m = 0, m2 = 0;
    for (int i = 0; i < n; ++i) {
      const double v = r.Gamma(g);
      m += v;
      m2 += v * v;
    }
    m /= n;
    EXPECT_NEAR(m, shape, 0.02 * shape) << shape;
    EXPECT_NEAR(m2 / n - m * m, shape, 0.05 * shape) << shape;
  }
  double bm = 0, bm2 = 0;
  for (int i = 0; i < n; ++i) {
    const double v = r.Beta(2, 6);
    bm += v;
    bm2 += v * v;
  }
  bm /= n;
  EXPECT_NEAR(bm2 / n - bm * bm, 12.0 / (64 * 9), 0.001);
  // The normal's tails: P(|Z| > 2) = 0.0455, P(|Z| > 3.5) = 0.000465.
  int over2 = 0, over35 = 0;
  for (int i = 0; i < 1000000; ++i) {
    const double z = std::abs(r.Normal());
    over2 += z > 2;
    over35 += z > 3.5;
  }
  EXPECT_NEAR(over2 / 1e6, 0.0455, 0.0015);
  EXPECT_NEAR(over35 / 1e6, 0.000465, 0.0001);
}

TEST(Policies, CountingPoliciesFindTheBestArm) {
  const std::vector<double> means = {0.1, 0.2, 0.3, 0.35, 0.7, 0.25};
  for (const std::string spec : {"egreedy:eps=0.05", "egreedy:eps=0.3,decay=0.01", "ucb1", "ts", "gts:sigma=0.5"}) {
    auto p = Make(spec, 6);
    ASSERT_NE(p, nullptr);
    const double share = BestArmShare(*p, means, 4000, 1000, 11);
    EXPECT_GT(share, 0.85) << spec;
    EXPECT_EQ(p->updates(), 4000u);
  }
}

// Contextual problem: arm a's reward is theta_a . x + noise; each arm is
// best for part of the context space.
struct LinearEnv {
  uint32_t arms = 4, dim = 5;
  std::vector<std::vector<double>> theta;
  explicit LinearEnv(uint64_t seed) {
    Rng r(seed);
    theta.assign(arms, std::vector<double>(dim));
    for (auto& t : theta)
      for (double& v : t) v = r.Normal();
  }
  void Context(Rng& r, std::vector<float>* x) const {
    x->resize(dim);
    for (float& v : *x) v = static_cast<float>(r.Normal() / std::sqrt(dim));
  }
  double Mean(uint32_t a, const std::vector<float>& x) const {
    double s = 0;
    for (uint32_t i = 0; i < dim; ++i) s += theta[a][i] * x[i];
    return s;
  }
  uint32_t Best(const std::vector<float>& x) const {
    uint32_t b = 0;
    for (uint32_t a = 1; a < arms; ++a)
      if (Mean(a, x) > Mean(b, x)) b = a;
    return b;
  }
};

TEST(Policies, LinearPoliciesLearnTheContext) {
  LinearEnv env(5);
  for (const std::string spec : {"linucb:alpha=0.5", "lints:v=0.3"}) {
    auto p = Make(spec, env.arms, env.dim);
    ASSERT_NE(p, nullptr);
    Rng rng(1), er(2);
    std::vector<float> x;
    int hits = 0;
    const int rounds = 4000, tail = 1000;
    for (int t = 0; t < rounds; ++t) {
      env.Context(er, &x);
      const uint32_t a = p->Choose({x, {}}, rng, {});
      if (t >= rounds - tail) hits += a == env.Best(x);
      p->Update(a, {x, {}}, env.Mean(a, x) + 0.1 * er.Normal());
    }
    EXPECT_GT(hits, 0.85 * tail) << spec;
  }
}

TEST(Policies, HybridLinUcbLearnsSharedAndPerArmParts) {
  // reward = beta . z_a + theta_a . x, z_a the arm's own features.
  const uint32_t arms = 5, d = 3, k = 2;
  Rng r(9);
  std::vector<double> beta = {1.0, -0.5};
  std::vector<std::vector<double>> theta(arms, std::vector<double>(d));
  std::vector<float> z(arms * k);
  for (auto& t : theta)
    for (double& v : t) v = 0.5 * r.Normal();
  for (float& v : z) v = static_cast<float>(r.Normal());
  auto mean = [&](uint32_t a, const std::vector<float>& x) {
    double s = beta[0] * z[a * k] + beta[1] * z[a * k + 1];
    for (uint32_t i = 0; i < d; ++i) s += theta[a][i] * x[i];
    return s;
  };
  auto p = Make("hlinucb:alpha=0.5", arms, d, k);
  ASSERT_NE(p, nullptr);
  Rng rng(1), er(2);
  std::vector<float> x(d);
  int hits = 0;
  for (int t = 0; t < 3000; ++t) {
    for (float& v : x) v = static_cast<float>(er.Normal());
    const Context ctx{x, z};
    const uint32_t a = p->Choose(ctx, rng, {});
    uint32_t best = 0;
    for (uint32_t b = 1; b < arms; ++b)
      if (mean(b, x) > mean(best, x)) best = b;
    if (t >= 2000) hits += a == best;
    p->Update(a, ctx, mean(a, x) + 0.1 * er.Normal());
  }
  EXPECT_GT(hits, 850);
  // Its estimates approach the true means.
  std::vector<double> est(arms);
  for (float& v : x) v = static_cast<float>(er.Normal());
  p->Estimates({x, z}, est, {});
  for (uint32_t a = 0; a < arms; ++a) EXPECT_NEAR(est[a], mean(a, x), 0.25) << a;
}

// Propensities: they sum to 1, and over many independent decisions from
// the same state, the share of decisions on each arm matches the mean
// reported probability.
void CheckPropensities(Policy& p, const Context& ctx, double tol) {
  const uint32_t K = p.arms();
  std::vector<double> probs(K), mean_p(K, 0), freq(K, 0);
  const int n = 4000;
  for (int i = 0; i < n; ++i) {
    Rng rng(1000 + i);
    const uint32_t a = p.Choose(ctx, rng, probs);
    double sum = 0;
    for (double q : probs) {
      EXPECT_GE(q, 0);
      sum += q;
    }
    ASSERT_NEAR(sum, 1, 1e-9) << p.Describe();
    EXPECT_GT(probs[a], 0) << p.Describe();
    freq[a] += 1.0 / n;
    for (uint32_t b = 0; b < K; ++b) mean_p[b] += probs[b] / n;
  }
  for (uint32_t b = 0; b < K; ++b) EXPECT_NEAR(freq[b], mean_p[b], tol) << p.Describe() << " arm " << b;
}

TEST(Policies, PropensitiesSumToOneAndMatchFrequencies) {
  // A state where several arms have a real chance.
  const std::vector<std::pair<uint32_t, double>> history = {{0, 1}, {0, 0}, {1, 1}, {1, 1}, {1, 0}, {2, 0},
                                                            {2, 1}, {3, 0}, {0, 1}, {2, 1}, {3, 1}};
  for (const std::string spec : {"ts:draws=300", "gts:sigma=0.7,draws=300", "egreedy:eps=0.2", "ucb1"}) {
    auto p = Make(spec, 4);
    ASSERT_NE(p, nullptr);
    for (auto [a, r] : history) p->Update(a, {}, r);
    CheckPropensities(*p, {}, 0.03);
  }
  LinearEnv env(3);
  auto lt = Make("lints:v=1,draws=300", env.arms, env.dim);
  Rng er(4);
  std::vector<float> x;
  for (int t = 0; t < 30; ++t) {
    env.Context(er, &x);
    lt->Update(t % env.arms, {x, {}}, env.Mean(t % env.arms, x));
  }
  env.Context(er, &x);
  CheckPropensities(*lt, {x, {}}, 0.03);
  // egreedy's are exact: eps / K everywhere plus 1 - eps on the greedy arm.
  auto eg = Make("egreedy:eps=0.2", 4);
  eg->Update(2, {}, 1);
  std::vector<double> probs(4);
  Rng rng(1);
  eg->Choose({}, rng, probs);
  EXPECT_DOUBLE_EQ(probs[2], 0.05 + 0.8);
  EXPECT_DOUBLE_EQ(probs[0], 0.05);
}

// theta and width against the ridge solution computed directly:
// A = reg I + sum x x^T (weighted), theta = A^-1 b.
TEST(Policies, ShermanMorrisonEqualsTheDirectInverse) {
  const uint32_t d = 6, arms = 3;
  struct Case {
    std::string spec;
    uint32_t window = 0;
    double discount = 1;
  };
  for (const Case& c : {Case{"linucb:alpha=1,reg=0.7"}, Case{"linucb:alpha=1,reg=0.7,window=50", 50},
                        Case{"linucb:alpha=1,reg=0.7,discount=0.99", 0, 0.99}}) {
    auto p = Make(c.spec, arms, d);
    ASSERT_NE(p, nullptr);
    Rng r(21);
    std::vector<std::vector<float>> xs;
    std::vector<uint32_t> as;
    std::vector<double> rs;
    for (int t = 0; t < 300; ++t) {
      std::vector<float> x(d);
      for (float& v : x) v = static_cast<float>(r.Normal());
      const uint32_t a = static_cast<uint32_t>(r.Below(arms));
      const double rew = r.Normal();
      p->Update(a, {x, {}}, rew);
      xs.push_back(x);
      as.push_back(a);
      rs.push_back(rew);
    }
    std::vector<float> q(d);
    for (float& v : q) v = static_cast<float>(r.Normal());
    std::vector<double> mean(arms), width(arms);
    p->Estimates({q, {}}, mean, width);
    const size_t T = xs.size();
    for (uint32_t a = 0; a < arms; ++a) {
      // Every update multiplies all statistics by the discount first, so at
      // the end the prior carries discount^T and update t discount^(T-1-t).
      Eigen::MatrixXd A = Eigen::MatrixXd::Identity(d, d) * 0.7 * std::pow(c.discount, T);
      Eigen::VectorXd b = Eigen::VectorXd::Zero(d);
      for (size_t t = 0; t < T; ++t) {
        if (as[t] != a || (c.window > 0 && t + c.window < T)) continue;
        Eigen::VectorXd x(d);
        for (uint32_t i = 0; i < d; ++i) x[i] = xs[t][i];
        const double w = std::pow(c.discount, T - 1 - t);
        A += w * x * x.transpose();
        b += w * rs[t] * x;
      }
      const Eigen::MatrixXd Ainv = A.inverse();
      Eigen::VectorXd qv(d);
      for (uint32_t i = 0; i < d; ++i) qv[i] = q[i];
      EXPECT_NEAR(mean[a], qv.dot(Ainv * b), 1e-8) << c.spec << " arm " << a;
      EXPECT_NEAR(width[a], std::sqrt(qv.dot(Ainv * qv)), 1e-8) << c.spec << " arm " << a;
    }
  }
}

TEST(Policies, SameSeedSameDecisions) {
  for (const std::string spec : {"ts", "egreedy", "lints", "ucb1"}) {
    auto a = Make(spec, 5, spec == "lints" ? 3 : 0), b = Make(spec, 5, spec == "lints" ? 3 : 0);
    Rng ra(5), rb(5), env(6);
    std::vector<double> pa(5), pb(5);
    std::vector<float> x = {0.5f, -1.0f, 0.2f};
    const Context ctx{spec == "lints" ? std::span<const float>(x) : std::span<const float>(), {}};
    for (int t = 0; t < 200; ++t) {
      const uint32_t ca = a->Choose(ctx, ra, pa), cb = b->Choose(ctx, rb, pb);
      ASSERT_EQ(ca, cb) << spec;
      ASSERT_EQ(pa, pb) << spec;
      const double r = env.Uniform() < 0.3 + 0.1 * ca ? 1 : 0;
      a->Update(ca, ctx, r);
      b->Update(cb, ctx, r);
    }
  }
}

TEST(Policies, StateRoundTripsAndRejectsForeignState) {
  for (const std::string spec :
       {"ts", "gts", "egreedy:eps=0.2", "ucb1:window=20", "linucb:discount=0.95", "lints", "hlinucb"}) {
    const bool linear = spec.rfind("lin", 0) == 0 || spec.rfind("hlin", 0) == 0;
    const uint32_t d = linear ? 3 : 0, k = spec.rfind("hlin", 0) == 0 ? 2 : 0;
    auto p = Make(spec, 4, d, k);
    ASSERT_NE(p, nullptr);
    Rng env(3);
    std::vector<float> x = {0.3f, -0.2f, 1.0f}, z = {1, 0, 0, 1, 1, 1, 0.5f, -0.5f};
    const Context ctx{linear ? std::span<const float>(x) : std::span<const float>(),
                      k ? std::span<const float>(z) : std::span<const float>()};
    for (int t = 0; t < 60; ++t) p->Update(static_cast<uint32_t>(env.Below(4)), ctx, env.Uniform());
    const std::string state = p->SaveState();
    auto q = Make(spec, 4, d, k);
    ASSERT_TRUE(q->LoadState(state).ok()) << spec;
    EXPECT_EQ(q->updates(), p->updates());
    std::vector<double> mp(4), mq(4), pp(4), pq(4);
    p->Estimates(ctx, mp, {});
    q->Estimates(ctx, mq, {});
    EXPECT_EQ(mp, mq) << spec;
    Rng r1(8), r2(8);
    EXPECT_EQ(p->Choose(ctx, r1, pp), q->Choose(ctx, r2, pq)) << spec;
    EXPECT_EQ(pp, pq) << spec;
    // Truncated, or another policy's state: Corruption, and nothing changes.
    EXPECT_EQ(q->LoadState(state.substr(0, state.size() - 3)).code(), StatusCode::kCorruption) << spec;
    auto other = Make(spec == "ts" ? "ucb1" : "ts", 4);
    EXPECT_EQ(other->LoadState(state).code(), StatusCode::kCorruption) << spec;
    EXPECT_EQ(q->SaveState(), state) << spec;
  }
  auto wrong_arms = Make("ts", 5);
  EXPECT_EQ(wrong_arms->LoadState(Make("ts", 4)->SaveState()).code(), StatusCode::kCorruption);
}

TEST(Policies, DiscountAndWindowTrackAChangingBestArm) {
  // Arm 0 is best for the first half, arm 1 afterwards.
  auto run = [](const std::string& spec) {
    auto p = Make(spec, 3);
    Rng rng(1), env(2);
    int late = 0;
    for (int t = 0; t < 6000; ++t) {
      const std::vector<double> m = t < 3000 ? std::vector<double>{0.8, 0.2, 0.5} : std::vector<double>{0.2, 0.8, 0.5};
      const uint32_t a = p->Choose({}, rng, {});
      if (t >= 3500) late += a == 1;
      p->Update(a, {}, env.Uniform() < m[a] ? 1 : 0);
    }
    return late / 2500.0;
  };
  const double plain = run("ts"), discounted = run("ts:discount=0.99"), windowed = run("ts:window=200");
  EXPECT_GT(discounted, 0.7);
  EXPECT_GT(windowed, 0.7);
  EXPECT_GT(discounted, plain);
}

TEST(Slates, CascadeAndPbmFindTheMostAttractiveArms) {
  const std::vector<double> attraction = {0.05, 0.3, 0.1, 0.25, 0.02, 0.2, 0.08, 0.04};
  for (const std::string spec : {"slate:model=cascade,slots=3", "slate:model=cascade,slots=3,base=ucb",
                                 "slate:model=pbm,slots=3,kappa=1;0.6;0.3"}) {
    auto s = MakeSlatePolicy(spec, 8);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    Rng rng(1), env(2);
    std::vector<uint32_t> slate(3);
    std::vector<double> clicks(3);
    const bool pbm = spec.find("pbm") != std::string::npos;
    const std::vector<double> kappa = {1, 0.6, 0.3};
    std::map<uint32_t, int> late;
    for (int t = 0; t < 6000; ++t) {
      (*s)->Choose({}, rng, slate, {});
      std::fill(clicks.begin(), clicks.end(), 0.0);
      for (size_t k = 0; k < 3; ++k) {
        const double p = attraction[slate[k]] * (pbm ? kappa[k] : 1.0);
        if (env.Uniform() < p) {
          clicks[k] = 1;
          if (!pbm) break;  // cascade: the user stops at the first click
        }
      }
      (*s)->Update(slate, {}, clicks);
      if (t >= 5000)
        for (uint32_t a : slate) ++late[a];
    }
    // The three most attractive arms: 1, 3, 5.
    EXPECT_GT(late[1] + late[3] + late[5], 0.85 * 3000) << spec;
    // Slots hold distinct arms.
    std::set<uint32_t> distinct(slate.begin(), slate.end());
    EXPECT_EQ(distinct.size(), 3u);
  }
}

TEST(Slates, MarginalsArePerSlotDistributions) {
  auto s = MakeSlatePolicy("slate:model=cascade,slots=2,draws=500", 4);
  ASSERT_TRUE(s.ok());
  std::vector<uint32_t> slate(2);
  (*s)->Update(std::vector<uint32_t>{0, 1}, {}, std::vector<double>{0, 1});
  std::vector<double> m(2 * 4);
  Rng rng(3);
  (*s)->Choose({}, rng, slate, m);
  for (int k = 0; k < 2; ++k) {
    double sum = 0;
    for (int a = 0; a < 4; ++a) sum += m[k * 4 + a];
    EXPECT_NEAR(sum, 1, 1e-9);
    EXPECT_GT(m[k * 4 + slate[k]], 0);
  }
  for (int a = 0; a < 4; ++a) EXPECT_LE(m[a] + m[4 + a], 1 + 1e-9);  // an arm fills at most one slot
  // State round trip.
  auto t = MakeSlatePolicy("slate:model=cascade,slots=2,draws=500", 4);
  ASSERT_TRUE((*t)->LoadState((*s)->SaveState()).ok());
  EXPECT_EQ((*t)->SaveState(), (*s)->SaveState());
}

TEST(Specs, BadSpecsAreClearErrors) {
  auto expect_error = [](const std::string& spec, uint32_t dim, const std::string& needle) {
    auto p = MakePolicy(spec, 4, dim);
    ASSERT_FALSE(p.ok()) << spec;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(p.status().message().find(needle), std::string::npos) << spec << ": " << p.status().message();
  };
  expect_error("thompson", 0, "unknown policy");
  expect_error("ts:alpha=2", 0, "unknown key 'alpha'");
  expect_error("ts:a=x", 0, "not a number");
  expect_error("ts:a=-1", 0, "must be > 0");
  expect_error("ts:discount=0.9,window=10", 0, "exclusive");
  expect_error("ts:discount=1.5", 0, "discount");
  expect_error("linucb", 0, "dimension");
  expect_error("egreedy:eps=2", 0, "eps");
  EXPECT_FALSE(MakePolicy("hlinucb", 4, 3, 0).ok());
  EXPECT_FALSE(MakePolicy("ts", 0).ok());
  EXPECT_FALSE(MakeSlatePolicy("slate:model=pbm,slots=2", 4).ok());                // kappa missing
  EXPECT_FALSE(MakeSlatePolicy("slate:model=pbm,slots=2,kappa=0.5;0.9", 4).ok());  // increasing
  EXPECT_FALSE(MakeSlatePolicy("slate:slots=5", 4).ok());                          // more slots than arms
  EXPECT_FALSE(MakeSlatePolicy("ts", 4).ok());
  // Describe() rebuilds the same policy.
  for (const std::string spec :
       {"ts", "ucb1:c=1", "egreedy:eps=0.2,decay=0.01", "gts:sigma=2,window=100", "lints:v=0.2,discount=0.999"}) {
    auto p = Make(spec, 4, 3);
    auto q = Make(p->Describe(), 4, 3);
    EXPECT_EQ(q->Describe(), p->Describe());
  }
}

// ---- simulators ----------------------------------------------------------------------

TEST(Simulate, LaiRobbinsConstantByHand) {
  // One arm at 0.4 below a best of 0.5: gap 0.1 over
  // KL(0.4 || 0.5) = 0.4 ln 0.8 + 0.6 ln 1.2.
  const double kl = 0.4 * std::log(0.8) + 0.6 * std::log(1.2);
  EXPECT_NEAR(LaiRobbinsConstant({0.5, 0.4}), 0.1 / kl, 1e-12);
  EXPECT_NEAR(LaiRobbinsConstant({0.5, 0.4, 0.4, 0.5}), 0.2 / kl, 1e-12);  // ties with the best cost nothing
}

TEST(Simulate, ThompsonSamplingIsNearTheLowerBound) {
  SimOptions o;
  o.arms = 10;
  o.rounds = 100000;
  o.seeds = 4;
  auto ts = Simulate(o, "ts");
  ASSERT_TRUE(ts.ok()) << ts.status().ToString();
  EXPECT_NEAR(ts->lower_bound, 9 * LaiRobbinsConstant({0.5, 0.4}) * std::log(1e5), 1e-6);
  EXPECT_LT(ts->regret, 1.5 * ts->lower_bound);
  EXPECT_GT(ts->regret, 0);
  auto eg = Simulate(o, "egreedy:eps=0.1");
  ASSERT_TRUE(eg.ok());
  EXPECT_GT(eg->regret, 2 * ts->regret);  // 10% uniform exploration costs ~0.09 per round
  ASSERT_EQ(ts->curve_t.size(), 100u);
  EXPECT_EQ(ts->curve_t.back(), o.rounds);
  EXPECT_DOUBLE_EQ(ts->curve_regret.back(), ts->regret);
  for (size_t p = 1; p < ts->curve_regret.size(); ++p) EXPECT_GE(ts->curve_regret[p], ts->curve_regret[p - 1]);
  // Same options, same numbers.
  EXPECT_EQ(Simulate(o, "ts")->regret, ts->regret);
}

TEST(Simulate, ContextualPoliciesBeatContextFreeOnesWhenContextMatters) {
  for (const std::string env : {"linear", "logistic"}) {
    SimOptions o;
    o.env = env;
    o.arms = 5;
    o.dim = 6;
    o.rounds = 5000;
    o.seeds = 3;
    const std::string flat = env == "linear" ? "gts:sigma=0.5" : "ts";
    auto base = Simulate(o, flat), lin = Simulate(o, "linucb:alpha=0.5"), lts = Simulate(o, "lints:v=0.2");
    ASSERT_TRUE(base.ok() && lin.ok() && lts.ok());
    EXPECT_LT(lin->regret, 0.5 * base->regret) << env;
    EXPECT_LT(lts->regret, 0.5 * base->regret) << env;
    EXPECT_LT(lin->lower_bound, 0);  // no Lai-Robbins bound for contextual environments
  }
  const std::string html = RegretChartHtml({*Simulate(SimOptions{}, "ts")}, "t");
  EXPECT_NE(html.find("<polyline"), std::string::npos);
  EXPECT_NE(html.find("Lai-Robbins"), std::string::npos);
}

TEST(Simulate, BadOptionsAreErrors) {
  SimOptions o;
  o.env = "chess";
  EXPECT_EQ(Simulate(o, "ts").status().code(), StatusCode::kInvalidArgument);
  o.env = "bernoulli";
  o.means = {0.2, 1.5};
  EXPECT_FALSE(Simulate(o, "ts").ok());
  o.means = {};
  o.arms = 1;
  EXPECT_FALSE(Simulate(o, "ts").ok());
  o.arms = 3;
  EXPECT_FALSE(Simulate(o, "nope").ok());
}

}  // namespace
}  // namespace souk::bandit
