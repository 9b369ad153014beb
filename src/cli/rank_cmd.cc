// `souk features` (the feature store for one user and item) and the search
// LTR model: `souk train DIR --model ltr-search` and the re-ranker
// `souk search-eval --rank ltr` uses.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <tuple>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>

#include "cli/commands.h"
#include "rank/rank.h"
#include "text/text.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace souk::cli {

namespace {

constexpr char kLtrSearch[] = "ltr-search";

std::string LtrModelPath(const std::string& dir) { return (fs::path(dir) / "models" / "ltr-search.json").string(); }
std::string LtrMetaPath(const std::string& dir) { return (fs::path(dir) / "models" / "ltr-search.meta.json").string(); }
std::string LtrIntentPath(const std::string& dir) {
  return (fs::path(dir) / "models" / "ltr-search-intent.bin").string();
}
// Which half of the queries a query's intent pairs train (cross-fitting).
int QueryHalf(const std::string& normalized) { return static_cast<int>(std::hash<std::string>{}(normalized) & 1); }

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

json Num(double v) { return std::isnan(v) ? json(nullptr) : json(v); }

// The candidates of one query: BM25F's best `depth`, and each one's features.
struct Candidates {
  std::vector<ItemId> items;
  std::vector<float> x;  // items x features
};


}  // namespace

struct LtrContext::Rep {
  std::shared_ptr<const search::Index> index;
  std::vector<ItemRow> items;
  std::unique_ptr<rank::FeatureStore> features;
  std::unique_ptr<rank::FieldScorer> fields;
  std::unique_ptr<rank::Ranker> ranker;
  std::unordered_map<std::string, ItemId> ext_to_id;
  std::unordered_map<std::string, UserId> users;
  std::vector<std::string> user_ext;  // by dense id
  search::QueryOptions query;
  size_t depth = 50;
  int64_t now_ms = 0;
  // Readers (Rerank, Rank, Features) share it; Apply (new events while
  // serving) takes it alone.
  mutable std::shared_mutex mu;
  // Query intent: a category classifier trained with the ranker (null:
  // none, the intent features are NaN). While training, searches of the
  // training period take the model of the other half of the queries
  // (cross_fit), so no example's intent has seen its own pick.
  std::unique_ptr<search::IntentModel> intent, intent_half[2];
  bool cross_fit = false;
  std::vector<int> item_intent;  // dense item id -> index into intent->categories(), -1 = none
  std::unique_ptr<text::Analyzer> norm = std::make_unique<text::Analyzer>(text::AnalyzerOptions{}, nullptr);
  // A model with a query tower (rank.vector_model, twotower) for the
  // vector_sim feature; null: none (NaN).
  std::unique_ptr<rec::Model> vec;
  std::string vec_spec;

  // <query, item> of the vector model, one per candidate (NaN without one).
  std::vector<float> VectorSims(const std::string& q, const std::vector<search::Hit>& hits) const {
    std::vector<float> out(hits.size(), std::numeric_limits<float>::quiet_NaN());
    if (!vec) return out;
    std::vector<float> e;
    if (!vec->EmbedQueries({&q, 1}, &e).ok()) return out;
    const size_t d = vec->FactorDim();
    const float* f = vec->ItemFactors();
    if (e.size() != d || !f) return out;
    for (size_t i = 0; i < hits.size(); ++i) {
      if (hits[i].doc >= vec->num_items()) continue;
      const float* v = f + static_cast<size_t>(hits[i].doc) * d;
      float dot = 0;
      for (size_t j = 0; j < d; ++j) dot += e[j] * v[j];
      out[i] = dot;
    }
    return out;
  }

  void IndexIntentCategories() {
    item_intent.assign(items.size(), -1);
    if (!intent) return;
    std::unordered_map<std::string, int> at;
    for (size_t c = 0; c < intent->categories().size(); ++c) at.emplace(intent->categories()[c], static_cast<int>(c));
    for (const ItemRow& it : items)
      if (const auto a = at.find(it.category); a != at.end() && it.id < item_intent.size()) item_intent[it.id] = a->second;
  }

