// Campaigns on a real SQLite store: decide/reward, idempotent and delayed
// rewards, unknown decisions, restart keeps the policy state, concurrent
// decides and rewards lose no update, slates, and spec errors.
#include "campaign/campaign.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "test_util.h"

namespace souk::campaign {
namespace {

using souk::testing::TempDir;

std::unique_ptr<Store> OpenStore(const TempDir& dir) {
  auto s = Store::OpenSqlite(dir / "souk.db");
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return std::move(*s);
}

CampaignSpec Spec(const std::string& name, const std::string& policy = "ts") {
  CampaignSpec s;
  s.name = name;
  s.policy = policy;
  s.arms = {"a", "b", "c"};
  s.seed = 42;
  return s;
}

TEST(Campaign, DecideLogsThePropensityAndRewardUpdatesThePolicy) {
  TempDir dir;
  auto store = OpenStore(dir);
  CampaignService svc(store.get());
  ASSERT_TRUE(svc.Create(Spec("home")).ok());
  auto d = svc.Decide("home", "u1", {});
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->arms.size(), 1u);
  EXPECT_GT(d->propensities[0], 0);
  EXPECT_LE(d->propensities[0], 1);
  auto logged = store->GetDecision(d->id);
  ASSERT_TRUE(logged.ok());
  EXPECT_EQ(logged->arms, d->arms);
  EXPECT_EQ(logged->propensities, d->propensities);
  EXPECT_EQ(logged->user, "u1");
  EXPECT_FALSE(logged->rewarded);
  EXPECT_EQ(logged->context, std::vector<float>{1.0f});  // the intercept

  auto r = svc.Reward(d->id, {1.0});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->duplicate);
  EXPECT_EQ(r->updates, 1u);
  // Idempotent: the same decision again changes nothing.
  auto again = svc.Reward(d->id, {0.0});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->rewards, std::vector<double>{1.0});
  EXPECT_EQ(again->updates, 1u);
  auto show = svc.Show("home");
  ASSERT_TRUE(show.ok());
  EXPECT_EQ(show->record.decisions, 1u);
  EXPECT_EQ(show->record.rewarded, 1u);
  EXPECT_EQ(show->arms[d->arms[0]].pulls, 1u);
  EXPECT_DOUBLE_EQ(show->arms[d->arms[0]].estimate, 2.0 / 3.0);  // Beta(2, 1)
  double total = 0;
  for (const auto& a : show->arms) total += a.probability;
  EXPECT_NEAR(total, 1, 1e-9);
  // Unknown decision, wrong number of values.
  auto unknown = svc.Reward("1-99-deadbeef", {1});
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  EXPECT_NE(unknown.status().message().find("1-99-deadbeef"), std::string::npos);
  auto d2 = svc.Decide("home", "", {});
  EXPECT_EQ(svc.Reward(d2->id, {1, 0}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(d2->id, d->id);
}

TEST(Campaign, LearnsTheBestArm) {
  TempDir dir;
  auto store = OpenStore(dir);
  CampaignService svc(store.get());
  ASSERT_TRUE(svc.Create(Spec("promo")).ok());
  bandit::Rng env(3);
  const std::vector<double> ctr = {0.1, 0.6, 0.2};
  int late_b = 0;
  for (int t = 0; t < 600; ++t) {
    auto d = svc.Decide("promo", "", {});
    ASSERT_TRUE(d.ok());
    if (t >= 400) late_b += d->arms[0] == 1;
    ASSERT_TRUE(svc.Reward(d->id, {env.Uniform() < ctr[d->arms[0]] ? 1.0 : 0.0}).ok());
  }
  EXPECT_GT(late_b, 160);
}

TEST(Campaign, RestartKeepsStateAndDelayedRewardsStillLand) {
  TempDir dir;
  std::vector<std::string> pending;
  std::vector<double> estimates;
  {
    auto store = OpenStore(dir);
    CampaignService svc(store.get());
    CampaignSpec spec = Spec("ctx", "linucb:alpha=0.5");
    spec.features = {"age", "mobile"};
    ASSERT_TRUE(svc.Create(spec).ok());
    bandit::Rng env(5);
    for (int t = 0; t < 120; ++t) {
      const double mobile = env.Uniform() < 0.5 ? 1 : 0;
      auto d = svc.Decide("ctx", "u", {{"age", env.Uniform()}, {"mobile", mobile}});
      ASSERT_TRUE(d.ok()) << d.status().ToString();
      if (t % 3 == 0) {
        pending.push_back(d->id);  // rewarded after the restart
        continue;
      }
      ASSERT_TRUE(svc.Reward(d->id, {mobile > 0 && d->arms[0] == 2 ? 1.0 : 0.1}).ok());
    }
    auto s = svc.Show("ctx");
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->updates, 80u);
    for (const auto& a : s->arms) estimates.push_back(a.estimate);
  }
  auto store = OpenStore(dir);
  CampaignService svc(store.get());
  auto s = svc.Show("ctx");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->updates, 80u);
  for (size_t a = 0; a < estimates.size(); ++a) EXPECT_EQ(s->arms[a].estimate, estimates[a]) << a;
  // Delayed rewards of decisions made before the restart, newest first.
  for (auto it = pending.rbegin(); it != pending.rend(); ++it) {
    auto r = svc.Reward(*it, {0.5});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_FALSE(r->duplicate);
  }
  EXPECT_EQ(svc.Show("ctx")->updates, 120u);
  // New decisions continue the sequence (no id reuse).
  auto d = svc.Decide("ctx", "", {});
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->seq, 121u);
  // Unknown feature names are refused with the list of known ones.
  auto bad = svc.Decide("ctx", "", {{"height", 1}});
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("age, mobile"), std::string::npos) << bad.status().message();
}

