// `souk train`, `recommend`, `similar`, `eval` and `tune`: the recommender
// side of the CLI. Models live in DIR/models/NAME.bin and are listed in the
// store's model registry; `souk tune` keeps the best spec per model in
// DIR/tuned.json, which a bare model name (`--model ials`) then resolves to.
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "cli/commands.h"
#include "core/core.h"
#include "eval/eval.h"
#include "rank/rank.h"
#include "rec/rec.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace souk::cli {
namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

int Threads(const Config& config) {
  const int64_t t = config.GetInt("rec.threads");
  if (t > 0) return static_cast<int>(t);
  return std::max(1u, std::thread::hardware_concurrency());
}

rec::EventWeights WeightsFromConfig(const Config& c) {
  rec::EventWeights w;
  w.view = static_cast<float>(c.GetDouble("rec.view_weight"));
  w.click = static_cast<float>(c.GetDouble("rec.click_weight"));
  w.cart = static_cast<float>(c.GetDouble("rec.cart_weight"));
  w.purchase = static_cast<float>(c.GetDouble("rec.purchase_weight"));
  w.rating = static_cast<float>(c.GetDouble("rec.rating_weight"));
  w.other = static_cast<float>(c.GetDouble("rec.other_weight"));
  w.half_life_days = c.GetDouble("rec.half_life_days");
  w.include_flagged = c.GetBool("rec.include_flagged");
  return w;
}

std::string ModelsDir(const std::string& dir) { return (fs::path(dir) / "models").string(); }
std::string ModelPath(const std::string& dir, const std::string& name) {
  return (fs::path(ModelsDir(dir)) / (name + ".bin")).string();
}
std::string TunedPath(const std::string& dir) { return (fs::path(dir) / "tuned.json").string(); }

json ReadTuned(const std::string& dir) {
  std::ifstream in(TunedPath(dir));
  if (!in) return json::object();
  try {
    return json::parse(in);
  } catch (const json::exception&) {
    return json::object();
  }
}

// A bare name ("ials") becomes the tuned spec when `souk tune` saved one.
std::string ResolveSpec(const std::string& dir, const std::string& spec) {
  if (spec.find(':') != std::string::npos) return spec;
  const json tuned = ReadTuned(dir);
  if (tuned.contains(spec) && tuned[spec].contains("spec")) return tuned[spec]["spec"].get<std::string>();
  return spec;
}

// "pop,itemknn" or "ials:f=32,reg=0.1;pop": ';' separates specs when any
// spec has parameters, else ',' does.
std::vector<std::string> SplitSpecs(const std::string& text) {
  std::vector<std::string> out;
  const char sep = text.find(':') != std::string::npos ? ';' : ',';
  for (std::string_view s : SplitTrimmed(text, sep)) out.emplace_back(s);
  return out;
}

// DIR/runs/NAME-YYYYmmdd-HHMMSS.jsonl: a first line {"run":..,"model":SPEC,
// "started":ISO-8601} and then one JSON line per training epoch. The file
// appears with the first epoch (models that do not train by epochs write
// none).
std::function<void(const std::string&)> RunLog(const std::string& dir, const std::string& name,
                                               const std::string& spec) {
  const fs::path runs = fs::path(dir) / "runs";
  const std::time_t now = std::time(nullptr);
  char stamp[32], iso[32];
  std::strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", std::gmtime(&now));
  std::strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  const std::string run = name + "-" + stamp;
  const std::string path = (runs / (run + ".jsonl")).string();
  const std::string header = json{{"run", run}, {"model", spec}, {"started", iso}}.dump();
  auto wrote_header = std::make_shared<bool>(false);
  return [runs, path, header, wrote_header](const std::string& line) {
    std::error_code ec;
    fs::create_directories(runs, ec);
    std::ofstream out(path, std::ios::app);
    if (!*wrote_header) {
      out << header << "\n";
      *wrote_header = true;
    }
    out << line << "\n";
  };
}

rec::FitContext MakeContext(const Config& config, const rec::TrainingData& data, Progress* progress) {
  rec::FitContext ctx;
  ctx.threads = Threads(config);
  ctx.seed = static_cast<uint64_t>(config.GetInt("rec.seed"));
  ctx.item_category = data.item_category;
  if (progress)
    ctx.progress = [progress](uint64_t done, uint64_t total) {
      progress->Update(done * 1000 / std::max<uint64_t>(total, 1));
    };
  return ctx;
}

// External ids of items, fetched for the ids a response names.
Result<std::vector<ItemRow>> Rows(Store* store, const std::vector<rec::ScoredItem>& items) {
  std::vector<ItemId> ids;
  for (const auto& x : items) ids.push_back(x.item);
  return store->GetItems(ids);
}

// Keeps the first k items that are not deleted, as JSON. When the store has
// a catalog, placeholders (ids only events named) are left out too: a shop
// cannot show or sell them. A store of events alone (no catalog imported)
// has nothing but placeholders, and they are what it recommends.
Result<json> ItemsJson(Store* store, const std::vector<rec::ScoredItem>& items, size_t k) {
  SOUK_ASSIGN_OR_RETURN(std::vector<ItemRow> rows, Rows(store, items));
  std::unordered_map<ItemId, const ItemRow*> by_id;
  bool placeholders = false;
  for (const ItemRow& r : rows) {
    by_id[r.id] = &r;
    placeholders = placeholders || !r.known;
  }
  bool skip_placeholders = false;
  if (placeholders) {
    SOUK_ASSIGN_OR_RETURN(skip_placeholders, store->HasCatalog());
  }
  json out = json::array();
  for (const auto& x : items) {
    if (out.size() == k) break;
    auto it = by_id.find(x.item);
    if (it == by_id.end() || it->second->deleted || (skip_placeholders && !it->second->known)) continue;
    out.push_back({{"item_id", it->second->ext_id}, {"score", x.score}});
  }
  return out;
}

void PrintItemsText(const json& items) {
  size_t rank = 1;
  for (const auto& x : items) {
    std::printf("%3zu. %-24s %.4f\n", rank++, x["item_id"].get<std::string>().c_str(), x["score"].get<double>());
  }
  if (items.empty()) std::printf("(no recommendations)\n");
}

Result<std::unique_ptr<rec::Model>> LoadNamed(const std::string& dir, const std::string& name) {
  auto m = rec::LoadModel(ModelPath(dir, name));
  if (!m.ok() && m.status().code() == StatusCode::kNotFound) {
    return Status::NotFound(
        fmt::format("no trained model '{}' in {} (run `souk train {} --model {}`)", name, dir, dir, name));
  }
  return m;
}

std::string NameOf(const std::string& spec) { return spec.substr(0, spec.find(':')); }

}  // namespace

// ---- train -----------------------------------------------------------------

