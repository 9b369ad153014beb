// `souk bandit simulate`: regret of bandit policies in simulated environments.
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "bandit/bandit.h"
#include "cli/commands.h"

using json = nlohmann::json;

namespace souk::cli {
namespace {

json ResultJson(const bandit::SimResult& r) {
  json j = {{"policy", r.policy},
            {"env", r.env},
            {"arms", r.arms},
            {"rounds", r.rounds},
            {"seeds", r.seeds},
            {"regret", r.regret},
            {"regret_se", r.regret_se},
            {"mean_reward", r.reward},
            {"best_arm_share", r.best_share},
            {"seconds", r.seconds},
            {"steps_per_second", r.seconds > 0 ? static_cast<double>(r.rounds) * r.seeds / r.seconds : 0.0}};
  j["lower_bound"] = r.lower_bound > 0 ? json(r.lower_bound) : json(nullptr);
  if (r.lower_bound > 0) j["ratio_to_bound"] = r.regret / r.lower_bound;
  json curve = json::array();
  for (size_t p = 0; p < r.curve_t.size(); ++p) curve.push_back({r.curve_t[p], r.curve_regret[p]});
  j["curve"] = curve;
  return j;
}

}  // namespace

int BanditSimulateCommand(const BanditSimArgs& args) {
  BanditSimArgs a = args;
  if (a.sim.env == "shop") {
    // The session simulator of a generated shop (as `souk bandit qlearn`
    // builds it, default options), as a contextual bandit.
    if (a.shop.empty()) return Fail(Status::InvalidArgument("--env shop needs --shop DIR (a generated shop)"));
    std::string gen_dir = (std::filesystem::path(a.shop) / "generated").string();
    if (!std::filesystem::exists(std::filesystem::path(gen_dir) / "events.csv")) gen_dir = a.shop;
    auto sim = bandit::ShopSim::FromShop(gen_dir, bandit::ShopSimOptions{});
    if (!sim.ok()) return Fail(sim.status());
    auto shared = std::make_shared<const bandit::ShopSim>(std::move(*sim));
    a.sim.episodic = shared;
    const double scale = shared->max_reward();
    a.sim.expected = [shared, scale](uint32_t s, uint32_t arm) { return shared->ExpectedReward(s, arm) / scale; };
    a.sim.arms = shared->actions();
    a.sim.dim = shared->state_features();
  }
  std::vector<std::string> policies = a.policies;
  if (policies.empty() || (policies.size() == 1 && policies[0] == "all"))
    policies = bandit::DefaultSimPolicies(a.sim.env);
  std::vector<bandit::SimResult> results;
  if (!a.json)
    std::printf("%s, %u arms%s, %s rounds, %u seeds\n", a.sim.env.c_str(),
                a.sim.means.empty() ? a.sim.arms : static_cast<unsigned>(a.sim.means.size()),
                a.sim.env == "bernoulli" ? "" : fmt::format(", d={}", a.sim.dim).c_str(),
                std::to_string(a.sim.rounds).c_str(), a.sim.seeds);
  for (const std::string& p : policies) {
    auto r = bandit::Simulate(a.sim, p);
    if (!r.ok()) return Fail(r.status());
    if (!a.json) {
      std::printf("  %-44s regret %10.1f +- %7.1f", r->policy.c_str(), r->regret, r->regret_se);
      if (r->lower_bound > 0) std::printf("   bound %8.1f  ratio %.2f", r->lower_bound, r->regret / r->lower_bound);
      std::printf("   best arm %.3f  %.2f s\n", r->best_share, r->seconds);
      std::fflush(stdout);
    }
    results.push_back(std::move(*r));
  }
  if (!a.html.empty()) {
    std::ofstream out(a.html);
    out << bandit::RegretChartHtml(results, fmt::format("souk bandit simulate: {} environment, {} rounds, {} seeds",
                                                        a.sim.env, a.sim.rounds, a.sim.seeds));
    if (!out) return Fail(Status::IoError("cannot write " + a.html));
    if (!a.json) std::printf("chart: %s\n", a.html.c_str());
  }
  if (a.json) {
    json out;
    if (results.size() == 1) {
      out = ResultJson(results[0]);
    } else {
      out = {{"env", a.sim.env}, {"results", json::array()}};
      for (const auto& r : results) out["results"].push_back(ResultJson(r));
    }
    std::printf("%s\n", out.dump().c_str());
  }
  return 0;
}

}  // namespace souk::cli
