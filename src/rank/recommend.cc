// Blended recommendation candidates and the two models built on them, for
// rec's registry: `blend` (weighted reciprocal-rank fusion of the
// generators) and `ltr-recs` (LambdaMART over the blended candidates).
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "eval/eval.h"
#include "rank/rank.h"

namespace souk::rank {

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr double kRrf = 60;
constexpr int64_t kDayMs = 86'400'000;

const char* const kGeneratorNames[kGenerators] = {"user", "similar", "pop", "trending", "second"};

// "ials/f=64/reg=0.01" <-> "ials:f=64,reg=0.01": a model spec inside
// another one's value.
std::string DecodeSubSpec(std::string s) {
  const size_t slash = s.find('/');
  if (slash == std::string::npos) return s;
  s[slash] = ':';
  std::replace(s.begin() + static_cast<std::ptrdiff_t>(slash), s.end(), '/', ',');
  return s;
}
std::string EncodeSubSpec(std::string s) {
  std::replace(s.begin(), s.end(), ':', '/');
  std::replace(s.begin(), s.end(), ',', '/');
  return s;
}

// A sub-model, saved as its description and state (length-prefixed).
void WriteModel(std::ostream& out, const rec::Model* m) {
  WritePod<uint8_t>(out, m ? 1 : 0);
  if (!m) return;
  std::ostringstream state;
  (void)m->SaveState(state);
  WriteString(out, m->Describe());
  WriteString(out, state.str());
}
Result<std::unique_ptr<rec::Model>> ReadModel(std::istream& in, const std::string& owner) {
  uint8_t present = 0;
  if (!ReadPod(in, &present)) return Status::Corruption(owner + ": model file is truncated or corrupt");
  if (!present) return std::unique_ptr<rec::Model>();
  std::string spec, state;
  if (!ReadString(in, &spec) || !ReadString(in, &state))
    return Status::Corruption(owner + ": model file is truncated or corrupt");
  SOUK_ASSIGN_OR_RETURN(auto m, rec::MakeModel(spec));
  std::istringstream s(state);
  SOUK_RETURN_IF_ERROR(m->LoadState(s));
  return m;
}

// The generators a blending model owns, built from specs.
struct OwnedGenerators {
  std::string user_spec = "ials", similar_spec = "itemknn", second_spec = "none";
  std::unique_ptr<rec::Model> user, similar, pop, trending, second;

  GeneratorSet View() const { return {user.get(), similar.get(), pop.get(), trending.get(), second.get()}; }

