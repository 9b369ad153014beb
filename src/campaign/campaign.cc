#include "campaign/campaign.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <random>

namespace souk::campaign {

namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// splitmix64 of (seed, seq): the decision's exploration seed.
uint64_t DecisionSeed(uint64_t seed, uint64_t seq) {
  uint64_t z = seed ^ (seq * 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint32_t Dim(const CampaignRecord& r) { return static_cast<uint32_t>(r.features.size()) + 1; }

}  // namespace

Result<std::vector<float>> ContextVector(const CampaignRecord& c,
                                         const std::vector<std::pair<std::string, double>>& context) {
  std::vector<float> x(Dim(c), 0.0f);
  x.back() = 1.0f;
  for (const auto& [name, value] : context) {
    auto it = std::find(c.features.begin(), c.features.end(), name);
    if (it == c.features.end()) {
      std::string known;
      for (const auto& f : c.features) known += (known.empty() ? "" : ", ") + f;
      return Status::InvalidArgument(fmt::format("campaign '{}' has no context feature '{}' (it has: {})", c.name, name,
                                                 known.empty() ? "none" : known));
    }
    if (!std::isfinite(value))
      return Status::InvalidArgument(fmt::format("context feature '{}' must be a finite number", name));
    x[static_cast<size_t>(it - c.features.begin())] = static_cast<float>(value);
  }
  return x;
}

Status CampaignService::LoadPolicy(Live* live) {
  const CampaignRecord& r = live->record;
  const uint32_t arms = static_cast<uint32_t>(r.arms.size());
  if (r.slots > 1) {
    SOUK_ASSIGN_OR_RETURN(live->slate, bandit::MakeSlatePolicy(r.policy, arms));
    if (live->slate->slots() != r.slots)
      return Status::InvalidArgument(fmt::format("campaign '{}': the policy fills {} slots, the campaign has {}",
                                                 r.name, live->slate->slots(), r.slots));
    if (!r.state.empty()) SOUK_RETURN_IF_ERROR(live->slate->LoadState(r.state).WithContext("campaign " + r.name));
    return Status::Ok();
  }
  if (r.policy.rfind("slate", 0) == 0)
    return Status::InvalidArgument(fmt::format("campaign '{}': a slate policy needs --slots > 1", r.name));
  if (r.policy.rfind("hlinucb", 0) == 0)
    return Status::InvalidArgument("hlinucb needs per-arm features, which campaigns do not declare yet");
  SOUK_ASSIGN_OR_RETURN(live->policy, bandit::MakePolicy(r.policy, arms, Dim(r)));
  if (!r.state.empty()) SOUK_RETURN_IF_ERROR(live->policy->LoadState(r.state).WithContext("campaign " + r.name));
  return Status::Ok();
}

Result<CampaignRecord> CampaignService::Create(const CampaignSpec& spec) {
  CampaignRecord r;
  r.name = spec.name;
  r.policy = spec.policy;
  r.arms = spec.arms;
  r.features = spec.features;
  r.slots = std::max<uint32_t>(1, spec.slots);
  r.seed = spec.seed ? spec.seed : (static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
  r.created_ms = NowMs();
  {
    std::vector<std::string> sorted = r.arms;
    std::sort(sorted.begin(), sorted.end());
    auto dup = std::adjacent_find(sorted.begin(), sorted.end());
    if (dup != sorted.end()) return Status::InvalidArgument("arm '" + *dup + "' is listed twice");
    sorted = r.features;
    std::sort(sorted.begin(), sorted.end());
    dup = std::adjacent_find(sorted.begin(), sorted.end());
    if (dup != sorted.end()) return Status::InvalidArgument("feature '" + *dup + "' is listed twice");
  }
  if (r.arms.size() < 2) return Status::InvalidArgument("a campaign needs at least 2 arms");
  Live probe;
  probe.record = r;
  SOUK_RETURN_IF_ERROR(LoadPolicy(&probe));  // the spec must build
  // Store the policy's full description, so defaults are pinned.
  r.policy = probe.slate ? probe.slate->Describe() : probe.policy->Describe();
  std::lock_guard lock(store_mu_);
  SOUK_ASSIGN_OR_RETURN(r.id, store_->CreateCampaign(r));
  return r;
}

Result<std::vector<CampaignRecord>> CampaignService::List() {
  std::lock_guard lock(store_mu_);
  return store_->Campaigns();
}

Result<CampaignService::Live*> CampaignService::Open(const std::string& name) {
  std::lock_guard lock(live_mu_);
  auto it = live_.find(name);
  if (it != live_.end()) return it->second.get();
  auto live = std::make_unique<Live>();
  {
    std::lock_guard store_lock(store_mu_);
    SOUK_ASSIGN_OR_RETURN(live->record, store_->GetCampaign(name));
  }
  SOUK_RETURN_IF_ERROR(Restore(live.get()));
  live->next_seq = live->record.last_seq + 1;
  Live* out = live.get();
  live_.emplace(name, std::move(live));
  return out;
}

Result<CampaignService::Live*> CampaignService::OpenById(int64_t id) {
  {
    std::lock_guard lock(live_mu_);
    for (auto& [name, live] : live_)
      if (live->record.id == id) return live.get();
  }
  std::string name;
  {
    std::lock_guard store_lock(store_mu_);
    SOUK_ASSIGN_OR_RETURN(auto all, store_->Campaigns());
    for (const auto& c : all)
      if (c.id == id) name = c.name;
  }
  if (name.empty()) return Status::NotFound(fmt::format("no campaign with id {}", id));
  return Open(name);
}

Result<Decision> CampaignService::Decide(const std::string& campaign, const std::string& user,
                                         const std::vector<std::pair<std::string, double>>& context) {
  SOUK_ASSIGN_OR_RETURN(Live * live, Open(campaign));
  const CampaignRecord& r = live->record;
  SOUK_ASSIGN_OR_RETURN(std::vector<float> x, ContextVector(r, context));
  Decision d;
  d.campaign = r.name;
  DecisionRecord rec;
  {
    std::shared_lock lock(live->mu);
    d.seq = live->next_seq++;
    bandit::Rng rng(DecisionSeed(r.seed, d.seq));
    const uint32_t K = static_cast<uint32_t>(r.arms.size());
    const bandit::Context ctx{x, {}};
    if (live->slate) {
      d.arms.resize(r.slots);
      std::vector<double> marginals(static_cast<size_t>(r.slots) * K);
      live->slate->Choose(ctx, rng, d.arms, marginals);
      for (uint32_t k = 0; k < r.slots; ++k)
        d.propensities.push_back(marginals[static_cast<size_t>(k) * K + d.arms[k]]);
    } else {
      std::vector<double> probs(K);
      const uint32_t a = live->policy->Choose(ctx, rng, probs);
      d.arms = {a};
      d.propensities = {probs[a]};
    }
  }
  for (uint32_t a : d.arms) d.arm_names.push_back(r.arms[a]);
  d.id = fmt::format("{}-{}-{:08x}", r.id, d.seq, static_cast<uint32_t>(DecisionSeed(r.seed ^ 0x5bd1e995, d.seq)));
  rec.id = d.id;
  rec.campaign = r.id;
  rec.seq = d.seq;
  rec.user = user;
  rec.ts_ms = NowMs();
  rec.arms = d.arms;
  rec.propensities = d.propensities;
  rec.context = std::move(x);
  std::lock_guard lock(store_mu_);
  SOUK_RETURN_IF_ERROR(store_->LogDecision(rec));
  return d;
}

void CampaignService::Apply(Live* live, const DecisionRecord& d, const std::vector<double>& rewards) {
  const bandit::Context ctx{d.context, {}};
  if (live->slate)
    live->slate->Update(d.arms, ctx, rewards);
  else
    live->policy->Update(d.arms[0], ctx, rewards[0]);
}

std::string CampaignService::State(const Live* live) const {
  return live->slate ? live->slate->SaveState() : live->policy->SaveState();
}

// The stored snapshot, then every reward recorded after it in reward order:
// the same updates in the same order as the live policy made.
Status CampaignService::Restore(Live* live) {
  std::vector<DecisionRecord> after;
  {
    std::lock_guard lock(store_mu_);
    SOUK_ASSIGN_OR_RETURN(live->record, store_->GetCampaign(live->record.name));
    SOUK_ASSIGN_OR_RETURN(after, store_->RewardsAfter(live->record.id, live->record.state_seq));
  }
  SOUK_RETURN_IF_ERROR(LoadPolicy(live));
  for (const auto& d : after) {
    if (d.rewards.size() != d.arms.size())
      return Status::Corruption(
          fmt::format("decision '{}' has {} rewards for {} arms", d.id, d.rewards.size(), d.arms.size()));
    Apply(live, d, d.rewards);
  }
  live->snapshot_seq = live->record.state_seq;
  live->reward_seq = live->record.last_reward_seq;
  return Status::Ok();
}

Result<RewardResult> CampaignService::Reward(const std::string& decision_id, const std::vector<double>& rewards) {
  DecisionRecord d;
  {
    std::lock_guard lock(store_mu_);
    SOUK_ASSIGN_OR_RETURN(d, store_->GetDecision(decision_id));
  }
  if (rewards.size() != d.arms.size())
    return Status::InvalidArgument(fmt::format("decision '{}' chose {} arm(s): give {} reward value(s), not {}",
                                               decision_id, d.arms.size(), d.arms.size(), rewards.size()));
  for (double v : rewards)
    if (!std::isfinite(v)) return Status::InvalidArgument("a reward must be a finite number");
  SOUK_ASSIGN_OR_RETURN(Live * live, OpenById(d.campaign));
  RewardResult out;
  out.decision = decision_id;
  std::unique_lock lock(live->mu);
  auto updates = [&] { return live->slate ? live->reward_seq : live->policy->updates(); };
  auto duplicate = [&](const DecisionRecord& first) {
    out.duplicate = true;
    out.rewards = first.rewards;
    out.updates = updates();
    return out;
  };
  if (d.rewarded) return duplicate(d);
  // A reward recorded since the read above (another thread before this one
  // took the lock, or another process) makes the store refuse this one;
  // then the policy is restored from the store (snapshot + replay) and,
  // when the refusal was only about the reward's number, tried again.
  for (int attempt = 0; attempt < 3; ++attempt) {
    const uint64_t seq = live->reward_seq + 1;
    Apply(live, d, rewards);
    const bool snapshot = seq - live->snapshot_seq >= std::max<uint32_t>(1, options_.snapshot_every);
    const std::string state = snapshot ? State(live) : std::string();
    Status s;
    {
      std::lock_guard store_lock(store_mu_);
      s = store_->RecordReward(decision_id, rewards, NowMs(), seq, state);
    }
    if (s.ok()) {
      live->reward_seq = seq;
      if (snapshot) live->snapshot_seq = seq;
      out.rewards = rewards;
      out.updates = updates();
      return out;
    }
    SOUK_RETURN_IF_ERROR(Restore(live));  // memory back to what the store holds
    if (s.code() == StatusCode::kAlreadyExists) {
      std::lock_guard store_lock(store_mu_);
      SOUK_ASSIGN_OR_RETURN(d, store_->GetDecision(decision_id));
      return duplicate(d);
    }
    if (s.code() != StatusCode::kFailedPrecondition) return s;
  }
  return Status::Internal("reward for '" + decision_id + "': the store kept refusing its sequence number");
}

Status CampaignService::Flush() {
  std::vector<Live*> open;
  {
    std::lock_guard lock(live_mu_);
    for (auto& [name, live] : live_) open.push_back(live.get());
  }
  Status first;
  for (Live* live : open) {
    std::unique_lock lock(live->mu);
    if (live->reward_seq == live->snapshot_seq) continue;
    const std::string state = State(live);
    Status s;
    {
      std::lock_guard store_lock(store_mu_);
      s = store_->SaveCampaignState(live->record.id, state, live->reward_seq);
    }
    if (s.ok())
      live->snapshot_seq = live->reward_seq;
    else if (first.ok())
      first = s;
  }
  return first;
}

CampaignService::~CampaignService() { (void)Flush(); }

Result<CampaignSummary> CampaignService::Show(const std::string& name) {
  SOUK_ASSIGN_OR_RETURN(Live * live, Open(name));
  CampaignSummary out;
  std::vector<DecisionRecord> decisions;
  {
    std::lock_guard lock(store_mu_);
    SOUK_ASSIGN_OR_RETURN(out.record, store_->GetCampaign(name));
    SOUK_ASSIGN_OR_RETURN(decisions, store_->Decisions(out.record.id));
  }
  const CampaignRecord& r = live->record;
  const uint32_t K = static_cast<uint32_t>(r.arms.size());
  out.arms.resize(K);
  for (uint32_t a = 0; a < K; ++a) out.arms[a].name = r.arms[a];
  for (const auto& d : decisions) {
    for (size_t k = 0; k < d.arms.size(); ++k) {
      if (d.arms[k] >= K) continue;
      ArmSummary& s = out.arms[d.arms[k]];
      ++s.pulls;
      if (d.rewarded && k < d.rewards.size()) {
        ++s.rewarded;
        s.reward_sum += d.rewards[k];
      }
    }
  }
  std::shared_lock lock(live->mu);
  std::vector<float> x(Dim(r), 0.0f);
  x.back() = 1.0f;
  const bandit::Context ctx{x, {}};
  std::vector<double> mean(K), width(K), probs(K, 0);
  bandit::Rng rng(DecisionSeed(r.seed, live->next_seq));
  if (live->slate) {
    out.policy = live->slate->Describe();
    live->slate->Estimates(mean);
    std::vector<uint32_t> slate(r.slots);
    std::vector<double> marginals(static_cast<size_t>(r.slots) * K);
    live->slate->Choose(ctx, rng, slate, marginals);
    std::copy(marginals.begin(), marginals.begin() + K, probs.begin());
  } else {
    out.policy = live->policy->Describe();
    out.updates = live->policy->updates();
    live->policy->Estimates(ctx, mean, width);
    live->policy->Choose(ctx, rng, probs);
  }
  for (uint32_t a = 0; a < K; ++a) {
    out.arms[a].estimate = mean[a];
    out.arms[a].width = width[a];
    out.arms[a].probability = probs[a];
  }
  return out;
}

}  // namespace souk::campaign
