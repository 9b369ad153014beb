// Bandits: exploration policies, off-policy evaluation and simulators.
//
// Policies choose an arm (or a slate of arms) for a decision and learn from
// the reward. Exploration math is pure: every random draw comes from the
// caller's seeded Rng, and Choose writes the probability of each arm under
// the policy's randomisation into a caller-owned buffer, so replaying a log
// with the same seed gives the same choices and propensities as serving did.
//
// Arms are dense ids 0..arms-1. Contexts are dense float feature vectors of
// the dimension the policy was made for (empty for non-contextual policies).
//
// Thread-safety: a Policy is not thread-safe; Choose is const and may run
// concurrently with other Choose calls, but not with Update (campaigns hold
// a lock). Rng is not thread-safe: one per thread or per decision.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace souk::bandit {

namespace internal {
// Marsaglia & Tsang's (2000) ziggurat tables for the normal, 128 strips
// (built once in rng.cc).
struct Ziggurat {
  uint32_t kn[128];
  double wn[128], fn[128];
  Ziggurat();
};
extern const Ziggurat kZiggurat;
}  // namespace internal

// xoshiro256** seeded through splitmix64: fast, small state, and the same
// sequence on every platform (no std:: distributions, whose output differs
// between standard libraries). The hot paths (Next, Uniform, the common
// case of Normal and Gamma) are inline: Thompson sampling draws two gammas
// per arm per decision.
class Rng {
 public:
  explicit Rng(uint64_t seed = 1);
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }  // [0, 1)
  uint64_t Below(uint64_t n);                                                 // [0, n), n > 0
  // N(0, 1), ziggurat (Marsaglia & Tsang 2000).
  double Normal() { return NormalFrom(static_cast<uint32_t>(Next() >> 32)); }
  double Gamma(double shape);  // shape > 0, scale 1 (Marsaglia-Tsang)
  double Beta(double a, double b);
  // Marsaglia-Tsang's constants for one shape, computed once, for callers
  // that draw the same shape many times (Thompson sampling: an arm's
  // posterior changes only when it is rewarded). Same draws as Gamma(shape).
  struct GammaShape {
    double shape = 1, d = 2.0 / 3, c = 0;
    GammaShape() = default;
    explicit GammaShape(double s);
  };
  double Gamma(const GammaShape& g) {
    // The normal from the upper half of one output, the acceptance uniform
    // from its lower half (32 bits are plenty for the squeeze test); the
    // squeeze accepts ~98% of tries without a logarithm.
    if (g.shape >= 1) {
      const uint64_t bits = Next();
      const double x = NormalFrom(static_cast<uint32_t>(bits >> 32));
      double v = 1 + g.c * x;
      if (v > 0) {
        v = v * v * v;
        const double u = (static_cast<double>(static_cast<uint32_t>(bits)) + 0.5) * 0x1.0p-32;
        const double x2 = x * x;
        if (u < 1 - 0.0331 * x2 * x2) return g.d * v;
        return GammaLogTest(g, x2, v, u);  // the same try's exact test
      }
    }
    return GammaLoop(g);
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  // Ziggurat with the first try from `first`: the rectangle (most draws)
  // inline, wedges and tail in NormalSlow.
  double NormalFrom(uint32_t first) {
    const auto& z = internal::kZiggurat;
    const int32_t hz = static_cast<int32_t>(first);
    const uint32_t iz = first & 127;
    const uint32_t mag = hz < 0 ? static_cast<uint32_t>(-static_cast<int64_t>(hz)) : first;
    if (mag < z.kn[iz]) return hz * z.wn[iz];
    return NormalSlow(first);
  }
  double NormalSlow(uint32_t first);
  double GammaLogTest(const GammaShape& g, double x2, double v, double u);  // accept, or GammaLoop
  double GammaLoop(const GammaShape& g);  // fresh tries until one is accepted (and shape < 1)
  uint64_t s_[4];
};

// ---- Policies ---------------------------------------------------------------------

// What one decision sees. `x` is the shared context (size = the policy's
// dim), `arm_x` optional per-arm features for hybrid LinUCB (arms x arm_dim,
// row-major). Spans point at caller memory for the duration of the call.
struct Context {
  std::span<const float> x;
  std::span<const float> arm_x;
};

