// Subcommands of `souk` that live outside main.cc (internal to src/cli).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "bandit/bandit.h"
#include "core/config.h"
#include "rank/rank.h"
#include "rec/rec.h"
#include "search/search.h"
#include "store/store.h"

namespace souk::text {
class Analyzer;
}

namespace CLI {
class App;
}  // namespace CLI

namespace souk::cli {

// "souk: error: MESSAGE" on stderr; returns the exit code 1.
int Fail(const Status& s);
// One JSON line on stdout (invalid UTF-8 replaced).
void PrintJson(const nlohmann::json& j);

struct SearchArgs {
  std::string dir;
  std::string query;         // one query, or
  std::string queries_file;  // one query a line -> one JSON line each
  size_t k = 10;
  bool exact = false;  // plain BM25F, OR semantics, no typos or synonyms
  bool typos = true;
  bool synonyms = true;
  std::string filter;               // e.g. price:[10 TO 50] AND brand:acme
  std::vector<std::string> facets;  // brand, category, tags, price
  bool prefix = false;              // search-as-you-type on the last word
  bool highlight = false;           // --json: add the highlighted title of each hit
  std::string sort = "relevance";   // relevance, price_asc, price_desc, popularity
  size_t page = 1;                  // 1-based; k results per page
  double prior_weight = 0;          // from search.prior_weight
  // Retrieval: bm25 (the index alone, the default), vector (the query tower
  // of `vector_model` over its item index) or hybrid (both, fused).
  std::string mode = "bm25";
  std::string fusion = "rrf";  // hybrid: rrf (k = 60) or blend
  double blend_weight = -1;    // blend: weight of the vector side; < 0 = tuned on validation queries (search-eval)
  size_t fuse_depth = 100;     // hybrid: top-N of each side that is fused
  std::string vector_model = "twotower";
  double validation_share = 0.2;  // search-eval: judged queries used to tune, not to test (when a mode is given)
  double test_share = -1;         // ... and the share tested on; < 0 = every query that is not validation
  bool mode_given = false;        // search-eval: --mode was given (else the whole judgment set, as before)
  // Query intent (DIR/models/intent.bin): "" = off, boost or filter, over BM25's top 100.
  std::string intent;
  double intent_weight = 1.0;     // boost: score * (1 + weight * p(category))
  double intent_threshold = 0.7;  // filter: applies when the top category's p >= this
  std::string rank = "none";      // search-eval: none or ltr (DIR/models/ltr-search.json)
  bool rules = true;              // search: apply the store's business rules (souk rules)
  bool json = false;
};

// `souk index DIR`: builds the search index from the catalog and saves it.
int IndexCommand(const std::string& dir, Store* store, const Config& config, bool json);
// `souk search DIR QUERY | --queries FILE`.
int SearchCommand(const SearchArgs& args, Store* store, const Config& config);
// `souk suggest DIR PREFIX [--k N]`.
int SuggestCommand(const std::string& dir, const std::string& prefix, size_t k, Store* store, const Config& config,
                   bool json);
// The vector index of a model's item vectors, DIR/vectors/NAME.idx, built
// by `souk train` for models with a query tower.
struct VectorIndexInfo {
  std::string path, spec;
  size_t vectors = 0, exact_below = 0;
  bool exact = true;         // searches scan exactly (fewer vectors than exact_below)
  double hnsw_recall10 = 1;  // recall@10 of a graph search against exact search
  double seconds = 0;
};
Result<VectorIndexInfo> BuildItemVectorIndex(const std::string& dir, const std::string& name, const rec::Model& model,
                                             const Config& config);

// How search-eval splits judged queries, by a hash of the query text (stable
// across runs and tools): a `validation` share to tune on, a `test` share to
// measure on (< 0: the rest), and what is left is a training part that is
// never evaluated.
struct QuerySplit {
  double validation = 0.2;
  double test = -1;
  enum Part { kTrain, kValidation, kTest };
  Part Of(std::string_view query) const;
  Status Check() const;  // InvalidArgument when the shares add up to more than 1
};

// The queries of a judgments file that a model learning from the search log
// must not see: with a training part (split.test given), the validation and
// test queries, so neither the tuning nor the measuring sees a query the
// model learnt from; without one, the test queries only (validation kept).
Result<std::unordered_set<std::string>> HeldOutQueries(const std::string& judgments, const QuerySplit& split);

// `souk intent DIR --train` / `souk intent DIR QUERY [--k N]`.
// With `holdout_judgments`, searches whose query is in that file's test part
// (HeldOutQueries with `split`, search-eval's default shares unless given) are not learnt
// from, so `search-eval --mode bm25 --intent ...` measures unseen queries.
int IntentCommand(const std::string& dir, bool train, const std::string& query, size_t k,
                  const std::string& holdout_judgments, const QuerySplit& split, Store* store, bool json);

// `souk search-eval DIR --judgments FILE`.
int SearchEvalCommand(const SearchArgs& args, const std::string& judgments, Store* store, const Config& config);

struct RecArgs {
  std::string dir;
  std::vector<std::string> models;     // specs: --model (repeatable)
  std::string model;                   // recommend/similar: the trained model to serve (default from souk.toml)
  std::string user, users_file;        // recommend for users
  std::string session, sessions_file;  // ... or for anonymous sessions (item ids, comma-separated)
  std::string item;                    // similar
  size_t k = 10;
  std::optional<bool> exclude_seen;  // default: yes for users, no for sessions
  bool all = false;                  // eval every model
  std::string split = "leave-one-out";
  std::string protocol = "full";
  std::string html;                // eval: HTML report path
  int trials = 20;                 // tune
  std::string metric = "NDCG@10";  // tune
  bool explain = false;            // recommend: why each item (RecService::Options)
  bool blend = false;              // recommend: candidates of every generator, fused
  double diversity = -1;           // recommend: MMR lambda (< 0: rank.diversity)
  std::string diversity_sweep;     // eval: lambdas "0,0.5,1": one model re-ranked by MMR at each
  std::string holdout_judgments;   // train: leave the test queries of this judgments file out of the search log
  double validation_share = 0.2;   // ... the share of judged queries that is validation, not test
  double test_share = -1;          // ... and test (< 0: the rest); given, validation is held out too
  bool json = false;
};

// `souk train DIR [--model SPEC]...`: fits and saves models (rec.models by default).
int TrainCommand(const RecArgs& args, Store* store, const Config& config);
// `souk recommend DIR USER | --users FILE | --session ITEMS | --sessions FILE`.
int RecommendCommand(const RecArgs& args, Store* store, const Config& config);
// `souk similar DIR ITEM`.
int SimilarCommand(const RecArgs& args, Store* store, const Config& config);
// `souk eval DIR --model SPEC | --all [--split S] [--protocol P]`.
int EvalCommand(const RecArgs& args, Store* store, const Config& config);
// `souk tune DIR --model NAME --trials N`.
int TuneCommand(const RecArgs& args, Store* store, const Config& config);

// `souk runs DIR [RUN]`: training runs in DIR/runs (per-epoch loss and
// validation NDCG@10), a line each, or one run's curve.
int RunsCommand(const std::string& dir, const std::string& run, bool as_json);

// `souk score-lists FILE [--k 20]`: HR, MRR, NDCG and recall of ranked lists
// produced elsewhere (lines TARGET<TAB>ITEM,ITEM,...), with souk's metric code.
int ScoreListsCommand(const std::string& path, const std::vector<size_t>& ks, bool as_json);

struct EmbedArgs {
  std::string dir;
  std::string encoder;             // spec: torchscript:path=...,vocab=...
  std::vector<std::string> texts;  // --text (repeatable), or
  std::string texts_file;          // --texts FILE: one text a line, or
  bool items = false;              // --items: the catalog -> DIR/vectors/items-NAME.f32
  std::string name;                // NAME above (default: the model file's stem)
  bool tokens = false;             // --json lines also carry "ids" and "tokens"
  bool json = false;
};

// `souk embed DIR --encoder SPEC --text T... | --texts FILE | --items`.
int EmbedCommand(const EmbedArgs& args, Store* store);

// `souk bandit qlearn --shop DIR`: Q-learning vs. baselines in the session
// simulator built from DIR/generated (src/cli/qlearn_cmd.cc, docs/bandit.md).
struct QLearnArgs {
  std::string shop;
  uint64_t episodes = 200000;      // training episodes per agent and seed
  uint64_t eval_episodes = 20000;  // greedy evaluation episodes per agent and seed
  uint32_t seeds = 5;
  uint64_t seed = 1;
  double gamma = 0.95, alpha = 0.01, eps = 1, decay = 0.0002;
  int level = 2, history = 1;
  double purchase_weight = 5, prior = 20, interest_power = 1;
  bool click_to_continue = false, revenue = false, checkout = false;
  bool json = false;
};
int QLearnCommand(const QLearnArgs& args);

// `souk bandit simulate`: every policy over the environment's seeds; a
// table (or JSON) and, with `html`, a regret chart.
struct BanditSimArgs {
  bandit::SimOptions sim;
  std::string shop;                   // --env shop: a generated shop (DIR or DIR/generated)
  std::vector<std::string> policies;  // empty or {"all"}: DefaultSimPolicies(env)
  std::string html;
  bool json = false;
};
int BanditSimulateCommand(const BanditSimArgs& args);

// `souk campaign create|list|show|decide|reward|log DIR ...`.
struct CampaignArgs {
  std::string action;  // create, list, show, decide, reward, log
  std::string name;    // campaign
  std::string policy = "ts";
  std::vector<std::string> arms, features;
  uint32_t slots = 1;
  uint64_t seed = 0;
  std::string user, context;  // decide
  std::string decision;       // reward
  std::vector<double> rewards;
  bool json = false;
};
int CampaignCommand(const CampaignArgs& args, Store* store);
struct OpeArgs {
  std::string log;           // decision log
  std::string format;        // souk or obd ("" = from the extension: .csv is obd)
  std::string policy;        // uniform, arm:N or file:PATH
  std::string item_context;  // obd: item features ("" = item_context.csv beside the log if there, "none" = none)
  uint64_t synthetic = 0;    // > 0: a synthetic log of this many rounds instead of --log
  bandit::SyntheticOpeOptions synthetic_options;  // its environment (rounds and seed come from the flags above)
  bandit::OpeOptions options;
  bool json = false;
};

// Registers `souk ope` and its flags on `app`, writing into `args`.
CLI::App* AddOpeCommand(CLI::App& app, OpeArgs* args);
// `souk ope --log F --policy P | --synthetic N`.
int OpeCommand(const OpeArgs& args);

// For the HTTP server (src/server): the search index as `souk search` opens
// it (built when missing, catalog changes since folded in), and its hits as
// `search --json` prints them.
Result<std::unique_ptr<search::Index>> OpenSearchIndex(const std::string& dir, Store* store, const Config& config);
nlohmann::json SearchHitsJson(const search::Index& index, const std::string& query, const search::SearchResult& r,
                              double ms);

// For the HTTP server: the models `souk recommend` / `souk similar` serve
// (rec.user_model, rec.session_model, rec.similar_model, pop as fallback),
// loaded once, answering as their --json does. Const and thread-safe apart
// from the store, which the caller serialises.
// explain: each item says why ("because" objects and a "reason" text).
// blend: candidates from every generator there is (the user model, the
// similar-items model over the recent history, popularity, trending),
// deduplicated and fused by weighted reciprocal rank (rank.blend_weights).
struct RecServiceOptions {
  bool explain = false;
  bool blend = false;
};

class RecService {
 public:
  static Result<std::unique_ptr<RecService>> Open(const std::string& dir, const Config& config);
  using Options = RecServiceOptions;
  Result<nlohmann::json> ForUser(Store* store, const std::string& user, size_t k, bool exclude_seen,
                                 const Options& options = {}) const;
  Result<nlohmann::json> ForSession(Store* store, const std::vector<std::string>& items, size_t k) const;
  Result<nlohmann::json> Similar(Store* store, const std::string& item, size_t k) const;
  // The user model's score of every item (by dense id) for a known user;
  // empty when there is no user model or the user has no history it knows.
  Result<std::vector<float>> UserScores(Store* store, const std::string& user) const;
  std::string UserModelName() const;

