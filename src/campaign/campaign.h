// Campaigns: bandit policies (src/bandit) served from the store (src/store).
//
// A campaign is a set of arms (creatives, offers, slot contents), a policy
// spec and the names of its context features. Decide chooses an arm (or a
// slate) for a user in a context, logs the decision with the probability of
// each chosen arm, and returns a decision id; Reward joins a reward to that
// decision, updates the policy and saves its state in the same store
// transaction, so the state survives a restart and always equals the
// rewards recorded. Rewards are idempotent (a second reward for a decision
// changes nothing and says so) and may arrive any time later, also after a
// restart: the decision keeps the context the policy saw.
//
// Context: features are looked up by name (missing ones are 0, unknown
// names an error), and a constant 1 is appended as the intercept, so a
// campaign with F features gives linear policies dimension F + 1.
//
// Exploration: decision n of a campaign draws from Rng(mix(seed, n)), so a
// replay of the log from the same policy state makes the same choices.
//
// Thread-safety: a CampaignService may be used from many threads: decides
// of a campaign run concurrently (shared lock), rewards of a campaign one at
// a time (exclusive lock), and the store is used by one thread at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bandit/bandit.h"
#include "core/status.h"
#include "store/store.h"

namespace souk::campaign {

struct CampaignSpec {
  std::string name;
  std::string policy = "ts";  // bandit policy spec; "slate:..." with slots > 1
  std::vector<std::string> arms;
  std::vector<std::string> features;  // context feature names
  uint32_t slots = 1;
  uint64_t seed = 0;  // 0 = drawn at creation
};

struct Decision {
  std::string id;
  std::string campaign;
  std::vector<uint32_t> arms;  // slots() of them, top-down
  std::vector<std::string> arm_names;
  std::vector<double> propensities;  // probability of each chosen arm at its slot
  uint64_t seq = 0;
};

struct RewardResult {
  std::string decision;
  bool duplicate = false;       // the decision already had its reward: nothing changed
  std::vector<double> rewards;  // the recorded rewards (the first ones, when duplicate)
  uint64_t updates = 0;         // the policy's update count after this call
};

struct ArmSummary {
  std::string name;
  uint64_t pulls = 0;     // decisions that chose it (any slot)
  uint64_t rewarded = 0;  // ... of which rewarded
  double reward_sum = 0;
  double estimate = 0;     // the policy's estimate in the empty context (intercept only)
  double width = 0;        // its uncertainty (bandit::Policy::Estimates)
  double probability = 0;  // chance of being chosen next (first slot), empty context
};

struct CampaignSummary {
  CampaignRecord record;
  std::string policy;  // the policy's Describe()
  uint64_t updates = 0;
  std::vector<ArmSummary> arms;
};

// Turns a parsed context into the policy's vector (features, then 1).
Result<std::vector<float>> ContextVector(const CampaignRecord& campaign,
                                         const std::vector<std::pair<std::string, double>>& context);

struct ServiceOptions {
  // The policy state is saved with every `snapshot_every`-th reward (and by
  // Flush); opening a campaign loads the snapshot and replays the rewards
  // recorded after it, in their order, so the state is the same either way.
  // 1 = a snapshot with every reward.
  uint32_t snapshot_every = 100;
};

class CampaignService {
 public:
  // `store` outlives the service.
  explicit CampaignService(Store* store, ServiceOptions options = {}) : store_(store), options_(options) {}
  ~CampaignService();  // Flush(), errors ignored
  // Saves the state of every open campaign that has rewards after its snapshot.
  Status Flush();

  // Validates the spec (the policy must be buildable for the arms and
  // features) and stores the campaign. AlreadyExists for a used name.
  Result<CampaignRecord> Create(const CampaignSpec& spec);
  Result<std::vector<CampaignRecord>> List();
  Result<CampaignSummary> Show(const std::string& name);
  Result<Decision> Decide(const std::string& campaign, const std::string& user,
                          const std::vector<std::pair<std::string, double>>& context);
  // `rewards`: one value per chosen arm (one for single-slot campaigns).
  // NotFound for an unknown decision id.
  Result<RewardResult> Reward(const std::string& decision_id, const std::vector<double>& rewards);

 private:
  struct Live {
    CampaignRecord record;
    std::unique_ptr<bandit::Policy> policy;      // slots == 1
    std::unique_ptr<bandit::SlatePolicy> slate;  // slots > 1
    std::shared_mutex mu;
    std::atomic<uint64_t> next_seq{1};
    uint64_t reward_seq = 0;    // rewards recorded (under mu, exclusive)
    uint64_t snapshot_seq = 0;  // ... of which the stored snapshot holds
  };
  Result<Live*> Open(const std::string& name);
  Result<Live*> OpenById(int64_t id);
  Status LoadPolicy(Live* live);  // from live->record: the spec and its snapshot
  Status Restore(Live* live);     // store's snapshot + the rewards after it
  void Apply(Live* live, const DecisionRecord& d, const std::vector<double>& rewards);
  std::string State(const Live* live) const;

  Store* store_;
  ServiceOptions options_;
  std::mutex store_mu_;  // guards store_
  std::mutex live_mu_;   // guards live_
  std::unordered_map<std::string, std::unique_ptr<Live>> live_;
};

}  // namespace souk::campaign