int TrainCommand(const RecArgs& args, Store* store, const Config& config) {
  std::vector<std::string> specs = args.models;
  if (specs.empty()) specs = SplitSpecs(config.GetString("rec.models"));
  const auto t0 = std::chrono::steady_clock::now();
  auto data = rec::LoadTrainingData(*store, WeightsFromConfig(config));
  if (!data.ok()) return Fail(data.status());
  if (data->interactions.empty()) {
    return Fail(Status::FailedPrecondition(fmt::format("no training events in {} (import events first)", args.dir)));
  }
  const rec::Interactions m = rec::BuildInteractions(data->interactions, data->num_users, data->num_items);
  const double load_seconds = Seconds(t0);
  std::error_code ec;
  fs::create_directories(ModelsDir(args.dir), ec);
  if (ec) return Fail(Status::IoError(fmt::format("cannot create {}: {}", ModelsDir(args.dir), ec.message())));
  json out = {{"users", m.num_users},         {"items", m.num_items},
              {"interactions", m.nnz()},      {"events", data->interactions.size()},
              {"load_seconds", load_seconds}, {"models", json::array()}};
  if (!args.json) {
    std::printf("training data: %s events -> %s user-item pairs, %s users, %s items (%.1f s)\n",
                WithThousands(data->interactions.size()).c_str(), WithThousands(m.nnz()).c_str(),
                WithThousands(m.num_users).c_str(), WithThousands(m.num_items).c_str(), load_seconds);
  }
  std::optional<rec::ItemContent> content;  // loaded for the first model that wants it
  for (const std::string& raw : specs) {
    const std::string spec = ResolveSpec(args.dir, raw);
    auto model = rec::MakeModel(spec);
    if (!model.ok()) return Fail(model.status());
    const std::string name = (*model)->Name();
    if ((*model)->WantsContent() && !content) {
      auto c = rec::LoadItemContent(*store, m.num_items);
      if (!c.ok()) return Fail(c.status());
      content = std::move(*c);
      if (!args.holdout_judgments.empty()) {
        // Searches whose query search-eval measures (and, with a training
        // part, tunes on) are not learnt from, so it measures queries the
        // model never saw.
        auto held = HeldOutQueries(args.holdout_judgments, {args.validation_share, args.test_share});
        if (!held.ok()) return Fail(held.status());
        const size_t before = content->queries.size();
        std::erase_if(content->queries, [&](const rec::ItemContent::Query& q) { return held->count(q.text) > 0; });
        out["held_out"] = {{"searches", before - content->queries.size()},
                           {"of", before},
                           {"queries", held->size()},
                           {"judgments", args.holdout_judgments}};
        if (!args.json)
          std::printf("held out %zu of %zu searches (%zu queries of %s)\n", before - content->queries.size(), before,
                      held->size(), args.holdout_judgments.c_str());
      }
    }
    Progress progress("train " + name, 1000);
    const auto t = std::chrono::steady_clock::now();
    rec::FitContext ctx = MakeContext(config, *data, &progress);
    ctx.log = RunLog(args.dir, name, (*model)->Describe());
    if ((*model)->WantsContent()) ctx.content = &*content;
    Status s = (*model)->Fit(m, ctx);
    progress.Finish();
    if (!s.ok()) return Fail(s);
    const double fit_seconds = Seconds(t);
    const std::string path = ModelPath(args.dir, name);
    s = rec::SaveModel(**model, path);
    if (!s.ok()) return Fail(s);
    ModelRecord rec;
    rec.name = name;
    rec.spec = (*model)->Describe();
    rec.path = fs::relative(path, args.dir).string();
    rec.metrics_json = json({{"fit_seconds", fit_seconds}}).dump();
    rec.created_ms = NowMs();
    rec.active = true;
    auto id = store->RegisterModel(rec);
    if (!id.ok()) return Fail(id.status());
    json entry = {{"name", name}, {"spec", rec.spec}, {"path", path}, {"fit_seconds", fit_seconds}};
    if (!args.json)
      std::printf("trained %-9s %-48s %7.2f s -> %s\n", name.c_str(), rec.spec.c_str(), fit_seconds, path.c_str());
    if ((*model)->WantsContent() && (*model)->ItemFactors() != nullptr) {
      // Models with a query tower serve search through a vector index of
      // their item vectors.
      auto vi = BuildItemVectorIndex(args.dir, name, **model, config);
      if (!vi.ok()) return Fail(vi.status());
      entry["vector_index"] = {{"path", vi->path},       {"spec", vi->spec},
                               {"vectors", vi->vectors}, {"searches", vi->exact ? "exact" : "hnsw"},
                               {"seconds", vi->seconds}, {"hnsw_recall@10", vi->hnsw_recall10}};
      if (!args.json)
        std::printf(
            "  vector index %s: %zu vectors, %s search (%s below %zu); hnsw graph recall@10 vs exact %.4f -> %s\n",
            vi->spec.c_str(), vi->vectors, vi->exact ? "exact" : "hnsw", "exact", vi->exact_below, vi->hnsw_recall10,
            vi->path.c_str());
    }
    out["models"].push_back(entry);
  }
  if (args.json) PrintJson(out);
  return 0;
}

// ---- recommend ---------------------------------------------------------------

namespace {

// Recommendations for one history; falls back to popularity when the
// history holds nothing the model knows.
Result<json> RecommendOne(Store* store, const rec::Model& model, const rec::Model* fallback, const rec::History& h,
                          size_t k, bool exclude_seen, std::vector<float>* buffer) {
  bool known = false;
  for (uint32_t i : h.items) known = known || i < model.num_items();
  const rec::Model& use = known || !fallback ? model : *fallback;
  rec::RecommendOptions ro;
  ro.k = 2 * k + 32;  // room for deleted items and placeholders dropped below
  ro.exclude_seen = exclude_seen;
  std::vector<rec::ScoredItem> top = rec::Recommend(use, h, ro, buffer);
  SOUK_ASSIGN_OR_RETURN(json items, ItemsJson(store, top, k));
  json j = {{"model", use.Describe()}, {"items", items}};
  if (&use != &model) j["fallback"] = "popularity (no history the model knows)";
  return j;
}

// souk recommend's RecFinish: diversity from --diversity or rank.diversity,
// the store's rules, item facts from the catalog (loaded once, when
// something needs them).
struct CliFinish {
  RecFinish fin;
  std::vector<ItemRow> items;
  std::unordered_map<std::string, ItemId> ids;
  std::unique_ptr<RuleMatcher> matcher;

  Status Open(const RecArgs& args, Store* store, const Config& config) {
    fin.lambda = args.diversity >= 0 ? args.diversity : config.GetDouble("rank.diversity");
    fin.diversity.w_relevance = config.GetDouble("rank.weight_relevance");
    fin.diversity.w_revenue = config.GetDouble("rank.weight_revenue");
    fin.exclude_out_of_stock = config.GetBool("rank.exclude_out_of_stock");
    SOUK_ASSIGN_OR_RETURN(auto rules, store->Rules());
    const bool rules_apply = [&] {
      RecFinish probe;
      probe.rules = &rules;
      probe.exclude_out_of_stock = fin.exclude_out_of_stock;
      return probe.RulesApply();
    }();
    if (fin.lambda <= 0 && !rules_apply) return Status::Ok();
    SOUK_ASSIGN_OR_RETURN(items, store->LoadItems());
    for (const ItemRow& r : items)
      if (!r.deleted) ids.emplace(r.ext_id, r.id);
    std::shared_ptr<const search::Index> index;  // filters and stock, when a rule needs them
    if (rules_apply) {
      SOUK_ASSIGN_OR_RETURN(auto idx, OpenSearchIndex(args.dir, store, config));
      index = std::move(idx);
    }
    matcher = std::make_unique<RuleMatcher>(std::move(index), std::move(rules));
    fin.rules = &matcher->rules();
    fin.hooks = matcher->Hooks([this](const std::string& ext) {
      const auto it = ids.find(ext);
      return it == ids.end() ? kNoId : it->second;
    });
    fin.category_price = [this](const std::string& ext) {
      const auto it = ids.find(ext);
      if (it == ids.end() || it->second >= items.size()) return std::pair<std::string, double>{"", NAN};
      return std::pair<std::string, double>{items[it->second].category, items[it->second].price};
    };
    return Status::Ok();
  }
};

}  // namespace

