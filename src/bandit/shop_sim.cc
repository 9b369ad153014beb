// The shop session simulator: a small MDP estimated from a generated shop's
// logged sessions (docs/bandit.md, "Q-learning"). The bandit library depends
// on core only, so the two CSV files are read here with a minimal RFC 4180
// reader (quoted fields, doubled quotes, quoted newlines) instead of ingest's.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "bandit/bandit.h"

namespace souk::bandit {

namespace {

Result<std::string> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::IoError("reading '" + path + "' failed");
  return ss.str();
}

// Reads one record starting at `pos`; returns false at the end of the text.
bool NextRecord(const std::string& text, size_t& pos, std::vector<std::string>* fields) {
  fields->clear();
  if (pos >= text.size()) return false;
  std::string field;
  bool quoted = false;
  while (pos < text.size()) {
    const char c = text[pos++];
    if (quoted) {
      if (c == '"') {
        if (pos < text.size() && text[pos] == '"') {
          field += '"';
          ++pos;
        } else {
          quoted = false;
        }
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields->push_back(std::move(field));
      field.clear();
    } else if (c == '\n') {
      break;
    } else if (c != '\r') {
      field += c;
    }
  }
  fields->push_back(std::move(field));
  return true;
}

int Column(const std::vector<std::string>& header, std::string_view name) {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return static_cast<int>(i);
  return -1;
}

// "Top > Mid > Leaf" cut to its first `level` parts.
std::string CategoryAt(const std::string& path, int level) {
  size_t end = 0;
  for (int l = 0; l < level; ++l) {
    end = path.find(" > ", l == 0 ? 0 : end + 3);
    if (end == std::string::npos) return path;
  }
  return path.substr(0, end);
}

}  // namespace

Result<ShopSim> ShopSim::FromShop(const std::string& generated_dir, const ShopSimOptions& options) {
  if (options.level < 1 || options.level > 3) return Status::InvalidArgument("level must be 1, 2 or 3");
  SOUK_ASSIGN_OR_RETURN(std::string items_text, ReadAll(generated_dir + "/items.csv"));
  size_t pos = 0;
  std::vector<std::string> f, header;
  if (!NextRecord(items_text, pos, &header)) return Status::Corruption("items.csv is empty");
  const int c_id = Column(header, "item_id"), c_cat = Column(header, "category");
  if (c_id < 0 || c_cat < 0) return Status::Corruption("items.csv has no item_id or category column");
  std::vector<std::string> categories;
  std::unordered_map<std::string, uint32_t> cat_ids, item_cat;
  while (NextRecord(items_text, pos, &f)) {
    if (static_cast<int>(f.size()) <= std::max(c_id, c_cat) || f[c_id].empty() || f[c_cat].empty()) continue;
    const std::string cat = CategoryAt(f[c_cat], options.level);
    auto [it, inserted] = cat_ids.emplace(cat, static_cast<uint32_t>(categories.size()));
    if (inserted) categories.push_back(cat);
    item_cat.emplace(f[c_id], it->second);
  }
  items_text.clear();
  if (categories.empty()) return Status::Corruption("items.csv has no items with a category");
  // Category ids in name order, so the simulator does not depend on item order.
  std::vector<uint32_t> order(categories.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return categories[a] < categories[b]; });
  std::vector<uint32_t> remap(categories.size());
  std::vector<std::string> sorted(categories.size());
  for (uint32_t r = 0; r < order.size(); ++r) remap[order[r]] = r, sorted[r] = categories[order[r]];
  for (auto& [item, cat] : item_cat) cat = remap[cat];