  Status Fit(const rec::Interactions& data, const rec::FitContext& ctx, uint64_t from, uint64_t to,
             uint64_t total) {
    std::vector<std::pair<std::unique_ptr<rec::Model>*, std::string>> todo = {
        {&user, user_spec}, {&similar, similar_spec}, {&pop, "pop"}, {&trending, "trending"}, {&second, second_spec}};
    size_t n = 0;
    for (auto& [slot, spec] : todo) {
      if (spec == "none" || spec.empty()) {
        slot->reset();
        ++n;
        continue;
      }
      SOUK_ASSIGN_OR_RETURN(*slot, rec::MakeModel(spec));
      rec::FitContext c = ctx;
      const uint64_t a = from + (to - from) * n / todo.size(), b = from + (to - from) * (n + 1) / todo.size();
      if (ctx.progress)
        c.progress = [&ctx, a, b, total](uint64_t done, uint64_t t) {
          ctx.progress(a + (b - a) * done / std::max<uint64_t>(t, 1), total);
        };
      if ((*slot)->WantsContent() && !ctx.content)
        return Status::FailedPrecondition(fmt::format("{} needs the catalog's text (souk train loads it)", spec));
      SOUK_RETURN_IF_ERROR((*slot)->Fit(data, c));
      ++n;
    }
    if (!user && !similar && !pop) return Status::InvalidArgument("a blend needs at least one generator");
    return Status::Ok();
  }
  void Save(std::ostream& out) const {
    for (const auto* m : {user.get(), similar.get(), pop.get(), trending.get(), second.get()}) WriteModel(out, m);
  }
  Status Load(std::istream& in, const std::string& owner) {
    for (auto* slot : {&user, &similar, &pop, &trending, &second}) {
      SOUK_ASSIGN_OR_RETURN(*slot, ReadModel(in, owner));
    }
    return Status::Ok();
  }
};

// Reads the blend keys every blending model shares.
BlendOptions ReadBlendOptions(rec::Spec& spec, OwnedGenerators* g, size_t default_depth) {
  BlendOptions o;
  g->user_spec = DecodeSubSpec(spec.String("user", "ials"));
  g->similar_spec = DecodeSubSpec(spec.String("similar", "itemknn"));
  g->second_spec = DecodeSubSpec(spec.String("second", "none"));
  o.w_user = spec.Double("w_user", o.w_user);
  o.w_similar = spec.Double("w_similar", o.w_similar);
  o.w_pop = spec.Double("w_pop", o.w_pop);
  o.w_trending = spec.Double("w_trending", o.w_trending);
  o.w_second = spec.Double("w_second", o.w_second);
  o.depth = static_cast<size_t>(std::max<int64_t>(1, spec.Int("depth", static_cast<int64_t>(default_depth))));
  o.recent = static_cast<size_t>(std::max<int64_t>(1, spec.Int("recent", static_cast<int64_t>(o.recent))));
  return o;
}
std::string DescribeBlend(const OwnedGenerators& g, const BlendOptions& o) {
  const auto sub = [](const std::unique_ptr<rec::Model>& m, const std::string& spec) {
    return EncodeSubSpec(m ? m->Describe() : spec);
  };
  return fmt::format(
      "user={},similar={},second={},w_user={},w_similar={},w_pop={},w_trending={},w_second={},depth={},recent={}",
      sub(g.user, g.user_spec), sub(g.similar, g.similar_spec), sub(g.second, g.second_spec),
      rec::FormatNumber(o.w_user), rec::FormatNumber(o.w_similar), rec::FormatNumber(o.w_pop),
      rec::FormatNumber(o.w_trending), rec::FormatNumber(o.w_second), o.depth, o.recent);
}
void WriteBlendOptions(std::ostream& out, const BlendOptions& o) {
  WritePod(out, o.w_user), WritePod(out, o.w_similar), WritePod(out, o.w_pop), WritePod(out, o.w_trending);
  WritePod(out, o.w_second);
  WritePod<uint64_t>(out, o.depth), WritePod<uint64_t>(out, o.recent), WritePod<uint64_t>(out, o.neighbours);
}
bool ReadBlendOptions(std::istream& in, BlendOptions* o) {
  uint64_t depth = 0, recent = 0, neighbours = 0;
  const bool ok = ReadPod(in, &o->w_user) && ReadPod(in, &o->w_similar) && ReadPod(in, &o->w_pop) &&
                  ReadPod(in, &o->w_trending) && ReadPod(in, &o->w_second) && ReadPod(in, &depth) && ReadPod(in, &recent) &&
                  ReadPod(in, &neighbours);
  o->depth = depth, o->recent = recent, o->neighbours = neighbours;
  return ok && depth > 0;
}

// Items outside the candidates, below every candidate (`floor` = the
// lowest candidate score) in the user model's order (`user` = its scores,
// from BlendCandidates' buffer; empty = they stay -inf). So protocols that
// rank a target among sampled items still see an order; history items
// stay -inf.
void ScoreTheRest(const rec::History& h, const std::vector<float>& user, float floor, std::span<float> scores) {
  if (user.empty() || !std::isfinite(floor)) return;
  std::vector<uint8_t> taken(scores.size(), 0);
  for (size_t i = 0; i < scores.size(); ++i) taken[i] = scores[i] != kNegInf;
  for (uint32_t i : h.items)
    if (i < taken.size()) taken[i] = 1;
  for (size_t i = 0; i < scores.size() && i < user.size(); ++i)
    if (!taken[i] && std::isfinite(user[i]))
      scores[i] = floor - 1.0f - (0.5f - static_cast<float>(std::atan(user[i]) / M_PI));  // in (floor - 2, floor - 1)
}

// ---- blend ------------------------------------------------------------------------

// blend:user=ials,similar=itemknn,w_user=1,w_similar=1,w_pop=0.3,w_trending=0.5,depth=100,recent=10
class BlendModel final : public rec::Model {
 public:
  explicit BlendModel(rec::Spec& spec) { o_ = ReadBlendOptions(spec, &g_, 100); }
  std::string Name() const override { return "blend"; }
  std::string Describe() const override { return "blend:" + DescribeBlend(g_, o_); }
  bool WantsContent() const override {
    for (const std::string& s : {g_.user_spec, g_.similar_spec, g_.second_spec}) {
      auto m = rec::MakeModel(s);
      if (m.ok() && (*m)->WantsContent()) return true;
    }
    return false;
  }
  Status Fit(const rec::Interactions& data, const rec::FitContext& ctx) override {
    num_items_ = data.num_items;
    return g_.Fit(data, ctx, 0, 1000, 1000);
  }
  void Score(const rec::History& h, std::span<float> scores) const override {
    std::fill(scores.begin(), scores.end(), kNegInf);
    std::vector<float> buffer;
    float floor = std::numeric_limits<float>::infinity();
    for (const BlendCandidate& c : BlendCandidates(g_.View(), h, o_, &buffer))
      if (c.item < scores.size()) scores[c.item] = static_cast<float>(c.fused), floor = std::min(floor, scores[c.item]);
    ScoreTheRest(h, buffer, floor, scores);
  }
  uint32_t num_items() const override { return num_items_; }
  Status SaveState(std::ostream& out) const override {
    out.write("BLND", 4);
    WritePod(out, num_items_);
    WriteBlendOptions(out, o_);
    g_.Save(out);
    return out ? Status::Ok() : Status::IoError("blend: cannot write the model");
  }
  Status LoadState(std::istream& in) override {
    char magic[4];
    if (!in.read(magic, 4) || std::string(magic, 4) != "BLND" || !ReadPod(in, &num_items_) ||
        !ReadBlendOptions(in, &o_))
      return Status::Corruption("blend: model file is truncated or corrupt");
    return g_.Load(in, "blend");
  }

