// souk index / search / search-eval: glue between the store, the text
// analyzer and the search index.
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>

#include "cli/commands.h"
#include "ingest/csv.h"
#include "rec/rec.h"
#include "search/search.h"
#include "text/text.h"
#include "vector/vector.h"

namespace souk::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string IndexPath(const std::string& dir) { return (fs::path(dir) / "index" / "search.idx").string(); }

Result<search::IndexOptions> OptionsFromConfig(const Config& config) {
  search::IndexOptions o;
  o.k1 = static_cast<float>(config.GetDouble("search.k1"));
  o.analyzer.stem = config.GetBool("search.stem");
  o.analyzer.cjk = config.GetBool("search.cjk");
  o.fields.clear();
  std::string_view spec = config.GetString("search.fields");
  const std::vector<std::string> known = {"title", "brand", "category", "tags", "description"};
  for (std::string_view part : SplitTrimmed(spec, ',')) {
    size_t eq = part.find('='), slash = part.find('/');
    search::FieldSpec f;
    f.name = std::string(Trim(part.substr(0, eq)));
    auto w = eq == part.npos ? std::optional<double>(1.0)
                             : ParseDouble(part.substr(eq + 1, slash == part.npos ? part.npos : slash - eq - 1));
    auto b = slash == part.npos ? std::optional<double>(0.75) : ParseDouble(part.substr(slash + 1));
    if (std::find(known.begin(), known.end(), f.name) == known.end() || !w || !b || *w < 0 || *b < 0 || *b > 1)
      return Status::InvalidArgument(fmt::format(
          "search.fields: bad entry '{}' (want name=weight/b with name one of title, brand, category, tags, "
          "description and 0 <= b <= 1)",
          part));
    f.weight = static_cast<float>(*w);
    f.b = static_cast<float>(*b);
    o.fields.push_back(f);
  }
  if (o.fields.empty()) return Status::InvalidArgument("search.fields names no field");
  return o;
}

Result<std::shared_ptr<const text::Dictionary>> Dictionary(const Config& config) {
  if (!config.GetBool("search.cjk")) return std::shared_ptr<const text::Dictionary>();
  return text::LoadDictionary(config.GetString("search.dictionary"));
}

std::string FieldOf(const ItemRow& it, const std::string& name) {
  if (name == "title") return it.title;
  if (name == "brand") return it.brand;
  if (name == "category") return it.category;
  if (name == "tags") return it.tags;
  return it.description;
}

search::Document DocumentOf(ItemRow it, const search::IndexOptions& options) {
  search::Document d;
  d.id = it.id;
  for (const auto& f : options.fields) d.fields.push_back(FieldOf(it, f.name));
  d.attrs.price = it.price;
  d.attrs.stock = it.stock;
  d.attrs.brand = std::move(it.brand);
  d.attrs.category = std::move(it.category);
  d.attrs.tags = std::move(it.tags);
  d.external_id = std::move(it.ext_id);
  return d;
}

struct Built {
  std::unique_ptr<search::Index> index;
  double seconds = 0;
};

Result<Built> BuildIndex(const std::string& dir, Store* store, const Config& config) {
  SOUK_ASSIGN_OR_RETURN(auto options, OptionsFromConfig(config));
  SOUK_ASSIGN_OR_RETURN(auto dict, Dictionary(config));
  SOUK_ASSIGN_OR_RETURN(auto items, store->LoadItems());
  auto t0 = std::chrono::steady_clock::now();
  std::vector<search::Document> docs;
  docs.reserve(items.size());
  for (auto& it : items) {
    if (!it.known || it.deleted) continue;
    docs.push_back(DocumentOf(std::move(it), options));
  }
  std::vector<ItemRow>().swap(items);
  SOUK_ASSIGN_OR_RETURN(int64_t catalog_version, store->LatestItemChange());
  Built b;
  if (docs.empty())
    return Status::FailedPrecondition(fmt::format("'{}' has no catalog items to index (import items first)", dir));
  b.index = search::Index::Build(docs, options, dict);
  b.index->SetCatalogVersion(catalog_version);
  // The popularity prior: log(1 + 5 purchases + 3 carts + clicks + 0.2 views)
  // over unflagged events.
  {
    SOUK_ASSIGN_OR_RETURN(auto ev, store->LoadEvents(/*training_only=*/true));
    std::vector<double> w(b.index->num_docs() ? docs.back().id + 1 : 0, 0.0);
    for (size_t i = 0; i < ev.size(); ++i) {
      if (ev.item[i] == kNoId || ev.item[i] >= w.size()) continue;
      switch (static_cast<EventType>(ev.type[i])) {
        case EventType::kPurchase:
          w[ev.item[i]] += 5;
          break;
        case EventType::kCart:
          w[ev.item[i]] += 3;
          break;
        case EventType::kClick:
          w[ev.item[i]] += 1;
          break;
        case EventType::kView:
          w[ev.item[i]] += 0.2;
          break;
        default:
          break;
      }
    }
    std::vector<std::pair<uint32_t, float>> pop;
    for (uint32_t d = 0; d < w.size(); ++d)
      if (w[d] > 0) pop.emplace_back(d, static_cast<float>(std::log1p(w[d])));
    b.index->SetPopularity(pop);
  }
  // Autocomplete learns from what shoppers searched.
  SOUK_ASSIGN_OR_RETURN(auto queries, store->SearchQueryCounts());
  b.index->SetPopularQueries(queries);
  b.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::error_code ec;
  fs::create_directories(fs::path(dir) / "index", ec);
  if (ec) return Status::IoError(fmt::format("cannot create '{}/index': {}", dir, ec.message()));
  SOUK_RETURN_IF_ERROR(b.index->Save(IndexPath(dir)));
  return b;
}

// DIR/synonyms.txt: one group a line, comma-separated; '#' starts a comment.
Result<std::vector<std::vector<std::string>>> ReadSynonyms(const std::string& dir) {
  std::vector<std::vector<std::string>> groups;
  std::string path = (fs::path(dir) / "synonyms.txt").string();
  std::ifstream in(path);
  if (!in) return groups;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!IsValidUtf8(line)) return Status::InvalidArgument(fmt::format("{}:{}: invalid UTF-8", path, n));
    std::string_view l = Trim(line);
    if (l.empty() || l[0] == '#') continue;
    std::vector<std::string> g;
    for (std::string_view e : SplitTrimmed(l, ',')) g.emplace_back(e);
    if (g.size() < 2)
      return Status::InvalidArgument(fmt::format("{}:{}: a synonym group needs at least two entries", path, n));
    groups.push_back(std::move(g));
  }
  return groups;
}