// Options every policy accepts (keys of the spec string).
//  - discount (1 = stationary): before each update, every statistic is
//    multiplied by it (Beta counts shrink towards the prior, linear A and b
//    towards 0), so old rewards fade with half-life ln 0.5 / ln discount.
//  - window (0 = off): only the last `window` rewards count; the oldest is
//    removed (a downdate) when a new one arrives.
// A spec is "name" or "name:key=value,key=value", e.g. "ts", "ucb1:c=2",
// "linucb:alpha=1,reg=1", "egreedy:eps=0.1,decay=0.001", "ts:discount=0.999".
//
// Names and keys:
//   egreedy   eps (0.1), decay (0): eps_t = eps / (1 + decay * t)
//   ucb1      c (2): mean + sqrt(c * ln t / n) (Auer et al. 2002, c = 2)
//   ts        a (1), b (1): Bernoulli Thompson sampling, Beta(a, b) priors
//   gts       sigma (1), prior_mean (0), prior_sd (1): Gaussian Thompson sampling,
//             known noise sigma, normal prior per arm
//   linucb    alpha (1), reg (1): disjoint LinUCB (Li et al. 2010, Alg. 1)
//   hlinucb   alpha (1), reg (1): hybrid LinUCB (Alg. 2), shared part from Context::arm_x
//   lints     v (0.5), reg (1): linear Thompson sampling (Agrawal & Goyal 2013), disjoint
// plus discount, window, draws (propensity draws for sampling policies, 1000).
// discount and window are exclusive; hlinucb takes neither. Slates: see
// MakeSlatePolicy.
struct PolicyOptions {
  std::string name;
  uint32_t arms = 0;
  uint32_t dim = 0;      // shared context dimension (linear policies)
  uint32_t arm_dim = 0;  // per-arm feature dimension (hybrid LinUCB)
  double discount = 1;
  uint32_t window = 0;
  uint32_t draws = 1000;  // Monte Carlo draws for the propensities of sampling policies
  std::vector<std::pair<std::string, std::string>> params;  // the name's own keys, as given
};

// Parses a spec; arms/dim/arm_dim come from the caller (campaign or simulator).
Result<PolicyOptions> ParsePolicySpec(std::string_view spec, uint32_t arms, uint32_t dim = 0, uint32_t arm_dim = 0);

class Policy {
 public:
  virtual ~Policy() = default;
  // The spec string that rebuilds this policy (with every default spelled out).
  virtual std::string Describe() const = 0;
  uint32_t arms() const { return arms_; }

  // Chooses one arm. When `probs` is not empty (size arms()), it receives
  // the probability that this call chooses each arm: exact for
  // deterministic and epsilon policies (ties split evenly), estimated from
  // `draws` extra posterior draws from `rng` for Thompson policies (the
  // chosen arm's estimate is at least 1 / (draws + 1), never 0).
  virtual uint32_t Choose(const Context& ctx, Rng& rng, std::span<double> probs) const = 0;
  // Learns from the reward of `arm` chosen in `ctx`. O(d^2) for linear policies.
  virtual void Update(uint32_t arm, const Context& ctx, double reward) = 0;
  // The policy's current estimate of each arm's expected reward in ctx
  // (posterior mean; for linear policies theta_a . x) and, when `width` is
  // not empty, its uncertainty: the posterior standard deviation (ts, gts),
  // sqrt(x^T A_a^-1 x) (linucb, lints, hlinucb: the UCB width before alpha),
  // 1 / sqrt(n) for egreedy and ucb1 (infinite for an arm never pulled).
  virtual void Estimates(const Context& ctx, std::span<double> mean, std::span<double> width) const = 0;
  // Number of updates learnt from (after discount/window, the raw count).
  virtual uint64_t updates() const = 0;

  // State as bytes (versioned); Load rejects state of another spec or shape
  // with Corruption.
  virtual std::string SaveState() const = 0;
  virtual Status LoadState(std::string_view bytes) = 0;

 protected:
  uint32_t arms_ = 0;
};

Result<std::unique_ptr<Policy>> MakePolicy(const PolicyOptions& options);
Result<std::unique_ptr<Policy>> MakePolicy(std::string_view spec, uint32_t arms, uint32_t dim = 0,
                                           uint32_t arm_dim = 0);

