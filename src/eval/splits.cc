// Train/evaluation splits of an interaction log.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <numeric>
#include <unordered_map>
#include <unordered_set>

#include "eval/eval.h"

namespace souk::eval {

namespace {

constexpr int64_t kSessionGapMs = 30 * 60 * 1000;  // as rec::BuildInteractions
constexpr int64_t kDayMs = 24 * 60 * 60 * 1000;

// Indices of each user's interactions in (ts, input) order: the same order
// rec::Interactions::Sequence uses.
std::vector<std::vector<uint32_t>> ByUser(std::span<const rec::Interaction> data, uint32_t num_users) {
  std::vector<std::vector<uint32_t>> by_user(num_users);
  for (size_t i = 0; i < data.size(); ++i) {
    assert(data[i].user < num_users);
    by_user[data[i].user].push_back(static_cast<uint32_t>(i));
  }
  for (auto& v : by_user) {
    std::stable_sort(v.begin(), v.end(), [&](uint32_t a, uint32_t b) { return data[a].ts_ms < data[b].ts_ms; });
  }
  return by_user;
}

rec::History MakeHistory(std::span<const rec::Interaction> data, std::span<const uint32_t> idx, uint32_t user) {
  rec::History h;
  h.user = user;
  h.items.reserve(idx.size());
  h.weights.reserve(idx.size());
  h.ts_ms.reserve(idx.size());
  for (uint32_t i : idx) {
    h.items.push_back(data[i].item);
    h.weights.push_back(data[i].weight);
    h.ts_ms.push_back(data[i].ts_ms);
  }
  return h;
}

// Everything whose flag is false, in input order.
std::vector<rec::Interaction> Keep(std::span<const rec::Interaction> data, const std::vector<bool>& held_out) {
  std::vector<rec::Interaction> out;
  out.reserve(data.size());
  for (size_t i = 0; i < data.size(); ++i) {
    if (!held_out[i]) out.push_back(data[i]);
  }
  return out;
}

}  // namespace

Split LeaveOneOut(std::span<const rec::Interaction> data, uint32_t num_users, Stage stage) {
  Split split;
  split.name = stage == Stage::kTest ? "loo-test" : "loo-validation";
  const size_t back = stage == Stage::kTest ? 1 : 2;  // which new item, counted from the end
  std::vector<bool> held_out(data.size(), false);
  const auto by_user = ByUser(data, num_users);
  std::vector<size_t> firsts;  // positions in seq of each item's first encounter
  std::unordered_set<uint32_t> seen;
  for (uint32_t u = 0; u < num_users; ++u) {
    const auto& seq = by_user[u];
    firsts.clear();
    seen.clear();
    for (size_t j = 0; j < seq.size(); ++j) {
      if (seen.insert(data[seq[j]].item).second) firsts.push_back(j);
    }
    if (firsts.size() < 3) continue;
    const size_t target = firsts[firsts.size() - back];
    for (size_t j = target; j < seq.size(); ++j) held_out[seq[j]] = true;
    Case c;
    c.user = u;
    c.history = MakeHistory(data, std::span(seq).first(target), u);
    c.targets = {data[seq[target]].item};
    split.cases.push_back(std::move(c));
  }
  split.train = Keep(data, held_out);
  return split;
}

Result<Split> Temporal(std::span<const rec::Interaction> data, uint32_t num_users, double fraction) {
  if (!(fraction > 0 && fraction < 1)) {
    return Status::InvalidArgument("temporal split: fraction must be in (0, 1), got " + rec::FormatNumber(fraction));
  }
  Split split;
  split.name = "temporal:" + rec::FormatNumber(fraction);
  if (data.empty()) return split;
  std::vector<int64_t> ts(data.size());
  for (size_t i = 0; i < data.size(); ++i) ts[i] = data[i].ts_ms;
  std::sort(ts.begin(), ts.end());
  const size_t pos = std::min(ts.size() - 1, static_cast<size_t>(fraction * static_cast<double>(ts.size())));
  const int64_t cutoff = ts[pos];

  std::vector<bool> held_out(data.size());
  for (size_t i = 0; i < data.size(); ++i) held_out[i] = data[i].ts_ms >= cutoff;
  split.train = Keep(data, held_out);

  const auto by_user = ByUser(data, num_users);
  std::vector<uint32_t> before;
  for (uint32_t u = 0; u < num_users; ++u) {
    before.clear();
    Case c;
    c.user = u;
    std::unordered_set<uint32_t> excluded;  // history items, then targets already taken
    for (uint32_t i : by_user[u]) {
      if (!held_out[i]) {
        before.push_back(i);
        excluded.insert(data[i].item);
      }
    }
    if (before.empty()) continue;
    for (uint32_t i : by_user[u]) {
      if (held_out[i] && excluded.insert(data[i].item).second) c.targets.push_back(data[i].item);
    }
    if (c.targets.empty()) continue;
    c.history = MakeHistory(data, before, u);
    split.cases.push_back(std::move(c));
  }
  return split;
}

Result<Split> Sessions(std::span<const rec::Interaction> data, uint32_t num_users, const SessionSplitOptions& options) {
  Split split;
  split.exclude_seen = false;
  if (options.last_days > 0) {
    if (!std::isfinite(options.last_days)) return Status::InvalidArgument("session split: last_days must be finite");
    split.name = "sessions:days=" + rec::FormatNumber(options.last_days);
  } else {
    if (!(options.test_fraction > 0 && options.test_fraction < 1)) {
      return Status::InvalidArgument("session split: test fraction must be in (0, 1), got " +
                                     rec::FormatNumber(options.test_fraction));
    }
    split.name = "sessions:" + rec::FormatNumber(options.test_fraction);
  }

  // Sessions exactly as rec::BuildInteractions cuts them: explicit keys per
  // (user, key); key 0 cut at inactivity gaps between a user's keyless events.
  std::vector<std::vector<uint32_t>> sessions;  // interaction indices, (ts, input) order
  {
    const auto by_user = ByUser(data, num_users);
    std::unordered_map<uint64_t, uint32_t> key_to_session;
    for (uint32_t u = 0; u < num_users; ++u) {
      int64_t last_ts = 0;
      uint32_t implicit = rec::kNone;
      for (uint32_t i : by_user[u]) {
        const rec::Interaction& x = data[i];
        uint32_t s;
        if (x.session != 0) {
          auto [it, fresh] =
              key_to_session.try_emplace((uint64_t{u} << 32) | x.session, static_cast<uint32_t>(sessions.size()));
          if (fresh) sessions.emplace_back();
          s = it->second;
        } else {
          if (implicit == rec::kNone || x.ts_ms - last_ts > kSessionGapMs) {
            implicit = static_cast<uint32_t>(sessions.size());
            sessions.emplace_back();
          }
          s = implicit;
          last_ts = x.ts_ms;
        }
        sessions[s].push_back(i);
      }
    }
  }

  std::vector<uint32_t> order(sessions.size());
  std::iota(order.begin(), order.end(), 0u);
  auto last_ts = [&](uint32_t s) { return data[sessions[s].back()].ts_ms; };
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return last_ts(a) < last_ts(b); });

  size_t first_test = order.size();
  if (options.last_days > 0) {
    if (!order.empty()) {
      const int64_t max_ts = last_ts(order.back());
      const auto window = static_cast<int64_t>(options.last_days * static_cast<double>(kDayMs));
      while (first_test > 0 && last_ts(order[first_test - 1]) > max_ts - window) --first_test;
    }
  } else {
    const auto n_test = static_cast<size_t>(std::llround(options.test_fraction * static_cast<double>(order.size())));
    first_test = order.size() - std::min(n_test, order.size());
  }

  std::vector<bool> held_out(data.size(), false);
  for (size_t j = first_test; j < order.size(); ++j) {
    const auto& sess = sessions[order[j]];
    for (uint32_t i : sess) held_out[i] = true;
    for (size_t p = 0; p + 1 < sess.size(); ++p) {
      Case c;
      c.user = rec::kNone;
      c.history = MakeHistory(data, std::span(sess).first(p + 1), rec::kNone);
      c.targets = {data[sess[p + 1]].item};
      split.cases.push_back(std::move(c));
    }
  }
  split.train = Keep(data, held_out);
  return split;
}

}  // namespace souk::eval