 private:
  RecService() = default;
  Result<nlohmann::json> Blended(Store* store, const rec::History& h, size_t k, bool exclude_seen,
                                 const Options& options) const;
  rec::EventWeights weights_;
  std::unique_ptr<rec::Model> user_, session_, similar_, pop_, trending_;
  std::map<std::string, double> blend_weights_;  // user, similar, pop, trending
};

// What business rules ask of the catalog, answered by a search index (null:
// nothing matches): each rule's filter, and stock 0, matched the first
// time they are asked and kept. Keeps the index alive. Thread-safe.
class RuleMatcher {
 public:
  RuleMatcher(std::shared_ptr<const search::Index> index, std::vector<RuleRecord> rules);
  bool Matches(size_t rule, ItemId item) const;
  bool OutOfStock(ItemId item) const;
  const search::Index* index() const { return index_.get(); }
  const std::vector<RuleRecord>& rules() const { return rules_; }
  // Hooks for rank::ApplyRules that refer to this matcher.
  rank::RuleHooks Hooks(std::function<ItemId(const std::string& ext_id)> lookup) const;

 private:
  std::shared_ptr<const search::Index> index_;
  std::vector<RuleRecord> rules_;
  mutable std::mutex mu_;
  mutable std::vector<std::vector<uint8_t>> matches_;  // per rule; empty = not matched yet
  mutable std::vector<uint8_t> stock0_;
  mutable bool stock0_done_ = false;
};

// The business rules of one search (surface search), as `souk search` and
// /v1/search apply them. Plan: with `fold`, filter hides and out-of-stock
// go into the search's filter (they then cost no results); every other
// applying rule may move or drop one result, so as many more are fetched.
struct SearchRulePlan {
  bool on = false;      // a rule applies, or out-of-stock items are excluded
  std::string filter;   // the filter to search with
  size_t extra = 0;     // results to fetch beyond the page
  nlohmann::json applied = nlohmann::json::array();  // ids of the rules that apply
};
SearchRulePlan PlanSearchRules(const std::vector<RuleRecord>& rules, const rank::RuleContext& ctx,
                               const std::string& filter, bool fold);
// The ranked hits after the rules (scores kept; an inserted pin scores 0).
std::vector<search::Hit> ApplySearchRules(const std::vector<RuleRecord>& rules, const rank::RuleContext& ctx,
                                          const std::vector<search::Hit>& hits, const rank::RuleHooks& hooks);

// What happens to a recommendation list after the models (souk recommend
// and /v1/recommend alike): the candidates fetched (FetchSize) are
// re-picked by category MMR at `lambda` (rank::Diversify), then the
// business rules of surface "recommend" apply (rank::ApplyRules), and k
// are kept.
struct RecFinish {
  size_t k = 10;
  double lambda = 0;                  // 0 = the models' order
  rank::DiversityOptions diversity;   // weights (lambda and depth are set here)
  const std::vector<RuleRecord>* rules = nullptr;  // every rule; those that apply to recommendations are used
  bool exclude_out_of_stock = false;
  rank::RuleHooks hooks;              // lookup (external id -> dense id), matches, out_of_stock
  // Category and price of an item by external id (for diversity).
  std::function<std::pair<std::string, double>(const std::string& ext)> category_price;
  bool RulesApply() const;
  size_t FetchSize() const;  // candidates to ask the models for
};
// Cuts j["items"] (the fetched list, best first) to f.k; adds
// "diversity":{lambda,candidates} and "rules":[ids] when they applied.
void FinishRecommendations(const RecFinish& f, nlohmann::json* j);

// {"runs":[{"run","model","started","epochs":[{epoch,loss,val_ndcg10,seconds}],...}]}
// of DIR/runs/*.jsonl (the server's /v1/admin/runs).
nlohmann::json RunsJson(const std::string& dir);

// ---- ranking (rank_cmd.cc) ----
// The analyzer the search index uses (search.stem, search.cjk, the dictionary).
Result<std::shared_ptr<const text::Analyzer>> QueryAnalyzer(const Config& config);
// `souk search`'s query options with no flags given.
search::QueryOptions DefaultQueryOptions();

// The search LTR model with what it reads: the index, the feature store as
// of the model's cutoff (the start of its held-out period) and BM25 per field.
class LtrContext {
 public:
  // serving = false (evaluation): features as of the model's cutoff, and
  // an index of its own for Rank. serving = true: every event, no index.
  static Result<std::unique_ptr<LtrContext>> Open(const std::string& dir, Store* store, const Config& config,
                                                  bool serving = false);
  ~LtrContext();
  // Re-orders the first depth() hits (BM25F's list for `query`, from any
  // index of the same catalog) by the model for `user`; their scores become
  // the model's. Thread-safe.
  Status Rerank(const std::string& query, const std::string& user, std::vector<search::Hit>* hits) const;
  size_t depth() const;
  // The feature store alone (every event, no model, no index): for
  // Features. Rerank and Rank refuse.
  static Result<std::unique_ptr<LtrContext>> OpenFeatures(const std::string& dir, Store* store, const Config& config);
  // Events stored since it was opened (unflagged ones count), in time
  // order: the feature store follows the log while serving. Returns how
  // many were applied. Takes the context alone for the time it runs.
  size_t Apply(const EventColumns& events) const;
  // `souk features --json` / GET /v1/admin/features: the item's features,
  // the user's profile and, for both, the ranking features of the pair
  // (with `query`'s BM25 per field). External ids; "" = not asked. at_ms
  // 0 = the latest event (never past the clock). NotFound for an unknown id.
  Result<nlohmann::json> Features(const std::string& user, const std::string& item, const std::string& query,
                                  int64_t at_ms = 0) const;
  // BM25F's top rank.depth for `query`, re-ranked by the model (for `user`,
  // an external id, or anonymous when empty), then BM25F's order below:
  // external item ids, best first, at most k.
  Result<std::vector<std::string>> Rank(const std::string& query, const std::string& user, size_t k) const;
  struct Rep;

