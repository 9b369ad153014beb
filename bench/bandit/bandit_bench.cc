// Decide + reward throughput of the bandit policies on one thread: each step
// is Choose (no propensities unless asked) then Update with a simulated
// reward, the loop a campaign runs per request. Prints one line per policy:
// ns per step, steps per second, and, for reference, Vowpal Wabbit's
// published contextual-bandit learn step (1.29 us; VW is not packaged in
// Debian 12, so it is not run here).
//
// With --campaign DIR it also times decide + reward through the campaign
// service on a SQLite store in DIR (logged decisions, idempotent rewards,
// the policy state saved with each reward).
//
//   bandit_bench [--steps N] [--arms K] [--dim D] [--propensities] [--campaign DIR]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "bandit/bandit.h"
#include "campaign/campaign.h"

using namespace souk::bandit;

int main(int argc, char** argv) {
  uint64_t steps = 1000000;
  uint32_t arms = 50, dim = 20;
  bool propensities = false;
  std::string campaign_dir;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--steps")
      steps = std::strtoull(next(), nullptr, 10);
    else if (a == "--arms")
      arms = static_cast<uint32_t>(std::strtoul(next(), nullptr, 10));
    else if (a == "--dim")
      dim = static_cast<uint32_t>(std::strtoul(next(), nullptr, 10));
    else if (a == "--propensities")
      propensities = true;
    else if (a == "--campaign")
      campaign_dir = next();
    else {
      std::fprintf(stderr, "unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  struct Case {
    std::string spec;
    bool contextual;
    double target_us;
  };
  const std::vector<Case> cases = {{"ts", false, 1.0},
                                   {"ucb1", false, 0},
                                   {"egreedy", false, 0},
                                   {"gts", false, 0},
                                   {"linucb:alpha=1", true, 3.0},
                                   {"lints:v=0.3", true, 0},
                                   {"ts:discount=0.999", false, 0},
                                   {"linucb:alpha=1,window=1000", true, 0}};
  std::printf("one thread, %u arms, d=%u, %llu steps per policy%s\n", arms, dim, static_cast<unsigned long long>(steps),
              propensities ? ", with propensities (draws=1000)" : "");
  std::printf("%-30s %10s %14s %10s\n", "policy", "ns/step", "steps/s", "goal");
  for (const Case& c : cases) {
    auto made = MakePolicy(c.spec, arms, c.contextual ? dim : 0);
    if (!made.ok()) {
      std::fprintf(stderr, "%s: %s\n", c.spec.c_str(), made.status().message().c_str());
      return 1;
    }
    Policy& p = **made;
    Rng rng(1), env(2);
    // Contexts precomputed (a ring of 1024), so the loop times the policy.
    std::vector<float> xs(1024 * static_cast<size_t>(dim));
    for (float& v : xs) v = static_cast<float>(env.Normal() * 0.3);
    std::vector<double> probs(propensities ? arms : 0);
    std::vector<double> means(arms);
    for (uint32_t a = 0; a < arms; ++a) means[a] = 0.02 + 0.06 * a / arms;
    const uint64_t n = propensities ? std::max<uint64_t>(steps / 1000, 200) : steps;
    uint64_t sink = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (uint64_t t = 0; t < n; ++t) {
      const Context ctx{c.contextual ? std::span<const float>(&xs[(t & 1023) * dim], dim) : std::span<const float>(),
                        {}};
      const uint32_t a = p.Choose(ctx, rng, probs);
      sink += a;
      p.Update(a, ctx, env.Uniform() < means[a] ? 1.0 : 0.0);
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double ns = s * 1e9 / static_cast<double>(n);
    std::printf(
        "%-30s %10.0f %14.0f %10s%s\n", p.Describe().substr(0, 30).c_str(), ns, 1e9 / ns,
        c.target_us > 0 && !propensities ? (std::to_string(static_cast<int>(c.target_us * 1000)) + " ns").c_str() : "",
        sink == 0 ? " " : "");
  }
  std::printf("reference: Vowpal Wabbit contextual-bandit learn step, published: 1290 ns\n");
  if (campaign_dir.empty()) return 0;
  // Through the store: each decide is one logged row, each reward one
  // transaction with the policy state.
  std::filesystem::remove_all(campaign_dir);
  std::filesystem::create_directories(campaign_dir);
  auto store = souk::Store::OpenSqlite(campaign_dir + "/souk.db");
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().message().c_str());
    return 1;
  }
  souk::campaign::CampaignService svc(store->get());
  std::printf("\ncampaign service on SQLite (%s), %u arms\n", campaign_dir.c_str(), arms);
  std::printf("%-30s %10s %14s\n", "policy", "us/pair", "pairs/s");
  for (const std::string spec : {"ts:draws=100", "linucb:alpha=1"}) {
    souk::campaign::CampaignSpec cs;
    cs.name = spec.substr(0, spec.find(':'));
    cs.policy = spec;
    for (uint32_t a = 0; a < arms; ++a) cs.arms.push_back("arm" + std::to_string(a));
    if (spec.rfind("lin", 0) == 0)
      for (uint32_t i = 0; i + 1 < dim; ++i) cs.features.push_back("f" + std::to_string(i));
    cs.seed = 1;
    if (auto c = svc.Create(cs); !c.ok()) {
      std::fprintf(stderr, "%s\n", c.status().message().c_str());
      return 1;
    }
    Rng env(3);
    const int n = 2000;
    const auto t0 = std::chrono::steady_clock::now();
    for (int t = 0; t < n; ++t) {
      std::vector<std::pair<std::string, double>> ctx;
      for (const auto& f : cs.features) ctx.emplace_back(f, env.Normal() * 0.3);
      auto d = svc.Decide(cs.name, "", ctx);
      if (!d.ok() || !svc.Reward(d->id, {env.Uniform() < 0.05 ? 1.0 : 0.0}).ok()) {
        std::fprintf(stderr, "campaign step failed\n");
        return 1;
      }
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%-30s %10.1f %14.0f\n", spec.c_str(), s * 1e6 / n, n / s);
  }
  return 0;
}
