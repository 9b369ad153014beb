// Offline evaluation of recommenders: splits of the interaction log into
// training data and evaluation cases, ranking protocols, accuracy and
// beyond-accuracy metrics with bootstrap intervals, and reports (JSON, text
// table, self-contained HTML).
//
// Flow: data --(LeaveOneOut | Temporal | Sessions)--> Split{train, cases};
// the caller fits a model on BuildInteractions(split.train) and calls
// Evaluate(model, split, ...), which scores every case's history, ranks the
// case's targets under the protocol and averages per-case metrics.
//
// Ranking rule (all protocols): a target's 0-based rank is the number of
// candidates with a strictly higher score plus half the number of other
// candidates with the same score (integer division), so ties neither help
// nor hurt on average and a constant model is not "perfect". A NaN or -inf
// target score gets the worst rank, kUnranked, a miss at every k (TopK and
// Recommend never return such an item, however short the list). When a
// case has several targets, their ranks are sorted and made strictly
// increasing (two targets cannot share a list position) before metrics are
// taken; the positions of a real top-k list give the same numbers.
//
// Seen items: with exclude_seen, the items of a case's history are not
// candidates (as Recommend with exclude_seen does), so a target the user
// already interacted with counts as a miss; Temporal and LeaveOneOut targets
// never are in the history (both take new items), and session
// splits keep seen items by default because sessions repeat items.
//
// Determinism: every random draw (negatives, bootstrap) comes from a
// generator seeded by (EvalOptions::seed, case or replicate index), so the
// numbers do not depend on the thread count.
//
// Thread-safety: all functions are reentrant; Evaluate uses
// EvalOptions::threads worker threads and calls Model::Score concurrently
// (fitted models are immutable, see rec.h).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "rec/rec.h"

namespace souk::eval {

// ---- splits ------------------------------------------------------------------

// One evaluation case: the history a model is asked to score from and the
// items it should rank high (distinct).
struct Case {
  uint32_t user = rec::kNone;  // dense user id, or kNone for anonymous sessions
  rec::History history;        // time ordered, weights and timestamps kept
  std::vector<uint32_t> targets;
};

struct Split {
  std::vector<rec::Interaction> train;  // in input order
  std::vector<Case> cases;
  std::string name;  // "loo-test", "temporal:0.8", "sessions:0.2", ...
  // The default for Protocol::exclude_seen: true for user splits, false for
  // session splits (sessions repeat items, next-item targets may be seen).
  bool exclude_seen = true;
};

enum class Stage { kValidation, kTest };

// Leave-one-out per user over *new* items, on interactions ordered by
// (ts_ms, input order): the target is the last item the user met for the
// first time (kTest) or the one before it (kValidation), and everything from
// that first encounter on is held out of train (its repeats and anything
// later), so the history is exactly what came before. Shop logs repeat items
// (view, cart, purchase of one product); predicting a product already in the
// history is not what a recommender is for. On data without repeats (the
// SASRec sets) this is the classic protocol: last item = test,
// second-to-last = validation. Users with fewer than 3 distinct items are
// not evaluated: all their interactions go to train. (The test stage trains
// on train + the validation item, like SASRec.) Users must be < num_users
// (asserted).
Split LeaveOneOut(std::span<const rec::Interaction> data, uint32_t num_users, Stage stage);

// A global time cutoff at the `fraction` quantile of timestamps (the
// timestamp at sorted position floor(fraction * n)); train = interactions
// strictly before it. A case for each user with training interactions and
// later interactions: history = the user's training interactions, targets =
// the distinct later items not in that history, in first-seen order (users
// whose later items are all seen get no case). fraction must be in (0, 1).
Result<Split> Temporal(std::span<const rec::Interaction> data, uint32_t num_users, double fraction = 0.8);

struct SessionSplitOptions {
  double test_fraction = 0.2;  // the last fraction of sessions (rounded) are test sessions
  double last_days = 0;        // > 0: instead, sessions ending within the last N days of the data
};

// "Given sessions" next-item evaluation. Sessions are the interactions'
// session keys (per user), or, where the key is 0, a user's events cut at 30
// minutes of inactivity (as rec::BuildInteractions); items in (ts, input)
// order. Sessions are ordered by their last timestamp (ties: first seen
// first); the last ones are test sessions and train holds all interactions
// of the other sessions. For each test session of length >= 2 and each
// position p = 0..len-2 there is a case with history = items[0..p] (user
// kNone: anonymous) and the single target items[p+1] (repeats allowed).
// Sets Split::exclude_seen = false.
Result<Split> Sessions(std::span<const rec::Interaction> data, uint32_t num_users,
                       const SessionSplitOptions& options = {});

// ---- protocols -----------------------------------------------------------------

struct Protocol {
  enum Kind {
    kFull,        // rank the targets among all items
    kSampled,     // rank each case's targets among `negatives` uniform negatives
    kPopSampled,  // ... among negatives drawn proportional to training popularity
  };
  Kind kind = kFull;
  int negatives = 100;
  // Remove history items from the candidates; unset = the split's default.
  std::optional<bool> exclude_seen;
};

// Parses "full", "sampled:N" or "popsampled:N" (N >= 1), optionally followed
// by ",exclude_seen" or ",keep_seen". Errors are InvalidArgument quoting the
// text and the accepted forms.
Result<Protocol> ParseProtocol(std::string_view text);

// The text ParseProtocol reads back: "full", "sampled:100",
// "popsampled:100,keep_seen" (the suffix only when exclude_seen is set).
std::string ProtocolText(const Protocol& protocol);

// Draws negatives for the sampled protocols. Built once per evaluation;
// Sample is const and may be called from many threads.
class NegativeSampler {
 public:
  // weights empty: uniform over 0..num_items-1; else item i is drawn with
  // probability proportional to weights[i] (items with weight <= 0 never).
  NegativeSampler(uint32_t num_items, std::vector<double> weights = {});

