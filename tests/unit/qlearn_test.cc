// Q-learning / SARSA agents and the shop session simulator (src/bandit/qlearn.cc,
// src/bandit/shop_sim.cc).
#include <cmath>

#include "bandit/bandit.h"
#include "test_util.h"

namespace souk::bandit {
namespace {

// A small deterministic MDP given as tables: next_[s][a], reward_[s][a],
// done_[s][a]; episodes start in state 0.
class TableEnv final : public EpisodicEnv {
 public:
  TableEnv(std::vector<std::vector<uint32_t>> next, std::vector<std::vector<double>> reward,
           std::vector<std::vector<bool>> done)
      : next_(std::move(next)), reward_(std::move(reward)), done_(std::move(done)) {}
  uint32_t states() const override { return static_cast<uint32_t>(next_.size()); }
  uint32_t actions() const override { return static_cast<uint32_t>(next_[0].size()); }
  uint32_t Reset(Rng&) override { return state_ = 0; }
  EnvStep Step(uint32_t a, Rng&) override {
    EnvStep st{next_[state_][a], reward_[state_][a], done_[state_][a]};
    state_ = st.next;
    return st;
  }
  std::unique_ptr<EpisodicEnv> Clone() const override {
    auto e = std::make_unique<TableEnv>(*this);
    e->state_ = 0;
    return e;
  }
  double max_reward() const override {
    double m = 0;
    for (const auto& row : reward_)
      for (double r : row) m = std::max(m, r);
    return m;
  }
  // Value iteration of the undiscounted return (the MDP is acyclic).
  std::vector<uint32_t> Optimal() const {
    std::vector<double> v(states(), 0);
    std::vector<uint32_t> pi(states(), 0);
    for (int it = 0; it < 100; ++it)
      for (uint32_t s = 0; s < states(); ++s) {
        double best = -1e300;
        for (uint32_t a = 0; a < actions(); ++a) {
          const double q = reward_[s][a] + (done_[s][a] ? 0 : v[next_[s][a]]);
          if (q > best) best = q, pi[s] = a;
        }
        v[s] = best;
      }
    return pi;
  }

