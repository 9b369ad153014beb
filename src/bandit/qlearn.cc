// Multi-step agents over an EpisodicEnv: tabular and linear Q-learning / SARSA with
// decaying epsilon-greedy exploration, and the baselines (a myopic Beta
// Thompson sampler per state, uniform random, popularity). The update is the
// seed's rule Q(s,a) <- Q(s,a) + alpha [r + gamma Q(s',a') - Q(s,a)], with
// Q(s',a') = 0 at the end of an episode.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>

#include "bandit/bandit.h"

namespace souk::bandit {

namespace {

using Params = std::vector<std::pair<std::string, double>>;

Result<std::pair<std::string, Params>> ParseSpec(std::string_view spec) {
  const size_t colon = spec.find(':');
  std::string name(spec.substr(0, colon));
  Params params;
  if (colon != std::string_view::npos) {
    std::string_view rest = spec.substr(colon + 1);
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      std::string_view kv = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      const size_t eq = kv.find('=');
      if (eq == std::string_view::npos)
        return Status::InvalidArgument("agent spec '" + std::string(spec) + "': expected key=value");
      std::string value(kv.substr(eq + 1));
      char* end = nullptr;
      const double v = std::strtod(value.c_str(), &end);
      if (value.empty() || end != value.c_str() + value.size())
        return Status::InvalidArgument("agent spec '" + std::string(spec) + "': bad number '" + value + "'");
      params.emplace_back(std::string(kv.substr(0, eq)), v);
    }
  }
  return std::make_pair(name, params);
}

std::string Num(double v) {
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, p);
}

uint32_t Argmax(std::span<const double> v) {
  uint32_t best = 0;
  for (uint32_t i = 1; i < v.size(); ++i)
    if (v[i] > v[best]) best = i;
  return best;
}

struct Exploration {
  double eps = 1, decay = 0.0002, eps_min = 0.01;
  uint64_t episode = 0;
  double Current() const { return std::max(eps_min, eps / (1 + decay * static_cast<double>(episode))); }
};

// Tabular and linear Q share everything but the value function.
class QAgent : public Agent {
 public:
  QAgent(std::string name, bool linear, bool sarsa, const EpisodicEnv& env, double alpha, double gamma, bool visits,
         Exploration ex)
      : name_(std::move(name)),
        linear_(linear),
        sarsa_(sarsa),
        visits_(visits),
        env_(env),
        actions_(env.actions()),
        alpha_(alpha),
        gamma_(gamma),
        ex_(ex) {
    const size_t rows = linear ? env.state_features() + 1 : env.states();
    w_.assign(rows * actions_, 0);
    if (visits_) n_.assign(size_t{env.states()} * actions_, 0);
  }

  std::string Describe() const override {
    return name_ + ":alpha=" + Num(alpha_) + ",gamma=" + Num(gamma_) + ",visits=" + Num(visits_) +
           ",eps=" + Num(ex_.eps) + ",decay=" + Num(ex_.decay) + ",eps_min=" + Num(ex_.eps_min);
  }

  uint32_t Act(uint32_t state, Rng& rng, bool explore) const override {
    if (explore) {
      // Always two draws, so the stream does not depend on the branch taken.
      const double u = rng.Uniform();
      const uint32_t random = static_cast<uint32_t>(rng.Below(actions_));
      if (u < ex_.Current()) return random;
    }
    std::vector<double> q(actions_);
    Values(state, q);
    return Argmax(q);
  }

  void Values(uint32_t state, std::span<double> out) const override {
    if (!linear_) {
      std::copy_n(&w_[size_t{state} * actions_], actions_, out.begin());
      return;
    }
    std::vector<uint32_t> active;
    env_.StateFeatures(state, &active);
    for (uint32_t a = 0; a < actions_; ++a) out[a] = w_[Bias() + a];
    for (uint32_t f : active)
      for (uint32_t a = 0; a < actions_; ++a) out[a] += w_[size_t{f} * actions_ + a];
  }