int RecommendCommand(const RecArgs& args, Store* store, const Config& config) {
  const bool sessions = !args.session.empty() || !args.sessions_file.empty();
  if (args.explain || args.blend) {
    if (args.user.empty() || !args.model.empty())
      return Fail(Status::InvalidArgument("--explain and --blend work for one USER with the served models (no --model)"));
    auto service = RecService::Open(args.dir, config);
    if (!service.ok()) return Fail(service.status());
    RecService::Options o;
    o.explain = args.explain;
    o.blend = args.blend;
    CliFinish finish;
    if (Status st = finish.Open(args, store, config); !st.ok()) return Fail(st);
    finish.fin.k = args.k;
    auto j = (*service)->ForUser(store, args.user, finish.fin.FetchSize(), args.exclude_seen.value_or(true), o);
    if (!j.ok()) return Fail(j.status());
    FinishRecommendations(finish.fin, &*j);
    if (args.json) {
      PrintJson(*j);
    } else {
      std::printf("%s for %s\n", (*j)["model"].get<std::string>().c_str(), args.user.c_str());
      size_t rank = 1;
      for (const auto& x : (*j)["items"])
        std::printf("%3zu. %-24s %.4f  %s\n", rank++, x["item_id"].get<std::string>().c_str(),
                    x["score"].get<double>(), x.value("reason", std::string()).c_str());
    }
    return 0;
  }
  const std::string name =
      !args.model.empty() ? args.model : config.GetString(sessions ? "rec.session_model" : "rec.user_model");
  auto model = LoadNamed(args.dir, name);
  if (!model.ok()) return Fail(model.status());
  std::unique_ptr<rec::Model> fallback;
  if (name != "pop") {
    auto pop = rec::LoadModel(ModelPath(args.dir, "pop"));
    if (pop.ok()) fallback = std::move(*pop);
  }
  std::vector<float> buffer;
  const rec::EventWeights weights = WeightsFromConfig(config);

  if (sessions) {
    std::vector<std::string> lines;
    if (!args.session.empty()) {
      lines.push_back(args.session);
    } else {
      std::ifstream in(args.sessions_file);
      if (!in) return Fail(Status::IoError(fmt::format("cannot read {}", args.sessions_file)));
      for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        lines.push_back(line);
      }
    }
    std::unordered_map<std::string, ItemId> ids;                  // ext id -> dense id cache
    const bool exclude_seen = args.exclude_seen.value_or(false);  // sessions revisit items
    for (const std::string& line : lines) {
      rec::History h;
      json unknown = json::array();
      for (std::string_view piece : SplitTrimmed(line, ',')) {
        const std::string ext(piece);
        auto it = ids.find(ext);
        if (it == ids.end()) {
          auto id = store->FindItem(ext);
          if (!id.ok()) return Fail(id.status());
          it = ids.emplace(ext, *id).first;
        }
        if (it->second == kNoId) {
          unknown.push_back(ext);
        } else {
          h.items.push_back(it->second);
        }
      }
      auto j = RecommendOne(store, **model, fallback.get(), h, args.k, exclude_seen, &buffer);
      if (!j.ok()) return Fail(j.status());
      (*j)["session"] = line;
      if (!unknown.empty()) (*j)["unknown_items"] = unknown;
      if (args.json) {
        PrintJson(*j);
      } else {
        std::printf("session %s (%s):\n", line.c_str(), (*j)["model"].get<std::string>().c_str());
        PrintItemsText((*j)["items"]);
      }
    }
    return 0;
  }

  std::vector<std::string> users;
  if (!args.user.empty()) {
    users.push_back(args.user);
  } else if (!args.users_file.empty()) {
    std::ifstream in(args.users_file);
    if (!in) return Fail(Status::IoError(fmt::format("cannot read {}", args.users_file)));
    for (std::string line; std::getline(in, line);) {
      const std::string_view t = Trim(line);
      if (!t.empty()) users.emplace_back(t);
    }
  } else {
    return Fail(Status::InvalidArgument("give a USER, --users FILE, --session ITEMS or --sessions FILE"));
  }
  const bool exclude_seen = args.exclude_seen.value_or(true);
  CliFinish finish;
  if (Status st = finish.Open(args, store, config); !st.ok()) return Fail(st);
  finish.fin.k = args.k;
  for (const std::string& user : users) {
    auto id = store->FindUser(user);
    if (!id.ok()) return Fail(id.status());
    rec::History h;
    json j;
    if (*id == kNoId) {
      if (users.size() == 1 && !fallback) {
        return Fail(
            Status::NotFound(fmt::format("unknown user '{}' (no events; train a pop model for a fallback)", user)));
      }
    } else {
      auto hist = rec::LoadHistory(*store, *id, weights);
      if (!hist.ok()) return Fail(hist.status());
      h = std::move(*hist);
    }
    auto r = RecommendOne(store, **model, fallback.get(), h, finish.fin.FetchSize(), exclude_seen, &buffer);
    if (!r.ok()) return Fail(r.status());
    j = std::move(*r);
    FinishRecommendations(finish.fin, &j);
    j["user"] = user;
    j["history"] = h.items.size();
    if (*id == kNoId) j["fallback"] = "popularity (unknown user)";
    if (args.json) {
      PrintJson(j);
    } else {
      std::printf("user %s, %zu events in history (%s)%s:\n", user.c_str(), h.items.size(),
                  j["model"].get<std::string>().c_str(),
                  j.contains("fallback") ? (" — " + j["fallback"].get<std::string>()).c_str() : "");
      PrintItemsText(j["items"]);
    }
  }
  return 0;
}

// ---- similar -------------------------------------------------------------------

int SimilarCommand(const RecArgs& args, Store* store, const Config& config) {
  const std::string name = !args.model.empty() ? args.model : config.GetString("rec.similar_model");
  auto model = LoadNamed(args.dir, name);
  if (!model.ok()) return Fail(model.status());
  auto id = store->FindItem(args.item);
  if (!id.ok()) return Fail(id.status());
  if (*id == kNoId) return Fail(Status::NotFound(fmt::format("unknown item '{}'", args.item)));
  auto sim = (*model)->Similar(*id, 2 * args.k + 32);
  if (!sim.ok()) return Fail(sim.status());
  auto items = ItemsJson(store, *sim, args.k);
  if (!items.ok()) return Fail(items.status());
  json j = {{"item", args.item}, {"model", (*model)->Describe()}, {"items", *items}};
  if (args.json) {
    PrintJson(j);
  } else {
    std::printf("items similar to %s (%s):\n", args.item.c_str(), (*model)->Describe().c_str());
    PrintItemsText(*items);
  }
  return 0;
}

// ---- eval / tune ---------------------------------------------------------------