Result<std::unique_ptr<search::Index>> OpenIndex(const std::string& dir, Store* store, const Config& config) {
  std::unique_ptr<search::Index> index;
  if (!fs::exists(IndexPath(dir))) {
    std::fprintf(stderr, "souk: no search index yet; building it (run `souk index %s` after imports)\n", dir.c_str());
    SOUK_ASSIGN_OR_RETURN(auto b, BuildIndex(dir, store, config));
    index = std::move(b.index);
  } else {
    SOUK_ASSIGN_OR_RETURN(auto dict, Dictionary(config));
    auto loaded = search::Index::Load(IndexPath(dir), dict);
    if (loaded.status().code() == StatusCode::kFailedPrecondition) {
      // Written by another souk version: rebuild rather than fail.
      std::fprintf(stderr, "souk: %s; rebuilding it\n", loaded.status().message().c_str());
      SOUK_ASSIGN_OR_RETURN(auto b, BuildIndex(dir, store, config));
      index = std::move(b.index);
    } else {
      SOUK_ASSIGN_OR_RETURN(index, std::move(loaded));
    }
  }
  SOUK_ASSIGN_OR_RETURN(auto synonyms, ReadSynonyms(dir));
  index->SetSynonyms(synonyms);
  // Catalog changes since the index was built are searchable at once: they
  // go to the index's delta segment (`souk index` folds them in for good).
  SOUK_ASSIGN_OR_RETURN(auto changed, store->ItemsChangedSince(index->CatalogVersion()));
  if (changed.size() > std::max<size_t>(1000, index->num_docs() / 10)) {
    // Too much changed for a delta segment to pay off: rebuild and save.
    std::fprintf(stderr, "souk: %zu catalog changes since the index was built; rebuilding it\n", changed.size());
    SOUK_ASSIGN_OR_RETURN(auto b, BuildIndex(dir, store, config));
    b.index->SetSynonyms(synonyms);
    return std::move(b.index);
  }
  if (!changed.empty()) {
    SOUK_ASSIGN_OR_RETURN(auto options, OptionsFromConfig(config));
    std::vector<search::Document> upserts;
    std::vector<uint32_t> deletes;
    for (auto& it : changed) {
      if (!it.known || it.deleted)
        deletes.push_back(it.id);
      else
        upserts.push_back(DocumentOf(std::move(it), options));
    }
    SOUK_RETURN_IF_ERROR(index->Update(upserts, deletes));
  }
  return index;
}

search::QueryOptions QueryOptionsOf(const SearchArgs& a) {
  search::QueryOptions qo;
  qo.k = a.k;
  qo.match = a.exact ? search::Match::kAny : search::Match::kAll;
  qo.typos = a.typos && !a.exact;
  qo.synonyms = a.synonyms && !a.exact;
  qo.filter = a.filter;
  qo.facets = a.facets;
  qo.prefix_last = a.prefix && !a.exact;
  using Sort = search::QueryOptions::Sort;
  qo.sort = a.sort == "price_asc"    ? Sort::kPriceAsc
            : a.sort == "price_desc" ? Sort::kPriceDesc
            : a.sort == "popularity" ? Sort::kPopularity
                                     : Sort::kRelevance;
  qo.offset = (a.page > 0 ? a.page - 1 : 0) * a.k;
  if (!a.exact) qo.prior_weight = static_cast<float>(a.prior_weight);
  return qo;
}

// ---- vector and hybrid retrieval -------------------------------------------------

std::string VectorIndexPath(const std::string& dir, const std::string& name) {
  return (fs::path(dir) / "vectors" / (name + ".idx")).string();
}

// A model with a query tower and the vector index of its item vectors.
struct VectorSide {
  std::unique_ptr<rec::Model> model;
  std::unique_ptr<vector::VectorIndex> index;

  Result<std::vector<search::Hit>> Search(const std::string& query, size_t k) const {
    std::vector<float> q;
    SOUK_RETURN_IF_ERROR(model->EmbedQueries({&query, 1}, &q));
    std::vector<uint32_t> ids(k);
    std::vector<float> scores(k);
    index->Search(1, q.data(), k, ids.data(), scores.data());
    std::vector<search::Hit> hits;
    for (size_t i = 0; i < k && ids[i] != kNoId; ++i) hits.push_back({ids[i], scores[i]});
    return hits;
  }
};

Result<VectorSide> OpenVectorSide(const std::string& dir, const std::string& name) {
  VectorSide v;
  const std::string model_path = (fs::path(dir) / "models" / (name + ".bin")).string();
  auto m = rec::LoadModel(model_path);
  if (!m.ok() && m.status().code() == StatusCode::kNotFound)
    return Status::NotFound(
        fmt::format("no trained model '{}' in {} (run `souk train {} --model {}`)", name, dir, dir, name));
  SOUK_ASSIGN_OR_RETURN(v.model, std::move(m));
  if (v.model->FactorDim() == 0 || !v.model->WantsContent())
    return Status::InvalidArgument(
        fmt::format("model '{}' has no query tower; vector search needs a twotower model", name));
  auto idx = vector::LoadVectorIndex(VectorIndexPath(dir, name), v.model->FactorDim());
  if (!idx.ok() && idx.status().code() == StatusCode::kNotFound)
    return Status::NotFound(fmt::format("no vector index {} (run `souk train {} --model {}` again)",
                                        VectorIndexPath(dir, name), dir, name));
  SOUK_ASSIGN_OR_RETURN(v.index, std::move(idx));
  return v;
}

// One query in any mode: bm25 is the index's own search (every option
// applies); vector the query tower; hybrid fuses the top fuse_depth of each.
struct Retriever {
  const search::Index* index = nullptr;
  const VectorSide* vec = nullptr;  // null in bm25 mode
  search::QueryOptions qo;
  std::string mode, fusion;
  double weight = 0.5;
  size_t depth = 100;