  void Learn(uint32_t s, uint32_t a, double r, uint32_t next, uint32_t next_action, bool done) override {
    double target = r;
    if (!done) {
      std::vector<double> q(actions_);
      Values(next, q);
      target += gamma_ * (sarsa_ ? q[next_action] : *std::max_element(q.begin(), q.end()));
    }
    // The step: alpha, or with `visits` the sample-average step 1 / n(s,a)
    // until it falls to alpha.
    double alpha = alpha_;
    if (visits_) alpha = std::max(alpha_, 1.0 / static_cast<double>(++n_[size_t{s} * actions_ + a]));
    if (!linear_) {
      double& w = w_[size_t{s} * actions_ + a];
      w += alpha * (target - w);
      return;
    }
    // Semi-gradient: phi(s,a) is binary, so the gradient is 1 on each active
    // weight; the step is shared among them (alpha / |phi|).
    std::vector<uint32_t> active;
    env_.StateFeatures(s, &active);
    std::vector<double> q(actions_);
    Values(s, q);
    const double step = alpha * (target - q[a]) / static_cast<double>(active.size() + 1);
    w_[Bias() + a] += step;
    for (uint32_t f : active) w_[size_t{f} * actions_ + a] += step;
  }

  void EndEpisode() override { ++ex_.episode; }

 private:
  size_t Bias() const { return size_t{env_.state_features()} * actions_; }

  std::string name_;
  bool linear_, sarsa_, visits_;
  const EpisodicEnv& env_;
  uint32_t actions_;
  double alpha_, gamma_;
  Exploration ex_;
  std::vector<uint64_t> n_;  // updates per (state, action), with visits
  std::vector<double> w_;    // tabular: states x actions; linear: (features + 1 bias row) x actions
};

// Myopic: the module's Bernoulli Thompson sampler (MakePolicy "ts"), one per
// state, over the immediate reward scaled to [0, 1]; a fractional reward r
// counts as r successes in one trial (Beta(a + sum r, b + n - sum r)).
class BanditAgent : public Agent {
 public:
  BanditAgent(std::vector<std::unique_ptr<Policy>> per_state, double scale, double a, double b)
      : per_state_(std::move(per_state)), scale_(scale), a0_(a), b0_(b) {}
  std::string Describe() const override { return "bandit:a=" + Num(a0_) + ",b=" + Num(b0_); }
  uint32_t Act(uint32_t state, Rng& rng, bool explore) const override {
    if (explore) return per_state_[state]->Choose(Context{}, rng, {});
    std::vector<double> v(per_state_[state]->arms());
    per_state_[state]->Estimates(Context{}, v, {});
    return Argmax(v);
  }
  void Learn(uint32_t s, uint32_t a, double r, uint32_t, uint32_t, bool) override {
    per_state_[s]->Update(a, Context{}, std::clamp(r / scale_, 0.0, 1.0));
  }
  void Values(uint32_t state, std::span<double> out) const override {
    per_state_[state]->Estimates(Context{}, out, {});
    for (double& x : out) x *= scale_;
  }

 private:
  std::vector<std::unique_ptr<Policy>> per_state_;
  double scale_, a0_, b0_;
};

class RandomAgent : public Agent {
 public:
  explicit RandomAgent(uint32_t actions) : actions_(actions) {}
  std::string Describe() const override { return "random"; }
  uint32_t Act(uint32_t, Rng& rng, bool) const override { return static_cast<uint32_t>(rng.Below(actions_)); }
  void Learn(uint32_t, uint32_t, double, uint32_t, uint32_t, bool) override {}
  void Values(uint32_t, std::span<double> out) const override { std::fill(out.begin(), out.end(), 0.0); }

 private:
  uint32_t actions_;
};

