// `souk bandit qlearn --shop DIR`: builds the session simulator from a
// generated shop (DIR/generated), trains every agent over several seeds and
// prints mean greedy return, its standard error and episode length per agent,
// with the model's exact optimum and best myopic policy as references.
#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "bandit/bandit.h"
#include "cli/commands.h"

namespace souk::cli {

namespace {

using json = nlohmann::json;

}  // namespace

int QLearnCommand(const QLearnArgs& args) {
  namespace fs = std::filesystem;
  std::string gen_dir = (fs::path(args.shop) / "generated").string();
  if (!fs::exists(fs::path(gen_dir) / "events.csv") && fs::exists(fs::path(args.shop) / "events.csv"))
    gen_dir = args.shop;  // DIR may be the generated directory itself
  if (args.seeds == 0 || args.episodes == 0 || args.eval_episodes == 0)
    return Fail(Status::InvalidArgument("--episodes, --eval-episodes and --seeds must be > 0"));
  bandit::ShopSimOptions so;
  so.level = args.level;
  so.history = args.history;
  so.purchase_weight = args.purchase_weight;
  so.click_to_continue = args.click_to_continue;
  so.prior = args.prior;
  so.revenue = args.revenue;
  so.checkout = args.checkout;
  so.interest_power = args.interest_power;
  auto sim = bandit::ShopSim::FromShop(gen_dir, so);
  if (!sim.ok()) return Fail(sim.status());

  const std::string q = fmt::format("alpha={},gamma={},eps={},decay={}", args.alpha, args.gamma, args.eps, args.decay);
  std::vector<std::string> specs = {"qlearning:" + q, "sarsa:" + q, "linq:" + q, "linsarsa:" + q,
                                    "bandit",         "popular",    "random"};
  bandit::CompareOptions co;
  co.episodes = args.episodes;
  co.eval_episodes = args.eval_episodes;
  co.seeds = args.seeds;
  co.seed = args.seed;
  auto scores = bandit::CompareAgents(*sim, specs, co);
  if (!scores.ok()) return Fail(scores.status());

  // The model's exact policies, evaluated the same way (no training).
  struct Ref {
    std::string name;
    std::vector<uint32_t> table;
  };
  std::vector<Ref> refs = {{"optimal (value iteration)", sim->OptimalPolicy(1.0)},
                           {"myopic optimum (exact)", sim->MyopicPolicy()}};
  for (const auto& ref : refs) {
    bandit::AgentScore s;
    s.spec = ref.name;
    double pooled = 0;
    for (uint32_t k = 0; k < co.seeds; ++k) {
      auto env = sim->Clone();
      auto agent = bandit::MakeTableAgent(ref.table, sim->actions(), ref.name);
      bandit::Rng rng(co.seed + 7919 + 1000003ull * k);
      auto r = bandit::Evaluate(*agent, *env, co.eval_episodes, rng);
      s.returns.push_back(r.mean_return);
      s.lengths.push_back(r.mean_length);
      pooled += r.se_return * r.se_return;
    }
    double sum = 0, len = 0;
    for (size_t k = 0; k < s.returns.size(); ++k) sum += s.returns[k], len += s.lengths[k];
    s.mean_return = sum / co.seeds, s.mean_length = len / co.seeds;
    double v = 0, vl = 0;
    for (size_t k = 0; k < s.returns.size(); ++k)
      v += std::pow(s.returns[k] - s.mean_return, 2), vl += std::pow(s.lengths[k] - s.mean_length, 2);
    if (co.seeds > 1)
      s.se_return = std::sqrt(v / (co.seeds - 1) / co.seeds), s.se_length = std::sqrt(vl / (co.seeds - 1) / co.seeds);
    s.episode_se = std::sqrt(pooled) / co.seeds;
    scores->push_back(std::move(s));
  }

  // Paired (same seed) difference of each agent against the myopic bandit.
  const auto& base = (*scores)[4];
  auto diff = [&](const bandit::AgentScore& s, double* mean, double* se) {
    double m = 0;
    for (size_t k = 0; k < s.returns.size(); ++k) m += s.returns[k] - base.returns[k];
    m /= s.returns.size();
    double v = 0;
    for (size_t k = 0; k < s.returns.size(); ++k) v += std::pow(s.returns[k] - base.returns[k] - m, 2);
    *mean = m;
    *se = s.returns.size() > 1 ? std::sqrt(v / (s.returns.size() - 1) / s.returns.size()) : 0;
  };

  if (args.json) {
    json j;
    j["shop"] = gen_dir;
    j["simulator"] = {{"level", so.level},
                      {"history", so.history},
                      {"prior", so.prior},
                      {"purchase_weight", so.purchase_weight},
                      {"click_to_continue", so.click_to_continue},
                      {"revenue", so.revenue},
                      {"checkout", so.checkout},
                      {"interest_power", so.interest_power},
                      {"max_steps", so.max_steps},
                      {"actions", sim->actions()},
                      {"states", sim->states()},
                      {"observed_states", sim->observed_states()},
                      {"sessions", sim->sessions()},
                      {"views", sim->views()},
                      {"popular", sim->categories()[sim->popular_action()]}};
    j["episodes"] = co.episodes;
    j["eval_episodes"] = co.eval_episodes;
    j["seeds"] = co.seeds;
    j["seed"] = co.seed;
    json rows = json::array();
    for (const auto& s : *scores) {
      double d, dse;
      diff(s, &d, &dse);
      rows.push_back({{"agent", s.spec},
                      {"mean_return", s.mean_return},
                      {"se_return", s.se_return},
                      {"episode_se", s.episode_se},
                      {"mean_length", s.mean_length},
                      {"se_length", s.se_length},
                      {"returns", s.returns},
                      {"vs_bandit", d},
                      {"se_vs_bandit", dse}});
    }
    j["agents"] = rows;
    std::printf("%s\n", j.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
    return 0;
  }
  std::printf(
      "simulator: %u actions (level %d), %u states (%u seen), %llu sessions, %llu views; purchase weight %g; interest "
      "power %g%s%s%s\n",
      sim->actions(), so.level, sim->states(), sim->observed_states(), static_cast<unsigned long long>(sim->sessions()),
      static_cast<unsigned long long>(sim->views()), so.purchase_weight, so.interest_power,
      so.click_to_continue ? "; session continues only after a click" : "",
      so.revenue ? "; purchases weighted by the category's price ratio" : "",
      so.checkout ? "; purchases paid at checkout (the session's last step)" : "");
  std::printf("training %llu episodes, evaluating %llu greedy episodes, %u seeds\n\n",
              static_cast<unsigned long long>(co.episodes), static_cast<unsigned long long>(co.eval_episodes),
              co.seeds);
  std::printf("%-56s %9s %8s %9s %9s %8s %7s\n", "agent", "return", "+-se", "vs bandit", "+-se", "length", "+-se");
  for (const auto& s : *scores) {
    double d, dse;
    diff(s, &d, &dse);
    std::printf("%-56s %9.4f %8.4f %+9.4f %9.4f %8.3f %7.3f\n", s.spec.c_str(), s.mean_return, s.se_return, d, dse,
                s.mean_length, s.se_length);
  }
  std::printf("\nse: over seeds (each seed retrains and re-evaluates); vs bandit: paired by seed\n");
  return 0;
}

}  // namespace souk::cli