// A slate policy fills `slots` positions with distinct arms and learns from
// the click (reward in [0, 1]) at each position, under a click model:
//  - cascade (Craswell et al. 2008; CascadeTS / CascadeUCB, Kveton et al.
//    2015): the user scans top-down and clicks the first attractive arm;
//    arms above the first click are negatives, the clicked one a positive,
//    arms below it are unobserved (no click at all: every arm a negative).
//  - pbm (position-based model): an arm at position k is examined with
//    known probability kappa_k and clicked with its attraction; each shown
//    arm counts kappa_k trials and its click.
// Attractions are Beta-Bernoulli: Thompson draws (base=ts) or UCB1 bonuses
// (base=ucb); the slate is the top `slots` arms by draw or bound, best
// first (for pbm, kappa must be non-increasing).
// Spec: "slate:model=cascade|pbm,slots=3,base=ts|ucb,a=1,b=1,kappa=1;0.6;0.4"
// (kappa only for pbm, one per slot, ';'-separated), plus discount / window
// / draws as for Policy.
class SlatePolicy {
 public:
  virtual ~SlatePolicy() = default;
  virtual std::string Describe() const = 0;
  uint32_t arms() const { return arms_; }
  uint32_t slots() const { return slots_; }
  // slate: slots() entries, top-down. marginals (empty, or slots() x arms()
  // row-major): the probability that this call puts each arm at each slot
  // (exact for ucb; for ts estimated from `draws` extra draws, as Policy).
  virtual void Choose(const Context& ctx, Rng& rng, std::span<uint32_t> slate, std::span<double> marginals) const = 0;
  // rewards: one per slot of `slate` (1 = clicked).
  virtual void Update(std::span<const uint32_t> slate, const Context& ctx, std::span<const double> rewards) = 0;
  virtual void Estimates(std::span<double> out) const = 0;  // posterior mean attraction per arm
  virtual std::string SaveState() const = 0;
  virtual Status LoadState(std::string_view bytes) = 0;

 protected:
  uint32_t arms_ = 0, slots_ = 0;
};

Result<std::unique_ptr<SlatePolicy>> MakeSlatePolicy(std::string_view spec, uint32_t arms);

// ---- Off-policy evaluation --------------------------------------------------------
// (src/bandit/ope.cc)
//
// Estimates the value (mean reward per round) that a target policy would have
// had, from a log of rounds chosen by another (logging) policy whose
// propensities are in the log. Everything is deterministic given the seed.

// A decision log as flat arrays, one entry per rewarded round in log order.
// Arms are 0..arms-1, positions 0..positions-1 (slots of a slate; 1 when the
// log has none).
struct OpeLog {
  uint32_t arms = 0;
  uint32_t positions = 1;
  uint32_t dim = 0;       // context features per round
  uint32_t item_dim = 0;  // static features per arm
  std::vector<uint32_t> arm, position;
  std::vector<double> reward;
  std::vector<double> propensity;  // logging policy's probability of `arm` (at `position`), in (0, 1]
  std::vector<float> x;            // rounds x dim, row-major
  // Optional (empty or rounds x arms): one feature of each arm in each round,
  // e.g. OBD's user-item affinity; the reward model uses the chosen arm's.
  std::vector<float> arm_x;
  std::vector<float> item_x;   // optional (empty or arms x item_dim): e.g. OBD's item_context.csv
  std::vector<uint64_t> line;  // source line (1-based) of each round
  std::vector<uint64_t> row;   // index (0-based) of each round among the decisions read (rewarded or not)
  uint64_t rows = 0;           // decisions read, rewarded or not
  uint64_t skipped = 0;        // decisions without a reward yet (souk format), not in the arrays
  std::string campaign;        // souk format: the campaign's name

  size_t rounds() const { return arm.size(); }
};

// souk's own decision log: JSONL, one decision a line,
//   {"decision":"ID","campaign":"NAME","arm":INT,"arms":K,"position":0,"propensity":P,"reward":R,"x":[floats]}
// arm, arms and propensity are required; position defaults to 0 and x to [];
// a missing or null reward means no reward yet (the line is counted in
// `skipped`). Every line must have the same arms, x length and campaign.
Result<OpeLog> ReadSoukLog(const std::string& path);