class TableAgent : public Agent {
 public:
  TableAgent(std::vector<uint32_t> table, uint32_t actions, std::string name)
      : table_(std::move(table)), actions_(actions), name_(std::move(name)) {}
  std::string Describe() const override { return name_; }
  uint32_t Act(uint32_t state, Rng&, bool) const override { return table_[state]; }
  void Learn(uint32_t, uint32_t, double, uint32_t, uint32_t, bool) override {}
  void Values(uint32_t state, std::span<double> out) const override {
    std::fill(out.begin(), out.end(), 0.0);
    out[table_[state]] = 1;
  }

 private:
  std::vector<uint32_t> table_;
  uint32_t actions_;
  std::string name_;
};

double Get(const Params& p, std::string_view key, double fallback) {
  for (const auto& [k, v] : p)
    if (k == key) return v;
  return fallback;
}

Status CheckKeys(std::string_view spec, const Params& p, std::initializer_list<std::string_view> allowed) {
  for (const auto& [k, v] : p)
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end())
      return Status::InvalidArgument("agent spec '" + std::string(spec) + "': unknown key '" + k + "'");
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Agent>> MakeAgent(std::string_view spec, const EpisodicEnv& env) {
  SOUK_ASSIGN_OR_RETURN(auto parsed, ParseSpec(spec));
  const auto& [name, p] = parsed;
  if (env.actions() == 0 || env.states() == 0) return Status::InvalidArgument("environment has no states or actions");
  if (name == "qlearning" || name == "sarsa" || name == "linq" || name == "linsarsa") {
    SOUK_RETURN_IF_ERROR(CheckKeys(spec, p, {"alpha", "gamma", "eps", "decay", "eps_min", "visits"}));
    Exploration ex;
    ex.eps = Get(p, "eps", ex.eps);
    ex.decay = Get(p, "decay", ex.decay);
    ex.eps_min = Get(p, "eps_min", ex.eps_min);
    const double alpha = Get(p, "alpha", 0.01), gamma = Get(p, "gamma", 0.95);
    if (!(alpha > 0 && alpha <= 1) || !(gamma >= 0 && gamma <= 1) || !(ex.eps >= 0 && ex.eps <= 1) || ex.decay < 0 ||
        !(ex.eps_min >= 0 && ex.eps_min <= 1))
      return Status::InvalidArgument("agent spec '" + std::string(spec) +
                                     "': need 0 < alpha <= 1, 0 <= gamma, eps, eps_min <= 1, decay >= 0");
    const bool linear = name == "linq" || name == "linsarsa";
    const bool sarsa = name == "sarsa" || name == "linsarsa";
    const bool visits = Get(p, "visits", 1) != 0;
    return std::unique_ptr<Agent>(new QAgent(name, linear, sarsa, env, alpha, gamma, visits, ex));
  }
  if (name == "bandit") {
    SOUK_RETURN_IF_ERROR(CheckKeys(spec, p, {"a", "b"}));
    const double a = Get(p, "a", 1), b = Get(p, "b", 1);
    if (!(a > 0 && b > 0)) return Status::InvalidArgument("bandit: a and b must be > 0");
    std::vector<std::unique_ptr<Policy>> per_state;
    per_state.reserve(env.states());
    const std::string ts = "ts:a=" + Num(a) + ",b=" + Num(b);
    for (uint32_t st = 0; st < env.states(); ++st) {
      SOUK_ASSIGN_OR_RETURN(auto policy, MakePolicy(ts, env.actions()));
      per_state.push_back(std::move(policy));
    }
    return std::unique_ptr<Agent>(new BanditAgent(std::move(per_state), env.max_reward(), a, b));
  }
  if (name == "random" || name == "popular") {
    SOUK_RETURN_IF_ERROR(CheckKeys(spec, p, {}));
    if (name == "random") return std::unique_ptr<Agent>(new RandomAgent(env.actions()));
    return MakeTableAgent(std::vector<uint32_t>(env.states(), env.popular_action()), env.actions(), "popular");
  }
  return Status::InvalidArgument("unknown agent '" + name +
                                 "' (qlearning, sarsa, linq, linsarsa, bandit, random, popular)");
}