 private:
  OwnedGenerators g_;
  BlendOptions o_;
  uint32_t num_items_ = 0;
};

// ---- ltr-recs ---------------------------------------------------------------------

// What the re-ranker knows of every item, from the interactions it was
// fitted on and the catalog.
struct ItemStats {
  std::vector<float> log_users, log_7d, trend, age_days;  // by item
  void Build(const rec::Interactions& d) {
    const size_t n = d.num_items;
    log_users.assign(n, 0), log_7d.assign(n, 0), trend.assign(n, 0), age_days.assign(n, kNaN);
    std::vector<float> c7(n, 0), c30(n, 0);
    std::vector<int64_t> first(n, INT64_MAX);
    const int64_t now = d.max_ts_ms;
    for (size_t j = 0; j < d.seq_items.size(); ++j) {
      const uint32_t i = d.seq_items[j];
      if (i >= n) continue;
      const int64_t t = d.seq_ts[j];
      first[i] = std::min(first[i], t);
      if (t >= now - 7 * kDayMs) c7[i] += 1;
      if (t >= now - 30 * kDayMs) c30[i] += 1;
    }
    for (size_t i = 0; i < n; ++i) {
      log_users[i] = std::log1p(static_cast<float>(d.item_ptr[i + 1] - d.item_ptr[i]));
      log_7d[i] = std::log1p(c7[i]);
      trend[i] = (c7[i] + 1) / (c30[i] * 7.0f / 30.0f + 1);
      if (first[i] != INT64_MAX) age_days[i] = static_cast<float>(now - first[i]) / kDayMs;
    }
  }
  void Save(std::ostream& out) const { WriteVector(out, log_users), WriteVector(out, log_7d), WriteVector(out, trend), WriteVector(out, age_days); }
  bool Load(std::istream& in) { return ReadVector(in, &log_users) && ReadVector(in, &log_7d) && ReadVector(in, &trend) && ReadVector(in, &age_days); }
};

const std::vector<std::string>& RecNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const char* g : kGeneratorNames) n.push_back(fmt::format("score_{}", g));
    for (const char* g : kGeneratorNames) n.push_back(fmt::format("rank_{}", g));
    for (const char* f : {"fused", "generators", "item_log_users", "item_log_7d", "item_trend", "item_age_days",
                          "user_log_history", "user_category_share", "recent_category_share", "last_category_match",
                          "user_brand_share", "item_log_price", "price_vs_user", "price_z_user", "similar_to_last"})
      n.push_back(f);
    return n;
  }();
  return names;
}