  // The query's intent: p(category | q) for every category the model
  // knows and the most likely one (empty without a model).
  struct QueryIntent {
    std::vector<float> probs;
    int top = -1;
  };
  QueryIntent IntentOf(const std::string& q) const {
    QueryIntent qi;
    if (!intent) return qi;
    const std::string nq = norm->Normalize(q);
    const search::IntentModel* m = cross_fit ? intent_half[1 - QueryHalf(nq)].get() : intent.get();
    qi.probs = m->Probabilities(nq);
    if (!qi.probs.empty())
      qi.top = static_cast<int>(std::max_element(qi.probs.begin(), qi.probs.end()) - qi.probs.begin());
    return qi;
  }
  // The intent features of one candidate (left NaN without a model).
  void SetIntent(const QueryIntent& qi, ItemId item, rank::QueryContext* qc) const {
    if (!intent) return;
    const int cat = item < item_intent.size() ? item_intent[item] : -1;
    qc->intent_p = cat >= 0 && static_cast<size_t>(cat) < qi.probs.size() ? qi.probs[cat] : 0.0f;
    qc->intent_top = cat >= 0 && cat == qi.top ? 1.0f : 0.0f;
  }

  // Features of `hits` (BM25F's list for q, best first) for `user`.
  Candidates Features(const std::string& q, UserId user, const std::vector<search::Hit>& hits) const {
    Candidates c;
    const size_t nf = rank::FeatureStore::FeatureNames().size();
    const std::vector<std::string> terms = fields->Terms(q);
    rank::QueryContext qc;
    qc.terms = terms.size();
    qc.top_score = hits.empty() ? 0 : hits[0].score;
    qc.field_scores.resize(rank::FieldScorer::kFields);
    c.x.resize(hits.size() * nf);
    const QueryIntent qi = IntentOf(q);
    const std::vector<float> sims = VectorSims(q, hits);
    for (size_t i = 0; i < hits.size(); ++i) {
      const ItemId item = hits[i].doc;
      c.items.push_back(item);
      qc.score = hits[i].score;
      qc.rank = static_cast<int>(i + 1);
      fields->Score(terms, item, qc.field_scores.data());
      SetIntent(qi, item, &qc);
      qc.vector_sim = sims[i];
      features->Vector(user, item, qc, now_ms, c.x.data() + i * nf);
    }
    return c;
  }
  Result<Candidates> Candidates_(const std::string& q, UserId user) const {
    search::QueryOptions o = query;
    o.k = depth;
    SOUK_ASSIGN_OR_RETURN(auto r, index->Search(q, o));
    return Features(q, user, r.hits);
  }
  UserId FindUser(const std::string& user) const {
    if (user.empty()) return kNoId;
    const auto it = users.find(user);
    return it == users.end() ? kNoId : it->second;
  }
};

