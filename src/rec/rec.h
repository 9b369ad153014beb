// Recommenders: the interaction data they learn from, one Model interface,
// and the classical models behind it (popularity, trending, item-kNN,
// session-kNN, iALS, BPR, EASE).
//
// Data flow: store events --(BuildInteractions: event-type weights, time
// decay, quality flags)--> Interactions --(Model::Fit)--> Model.
// A fitted model answers Score(history) for any history, including events
// stored after it was fitted: item-kNN, EASE and session-kNN score straight
// from the history, iALS folds the history into a fresh user vector by one
// least-squares solve, BPR by a few gradient steps. That is what makes
// recommendations real-time without retraining.
//
// Ids are the store's dense ids (ItemId/UserId, 0..n-1). A model fitted on
// n items scores items 0..n-1; items added later score -inf until the next
// fit, and history items >= n are ignored.
//
// Thread-safety: a fitted Model is immutable; Score/Similar may be called
// from many threads at once. Fit and Load are not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/core.h"
#include "core/status.h"
#include "store/store.h"

namespace souk::rec {

inline constexpr uint32_t kNone = 0xffffffffu;

// One weighted interaction, the unit every model learns from.
struct Interaction {
  uint32_t user = 0;
  uint32_t item = 0;
  float weight = 1;      // event-type weight times time decay, > 0
  int64_t ts_ms = 0;     // when it happened
  uint32_t session = 0;  // session key (0 = none: sessions are cut by inactivity)
};

// The interaction matrix in the layouts models need. Built once, read-only.
//
// Layouts (all arrays contiguous, offsets are uint64):
//  - by user (CSR): for user u, entries user_ptr[u]..user_ptr[u+1] of
//    user_items/user_weights, one entry per distinct item, sorted by item id;
//    the weight is the sum of the pair's interaction weights.
//  - by item (CSC): the same pairs grouped by item, sorted by user id.
//  - sequences: for user u, seq_ptr[u]..seq_ptr[u+1] of seq_items/seq_ts,
//    every interaction (repeats kept) in time order (ties in input order).
//  - sessions: for session s, sess_ptr[s]..sess_ptr[s+1] of sess_items, in
//    time order; sess_ts[s] is the session's last timestamp. Sessions are the
//    interactions' session keys, or, where the key is 0, a user's events cut
//    at 30 minutes of inactivity.
struct Interactions {
  uint32_t num_users = 0;
  uint32_t num_items = 0;
  std::vector<uint64_t> user_ptr;
  std::vector<uint32_t> user_items;
  std::vector<float> user_weights;
  std::vector<uint64_t> item_ptr;
  std::vector<uint32_t> item_users;
  std::vector<float> item_weights;
  std::vector<uint64_t> seq_ptr;
  std::vector<uint32_t> seq_items;
  std::vector<int64_t> seq_ts;
  std::vector<uint64_t> sess_ptr;
  std::vector<uint32_t> sess_items;
  std::vector<int64_t> sess_ts;
  int64_t max_ts_ms = 0;  // latest interaction, the "now" of trending