namespace {

struct Prepared {
  std::string dir;
  Store* store = nullptr;
  // The catalog's text and the search log, loaded for the first model
  // that wants it (WantsContent: twotower, ltr-recs).
  mutable std::optional<rec::ItemContent> content;
  rec::TrainingData data;
  eval::Split split;
  rec::Interactions train;
  eval::EvalOptions options;
};

Result<eval::Split> MakeSplit(const std::string& kind, std::span<const rec::Interaction> data, uint32_t num_users,
                              bool validation) {
  if (kind == "leave-one-out" || kind == "loo") {
    return eval::LeaveOneOut(data, num_users, validation ? eval::Stage::kValidation : eval::Stage::kTest);
  }
  if (kind == "temporal") {
    if (!validation) return eval::Temporal(data, num_users, 0.8);
    SOUK_ASSIGN_OR_RETURN(eval::Split outer, eval::Temporal(data, num_users, 0.8));
    return eval::Temporal(outer.train, num_users, 0.8);
  }
  if (kind == "sessions") {
    if (!validation) return eval::Sessions(data, num_users);
    SOUK_ASSIGN_OR_RETURN(eval::Split outer, eval::Sessions(data, num_users));
    return eval::Sessions(outer.train, num_users);
  }
  return Status::InvalidArgument(fmt::format("unknown split '{}' (leave-one-out, temporal or sessions)", kind));
}

Result<Prepared> Prepare(const RecArgs& args, Store* store, const Config& config, bool validation) {
  Prepared p;
  p.dir = args.dir;
  p.store = store;
  SOUK_ASSIGN_OR_RETURN(p.data, rec::LoadTrainingData(*store, WeightsFromConfig(config)));
  if (p.data.interactions.empty()) {
    return Status::FailedPrecondition(fmt::format("no training events in {} (import events first)", args.dir));
  }
  SOUK_ASSIGN_OR_RETURN(p.split, MakeSplit(args.split, p.data.interactions, p.data.num_users, validation));
  if (p.split.cases.empty()) {
    return Status::FailedPrecondition(
        fmt::format("the {} split leaves no test cases (too little data per user?)", args.split));
  }
  p.train = rec::BuildInteractions(p.split.train, p.data.num_users, p.data.num_items);
  SOUK_ASSIGN_OR_RETURN(p.options.protocol, eval::ParseProtocol(args.protocol));
  p.options.threads = Threads(config);
  p.options.seed = static_cast<uint64_t>(config.GetInt("rec.seed"));
  p.options.item_category = p.data.item_category;
  return p;
}

// Gives a model that wants them the catalog's text and the search log.
Status AttachContent(const Prepared& p, const rec::Model& model, rec::FitContext* ctx) {
  if (!model.WantsContent()) return Status::Ok();
  if (!p.content) {
    SOUK_ASSIGN_OR_RETURN(auto c, rec::LoadItemContent(*p.store, p.data.num_items));
    p.content = std::move(c);
  }
  ctx->content = &*p.content;
  return Status::Ok();
}

Result<eval::EvalResult> FitAndEvaluate(const std::string& spec, const Prepared& p, const Config& config, bool quiet,
                                        size_t bootstrap) {
  SOUK_ASSIGN_OR_RETURN(std::unique_ptr<rec::Model> model, rec::MakeModel(spec));
  const auto t0 = std::chrono::steady_clock::now();
  {
    Progress progress("fit " + model->Name(), 1000);
    rec::FitContext ctx = MakeContext(config, p.data, quiet ? nullptr : &progress);
    ctx.log = RunLog(p.dir, "eval-" + model->Name(), model->Describe());
    SOUK_RETURN_IF_ERROR(AttachContent(p, *model, &ctx));
    SOUK_RETURN_IF_ERROR(model->Fit(p.train, ctx));
    progress.Finish();
  }
  const double fit_seconds = Seconds(t0);
  eval::EvalOptions options = p.options;
  options.bootstrap = bootstrap;
  Progress progress("evaluate " + model->Name(), p.split.cases.size());
  if (!quiet) options.progress = [&](uint64_t done, uint64_t) { progress.Update(done); };
  const auto t1 = std::chrono::steady_clock::now();
  SOUK_ASSIGN_OR_RETURN(eval::EvalResult r, eval::Evaluate(*model, p.split, p.data.num_items, options));
  progress.Finish();
  r.fit_seconds = fit_seconds;
  r.eval_seconds = Seconds(t1);
  return r;
}

// A fitted model whose top-k is re-ranked by MMR (rank::Diversify): the
// k picked items score above every other item, in their MMR order.
class Diversified final : public rec::Model {
 public:
  Diversified(const rec::Model& inner, const Prepared& p, std::vector<float> price, std::vector<float> popularity,
              size_t k, rank::DiversityOptions o)
      : inner_(inner), p_(p), price_(std::move(price)), pop_(std::move(popularity)), k_(k), o_(o) {}
  std::string Name() const override { return inner_.Name() + "+mmr"; }
  std::string Describe() const override {
    return fmt::format("{}+mmr:lambda={},depth={},revenue={},novelty={}", inner_.Describe(), o_.lambda, o_.depth,
                       o_.w_revenue, o_.w_novelty);
  }
  Status Fit(const rec::Interactions&, const rec::FitContext&) override {
    return Status::FailedPrecondition("a diversified model wraps a fitted one");
  }
  void Score(const rec::History& h, std::span<float> scores) const override {
    inner_.Score(h, scores);
    std::vector<float> masked(scores.begin(), scores.end());
    for (uint32_t i : h.items)
      if (i < masked.size()) masked[i] = -std::numeric_limits<float>::infinity();  // seen items are not candidates
    const auto top = rank::Diversify(masked, p_.data.item_category, price_, pop_, k_, o_);
    float hi = -std::numeric_limits<float>::infinity();
    for (float x : scores)
      if (std::isfinite(x)) hi = std::max(hi, x);
    if (!std::isfinite(hi)) return;
    for (size_t j = 0; j < top.size(); ++j) scores[top[j]] = hi + 1.0f + static_cast<float>(top.size() - j);
  }
  uint32_t num_items() const override { return inner_.num_items(); }
  Status SaveState(std::ostream&) const override {
    return Status::FailedPrecondition("a diversified model is not saved (it wraps a fitted one)");
  }
  Status LoadState(std::istream&) override { return Status::FailedPrecondition("a diversified model is not loaded"); }