 private:
  std::vector<std::vector<uint32_t>> next_;
  std::vector<std::vector<double>> reward_;
  std::vector<std::vector<bool>> done_;
  uint32_t state_ = 0;
};

TEST(QLearnTest, TabularUpdateIsTheRule) {
  // Two states, two actions: from 0 every action goes to 1 (reward 1 for a=0,
  // 0 for a=1); from 1 every action ends the episode with reward 2 (a=0) or 0.
  TableEnv env({{1, 1}, {0, 0}}, {{1, 0}, {2, 0}}, {{false, false}, {true, true}});
  const double alpha = 0.5, gamma = 0.9;
  for (const char* name : {"qlearning", "sarsa"}) {
    SCOPED_TRACE(name);
    // visits=0: the constant step alpha (the default takes 1/n at first).
    auto agent = MakeAgent(std::string(name) + ":alpha=0.5,gamma=0.9,eps=0,visits=0", env);
    ASSERT_TRUE(agent.ok()) << agent.status().ToString();
    Agent& q = **agent;
    double q0[2], q1[2];
    // Q(1,0) <- 0 + 0.5 (2 - 0) = 1 (terminal: no bootstrap).
    q.Learn(1, 0, 2, 0, 0, true);
    q.Values(1, q1);
    EXPECT_DOUBLE_EQ(q1[0], alpha * 2);
    EXPECT_DOUBLE_EQ(q1[1], 0);
    // Q(0,0) <- 0 + 0.5 (1 + 0.9 Q(1, a') - 0) with a' = 1 (SARSA: Q(1,1) = 0;
    // Q-learning: max = Q(1,0) = 1).
    q.Learn(0, 0, 1, 1, 1, false);
    q.Values(0, q0);
    const double bootstrap = std::string(name) == "sarsa" ? 0.0 : q1[0];
    EXPECT_DOUBLE_EQ(q0[0], alpha * (1 + gamma * bootstrap));
    // Once more, from the current value.
    const double before = q0[0];
    q.Learn(0, 0, 1, 1, 0, false);
    q.Values(0, q0);
    EXPECT_DOUBLE_EQ(q0[0], before + alpha * (1 + gamma * q1[0] - before));
  }
}

TEST(QLearnTest, VisitCountStepStartsAsASampleAverage) {
  TableEnv env({{1, 1}, {0, 0}}, {{1, 0}, {2, 0}}, {{false, false}, {true, true}});
  auto agent = MakeAgent("qlearning:alpha=0.1,gamma=0.9", env);
  ASSERT_TRUE(agent.ok());
  double q1[2];
  // Steps 1, 1/2, 1/3, ... until 1/n < alpha: the mean of the targets.
  for (double r : {2.0, 4.0, 0.0}) (*agent)->Learn(1, 0, r, 0, 0, true);
  (*agent)->Values(1, q1);
  EXPECT_DOUBLE_EQ(q1[0], 2.0);
  for (int i = 0; i < 20; ++i) (*agent)->Learn(1, 0, 2, 0, 0, true);
  (*agent)->Values(1, q1);
  EXPECT_DOUBLE_EQ(q1[0], 2.0);
}

TEST(QLearnTest, LinearUpdateIsTheSemiGradientRule) {
  TableEnv env({{1, 1}, {0, 0}}, {{1, 0}, {2, 0}}, {{false, false}, {true, true}});
  auto agent = MakeAgent("linq:alpha=0.5,gamma=0.9,eps=0,visits=0", env);
  ASSERT_TRUE(agent.ok());
  // One-hot state features + bias: phi(1,0) has two active weights, each
  // moves by alpha * delta / 2, so Q(1,0) moves by alpha * delta.
  (*agent)->Learn(1, 0, 2, 0, 0, true);
  double q1[2], q0[2];
  (*agent)->Values(1, q1);
  EXPECT_DOUBLE_EQ(q1[0], 1.0);
  // The bias is shared: Q(0,0) got half of it.
  (*agent)->Values(0, q0);
  EXPECT_DOUBLE_EQ(q0[0], 0.5);
}

TEST(QLearnTest, FindsTheOptimumWhereTheMyopicChoiceIsWrong) {
  // A chain: in states 0..2, action 0 ("grab") pays 1 and ends the episode;
  // action 1 ("wait") pays 0 and moves on; state 3 pays 10 for action 1.
  // Myopic: grab at once (return 1). Optimal: wait three times (return 10).
  const uint32_t n = 4;
  std::vector<std::vector<uint32_t>> next(n);
  std::vector<std::vector<double>> reward(n);
  std::vector<std::vector<bool>> done(n);
  for (uint32_t s = 0; s < n; ++s) {
    next[s] = {0, std::min(s + 1, n - 1)};
    reward[s] = {1, s == n - 1 ? 10.0 : 0.0};
    done[s] = {true, s == n - 1};
  }
  TableEnv env(next, reward, done);
  const auto optimal = env.Optimal();
  ASSERT_EQ(optimal, (std::vector<uint32_t>{1, 1, 1, 1}));
  for (const char* spec :
       {"qlearning:alpha=0.2,gamma=1,eps=0.5,decay=0.001", "sarsa:alpha=0.2,gamma=1,eps=0.5,decay=0.001",
        "linq:alpha=0.2,gamma=1,eps=0.5,decay=0.001"}) {
    SCOPED_TRACE(spec);
    auto agent = MakeAgent(spec, env);
    ASSERT_TRUE(agent.ok());
    Rng rng(7);
    Train(**agent, env, 3000, rng);
    for (uint32_t s = 0; s < n; ++s) EXPECT_EQ((*agent)->Act(s, rng, false), optimal[s]) << "state " << s;
    Rng eval(8);
    EXPECT_DOUBLE_EQ(Evaluate(**agent, env, 10, eval).mean_return, 10);
  }
  auto bandit = MakeAgent("bandit", env);
  ASSERT_TRUE(bandit.ok());
  Rng rng(7);
  Train(**bandit, env, 3000, rng);
  Rng eval(8);
  EXPECT_DOUBLE_EQ(Evaluate(**bandit, env, 10, eval).mean_return, 1);  // grabs at once
}

TEST(QLearnTest, RejectsBadSpecs) {
  TableEnv env({{0}}, {{1}}, {{true}});
  EXPECT_FALSE(MakeAgent("nope", env).ok());
  EXPECT_FALSE(MakeAgent("qlearning:alpha=2", env).ok());
  EXPECT_FALSE(MakeAgent("qlearning:beta=1", env).ok());
  EXPECT_FALSE(MakeAgent("qlearning:alpha=x", env).ok());
  EXPECT_TRUE(MakeAgent("sarsa:alpha=0.3,gamma=0.5", env).ok());
}

TEST(ShopSimTest, FromSessionsSmoothsAndCounts) {
  // Two categories; after A users view B and click it, after B they stop.
  std::vector<SessionViews> sessions(50, SessionViews{{0, 1}, {0, 1}, {0, 0}, {}});
  ShopSimOptions o;
  o.prior = 1;
  auto sim = ShopSim::FromSessions({"A", "B"}, sessions, o);
  ASSERT_TRUE(sim.ok()) << sim.status().ToString();
  EXPECT_EQ(sim->states(), 3u);
  EXPECT_EQ(sim->actions(), 2u);
  EXPECT_EQ(sim->views(), 100u);
  const uint32_t a = sim->Push(sim->start_state(), 0);
  EXPECT_GT(sim->NextProb(a, 1), 0.95);
  EXPECT_GT(sim->ClickProb(a, 1), 0.9);
  EXPECT_LT(sim->ClickProb(a, 0), 0.1);  // little interest in A after A
  EXPECT_GT(sim->EndProb(sim->Push(a, 1), true), 0.9);
  EXPECT_LT(sim->EndProb(a, false), 0.1);
  EXPECT_EQ(sim->popular_action(), 1u);
}

class ShopFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new souk::testing::TempDir();
    auto r = souk::testing::RunSouk(*dir_, "gen " + dir_->path() +
                                               "/shop --users 300 --items 200 --days 10 --seed 3 "
                                               "--no-import");
    ASSERT_EQ(r.code, 0) << r.err;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string Generated() { return dir_->path() + "/shop/generated"; }
  static souk::testing::TempDir* dir_;
};
souk::testing::TempDir* ShopFixture::dir_ = nullptr;

TEST_F(ShopFixture, SimulatorHasValidProbabilitiesAndIsDeterministic) {
  ShopSimOptions o;
  auto sim = ShopSim::FromShop(Generated(), o);
  ASSERT_TRUE(sim.ok()) << sim.status().ToString();
  EXPECT_GE(sim->actions(), 9u);  // mid categories of 9 top categories
  EXPECT_LE(sim->actions(), 60u);
  EXPECT_GT(sim->sessions(), 300u);
  for (uint32_t s = 0; s < sim->states(); ++s) {
    double total = 0;
    for (uint32_t a = 0; a < sim->actions(); ++a) {
      EXPECT_GT(sim->ClickProb(s, a), 0);
      EXPECT_LE(sim->ClickProb(s, a), 1);
      EXPECT_GT(sim->BuyProb(s, a), 0);
      EXPECT_LT(sim->BuyProb(s, a), 1);
      total += sim->NextProb(s, a);
    }
    EXPECT_NEAR(total, 1, 1e-9);
    for (bool c : {false, true}) {
      EXPECT_GT(sim->EndProb(s, c), 0);
      EXPECT_LT(sim->EndProb(s, c), 1);
    }
  }
  // The same file, the same model; the same seed, the same episodes.
  auto again = ShopSim::FromShop(Generated(), o);
  ASSERT_TRUE(again.ok());
  for (uint32_t s = 0; s < sim->states(); ++s)
    for (uint32_t a = 0; a < sim->actions(); ++a) ASSERT_EQ(sim->ClickProb(s, a), again->ClickProb(s, a));
  auto run = [&](ShopSim& env, uint64_t seed) {
    Rng rng(seed);
    std::vector<double> trace;
    for (int e = 0; e < 50; ++e) {
      env.Reset(rng);
      for (;;) {
        auto st = env.Step(static_cast<uint32_t>(rng.Below(env.actions())), rng);
        trace.push_back(st.reward + 100 * st.next);
        if (st.done) break;
      }
    }
    return trace;
  };
  EXPECT_EQ(run(*sim, 5), run(*again, 5));
  EXPECT_NE(run(*sim, 5), run(*again, 6));
  EXPECT_FALSE(ShopSim::FromShop(dir_->path() + "/missing", o).ok());
}

TEST_F(ShopFixture, QLearningBeatsTheMyopicBandit) {
  // As logged, purchases are credited to the click that made them and the
  // exact optimum equals the best myopic policy: nothing to plan for. With
  // purchases paid at checkout (delayed) and worth their price, the myopic
  // bandit sees clicks only and planning pays.
  ShopSimOptions o;
  {
    auto plain = ShopSim::FromShop(Generated(), o);
    ASSERT_TRUE(plain.ok());
    // (on this small shop they may differ in the first action only)
    const auto opt = plain->OptimalPolicy(), myopic = plain->MyopicPolicy();
    for (uint32_t s = 1; s < plain->states(); ++s) EXPECT_EQ(opt[s], myopic[s]) << plain->StateName(s);
  }
  o.checkout = true;
  o.revenue = true;
  auto sim = ShopSim::FromShop(Generated(), o);
  ASSERT_TRUE(sim.ok()) << sim.status().ToString();
  CompareOptions c;
  c.episodes = 100000;
  c.eval_episodes = 20000;
  c.seeds = 3;
  auto scores = CompareAgents(*sim, {"qlearning", "bandit"}, c);
  ASSERT_TRUE(scores.ok()) << scores.status().ToString();
  const AgentScore& q = (*scores)[0];
  const AgentScore& b = (*scores)[1];
  const double se = std::sqrt(q.se_return * q.se_return + b.se_return * b.se_return + q.episode_se * q.episode_se +
                              b.episode_se * b.episode_se);
  EXPECT_GT(q.mean_return - b.mean_return, se) << "q " << q.mean_return << " bandit " << b.mean_return;
}

}  // namespace
}  // namespace souk::bandit