  SOUK_ASSIGN_OR_RETURN(std::string ev, ReadAll(generated_dir + "/events.csv"));
  pos = 0;
  if (!NextRecord(ev, pos, &header)) return Status::Corruption("events.csv is empty");
  const int e_item = Column(header, "item_id"), e_type = Column(header, "event_type"),
            e_ts = Column(header, "timestamp"), e_sess = Column(header, "session_id"),
            e_value = Column(header, "value");
  if (e_item < 0 || e_type < 0 || e_ts < 0 || e_sess < 0)
    return Status::Corruption("events.csv lacks item_id, event_type, timestamp or session_id");
  const int need = std::max({e_item, e_type, e_ts, e_sess});
  struct Open {
    SessionViews views;
    std::vector<uint32_t> item;  // item of each view (index into a local intern table)
    uint32_t events = 0;
    std::string last;  // the previous event's (type, item, timestamp), to drop duplicated rows
  };
  std::unordered_map<std::string, uint32_t> sess_ids, item_ids;
  std::vector<Open> open;
  while (NextRecord(ev, pos, &f)) {
    if (static_cast<int>(f.size()) <= need || f[e_sess].empty()) continue;
    const std::string& type = f[e_type];
    const bool view = type == "view", click = type == "click", purchase = type == "purchase";
    auto [sit, fresh] = sess_ids.emplace(f[e_sess], static_cast<uint32_t>(open.size()));
    if (fresh) open.emplace_back();
    Open& s = open[sit->second];
    ++s.events;
    std::string key = type + '\x1f' + f[e_item] + '\x1f' + f[e_ts];
    if (key == s.last) continue;  // an exact duplicate of the session's previous event
    s.last = std::move(key);
    if (!view && !click && !purchase) continue;
    auto cit = item_cat.find(f[e_item]);
    if (cit == item_cat.end()) continue;  // empty or orphan item
    const uint32_t item = item_ids.emplace(f[e_item], static_cast<uint32_t>(item_ids.size())).first->second;
    if (view) {
      s.views.category.push_back(cit->second);
      s.views.clicked.push_back(0);
      s.views.purchased.push_back(0);
      s.views.paid.push_back(0);
      s.item.push_back(item);
      continue;
    }
    // A click or purchase belongs to the latest view of its item.
    for (size_t i = s.item.size(); i-- > 0;) {
      if (s.item[i] != item) continue;
      s.views.clicked[i] = 1;
      if (purchase) {
        s.views.purchased[i] = 1;
        if (e_value >= 0 && e_value < static_cast<int>(f.size()))
          s.views.paid[i] = std::strtod(f[e_value].c_str(), nullptr);
      }
      break;
    }
  }
  ev.clear();
  std::vector<SessionViews> sessions;
  sessions.reserve(open.size());
  for (auto& s : open)
    if (s.events <= options.max_session_events && !s.views.category.empty()) sessions.push_back(std::move(s.views));
  return FromSessions(std::move(sorted), sessions, options);
}