// Open Bandit Dataset CSV (a header row; columns item_id, position (1-based),
// click, propensity_score are required, timestamp and the unnamed index are
// ignored). user_feature_* columns (hashed categories) are one-hot encoded
// (vocabulary in order of first appearance), user-item_affinity_* are numeric
// context features and, when there is one per arm, also `arm_x`.
// `item_context` ("" = none): item_context.csv, whose numeric columns are
// item features as they are and whose other columns are one-hot encoded.
Result<OpeLog> ReadObdLog(const std::string& path, const std::string& item_context = "");

// A target policy as per-round distributions over the log's arms (rounds x
// arms, row-major), the same at every position. Specs:
//   uniform   1/arms for every arm (OBP's random policy)
//   arm:N     always arm N
//   file:PATH JSONL, one array of `arms` probabilities a line, in log order:
//             one line per rewarded round, or one per decision read (`rows`;
//             those of decisions without a reward are then passed over); each
//             array must be in [0, 1] and sum to 1 (within 1e-6).
Result<std::vector<double>> TargetPolicy(const OpeLog& log, std::string_view spec);

// The estimators, in report order.
inline constexpr const char* kOpeEstimators[] = {"ips", "snips", "dm", "dr", "switch-dr"};

struct OpeOptions {
  double clip = 0;  // importance weights above this are clipped to it (0 = no clipping)
  double tau = 10;  // switch-DR: the DR correction only where the (unclipped) weight <= tau
  // Reward model for dm/dr/switch-dr: "ridge" (closed form), "logistic"
  // (Newton with L2; rewards must be in [0, 1]) or "auto" (logistic when every
  // reward is in [0, 1], else ridge).
  std::string reward_model = "auto";
  double lambda = 1;  // L2 penalty (all weights but the intercept)
  // Features of (round, arm, position): "arm" = intercept, one-hot arm and
  // position, the context x, the arm's arm_x and item_x; "cross" adds
  // x (x) one-hot(arm); "auto" = cross when dim * arms <= 512, else arm.
  std::string features = "auto";
  uint32_t folds = 3;         // cross-fitting: each round is predicted by a model fit on the other folds (1 = none)
  uint32_t bootstrap = 1000;  // percentile-bootstrap resamples of the rounds (0 = no intervals)
  // EvaluateOpe: refit the reward model on every resample (B fits: slow, but
  // the DM's interval then includes the model's own uncertainty); otherwise
  // the per-round terms of one fit are resampled.
  bool refit = false;
  double confidence = 0.95;
  uint64_t seed = 1;  // folds and bootstrap draws
};

struct OpeEstimate {
  std::string name;
  double value = 0;
  double lo = 0, hi = 0;  // bootstrap interval (lo = hi = value without bootstrap)
};

struct OpeReport {
  size_t n = 0;                        // rounds evaluated
  double logged_value = 0;             // the log's own mean reward
  double max_weight = 0;               // largest importance weight before clipping
  double ess = 0;                      // effective sample size (sum w)^2 / sum w^2, after clipping
  size_t clipped = 0;                  // rounds whose weight was clipped
  size_t switched = 0;                 // rounds where switch-DR used the DM alone (weight > tau)
  std::string reward_model;            // what was fit, e.g. "logistic:lambda=1,features=arm,dim=120,folds=3"
  std::vector<OpeEstimate> estimates;  // in kOpeEstimators order
  const OpeEstimate* Find(std::string_view name) const;
};

// Fits the reward model and returns q(i, a), the predicted reward of each arm
// in each round at the round's logged position (rounds x arms), cross-fitted.
// `describe` (optional) receives the model's spec.
Result<std::vector<double>> FitRewardModel(const OpeLog& log, const OpeOptions& options,
                                           std::string* describe = nullptr);

// The estimators from a given reward model q (rounds x arms). With w_i =
// min(pi(a_i|i) / p_i, clip), q_i = q(i, a_i) and dm_i = sum_a pi(a|i) q(i, a):
//   ips = mean(w_i r_i)            snips = sum(w_i r_i) / sum(w_i)
//   dm  = mean(dm_i)               dr = mean(dm_i + w_i (r_i - q_i))
//   switch-dr = mean(dm_i + [pi(a_i|i) / p_i <= tau] w_i (r_i - q_i))
// Intervals resample the rounds (the reward model is not refit).
Result<OpeReport> EstimateOpe(const OpeLog& log, std::span<const double> target, std::span<const double> q,
                              const OpeOptions& options);