 private:
  const rec::Model& inner_;
  const Prepared& p_;
  std::vector<float> price_, pop_;
  size_t k_;
  rank::DiversityOptions o_;
};

// One model, fitted once, evaluated with MMR at each lambda: the
// accuracy/diversity trade-off (table, JSON, HTML chart).
int DiversitySweep(const RecArgs& args, const Prepared& p, Store* store, const Config& config) {
  if (args.models.size() != 1) return Fail(Status::InvalidArgument("--diversity-sweep takes one --model"));
  std::vector<double> lambdas;
  for (std::string_view part : SplitTrimmed(args.diversity_sweep, ',')) {
    auto v = ParseDouble(part);
    if (!v || *v < 0 || *v > 1)
      return Fail(Status::InvalidArgument(fmt::format("--diversity-sweep: '{}' is not a lambda in [0, 1]", part)));
    lambdas.push_back(*v);
  }
  if (lambdas.empty()) return Fail(Status::InvalidArgument("--diversity-sweep needs lambdas, e.g. 0,0.25,0.5,0.75,1"));
  const std::string spec = ResolveSpec(args.dir, args.models[0]);
  auto model = rec::MakeModel(spec);
  if (!model.ok()) return Fail(model.status());
  {
    Progress progress("fit " + (*model)->Name(), 1000);
    rec::FitContext ctx = MakeContext(config, p.data, args.json ? nullptr : &progress);
    if (Status st = AttachContent(p, **model, &ctx); !st.ok()) return Fail(st);
    if (Status st = (*model)->Fit(p.train, ctx); !st.ok()) return Fail(st);
    progress.Finish();
  }
  auto items = store->LoadItems();
  if (!items.ok()) return Fail(items.status());
  std::vector<float> price(p.data.num_items, std::numeric_limits<float>::quiet_NaN()), pop(p.data.num_items, 0);
  for (const auto& it : *items)
    if (it.id < price.size()) price[it.id] = static_cast<float>(it.price);
  for (uint32_t i = 0; i + 1 < p.train.item_ptr.size() && i < pop.size(); ++i)
    pop[i] = static_cast<float>(p.train.item_ptr[i + 1] - p.train.item_ptr[i]);
  rank::DiversityOptions base;
  base.depth = static_cast<size_t>(std::max<int64_t>(1, config.GetInt("rank.diversity_depth")));
  base.w_relevance = config.GetDouble("rank.weight_relevance");
  base.w_revenue = config.GetDouble("rank.weight_revenue");
  base.w_novelty = config.GetDouble("rank.weight_novelty");
  std::vector<eval::EvalResult> results;
  json rows = json::array();
  for (double l : lambdas) {
    rank::DiversityOptions o = base;
    o.lambda = l;
    Diversified d(**model, p, price, pop, p.options.list_k, o);
    eval::EvalOptions eo = p.options;
    eo.bootstrap = 0;
    Progress progress(fmt::format("evaluate lambda={}", l), p.split.cases.size());
    if (!args.json) eo.progress = [&](uint64_t done, uint64_t) { progress.Update(done); };
    auto r = eval::Evaluate(d, p.split, p.data.num_items, eo);
    progress.Finish();
    if (!r.ok()) return Fail(r.status());
    r->model = d.Describe();
    json row = eval::ToJson(*r);
    row["lambda"] = l;
    rows.push_back(row);
    results.push_back(std::move(*r));
  }
  // The trade-off curve: NDCG@10 against diversity@10, one point per lambda.
  std::string html = args.html.empty() ? (fs::path(args.dir) / "reports" / "diversity.html").string() : args.html;
  {
    std::error_code ec;
    if (fs::path(html).has_parent_path()) fs::create_directories(fs::path(html).parent_path(), ec);
    const std::string acc = "NDCG@10", div = fmt::format("diversity@{}", p.options.list_k);
    double x0 = 1, x1 = 0, y0 = 1, y1 = 0;
    for (const auto& r : results) {
      const double x = r.metrics.count(div) ? r.metrics.at(div) : 0, y = r.metrics.count(acc) ? r.metrics.at(acc) : 0;
      x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
    }
    if (x1 <= x0) x1 = x0 + 0.01;
    if (y1 <= y0) y1 = y0 + 0.01;
    const double W = 640, H = 400, M = 60;
    auto px = [&](double x) { return M + (x - x0) / (x1 - x0) * (W - 2 * M); };
    auto py = [&](double y) { return H - M - (y - y0) / (y1 - y0) * (H - 2 * M); };
    std::string svg = fmt::format(R"S(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}">)S", W, H);
    svg += fmt::format(R"S(<line x1="{0}" y1="{1}" x2="{2}" y2="{1}" stroke="#444"/><line x1="{0}" y1="{3}" x2="{0}" y2="{1}" stroke="#444"/>)S",
                       M, H - M, W - M, M);
    svg += fmt::format(R"S(<text x="{}" y="{}" text-anchor="middle">{} (higher: more varied lists)</text>)S", W / 2,
                       H - 15, div);
    svg += fmt::format(R"S(<text x="15" y="{}" transform="rotate(-90 15 {})" text-anchor="middle">{}</text>)S", H / 2,
                       H / 2, acc);
    svg += fmt::format(R"S(<text x="{}" y="{}" font-size="11">{:.3f}</text><text x="{}" y="{}" font-size="11" text-anchor="end">{:.3f}</text>)S",
                       M, H - M + 15, x0, W - M, H - M + 15, x1);
    svg += fmt::format(R"S(<text x="{}" y="{}" font-size="11" text-anchor="end">{:.3f}</text><text x="{}" y="{}" font-size="11" text-anchor="end">{:.3f}</text>)S",
                       M - 5, H - M, y0, M - 5, M + 4, y1);
    std::string path;
    for (size_t i = 0; i < results.size(); ++i) {
      const double x = results[i].metrics.count(div) ? results[i].metrics.at(div) : 0;
      const double y = results[i].metrics.count(acc) ? results[i].metrics.at(acc) : 0;
      path += fmt::format("{}{:.1f},{:.1f} ", i ? "L" : "M", px(x), py(y));
      svg += fmt::format(R"S(<circle cx="{:.1f}" cy="{:.1f}" r="4" fill="#2563eb"/><text x="{:.1f}" y="{:.1f}" font-size="11">λ={}</text>)S",
                         px(x), py(y), px(x) + 6, py(y) - 6, lambdas[i]);
    }
    svg += fmt::format(R"S(<path d="{}" fill="none" stroke="#2563eb"/></svg>)S", path);
    std::ofstream out(html);
    out << "<!doctype html><meta charset=\"utf-8\"><title>souk eval: diversity sweep</title>"
        << "<h1>Accuracy / diversity trade-off: " << HtmlEscape(spec) << " + MMR</h1>" << svg << "<pre>"
        << HtmlEscape(eval::TableText(results)) << "</pre>";
    if (!out) return Fail(Status::IoError("cannot write " + html));
  }
  if (args.json) {
    PrintJson({{"model", spec}, {"sweep", rows}, {"html", html}});
  } else {
    std::printf("%s", eval::TableText(results).c_str());
    std::printf("chart: %s\n", html.c_str());
  }
  return 0;
}

}  // namespace

int EvalCommand(const RecArgs& args, Store* store, const Config& config) {
  std::vector<std::string> specs = args.models;
  if (args.all) specs = rec::ModelNames();
  if (specs.empty()) return Fail(Status::InvalidArgument("give --model SPEC (repeatable) or --all"));
  auto p = Prepare(args, store, config, /*validation=*/false);
  if (!p.ok()) return Fail(p.status());
  if (!args.diversity_sweep.empty()) return DiversitySweep(args, *p, store, config);
  std::vector<eval::EvalResult> results;
  json failures = json::array();
  for (const std::string& raw : specs) {
    const std::string spec = ResolveSpec(args.dir, raw);
    auto r = FitAndEvaluate(spec, *p, config, args.json, 1000);
    if (!r.ok()) {
      if (specs.size() == 1) return Fail(r.status());
      std::fprintf(stderr, "souk: %s: %s\n", spec.c_str(), r.status().message().c_str());
      failures.push_back({{"model", spec}, {"error", r.status().message()}});
      continue;
    }
    results.push_back(std::move(*r));
  }
  if (results.empty()) return 1;
  std::string html = args.html;
  if (html.empty() && args.all) html = (fs::path(args.dir) / "reports" / "eval.html").string();
  if (!html.empty()) {
    std::error_code ec;
    if (fs::path(html).has_parent_path()) fs::create_directories(fs::path(html).parent_path(), ec);
    Status s = eval::WriteHtmlReport(results, html,
                                     fmt::format("souk eval: {} split, {} protocol", args.split, results[0].protocol));
    if (!s.ok()) return Fail(s);
    // The same results as JSON beside it (the console's evaluation table).
    json rows = json::array();
    for (const auto& r : results) {
      json row = {{"model", r.model}};
      for (const auto& [name, value] : r.metrics) row[name] = value;
      row["fit_seconds"] = r.fit_seconds;
      rows.push_back(std::move(row));
    }
    std::ofstream out(fs::path(html).replace_extension(".json"));
    out << json{{"split", args.split},
                {"protocol", results[0].protocol},
                {"cases", results[0].cases},
                {"generated_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count()},
                {"rows", rows},
                {"failed", failures}}
               .dump(1)
        << "\n";
  }
  if (args.json) {
    if (results.size() == 1 && failures.empty()) {
      PrintJson(eval::ToJson(results[0]));
    } else {
      json all = json::array();
      for (const auto& r : results) all.push_back(eval::ToJson(r));
      PrintJson({{"results", all}, {"failed", failures}});
    }
  } else {
    std::printf("%s cases (%s users)\n", WithThousands(results[0].cases).c_str(),
                WithThousands(results[0].users).c_str());
    std::printf("%s", eval::TableText(results).c_str());
    if (!html.empty()) std::printf("report: %s\n", html.c_str());
  }
  return 0;
}

namespace {

// Random-search space of each model family: a spec drawn per trial.
std::string SampleSpec(const std::string& name, std::mt19937_64& rng) {
  auto pick = [&](std::initializer_list<const char*> v) {
    std::uniform_int_distribution<size_t> d(0, v.size() - 1);
    return std::string(*(v.begin() + d(rng)));
  };
  // Log-uniform in [lo, hi], three significant digits.
  auto log_uniform = [&](double lo, double hi) {
    std::uniform_real_distribution<double> d(std::log(lo), std::log(hi));
    const double v = std::exp(d(rng));
    const double scale = std::pow(10.0, 2 - std::floor(std::log10(v)));
    return rec::FormatNumber(std::round(v * scale) / scale);
  };
  if (name == "ials") {
    return "ials:f=" + pick({"32", "64", "128"}) + ",reg=" + (log_uniform(1e-3, 50)) + ",a=" + (log_uniform(0.5, 100)) +
           ",it=" + pick({"10", "15", "20"});
  }
  if (name == "bpr") {
    return "bpr:f=" + pick({"32", "64", "128"}) + ",lr=" + (log_uniform(0.005, 0.2)) +
           ",reg=" + (log_uniform(1e-4, 0.1)) + ",it=" + pick({"20", "50", "100"});
  }
  if (name == "itemknn") {
    return "itemknn:k=" + pick({"20", "50", "100", "200", "500"}) + ",shrink=" + pick({"0", "1", "10", "50", "100"}) +
           ",w=" + pick({"0", "1"});
  }
  if (name == "ease") return "ease:lambda=" + (log_uniform(10, 5000));
  if (name == "sknn") {
    return "sknn:k=" + pick({"50", "100", "200", "500", "1000"}) + ",sample=" + pick({"500", "1000", "2500", "5000"}) +
           ",w=" + pick({"div", "linear", "log", "quadratic", "same"}) +
           ",ws=" + pick({"div", "linear", "log", "quadratic", "same"}) + ",idf=" + pick({"0", "1", "2", "5", "10"}) +
           ",idfby=" + pick({"events", "sessions"});
  }
  if (name == "pop") return "pop:by=" + pick({"users", "weight"}) + ",cat=" + pick({"0", "1"});
  if (name == "trending") {
    return "trending:half_life=" + (log_uniform(0.5, 30)) + ",window=" + pick({"3", "7", "14", "30", "60"});
  }
  return name;
}

}  // namespace

int TuneCommand(const RecArgs& args, Store* store, const Config& config) {
  if (args.models.size() != 1) return Fail(Status::InvalidArgument("give one --model NAME to tune"));
  const std::string name = NameOf(args.models[0]);
  {
    auto probe = rec::MakeModel(name);
    if (!probe.ok()) return Fail(probe.status());
  }
  auto p = Prepare(args, store, config, /*validation=*/true);
  if (!p.ok()) return Fail(p.status());
  std::mt19937_64 rng(static_cast<uint64_t>(config.GetInt("rec.seed")));
  json trials = json::array();
  std::string best_spec;
  double best = -1;
  for (int t = 0; t < args.trials; ++t) {
    // Trial 0 is the default (or the given) configuration.
    const std::string spec = t == 0 ? args.models[0] : SampleSpec(name, rng);
    auto r = FitAndEvaluate(spec, *p, config, /*quiet=*/true, /*bootstrap=*/0);
    if (!r.ok()) {
      std::fprintf(stderr, "souk: trial %d %s: %s\n", t + 1, spec.c_str(), r.status().message().c_str());
      continue;
    }
    const double v = r->metrics.count(args.metric) ? r->metrics.at(args.metric) : -1;
    if (v < 0) return Fail(Status::InvalidArgument(fmt::format("no metric '{}' (e.g. NDCG@10, HR@10)", args.metric)));
    trials.push_back({{"trial", t + 1}, {"spec", r->model}, {args.metric, v}, {"fit_seconds", r->fit_seconds}});
    const bool better = v > best;
    if (better) {
      best = v;
      best_spec = r->model;
    }
    if (!args.json) {
      std::printf("trial %3d  %s %.4f  %-60s %6.1f s%s\n", t + 1, args.metric.c_str(), v, r->model.c_str(),
                  r->fit_seconds + r->eval_seconds, better ? "  *best" : "");
      std::fflush(stdout);
    }
  }
  if (best_spec.empty()) return Fail(Status::Internal("every trial failed"));
  json tuned = ReadTuned(args.dir);
  tuned[name] = {{"spec", best_spec},
                 {"metric", args.metric},
                 {"value", best},
                 {"split", p->split.name},
                 {"protocol", eval::ProtocolText(p->options.protocol)},
                 {"trials", args.trials}};
  std::ofstream out(TunedPath(args.dir));
  out << tuned.dump(2) << "\n";
  if (!out) return Fail(Status::IoError("cannot write " + TunedPath(args.dir)));
  if (args.json) {
    PrintJson({{"model", name},
               {"best", best_spec},
               {args.metric, best},
               {"trials", trials},
               {"saved", TunedPath(args.dir)}});
  } else {
    std::printf("best %s on the validation split: %.4f with %s\nsaved to %s (`--model %s` now uses it)\n",
                args.metric.c_str(), best, best_spec.c_str(), TunedPath(args.dir).c_str(), name.c_str());
  }
  return 0;
}

// ---- score-lists -----------------------------------------------------------

int ScoreListsCommand(const std::string& path, const std::vector<size_t>& ks, bool as_json) {
  std::ifstream in(path);
  if (!in) return Fail(Status::IoError(fmt::format("cannot read {}", path)));
  // Item ids are strings; map them to dense ints for the metric functions.
  std::unordered_map<std::string, uint32_t> ids;
  auto id = [&](std::string_view s) {
    return ids.emplace(std::string(s), static_cast<uint32_t>(ids.size())).first->second;
  };
  std::map<std::string, double> sums;
  uint64_t n = 0, lineno = 0;
  for (std::string line; std::getline(in, line);) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (Trim(line).empty()) continue;
    const size_t tab = line.find('\t');
    if (tab == std::string::npos) {
      return Fail(Status::InvalidArgument(
          fmt::format("{}:{}: expected TARGET<TAB>ITEM,ITEM,... (the ranked list, best first)", path, lineno)));
    }
    std::vector<uint32_t> targets;
    for (std::string_view t : SplitTrimmed(std::string_view(line).substr(0, tab), ',')) targets.push_back(id(t));
    std::vector<uint32_t> ranked;
    for (std::string_view t : SplitTrimmed(std::string_view(line).substr(tab + 1), ',')) ranked.push_back(id(t));
    for (size_t k : ks) {
      sums[fmt::format("HR@{}", k)] += eval::HitRateAtK(ranked, targets, k);
      sums[fmt::format("MRR@{}", k)] += eval::MrrAtK(ranked, targets, k);
      sums[fmt::format("NDCG@{}", k)] += eval::NdcgAtK(ranked, targets, k);
      sums[fmt::format("Recall@{}", k)] += eval::RecallAtK(ranked, targets, k);
    }
    ++n;
  }
  if (n == 0) return Fail(Status::InvalidArgument(fmt::format("{}: no lists", path)));
  json metrics = json::object();
  for (const auto& [name, sum] : sums) metrics[name] = sum / static_cast<double>(n);
  if (as_json) {
    PrintJson({{"file", path}, {"lists", n}, {"metrics", metrics}});
  } else {
    std::printf("%s: %s lists\n", path.c_str(), WithThousands(n).c_str());
    for (const auto& [name, v] : metrics.items()) std::printf("  %-10s %.4f\n", name.c_str(), v.get<double>());
  }
  return 0;
}

}  // namespace souk::cli