Result<ShopSim> ShopSim::FromSessions(std::vector<std::string> categories, const std::vector<SessionViews>& sessions,
                                      const ShopSimOptions& options) {
  if (categories.empty()) return Status::InvalidArgument("no categories");
  if (options.history < 1 || options.history > 2) return Status::InvalidArgument("history must be 1 or 2");
  if (options.prior <= 0) return Status::InvalidArgument("prior must be > 0");
  if (options.max_steps == 0) return Status::InvalidArgument("max_steps must be > 0");
  if (!(options.interest_power >= 0)) return Status::InvalidArgument("interest_power must be >= 0");
  ShopSim sim;
  sim.options_ = options;
  sim.categories_ = std::move(categories);
  const uint32_t C = static_cast<uint32_t>(sim.categories_.size());
  sim.states_ = options.history == 1 ? C + 1 : (C + 1) * (C + 1);
  const uint32_t S = sim.states_;
  std::vector<double> V(size_t{S} * C), K(V.size()), P(V.size()), Vs(S), H(size_t{S} * 2), He(H.size());
  std::vector<double> Vc(C), Kc(C), Pc(C), E(2), Ee(2), paid_sum(C), paid_n(C);
  for (const auto& s : sessions) {
    const size_t n = s.category.size();
    if (s.clicked.size() != n || s.purchased.size() != n || (!s.paid.empty() && s.paid.size() != n))
      return Status::InvalidArgument("ragged session");
    if (n == 0) continue;
    ++sim.sessions_;
    uint32_t state = 0;
    for (size_t i = 0; i < n; ++i) {
      const uint32_t a = s.category[i];
      if (a >= C) return Status::InvalidArgument("category id out of range");
      const bool c = s.clicked[i] || s.purchased[i], b = s.purchased[i];
      const size_t sa = size_t{state} * C + a;
      V[sa] += 1, K[sa] += c, P[sa] += b, Vs[state] += 1;
      Vc[a] += 1, Kc[a] += c, Pc[a] += b;
      if (b && !s.paid.empty() && s.paid[i] > 0) paid_sum[a] += s.paid[i], paid_n[a] += 1;
      state = sim.Push(state, a);
      const bool last = i + 1 == n;
      H[size_t{state} * 2 + c] += 1, He[size_t{state} * 2 + c] += last;
      E[c] += 1, Ee[c] += last;
      ++sim.views_;
    }
  }
  if (sim.views_ == 0) return Status::InvalidArgument("no views to learn from");
  const double m = options.prior;
  double vtot = 0, ktot = 0, ptot = 0;
  for (uint32_t a = 0; a < C; ++a) vtot += Vc[a], ktot += Kc[a], ptot += Pc[a];
  const double ctr_all = (ktot + 1) / (vtot + 2), buy_all = (ptot + 1) / (ktot + 2);
  std::vector<double> g(C), ctr(C), buy(C);
  for (uint32_t a = 0; a < C; ++a) {
    g[a] = (Vc[a] + 1) / (vtot + C);
    ctr[a] = (Kc[a] + m * ctr_all) / (Vc[a] + m);
    buy[a] = (Pc[a] + m * buy_all) / (Kc[a] + m);
  }
  const double end_c[2] = {(Ee[0] + 1) / (E[0] + 2), (Ee[1] + 1) / (E[1] + 2)};
  sim.click_.assign(size_t{S} * C, 0);
  sim.buy_.assign(sim.click_.size(), 0);
  sim.next_.assign(sim.click_.size(), 0);
  sim.next_cdf_.assign(sim.click_.size(), 0);
  sim.end_.assign(size_t{S} * 2, 0);
  for (uint32_t s = 0; s < S; ++s) {
    if (Vs[s] > 0) ++sim.observed_states_;
    double tmax = 0, cum = 0;
    for (uint32_t a = 0; a < C; ++a) {
      const size_t sa = size_t{s} * C + a;
      sim.next_[sa] = (V[sa] + m * g[a]) / (Vs[s] + m);
      tmax = std::max(tmax, sim.next_[sa]);
    }
    double total = 0;
    for (uint32_t a = 0; a < C; ++a) total += sim.next_[size_t{s} * C + a];
    for (uint32_t a = 0; a < C; ++a) {
      const size_t sa = size_t{s} * C + a;
      sim.next_[sa] /= total;  // exact normalisation (g sums to 1 up to rounding)
      cum += sim.next_[sa];
      sim.next_cdf_[sa] = cum;
      const double interest = std::pow(sim.next_[sa] / (tmax / total), options.interest_power);
      sim.click_[sa] = std::clamp((K[sa] + m * ctr[a]) / (V[sa] + m) * interest, 0.0, 1.0);
      sim.buy_[sa] = std::clamp((P[sa] + m * buy[a]) / (K[sa] + m), 0.0, 1.0);
    }
    sim.next_cdf_[size_t{s} * C + C - 1] = 1;
    for (int c = 0; c < 2; ++c) {
      const size_t i = size_t{s} * 2 + c;
      sim.end_[i] = (He[i] + m * end_c[c]) / (H[i] + m);
    }
  }
  sim.value_.assign(C, 1);
  if (options.revenue) {
    double total = 0, n = 0;
    for (uint32_t a = 0; a < C; ++a) total += paid_sum[a], n += paid_n[a];
    if (n > 0 && total > 0) {
      const double mean = total / n;
      for (uint32_t a = 0; a < C; ++a) sim.value_[a] = (paid_sum[a] + m * mean) / (paid_n[a] + m) / mean;
    }
  }
  sim.popular_ = static_cast<uint32_t>(std::max_element(Kc.begin(), Kc.end()) - Kc.begin());
  return sim;
}