// FitRewardModel, then EstimateOpe; with options.refit, the intervals come
// from resamples that each refit the reward model.
Result<OpeReport> EvaluateOpe(const OpeLog& log, std::span<const double> target, const OpeOptions& options);

// A synthetic log with a known true target value. Contexts x = (1, z) with
// z ~ N(0, I_{dim-1}); rewards ~ Bernoulli(sigmoid(theta_a . x)) with true
// theta_a ~ N(0, I / dim) (intercepts around -1). The logging policy is a
// softmax of noisy true scores, (theta_a . x + noise * N(0, 1)) / temperature,
// whose exact probabilities are logged; the target policy is epsilon-greedy on
// the true scores. true_value = mean over the drawn contexts of
// sum_a pi(a|x) sigmoid(theta_a . x).
struct SyntheticOpeOptions {
  uint64_t rounds = 10000;
  uint32_t arms = 5;
  uint32_t dim = 5;
  double scale = 3;       // spread of the true scores (x's weights ~ N(0, scale^2 / dim))
  double intercept = -1;  // mean of the arms' intercepts
  double noise = 1;
  double temperature = 1;
  double epsilon = 0.1;
  uint64_t seed = 1;
};
struct SyntheticOpe {
  OpeLog log;
  std::vector<double> target;  // rounds x arms
  double true_value = 0;       // the target policy's value on these contexts
  double logging_value = 0;    // the logging policy's, likewise
};
Result<SyntheticOpe> MakeSyntheticOpe(const SyntheticOpeOptions& options);

// ---- Simulators -------------------------------------------------------------------
// (src/bandit/sim.cc)
//
// Environments:
//  - bernoulli: K arms with fixed click probabilities: `means` if given,
//    else the best arm `best` and the others best - gap (Chapelle & Li
//    2011's setting), or, with gap < 0, means drawn uniformly from [0, 1].
//  - linear: context x: d - 1 coordinates N(0, 1/(d-1)) and a constant 0.5
//    (intercept), reward theta_a . x + N(0, noise^2), theta_a ~ N(0, I) per
//    seed.
//  - logistic: reward ~ Bernoulli(sigmoid(bias + theta_a . x)), theta_a ~
//    N(0, I), so the best arm depends on the context but rewards are clicks.
//  - shop: an EpisodicEnv (the session simulator built from a generated
//    shop, ShopSim below) seen as a contextual bandit: the context is the
//    one-hot of the simulated user's state, an arm is the category shown,
//    the reward the step's click and purchases scaled to [0, 1]; the user
//    moves on as the simulator says, a new session starts when one ends.
//    Regret is against the best immediate expected reward in each state.
// Regret is the expected (pseudo-)regret: sum over rounds of the best arm's
// expected reward in that round's context minus the chosen arm's.
struct SimOptions {
  std::string env = "bernoulli";
  uint32_t arms = 10;
  uint64_t rounds = 100000;
  uint32_t dim = 10;   // linear, logistic
  double noise = 0.1;  // linear
  double bias = -1.5;  // logistic: a base click rate of about 18%
  double best = 0.5, gap = 0.1;
  std::vector<double> means;  // bernoulli: explicit means (then arms = means.size())
  uint32_t seeds = 5;
  uint64_t seed = 1;
  uint32_t points = 100;  // regret-curve points per run
  uint32_t threads = 0;   // seeds run in parallel; 0 = hardware threads
  // shop: the environment (each seed runs its own Clone) and its expected
  // immediate reward of showing arm a in state s, in [0, 1].
  std::shared_ptr<const class EpisodicEnv> episodic;
  std::function<double(uint32_t s, uint32_t a)> expected;
};

struct SimResult {
  std::string policy;  // Describe() of the policy that ran
  std::string env;
  uint32_t arms = 0;
  uint64_t rounds = 0;
  uint32_t seeds = 0;
  double regret = 0;                 // mean over seeds of the final cumulative regret
  double regret_se = 0;              // its standard error
  double reward = 0;                 // mean reward per round
  double best_share = 0;             // share of rounds on the round's best arm
  double lower_bound = -1;           // bernoulli: Lai-Robbins sum_a gap_a / KL(mu_a, mu*) * ln T; else < 0
  double seconds = 0;                // wall time of all seeds
  std::vector<uint64_t> curve_t;     // rounds at the curve points
  std::vector<double> curve_regret;  // mean cumulative regret there
};

