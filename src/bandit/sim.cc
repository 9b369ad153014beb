// Bandit simulators: Bernoulli, linear and logistic environments, cumulative
// (pseudo-)regret over seeds, the Lai-Robbins bound, and an SVG chart.
//
// Each seed has two random streams: the environment's (means, contexts,
// rewards) and the policy's (its exploration), so two policies run with the
// same seed face the same contexts and the same reward coins.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include "bandit/bandit.h"

namespace souk::bandit {

namespace {

double KlBernoulli(double p, double q) {
  auto term = [](double a, double b) { return a <= 0 ? 0.0 : a * std::log(a / b); };
  q = std::clamp(q, 1e-12, 1 - 1e-12);
  return term(p, q) + term(1 - p, 1 - q);
}

struct Env {
  const SimOptions& o;
  std::vector<double> means;               // bernoulli
  std::vector<std::vector<double>> theta;  // linear, logistic
  std::vector<float> x;
  std::vector<double> mu;  // this round's expected rewards
  // shop: the seed's own simulator, its state, and the last step's reward.
  std::unique_ptr<EpisodicEnv> shop;
  uint32_t state = 0;
  bool in_session = false;
  std::vector<uint32_t> active;
  double step_reward = 0;

  Env(const SimOptions& opt, Rng& rng) : o(opt) {
    if (o.env == "shop") {
      shop = o.episodic->Clone();
      x.assign(o.dim, 0.0f);
      mu.resize(o.arms);
    } else if (o.env == "bernoulli") {
      if (!o.means.empty()) {
        means = o.means;
      } else if (o.gap < 0) {
        means.resize(o.arms);
        for (double& m : means) m = rng.Uniform();
      } else {
        means.assign(o.arms, o.best - o.gap);
        means[0] = o.best;  // arm 0: the policies are symmetric in arms
      }
      mu = means;
    } else {
      theta.assign(o.arms, std::vector<double>(o.dim));
      for (auto& t : theta)
        for (double& v : t) v = rng.Normal();
      x.resize(o.dim);
      mu.resize(o.arms);
    }
  }
  // Draws this round's context and fills mu.
  void Round(Rng& rng) {
    if (o.env == "bernoulli") return;
    if (o.env == "shop") {
      if (!in_session) state = shop->Reset(rng), in_session = true;
      std::fill(x.begin(), x.end(), 0.0f);
      shop->StateFeatures(state, &active);
      for (uint32_t f : active) x[f] = 1.0f;
      for (uint32_t a = 0; a < o.arms; ++a) mu[a] = o.expected(state, a);
      return;
    }
    // The last coordinate is a constant 0.5 (an intercept: theta_a's last
    // entry is arm a's context-free part, so non-contextual policies have
    // something to learn too); the others are N(0, 1/(d-1)).
    const double scale = 1 / std::sqrt(static_cast<double>(std::max<uint32_t>(1, o.dim - 1)));
    for (float& v : x) v = static_cast<float>(rng.Normal() * scale);
    if (o.dim >= 2) x[o.dim - 1] = 0.5f;
    for (uint32_t a = 0; a < o.arms; ++a) {
      double s = 0;
      for (uint32_t i = 0; i < o.dim; ++i) s += theta[a][i] * x[i];
      mu[a] = o.env == "linear" ? s : 1 / (1 + std::exp(-(o.bias + s)));
    }
  }
  double Reward(uint32_t a, Rng& rng) {
    if (o.env == "shop") {
      // The simulated user reacts (click, purchases) and moves on.
      const EnvStep step = shop->Step(a, rng);
      state = step.next;
      in_session = !step.done;
      return std::clamp(step.reward / shop->max_reward(), 0.0, 1.0);
    }
    if (o.env == "linear") return mu[a] + o.noise * rng.Normal();
    return rng.Uniform() < mu[a] ? 1.0 : 0.0;
  }
};

struct SeedRun {
  double regret = 0, reward = 0;
  uint64_t best = 0;
  std::vector<double> curve;
  Status status;
};

}  // namespace

double LaiRobbinsConstant(const std::vector<double>& means) {
  const double best = *std::max_element(means.begin(), means.end());
  double c = 0;
  for (double m : means)
    if (m < best) c += (best - m) / KlBernoulli(m, best);
  return c;
}

std::vector<std::string> DefaultSimPolicies(const std::string& env) {
  if (env == "shop") return {"egreedy", "ucb1", "ts", "linucb:alpha=0.2", "lints:v=0.1"};
  if (env == "linear") return {"egreedy", "ucb1", "gts:sigma=0.5", "linucb:alpha=0.5", "lints:v=0.2"};
  if (env == "logistic") return {"egreedy", "ucb1", "ts", "linucb:alpha=0.5", "lints:v=0.3"};
  return {"egreedy:eps=0.1,decay=0.01", "ucb1", "ts", "gts:sigma=0.5"};
}

Result<SimResult> Simulate(const SimOptions& o, std::string_view spec) {
  if (o.env != "bernoulli" && o.env != "linear" && o.env != "logistic" && o.env != "shop")
    return Status::InvalidArgument("unknown environment '" + o.env + "' (known: bernoulli, linear, logistic, shop)");
  SimOptions opt = o;
  if (o.env == "shop") {
    if (!o.episodic || !o.expected)
      return Status::InvalidArgument("the shop environment needs a simulator (--shop DIR)");
    opt.arms = o.episodic->actions();
    opt.dim = o.episodic->state_features();
  }
  const uint32_t arms = o.env == "bernoulli" && !o.means.empty() ? static_cast<uint32_t>(o.means.size()) : opt.arms;
  if (arms < 2) return Status::InvalidArgument("a simulation needs at least 2 arms");
  if (o.rounds == 0 || o.seeds == 0) return Status::InvalidArgument("rounds and seeds must be > 0");
  if (o.env != "bernoulli" && opt.dim == 0) return Status::InvalidArgument(o.env + " needs --dim > 0");
  for (double m : o.means)
    if (!(m >= 0 && m <= 1)) return Status::InvalidArgument("Bernoulli means must be in [0, 1]");
  if (o.env == "bernoulli" && o.means.empty() && o.gap >= 0 && !(o.best - o.gap >= 0 && o.best <= 1))
    return Status::InvalidArgument("--best and --gap must leave every mean in [0, 1]");
  opt.arms = arms;
  const uint32_t dim = o.env == "bernoulli" ? 0 : opt.dim;
  SOUK_ASSIGN_OR_RETURN(auto probe, MakePolicy(spec, arms, dim));
  SimResult out;
  out.policy = probe->Describe();
  out.env = o.env;
  out.arms = arms;
  out.rounds = o.rounds;
  out.seeds = o.seeds;
  const uint32_t points = std::max<uint32_t>(1, static_cast<uint32_t>(std::min<uint64_t>(o.points, o.rounds)));
  for (uint32_t p = 1; p <= points; ++p) out.curve_t.push_back(o.rounds * p / points);

  std::vector<SeedRun> runs(o.seeds);
  auto run_seed = [&](uint32_t s) {
    SeedRun& r = runs[s];
    auto policy = MakePolicy(spec, arms, dim);
    if (!policy.ok()) {
      r.status = policy.status();
      return;
    }
    Rng env_rng(o.seed * 7919 + s * 2 + 1), policy_rng(o.seed * 7919 + s * 2 + 2);
    Env env(opt, env_rng);
    size_t next_point = 0;
    for (uint64_t t = 1; t <= o.rounds; ++t) {
      env.Round(env_rng);
      const Context ctx{dim ? std::span<const float>(env.x) : std::span<const float>(), {}};
      const uint32_t a = (*policy)->Choose(ctx, policy_rng, {});
      const double best = *std::max_element(env.mu.begin(), env.mu.end());
      r.regret += best - env.mu[a];
      r.best += env.mu[a] == best;
      const double reward = env.Reward(a, env_rng);
      r.reward += reward;
      (*policy)->Update(a, ctx, reward);
      if (next_point < out.curve_t.size() && t == out.curve_t[next_point]) {
        r.curve.push_back(r.regret);
        ++next_point;
      }
    }
  };
  const auto t0 = std::chrono::steady_clock::now();
  const uint32_t threads =
      std::min<uint32_t>(o.seeds, o.threads ? o.threads : std::max(1u, std::thread::hardware_concurrency()));
  {
    std::vector<std::thread> pool;
    std::atomic<uint32_t> next{0};
    for (uint32_t w = 0; w < threads; ++w)
      pool.emplace_back([&] {
        for (uint32_t s; (s = next++) < o.seeds;) run_seed(s);
      });
    for (auto& th : pool) th.join();
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (const SeedRun& r : runs) SOUK_RETURN_IF_ERROR(r.status);

  double sum = 0, sq = 0, reward = 0, best = 0;
  out.curve_regret.assign(out.curve_t.size(), 0);
  for (const SeedRun& r : runs) {
    sum += r.regret;
    sq += r.regret * r.regret;
    reward += r.reward;
    best += static_cast<double>(r.best);
    for (size_t p = 0; p < r.curve.size(); ++p) out.curve_regret[p] += r.curve[p] / o.seeds;
  }
  const double n = o.seeds;
  out.regret = sum / n;
  out.regret_se = n > 1 ? std::sqrt(std::max(0.0, (sq - sum * sum / n) / (n - 1)) / n) : 0;
  out.reward = reward / (n * static_cast<double>(o.rounds));
  out.best_share = best / (n * static_cast<double>(o.rounds));
  if (o.env == "bernoulli" && (o.gap >= 0 || !o.means.empty())) {
    // Fixed means: the bound is the same for every seed. (Random means: the
    // mean over seeds of each seed's bound.)
    Rng unused(0);
    Env env(opt, unused);
    out.lower_bound = LaiRobbinsConstant(env.means) * std::log(static_cast<double>(o.rounds));
  } else if (o.env == "bernoulli") {
    double lb = 0;
    for (uint32_t s = 0; s < o.seeds; ++s) {
      Rng env_rng(o.seed * 7919 + s * 2 + 1);
      Env env(opt, env_rng);
      lb += LaiRobbinsConstant(env.means) * std::log(static_cast<double>(o.rounds)) / n;
    }
    out.lower_bound = lb;
  }
  return out;
}

std::string RegretChartHtml(const std::vector<SimResult>& results, const std::string& title) {
  const double W = 760, H = 420, L = 70, R = 190, T = 30, B = 50;
  double ymax = 1;
  uint64_t xmax = 1;
  for (const auto& r : results) {
    for (double v : r.curve_regret) ymax = std::max(ymax, v);
    if (!r.curve_t.empty()) xmax = std::max(xmax, r.curve_t.back());
    if (r.lower_bound > 0) ymax = std::max(ymax, r.lower_bound);
  }
  ymax *= 1.05;
  auto X = [&](double t) { return L + (W - L - R) * t / static_cast<double>(xmax); };
  auto Y = [&](double v) { return T + (H - T - B) * (1 - v / ymax); };
  static const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
                                  "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
  auto esc = [](const std::string& s) {
    std::string o;
    for (char c : s) o += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : std::string(1, c);
    return o;
  };
  std::string svg = fmt::format(
      "<svg xmlns='http://www.w3.org/2000/svg' width='{}' height='{}' font-family='sans-serif' "
      "font-size='12'>\n",
      W, H);
  svg += fmt::format("<line x1='{}' y1='{}' x2='{}' y2='{}' stroke='#333'/>\n", L, H - B, W - R, H - B);
  svg += fmt::format("<line x1='{}' y1='{}' x2='{}' y2='{}' stroke='#333'/>\n", L, T, L, H - B);
  for (int i = 0; i <= 5; ++i) {
    const double v = ymax * i / 5, t = static_cast<double>(xmax) * i / 5;
    svg += fmt::format("<text x='{}' y='{}' text-anchor='end'>{:.0f}</text>\n", L - 6, Y(v) + 4, v);
    svg += fmt::format("<text x='{}' y='{}' text-anchor='middle'>{:.0f}</text>\n", X(t), H - B + 18, t);
    svg += fmt::format("<line x1='{}' y1='{}' x2='{}' y2='{}' stroke='#eee'/>\n", L, Y(v), W - R, Y(v));
  }
  svg += fmt::format("<text x='{}' y='{}' text-anchor='middle'>round</text>\n", (L + W - R) / 2, H - 12);
  svg +=
      fmt::format("<text x='16' y='{}' transform='rotate(-90 16 {})' text-anchor='middle'>cumulative regret</text>\n",
                  (T + H - B) / 2, (T + H - B) / 2);
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    const char* color = kColors[i % 10];
    std::string pts = fmt::format("{:.1f},{:.1f}", X(0), Y(0));
    for (size_t p = 0; p < r.curve_t.size(); ++p)
      pts += fmt::format(" {:.1f},{:.1f}", X(static_cast<double>(r.curve_t[p])), Y(r.curve_regret[p]));
    svg += fmt::format("<polyline fill='none' stroke='{}' stroke-width='2' points='{}'/>\n", color, pts);
    svg += fmt::format("<rect x='{}' y='{}' width='12' height='3' fill='{}'/><text x='{}' y='{}'>{}</text>\n",
                       W - R + 10, T + 18 * i + 4, color, W - R + 28, T + 18 * i + 9, esc(r.policy));
  }
  // The Lai-Robbins curve C ln t (Bernoulli), where the first result has it.
  if (!results.empty() && results[0].lower_bound > 0) {
    const auto& r = results[0];
    const double c = r.lower_bound / std::log(static_cast<double>(r.rounds));
    std::string pts;
    for (size_t p = 0; p < r.curve_t.size(); ++p)
      pts += fmt::format("{}{:.1f},{:.1f}", p ? " " : "", X(static_cast<double>(r.curve_t[p])),
                         Y(c * std::log(static_cast<double>(r.curve_t[p]))));
    svg += fmt::format("<polyline fill='none' stroke='#000' stroke-dasharray='5,4' points='{}'/>\n", pts);
    svg += fmt::format("<text x='{}' y='{}'>Lai-Robbins C ln t</text>\n", W - R + 28, T + 18 * results.size() + 9);
  }
  svg += "</svg>\n";
  std::string html =
      "<!doctype html><html><head><meta charset='utf-8'><title>" + esc(title) +
      "</title></head><body style='font-family:sans-serif'>\n<h2>" + esc(title) + "</h2>\n" + svg +
      "<table border='1' cellpadding='4' style='border-collapse:collapse'><tr><th>policy</th>"
      "<th>regret</th><th>&plusmn; se</th><th>lower bound</th><th>mean reward</th><th>best-arm share</th>"
      "<th>seconds</th></tr>\n";
  for (const auto& r : results)
    html += fmt::format(
        "<tr><td>{}</td><td>{:.1f}</td><td>{:.1f}</td><td>{}</td><td>{:.4f}</td><td>{:.3f}</td>"
        "<td>{:.2f}</td></tr>\n",
        esc(r.policy), r.regret, r.regret_se, r.lower_bound > 0 ? fmt::format("{:.1f}", r.lower_bound) : "-", r.reward,
        r.best_share, r.seconds);
  html += "</table></body></html>\n";
  return html;
}

}  // namespace souk::bandit