  // Up to n distinct items not in `exclude` (which may be unsorted and hold
  // duplicates or items >= num_items), drawn without replacement; exactly n when that many items are eligible,
  // else every eligible item. Deterministic for a given generator state.
  std::vector<uint32_t> Sample(std::span<const uint32_t> exclude, size_t n, std::mt19937_64& rng) const;

 private:
  uint32_t num_items_;
  std::vector<double> weights_;
  std::vector<double> cumulative_;  // prefix sums of weights_, for weighted draws
  uint32_t num_positive_ = 0;       // items with weight > 0
};

// ---- metrics -----------------------------------------------------------------

// The rank of a target that can never be recommended (NaN or -inf score).
inline constexpr uint64_t kUnranked = std::numeric_limits<uint64_t>::max();

// 0-based rank of a target with score `target` among candidates with scores
// `others` (not including the target itself): #(others > target) +
// #(others == target) / 2 (integer division). NaN/-inf target: kUnranked.
uint64_t TargetRank(float target, std::span<const float> others);

// Accuracy of one case at cut-off k (binary relevance).
struct Accuracy {
  double hr = 0;      // 1 if any target is in the top k
  double recall = 0;  // targets in the top k / number of targets
  double ndcg = 0;    // sum over hits at position p < k of 1/log2(p+2), over the IDCG of min(#targets, k) hits
  double mrr = 0;     // 1/(p+1) for the first hit at p < k, else 0
  double map = 0;     // sum over hits at p < k of precision@(p+1), over min(#targets, k)
};

// From the 0-based ranks of a case's targets (one per target, any order;
// ranks >= k are misses). See the tie rule above.
Accuracy AccuracyFromRanks(std::span<const uint64_t> ranks, size_t k);

// The same metrics from a ranked list (best first, distinct items) and the
// case's distinct targets.
double HitRateAtK(std::span<const uint32_t> ranked, std::span<const uint32_t> targets, size_t k);
double RecallAtK(std::span<const uint32_t> ranked, std::span<const uint32_t> targets, size_t k);
double NdcgAtK(std::span<const uint32_t> ranked, std::span<const uint32_t> targets, size_t k);
double MrrAtK(std::span<const uint32_t> ranked, std::span<const uint32_t> targets, size_t k);
double MapAtK(std::span<const uint32_t> ranked, std::span<const uint32_t> targets, size_t k);

// Training popularity, for novelty, popularity bias and popsampled.
struct Popularity {
  std::vector<uint32_t> users;  // per item: distinct training users who interacted with it
  uint32_t num_users = 0;       // distinct users in the training data
  // Per item, in (0, 1): (#items with fewer users + #items with as many
  // users, itself included, / 2) / num_items.
  std::vector<double> percentile;
};
Popularity ComputePopularity(std::span<const rec::Interaction> train, uint32_t num_items);

// Beyond-accuracy of one top-k list. Items outside the arrays count as
// unseen / uncategorised.
// Fraction of pairs of list items (both with a category; kNone = none)
// whose categories differ; NaN when the list has no such pair.
double IntraListDiversity(std::span<const uint32_t> list, std::span<const uint32_t> item_category);
// Mean of -log2(users_i / num_users); items no training user saw count as 1 user. NaN for an empty list.
double Novelty(std::span<const uint32_t> list, const Popularity& popularity);
// Mean popularity percentile of the items; NaN for an empty list.
double PopularityBias(std::span<const uint32_t> list, const Popularity& popularity);

// The 2.5% and 97.5% percentiles (linear interpolation) of the means of
// `replicates` resamples (with replacement) of `values`, from a generator
// seeded with `seed`. {NaN, NaN} when values is empty or replicates is 0.
std::pair<double, double> BootstrapInterval(std::span<const double> values, size_t replicates, uint64_t seed);

// ---- the runner --------------------------------------------------------------

struct EvalOptions {
  Protocol protocol;
  std::vector<size_t> ks = {1, 5, 10, 20};  // cut-offs for HR, Recall, NDCG, MRR, MAP (> 0)
  size_t list_k = 10;                       // top-k list length for the beyond-accuracy metrics
  int threads = 1;
  uint64_t seed = 42;
  std::vector<uint32_t> item_category;  // item -> category (kNone = none); empty = no diversity
  size_t bootstrap = 1000;              // resamples for ci95; 0 = no intervals
  // Called with (cases done, total) from worker threads, never concurrently; may be empty.
  std::function<void(uint64_t, uint64_t)> progress;
};

struct EvalResult {
  std::string model;     // the model's Describe()
  std::string split;     // Split::name
  std::string protocol;  // ProtocolText of the protocol as run
  uint64_t users = 0;    // distinct users among the cases (anonymous cases count one each)
  uint64_t cases = 0;
  // "HR@k", "Recall@k", "NDCG@k", "MRR@k", "MAP@k" for every k; for the full
  // protocol also "coverage@L", "diversity@L" (with categories), "novelty@L"
  // and "popularity_bias@L" at L = list_k. Means over cases.
  std::map<std::string, double> metrics;
  std::map<std::string, std::pair<double, double>> ci95;  // accuracy metric -> [lo, hi]
  double fit_seconds = 0;                                 // filled by the caller
  double eval_seconds = 0;
};

// Evaluates a fitted model on the split's cases over items 0..num_items-1
// (items the model does not know score -inf). Popularity comes from
// split.train. Errors: no cases (FailedPrecondition), a target >= num_items,
// a case without targets, or ks/list_k/negatives out of range
// (InvalidArgument).
Result<EvalResult> Evaluate(const rec::Model& fitted, const Split& split, uint32_t num_items,
                            const EvalOptions& options);

// ---- reports -------------------------------------------------------------------

// {"model","split","protocol","users","cases","metrics":{name:value},
//  "ci95":{name:[lo,hi]},"fit_seconds","eval_seconds"}.
nlohmann::json ToJson(const EvalResult& result);

// An aligned text table, one row per result: model, cases and the main
// metrics present (HR@10 NDCG@10 MRR@10 MAP@10 Recall@20 coverage@10
// diversity@10 novelty@10 popularity_bias@10; the largest k when 10/20 was
// not run), fit and eval seconds.
std::string TableText(const std::vector<EvalResult>& results);

// A self-contained HTML page (no external scripts or styles): the main
// table, every metric with its interval, and one inline SVG bar chart per
// main metric with 95% interval whiskers. All text is escaped.
Status WriteHtmlReport(const std::vector<EvalResult>& results, const std::string& path, const std::string& title);

}  // namespace souk::eval