// The Lai-Robbins constant sum_a (mu* - mu_a) / KL(mu_a || mu*) of
// Bernoulli arms (multiply by ln T).
double LaiRobbinsConstant(const std::vector<double>& means);
// The default policies compared on an environment.
std::vector<std::string> DefaultSimPolicies(const std::string& env);
Result<SimResult> Simulate(const SimOptions& options, std::string_view policy_spec);
// An HTML page with one SVG chart of the regret curves (and the bound).
std::string RegretChartHtml(const std::vector<SimResult>& results, const std::string& title);

// ---- Q-learning and the shop session simulator ------------------------------------
// (src/bandit/qlearn.cc: environments, agents, training; src/bandit/shop_sim.cc:
// the simulator built from a generated shop. docs/bandit.md, "Q-learning".)
//
// Multi-step recommendation as an episodic MDP: a state is what the user
// looked at recently, an action is the category whose item list is shown,
// the reward is a click plus a weight per purchase, an episode is a session.
// Agents learn Q(s, a) with the rule Q(s,a) <- Q(s,a) + alpha [r + gamma Q(s',a') - Q(s,a)]
// (a' = the next chosen action: SARSA; a' = argmax: Q-learning), tabular or
// linear in features of (state, action). Every random draw (exploration,
// the simulated user) comes from the caller's Rng.

// An episodic environment with dense states 0..states()-1 and actions
// 0..actions()-1. Reset and Step keep the current episode in the object:
// not thread-safe, one per thread.
struct EnvStep {
  uint32_t next = 0;  // the state after the action (meaningless when done)
  double reward = 0;
  bool done = false;
};

class EpisodicEnv {
 public:
  virtual ~EpisodicEnv() = default;
  virtual uint32_t states() const = 0;
  virtual uint32_t actions() const = 0;
  // Starts an episode; returns its first state.
  virtual uint32_t Reset(Rng& rng) = 0;
  virtual EnvStep Step(uint32_t action, Rng& rng) = 0;
  // A copy in the state of a fresh episode.
  virtual std::unique_ptr<EpisodicEnv> Clone() const = 0;
  // Binary features of a state for linear agents: indices of the active
  // features, each < state_features(). Default: the one-hot of the state.
  virtual uint32_t state_features() const { return states(); }
  virtual void StateFeatures(uint32_t state, std::vector<uint32_t>* active) const { active->assign(1, state); }
  // The largest reward of one step (scales rewards to [0, 1] for Beta
  // Thompson sampling) and the action a popularity baseline always shows.
  virtual double max_reward() const { return 1; }
  virtual uint32_t popular_action() const { return 0; }
};

// How the shop simulator is estimated (defaults in brackets).
struct ShopSimOptions {
  int level = 2;                     // [2] category level acted on: 1 = top, 2 = top > mid
  int history = 1;                   // [1] the state is the last `history` categories viewed (1 or 2)
  double prior = 20;                 // [20] pseudo-count of every smoothing prior
  double purchase_weight = 5;        // [5] reward = click + purchase_weight * purchase
  bool click_to_continue = false;    // [off] the session ends whenever the shown list is not clicked
  uint32_t max_steps = 40;           // [40] an episode stops after this many steps
  uint32_t max_session_events = 40;  // [40] longer sessions (bots) are not learnt from
  // [off] a purchase is worth purchase_weight * (mean price paid for the
  // category's purchases / mean price paid over all purchases), smoothed
  // with `prior` purchases at the overall mean: reward follows revenue.
  bool revenue = false;
  // [1] interest I(s,a) = (T(a|s) / max_b T(b|s))^interest_power: 1 takes the
  // logged browsing as it is (users rarely leave their category, so the shown
  // list can hardly steer them); below 1 users are more open to suggestions.
  double interest_power = 1;
  // [off] purchases are paid at checkout: a session's purchase rewards are
  // added to the reward of its last step instead of the step of the click,
  // so a learner of immediate rewards sees clicks only (the logs carry no
  // such delay: this is an explicit assumption, docs/bandit.md).
  bool checkout = false;
};