LtrContext::LtrContext(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
LtrContext::~LtrContext() = default;

namespace {

struct RepOptions {
  int64_t until_ms = INT64_MAX;  // the feature store holds the events before this
  bool with_index = true;        // an index of its own (Rank, training)
  bool with_vectors = true;      // the rank.vector_model for vector_sim, when trained
  EventColumns* events_out = nullptr;  // gets the events read, for a caller that replays them itself
};

Result<std::unique_ptr<LtrContext::Rep>> OpenRep(const std::string& dir, Store* store, const Config& config,
                                                const RepOptions& o) {
  const int64_t until_ms = o.until_ms;
  auto rep = std::make_unique<LtrContext::Rep>();
  if (o.with_index) {
    SOUK_ASSIGN_OR_RETURN(auto index, OpenSearchIndex(dir, store, config));
    rep->index = std::move(index);
  }
  SOUK_ASSIGN_OR_RETURN(rep->items, store->LoadItems());
  SOUK_ASSIGN_OR_RETURN(auto users, store->LoadUsers());
  SOUK_ASSIGN_OR_RETURN(auto events, store->LoadEvents(true));
  rep->features = rank::FeatureStore::Build(rep->items, users);
  rep->features->ApplyAll(events, until_ms);
  SOUK_ASSIGN_OR_RETURN(auto analyzer, QueryAnalyzer(config));
  rep->fields = std::make_unique<rank::FieldScorer>(rep->items, analyzer);
  for (const auto& it : rep->items) rep->ext_to_id.emplace(it.ext_id, it.id);
  for (const auto& u : users) rep->users.emplace(u.ext_id, u.id), rep->user_ext.push_back(u.ext_id);
  if (o.events_out) *o.events_out = std::move(events);
  // The vector model, when one is trained (its item vectors and query tower).
  const std::string vname = config.GetString("rank.vector_model");
  const fs::path vpath = fs::path(dir) / "models" / (vname + ".bin");
  if (o.with_vectors && !vname.empty() && vname != "none" && fs::exists(vpath)) {
    auto m = rec::LoadModel(vpath.string());
    if (m.ok() && (*m)->FactorDim() > 0 && (*m)->WantsContent() && (*m)->ItemFactors()) {
      rep->vec = std::move(*m);
      rep->vec_spec = rep->vec->Describe();
    } else if (!m.ok()) {
      std::fprintf(stderr, "souk: warning: %s not used for vector_sim: %s\n", vpath.string().c_str(),
                   m.status().message().c_str());
    }
  }
  rep->query = DefaultQueryOptions();
  rep->depth = static_cast<size_t>(std::max<int64_t>(1, config.GetInt("rank.depth")));
  rep->now_ms = until_ms == INT64_MAX ? rep->features->last_ms() : until_ms;
  return rep;
}

}  // namespace

Result<std::unique_ptr<LtrContext>> LtrContext::Open(const std::string& dir, Store* store, const Config& config,
                                                     bool serving) {
  std::ifstream meta_in(LtrMetaPath(dir));
  if (!meta_in) return Status::NotFound(fmt::format("no {} model in {} (souk train {} --model {})", kLtrSearch, dir, dir, kLtrSearch));
  json meta = json::parse(meta_in, nullptr, false);
  if (meta.is_discarded() || !meta.contains("cutoff_ms"))
    return Status::Corruption(LtrMetaPath(dir) + ": not a ranker description");
  // Evaluation sees the store as of the model's cutoff (nothing of its
  // held-out period); serving sees every event.
  RepOptions ro;
  ro.until_ms = serving ? INT64_MAX : meta["cutoff_ms"].get<int64_t>();
  ro.with_index = !serving;
  // vector_sim only when the ranker learnt with it.
  ro.with_vectors = meta.contains("vector_model") && !meta["vector_model"].is_null();
  SOUK_ASSIGN_OR_RETURN(auto rep, OpenRep(dir, store, config, ro));
  SOUK_ASSIGN_OR_RETURN(rep->ranker, rank::Ranker::Load(LtrModelPath(dir), rank::FeatureStore::FeatureNames()));
  if (meta.value("intent", json::object()).value("used", false)) {
    SOUK_ASSIGN_OR_RETURN(rep->intent, search::IntentModel::Load(LtrIntentPath(dir)));
    rep->IndexIntentCategories();
  }
  return std::unique_ptr<LtrContext>(new LtrContext(std::move(rep)));
}

Result<std::vector<std::string>> LtrContext::Rank(const std::string& query, const std::string& user, size_t k) const {
  const Rep& r = *rep_;
  if (!r.index) return Status::FailedPrecondition("this ranker was opened for serving (no index of its own)");
  if (!r.ranker) return Status::FailedPrecondition("this context was opened for features only");
  std::shared_lock lock(r.mu);
  SOUK_ASSIGN_OR_RETURN(Candidates c, r.Candidates_(query, r.FindUser(user)));
  SOUK_ASSIGN_OR_RETURN(auto scores, r.ranker->Score(c.x.data(), c.items.size()));
  std::vector<size_t> order(c.items.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  std::vector<std::string> out;
  for (size_t i : order) out.push_back(r.index->ExternalId(c.items[i]));
  // Below the re-ranked top: BM25F's order.
  if (k > c.items.size()) {
    search::QueryOptions o = r.query;
    o.k = k;
    SOUK_ASSIGN_OR_RETURN(auto more, r.index->Search(query, o));
    for (size_t i = c.items.size(); i < more.hits.size(); ++i) out.push_back(r.index->ExternalId(more.hits[i].doc));
  }
  if (out.size() > k) out.resize(k);
  return out;
}

Status LtrContext::Rerank(const std::string& query, const std::string& user, std::vector<search::Hit>* hits) const {
  const Rep& r = *rep_;
  const size_t n = std::min(hits->size(), r.depth);
  if (n < 2) return Status::Ok();
  if (!r.ranker) return Status::FailedPrecondition("this context was opened for features only");
  std::vector<search::Hit> top(hits->begin(), hits->begin() + static_cast<std::ptrdiff_t>(n));
  std::shared_lock lock(r.mu);
  const Candidates c = r.Features(query, r.FindUser(user), top);
  SOUK_ASSIGN_OR_RETURN(auto scores, r.ranker->Score(c.x.data(), n));
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  for (size_t i = 0; i < n; ++i) (*hits)[i] = {top[order[i]].doc, scores[order[i]]};
  return Status::Ok();
}

size_t LtrContext::depth() const { return rep_->depth; }

Result<std::unique_ptr<LtrContext>> LtrContext::OpenFeatures(const std::string& dir, Store* store,
                                                             const Config& config) {
  RepOptions ro;
  ro.with_index = false;
  SOUK_ASSIGN_OR_RETURN(auto rep, OpenRep(dir, store, config, ro));
  // The search ranker's intent model, when one was trained with it.
  if (fs::exists(LtrIntentPath(dir))) {
    SOUK_ASSIGN_OR_RETURN(rep->intent, search::IntentModel::Load(LtrIntentPath(dir)));
    rep->IndexIntentCategories();
  }
  return std::unique_ptr<LtrContext>(new LtrContext(std::move(rep)));
}

size_t LtrContext::Apply(const EventColumns& events) const {
  Rep& r = *rep_;
  std::unique_lock lock(r.mu);
  size_t applied = 0;
  for (size_t e = 0; e < events.size(); ++e) {
    if (events.flags[e] != 0) continue;
    r.features->Apply(events.user[e], events.item[e], events.type[e], events.ts_ms[e]);
    ++applied;
  }
  r.now_ms = std::max(r.now_ms, r.features->last_ms());
  return applied;
}

Result<json> LtrContext::Features(const std::string& user_ext, const std::string& item_ext, const std::string& query,
                                  int64_t at_ms) const {
  const Rep& r = *rep_;
  std::shared_lock lock(r.mu);
  UserId user = kNoId;
  ItemId item = kNoId;
  if (!user_ext.empty()) {
    user = r.FindUser(user_ext);
    if (user == kNoId) return Status::NotFound("no user " + user_ext);
  }
  if (!item_ext.empty()) {
    const auto it = r.ext_to_id.find(item_ext);
    if (it == r.ext_to_id.end()) return Status::NotFound("no item " + item_ext);
    item = it->second;
  }
  if (user == kNoId && item == kNoId) return Status::InvalidArgument("name a user, an item or both");
  // Default: the last event, but never past the clock (an unflagged event
  // stamped in the future must not age everything else).
  const int64_t clock = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  const int64_t now = at_ms > 0 ? at_ms : std::min(r.now_ms, clock);
  json out = {{"at_ms", now}};
  if (item != kNoId) {
    const rank::ItemFeatures f = r.features->Item(item, now);
    out["item"] = {{"item_id", item_ext},
                   {"category", f.category},
                   {"brand", f.brand},
                   {"price", Num(f.price)},
                   {"price_pct_category", Num(f.price_pct)},
                   {"stock", f.stock},
                   {"age_days", Num(f.age_days)},
                   {"views", f.views},
                   {"clicks", f.clicks},
                   {"carts", f.carts},
                   {"purchases", f.purchases},
                   {"ctr", f.ctr},
                   {"cart_rate", f.cart_rate},
                   {"conversion", f.conversion},
                   {"pop_1d", f.pop_1d},
                   {"pop_7d", f.pop_7d},
                   {"pop_30d", f.pop_30d},
                   {"trend", f.trend},
                   {"quality_flags", f.quality_flags}};
  }
  if (user != kNoId) {
    const rank::UserProfile p = r.features->Profile(user, now);
    json cats = json::array(), brands = json::array(), attrs = json::object();
    for (const auto& [c, sh] : p.categories) cats.push_back({{"category", c}, {"share", sh}});
    for (const auto& [b, sh] : p.brands) brands.push_back({{"brand", b}, {"share", sh}});
    for (const auto& [k, v] : p.attributes) attrs[k] = v;
    const bool band = !std::isnan(p.log_price_mean);
    out["user"] = {{"user_id", user_ext},
                   {"events", p.events},
                   {"recency_days", Num(p.recency_days)},
                   {"active_days", p.active_days},
                   {"monetary", p.monetary},
                   {"segment", p.segment},
                   {"price_band",
                    {{"median", band ? json(std::exp(p.log_price_mean)) : json(nullptr)},
                     {"low", band ? json(std::exp(p.log_price_mean - p.log_price_sd)) : json(nullptr)},
                     {"high", band ? json(std::exp(p.log_price_mean + p.log_price_sd)) : json(nullptr)}}},
                   {"categories", cats},
                   {"brands", brands},
                   {"attributes", attrs}};
  }
  if (user != kNoId && item != kNoId) {
    // The ranking features of the pair (query side empty unless a query is given).
    rank::QueryContext q;
    q.field_scores.resize(rank::FieldScorer::kFields);
    if (!query.empty()) {
      const auto terms = r.fields->Terms(query);
      q.terms = terms.size();
      r.fields->Score(terms, item, q.field_scores.data());
      r.SetIntent(r.IntentOf(query), item, &q);
      q.vector_sim = r.VectorSims(query, {search::Hit{item, 0}})[0];
    }
    const auto& names = rank::FeatureStore::FeatureNames();
    std::vector<float> x(names.size());
    r.features->Vector(user, item, q, now, x.data());
    json v = json::object();
    for (size_t i = 0; i < names.size(); ++i) v[names[i]] = Num(x[i]);
    out["ranking_features"] = v;
  }
  return out;
}

// ---- training -----------------------------------------------------------------------

int TrainLtrSearchCommand(const RecArgs& args, Store* store, const Config& config) {
  const auto t0 = std::chrono::steady_clock::now();
  auto sessions = store->SearchSessions();
  if (!sessions.ok()) return Fail(sessions.status());
  if (sessions->size() < 20)
    return Fail(Status::FailedPrecondition(fmt::format(
        "{} has {} searches with a session in its log; learning to rank needs searches and what followed them",
        args.dir, sessions->size())));
  // Time split of the searches: train | validation | test.
  const double valid_share = config.GetDouble("rank.validation_share");
  const double test_share = config.GetDouble("rank.test_share");
  if (valid_share < 0 || test_share < 0 || valid_share + test_share >= 0.9)
    return Fail(Status::InvalidArgument("rank.validation_share + rank.test_share must be in [0, 0.9)"));
  const size_t n = sessions->size();
  const auto at = [&](double share) {
    const size_t i = std::min(n - 1, static_cast<size_t>(static_cast<double>(n) * share));
    return (*sessions)[i].ts_ms;
  };
  const int64_t valid_from = at(1 - valid_share - test_share);
  const int64_t test_from = test_share > 0 ? at(1 - test_share) : INT64_MAX;
  EventColumns ev;
  RepOptions ro;
  ro.until_ms = INT64_MIN;  // the replay applies the events itself
  ro.events_out = &ev;
  auto rep = OpenRep(args.dir, store, config, ro);
  if (!rep.ok()) return Fail(rep.status());
  LtrContext::Rep& r = **rep;
  const EventColumns* events = &ev;
  // Position bias, from what the server showed (impressions: request id,
  // items in order) and the events that name a request id: examination
  // by position, by EM over the position-based click model. Each training
  // search is then weighted by 1 / theta at its pick's logged position.
  rank::PositionBias bias;
  {
    std::unordered_map<std::string, std::unordered_set<ItemId>> clicked;  // request id -> items acted on
    auto acts = store->RequestActions();
    if (!acts.ok()) return Fail(acts.status());
    for (const SearchAction& a : *acts)
      if (rank::GradeOf(a.type) > 0 || (a.type == static_cast<uint8_t>(EventType::kView) && a.position > 0))
        clicked[a.request_id].insert(a.item);
    auto imps = store->Impressions(0, 2'000'000);
    if (!imps.ok()) return Fail(imps.status());
    const auto& ids = r.ext_to_id;
    std::vector<rank::PositionObservation> obs;
    for (const ImpressionRecord& imp : *imps) {
      if (imp.surface != "search") continue;
      const auto c = clicked.find(imp.request_id);
      const std::string q = rank::NormalizeRuleQuery(imp.query);
      for (size_t p = 0; p < imp.items.size(); ++p) {
        const auto id = ids.find(imp.items[p]);
        if (id == ids.end()) continue;
        rank::PositionObservation o;
        o.pair = std::hash<std::string>{}(q) * 1000003u ^ id->second;
        o.position = static_cast<int>(p + 1);
        o.click = c != clicked.end() && c->second.count(id->second);
        obs.push_back(o);
      }
    }
    const int64_t min_clicks = config.GetInt("rank.bias_min_clicks");
    size_t nclicks = 0;
    for (const auto& o : obs) nclicks += o.click;
    if (nclicks >= static_cast<size_t>(std::max<int64_t>(1, min_clicks))) bias = rank::EstimatePositionBias(obs);
    bias.observations = obs.size();
    bias.clicks = nclicks;
  }
  // Query intent, learnt from the training period's searches alone (the
  // category of each item acted on): one model on all of them for the
  // validation and test periods and serving, one per half of the queries
  // for the training period's own features (cross-fitting).
  json intent_meta = {{"used", false}};
  {
    std::vector<search::IntentPair> all, half[2];
    for (const SearchSession& ss : *sessions) {
      if (ss.ts_ms >= valid_from) break;
      const std::string nq = r.norm->Normalize(ss.query);
      if (nq.empty()) continue;
      std::unordered_set<ItemId> done;
      for (const SearchAction& a : ss.actions) {
        const bool acted = rank::GradeOf(a.type) > 0 || (a.type == static_cast<uint8_t>(EventType::kView) && a.position > 0);
        if (!acted || a.item >= r.items.size() || r.items[a.item].category.empty() || !done.insert(a.item).second)
          continue;
        all.push_back({nq, r.items[a.item].category});
        half[QueryHalf(nq)].push_back(all.back());
      }
    }
    const int64_t min_pairs = config.GetInt("rank.intent_min_pairs");
    if (min_pairs > 0 && all.size() >= static_cast<size_t>(min_pairs) && !half[0].empty() && !half[1].empty()) {
      search::IntentOptions io;
      auto full = search::IntentModel::Train(all, io);
      auto h0 = search::IntentModel::Train(half[0], io);
      auto h1 = search::IntentModel::Train(half[1], io);
      if (!full.ok()) return Fail(full.status());
      if (!h0.ok()) return Fail(h0.status());
      if (!h1.ok()) return Fail(h1.status());
      r.intent = std::move(*full), r.intent_half[0] = std::move(*h0), r.intent_half[1] = std::move(*h1);
      r.IndexIntentCategories();
      intent_meta = {{"used", true}, {"pairs", all.size()}, {"classes", r.intent->categories().size()},
                     {"model", r.intent->Describe()}};
    } else {
      intent_meta["pairs"] = all.size();
      intent_meta["why"] = fmt::format("fewer than rank.intent_min_pairs ({}) searches with an action in the training "
                                       "period, or all in one half",
                                       min_pairs);
    }
  }
  // Events go into the feature store in time order (below), each
  // search's features are taken just before it: none applied yet.
  std::vector<size_t> order;
  for (size_t i = 0; i < events->size(); ++i)
    if (events->flags[i] == 0) order.push_back(i);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return events->ts_ms[a] < events->ts_ms[b]; });
  const size_t nf = rank::FeatureStore::FeatureNames().size();
  rank::RankingData train, valid;
  train.num_features = valid.num_features = nf;
  struct TestRow {
    std::string query;
    UserId user;
    ItemId item;
    int grade;
  };
  std::vector<TestRow> test;
  size_t next = 0, no_positive = 0;
  Progress progress("ltr-search: replaying the log", n);
  for (size_t s = 0; s < n; ++s) {
    const SearchSession& ss = (*sessions)[s];
    progress.Update(s);
    // Graded labels: what the shopper did with each item after this search
    // (a view from a result position is a click on it).
    std::unordered_map<ItemId, int> grade;
    for (const SearchAction& a : ss.actions) {
      int g = rank::GradeOf(a.type);
      if (a.type == static_cast<uint8_t>(EventType::kView) && a.position > 0) g = 1;
      if (g > 0) grade[a.item] = std::max(grade[a.item], g);
    }
    if (ss.ts_ms >= test_from) {
      for (const auto& [item, g] : grade)
        if (item < r.items.size())
          test.push_back({ss.query, ss.user, item, g});
      continue;
    }
    while (next < order.size() && events->ts_ms[order[next]] < ss.ts_ms) {
      const size_t e = order[next++];
      r.features->Apply(events->user[e], events->item[e], events->type[e], events->ts_ms[e]);
    }
    if (grade.empty()) continue;
    r.now_ms = ss.ts_ms;
    r.cross_fit = r.intent && ss.ts_ms < valid_from;
    auto c = r.Candidates_(ss.query, ss.user);
    if (!c.ok()) continue;  // e.g. a query over the term limit
    std::vector<float> labels(c->items.size(), 0);
    bool positive = false;
    for (size_t i = 0; i < c->items.size(); ++i) {
      const auto g = grade.find(c->items[i]);
      if (g != grade.end()) labels[i] = static_cast<float>(g->second), positive = true;
    }
    if (!positive) {
      ++no_positive;  // what was picked is not among the candidates: nothing to learn here
      continue;
    }
    rank::RankingData& d = ss.ts_ms >= valid_from ? valid : train;
    if (!bias.theta.empty()) {
      // The position of the best-graded pick, as logged.
      int best_grade = 0, pos = -1;
      for (const SearchAction& a : ss.actions) {
        const int g = a.type == static_cast<uint8_t>(EventType::kView) && a.position > 0 ? 1 : rank::GradeOf(a.type);
        if (g > best_grade || (g == best_grade && pos < 0 && a.position > 0)) best_grade = g, pos = a.position;
      }
      d.group_weight.push_back(static_cast<float>(bias.Weight(pos)));
    }
    d.x.insert(d.x.end(), c->x.begin(), c->x.end());
    d.label.insert(d.label.end(), labels.begin(), labels.end());
    d.group_sizes.push_back(static_cast<unsigned>(c->items.size()));
  }
  progress.Finish();
  if (train.group_sizes.empty())
    return Fail(Status::FailedPrecondition("no training search has its pick among the candidates"));
  rank::LtrOptions lo;
  lo.rounds = static_cast<int>(config.GetInt("rank.rounds"));
  rank::LtrReport report;
  const auto t1 = std::chrono::steady_clock::now();
  auto ranker = rank::Ranker::Train(train, valid, rank::FeatureStore::FeatureNames(), lo, &report);
  if (!ranker.ok()) return Fail(ranker.status());
  const double train_seconds = Seconds(t1);
  std::error_code ec;
  fs::create_directories(fs::path(args.dir) / "models", ec);
  fs::create_directories(fs::path(args.dir) / "reports", ec);
  if (Status st = (*ranker)->Save(LtrModelPath(args.dir)); !st.ok()) return Fail(st);
  if (r.intent) {
    if (Status st = r.intent->Save(LtrIntentPath(args.dir)); !st.ok()) return Fail(st);
  }
  // The held-out period as a judgments file with a user column, for
  // search-eval --rank none|ltr.
  const std::string test_path = (fs::path(args.dir) / "reports" / "ltr-search-test.csv").string();
  {
    std::ofstream out(test_path);
    out << "query,item_id,grade,user\n";
    auto csv = [](const std::string& s) {
      if (s.find_first_of(",\"\n") == std::string::npos) return s;
      std::string q = "\"";
      for (char ch : s) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
      return q + "\"";
    };
    // One row per (query, user, item): the best grade.
    std::map<std::tuple<std::string, std::string, ItemId>, int> best;
    for (const TestRow& t : test) {
      const std::string ext = t.user < r.user_ext.size() ? r.user_ext[t.user] : "";
      int& g = best[{t.query, ext, t.item}];
      g = std::max(g, t.grade);
    }
    for (const auto& [key, g] : best)
      out << csv(std::get<0>(key)) << ',' << csv(r.items[std::get<2>(key)].ext_id) << ',' << g << ','
          << csv(std::get<1>(key)) << '\n';
    if (!out) return Fail(Status::IoError("cannot write " + test_path));
  }
  json importance = json::array();
  for (const auto& [name, gain] : report.importance) importance.push_back({{"feature", name}, {"gain", gain}});
  json meta = {{"model", kLtrSearch},
               {"objective", "rank:ndcg"},
               {"cutoff_ms", test_from == INT64_MAX ? r.features->last_ms() + 1 : test_from},
               {"valid_from_ms", valid_from},
               {"depth", r.depth},
               {"features", rank::FeatureStore::FeatureNames()},
               {"train_queries", train.group_sizes.size()},
               {"train_rows", train.rows()},
               {"valid_queries", valid.group_sizes.size()},
               {"searches", n},
               {"searches_without_pick_in_candidates", no_positive},
               {"test_judgments", test_path},
               {"position_bias",
                bias.theta.empty()
                    ? json{{"used", false},
                           {"impressions", bias.observations},
                           {"clicks", bias.clicks},
                           {"why", fmt::format("fewer than rank.bias_min_clicks ({}) clicks joined to search "
                                               "impressions (souk serve logs them)",
                                               config.GetInt("rank.bias_min_clicks"))}}
                    : json{{"used", true},
                           {"impressions", bias.observations},
                           {"clicks", bias.clicks},
                           {"theta", bias.theta}}},
               {"intent", intent_meta},
               {"vector_model", r.vec ? json(r.vec_spec) : json(nullptr)},
               {"rounds", report.rounds},
               {"train_ndcg10", report.train_ndcg10},
               {"valid_ndcg10", report.valid_ndcg10},
               {"importance", importance},
               {"train_seconds", train_seconds},
               {"seconds", Seconds(t0)}};
  {
    std::ofstream m(LtrMetaPath(args.dir));
    m << meta.dump(2) << '\n';
    if (!m) return Fail(Status::IoError("cannot write " + LtrMetaPath(args.dir)));
  }
  ModelRecord rec;
  rec.name = kLtrSearch;
  rec.spec = fmt::format("ltr-search:depth={},rounds={},eta={},max_depth={}", r.depth, report.rounds, lo.eta,
                         lo.max_depth);
  rec.path = "models/ltr-search.json";
  rec.metrics_json = json({{"valid_ndcg10", report.valid_ndcg10}, {"train_ndcg10", report.train_ndcg10}}).dump();
  rec.active = true;
  if (auto id = store->RegisterModel(rec); !id.ok()) return Fail(id.status());
  if (args.json) {
    PrintJson(meta);
  } else {
    std::printf("ltr-search: %zu training searches (%s rows), %zu validation; %zu searches whose pick BM25F's top %zu "
                "missed were skipped\n",
                train.group_sizes.size(), WithThousands(train.rows()).c_str(), valid.group_sizes.size(), no_positive,
                r.depth);
    std::printf("kept %d rounds: NDCG@10 train %.4f, validation %.4f (%.1f s)\n", report.rounds, report.train_ndcg10,
                report.valid_ndcg10, train_seconds);
    std::printf("most important features (share of gain):");
    for (size_t i = 0; i < std::min<size_t>(8, report.importance.size()); ++i)
      std::printf(" %s %.3f", report.importance[i].first.c_str(), report.importance[i].second);
    std::printf("\nheld-out period: %s (souk search-eval %s --judgments %s --rank ltr)\n", test_path.c_str(),
                args.dir.c_str(), test_path.c_str());
  }
  return 0;
}