namespace souk::cli {
namespace {

struct RunSummary {
  std::string run, model, started, file;
  json epochs = json::array();
  uint64_t bad_lines = 0;
};

// Reads one DIR/runs/*.jsonl file; lines that are not JSON objects are
// counted, not fatal (a run killed mid-write leaves half a line).
RunSummary ReadRun(const fs::path& path) {
  RunSummary r;
  r.file = path.string();
  r.run = path.stem().string();
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (Trim(line).empty()) continue;
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) {
      ++r.bad_lines;
      continue;
    }
    if (j.contains("epoch")) {
      r.epochs.push_back(std::move(j));
    } else {
      r.run = j.value("run", r.run);
      r.model = j.value("model", "");
      r.started = j.value("started", "");
    }
  }
  return r;
}

json SummaryJson(const RunSummary& r) {
  json out = {
      {"run", r.run}, {"model", r.model}, {"started", r.started}, {"file", r.file}, {"epochs", r.epochs.size()}};
  double best = -1, seconds = 0, last_loss = 0;
  int64_t best_epoch = 0;
  for (const json& e : r.epochs) {
    if (e.contains("val_ndcg10") && e["val_ndcg10"].get<double>() > best) {
      best = e["val_ndcg10"].get<double>();
      best_epoch = e.value("epoch", int64_t{0});
    }
    seconds = e.value("seconds", seconds);
    last_loss = e.value("loss", last_loss);
  }
  if (best >= 0) {
    out["best_val_ndcg10"] = best;
    out["best_epoch"] = best_epoch;
  }
  out["last_loss"] = last_loss;
  out["seconds"] = seconds;
  if (r.bad_lines) out["bad_lines"] = r.bad_lines;
  return out;
}

}  // namespace

json RunsJson(const std::string& dir) {
  const fs::path runs = fs::path(dir) / "runs";
  std::vector<fs::path> files;
  std::error_code ec;
  if (fs::is_directory(runs, ec))
    for (const auto& e : fs::directory_iterator(runs, ec))
      if (e.path().extension() == ".jsonl") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  json list = json::array();
  for (const fs::path& f : files) {
    const RunSummary r = ReadRun(f);
    json j = SummaryJson(r);
    j.erase("file");
    j["epoch_count"] = j["epochs"];
    j["epochs"] = r.epochs;
    list.push_back(std::move(j));
  }
  return {{"runs", list}};
}