double ShopSim::max_reward() const {
  return 1 + options_.purchase_weight * *std::max_element(value_.begin(), value_.end());
}

uint32_t ShopSim::Push(uint32_t s, uint32_t category) const {
  const uint32_t base = actions() + 1;
  if (options_.history == 1) return category + 1;
  return (category + 1) + base * (s % base);
}

std::string ShopSim::StateName(uint32_t s) const {
  const uint32_t base = actions() + 1;
  std::string name;
  for (int i = 0; i < options_.history; ++i) {
    const uint32_t token = s % base;
    s /= base;
    if (token == 0) break;
    if (!name.empty()) name += " <- ";
    name += categories_[token - 1];
  }
  return name.empty() ? "start" : name;
}

uint32_t ShopSim::state_features() const { return static_cast<uint32_t>(options_.history) * (actions() + 1); }

void ShopSim::StateFeatures(uint32_t state, std::vector<uint32_t>* active) const {
  const uint32_t base = actions() + 1;
  active->clear();
  for (int i = 0; i < options_.history; ++i) {
    active->push_back(static_cast<uint32_t>(i) * base + state % base);
    state /= base;
  }
}

uint32_t ShopSim::Reset(Rng&) {
  state_ = start_state();
  steps_ = 0;
  pending_ = 0;
  return state_;
}

EnvStep ShopSim::Step(uint32_t action, Rng& rng) {
  const uint32_t C = actions();
  const uint32_t s = state_;
  const size_t sa = size_t{s} * C + action;
  EnvStep out;
  const bool clicked = rng.Uniform() < click_[sa];
  uint32_t next;
  if (clicked) {
    out.reward = 1;
    if (rng.Uniform() < buy_[sa]) (options_.checkout ? pending_ : out.reward) += PurchaseReward(action);
    next = Push(s, action);
  } else {
    const double u = rng.Uniform();
    const double* cdf = &next_cdf_[size_t{s} * C];
    const uint32_t w = static_cast<uint32_t>(std::upper_bound(cdf, cdf + C, u) - cdf);
    next = Push(s, std::min(w, C - 1));
  }
  ++steps_;
  const double end_draw = rng.Uniform();
  out.done =
      (options_.click_to_continue && !clicked) || steps_ >= options_.max_steps || end_draw < EndProb(next, clicked);
  if (out.done) out.reward += pending_, pending_ = 0;
  out.next = next;
  state_ = next;
  return out;
}

std::vector<uint32_t> ShopSim::MyopicPolicy() const {
  std::vector<uint32_t> policy(states_);
  for (uint32_t s = 0; s < states_; ++s) {
    double best = -1;
    for (uint32_t a = 0; a < actions(); ++a)
      if (ImmediateReward(s, a) > best) best = ImmediateReward(s, a), policy[s] = a;
  }
  return policy;
}

std::vector<uint32_t> ShopSim::OptimalPolicy(double gamma, double tolerance) const {
  const uint32_t C = actions();
  std::vector<double> value(states_, 0), fresh(states_, 0);
  std::vector<uint32_t> policy(states_, 0);
  // Continuation value of an unclicked step does not depend on the action.
  auto go_on = [&](uint32_t next, bool clicked) {
    if (options_.click_to_continue && !clicked) return 0.0;
    return (1 - EndProb(next, clicked)) * value[next];
  };
  for (int iter = 0; iter < 100000; ++iter) {
    double change = 0;
    for (uint32_t s = 0; s < states_; ++s) {
      double unclicked = 0;
      for (uint32_t w = 0; w < C; ++w) unclicked += NextProb(s, w) * go_on(Push(s, w), false);
      double best = -1;
      for (uint32_t a = 0; a < C; ++a) {
        const double p = ClickProb(s, a);
        const double q = ExpectedReward(s, a) + gamma * (p * go_on(Push(s, a), true) + (1 - p) * unclicked);
        if (q > best + 1e-12) best = q, policy[s] = a;
      }
      fresh[s] = best;
      change = std::max(change, std::abs(best - value[s]));
    }
    value.swap(fresh);
    if (change < tolerance) break;
  }
  return policy;
}

}  // namespace souk::bandit