// Per user, the newest `share` of the items met for the first time (at
// least one, users with 3 or more such items) and everything after the
// first of them are held out: the targets are those items.
eval::Split TailOut(const std::vector<rec::Interaction>& all, uint32_t num_users, double share) {
  eval::Split split;
  split.name = "tail:" + rec::FormatNumber(share);
  std::vector<std::vector<uint32_t>> by_user(num_users);
  for (size_t j = 0; j < all.size(); ++j) by_user[all[j].user].push_back(static_cast<uint32_t>(j));
  std::vector<bool> held(all.size(), false);
  std::unordered_set<uint32_t> seen;
  for (uint32_t u = 0; u < num_users; ++u) {
    const auto& seq = by_user[u];
    std::vector<size_t> firsts;
    seen.clear();
    for (size_t j = 0; j < seq.size(); ++j)
      if (seen.insert(all[seq[j]].item).second) firsts.push_back(j);
    if (firsts.size() < 3) continue;
    const size_t hold = std::clamp<size_t>(static_cast<size_t>(std::lround(share * static_cast<double>(firsts.size()))),
                                           1, firsts.size() - 2);
    const size_t from = firsts[firsts.size() - hold];
    eval::Case c;
    c.user = u;
    c.history.user = u;
    for (size_t j = 0; j < from; ++j) {
      const auto& x = all[seq[j]];
      c.history.items.push_back(x.item), c.history.weights.push_back(x.weight), c.history.ts_ms.push_back(x.ts_ms);
    }
    for (size_t f = firsts.size() - hold; f < firsts.size(); ++f) c.targets.push_back(all[seq[firsts[f]]].item);
    for (size_t j = from; j < seq.size(); ++j) held[seq[j]] = true;
    split.cases.push_back(std::move(c));
  }
  for (size_t j = 0; j < all.size(); ++j)
    if (!held[j]) split.train.push_back(all[j]);
  return split;
}

// ltr-recs:user=ials,similar=itemknn,depth=100,users=10000,rounds=300,eta=0.1,max_depth=6,...
// Fit: the last new item of each user is held out of the interactions
// (eval's leave-one-out), the generators are fitted on the rest, each
// sampled user's blended candidates get features and label 1 for the held
// out item, LambdaMART learns from them (10% of users validate, early
// stopping), then the generators are refitted on everything.
class LtrRecs final : public rec::Model {
 public:
  explicit LtrRecs(rec::Spec& spec) {
    o_ = ReadBlendOptions(spec, &g_, 100);
    users_ = static_cast<size_t>(std::max<int64_t>(10, spec.Int("users", 10000)));
    lo_.rounds = static_cast<int>(spec.Int("rounds", 300));
    lo_.eta = spec.Double("eta", 0.1);
    lo_.max_depth = static_cast<int>(spec.Int("max_depth", 6));
    lo_.early_stop = static_cast<int>(spec.Int("early_stop", 30));
    inner_ = spec.String("target", "last");
    tail_ = spec.Double("tail", 0.2);
  }
  std::string Name() const override { return "ltr-recs"; }
  std::string Describe() const override {
    return fmt::format("ltr-recs:{},users={},rounds={},eta={},max_depth={},early_stop={},target={},tail={}",
                       DescribeBlend(g_, o_), users_, lo_.rounds, rec::FormatNumber(lo_.eta), lo_.max_depth,
                       lo_.early_stop, inner_, rec::FormatNumber(tail_));
  }
  bool WantsContent() const override { return true; }  // prices and brands
  uint32_t num_items() const override { return num_items_; }

