// `souk campaign create|list|show|decide|reward|log`: bandit campaigns in
// the data directory's store (src/campaign).
#include <fmt/format.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "campaign/campaign.h"
#include "cli/commands.h"

using json = nlohmann::json;

namespace souk::cli {
namespace {

json CampaignJson(const CampaignRecord& c) {
  return {{"name", c.name},
          {"policy", c.policy},
          {"arms", c.arms},
          {"features", c.features},
          {"slots", c.slots},
          {"seed", c.seed},
          {"created_ms", c.created_ms},
          {"decisions", c.decisions},
          {"rewarded", c.rewarded}};
}

// --context: a JSON object of numbers ({"age": 31, "mobile": 1}) or
// name=value pairs separated by commas.
Result<std::vector<std::pair<std::string, double>>> ParseContext(const std::string& text) {
  std::vector<std::pair<std::string, double>> out;
  if (text.empty()) return out;
  if (text.front() == '{') {
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument("--context: not a JSON object: " + text);
    for (const auto& [k, v] : j.items()) {
      if (v.is_boolean())
        out.emplace_back(k, v.get<bool>() ? 1.0 : 0.0);
      else if (v.is_number())
        out.emplace_back(k, v.get<double>());
      else
        return Status::InvalidArgument("--context: feature '" + k + "' must be a number or a boolean");
    }
    return out;
  }
  size_t b = 0;
  while (b <= text.size()) {
    size_t e = text.find(',', b);
    if (e == std::string::npos) e = text.size();
    const std::string part = text.substr(b, e - b);
    const size_t eq = part.find('=');
    if (eq == std::string::npos || eq == 0)
      return Status::InvalidArgument("--context: expected name=value, got '" + part + "'");
    char* end = nullptr;
    const std::string value = part.substr(eq + 1);
    const double v = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0')
      return Status::InvalidArgument("--context: '" + value + "' (feature " + part.substr(0, eq) + ") is not a number");
    out.emplace_back(part.substr(0, eq), v);
    b = e + 1;
  }
  return out;
}

}  // namespace

int CampaignCommand(const CampaignArgs& a, Store* store) {
  campaign::CampaignService service(store);
  if (a.action == "create") {
    campaign::CampaignSpec spec;
    spec.name = a.name;
    spec.policy = a.policy;
    spec.arms = a.arms;
    spec.features = a.features;
    spec.slots = a.slots;
    spec.seed = a.seed;
    auto c = service.Create(spec);
    if (!c.ok()) return Fail(c.status());
    if (a.json)
      PrintJson(CampaignJson(*c));
    else
      std::printf("created campaign %s: %zu arms, policy %s%s\n", c->name.c_str(), c->arms.size(), c->policy.c_str(),
                  c->features.empty() ? "" : fmt::format(", {} context features", c->features.size()).c_str());
    return 0;
  }
  if (a.action == "list") {
    auto all = service.List();
    if (!all.ok()) return Fail(all.status());
    if (a.json) {
      json out = json::array();
      for (const auto& c : *all) out.push_back(CampaignJson(c));
      PrintJson({{"campaigns", out}});
    } else {
      if (all->empty()) std::printf("no campaigns (create one with `souk campaign create DIR NAME --arms a,b`)\n");
      for (const auto& c : *all)
        std::printf("%-20s %3zu arms  %-36s %8llu decisions %8llu rewarded\n", c.name.c_str(), c.arms.size(),
                    c.policy.c_str(), static_cast<unsigned long long>(c.decisions),
                    static_cast<unsigned long long>(c.rewarded));
    }
    return 0;
  }
  if (a.action == "show") {
    auto s = service.Show(a.name);
    if (!s.ok()) return Fail(s.status());
    if (a.json) {
      json arms = json::array();
      for (const auto& x : s->arms)
        arms.push_back({{"arm", x.name},
                        {"pulls", x.pulls},
                        {"rewarded", x.rewarded},
                        {"reward_sum", x.reward_sum},
                        {"mean_reward", x.rewarded ? x.reward_sum / x.rewarded : 0.0},
                        {"estimate", x.estimate},
                        {"width", std::isfinite(x.width) ? json(x.width) : json(nullptr)},
                        {"probability", x.probability}});
      json out = CampaignJson(s->record);
      out["policy"] = s->policy;
      out["updates"] = s->updates;
      out["arms"] = arms;
      PrintJson(out);
    } else {
      std::printf("campaign %s: policy %s, %llu decisions, %llu rewarded\n", s->record.name.c_str(), s->policy.c_str(),
                  static_cast<unsigned long long>(s->record.decisions),
                  static_cast<unsigned long long>(s->record.rewarded));
      std::printf("  %-20s %8s %8s %10s %10s %12s\n", "arm", "pulls", "rewarded", "mean", "estimate", "probability");
      for (const auto& x : s->arms)
        std::printf("  %-20s %8llu %8llu %10.4f %10.4f %12.4f\n", x.name.c_str(),
                    static_cast<unsigned long long>(x.pulls), static_cast<unsigned long long>(x.rewarded),
                    x.rewarded ? x.reward_sum / x.rewarded : 0.0, x.estimate, x.probability);
    }
    return 0;
  }
  if (a.action == "decide") {
    auto ctx = ParseContext(a.context);
    if (!ctx.ok()) return Fail(ctx.status());
    auto d = service.Decide(a.name, a.user, *ctx);
    if (!d.ok()) return Fail(d.status());
    if (a.json) {
      PrintJson({{"decision", d->id},
                 {"campaign", d->campaign},
                 {"arms", d->arm_names},
                 {"arm_ids", d->arms},
                 {"propensities", d->propensities}});
    } else {
      std::printf("%s", d->id.c_str());
      for (size_t k = 0; k < d->arms.size(); ++k)
        std::printf("\t%s (p=%.4f)", d->arm_names[k].c_str(), d->propensities[k]);
      std::printf("\n");
    }
    return 0;
  }
  if (a.action == "reward") {
    auto r = service.Reward(a.decision, a.rewards);
    if (!r.ok()) return Fail(r.status());
    if (a.json)
      PrintJson(
          {{"decision", r->decision}, {"duplicate", r->duplicate}, {"rewards", r->rewards}, {"updates", r->updates}});
    else
      std::printf("%s %s\n", r->decision.c_str(),
                  r->duplicate ? "already had its reward: nothing changed" : "rewarded; policy updated");
    return 0;
  }
  if (a.action == "log") {
    // The decision log in the JSON-lines format `souk ope --format souk`
    // reads: one line per chosen arm (position = its slot, 0-based).
    auto c = store->GetCampaign(a.name);
    if (!c.ok()) return Fail(c.status());
    auto ds = store->Decisions(c->id);
    if (!ds.ok()) return Fail(ds.status());
    for (const auto& d : *ds) {
      for (size_t k = 0; k < d.arms.size(); ++k) {
        json line = {{"decision", d.id},       {"campaign", c->name}, {"arm", d.arms[k]},
                     {"arms", c->arms.size()}, {"position", k},       {"propensity", d.propensities[k]},
                     {"ts_ms", d.ts_ms},       {"x", d.context}};
        line["reward"] = d.rewarded && k < d.rewards.size() ? json(d.rewards[k]) : json(nullptr);
        if (!d.user.empty()) line["user"] = d.user;
        std::printf("%s\n", line.dump().c_str());
      }
    }
    return 0;
  }
  return Fail(Status::InvalidArgument("unknown campaign action '" + a.action + "'"));
}

}  // namespace souk::cli