// One logged session reduced to its views in order, at the chosen level.
struct SessionViews {
  std::vector<uint32_t> category;  // category id of each view
  std::vector<uint8_t> clicked;    // the view was followed by a click on its item
  std::vector<uint8_t> purchased;  // ... and by a purchase of it
  std::vector<double> paid;        // price paid when purchased (may be empty: no prices)
};

// The simulated user, given state s (recent categories) and shown category a:
//   interest  I(s,a) = (T(a|s) / max_b T(b|s))^interest_power, T = next-view category distribution
//   click     with p = CTR(s,a) * I(s,a), CTR = click rate of views of a after s
//   purchase  if clicked, with p = BUY(s,a), purchases per click of a after s; worth
//             purchase_weight (times the category's price ratio with `revenue`)
//   next      clicked: s + a; not clicked: s + w with w ~ T(.|s) (the user browses on)
//   checkout  (option) purchase rewards are held and paid with the last step
//   end       with p = END(s', clicked), the share of views leading to s' with that
//             click flag that were the session's last; always when
//             click_to_continue and not clicked; always after max_steps.
// Every rate is smoothed towards its global (per category) value with
// `prior` pseudo-counts, so unseen pairs are sane.
class ShopSim final : public EpisodicEnv {
 public:
  // Reads DIR/items.csv and DIR/events.csv (DIR = a shop's `generated`
  // directory). NotFound / IoError / Corruption / InvalidArgument.
  static Result<ShopSim> FromShop(const std::string& generated_dir, const ShopSimOptions& options);
  // From sessions already reduced (categories = names of the ids).
  static Result<ShopSim> FromSessions(std::vector<std::string> categories, const std::vector<SessionViews>& sessions,
                                      const ShopSimOptions& options);

  uint32_t states() const override { return states_; }
  uint32_t actions() const override { return static_cast<uint32_t>(categories_.size()); }
  uint32_t Reset(Rng& rng) override;
  EnvStep Step(uint32_t action, Rng& rng) override;
  std::unique_ptr<EpisodicEnv> Clone() const override { return std::make_unique<ShopSim>(*this); }
  uint32_t state_features() const override;
  void StateFeatures(uint32_t state, std::vector<uint32_t>* active) const override;
  double max_reward() const override;
  uint32_t popular_action() const override { return popular_; }

  // The model itself (s a state, a an action / category id).
  const std::vector<std::string>& categories() const { return categories_; }
  const ShopSimOptions& options() const { return options_; }
  uint32_t start_state() const { return 0; }
  double ClickProb(uint32_t s, uint32_t a) const { return click_[s * actions() + a]; }
  double BuyProb(uint32_t s, uint32_t a) const { return buy_[s * actions() + a]; }    // given a click
  double NextProb(uint32_t s, uint32_t w) const { return next_[s * actions() + w]; }  // T(w|s)
  double EndProb(uint32_t s, bool clicked) const { return end_[s * 2 + clicked]; }
  double PurchaseReward(uint32_t a) const { return options_.purchase_weight * value_[a]; }
  double ExpectedReward(uint32_t s, uint32_t a) const {  // clicks and purchases, whenever paid
    return ClickProb(s, a) * (1 + PurchaseReward(a) * BuyProb(s, a));
  }
  double ImmediateReward(uint32_t s, uint32_t a) const {  // paid at this step (clicks only with checkout)
    return options_.checkout ? ClickProb(s, a) : ExpectedReward(s, a);
  }
  uint32_t Push(uint32_t s, uint32_t category) const;  // the state after viewing `category` in s
  std::string StateName(uint32_t s) const;             // "Books > Fiction" or "start"
  // Sessions and views learnt from; states with at least one logged view.
  uint64_t sessions() const { return sessions_; }
  uint64_t views() const { return views_; }
  uint32_t observed_states() const { return observed_states_; }

  // Exact greedy policies of the model (the step cap ignored): value
  // iteration of the undiscounted return (planning), and the argmax of
  // ImmediateReward (the best myopic policy). A table state -> action.
  std::vector<uint32_t> OptimalPolicy(double gamma = 1, double tolerance = 1e-9) const;
  std::vector<uint32_t> MyopicPolicy() const;