std::unique_ptr<Agent> MakeTableAgent(std::vector<uint32_t> table, uint32_t actions, std::string name) {
  return std::make_unique<TableAgent>(std::move(table), actions, std::move(name));
}

void Train(Agent& agent, EpisodicEnv& env, uint64_t episodes, Rng& rng) {
  for (uint64_t e = 0; e < episodes; ++e) {
    uint32_t s = env.Reset(rng);
    uint32_t a = agent.Act(s, rng, true);
    for (;;) {
      const EnvStep st = env.Step(a, rng);
      const uint32_t next_action = st.done ? 0 : agent.Act(st.next, rng, true);
      agent.Learn(s, a, st.reward, st.next, next_action, st.done);
      if (st.done) break;
      s = st.next;
      a = next_action;
    }
    agent.EndEpisode();
  }
}

EvalResult Evaluate(const Agent& agent, EpisodicEnv& env, uint64_t episodes, Rng& rng) {
  EvalResult r;
  r.episodes = episodes;
  double sum = 0, sum2 = 0, len = 0, len2 = 0;
  for (uint64_t e = 0; e < episodes; ++e) {
    uint32_t s = env.Reset(rng);
    double ret = 0;
    uint64_t steps = 0;
    for (;;) {
      const EnvStep st = env.Step(agent.Act(s, rng, false), rng);
      ret += st.reward;
      ++steps;
      if (st.done) break;
      s = st.next;
    }
    sum += ret, sum2 += ret * ret;
    len += static_cast<double>(steps), len2 += static_cast<double>(steps * steps);
  }
  if (episodes == 0) return r;
  const double n = static_cast<double>(episodes);
  r.mean_return = sum / n;
  r.mean_length = len / n;
  if (episodes > 1) {
    r.se_return = std::sqrt(std::max(0.0, (sum2 - n * r.mean_return * r.mean_return) / (n - 1)) / n);
    r.se_length = std::sqrt(std::max(0.0, (len2 - n * r.mean_length * r.mean_length) / (n - 1)) / n);
  }
  return r;
}

Result<std::vector<AgentScore>> CompareAgents(const EpisodicEnv& env, const std::vector<std::string>& specs,
                                              const CompareOptions& options) {
  if (options.seeds == 0) return Status::InvalidArgument("seeds must be > 0");
  std::vector<AgentScore> scores;
  for (const auto& spec : specs) {
    AgentScore score;
    score.spec = spec;
    double pooled_var = 0;
    for (uint32_t k = 0; k < options.seeds; ++k) {
      auto copy = env.Clone();
      SOUK_ASSIGN_OR_RETURN(auto agent, MakeAgent(spec, *copy));
      Rng train_rng(options.seed + 1000003ull * k);
      Train(*agent, *copy, options.episodes, train_rng);
      Rng eval_rng(options.seed + 7919 + 1000003ull * k);
      const EvalResult r = Evaluate(*agent, *copy, options.eval_episodes, eval_rng);
      score.returns.push_back(r.mean_return);
      score.lengths.push_back(r.mean_length);
      pooled_var += r.se_return * r.se_return;
    }
    auto mean_se = [](const std::vector<double>& v, double* mean, double* se) {
      const double n = static_cast<double>(v.size());
      double s = 0, s2 = 0;
      for (double x : v) s += x;
      *mean = s / n;
      for (double x : v) s2 += (x - *mean) * (x - *mean);
      *se = v.size() > 1 ? std::sqrt(s2 / (n - 1) / n) : 0;
    };
    mean_se(score.returns, &score.mean_return, &score.se_return);
    mean_se(score.lengths, &score.mean_length, &score.se_length);
    score.episode_se = std::sqrt(pooled_var) / options.seeds;
    scores.push_back(std::move(score));
  }
  return scores;
}

}  // namespace souk::bandit