// ---- souk features ------------------------------------------------------------------

int FeaturesCommand(const FeaturesArgs& a, Store* store, const Config& config) {
  if (a.user.empty() && a.item.empty()) return Fail(Status::InvalidArgument("name --user, --item or both"));
  auto ctx = LtrContext::OpenFeatures(a.dir, store, config);
  if (!ctx.ok()) return Fail(ctx.status());
  auto out = (*ctx)->Features(a.user, a.item, a.query, a.at_ms);
  if (!out.ok()) {
    const Status& st = out.status();
    return Fail(st.code() == StatusCode::kNotFound ? Status::NotFound(st.message() + " in " + a.dir) : st);
  }
  if (a.json) {
    PrintJson(*out);
  } else {
    std::printf("%s\n", out->dump(2).c_str());
  }
  return 0;
}

// ---- souk rules -------------------------------------------------------------------

int RulesCommand(const RulesArgs& a, Store* store, const Config& config) {
  if (a.action == "list") {
    auto rules = store->Rules();
    if (!rules.ok()) return Fail(rules.status());
    json out = json::array();
    for (const RuleRecord& r : *rules) {
      json j = {{"id", r.id}, {"kind", r.kind}, {"surface", r.surface}, {"query", r.query}};
      if (!r.item.empty()) j["item"] = r.item;
      if (r.position) j["position"] = r.position;
      if (!r.filter.empty()) j["filter"] = r.filter;
      out.push_back(j);
    }
    if (a.json) {
      PrintJson({{"rules", out}});
    } else {
      if (out.empty()) std::printf("no rules in %s\n", a.dir.c_str());
      for (const auto& j : out) std::printf("%s\n", j.dump().c_str());
    }
    return 0;
  }
  if (a.action == "delete") {
    if (Status st = store->DeleteRule(a.id); !st.ok()) return Fail(st);
    if (a.json) PrintJson({{"deleted", a.id}});
    else std::printf("deleted rule %lld\n", static_cast<long long>(a.id));
    return 0;
  }
  // add
  RuleRecord r;
  r.kind = a.kind;
  r.surface = a.surface;
  r.query = a.query;
  r.item = a.item;
  r.position = a.position;
  r.filter = a.filter;
  if (Status st = rank::ValidateRule(r); !st.ok()) return Fail(st);
  if (!r.item.empty()) {
    auto id = store->FindItem(r.item);
    if (!id.ok()) return Fail(id.status());
    if (*id == kNoId) return Fail(Status::NotFound("no item " + r.item + " in " + a.dir));
  }
  if (!r.filter.empty()) {  // checked against the index's syntax before it is stored
    auto index = OpenSearchIndex(a.dir, store, config);
    if (!index.ok()) return Fail(index.status());
    if (auto m = (*index)->MatchFilter(r.filter); !m.ok()) return Fail(m.status());
  }
  auto id = store->AddRule(r);
  if (!id.ok()) return Fail(id.status());
  if (a.json) PrintJson({{"id", *id}, {"kind", r.kind}});
  else std::printf("added rule %lld (%s)\n", static_cast<long long>(*id), r.kind.c_str());
  return 0;
}

bool IsLtrSpec(const std::string& spec) { return spec == kLtrSearch || spec.rfind("ltr-search:", 0) == 0; }

}  // namespace souk::cli