 private:
  ShopSim() = default;
  ShopSimOptions options_;
  std::vector<std::string> categories_;
  uint32_t states_ = 0, popular_ = 0, observed_states_ = 0;
  uint64_t sessions_ = 0, views_ = 0;
  std::vector<double> click_, buy_, next_, end_;
  std::vector<double> value_;     // per category: price ratio with `revenue`, else 1
  std::vector<double> next_cdf_;  // per state, cumulative T(.|s)
  uint32_t state_ = 0, steps_ = 0;
  double pending_ = 0;  // checkout: purchase rewards not paid yet
};

// A learner of a policy over an EpisodicEnv. Agents are made from spec strings
// ("name" or "name:key=value,..."):
//   qlearning  alpha (0.01), gamma (0.95), eps (1), decay (0.0002), eps_min (0.01),
//              visits (1): tabular, a' = argmax_b Q(s',b); with visits = 1 the step of
//              a pair's n-th update is max(alpha, 1/n) (a sample average at first)
//   sarsa      the same keys, a' = the next chosen action (the seed's rule)
//   linq       the same keys: Q(s,a) = w . phi(s,a), phi = each active state feature
//              crossed with a, plus a bias per action; semi-gradient step alpha/|phi|
//   linsarsa   linear, a' = the next chosen action
//   bandit     a (1), b (1): myopic, one MakePolicy("ts:a=..,b=..") per state learning the
//              immediate reward only, scaled to [0,1] by EpisodicEnv::max_reward (a reward r
//              counts as r successes); greedy = the highest posterior mean
//   random     uniform over actions
//   popular    always EpisodicEnv::popular_action()
// Epsilon decays per episode: eps_e = max(eps_min, eps / (1 + decay * e)).
class Agent {
 public:
  virtual ~Agent() = default;
  virtual std::string Describe() const = 0;
  // Chooses an action in `state`; `explore` = false is the greedy policy
  // (ties to the lowest action).
  virtual uint32_t Act(uint32_t state, Rng& rng, bool explore) const = 0;
  // One transition; `next_action` is the action the agent chose in `next`
  // (unused when done). SARSA learns from it, Q-learning from the max.
  virtual void Learn(uint32_t state, uint32_t action, double reward, uint32_t next, uint32_t next_action,
                     bool done) = 0;
  // Called when an episode ends (epsilon decay).
  virtual void EndEpisode() {}
  // The agent's value of each action in `state` (out.size() = actions).
  virtual void Values(uint32_t state, std::span<double> out) const = 0;
};

// `env` must outlive the agent (linear agents read its features).
Result<std::unique_ptr<Agent>> MakeAgent(std::string_view spec, const EpisodicEnv& env);
// A fixed table state -> action (the greedy policies of ShopSim).
std::unique_ptr<Agent> MakeTableAgent(std::vector<uint32_t> table, uint32_t actions, std::string name);

// Runs `episodes` exploring episodes, learning after every step.
void Train(Agent& agent, EpisodicEnv& env, uint64_t episodes, Rng& rng);

struct EvalResult {
  uint64_t episodes = 0;
  double mean_return = 0, se_return = 0;  // se over episodes
  double mean_length = 0, se_length = 0;
};
// Greedy (explore = false) episodes; the agent does not learn.
EvalResult Evaluate(const Agent& agent, EpisodicEnv& env, uint64_t episodes, Rng& rng);

// Trains and evaluates agents over several seeds. Seed k trains every agent
// with Rng(seed + 1000003 k) on a fresh copy of the environment, then runs
// `eval_episodes` greedy episodes with Rng(seed + 7919 + 1000003 k), the same
// stream for every agent (common random numbers).
struct CompareOptions {
  uint64_t episodes = 20000;  // training episodes per agent and seed
  uint64_t eval_episodes = 20000;
  uint32_t seeds = 5;
  uint64_t seed = 1;
};
struct AgentScore {
  std::string spec;                       // as given
  std::vector<double> returns;            // mean greedy return per seed
  std::vector<double> lengths;            // mean episode length per seed
  double mean_return = 0, se_return = 0;  // over seeds (se = sd / sqrt(seeds); 0 for one seed)
  double mean_length = 0, se_length = 0;
  double episode_se = 0;  // pooled se over all evaluation episodes
};
// `env` is copied (EpisodicEnv::Clone) per agent and seed. InvalidArgument for a bad spec.
Result<std::vector<AgentScore>> CompareAgents(const EpisodicEnv& env, const std::vector<std::string>& specs,
                                              const CompareOptions& options);

}  // namespace souk::bandit