  Status Fit(const rec::Interactions& data, const rec::FitContext& ctx) override {
    num_items_ = data.num_items;
    category_ = ctx.item_category;
    category_.resize(num_items_, rec::kNone);
    brand_.assign(num_items_, rec::kNone);
    log_price_.assign(num_items_, kNaN);
    if (ctx.content) {
      std::unordered_map<std::string, uint32_t> brands;
      for (size_t i = 0; i < num_items_; ++i) {
        if (i < ctx.content->brands.size() && !ctx.content->brands[i].empty())
          brand_[i] = brands.emplace(ctx.content->brands[i], static_cast<uint32_t>(brands.size())).first->second;
        if (i < ctx.content->prices.size() && ctx.content->prices[i] > 0)
          log_price_[i] = static_cast<float>(std::log(ctx.content->prices[i]));
      }
    }
    // The inner split: every interaction, one per sequence entry (the
    // pair's weight shared among its entries), then leave-one-out.
    std::vector<rec::Interaction> all;
    all.reserve(data.seq_items.size());
    for (uint32_t u = 0; u < data.num_users; ++u) {
      std::unordered_map<uint32_t, std::pair<float, uint32_t>> w;  // item -> (weight, entries)
      const auto items = data.UserItems(u);
      const auto weights = data.UserWeights(u);
      for (size_t j = 0; j < items.size(); ++j) w[items[j]] = {weights[j], 0};
      const auto seq = data.Sequence(u);
      for (uint32_t i : seq) ++w[i].second;
      for (size_t j = 0; j < seq.size(); ++j) {
        const auto& [weight, entries] = w[seq[j]];
        all.push_back({u, seq[j], weight / static_cast<float>(std::max<uint32_t>(1, entries)),
                       data.seq_ts[data.seq_ptr[u] + j], 0});
      }
    }
    std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.ts_ms < b.ts_ms; });
    eval::Split inner;
    if (inner_ == "temporal") {
      SOUK_ASSIGN_OR_RETURN(inner, eval::Temporal(all, data.num_users, 0.8));
    } else if (inner_ == "tail") {
      inner = TailOut(all, data.num_users, tail_);
    } else if (inner_ == "last") {
      inner = eval::LeaveOneOut(all, data.num_users, eval::Stage::kTest);
    } else {
      return Status::InvalidArgument("ltr-recs: target=" + inner_ + " (expected last, tail or temporal)");
    }
    if (inner.cases.size() < 20)
      return Status::FailedPrecondition(fmt::format(
          "ltr-recs: {} users with 3 or more items; learning to re-rank needs more (a held-out item per user)",
          inner.cases.size()));
    const rec::Interactions inner_data = rec::BuildInteractions(inner.train, data.num_users, data.num_items);
    SOUK_RETURN_IF_ERROR(g_.Fit(inner_data, ctx, 0, 350, 1000));
    stats_.Build(inner_data);
    // Training groups from a sample of users, 10% of them for validation.
    std::mt19937_64 rng(ctx.seed);
    std::shuffle(inner.cases.begin(), inner.cases.end(), rng);
    if (inner.cases.size() > users_) inner.cases.resize(users_);
    const size_t nf = RecNames().size();
    struct Group {
      std::vector<float> x, label;
    };
    std::vector<Group> groups(inner.cases.size());
    const int threads = std::max(1, ctx.threads);
    std::atomic<size_t> next{0}, done{0};
    auto work = [&](bool main) {
      std::vector<float> buffer;
      for (size_t c; (c = next.fetch_add(1)) < inner.cases.size();) {
        const eval::Case& kase = inner.cases[c];
        const auto cands = BlendCandidates(g_.View(), kase.history, o_, &buffer);
        Group& g = groups[c];
        const std::unordered_set<uint32_t> targets(kase.targets.begin(), kase.targets.end());
        bool positive = false;
        for (const auto& cand : cands) positive = positive || targets.count(cand.item);
        if (positive && cands.size() >= 2) {
          g.x.resize(cands.size() * nf);
          Features(kase.history, cands, g.x.data());
          for (const auto& cand : cands) g.label.push_back(targets.count(cand.item) ? 1.0f : 0.0f);
        }
        const size_t d = done.fetch_add(1) + 1;
        if (ctx.progress && main) ctx.progress(350 + 250 * d / inner.cases.size(), 1000);
      }
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back(work, false);
    work(true);
    for (auto& t : pool) t.join();
    RankingData train, valid;
    train.num_features = valid.num_features = nf;
    size_t kept = 0;
    for (size_t c = 0; c < groups.size(); ++c) {
      if (groups[c].label.empty()) continue;
      RankingData& d = kept++ % 10 == 9 ? valid : train;
      d.x.insert(d.x.end(), groups[c].x.begin(), groups[c].x.end());
      d.label.insert(d.label.end(), groups[c].label.begin(), groups[c].label.end());
      d.group_sizes.push_back(static_cast<unsigned>(groups[c].label.size()));
    }
    if (train.group_sizes.size() < 10)
      return Status::FailedPrecondition(fmt::format(
          "ltr-recs: only {} of {} sampled users have their held-out item among the candidates (depth {}); "
          "raise depth= or train on more data",
          kept, groups.size(), o_.depth));
    if (ctx.progress) ctx.progress(600, 1000);
    LtrOptions lo = lo_;
    lo.threads = ctx.threads;
    lo.seed = ctx.seed;
    SOUK_ASSIGN_OR_RETURN(ranker_, Ranker::Train(train, valid, RecNames(), lo, &report_));
    if (ctx.log) {
      std::string imp;
      for (size_t i = 0; i < std::min<size_t>(8, report_.importance.size()); ++i)
        imp += fmt::format("{}\"{}\":{:.4f}", i ? "," : "", report_.importance[i].first, report_.importance[i].second);
      ctx.log(fmt::format(R"({{"epoch":{},"loss":{:.6f},"val_ndcg10":{:.6f},"train_ndcg10":{:.6f},"groups":{},)"
                          R"("candidates_hit":{:.4f},"importance":{{{}}}}})",
                          report_.rounds, 1 - report_.train_ndcg10, report_.valid_ndcg10, report_.train_ndcg10,
                          kept, static_cast<double>(kept) / static_cast<double>(groups.size()), imp));
    }
    if (ctx.progress) ctx.progress(650, 1000);
    // The generators and item statistics of serving: all the data.
    SOUK_RETURN_IF_ERROR(g_.Fit(data, ctx, 650, 1000, 1000));
    stats_.Build(data);
    return Status::Ok();
  }

  void Score(const rec::History& h, std::span<float> scores) const override {
    std::fill(scores.begin(), scores.end(), kNegInf);
    if (!ranker_) return;
    std::vector<float> buffer;
    const auto cands = BlendCandidates(g_.View(), h, o_, &buffer);
    if (cands.empty()) return;
    const size_t nf = RecNames().size();
    std::vector<float> x(cands.size() * nf);
    Features(h, cands, x.data());
    auto s = ranker_->Score(x.data(), cands.size());
    float floor = std::numeric_limits<float>::infinity();
    for (size_t c = 0; c < cands.size(); ++c)
      if (cands[c].item < scores.size()) {
        // Trees give equal scores to many candidates: those keep the
        // blend's order (candidates come best fused first), by a step
        // below any difference the model makes.
        const float tie = 1e-3f * static_cast<float>(cands.size() - c) / static_cast<float>(cands.size());
        scores[cands[c].item] = s.ok() ? (*s)[c] + tie : static_cast<float>(cands[c].fused);  // the blend when it fails
        floor = std::min(floor, scores[cands[c].item]);
      }
    ScoreTheRest(h, buffer, floor, scores);
  }

  Status SaveState(std::ostream& out) const override {
    if (!ranker_) return Status::FailedPrecondition("ltr-recs: not fitted");
    SOUK_ASSIGN_OR_RETURN(std::string model, ranker_->SaveToString());
    out.write("LTRR", 4);
    WritePod(out, num_items_);
    WriteBlendOptions(out, o_);
    WriteVector(out, category_), WriteVector(out, brand_), WriteVector(out, log_price_);
    stats_.Save(out);
    g_.Save(out);
    WriteString(out, model);
    return out ? Status::Ok() : Status::IoError("ltr-recs: cannot write the model");
  }
  Status LoadState(std::istream& in) override {
    const Status corrupt = Status::Corruption("ltr-recs: model file is truncated or corrupt");
    char magic[4];
    if (!in.read(magic, 4) || std::string(magic, 4) != "LTRR" || !ReadPod(in, &num_items_) ||
        !ReadBlendOptions(in, &o_) || !ReadVector(in, &category_) || !ReadVector(in, &brand_) || !ReadVector(in, &log_price_) ||
        !stats_.Load(in) || category_.size() != num_items_ || brand_.size() != num_items_ ||
        log_price_.size() != num_items_ || stats_.log_users.size() != num_items_)
      return corrupt;
    SOUK_RETURN_IF_ERROR(g_.Load(in, "ltr-recs"));
    std::string model;
    if (!ReadString(in, &model)) return corrupt;
    SOUK_ASSIGN_OR_RETURN(ranker_, Ranker::LoadFromString(model, RecNames()));
    return Status::Ok();
  }

 private:
  // Features of each candidate (RecNames() order) for history h.
  void Features(const rec::History& h, const std::vector<BlendCandidate>& cands, float* x) const {
    const size_t nf = RecNames().size();
    // The history's category and brand shares (weighted), the recent
    // categories, the price band.
    std::unordered_map<uint32_t, double> cat, recent_cat, brand;
    double total = 0, lp_sum = 0, lp_sq = 0, lp_n = 0;
    const size_t n = h.items.size();
    for (size_t j = 0; j < n; ++j) {
      const uint32_t i = h.items[j];
      if (i >= num_items_) continue;
      const double w = h.weights.empty() ? 1.0 : h.weights[j];
      total += w;
      if (category_[i] != rec::kNone) cat[category_[i]] += w;
      if (brand_[i] != rec::kNone) brand[brand_[i]] += w;
      if (j + 5 >= n && category_[i] != rec::kNone) recent_cat[category_[i]] += 1;
      if (!std::isnan(log_price_[i])) lp_sum += w * log_price_[i], lp_sq += w * log_price_[i] * log_price_[i], lp_n += w;
    }
    const double recent_n = static_cast<double>(std::min<size_t>(5, n));
    const double lp_mean = lp_n > 0 ? lp_sum / lp_n : std::nan("");
    const double lp_sd = lp_n > 0 ? std::sqrt(std::max(0.0, lp_sq / lp_n - lp_mean * lp_mean)) : std::nan("");
    uint32_t last_cat = rec::kNone, last_item = rec::kNone;
    for (size_t j = n; j-- > 0;)
      if (h.items[j] < num_items_) {
        last_item = h.items[j], last_cat = category_[last_item];
        break;
      }
    // Similarity to the last item: the similar model's neighbours of it.
    std::unordered_map<uint32_t, float> near_last;
    if (g_.similar && last_item != rec::kNone)
      if (auto sim = g_.similar->Similar(last_item, 50); sim.ok())
        for (const auto& s : *sim) near_last[s.item] = s.score;
    for (size_t c = 0; c < cands.size(); ++c) {
      const BlendCandidate& b = cands[c];
      float* f = x + c * nf;
      const uint32_t i = b.item;
      int k = 0;
      for (int g = 0; g < kGenerators; ++g) f[k++] = b.score[g];
      for (int g = 0; g < kGenerators; ++g) f[k++] = b.rank[g] > 0 ? static_cast<float>(b.rank[g]) : kNaN;
      f[k++] = static_cast<float>(b.fused);
      int gens = 0;
      for (int g = 0; g < kGenerators; ++g) gens += b.rank[g] > 0;
      f[k++] = static_cast<float>(gens);
      const bool known = i < num_items_;
      f[k++] = known ? stats_.log_users[i] : kNaN;
      f[k++] = known ? stats_.log_7d[i] : kNaN;
      f[k++] = known ? stats_.trend[i] : kNaN;
      f[k++] = known ? stats_.age_days[i] : kNaN;
      f[k++] = std::log1p(static_cast<float>(n));
      const uint32_t ci = known ? category_[i] : rec::kNone;
      const uint32_t bi = known ? brand_[i] : rec::kNone;
      const auto share = [](const std::unordered_map<uint32_t, double>& m, uint32_t key, double tot) -> float {
        if (key == rec::kNone || tot <= 0) return kNaN;
        const auto it = m.find(key);
        return static_cast<float>((it == m.end() ? 0.0 : it->second) / tot);
      };
      f[k++] = share(cat, ci, total);
      f[k++] = share(recent_cat, ci, recent_n);
      f[k++] = ci == rec::kNone || last_cat == rec::kNone ? kNaN : static_cast<float>(ci == last_cat);
      f[k++] = share(brand, bi, total);
      const float lp = known ? log_price_[i] : kNaN;
      f[k++] = lp;
      f[k++] = std::isnan(lp) || std::isnan(lp_mean) ? kNaN : static_cast<float>(lp - lp_mean);
      f[k++] = std::isnan(lp) || std::isnan(lp_mean) ? kNaN
                                                     : static_cast<float>(std::fabs(lp - lp_mean) / (lp_sd + 0.1));
      const auto nl = near_last.find(i);
      f[k++] = nl == near_last.end() ? kNaN : nl->second;
    }
  }

  OwnedGenerators g_;
  BlendOptions o_;
  size_t users_ = 10000;
  std::string inner_ = "last";  // what is held out to learn from: last, tail or temporal
  double tail_ = 0.2;           // tail: the share of each user's newest items held out (at least one)
  LtrOptions lo_;
  LtrReport report_;
  uint32_t num_items_ = 0;
  std::vector<uint32_t> category_, brand_;
  std::vector<float> log_price_;
  ItemStats stats_;
  std::unique_ptr<Ranker> ranker_;
};

}  // namespace

