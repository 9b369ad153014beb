// Ranking: the feature store (item features, user profiles, cross features,
// computed incrementally from events in time order), training data for
// learning to rank built from the search log, and the LTR model (XGBoost
// LambdaMART, `rank:ndcg`) that re-ranks search candidates.
//
// Point in time: a FeatureStore holds what the events applied so far say.
// Training data is made by replaying the log in time order and taking each
// search's features from the state just before it, so no example sees its
// own future (its click, later popularity). docs/ranking.md lists every
// feature.
//
// Thread-safety: a FeatureStore is read by many threads once built (Apply
// needs exclusive access). A Ranker is safe to share (Score locks).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <string_view>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/core.h"
#include "core/status.h"
#include "rec/rec.h"
#include "store/store.h"

namespace souk::text {
class Analyzer;
}

namespace souk::rank {

struct FeatureOptions {
  double prior_views = 50;  // Bayesian smoothing: CTR = (clicks + m*ctr0) / (views + m), m = prior_views
  double prior_clicks = 20;  // conversion = (purchases + m*cvr0) / (clicks + m)
  double affinity_prior = 5;  // user shares are (w + prior*global share) / (total + prior)
};

// What one item looks like at a moment.
struct ItemFeatures {
  double price = 0;            // NaN = missing
  double price_pct = 0;        // percentile of the price in its leaf category, 0..1 (NaN: no price)
  int64_t stock = -1;          // -1 = unknown
  double age_days = 0;         // since its first event (NaN: never seen)
  uint64_t views = 0, clicks = 0, carts = 0, purchases = 0;
  double ctr = 0, cart_rate = 0, conversion = 0;  // smoothed
  double pop_1d = 0, pop_7d = 0, pop_30d = 0;     // interactions in the last 1/7/30 days
  double trend = 0;  // 7-day rate over the 30-day rate (smoothed); > 1 rising
  int quality_flags = 0;  // bit 0 no price, 1 no brand, 2 short or empty title, 3 placeholder
  std::string category, brand;
};

// What one user looks like at a moment (用户画像).
struct UserProfile {
  uint64_t events = 0;
  double recency_days = 0;  // since the last event (NaN: none)
  uint64_t active_days = 0;
  double monetary = 0;  // sum of purchase prices
  std::string segment;  // RFM: "R3F2M1" (3 = best)
  double log_price_mean = 0, log_price_sd = 0;  // the price band (NaN when unknown)
  std::vector<std::pair<std::string, double>> categories, brands;  // top affinities (shares), best first
  std::vector<std::pair<std::string, std::string>> attributes;     // from the users table (device, region, ...)
};

// The query side of a candidate's features.
struct QueryContext {
  size_t terms = 0;                 // analysed query terms
  float score = 0, top_score = 0;   // the candidate's BM25F score and the best one
  int rank = 0;                     // 1-based, in the BM25F list
  std::vector<float> field_scores;  // BM25 per field (FieldScorer order)
  // Query intent (a category classifier over the query text), when there
  // is one: p(the candidate's category | query) and whether that category
  // is the most likely one. NaN = no intent model.
  float intent_p = std::numeric_limits<float>::quiet_NaN();
  float intent_top = std::numeric_limits<float>::quiet_NaN();
  // <query embedding, item vector> of a model with a query tower
  // (twotower), when there is one; NaN = none.
  float vector_sim = std::numeric_limits<float>::quiet_NaN();
};

class FeatureStore {
 public:
  // The catalog and users as now (the features' static part).
  static std::unique_ptr<FeatureStore> Build(const std::vector<ItemRow>& items, const std::vector<UserRow>& users,
                                             const FeatureOptions& options = {});
  ~FeatureStore();

  // One event, in time order (later events with earlier times count too).
  void Apply(UserId user, ItemId item, uint8_t type, int64_t ts_ms);
  // Every unflagged event of `events` with a time before `until_ms`, in time order.
  void ApplyAll(const EventColumns& events, int64_t until_ms = INT64_MAX);
  int64_t last_ms() const;  // the latest event time applied

  ItemFeatures Item(ItemId item, int64_t now_ms) const;
  UserProfile Profile(UserId user, int64_t now_ms) const;

  // The ranking feature vector of (user, item) for a query, in
  // FeatureNames() order. user may be kNoId (anonymous).
  void Vector(UserId user, ItemId item, const QueryContext& q, int64_t now_ms, float* out) const;
  static const std::vector<std::string>& FeatureNames();

  struct Rep;