  size_t nnz() const { return user_items.size(); }
  size_t num_sessions() const { return sess_ptr.empty() ? 0 : sess_ptr.size() - 1; }
  std::span<const uint32_t> UserItems(uint32_t u) const {
    return {user_items.data() + user_ptr[u], user_items.data() + user_ptr[u + 1]};
  }
  std::span<const float> UserWeights(uint32_t u) const {
    return {user_weights.data() + user_ptr[u], user_weights.data() + user_ptr[u + 1]};
  }
  std::span<const uint32_t> ItemUsers(uint32_t i) const {
    return {item_users.data() + item_ptr[i], item_users.data() + item_ptr[i + 1]};
  }
  std::span<const float> ItemWeights(uint32_t i) const {
    return {item_weights.data() + item_ptr[i], item_weights.data() + item_ptr[i + 1]};
  }
  std::span<const uint32_t> Sequence(uint32_t u) const {
    return {seq_items.data() + seq_ptr[u], seq_items.data() + seq_ptr[u + 1]};
  }
  std::span<const uint32_t> Session(size_t s) const {
    return {sess_items.data() + sess_ptr[s], sess_items.data() + sess_ptr[s + 1]};
  }
};

// Builds all layouts. Interactions with user >= num_users or item >=
// num_items are programmer errors (asserted).
Interactions BuildInteractions(std::span<const Interaction> data, uint32_t num_users, uint32_t num_items);

// How store events become interactions (settings rec.weight.*, rec.half_life_days).
struct EventWeights {
  float view = 1, click = 2, cart = 4, purchase = 8, rating = 4, other = 1;
  double half_life_days = 0;     // 0 = no time decay; else weight *= 0.5^(age/half_life)
  bool include_flagged = false;  // events flagged by `souk clean` are left out unless true
};

// The weight an event of `type` gets (0 = not an interaction: search,
// impression).
float EventTypeWeight(const EventWeights& w, int type);

// Everything models learn from, read from the store: interactions of
// item-bearing events with positive weight (flagged events left out unless
// include_flagged), decayed relative to the latest event.
struct TrainingData {
  std::vector<Interaction> interactions;
  uint32_t num_users = 0, num_items = 0;
  std::vector<uint32_t> item_category;  // category path id per item, kNone = none
  std::vector<std::string> categories;  // id -> "a > b > c"
};
Result<TrainingData> LoadTrainingData(Store& store, const EventWeights& weights);

// A user's (or an anonymous session's) history in time order, as the model
// sees it at request time. `weights` may be empty (= all 1).
struct History {
  uint32_t user = kNone;  // the dense user id when known to the model, else kNone
  std::vector<uint32_t> items;
  std::vector<float> weights;
  std::vector<int64_t> ts_ms;  // may be empty
};

// The user's history as stored now (events a second old included), weighted
// like training data, in time order.
Result<History> LoadHistory(Store& store, uint32_t user, const EventWeights& weights);

// What content models (src/deep's twotower) learn from besides the
// interactions: the catalog's text and attributes by dense item id, and the
// search log's (query, picked item) pairs (Store::SearchPicks). Loaded only
// for models whose WantsContent() is true.
struct ItemContent {
  // By dense item id, num_items long; "" = none (deleted items and
  // placeholders have empty text, so they only have an id).
  std::vector<std::string> titles, descriptions, brands, categories;
  std::vector<double> prices;  // NaN = none
  struct Query {
    std::string text;
    uint32_t item = kNone;  // the pick
    uint32_t user = kNone;
    int64_t ts_ms = 0;
  };
  std::vector<Query> queries;  // in time order
};
// The catalog (items 0..num_items-1) and the search picks of `store`.
Result<ItemContent> LoadItemContent(Store& store, uint32_t num_items);

// What every model gets besides the data: no globals.
struct FitContext {
  int threads = 1;
  uint64_t seed = 42;
  // Item -> category id (dense, kNone = none), for per-category popularity
  // and diversity; may be empty.
  std::vector<uint32_t> item_category;
  // Called with (done, total) during long fits; may be empty.
  std::function<void(uint64_t, uint64_t)> progress;
  // Training curve: models that train by epochs call this with one JSON
  // object per epoch ({"epoch":..,"loss":..,"val_ndcg10":..,"seconds":..});
  // the CLI appends them to DIR/runs/NAME-TIME.jsonl. May be empty.
  std::function<void(const std::string&)> log;
  // Item text and search pairs, for models that ask (WantsContent); may be
  // null, and such models then fail with FailedPrecondition.
  const ItemContent* content = nullptr;
};

struct ScoredItem {
  uint32_t item;
  float score;
};

class Model {
 public:
  virtual ~Model() = default;

  // The model family ("ials") and its full description
  // ("ials:f=64,reg=0.01,a=10,it=15"); MakeModel(Describe()) rebuilds the
  // same configuration.
  virtual std::string Name() const = 0;
  virtual std::string Describe() const = 0;

  // Learns from `data`. Returns an error a user can act on (e.g. EASE on a
  // catalog above its limit).
  virtual Status Fit(const Interactions& data, const FitContext& ctx) = 0;

  // Writes a score for every item 0..num_items()-1 into `scores` (size
  // num_items()). Higher is better; -inf means "never recommend".
  virtual void Score(const History& history, std::span<float> scores) const = 0;

  // Scores many histories in one call: row r of `scores` (row-major,
  // histories.size() x num_items()) gets what Score(*histories[r]) would
  // write. The default loops over Score; models with a batched forward
  // (sasrec) override it to amortise per-call costs. Same thread-safety as
  // Score.
  virtual void ScoreBatch(std::span<const History* const> histories, std::span<float> scores) const;