int RunsCommand(const std::string& dir, const std::string& run, bool as_json) {
  const fs::path runs = fs::path(dir) / "runs";
  std::vector<fs::path> files;
  std::error_code ec;
  if (fs::is_directory(runs, ec)) {
    for (const auto& e : fs::directory_iterator(runs, ec)) {
      if (e.path().extension() == ".jsonl") files.push_back(e.path());
    }
  }
  std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) {
    // NAME-YYYYmmdd-HHMMSS: by time, then name.
    const std::string sa = a.stem().string(), sb = b.stem().string();
    const std::string ta = sa.size() > 15 ? sa.substr(sa.size() - 15) : sa;
    const std::string tb = sb.size() > 15 ? sb.substr(sb.size() - 15) : sb;
    return ta != tb ? ta < tb : sa < sb;
  });
  if (!run.empty()) {
    for (const fs::path& f : files) {
      if (f.stem().string() != run) continue;
      const RunSummary r = ReadRun(f);
      if (as_json) {
        json out = SummaryJson(r);
        out["curve"] = r.epochs;
        PrintJson(out);
        return 0;
      }
      std::printf("%s  %s  (started %s)\n", r.run.c_str(), r.model.c_str(), r.started.c_str());
      std::printf("%6s %10s %12s %9s\n", "epoch", "loss", "val NDCG@10", "seconds");
      for (const json& e : r.epochs) {
        std::string v = e.contains("val_ndcg10") ? fmt::format("{:.4f}", e["val_ndcg10"].get<double>()) : "";
        std::printf("%6lld %10.4f %12s %9.1f\n", static_cast<long long>(e.value("epoch", int64_t{0})),
                    e.value("loss", 0.0), v.c_str(), e.value("seconds", 0.0));
      }
      return 0;
    }
    return Fail(Status::NotFound(fmt::format("no run '{}' in {} (souk runs {} lists them)", run, runs.string(), dir)));
  }
  json list = json::array();
  for (const fs::path& f : files) list.push_back(SummaryJson(ReadRun(f)));
  if (as_json) {
    PrintJson({{"dir", dir}, {"runs", list}});
    return 0;
  }
  if (list.empty()) {
    std::printf("no training runs in %s (models that train by epochs write them there)\n", runs.string().c_str());
    return 0;
  }
  std::printf("%-34s %7s %10s %10s %9s  %s\n", "run", "epochs", "best val", "last loss", "seconds", "model");
  for (const json& r : list) {
    std::string best = r.contains("best_val_ndcg10") ? fmt::format("{:.4f}@{}", r["best_val_ndcg10"].get<double>(),
                                                                   r["best_epoch"].get<int64_t>())
                                                     : "-";
    std::printf("%-34s %7zu %10s %10.4f %9.1f  %s\n", r["run"].get<std::string>().c_str(), r["epochs"].get<size_t>(),
                best.c_str(), r["last_loss"].get<double>(), r["seconds"].get<double>(),
                r["model"].get<std::string>().c_str());
  }
  return 0;
}

// ---- for the HTTP server ------------------------------------------------------

Result<std::unique_ptr<RecService>> RecService::Open(const std::string& dir, const Config& config) {
  auto out = std::unique_ptr<RecService>(new RecService());
  out->weights_ = WeightsFromConfig(config);
  for (const auto& [slot, key] :
       std::vector<std::pair<std::unique_ptr<rec::Model>*, const char*>>{{&out->user_, "rec.user_model"},
                                                                         {&out->session_, "rec.session_model"},
                                                                         {&out->similar_, "rec.similar_model"}}) {
    auto m = LoadNamed(dir, config.GetString(key));
    if (m.ok()) *slot = std::move(*m);
  }
  auto pop = rec::LoadModel(ModelPath(dir, "pop"));
  if (pop.ok()) out->pop_ = std::move(*pop);
  if (fs::exists(ModelPath(dir, "trending"))) {
    auto t = rec::LoadModel(ModelPath(dir, "trending"));
    if (t.ok()) out->trending_ = std::move(*t);
  }
  out->blend_weights_ = {{"user", 1.0}, {"similar", 1.0}, {"pop", 0.3}, {"trending", 0.5}};
  for (std::string_view part : SplitTrimmed(config.GetString("rank.blend_weights"), ',')) {
    const size_t eq = part.find('=');
    auto w = eq == std::string_view::npos ? std::nullopt : ParseDouble(part.substr(eq + 1));
    const std::string name(Trim(part.substr(0, eq)));
    if (!w || !out->blend_weights_.count(name) || *w < 0)
      return Status::InvalidArgument(fmt::format(
          "rank.blend_weights: '{}' is not NAME=WEIGHT with NAME user, similar, pop or trending", part));
    out->blend_weights_[name] = *w;
  }
  if (!out->user_ && !out->session_ && !out->similar_ && !out->pop_)
    return Status::FailedPrecondition(fmt::format("no trained models in {} (run `souk train {}`)", dir, dir));
  return out;
}

Result<json> RecService::ForUser(Store* store, const std::string& user, size_t k, bool exclude_seen,
                                 const Options& options) const {
  if (options.blend || options.explain) {
    SOUK_ASSIGN_OR_RETURN(UserId id, store->FindUser(user));
    rec::History h;
    if (id != kNoId) {
      SOUK_ASSIGN_OR_RETURN(h, rec::LoadHistory(*store, id, weights_));
    }
    SOUK_ASSIGN_OR_RETURN(json j, Blended(store, h, k, exclude_seen, options));
    j["user"] = user;
    j["history"] = h.items.size();
    return j;
  }
  const rec::Model* model = user_ ? user_.get() : pop_.get();
  if (!model) return Status::FailedPrecondition("no user model trained");
  SOUK_ASSIGN_OR_RETURN(UserId id, store->FindUser(user));
  rec::History h;
  if (id != kNoId) {
    SOUK_ASSIGN_OR_RETURN(h, rec::LoadHistory(*store, id, weights_));
  } else if (!pop_) {
    return Status::NotFound(fmt::format("unknown user '{}' (no events; train a pop model for a fallback)", user));
  }
  std::vector<float> buffer;
  SOUK_ASSIGN_OR_RETURN(json j, RecommendOne(store, *model, pop_.get(), h, k, exclude_seen, &buffer));
  j["user"] = user;
  j["history"] = h.items.size();
  if (id == kNoId) j["fallback"] = "popularity (unknown user)";
  return j;
}