 private:
  explicit FeatureStore(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

// BM25 of a query on each field of an item (title, brand, category, tags,
// description), with per-field statistics over the catalog.
class FieldScorer {
 public:
  FieldScorer(const std::vector<ItemRow>& items, std::shared_ptr<const text::Analyzer> analyzer);
  ~FieldScorer();
  static constexpr int kFields = 5;
  static const char* FieldName(int f);
  // The analysed query terms (once per query).
  std::vector<std::string> Terms(std::string_view query) const;
  void Score(const std::vector<std::string>& terms, ItemId item, float* out) const;

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

// ---- learning to rank ---------------------------------------------------------------

// Grades of what a shopper did with a shown item.
inline int GradeOf(uint8_t type) {
  switch (static_cast<EventType>(type)) {
    case EventType::kPurchase:
      return 3;
    case EventType::kCart:
      return 2;
    case EventType::kClick:
      return 1;
    default:
      return 0;
  }
}

// ---- position bias ----------------------------------------------------------------

// One shown result: which (query, item) pair it was (any stable key), at
// which 1-based position, and whether it was clicked.
struct PositionObservation {
  uint64_t pair = 0;
  int position = 1;
  bool click = false;
};
// The position-based click model P(click | pair, k) = theta_k * gamma_pair,
// fitted by expectation-maximisation (Wang et al., WSDM 2018, the PBM
// variant): theta_k is the chance a result at position k is examined,
// scaled so theta_1 = 1. Positions past max_positions are pooled into the
// last. Needs results shown at several positions for the same pairs (the
// impressions of different rankings); `iterations` EM rounds.
struct PositionBias {
  std::vector<double> theta;  // theta[k - 1], theta[0] = 1; empty when nothing was clicked
  size_t observations = 0, clicks = 0;
  // 1 / theta_k, clipped to [1, max_weight]: the inverse-propensity weight
  // of a click at position k (1 for unknown positions).
  double Weight(int position, double max_weight = 10) const;
};
PositionBias EstimatePositionBias(const std::vector<PositionObservation>& observations, int max_positions = 20,
                                  int iterations = 50);

// Query groups: rows of features with graded labels.
struct RankingData {
  size_t num_features = 0;
  std::vector<float> x;  // rows x num_features, row-major
  std::vector<float> label;
  std::vector<unsigned> group_sizes;  // consecutive rows per query
  std::vector<float> group_weight;    // one per group (position-bias correction); empty = all 1
  size_t rows() const { return label.size(); }
};

struct LtrOptions {
  int rounds = 300;          // boosting rounds at most
  int early_stop = 30;       // stop when validation NDCG@10 has not improved for this many rounds
  double eta = 0.1;
  int max_depth = 6;
  double min_child_weight = 1;
  double subsample = 0.8;
  int threads = 0;  // 0 = all cores
  uint64_t seed = 1;
};

struct LtrReport {
  int rounds = 0;  // kept (best validation round)
  double train_ndcg10 = 0, valid_ndcg10 = 0;
  std::vector<std::pair<std::string, double>> importance;  // gain, best first
};

class Ranker {
 public:
  ~Ranker();
  static Result<std::unique_ptr<Ranker>> Train(const RankingData& train, const RankingData& valid,
                                               const std::vector<std::string>& feature_names,
                                               const LtrOptions& options, LtrReport* report);
  // The model file (XGBoost JSON); the feature names must match on load.
  Status Save(const std::string& path) const;
  static Result<std::unique_ptr<Ranker>> Load(const std::string& path, const std::vector<std::string>& feature_names);
  // The same model as bytes (inside another model's file).
  Result<std::string> SaveToString() const;
  static Result<std::unique_ptr<Ranker>> LoadFromString(const std::string& bytes,
                                                        const std::vector<std::string>& feature_names);
  // Scores rows (rows x num_features); higher is better.
  Result<std::vector<float>> Score(const float* x, size_t rows) const;
  size_t num_features() const;

 private:
  struct Rep;
  explicit Ranker(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

// ---- diversity and multi-objective ---------------------------------------------------

// Maximal marginal relevance over the best `depth` of `scores` (one per
// item; -inf = never): picks k items one at a time, each maximising
//   (1 - lambda) * value(i) - lambda * (picked items of i's category)
// where value(i) = w_rel * relevance (min-max normalised over the
// candidates) + w_revenue * price / max price + w_novelty * (1 - log(1 +
// pop) / log(1 + max pop)). Items without a category (kNoId) are never
// penalised. It is MMR with a similarity that counts: the second item of a
// category costs lambda, the third 2 lambda, so lists spread over the
// categories evenly as lambda grows. lambda = 0 is the relevance order.
// Ties go to the better relevance, then the lower id.
struct DiversityOptions {
  double lambda = 0;
  size_t depth = 100;
  double w_relevance = 1, w_revenue = 0, w_novelty = 0;
};
std::vector<ItemId> Diversify(std::span<const float> scores, std::span<const uint32_t> category,
                              std::span<const float> price, std::span<const float> popularity, size_t k,
                              const DiversityOptions& options);

// ---- business rules ---------------------------------------------------------------

// Applied after ranking, in this order (docs/ranking.md#business-rules):
//   1. the rules that apply: surface "" or the context's, query "" or the
//      context's (both compared normalised: trimmed, lower case);
//   2. hide: an item (rule.item) or what a filter matches is removed;
//      out-of-stock items (stock 0) too when `exclude_out_of_stock`;
//   3. boost / bury: items matching more boost rules move ahead, more bury
//      rules behind; ties keep the ranked order (stable);
//   4. pin: each pinned item (by position, then rule id) is taken out and
//      put at its position (inserted when it was not a candidate, unless it
//      is hidden, out of stock or unknown); positions past the end append;
//   5. the first k.
// No item appears twice; fewer than k come back only when fewer than k
// candidates survive step 2.
struct RuleContext {
  std::string surface;  // search, recommend
  std::string query;    // the query text (search) or "" (recommend)
  size_t k = 10;
  bool exclude_out_of_stock = false;
};
struct RuleHooks {
  // Whether rule number r (index into the rules given) matches `item`
  // through its filter.
  std::function<bool(size_t r, ItemId item)> matches;
  std::function<ItemId(const std::string& ext_id)> lookup;  // kNoId when unknown
  std::function<bool(ItemId item)> out_of_stock;
};
std::string NormalizeRuleQuery(std::string_view q);
// Whether a rule applies in a context (step 1).
bool RuleApplies(const RuleRecord& rule, const RuleContext& ctx);
// Checks a rule before it is stored: its kind and the fields the kind needs.
Status ValidateRule(const RuleRecord& rule);
std::vector<ItemId> ApplyRules(const std::vector<RuleRecord>& rules, const RuleContext& ctx, std::vector<ItemId> ranked,
                               const RuleHooks& hooks);

// ---- blended recommendation candidates ----------------------------------------------

// The candidate generators of blended recommendations (any may be null):
// the user model (scores every item for a history), the similar-items
// model (Similar() of each recent history item), popularity, trending, and
// a second model of the history.
inline constexpr int kGenerators = 5;  // user, similar, pop, trending, second, in this order
const char* GeneratorName(int g);
struct GeneratorSet {
  const rec::Model* user = nullptr;
  const rec::Model* similar = nullptr;
  const rec::Model* pop = nullptr;
  const rec::Model* trending = nullptr;
  const rec::Model* second = nullptr;  // a second model of the history (sasrec, twotower, ease, ...)
};
struct BlendOptions {
  double w_user = 1, w_similar = 1, w_pop = 0.3, w_trending = 0.5, w_second = 1;  // 0 = not asked
  size_t depth = 100;      // candidates per generator
  size_t recent = 10;      // similar: the last N history items
  size_t neighbours = 20;  // ... and N neighbours of each
  bool exclude_seen = true;
  double Weight(int g) const;
};
// One item any generator proposed.
struct BlendCandidate {
  uint32_t item = 0;
  double fused = 0;                 // weighted reciprocal rank, sum of w / (60 + rank)
  float score[kGenerators];         // each generator's score (NaN: not proposed by it)
  int rank[kGenerators];            // 1-based rank in its list (0: not proposed)
  uint32_t because = rec::kNone;    // similar: the recent history item it is closest to
};
// Every generator's best `depth` for history h (the user model only when
// it knows an item of h), deduplicated, best fused score first (ties by
// lower id). `buffer` (optional) is scoring scratch; on return it holds
// the user model's score of every item when the user list was made (else
// it is empty).
std::vector<BlendCandidate> BlendCandidates(const GeneratorSet& generators, const rec::History& h,
                                            const BlendOptions& options, std::vector<float>* buffer = nullptr);

// Adds two model families to rec's registry (MakeModel, souk train / eval /
// recommend / serve use them like the built-ins):
//   blend:user=ials,similar=itemknn,second=none,w_user=1,w_similar=1,w_pop=0.3,w_trending=0.5,w_second=1,
//         depth=100,recent=10
//     the generators fitted together, scored by BlendCandidates' fusion;
//   ltr-recs:(the same keys),users=10000,rounds=300,eta=0.1,max_depth=6,early_stop=30
//     LambdaMART (rank:ndcg) re-ranking the blended candidates, trained on
//     each user's held-out last new item with RecFeatureNames() features.
// Sub-model specs use '/' for ':' and ',': user=ials/f=128/reg=0.05.
// Both score their candidates above every other item; the others follow
// in the user model's order (-inf when it does not know the history), and
// items of the history are -inf (never proposed). Call once, before MakeModel.
void RegisterRecModels();
const std::vector<std::string>& RecFeatureNames();

}  // namespace souk::rank