const char* GeneratorName(int g) { return g >= 0 && g < kGenerators ? kGeneratorNames[g] : "?"; }

double BlendOptions::Weight(int g) const {
  switch (g) {
    case 0:
      return w_user;
    case 1:
      return w_similar;
    case 2:
      return w_pop;
    case 3:
      return w_trending;
    default:
      return w_second;
  }
}

std::vector<BlendCandidate> BlendCandidates(const GeneratorSet& gens, const rec::History& h, const BlendOptions& o,
                                            std::vector<float>* buffer) {
  std::vector<float> local;
  if (!buffer) buffer = &local;
  std::unordered_set<uint32_t> seen(h.items.begin(), h.items.end());
  std::vector<std::vector<rec::ScoredItem>> lists(kGenerators);
  rec::RecommendOptions ro;
  ro.k = o.depth;
  ro.exclude_seen = o.exclude_seen;
  const rec::Model* scorers[kGenerators] = {gens.user, nullptr, gens.pop, gens.trending};
  bool known = false;  // the user model only speaks for a history it knows
  if (gens.user)
    for (uint32_t i : h.items) known = known || i < gens.user->num_items();
  for (int g : {2, 3})
    if (scorers[g] && o.Weight(g) > 0) lists[g] = rec::Recommend(*scorers[g], h, ro, buffer);
  // A second model of the history, when it knows an item of it.
  if (gens.second && o.Weight(4) > 0) {
    bool knows = false;
    for (uint32_t i : h.items) knows = knows || i < gens.second->num_items();
    if (knows) lists[4] = rec::Recommend(*gens.second, h, ro, buffer);
  }
  // The user model last: its raw scores stay in *buffer for the caller.
  buffer->clear();
  if (gens.user && known && o.Weight(0) > 0) {
    buffer->resize(gens.user->num_items());
    gens.user->Score(h, *buffer);
    std::vector<float> masked = *buffer;
    if (o.exclude_seen)
      for (uint32_t i : h.items)
        if (i < masked.size()) masked[i] = kNegInf;
    lists[0] = rec::TopK(masked, o.depth);
  }
  // Item-kNN over the recent history: each neighbour scored by its best
  // similarity to a recent item, remembering which.
  std::unordered_map<uint32_t, std::pair<float, uint32_t>> because;
  if (gens.similar && o.Weight(1) > 0) {
    const size_t from = h.items.size() > o.recent ? h.items.size() - o.recent : 0;
    for (size_t j = from; j < h.items.size(); ++j) {
      auto sim = gens.similar->Similar(h.items[j], o.neighbours);
      if (!sim.ok()) continue;
      for (const auto& s : *sim) {
        if (o.exclude_seen && seen.count(s.item)) continue;
        auto [it, fresh] = because.try_emplace(s.item, s.score, h.items[j]);
        if (!fresh && s.score > it->second.first) it->second = {s.score, h.items[j]};
      }
    }
    for (const auto& [item, b] : because) lists[1].push_back({item, b.first});
    std::sort(lists[1].begin(), lists[1].end(),
              [](const auto& a, const auto& b) { return a.score != b.score ? a.score > b.score : a.item < b.item; });
    if (lists[1].size() > o.depth) lists[1].resize(o.depth);
  }
  std::unordered_map<uint32_t, size_t> at;
  std::vector<BlendCandidate> out;
  for (int g = 0; g < kGenerators; ++g) {
    for (size_t r = 0; r < lists[g].size(); ++r) {
      const auto& s = lists[g][r];
      auto [it, fresh] = at.try_emplace(s.item, out.size());
      if (fresh) {
        BlendCandidate c;
        c.item = s.item;
        std::fill(std::begin(c.score), std::end(c.score), kNaN);
        std::fill(std::begin(c.rank), std::end(c.rank), 0);
        if (const auto b = because.find(s.item); b != because.end()) c.because = b->second.second;
        out.push_back(c);
      }
      BlendCandidate& c = out[it->second];
      c.score[g] = s.score;
      c.rank[g] = static_cast<int>(r + 1);
      c.fused += o.Weight(g) / (kRrf + static_cast<double>(r + 1));
    }
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.fused != b.fused ? a.fused > b.fused : a.item < b.item; });
  return out;
}

const std::vector<std::string>& RecFeatureNames() { return RecNames(); }

void RegisterRecModels() {
  rec::RegisterModelFactory("blend", [](rec::Spec& spec) { return std::make_unique<BlendModel>(spec); });
  rec::RegisterModelFactory("ltr-recs", [](rec::Spec& spec) { return std::make_unique<LtrRecs>(spec); });
}

}  // namespace souk::rank