// Candidates per generator (rank::BlendCandidates), fused by weighted RRF
// (k = 60); with options.blend = false only one generator's list is kept
// (the user model's, else the similar items of the history, else
// popularity) and explained.
Result<json> RecService::Blended(Store* store, const rec::History& h, size_t k, bool exclude_seen,
                                 const Options& options) const {
  const rank::GeneratorSet gens{user_.get(), similar_.get(), pop_.get(), trending_.get()};
  rank::BlendOptions o;
  o.depth = 2 * k + 32;
  o.exclude_seen = exclude_seen;
  bool known = false;
  for (uint32_t i : h.items) known = known || (user_ && i < user_->num_items());
  int main = -1;  // the one generator of an unblended list
  if (options.blend) {
    o.w_user = blend_weights_.at("user"), o.w_similar = blend_weights_.at("similar");
    o.w_pop = blend_weights_.at("pop"), o.w_trending = blend_weights_.at("trending");
  } else {
    main = user_ && known ? 0 : similar_ && !h.items.empty() ? 1 : pop_ ? 2 : -1;
    if (main < 0) return Status::FailedPrecondition("no recommendation model trained");
    o.w_user = main == 0, o.w_similar = main == 1, o.w_pop = main == 2, o.w_trending = 0;
    // The similar items still say "because you viewed" (a weight too small
    // to move the main list).
    if (main == 0 && similar_) o.w_similar = 1e-9;
  }
  std::vector<float> buffer;
  const std::vector<rank::BlendCandidate> cands = rank::BlendCandidates(gens, h, o, &buffer);
  const rec::Model* models[rank::kGenerators] = {user_.get(), similar_.get(), pop_.get(), trending_.get()};
  const auto counted = [&](int g) {
    return models[g] && (g != 0 || known) && (main < 0 ? o.Weight(g) > 0 : g == main);
  };
  std::vector<rec::ScoredItem> merged;
  for (const auto& c : cands)
    if (main < 0 || c.rank[main] > 0)
      merged.push_back({c.item, main < 0 ? static_cast<float>(c.fused) : c.score[main]});
  if (merged.empty() && main < 0 && !user_ && !similar_ && !pop_ && !trending_)
    return Status::FailedPrecondition("no recommendation model trained");
  SOUK_ASSIGN_OR_RETURN(json items, ItemsJson(store, merged, k));
  if (options.explain) {
    std::unordered_map<ItemId, const rank::BlendCandidate*> by_item;
    for (const auto& c : cands) by_item[c.item] = &c;
    std::vector<ItemId> ids, viewed;
    for (const auto& x : items) {
      SOUK_ASSIGN_OR_RETURN(ItemId id, store->FindItem(x["item_id"].get<std::string>()));
      ids.push_back(id);
      if (by_item.count(id) && by_item[id]->because != rec::kNone) viewed.push_back(by_item[id]->because);
    }
    SOUK_ASSIGN_OR_RETURN(auto rows, store->GetItems(ids));
    SOUK_ASSIGN_OR_RETURN(auto viewed_rows, store->GetItems(viewed));
    std::unordered_map<ItemId, const ItemRow*> row, vrow;
    for (const auto& r : rows) row[r.id] = &r;
    for (const auto& r : viewed_rows) vrow[r.id] = &r;
    for (size_t n = 0; n < items.size(); ++n) {
      const ItemId id = ids[n];
      json reasons = json::array();
      std::string text;
      const rank::BlendCandidate* c = by_item.count(id) ? by_item[id] : nullptr;
      const ItemRow* because = c && c->because != rec::kNone && vrow.count(c->because) ? vrow[c->because] : nullptr;
      for (int g = 0; c && g < rank::kGenerators; ++g) {
        if (c->rank[g] == 0 || !counted(g)) continue;
        const std::string name = rank::GeneratorName(g);
        json r = {{"source", name}, {"model", models[g]->Describe()}, {"rank", c->rank[g]}};
        if (g == 1 && because) {
          r["because_you_viewed"] = because->ext_id;
          r["similarity"] = c->score[1];
          if (text.empty()) text = "because you viewed " + because->ext_id;
        }
        if ((g == 2 || g == 3) && row.count(id)) {
          r["category"] = row[id]->category;
          if (text.empty())
            text = (g == 2 ? "popular in " : "trending in ") +
                   (row[id]->category.empty() ? std::string("the shop") : row[id]->category);
        }
        reasons.push_back(r);
      }
      // Not proposed by the item-kNN list, but close to something viewed.
      if (text.empty() && because) text = "because you viewed " + because->ext_id;
      if (text.empty() && user_ && known)
        text = "matches your taste (" + user_->Describe().substr(0, user_->Describe().find(':')) + ")";
      items[n]["because"] = reasons;
      items[n]["reason"] = text;
    }
  }
  json j = {{"items", items}};
  if (options.blend) {
    json used = json::object();
    for (int g = 0; g < rank::kGenerators; ++g)
      if (counted(g)) used[rank::GeneratorName(g)] = {{"model", models[g]->Describe()}, {"weight", o.Weight(g)}};
    j["model"] = "blend";
    j["blend"] = used;
  } else {
    j["model"] = models[main]->Describe();
  }
  return j;
}

bool RecFinish::RulesApply() const {
  if (exclude_out_of_stock) return true;
  rank::RuleContext ctx;
  ctx.surface = "recommend";
  if (rules)
    for (const RuleRecord& r : *rules)
      if (rank::RuleApplies(r, ctx)) return true;
  return false;
}

size_t RecFinish::FetchSize() const {
  if (lambda <= 0 && !RulesApply()) return k;
  return std::min<size_t>(1000, std::max<size_t>(3 * k, k + 30));
}

void FinishRecommendations(const RecFinish& f, json* j) {
  json& items = (*j)["items"];
  const size_t fetched = items.size();
  if (f.lambda > 0) {
    // Positions stand for items: scores, categories and prices by position.
    std::vector<float> score, price;
    std::vector<uint32_t> cat;
    std::unordered_map<std::string, uint32_t> cats;
    for (const auto& x : items) {
      score.push_back(x["score"].is_number() ? x["score"].get<float>() : 0.0f);
      auto [c, p] = f.category_price ? f.category_price(x["item_id"].get<std::string>())
                                     : std::pair<std::string, double>{"", NAN};
      cat.push_back(c.empty() ? kNoId : cats.try_emplace(c, static_cast<uint32_t>(cats.size())).first->second);
      price.push_back(static_cast<float>(p));
    }
    rank::DiversityOptions d = f.diversity;
    d.lambda = f.lambda;
    d.depth = items.size();
    const size_t keep = f.RulesApply() ? items.size() : f.k;  // rules may hide some: keep the rest in MMR order
    json picked = json::array();
    for (ItemId pos : rank::Diversify(score, cat, price, {}, keep, d)) picked.push_back(items[pos]);
    items = std::move(picked);
    (*j)["diversity"] = {{"lambda", f.lambda}, {"candidates", fetched}};
  }
  if (f.RulesApply()) {
    rank::RuleContext ctx;
    ctx.surface = "recommend";
    ctx.k = f.k;
    ctx.exclude_out_of_stock = f.exclude_out_of_stock;
    std::vector<ItemId> ids;
    std::unordered_map<ItemId, size_t> at;
    for (size_t n = 0; n < items.size(); ++n) {
      const ItemId id = f.hooks.lookup(items[n]["item_id"].get<std::string>());
      if (id == kNoId || !at.emplace(id, n).second) continue;
      ids.push_back(id);
    }
    static const std::vector<RuleRecord> none;
    const std::vector<RuleRecord>& rules = f.rules ? *f.rules : none;
    const std::vector<ItemId> kept = rank::ApplyRules(rules, ctx, std::move(ids), f.hooks);
    json out = json::array(), applied = json::array();
    for (ItemId id : kept) {
      if (const auto a = at.find(id); a != at.end()) {
        out.push_back(items[a->second]);
        continue;
      }
      for (const RuleRecord& r : rules)  // a pinned item that was not a candidate
        if (r.kind == "pin" && rank::RuleApplies(r, ctx) && f.hooks.lookup(r.item) == id) {
          out.push_back({{"item_id", r.item}, {"score", 0.0}, {"pinned", true}});
          break;
        }
    }
    for (const RuleRecord& r : rules)
      if (rank::RuleApplies(r, ctx)) applied.push_back(r.id);
    items = std::move(out);
    (*j)["rules"] = applied;
  }
  if (items.size() > f.k) items.erase(items.begin() + static_cast<std::ptrdiff_t>(f.k), items.end());
}

Result<std::vector<float>> RecService::UserScores(Store* store, const std::string& user) const {
  if (!user_) return std::vector<float>{};
  SOUK_ASSIGN_OR_RETURN(UserId id, store->FindUser(user));
  if (id == kNoId) return std::vector<float>{};
  SOUK_ASSIGN_OR_RETURN(rec::History h, rec::LoadHistory(*store, id, weights_));
  bool known = false;
  for (uint32_t i : h.items) known = known || i < user_->num_items();
  if (!known) return std::vector<float>{};
  std::vector<float> scores(user_->num_items());
  user_->Score(h, scores);
  return scores;
}

std::string RecService::UserModelName() const { return user_ ? user_->Describe() : ""; }

Result<json> RecService::ForSession(Store* store, const std::vector<std::string>& items, size_t k) const {
  const rec::Model* model = session_ ? session_.get() : pop_.get();
  if (!model) return Status::FailedPrecondition("no session model trained");
  rec::History h;
  json unknown = json::array();
  for (const auto& ext : items) {
    SOUK_ASSIGN_OR_RETURN(ItemId id, store->FindItem(ext));
    if (id == kNoId)
      unknown.push_back(ext);
    else
      h.items.push_back(id);
  }
  std::vector<float> buffer;
  SOUK_ASSIGN_OR_RETURN(json j, RecommendOne(store, *model, pop_.get(), h, k, false, &buffer));
  j["session"] = items;
  if (!unknown.empty()) j["unknown_items"] = unknown;
  return j;
}

Result<json> RecService::Similar(Store* store, const std::string& item, size_t k) const {
  if (!similar_) return Status::FailedPrecondition("no similar-items model trained");
  SOUK_ASSIGN_OR_RETURN(ItemId id, store->FindItem(item));
  if (id == kNoId) return Status::NotFound(fmt::format("unknown item '{}'", item));
  SOUK_ASSIGN_OR_RETURN(auto sim, similar_->Similar(id, 2 * k + 32));
  SOUK_ASSIGN_OR_RETURN(json items, ItemsJson(store, sim, k));
  return json{{"item", item}, {"model", similar_->Describe()}, {"items", items}};
}

}  // namespace souk::cli