 private:
  explicit LtrContext(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};
bool IsLtrSpec(const std::string& spec);
int TrainLtrSearchCommand(const RecArgs& args, Store* store, const Config& config);

struct FeaturesArgs {
  std::string dir, user, item, query;
  int64_t at_ms = 0;  // 0 = after every event
  bool json = false;
};
int FeaturesCommand(const FeaturesArgs& args, Store* store, const Config& config);

struct RulesArgs {
  std::string dir, action;  // list, add, delete
  std::string kind, surface, query, item, filter;
  int position = 0;
  int64_t id = 0;
  bool json = false;
};
int RulesCommand(const RulesArgs& args, Store* store, const Config& config);

// `souk serve DIR` and `souk keys create|list DIR`.
struct ServeArgs {
  std::string dir, host = "127.0.0.1";
  int port = 7700;
  double rate = 200;
  size_t max_body_mb = 8;
  int threads = 0;  // event loops; 0 = one per core
  int timeout_s = 10;  // read and write timeout per request
  double retrain_minutes = 0;
  bool quiet = false;
  bool routes = false;  // print the route table as JSON and exit
  std::string console_key;  // souk demo: print the console URL with this key once bound
};
int ServeCommand(const ServeArgs& args);

// `souk demo`: the demo shop in DIR (generated, or reused when there),
// cleaned, indexed, trained and evaluated, a demo campaign warmed with
// simulated visitors, an admin key, then `souk serve` with the console URL.
struct DemoArgs {
  std::string dir = "demo-data", host = "127.0.0.1";
  int port = 7700;
  bool fresh = false;     // start over: delete DIR first
  bool no_serve = false;  // prepare, print the key, exit
  bool quiet = false;     // no access log
};
int DemoCommand(const DemoArgs& args);
int KeysCommand(const std::string& action, const std::string& dir, const std::string& scope, bool json);

}  // namespace souk::cli