  Result<search::SearchResult> Run(const std::string& query, size_t k) const {
    if (mode == "bm25") {
      search::QueryOptions o = qo;
      o.k = k;
      return index->Search(query, o);
    }
    search::SearchResult r;
    SOUK_ASSIGN_OR_RETURN(std::vector<search::Hit> vhits, vec->Search(query, mode == "vector" ? k : depth));
    if (mode == "vector") {
      r.hits = std::move(vhits);
      r.found = r.hits.size();
      return r;
    }
    search::QueryOptions o = qo;
    o.k = depth;
    o.offset = 0;
    SOUK_ASSIGN_OR_RETURN(search::SearchResult lex, index->Search(query, o));
    r = lex;
    r.hits = fusion == "blend" ? search::FuseBlend(lex.hits, vhits, weight, k) : search::FuseRrf({lex.hits, vhits}, k);
    r.found = std::max<uint64_t>(lex.found, r.hits.size());
    r.facets.clear();
    return r;
  }
};

json HitsJson(const search::Index& index, const std::string& query, const search::SearchResult& r, double ms) {
  json j;
  j["query"] = query;
  j["found"] = r.found;
  j["hits"] = json::array();
  for (const auto& h : r.hits) j["hits"].push_back({{"item_id", index.ExternalId(h.doc)}, {"score", h.score}});
  if (r.relaxed) j["relaxed"] = true;
  if (!r.corrections.empty()) j["corrections"] = r.corrections;
  if (!r.did_you_mean.empty()) j["did_you_mean"] = r.did_you_mean;
  if (!r.facets.empty()) {
    json f = json::object();
    for (const auto& [name, values] : r.facets) {
      json arr = json::array();
      for (const auto& v : values) arr.push_back({{"value", v.value}, {"count", v.count}});
      f[name] = arr;
    }
    j["facets"] = f;
  }
  j["took_ms"] = std::round(ms * 1000) / 1000;
  return j;
}

std::string IntentPath(const std::string& dir) { return (fs::path(dir) / "models" / "intent.bin").string(); }

// The intent model and each document's category, for --intent.
struct IntentSide {
  std::unique_ptr<search::IntentModel> model;
  std::vector<std::string> category;  // by dense item id
  search::IntentRerankOptions options;

  std::vector<search::Hit> Rerank(const std::string& query, std::vector<search::Hit> hits) const {
    static const std::string kNone;
    return search::ApplyIntent(
        *model, query, std::move(hits),
        [&](uint32_t d) -> const std::string& { return d < category.size() ? category[d] : kNone; }, options);
  }
};

Result<std::optional<IntentSide>> OpenIntent(const SearchArgs& a, Store* store) {
  if (a.intent.empty()) return std::optional<IntentSide>();
  IntentSide s;
  SOUK_ASSIGN_OR_RETURN(s.model, search::IntentModel::Load(IntentPath(a.dir)));
  SOUK_ASSIGN_OR_RETURN(auto items, store->LoadItems());
  for (auto& it : items) s.category.push_back(std::move(it.category));
  s.options.mode = a.intent == "filter" ? search::IntentMode::kFilter : search::IntentMode::kBoost;
  s.options.weight = static_cast<float>(a.intent_weight);
  s.options.threshold = static_cast<float>(a.intent_threshold);
  return std::optional<IntentSide>(std::move(s));
}

// (query, category of the picked item) from the search log.
Result<std::vector<search::IntentPair>> IntentPairs(Store* store) {
  SOUK_ASSIGN_OR_RETURN(auto picks, store->SearchPicks());
  SOUK_ASSIGN_OR_RETURN(auto items, store->LoadItems());
  text::Analyzer norm(text::AnalyzerOptions{}, nullptr);
  std::vector<search::IntentPair> pairs;
  for (const auto& p : picks) {
    if (p.item >= items.size() || items[p.item].category.empty() || p.query.empty()) continue;
    pairs.push_back({norm.Normalize(p.query), items[p.item].category});
  }
  return pairs;
}

}  // namespace

int IntentCommand(const std::string& dir, bool train, const std::string& query, size_t k,
                  const std::string& holdout_judgments, const QuerySplit& split, Store* store, bool as_json) {
  const std::string path = IntentPath(dir);
  if (!train) {
    if (query.empty()) return Fail(Status::InvalidArgument("give a QUERY or --train"));
    auto m = search::IntentModel::Load(path);
    if (!m.ok()) return Fail(m.status());
    auto top = (*m)->Predict(query, k);
    if (as_json) {
      json arr = json::array();
      for (const auto& p : top) arr.push_back({{"category", p.category}, {"p", p.probability}});
      std::printf(
          "%s\n",
          json({{"query", query}, {"categories", arr}}).dump(-1, ' ', false, json::error_handler_t::replace).c_str());
    } else {
      for (const auto& p : top) std::printf("%.4f  %s\n", p.probability, p.category.c_str());
    }
    return 0;
  }
  auto t0 = std::chrono::steady_clock::now();
  auto pairs = IntentPairs(store);
  if (!pairs.ok()) return Fail(pairs.status());
  size_t skipped = 0;
  if (!holdout_judgments.empty()) {
    auto held = HeldOutQueries(holdout_judgments, split);
    if (!held.ok()) return Fail(held.status());
    const size_t before = pairs->size();
    std::erase_if(*pairs, [&](const search::IntentPair& p) { return held->count(p.query) > 0; });
    skipped = before - pairs->size();
  }
  if (pairs->empty()) return Fail(Status::FailedPrecondition(fmt::format("'{}' has no search -> pick pairs", dir)));
  std::vector<search::IntentPair> fit, held;
  size_t held_queries = 0;
  {
    std::unordered_map<std::string, bool> seen;
    for (const auto& p : *pairs) {
      bool h = search::IsHeldOutQuery(p.query, 0.2);
      (h ? held : fit).push_back(p);
      if (seen.emplace(p.query, h).second && h) ++held_queries;
    }
  }
  search::IntentOptions options;
  search::IntentAccuracy acc;
  if (!fit.empty() && !held.empty()) {
    auto m = search::IntentModel::Train(fit, options);
    if (!m.ok()) return Fail(m.status());
    acc = search::EvaluateIntent(**m, held);
  }
  auto model = search::IntentModel::Train(*pairs, options);
  if (!model.ok()) return Fail(model.status());
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (ec) return Fail(Status::IoError(fmt::format("cannot create '{}/models': {}", dir, ec.message())));
  Status s = (*model)->Save(path);
  if (!s.ok()) return Fail(s);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (as_json) {
    std::printf("%s\n", json({{"pairs", pairs->size()},
                              {"categories", (*model)->categories().size()},
                              {"held_out_pairs", acc.pairs},
                              {"held_out_queries", held_queries},
                              {"skipped_judged_pairs", skipped},
                              {"accuracy@1", acc.at1},
                              {"accuracy@3", acc.at3},
                              {"seconds", std::round(secs * 1000) / 1000},
                              {"path", path},
                              {"describe", (*model)->Describe()}})
                            .dump(-1, ' ', false, json::error_handler_t::replace)
                            .c_str());
  } else {
    std::printf(
        "%zu pairs, %zu categories; held-out (%zu pairs of %zu queries): accuracy@1 %.4f  @3 %.4f; %s (%.1f s)\n",
        pairs->size(), (*model)->categories().size(), acc.pairs, held_queries, acc.at1, acc.at3, path.c_str(), secs);
  }
  return 0;
}