TEST(Campaign, ConcurrentDecidesAndRewardsLoseNoUpdate) {
  TempDir dir;
  auto store = OpenStore(dir);
  CampaignService svc(store.get());
  ASSERT_TRUE(svc.Create(Spec("busy")).ok());
  ASSERT_TRUE(svc.Create(Spec("other", "egreedy")).ok());
  constexpr int kThreads = 4, kEach = 150;
  std::atomic<int> failures{0};
  std::vector<std::thread> pool;
  for (int w = 0; w < kThreads; ++w) {
    pool.emplace_back([&, w] {
      bandit::Rng env(100 + w);
      for (int t = 0; t < kEach; ++t) {
        const std::string name = t % 5 == 0 ? "other" : "busy";
        auto d = svc.Decide(name, "", {});
        if (!d.ok()) {
          ++failures;
          continue;
        }
        if (!svc.Reward(d->id, {env.Uniform() < 0.3 ? 1.0 : 0.0}).ok()) ++failures;
      }
    });
  }
  for (auto& t : pool) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto busy = svc.Show("busy"), other = svc.Show("other");
  ASSERT_TRUE(busy.ok() && other.ok());
  const uint64_t n_other = kThreads * (kEach / 5), n_busy = kThreads * kEach - n_other;
  EXPECT_EQ(busy->updates, n_busy);
  EXPECT_EQ(busy->record.decisions, n_busy);
  EXPECT_EQ(busy->record.rewarded, n_busy);
  EXPECT_EQ(other->updates, n_other);
  // The same decision rewarded from several threads at once: one update.
  auto d = svc.Decide("busy", "", {});
  std::atomic<int> fresh{0}, dup{0};
  pool.clear();
  for (int w = 0; w < kThreads; ++w)
    pool.emplace_back([&] {
      auto r = svc.Reward(d->id, {1});
      if (r.ok()) (r->duplicate ? dup : fresh)++;
    });
  for (auto& t : pool) t.join();
  EXPECT_EQ(fresh.load(), 1);
  EXPECT_EQ(dup.load(), kThreads - 1);
  EXPECT_EQ(svc.Show("busy")->updates, n_busy + 1);
  // And the stored state says the same after a reopen.
  CampaignService again(store.get());
  EXPECT_EQ(again.Show("busy")->updates, n_busy + 1);
}