  // Items most similar to `item` (not including it), best first. Models
  // without an item-item notion return FailedPrecondition.
  virtual Result<std::vector<ScoredItem>> Similar(uint32_t item, size_t k) const;

  // Item factor matrix for ANN retrieval (row-major num_items x dim) and the
  // user vector for a history; empty for models without factors.
  virtual size_t FactorDim() const { return 0; }
  virtual const float* ItemFactors() const { return nullptr; }
  virtual std::vector<float> UserVector(const History&) const { return {}; }

  // Whether Fit needs FitContext::content (the catalog's text and the search
  // log); the CLI loads it only then.
  virtual bool WantsContent() const { return false; }
  // Models with a query tower (twotower) embed search queries into the
  // space of ItemFactors(): *out gets texts.size() x FactorDim() floats,
  // row-major, so <query, item factor> ranks items for the text. Others
  // return FailedPrecondition.
  virtual Status EmbedQueries(std::span<const std::string> texts, std::vector<float>* out) const;

  virtual uint32_t num_items() const = 0;

  // Binary state, without the description (Save/LoadModel add it).
  virtual Status SaveState(std::ostream& out) const = 0;
  virtual Status LoadState(std::istream& in) = 0;
};

// Builds an unfitted model from "name" or "name:key=value,...". Names: pop,
// trending, itemknn, sknn, ials, bpr, ease. Unknown names or keys, and bad
// values, are InvalidArgument naming the key.
Result<std::unique_ptr<Model>> MakeModel(std::string_view spec);

// The model names MakeModel accepts, in the order `souk eval --all` runs them
// (built-ins, then registered families).
std::vector<std::string> ModelNames();

// Modules above rec (src/deep) add model families here, so MakeModel,
// LoadModel, `souk eval` and `souk recommend` use them like the built-ins.
// The factory reads its keys from the spec (MakeModel Finish()es it).
// Register before any MakeModel call; not thread-safe.
class Spec;
using ModelFactory = std::function<std::unique_ptr<Model>(Spec&)>;
void RegisterModelFactory(const std::string& name, ModelFactory factory);

// Called by MakeModel with a name it does not know, before giving up: a
// chance to load the module that provides it (the CLI loads src/deep's
// libsouk_deep.so on demand). Returns an error to report, or Ok.
using ModelLoader = std::function<Status(const std::string& name)>;
void SetModelLoader(ModelLoader loader);

// File format: "SOUKREC1", u32 spec length, spec bytes, then SaveState.
Status SaveModel(const Model& model, const std::string& path);
Result<std::unique_ptr<Model>> LoadModel(const std::string& path);

struct RecommendOptions {
  size_t k = 10;
  bool exclude_seen = true;
  // Return false to drop an item (out of stock, deleted, ...); may be empty.
  std::function<bool(uint32_t)> filter;
};

// Scores with `model` and returns the best k items, best first (ties by
// lower item id). Uses a caller-owned buffer when given.
std::vector<ScoredItem> Recommend(const Model& model, const History& history, const RecommendOptions& options,
                                  std::vector<float>* buffer = nullptr);

// The best k entries of `scores` (skipping -inf and NaN), best first, ties by
// lower index.
std::vector<ScoredItem> TopK(std::span<const float> scores, size_t k);

// ---- spec parsing helpers shared by the models ---------------------------

// Parsed "name:key=value,..." with typed getters that record which keys were
// read, so Finish() can reject unknown keys.
class Spec {
 public:
  static Result<Spec> Parse(std::string_view text);
  const std::string& name() const { return name_; }
  double Double(const std::string& key, double fallback);
  int64_t Int(const std::string& key, int64_t fallback);
  std::string String(const std::string& key, const std::string& fallback);
  Status Finish() const;  // first error: a bad value or an unknown key

 private:
  std::string name_;
  std::vector<std::pair<std::string, std::string>> kv_;
  std::vector<bool> used_;
  Status error_;
};

// OpenBLAS (EASE's LAPACK, libtorch's BLAS) picks its kernels from the CPU
// model when it loads; VMs that report a generic CPU get SSE3 kernels, 1.5-3x
// slower. Sets OPENBLAS_CORETYPE from the CPU's feature bits unless the user
// set it; call before anything loads OpenBLAS (EASE and the CLI do).
void ChooseBlasKernels();

// Formats a float for Describe(): shortest text that round-trips to the
// same value within 1e-6 relative ("0.01", "10", "0.5").
std::string FormatNumber(double value);

}  // namespace souk::rec