namespace {}  // namespace

int IndexCommand(const std::string& dir, Store* store, const Config& config, bool as_json) {
  auto b = BuildIndex(dir, store, config);
  if (!b.ok()) return Fail(b.status());
  uint64_t bytes = fs::file_size(IndexPath(dir));
  if (as_json) {
    std::printf("%s\n", json({{"docs", b->index->num_docs()},
                              {"terms", b->index->num_terms()},
                              {"seconds", std::round(b->seconds * 1000) / 1000},
                              {"bytes", bytes},
                              {"path", IndexPath(dir)},
                              {"describe", b->index->Describe()}})
                            .dump()
                            .c_str());
  } else {
    std::printf("indexed %s items, %s terms in %.2f s; %s (%.1f MB)\n", WithThousands(b->index->num_docs()).c_str(),
                WithThousands(b->index->num_terms()).c_str(), b->seconds, IndexPath(dir).c_str(), bytes / 1e6);
  }
  return 0;
}

int SearchCommand(const SearchArgs& a, Store* store, const Config& config) {
  auto index = OpenIndex(a.dir, store, config);
  if (!index.ok()) return Fail(index.status());
  search::QueryOptions qo = QueryOptionsOf(a);
  std::optional<VectorSide> vec;
  if (a.mode != "bm25") {
    if (qo.offset > 0 || qo.sort != search::QueryOptions::Sort::kRelevance || !qo.filter.empty())
      return Fail(
          Status::InvalidArgument("--mode vector/hybrid ranks by relevance: no --filter, --sort or --page yet"));
    auto v = OpenVectorSide(a.dir, a.vector_model);
    if (!v.ok()) return Fail(v.status());
    vec = std::move(*v);
  }
  Retriever retriever{index->get(),
                      vec ? &*vec : nullptr,
                      qo,
                      a.mode,
                      a.fusion,
                      a.blend_weight >= 0 ? a.blend_weight : 0.5,
                      std::max(a.fuse_depth, a.k)};
  auto intent = OpenIntent(a, store);
  if (!intent.ok()) return Fail(intent.status());
  if (*intent && (a.mode != "bm25" || qo.offset > 0 || qo.sort != search::QueryOptions::Sort::kRelevance))
    return Fail(Status::InvalidArgument("--intent re-ranks BM25 by relevance: no --mode, --sort or --page"));
  // The top 100 are re-ranked, but matching (when kAll relaxes) stays as for --k.
  if (*intent && retriever.qo.relax_below == 0) retriever.qo.relax_below = a.k;
  // Business rules (surface search), as the server applies them.
  std::vector<RuleRecord> rules;
  if (a.rules) {
    auto r = store->Rules();
    if (!r.ok()) return Fail(r.status());
    rules = std::move(*r);
  }
  const bool exclude_oos = a.rules && config.GetBool("rank.exclude_out_of_stock");
  // The matcher lives in this call, as the index does: it need not own it.
  const RuleMatcher matcher(std::shared_ptr<const search::Index>(index->get(), [](const search::Index*) {}), rules);
  const rank::RuleHooks hooks = matcher.Hooks([&](const std::string& ext) {
    auto id = store->FindItem(ext);
    return id.ok() ? *id : kNoId;
  });
  json applied;  // the rules of the last query, when any applied
  auto run = [&](const std::string& q) -> Result<std::pair<search::SearchResult, double>> {
    auto t0 = std::chrono::steady_clock::now();
    rank::RuleContext rctx;
    rctx.surface = "search";
    rctx.query = q;
    rctx.k = qo.offset + a.k;
    rctx.exclude_out_of_stock = exclude_oos;
    const SearchRulePlan plan = PlanSearchRules(rules, rctx, retriever.qo.filter, a.mode == "bm25");
    applied = plan.on ? plan.applied : json();
    Retriever rv = retriever;
    rv.qo.filter = plan.filter;
    size_t want = a.k;
    if (plan.on) rv.qo.offset = 0, want = qo.offset + a.k + plan.extra;
    auto r = rv.Run(q, *intent ? std::max<size_t>(100, want) : want);
    if (r.ok() && *intent) {
      r->hits = (*intent)->Rerank(q, std::move(r->hits));
      if (r->hits.size() > want) r->hits.resize(want);
    }
    if (r.ok() && plan.on) {
      const auto kept = ApplySearchRules(rules, rctx, r->hits, hooks);
      r->hits.assign(kept.begin() + static_cast<std::ptrdiff_t>(std::min(qo.offset, kept.size())),
                     kept.begin() + static_cast<std::ptrdiff_t>(std::min(qo.offset + a.k, kept.size())));
    }
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (!r.ok()) return r.status();
    return std::make_pair(std::move(r).value(), ms);
  };
  if (!a.queries_file.empty()) {
    std::ifstream in(a.queries_file);
    if (!in) return Fail(Status::NotFound(fmt::format("cannot open '{}'", a.queries_file)));
    std::string line;
    size_t n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      auto r = run(line);
      if (!r.ok()) {
        // One bad query must not stop a batch: it gets an error line.
        std::printf("%s\n", json({{"query", line}, {"error", r.status().message()}})
                                .dump(-1, ' ', false, json::error_handler_t::replace)
                                .c_str());
        continue;
      }
      json j = HitsJson(**index, line, r->first, r->second);
      if (!applied.is_null()) j["rules"] = applied;
      std::printf("%s\n", j.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
    }
    return 0;
  }
  auto r = run(a.query);
  if (!r.ok()) return Fail(r.status());
  if (a.query.empty() && a.filter.empty())
    return Fail(Status::InvalidArgument("give a QUERY, a --filter or --queries FILE"));
  if (a.json) {
    json j = HitsJson(**index, a.query, r->first, r->second);
    if (!applied.is_null()) j["rules"] = applied;
    if (a.highlight) {
      std::vector<ItemId> ids;
      for (const auto& h : r->first.hits) ids.push_back(h.doc);
      auto rows = store->GetItems(ids);
      if (!rows.ok()) return Fail(rows.status());
      for (size_t i = 0; i < j["hits"].size() && i < rows->size(); ++i) {
        j["hits"][i]["title"] = (**index).Highlight(a.query, (*rows)[i].title);
        j["hits"][i]["snippet"] = (**index).Highlight(a.query, (*rows)[i].description, "<em>", "</em>", 160);
      }
    }
    std::printf("%s\n", j.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
    return 0;
  }
  const auto& res = r->first;
  std::vector<ItemId> ids;
  for (const auto& h : res.hits) ids.push_back(h.doc);
  auto rows = store->GetItems(ids);
  if (!rows.ok()) return Fail(rows.status());
  std::printf("%s result%s for \"%s\"%s (%.2f ms)\n", WithThousands(res.found).c_str(), res.found == 1 ? "" : "s",
              a.query.c_str(), res.relaxed ? " (not every word matched)" : "", r->second);
  for (size_t i = 0; i < res.hits.size(); ++i) {
    const ItemRow* row = i < rows->size() ? &(*rows)[i] : nullptr;
    std::string title = row ? Shorten(row->title, 60) : "";
    if (isatty(STDOUT_FILENO)) title = (**index).Highlight(a.query, title, "\033[1m", "\033[0m", 200);
    std::printf("%3zu. %-10s %7.3f  %-60s %s\n", i + 1, (**index).ExternalId(res.hits[i].doc).c_str(),
                res.hits[i].score, title.c_str(),
                row && !std::isnan(row->price) ? fmt::format("{:.2f}", row->price).c_str() : "");
  }
  if (!res.did_you_mean.empty()) std::printf("did you mean: %s\n", res.did_you_mean.c_str());
  if (!applied.is_null() && !applied.empty()) std::printf("business rules applied: %s\n", applied.dump().c_str());
  for (const auto& [name, values] : res.facets) {
    std::printf("%s:", name.c_str());
    for (const auto& v : values) std::printf("  %s (%s)", v.value.c_str(), WithThousands(v.count).c_str());
    std::printf("\n");
  }
  return 0;
}

int SuggestCommand(const std::string& dir, const std::string& prefix, size_t k, Store* store, const Config& config,
                   bool as_json) {
  auto index = OpenIndex(dir, store, config);
  if (!index.ok()) return Fail(index.status());
  auto t0 = std::chrono::steady_clock::now();
  auto s = (*index)->Suggest(prefix, k);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (as_json) {
    json j = {{"prefix", prefix}, {"suggestions", json::array()}, {"took_ms", std::round(ms * 1000) / 1000}};
    for (const auto& x : s) j["suggestions"].push_back({{"text", x.text}, {"count", x.count}});
    std::printf("%s\n", j.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
  } else {
    for (const auto& x : s)
      std::printf("%s%s\n", x.text.c_str(), x.count ? fmt::format("  ({} searches)", x.count).c_str() : "");
  }
  return 0;
}

namespace {

struct JudgmentFile {
  std::vector<search::Judgment> judgments;
  std::unordered_map<std::string, std::string> kind;  // query -> kind column (when the file has one)
};

Result<JudgmentFile> ReadJudgments(const std::string& judgments_path) {
  ingest::RecordScanner::Options so;
  SOUK_ASSIGN_OR_RETURN(auto scanner, ingest::RecordScanner::Open(judgments_path, so));
  JudgmentFile out;
  ingest::RecordScanner::Record rec;
  std::vector<std::string_view> fields;
  std::string scratch;
  int qcol = -1, icol = -1, gcol = -1, kcol = -1, ucol = -1;
  bool header = true;
  while (scanner->Next(&rec)) {
    std::string err = ingest::SplitCsv(rec.text, ',', &fields, &scratch);
    if (!err.empty()) return Status::InvalidArgument(fmt::format("{}:{}: {}", judgments_path, rec.line, err));
    if (header) {
      for (size_t i = 0; i < fields.size(); ++i) {
        std::string h = ToLowerAscii(Trim(fields[i]));
        if (h == "query") qcol = static_cast<int>(i);
        if (h == "item_id") icol = static_cast<int>(i);
        if (h == "grade") gcol = static_cast<int>(i);
        if (h == "kind") kcol = static_cast<int>(i);
        if (h == "user" || h == "user_id") ucol = static_cast<int>(i);
      }
      if (qcol < 0 || icol < 0 || gcol < 0)
        return Status::InvalidArgument(
            fmt::format("{}:1: the header must name query, item_id and grade", judgments_path));
      header = false;
      continue;
    }
    int need = std::max({qcol, icol, gcol});
    auto g = static_cast<int>(fields.size()) > need ? ParseInt(fields[gcol]) : std::nullopt;
    if (!g)
      return Status::InvalidArgument(
          fmt::format("{}:{}: expected query,item_id,grade with an integer grade", judgments_path, rec.line));
    // With a user column a judged case is (query, user): the key joins them
    // with \x1f (UserJudgmentKey), and rankers see both.
    std::string key(fields[qcol]);
    if (ucol >= 0 && ucol < static_cast<int>(fields.size()) && !Trim(fields[ucol]).empty())
      key += '\x1f' + std::string(Trim(fields[ucol]));
    out.judgments.push_back({std::move(key), std::string(Trim(fields[icol])), static_cast<int>(*g)});
    if (kcol >= 0 && kcol < static_cast<int>(fields.size()))
      out.kind[std::string(fields[qcol])] = std::string(Trim(fields[kcol]));
  }
  return out;
}


json MetricsJson(const search::EvalMetrics& m) {
  return {{"NDCG@10", m.ndcg10}, {"MRR", m.mrr}, {"recall@100", m.recall100}, {"queries", m.queries}};
}

}  // namespace

// A hash of the query text, so the split is stable across runs and tools
// (souk train and souk intent --holdout-judgments use it too).
Status QuerySplit::Check() const {
  if (test >= 0 && validation + test > 1 + 1e-9)
    return Status::InvalidArgument(
        fmt::format("--validation-share {} plus --test-share {} is more than 1", validation, test));
  return Status::Ok();
}

QuerySplit::Part QuerySplit::Of(std::string_view query) const {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : query) {
    h ^= c;
    h *= 1099511628211ull;
  }
  const double bucket = static_cast<double>(h % 10000);
  if (bucket < validation * 10000) return kValidation;
  if (test < 0 || bucket < (validation + test) * 10000) return kTest;
  return kTrain;
}

RuleMatcher::RuleMatcher(std::shared_ptr<const search::Index> index, std::vector<RuleRecord> rules)
    : index_(std::move(index)), rules_(std::move(rules)), matches_(rules_.size()) {}

bool RuleMatcher::Matches(size_t rule, ItemId item) const {
  if (!index_ || rule >= rules_.size() || rules_[rule].filter.empty()) return false;
  std::lock_guard lock(mu_);
  auto& m = matches_[rule];
  if (m.empty()) {
    auto got = index_->MatchFilter(rules_[rule].filter);
    m = got.ok() ? std::move(*got) : std::vector<uint8_t>(1, 0);  // a rule that no longer parses matches nothing
    if (m.empty()) m.assign(1, 0);
  }
  return item < m.size() && m[item];
}

bool RuleMatcher::OutOfStock(ItemId item) const {
  if (!index_) return false;
  std::lock_guard lock(mu_);
  if (!stock0_done_) {
    auto got = index_->MatchFilter("stock:0");
    if (got.ok()) stock0_ = std::move(*got);
    stock0_done_ = true;
  }
  return item < stock0_.size() && stock0_[item];
}

rank::RuleHooks RuleMatcher::Hooks(std::function<ItemId(const std::string& ext_id)> lookup) const {
  rank::RuleHooks h;
  h.matches = [this](size_t r, ItemId item) { return Matches(r, item); };
  h.out_of_stock = [this](ItemId item) { return OutOfStock(item); };
  h.lookup = std::move(lookup);
  return h;
}

SearchRulePlan PlanSearchRules(const std::vector<RuleRecord>& rules, const rank::RuleContext& ctx,
                               const std::string& filter, bool fold) {
  SearchRulePlan p;
  p.filter = filter;
  const auto add = [&](const std::string& clause) {
    p.filter = (Trim(p.filter).empty() ? "" : "(" + p.filter + ") AND ") + clause;
  };
  p.on = ctx.exclude_out_of_stock;
  for (const RuleRecord& r : rules) {
    if (!rank::RuleApplies(r, ctx)) continue;
    p.on = true;
    p.applied.push_back(r.id);
    if (fold && r.kind == "hide" && !r.filter.empty())
      add("NOT (" + r.filter + ")");
    else
      ++p.extra;  // item hides and pins move or drop at most one result each
  }
  if (fold && ctx.exclude_out_of_stock) add("NOT stock:0");
  return p;
}

std::vector<search::Hit> ApplySearchRules(const std::vector<RuleRecord>& rules, const rank::RuleContext& ctx,
                                          const std::vector<search::Hit>& hits, const rank::RuleHooks& hooks) {
  std::vector<ItemId> ids;
  std::unordered_map<ItemId, float> score;
  for (const auto& h : hits) ids.push_back(h.doc), score.emplace(h.doc, h.score);
  std::vector<search::Hit> out;
  for (ItemId item : rank::ApplyRules(rules, ctx, std::move(ids), hooks)) {
    const auto sc = score.find(item);
    out.push_back({item, sc == score.end() ? 0.0f : sc->second});
  }
  return out;
}

Result<std::unordered_set<std::string>> HeldOutQueries(const std::string& judgments, const QuerySplit& split) {
  SOUK_RETURN_IF_ERROR(split.Check());
  SOUK_ASSIGN_OR_RETURN(JudgmentFile f, ReadJudgments(judgments));
  std::unordered_set<std::string> out;
  for (const auto& j : f.judgments) {
    // A file with a user column keys its cases "query\x1fuser": the query is what is held out.
    const std::string query = j.query.substr(0, j.query.find('\x1f'));
    const QuerySplit::Part part = split.Of(query);
    if (part == QuerySplit::kTest || (split.test >= 0 && part == QuerySplit::kValidation)) out.insert(query);
  }
  return out;
}

Result<VectorIndexInfo> BuildItemVectorIndex(const std::string& dir, const std::string& name, const rec::Model& model,
                                             const Config& config) {
  const auto t0 = std::chrono::steady_clock::now();
  const size_t n = model.num_items(), d = model.FactorDim();
  const float* vectors = model.ItemFactors();
  if (vectors == nullptr || d == 0) return Status::FailedPrecondition(name + " has no item vectors");
  VectorIndexInfo info;
  info.spec = "hnsw:M=16,efc=200,ef=64,metric=ip";
  SOUK_ASSIGN_OR_RETURN(vector::VectorIndexOptions vo, vector::ParseVectorIndexSpec(info.spec));
  vo.threads = 1;
  SOUK_ASSIGN_OR_RETURN(auto index, vector::MakeVectorIndex(d, vo));
  std::vector<uint32_t> ids(n);
  for (uint32_t i = 0; i < n; ++i) ids[i] = i;
  SOUK_RETURN_IF_ERROR(index->Add(n, vectors, ids.data()));
  info.vectors = index->size();
  info.exact_below = vo.exact_below;
  info.exact = index->size() < vo.exact_below;
  // What the graph would give against exact search, with item vectors as
  // queries: measured on a graph built to always be walked, so the number
  // says how much an index of this catalog loses once it grows past
  // exact_below.
  {
    vector::VectorIndexOptions graph = vo;
    graph.exact_below = 0;
    SOUK_ASSIGN_OR_RETURN(auto g, vector::MakeVectorIndex(d, graph));
    SOUK_RETURN_IF_ERROR(g->Add(n, vectors, ids.data()));
    const size_t nq = std::min<size_t>(n, 500);
    std::vector<float> queries;
    for (size_t q = 0; q < nq; ++q) {
      const size_t row = q * n / nq;
      queries.insert(queries.end(), vectors + row * d, vectors + (row + 1) * d);
    }
    info.hnsw_recall10 = vector::MeasureRecall(*g, *g, nq, queries.data(), 10);
  }
  info.path = VectorIndexPath(dir, name);
  std::error_code ec;
  fs::create_directories(fs::path(info.path).parent_path(), ec);
  if (ec)
    return Status::IoError(
        fmt::format("cannot create {}: {}", fs::path(info.path).parent_path().string(), ec.message()));
  SOUK_RETURN_IF_ERROR(index->Save(info.path));
  info.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  (void)config;
  return info;
}

int SearchEvalCommand(const SearchArgs& a, const std::string& judgments_path, Store* store, const Config& config) {
  const std::string& dir = a.dir;
  const bool as_json = a.json;
  auto index = OpenIndex(dir, store, config);
  if (!index.ok()) return Fail(index.status());
  auto file = ReadJudgments(judgments_path);
  if (!file.ok()) return Fail(file.status());
  const std::vector<search::Judgment>& judgments = file->judgments;
  search::QueryOptions qo = QueryOptionsOf(a);
  auto intent = OpenIntent(a, store);
  if (!intent.ok()) return Fail(intent.status());
  if (*intent && a.mode_given && a.mode != "bm25") return Fail(Status::InvalidArgument("--intent re-ranks bm25 only"));
  const bool per_user = std::any_of(judgments.begin(), judgments.end(),
                                    [](const search::Judgment& j) { return j.query.find('\x1f') != std::string::npos; });
  if (a.rank == "ltr" || (per_user && !a.mode_given && !*intent)) {
    if (a.mode_given || *intent) return Fail(Status::InvalidArgument("--rank ltr re-ranks bm25 alone (no --mode, --intent)"));
    std::unique_ptr<LtrContext> ltr;
    std::string warning;
    if (a.rank == "ltr") {
      // A missing or unreadable ranker falls back to BM25F's order, said
      // out loud (and in the JSON, whose "rank" then says "none").
      auto l = LtrContext::Open(dir, store, config);
      if (l.ok()) {
        ltr = std::move(*l);
      } else {
        warning = "ranker not used: " + l.status().message();
        std::fprintf(stderr, "souk: warning: %s; evaluating BM25F's order\n", warning.c_str());
      }
    }
    auto m = search::EvaluateRanker(judgments, [&](const std::string& key) -> Result<std::vector<std::string>> {
      const size_t sep = key.find('\x1f');
      const std::string q = key.substr(0, sep);
      const std::string user = sep == std::string::npos ? "" : key.substr(sep + 1);
      if (ltr) return ltr->Rank(q, user, 100);
      search::QueryOptions o = qo;
      o.k = 100;
      SOUK_ASSIGN_OR_RETURN(auto r, (*index)->Search(q, o));
      std::vector<std::string> ids;
      for (const auto& h : r.hits) ids.push_back((*index)->ExternalId(h.doc));
      return ids;
    });
    if (!m.ok()) return Fail(m.status());
    if (as_json) {
      json out = MetricsJson(*m);
      out["rank"] = ltr ? "ltr" : "none";
      if (!warning.empty()) out["warning"] = warning;
      if (per_user) out["per_user"] = true;
      PrintJson(out);
    } else {
      std::printf("%zu judged %s (rank %s): NDCG@10 %.4f  MRR %.4f  recall@100 %.4f\n", m->queries,
                  per_user ? "searches (query, user)" : "queries", ltr ? "ltr" : "none", m->ndcg10, m->mrr, m->recall100);
    }
    return 0;
  }
  if (!a.mode_given) {
    // As before the modes existed: BM25 over every judged query (re-ranked by
    // the query's intent with --intent).
    auto m = *intent ? search::EvaluateRanker(judgments,
                                              [&](const std::string& q) -> Result<std::vector<std::string>> {
                                                search::QueryOptions o = qo;
                                                o.k = 100;
                                                SOUK_ASSIGN_OR_RETURN(auto r, (*index)->Search(q, o));
                                                std::vector<std::string> ids;
                                                for (const auto& h : (*intent)->Rerank(q, std::move(r.hits)))
                                                  ids.push_back((*index)->ExternalId(h.doc));
                                                return ids;
                                              })
                     : search::Evaluate(**index, judgments, qo);
    if (!m.ok()) return Fail(m.status());
    if (as_json) {
      json out = {{"NDCG@10", m->ndcg10},
                  {"MRR", m->mrr},
                  {"recall@100", m->recall100},
                  {"queries", m->queries},
                  {"rank", "none"}};
      if (!a.intent.empty()) out["intent"] = a.intent;
      std::printf("%s\n", out.dump().c_str());
    } else {
      std::printf("%zu judged queries: NDCG@10 %.4f  MRR %.4f  recall@100 %.4f\n", m->queries, m->ndcg10, m->mrr,
                  m->recall100);
    }
    return 0;
  }
  // Validation / test (/ training, not evaluated) split by query.
  const QuerySplit split{a.validation_share, a.test_share};
  if (Status s = split.Check(); !s.ok()) return Fail(s);
  std::vector<search::Judgment> validation, test;
  for (const auto& j : judgments) {
    const QuerySplit::Part part = split.Of(j.query);
    if (part == QuerySplit::kValidation) validation.push_back(j);
    if (part == QuerySplit::kTest) test.push_back(j);
  }
  if (test.empty()) return Fail(Status::InvalidArgument("no test queries (raise --test-share)"));
  std::optional<VectorSide> vec;
  if (a.mode != "bm25") {
    auto v = OpenVectorSide(dir, a.vector_model);
    if (!v.ok()) return Fail(v.status());
    vec = std::move(*v);
  }
  // Both sides' top-100 (or fuse depth) per query, computed once.
  const size_t depth = std::max<size_t>(a.fuse_depth, 100);
  std::unordered_map<std::string, std::pair<std::vector<search::Hit>, std::vector<search::Hit>>> cache;
  auto lists =
      [&](const std::string& q) -> Result<const std::pair<std::vector<search::Hit>, std::vector<search::Hit>>*> {
    auto it = cache.find(q);
    if (it != cache.end()) return &it->second;
    search::QueryOptions o = qo;
    o.k = depth;
    SOUK_ASSIGN_OR_RETURN(search::SearchResult lex, (*index)->Search(q, o));
    std::vector<search::Hit> vhits;
    if (vec) {
      SOUK_ASSIGN_OR_RETURN(vhits, vec->Search(q, depth));
    }
    return &cache.emplace(q, std::make_pair(std::move(lex.hits), std::move(vhits))).first->second;
  };
  struct Run {
    std::string mode, fusion;
    double weight = -1;
  };
  auto ranker = [&](const Run& run) -> search::Ranker {
    return [&, run](const std::string& q) -> Result<std::vector<std::string>> {
      SOUK_ASSIGN_OR_RETURN(auto* l, lists(q));
      std::vector<search::Hit> hits;
      if (run.mode == "bm25")
        hits = *intent ? (*intent)->Rerank(q, l->first) : l->first;
      else if (run.mode == "vector")
        hits = l->second;
      else if (run.fusion == "rrf")
        hits = search::FuseRrf({l->first, l->second}, 100);
      else
        hits = search::FuseBlend(l->first, l->second, run.weight, 100);
      std::vector<std::string> ids;
      for (const auto& h : hits) ids.push_back((*index)->ExternalId(h.doc));
      return ids;
    };
  };
  std::vector<Run> runs;
  if (a.mode == "all") {
    runs = {{"bm25", ""}, {"vector", ""}, {"hybrid", "rrf"}, {"hybrid", "blend", a.blend_weight}};
  } else {
    runs = {{a.mode, a.mode == "hybrid" ? a.fusion : "", a.blend_weight}};
  }
  json results = json::array();
  for (Run& run : runs) {
    json r = {{"mode", run.mode}};
    if (!run.fusion.empty()) r["fusion"] = run.fusion;
    if (run.fusion == "blend") {
      if (run.weight < 0) {
        // Tune w on the validation queries: the best NDCG@10 on a grid.
        if (validation.empty())
          return Fail(Status::InvalidArgument("blend: no validation queries to tune on (raise --validation-share)"));
        double best = -1, best_w = 0.5;
        json curve = json::array();
        for (int g = 0; g <= 20; ++g) {
          Run trial = run;
          trial.weight = g / 20.0;
          auto m = search::EvaluateRanker(validation, ranker(trial));
          if (!m.ok()) return Fail(m.status());
          curve.push_back({{"w", trial.weight}, {"NDCG@10", m->ndcg10}});
          if (m->ndcg10 > best) best = m->ndcg10, best_w = trial.weight;
        }
        run.weight = best_w;
        r["tuned_on"] = {
            {"queries", search::EvaluateRanker(validation, ranker(run))->queries}, {"NDCG@10", best}, {"curve", curve}};
      }
      r["w"] = run.weight;
    }
    auto m = search::EvaluateRanker(test, ranker(run));
    if (!m.ok()) return Fail(m.status());
    r.update(MetricsJson(*m));
    if (!file->kind.empty()) {
      std::map<std::string, std::vector<search::Judgment>> by_kind;
      for (const auto& j : test) {
        auto it = file->kind.find(j.query);
        by_kind[it == file->kind.end() ? "" : it->second].push_back(j);
      }
      json kinds = json::object();
      for (const auto& [kind, js] : by_kind) {
        auto km = search::EvaluateRanker(js, ranker(run));
        if (!km.ok()) return Fail(km.status());
        kinds[kind] = MetricsJson(*km);
      }
      r["by_kind"] = kinds;
    }
    results.push_back(r);
  }
  if (as_json) {
    json out = {{"rank", "none"}, {"validation_share", a.validation_share}, {"results", results}};
    if (a.test_share >= 0) out["test_share"] = a.test_share;
    if (results.size() == 1) out.update(results[0]);
    std::printf("%s\n", out.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
    return 0;
  }
  for (const auto& r : results) {
    std::string name = r["mode"].get<std::string>();
    if (r.contains("fusion")) name += "/" + r["fusion"].get<std::string>();
    if (r.contains("w")) name += fmt::format(" (w={:.2f})", r["w"].get<double>());
    std::printf("%-22s %zu test queries: NDCG@10 %.4f  MRR %.4f  recall@100 %.4f\n", name.c_str(),
                r["queries"].get<size_t>(), r["NDCG@10"].get<double>(), r["MRR"].get<double>(),
                r["recall@100"].get<double>());
    if (r.contains("by_kind"))
      for (const auto& [kind, km] : r["by_kind"].items())
        std::printf("  %-20s %zu queries: NDCG@10 %.4f  MRR %.4f  recall@100 %.4f\n", kind.c_str(),
                    km["queries"].get<size_t>(), km["NDCG@10"].get<double>(), km["MRR"].get<double>(),
                    km["recall@100"].get<double>());
  }
  return 0;
}

Result<std::shared_ptr<const text::Analyzer>> QueryAnalyzer(const Config& config) {
  SOUK_ASSIGN_OR_RETURN(auto options, OptionsFromConfig(config));
  SOUK_ASSIGN_OR_RETURN(auto dict, Dictionary(config));
  return std::make_shared<const text::Analyzer>(options.analyzer, dict);
}

search::QueryOptions DefaultQueryOptions() { return QueryOptionsOf(SearchArgs{}); }

Result<std::unique_ptr<search::Index>> OpenSearchIndex(const std::string& dir, Store* store, const Config& config) {
  return OpenIndex(dir, store, config);
}

nlohmann::json SearchHitsJson(const search::Index& index, const std::string& query, const search::SearchResult& r,
                              double ms) {
  return HitsJson(index, query, r, ms);
}

}  // namespace souk::cli