TEST(Campaign, SnapshotPlusReplayEqualsTheLivePolicy) {
  TempDir dir;
  auto store = OpenStore(dir);
  ServiceOptions every7;
  every7.snapshot_every = 7;
  CampaignService live(store.get(), every7);
  CampaignSpec spec = Spec("lin", "linucb:alpha=0.3,discount=0.99");
  spec.features = {"x1", "x2"};
  ASSERT_TRUE(live.Create(spec).ok());
  CampaignSpec slate = Spec("row", "slate:model=pbm,slots=2,kappa=1;0.5,base=ucb");
  slate.arms = {"a", "b", "c", "d"};
  slate.slots = 2;
  ASSERT_TRUE(live.Create(slate).ok());
  bandit::Rng env(9);
  for (int t = 0; t < 53; ++t) {
    auto d = live.Decide("lin", "", {{"x1", env.Normal()}, {"x2", env.Normal()}});
    ASSERT_TRUE(d.ok());
    ASSERT_TRUE(live.Reward(d->id, {env.Normal()}).ok());
    auto s = live.Decide("row", "", {});
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE(live.Reward(s->id, {env.Uniform() < 0.3 ? 1.0 : 0.0, env.Uniform() < 0.2 ? 1.0 : 0.0}).ok());
  }
  // 53 rewards, snapshots at 7, 14, ..., 49: four rewards to replay.
  auto rec = store->GetCampaign("lin");
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->state_seq, 49u);
  EXPECT_EQ(rec->last_reward_seq, 53u);
  // A second service (as after a crash: the first never flushed) restores
  // snapshot + replay and must agree with the live policy exactly.
  CampaignService other(store.get());
  for (const std::string name : {"lin", "row"}) {
    auto a = live.Show(name), b = other.Show(name);
    ASSERT_TRUE(a.ok() && b.ok()) << name;
    for (size_t i = 0; i < a->arms.size(); ++i) {
      EXPECT_EQ(a->arms[i].estimate, b->arms[i].estimate) << name << " arm " << i;
      EXPECT_EQ(a->arms[i].probability, b->arms[i].probability) << name << " arm " << i;
    }
  }
  EXPECT_EQ(other.Show("lin")->updates, 53u);
  ASSERT_TRUE(live.Flush().ok());
  EXPECT_EQ(store->GetCampaign("lin")->state_seq, 53u);
}

TEST(Campaign, SlatesChooseDistinctArmsWithMarginals) {
  TempDir dir;
  auto store = OpenStore(dir);
  CampaignService svc(store.get());
  CampaignSpec spec = Spec("row", "slate:model=cascade,slots=2,draws=200");
  spec.arms = {"a", "b", "c", "d"};
  spec.slots = 2;
  ASSERT_TRUE(svc.Create(spec).ok());
  auto d = svc.Decide("row", "", {});
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->arms.size(), 2u);
  EXPECT_NE(d->arms[0], d->arms[1]);
  for (double p : d->propensities) EXPECT_GT(p, 0);
  EXPECT_EQ(svc.Reward(d->id, {1}).status().code(), StatusCode::kInvalidArgument);
  auto r = svc.Reward(d->id, {0, 1});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->duplicate);
}

TEST(Campaign, BadSpecsAreRefused) {
  TempDir dir;
  auto store = OpenStore(dir);
  CampaignService svc(store.get());
  auto expect = [&](CampaignSpec s, StatusCode code, const std::string& needle) {
    auto c = svc.Create(s);
    ASSERT_FALSE(c.ok()) << s.name;
    EXPECT_EQ(c.status().code(), code) << c.status().message();
    EXPECT_NE(c.status().message().find(needle), std::string::npos) << c.status().message();
  };
  CampaignSpec one = Spec("one");
  one.arms = {"a"};
  expect(one, StatusCode::kInvalidArgument, "at least 2 arms");
  CampaignSpec dup = Spec("dup");
  dup.arms = {"a", "b", "a"};
  expect(dup, StatusCode::kInvalidArgument, "'a' is listed twice");
  expect(Spec("bad", "thompson"), StatusCode::kInvalidArgument, "unknown policy");
  expect(Spec("slate1", "slate:slots=2"), StatusCode::kInvalidArgument, "--slots");
  CampaignSpec ctl = Spec("bad\tname");
  expect(ctl, StatusCode::kInvalidArgument, "control character");
  ASSERT_TRUE(svc.Create(Spec("home")).ok());
  expect(Spec("home"), StatusCode::kAlreadyExists, "already exists");
  EXPECT_EQ(svc.Decide("nope", "", {}).status().code(), StatusCode::kNotFound);
  // Nothing of the refused ones was stored.
  EXPECT_EQ(svc.List()->size(), 1u);
}

}  // namespace
}  // namespace souk::campaign
