// `souk`: the command-line front door. Each subcommand parses its flags, opens
// the data directory, calls one module API and prints text or --json. Errors
// are one line on stderr and a non-zero exit.
#include <dlfcn.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/config.h"
#include "core/core.h"
#include "deep/deep.h"
#include "gen/gen.h"
#include "ingest/ingest.h"
#include "rank/rank.h"
#include "rec/rec.h"
#include "store/store.h"
#include "text/text.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace souk {
namespace {

using cli::Fail;
using cli::PrintJson;

std::string DbPath(const std::string& dir) { return (fs::path(dir) / "souk.db").string(); }
std::string TomlPath(const std::string& dir) { return (fs::path(dir) / "souk.toml").string(); }

Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  if (!out) return Status::IoError(fmt::format("cannot write '{}'", path));
  out << text;
  out.close();
  if (!out) return Status::IoError(fmt::format("writing '{}' failed", path));
  return Status::Ok();
}

// Creates DIR, souk.toml (if missing) and the store.
Status InitDir(const std::string& dir, bool* created) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError(fmt::format("cannot create '{}': {}", dir, ec.message()));
  *created = !fs::exists(DbPath(dir));
  if (!fs::exists(TomlPath(dir))) SOUK_RETURN_IF_ERROR(WriteFile(TomlPath(dir), Config().ToToml()));
  auto store = Store::OpenSqlite(DbPath(dir));
  if (!store.ok()) return store.status();
  return Status::Ok();
}

struct Opened {
  Config config;
  std::unique_ptr<Store> store;
};

Result<Opened> OpenDir(const std::string& dir) {
  if (!fs::exists(DbPath(dir)))
    return Status::NotFound(fmt::format("'{}' is not a souk data directory (run `souk init {}` first)", dir, dir));
  Opened o;
  SOUK_ASSIGN_OR_RETURN(o.config, Config::Load(TomlPath(dir)));
  StoreOptions so;
  so.create_if_missing = false;
  SOUK_ASSIGN_OR_RETURN(o.store, Store::OpenSqlite(DbPath(dir), so));
  return o;
}

// Imports the given files (items, then users, then events). Prints per-file
// text, or returns the JSON summary.
Status RunImport(Opened& o, const std::vector<std::pair<std::string, std::string>>& files, bool as_json, bool quiet,
                 const std::string& format, json* out) {
  SOUK_ASSIGN_OR_RETURN(auto types, ingest::EventTypesFromConfig(o.config));
  SOUK_RETURN_IF_ERROR(o.store->SaveEventTypes(types));
  json totals = {{"read", 0},       {"accepted", 0}, {"updated", 0},
                 {"duplicates", 0}, {"rejected", 0}, {"reasons", json::object()}};
  json per_file = json::array();
  const int64_t max_errors = o.config.GetInt("import.max_reported_errors");
  for (const auto& [table, path] : files) {
    ingest::ImportOptions opts = ingest::ImportOptionsFromConfig(o.config, table);
    opts.format = format;
    int64_t reported = 0;
    opts.on_reject = [&](const QuarantineRecord& q) {
      if (quiet || reported++ >= max_errors) return;
      std::string detail = q.detail;
      RepairUtf8(&detail);
      std::fprintf(stderr, "\r\033[Ksouk: %s:%lld: %s\n", path.c_str(), static_cast<long long>(q.src.line),
                   detail.c_str());
    };
    ingest::ImportSummary sum;
    Status s = ingest::ImportFile(o.store.get(), types, path, opts, &sum);
    if (!quiet && reported > max_errors)
      std::fprintf(stderr, "souk: ... and %s more rejected rows in %s (all kept in quarantine; see `souk quality`)\n",
                   WithThousands(reported - max_errors).c_str(), path.c_str());
    if (!s.ok()) return s;
    json j = json::parse(ingest::SummaryJson(sum));
    for (const char* k : {"read", "accepted", "updated", "duplicates", "rejected"})
      totals[k] = totals[k].get<uint64_t>() + j[k].get<uint64_t>();
    for (auto& [k, v] : j["reasons"].items())
      totals["reasons"][k] = totals["reasons"].value(k, uint64_t{0}) + v.get<uint64_t>();
    per_file.push_back(j);
    if (!as_json) std::printf("%s", ingest::SummaryText(sum).c_str());
  }
  if (per_file.size() == 1)
    *out = per_file[0];
  else {
    *out = totals;
    (*out)["files"] = per_file;
  }
  return Status::Ok();
}

// dlopens libsouk_deep.so (beside the binary) and registers its models and
// encoders; once per process.
Status LoadDeepModule() {
  static const Status loaded = [] {
    std::error_code ec;
    const fs::path module = fs::read_symlink("/proc/self/exe", ec).parent_path() / "libsouk_deep.so";
    void* lib = dlopen(module.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) return Status::NotFound(fmt::format("cannot load the deep-model module: {}", dlerror()));
    auto reg = reinterpret_cast<void (*)()>(dlsym(lib, "souk_deep_register"));
    if (reg == nullptr) return Status::NotFound(fmt::format("{} has no souk_deep_register", module.string()));
    reg();
    return Status::Ok();
  }();
  return loaded;
}

}  // namespace
}  // namespace souk

int main(int argc, char** argv) {
  using namespace souk;
  rec::ChooseBlasKernels();  // before the deep module or EASE load OpenBLAS
  rank::RegisterRecModels();  // blend, ltr-recs
  // Deep models and text encoders live in libsouk_deep.so beside the binary,
  // loaded on first use.
  rec::SetModelLoader([](const std::string& name) -> Status {
    for (const char* n : deep::kModelNames)
      if (name == n) return LoadDeepModule();
    return Status::Ok();
  });
  text::SetEncoderLoader([](const std::string& kind) -> Status {
    for (const char* n : deep::kEncoderNames)
      if (kind == n) return LoadDeepModule();
    return Status::Ok();
  });
  CLI::App app{"souk: e-commerce search, recommendations and data quality in one engine"};
  app.set_version_flag("--version", SoukVersion());
  app.require_subcommand(1);
  bool as_json = false;

  // init
  auto* init = app.add_subcommand("init", "Create a data directory (souk.toml + souk.db)");
  std::string dir;
  init->add_option("DIR", dir, "data directory")->required();
  init->add_flag("--json", as_json, "machine-readable output");

  // gen
  auto* gen_cmd = app.add_subcommand("gen", "Generate a demo shop with injected faults and import it into DIR");
  gen::GenOptions gopt;
  bool no_faults = false, no_import = false;
  gen_cmd->add_option("DIR", dir, "data directory to create")->required();
  gen_cmd->add_option("--users", gopt.users, "number of users")->capture_default_str();
  gen_cmd->add_option("--items", gopt.items, "number of items")->capture_default_str();
  gen_cmd->add_option("--days", gopt.days, "days of behaviour")->capture_default_str();
  gen_cmd->add_option("--seed", gopt.seed, "random seed (same seed, same shop)")->capture_default_str();
  gen_cmd
      ->add_option("--paraphrase-share", gopt.paraphrase_share,
                   "share of search queries that paraphrase the wanted item without any of its title words")
      ->capture_default_str();
  gen_cmd->add_flag("--no-faults", no_faults, "generate clean data without injected faults");
  gen_cmd->add_flag("--no-import", no_import, "only write the files under DIR/generated/");
  gen_cmd->add_flag("--json", as_json, "machine-readable output");

  // import
  auto* imp = app.add_subcommand("import", "Import items, users and/or events (CSV, TSV or JSONL)");
  std::string items_file, users_file, events_file, format;
  bool quiet = false;
  imp->add_option("DIR", dir, "data directory")->required();
  imp->add_option("--items", items_file, "catalog file");
  imp->add_option("--users", users_file, "users file");
  imp->add_option("--events", events_file, "events file");
  imp->add_option("--format", format, "csv, tsv or jsonl (default: from the file extension)");
  imp->add_flag("--quiet", quiet, "do not print rejected rows");
  imp->add_flag("--json", as_json, "machine-readable output");

  // quality
  auto* qual = app.add_subcommand("quality", "Run the data-quality rules and report findings");
  std::string html;
  qual->add_option("DIR", dir, "data directory")->required();
  qual->add_option("--html", html, "also write a self-contained HTML report to this file");
  qual->add_flag("--json", as_json, "machine-readable output");

  // clean
  auto* clean = app.add_subcommand("clean", "Flag events found by the quality rules so training skips them");
  bool reset = false;
  clean->add_option("DIR", dir, "data directory")->required();
  clean->add_flag("--reset", reset, "clear all flags instead");
  clean->add_flag("--json", as_json, "machine-readable output");

  // config
  auto* cfg = app.add_subcommand("config", "Show the settings in force (or --markdown for docs/config.md)");
  bool markdown = false;
  cfg->add_option("DIR", dir, "data directory (default: built-in defaults)");
  cfg->add_flag("--markdown", markdown, "print the settings reference as Markdown");
  cfg->add_flag("--json", as_json, "machine-readable output");

  // info
  auto* info = app.add_subcommand("info", "Counts, import sources and models of a data directory");
  info->add_option("DIR", dir, "data directory")->required();
  info->add_flag("--json", as_json, "machine-readable output");

  // index / search / search-eval
  auto* index_cmd = app.add_subcommand("index", "Build the search index from the catalog");
  index_cmd->add_option("DIR", dir, "data directory")->required();
  index_cmd->add_flag("--json", as_json, "machine-readable output");
  auto* search_cmd = app.add_subcommand("search", "Search the catalog");
  cli::SearchArgs sargs;
  search_cmd->add_option("DIR", dir, "data directory")->required();
  search_cmd->add_option("QUERY", sargs.query, "the query");
  search_cmd->add_option("--queries", sargs.queries_file, "one query a line -> one JSON line each");
  search_cmd->add_option("--k", sargs.k, "results to return")->capture_default_str();
  search_cmd->add_flag("--exact", sargs.exact, "plain BM25F over the analysed terms, OR semantics, no typos/synonyms");
  search_cmd->add_flag("!--no-typos", sargs.typos, "no typo tolerance");
  search_cmd->add_flag("!--no-synonyms", sargs.synonyms, "ignore DIR/synonyms.txt");
  search_cmd->add_option("--filter", sargs.filter,
                         "e.g. 'price:[10 TO 50] AND brand:acme AND category:\"shoes > running\" AND stock:>0 AND NOT "
                         "tag:refurbished'");
  search_cmd->add_option("--facets", sargs.facets, "count values of: brand, category, tags, price")->delimiter(',');
  search_cmd->add_flag("--highlight", sargs.highlight, "with --json: highlighted title and description snippet");
  search_cmd->add_flag("--prefix", sargs.prefix, "search-as-you-type: the last word may be incomplete");
  search_cmd->add_option("--sort", sargs.sort, "relevance, price_asc, price_desc or popularity")
      ->check(CLI::IsMember({"relevance", "price_asc", "price_desc", "popularity"}))
      ->capture_default_str();
  search_cmd->add_option("--page", sargs.page, "page number (1-based), --k results a page")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  // Semantic and hybrid retrieval (twotower's query tower over its item index).
  auto add_mode_flags = [](CLI::App* cmd, cli::SearchArgs& a, bool eval) {
    cmd->add_option("--mode", a.mode,
                    eval ? "bm25, vector, hybrid or all (each on the test part of the judgments)"
                         : "bm25 (default), vector (query tower + vector index) or hybrid (both, fused)")
        ->check(CLI::IsMember(eval ? std::vector<std::string>{"bm25", "vector", "hybrid", "all"}
                                   : std::vector<std::string>{"bm25", "vector", "hybrid"}))
        ->capture_default_str();
    cmd->add_option("--fusion", a.fusion, "hybrid: rrf (reciprocal rank fusion, k=60) or blend (weighted scores)")
        ->check(CLI::IsMember({"rrf", "blend"}))
        ->capture_default_str();
    cmd->add_option("--blend-weight", a.blend_weight,
                    eval ? "blend: weight of the vector side in [0,1] (default: tuned on the validation queries)"
                         : "blend: weight of the vector side in [0,1] (default 0.5)");
    cmd->add_option("--fuse-depth", a.fuse_depth, "hybrid: results of each side that are fused")->capture_default_str();
    cmd->add_option("--vector-model", a.vector_model, "trained model with a query tower")->capture_default_str();
    cmd->add_option("--intent", a.intent,
                    "re-rank BM25's top 100 by the query's predicted category (DIR/models/intent.bin): boost or filter")
        ->check(CLI::IsMember({"boost", "filter"}));
    cmd->add_option("--intent-weight", a.intent_weight, "--intent boost: score * (1 + weight * p(category))")
        ->capture_default_str();
    cmd->add_option("--intent-threshold", a.intent_threshold,
                    "--intent filter: keep categories with p >= 0.5 when the top p >= this")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
  };
  add_mode_flags(search_cmd, sargs, false);
  auto* suggest_cmd = app.add_subcommand("suggest", "Autocomplete: popular searches and catalog words for a prefix");
  std::string suggest_prefix;
  size_t suggest_k = 10;
  suggest_cmd->add_option("DIR", dir, "data directory")->required();
  suggest_cmd->add_option("PREFIX", suggest_prefix, "what was typed so far (empty: the most popular searches)")
      ->required();
  suggest_cmd->add_option("--k", suggest_k, "suggestions to return")->capture_default_str();
  suggest_cmd->add_flag("--json", as_json, "machine-readable output");
  search_cmd->add_flag("!--no-rules", sargs.rules, "ignore the business rules (souk rules)");
  search_cmd->add_flag("--json", as_json, "machine-readable output");
  auto* seval = app.add_subcommand("search-eval", "NDCG@10, MRR and recall@100 over judged queries");
  std::string judgments;
  cli::SearchArgs eargs;
  seval->add_option("DIR", dir, "data directory")->required();
  seval->add_option("--judgments", judgments, "CSV with query,item_id,grade")->required();
  seval->add_option("--rank", eargs.rank, "re-ranker over BM25F's top rank.depth: none or ltr (souk train --model ltr-search)")
      ->check(CLI::IsMember({"none", "ltr"}))
      ->capture_default_str();
  seval->add_flag("--exact", eargs.exact, "evaluate plain BM25F OR retrieval");
  seval->add_flag("!--no-typos", eargs.typos, "no typo tolerance");
  seval->add_flag("!--no-synonyms", eargs.synonyms, "ignore DIR/synonyms.txt");
  seval->add_flag("--json", as_json, "machine-readable output");
  add_mode_flags(seval, eargs, true);
  seval
      ->add_option("--validation-share", eargs.validation_share,
                   "with --mode: share of judged queries held out to tune on (the rest is the test part)")
      ->check(CLI::Range(0.0, 0.9))
      ->capture_default_str();
  seval
      ->add_option("--test-share", eargs.test_share,
                   "with --mode: share of judged queries tested on (default: all that are not validation; the "
                   "rest is a training part, see souk train --holdout-judgments)")
      ->check(CLI::Range(0.01, 1.0));

  // intent
  auto* intent_cmd = app.add_subcommand("intent", "Query intent: train the query -> category classifier, or predict");
  bool intent_train = false;
  std::string intent_query;
  size_t intent_k = 3;
  intent_cmd->add_option("DIR", dir, "data directory")->required();
  intent_cmd->add_option("QUERY", intent_query, "a query to classify");
  intent_cmd->add_flag(
      "--train", intent_train,
      "train from the search log (search -> pick), report held-out accuracy, save DIR/models/intent.bin");
  intent_cmd->add_option("--k", intent_k, "categories to print")->capture_default_str();
  std::string intent_holdout;
  intent_cmd->add_option("--holdout-judgments", intent_holdout,
                         "--train: skip searches whose query is in this judgments file's test part");
  cli::QuerySplit intent_split;
  intent_cmd->add_option("--validation-share", intent_split.validation, "with --holdout-judgments: as search-eval's")
      ->check(CLI::Range(0.0, 0.9))
      ->capture_default_str();
  intent_cmd
      ->add_option("--test-share", intent_split.test,
                   "with --holdout-judgments: as search-eval's; given, the validation queries are skipped too")
      ->check(CLI::Range(0.01, 1.0));
  intent_cmd->add_flag("--json", as_json, "machine-readable output");

  // features
  cli::FeaturesArgs fargs;
  std::string features_at;
  auto* feat_cmd = app.add_subcommand("features", "The feature store: an item's features, a user's profile, and the "
                                                  "ranking features of the pair");
  feat_cmd->add_option("DIR", dir, "data directory")->required();
  feat_cmd->add_option("--user", fargs.user, "user id");
  feat_cmd->add_option("--item", fargs.item, "item id");
  feat_cmd->add_option("--query", fargs.query, "with --user and --item: the query side (BM25 per field)");
  feat_cmd->add_option("--at", fargs.at_ms, "as of this time (unix ms; default: after the last event)");
  feat_cmd->add_flag("--json", as_json, "machine-readable output");

  // rules
  cli::RulesArgs ruargs;
  auto* rules_cmd = app.add_subcommand("rules", "Business rules applied after ranking: pin, boost, bury, hide");
  rules_cmd->require_subcommand(1);
  auto* rules_list = rules_cmd->add_subcommand("list", "the rules, in id order");
  auto* rules_add = rules_cmd->add_subcommand("add", "add a rule");
  auto* rules_del = rules_cmd->add_subcommand("delete", "delete a rule by id");
  for (auto* c : {rules_list, rules_add, rules_del}) {
    c->add_option("DIR", dir, "data directory")->required();
    c->add_flag("--json", as_json, "machine-readable output");
  }
  rules_add->add_option("--kind", ruargs.kind, "pin, boost, bury or hide")
      ->required()
      ->check(CLI::IsMember({"pin", "boost", "bury", "hide"}));
  rules_add->add_option("--query", ruargs.query, "only for this query (normalised: trimmed, lower case); default all");
  rules_add->add_option("--surface", ruargs.surface, "search or recommend (default: both)");
  rules_add->add_option("--item", ruargs.item, "pin, hide: the item id");
  rules_add->add_option("--position", ruargs.position, "pin: 1-based position")->check(CLI::Range(1, 10000));
  rules_add->add_option("--filter", ruargs.filter, "boost, bury, hide: a filter expression, e.g. 'brand:acme'");
  rules_del->add_option("ID", ruargs.id, "rule id")->required();

  // train / recommend / similar / eval / tune
  cli::RecArgs rargs;
  auto* train_cmd = app.add_subcommand("train", "Fit recommendation models and save them in DIR/models");
  train_cmd->add_option("DIR", dir, "data directory")->required();
  train_cmd->add_option("--model", rargs.models, "model spec, e.g. ials or 'ials:f=64,reg=0.01' (default: rec.models)");
  train_cmd->add_flag("--json", as_json, "machine-readable output");
  train_cmd->add_option("--holdout-judgments", rargs.holdout_judgments,
                        "models that learn from the search log skip the test queries of this judgments file");
  train_cmd
      ->add_option("--validation-share", rargs.validation_share,
                   "with --holdout-judgments: the share of its queries that is validation (kept)")
      ->check(CLI::Range(0.0, 0.9))
      ->capture_default_str();
  train_cmd
      ->add_option("--test-share", rargs.test_share,
                   "with --holdout-judgments: the share that is test; given, only the rest (the training part) "
                   "is learnt from, validation is held out too")
      ->check(CLI::Range(0.01, 1.0));
  auto* rec_cmd = app.add_subcommand("recommend", "Recommend items for a user or an anonymous session");
  rec_cmd->add_option("DIR", dir, "data directory")->required();
  rec_cmd->add_option("USER", rargs.user, "user id");
  rec_cmd->add_option("--users", rargs.users_file, "one user id a line -> one JSON line each");
  rec_cmd->add_flag("--explain", rargs.explain, "say why each item is recommended (because you viewed X, popular in Y)");
  rec_cmd->add_flag("--blend", rargs.blend,
                    "candidates from every trained generator (user model, similar items, popularity, trending), fused");
  rec_cmd->add_option("--session", rargs.session, "item ids of an anonymous session, comma-separated, in order");
  rec_cmd->add_option("--sessions", rargs.sessions_file, "one session a line (comma-separated item ids)");
  rec_cmd->add_option("--k", rargs.k, "items to return")->capture_default_str();
  rec_cmd
      ->add_option("--diversity", rargs.diversity,
                   "category MMR lambda in [0, 1] over 3k candidates (default rank.diversity; users only)")
      ->check(CLI::Range(0.0, 1.0));
  rec_cmd->add_option("--model", rargs.model, "trained model to use (default rec.user_model / rec.session_model)");
  bool exclude_seen = false, include_seen = false;
  rec_cmd->add_flag("--exclude-seen", exclude_seen, "drop items in the history (default for users)");
  rec_cmd->add_flag("--include-seen", include_seen, "keep items in the history (default for sessions)");
  rec_cmd->add_flag("--json", as_json, "machine-readable output");
  auto* sim_cmd = app.add_subcommand("similar", "Items similar to an item");
  sim_cmd->add_option("DIR", dir, "data directory")->required();
  sim_cmd->add_option("ITEM", rargs.item, "item id")->required();
  sim_cmd->add_option("--k", rargs.k, "items to return")->capture_default_str();
  sim_cmd->add_option("--model", rargs.model, "trained model to use (default rec.similar_model)");
  sim_cmd->add_flag("--json", as_json, "machine-readable output");
  auto* eval_cmd = app.add_subcommand("eval", "Offline evaluation of recommendation models");
  eval_cmd->add_option("DIR", dir, "data directory")->required();
  eval_cmd->add_option("--model", rargs.models, "model spec (repeatable)");
  eval_cmd->add_flag("--all", rargs.all, "every model; writes an HTML report (DIR/reports/eval.html)");
  eval_cmd->add_option("--diversity-sweep", rargs.diversity_sweep,
                       "lambdas, e.g. 0,0.25,0.5,0.75,1: the one --model re-ranked by MMR at each, with the "
                       "accuracy/diversity chart (DIR/reports/diversity.html, or --html)");
  eval_cmd->add_option("--split", rargs.split, "leave-one-out, temporal or sessions")
      ->check(CLI::IsMember({"leave-one-out", "loo", "temporal", "sessions"}))
      ->capture_default_str();
  eval_cmd->add_option("--protocol", rargs.protocol, "full, sampled:N or popsampled:N")->capture_default_str();
  eval_cmd->add_option("--html", rargs.html, "write the HTML report here");
  eval_cmd->add_flag("--json", as_json, "machine-readable output");
  auto* tune_cmd = app.add_subcommand("tune", "Random search of a model's parameters on the validation split");
  tune_cmd->add_option("DIR", dir, "data directory")->required();
  tune_cmd->add_option("--model", rargs.models, "model name (trial 1 runs this spec as given)")->required();
  tune_cmd->add_option("--trials", rargs.trials, "configurations to try")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  tune_cmd->add_option("--metric", rargs.metric, "metric to maximise")->capture_default_str();
  tune_cmd->add_option("--split", rargs.split, "leave-one-out, temporal or sessions")
      ->check(CLI::IsMember({"leave-one-out", "loo", "temporal", "sessions"}))
      ->capture_default_str();
  tune_cmd->add_option("--protocol", rargs.protocol, "full, sampled:N or popsampled:N")->capture_default_str();
  tune_cmd->add_flag("--json", as_json, "machine-readable output");

  // embed
  auto* embed_cmd = app.add_subcommand("embed", "Dense vectors of texts or of the catalog from a pretrained encoder");
  cli::EmbedArgs embargs;
  embed_cmd->add_option("DIR", dir, "data directory")->required();
  embed_cmd
      ->add_option("--encoder", embargs.encoder,
                   "torchscript:path=MODEL.pt,vocab=VOCAB.txt[,pool=mean|cls,norm=1,lower=1,strip_accents=1,"
                   "maxlen=128,bs=32,threads=0,shape=fixed|dynamic]")
      ->required();
  embed_cmd->add_option("--text", embargs.texts, "a text to embed (repeatable)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  embed_cmd->add_option("--texts", embargs.texts_file, "one text a line -> one line each");
  embed_cmd->add_flag("--items", embargs.items,
                      "embed every catalog item (title, description, brand, category) into DIR/vectors/");
  embed_cmd->add_option("--name", embargs.name,
                        "--items: writes DIR/vectors/items-NAME.f32 (default: the model's stem)");
  embed_cmd->add_flag("--tokens", embargs.tokens, "also print the word pieces (and with --json the ids) the model saw");
  embed_cmd->add_flag("--json", as_json, "machine-readable output");

  // bandit simulate
  auto* bandit_cmd = app.add_subcommand("bandit", "Bandit policies: simulate them; Q-learning in a shop's session simulator");
  bandit_cmd->require_subcommand(1);
  cli::BanditSimArgs bsim;
  auto* bsim_cmd = bandit_cmd->add_subcommand("simulate", "Cumulative regret of policies in a simulated environment");
  bsim_cmd->add_option("--env", bsim.sim.env, "bernoulli, linear, logistic or shop (a generated shop's sessions)")
      ->check(CLI::IsMember({"bernoulli", "linear", "logistic", "shop"}))
      ->capture_default_str();
  bsim_cmd->add_option("--arms", bsim.sim.arms, "number of arms")->check(CLI::Range(2u, 1000000u))->capture_default_str();
  bsim_cmd->add_option("--rounds", bsim.sim.rounds, "rounds per seed")->capture_default_str();
  bsim_cmd->add_option("--policy", bsim.policies, "policy spec (repeatable; default or 'all': the env's usual set)");
  bsim_cmd->add_option("--seed", bsim.sim.seed, "first seed")->capture_default_str();
  bsim_cmd->add_option("--seeds", bsim.sim.seeds, "independent runs averaged")->check(CLI::Range(1u, 10000u))
      ->capture_default_str();
  bsim_cmd->add_option("--dim", bsim.sim.dim, "linear/logistic: context dimension")->capture_default_str();
  bsim_cmd->add_option("--noise", bsim.sim.noise, "linear: reward noise sd")->capture_default_str();
  bsim_cmd->add_option("--bias", bsim.sim.bias, "logistic: logit offset (base click rate)")->capture_default_str();
  bsim_cmd->add_option("--best", bsim.sim.best, "bernoulli: the best arm's mean")->capture_default_str();
  bsim_cmd->add_option("--gap", bsim.sim.gap, "bernoulli: others are best - gap; < 0 = means uniform in [0, 1]")
      ->capture_default_str();
  bsim_cmd->add_option("--means", bsim.sim.means, "bernoulli: explicit means (comma-separated)")->delimiter(',');
  bsim_cmd->add_option("--points", bsim.sim.points, "regret-curve points")->capture_default_str();
  bsim_cmd->add_option("--threads", bsim.sim.threads, "seeds run in parallel (0 = all cores)")->capture_default_str();
  bsim_cmd->add_option("--shop", bsim.shop, "--env shop: a generated shop (souk gen DIR)");
  bsim_cmd->add_option("--html", bsim.html, "write a regret chart (HTML with SVG)");
  bsim_cmd->add_flag("--json", as_json, "machine-readable output");

  // campaign create|list|show|decide|reward|log
  auto* camp_cmd = app.add_subcommand("campaign", "Bandit campaigns: create, list, show, decide, reward, log");
  camp_cmd->require_subcommand(1);
  cli::CampaignArgs cargs;
  auto* camp_create = camp_cmd->add_subcommand("create", "Create a campaign (arms, policy, context features)");
  camp_create->add_option("DIR", dir, "data directory")->required();
  camp_create->add_option("NAME", cargs.name, "campaign name")->required();
  camp_create->add_option("--arms", cargs.arms, "arm names, comma-separated")->delimiter(',')->required();
  camp_create->add_option("--policy", cargs.policy, "bandit policy spec (ts, ucb1, egreedy, gts, linucb, lints, slate:...)")
      ->capture_default_str();
  camp_create->add_option("--features", cargs.features, "context feature names, comma-separated")->delimiter(',');
  camp_create->add_option("--slots", cargs.slots, "positions filled per decision (> 1 needs a slate policy)")
      ->check(CLI::Range(1u, 1000u))
      ->capture_default_str();
  camp_create->add_option("--seed", cargs.seed, "exploration seed (default: random)");
  auto* camp_list = camp_cmd->add_subcommand("list", "List campaigns");
  camp_list->add_option("DIR", dir, "data directory")->required();
  auto* camp_show = camp_cmd->add_subcommand("show", "A campaign's arms: pulls, rewards, estimates, probabilities");
  camp_show->add_option("DIR", dir, "data directory")->required();
  camp_show->add_option("NAME", cargs.name, "campaign name")->required();
  auto* camp_decide = camp_cmd->add_subcommand("decide", "Choose an arm for a user in a context (logged)");
  camp_decide->add_option("DIR", dir, "data directory")->required();
  camp_decide->add_option("NAME", cargs.name, "campaign name")->required();
  camp_decide->add_option("--user", cargs.user, "user id (logged with the decision)");
  camp_decide->add_option("--context", cargs.context, "context features: JSON object or name=value,...");
  auto* camp_reward = camp_cmd->add_subcommand("reward", "Join a reward to a decision (idempotent)");
  camp_reward->add_option("DIR", dir, "data directory")->required();
  camp_reward->add_option("DECISION", cargs.decision, "decision id from decide")->required();
  camp_reward->add_option("VALUE", cargs.rewards, "reward (one per chosen arm, comma-separated)")
      ->delimiter(',')
      ->required();
  auto* camp_log = camp_cmd->add_subcommand("log", "A campaign's decision log as JSON lines (souk ope --format souk)");
  camp_log->add_option("DIR", dir, "data directory")->required();
  camp_log->add_option("NAME", cargs.name, "campaign name")->required();
  for (auto* c : {camp_create, camp_list, camp_show, camp_decide, camp_reward}) c->add_flag("--json", as_json, "machine-readable output");

  // serve, keys
  cli::ServeArgs serve_args;
  auto* serve_cmd = app.add_subcommand("serve", "Serve the HTTP API (see docs/server.md)");
  serve_cmd->add_option("DIR", dir, "data directory")->required();
  serve_cmd->add_option("--port", serve_args.port, "port (0 = any free one)")->capture_default_str();
  serve_cmd->add_option("--host", serve_args.host, "address to bind")->capture_default_str();
  serve_cmd->add_option("--rate", serve_args.rate, "requests per second per key")->capture_default_str();
  serve_cmd->add_option("--max-body-mb", serve_args.max_body_mb, "request body limit (MiB)")->capture_default_str();
  serve_cmd->add_option("--threads", serve_args.threads,
                        "event loops (threads), each serving many connections (0 = one per core)")
      ->check(CLI::Range(0, 256))
      ->capture_default_str();
  serve_cmd->add_option("--retrain-minutes", serve_args.retrain_minutes,
                        "retrain in the background every M minutes (0 = only on POST /v1/admin/train)");
  serve_cmd->add_flag("--quiet", serve_args.quiet, "no access log");
  serve_cmd->add_option("--timeout", serve_args.timeout_s, "seconds a client may take to send a request or read an answer")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  serve_cmd->add_flag("--routes", serve_args.routes, "print the route table (JSON) and exit");
  cli::DemoArgs demo_args;
  auto* demo_cmd = app.add_subcommand("demo", "Build the demo shop (or reuse it) and serve it with the console");
  demo_cmd->add_option("DIR", demo_args.dir, "data directory")->capture_default_str();
  demo_cmd->add_option("--port", demo_args.port, "port (0 = any free one)")->capture_default_str();
  demo_cmd->add_option("--host", demo_args.host, "address to bind")->capture_default_str();
  demo_cmd->add_flag("--fresh", demo_args.fresh, "delete DIR and build the shop again");
  demo_cmd->add_flag("--no-serve", demo_args.no_serve, "prepare everything, print the key and exit");
  demo_cmd->add_flag("--quiet", demo_args.quiet, "no access log");
  auto* keys_cmd = app.add_subcommand("keys", "API keys: create (shown once) or list");
  keys_cmd->require_subcommand(1);
  std::string key_scope;
  auto* keys_create = keys_cmd->add_subcommand("create", "Create a key");
  keys_create->add_option("DIR", dir, "data directory")->required();
  keys_create->add_option("--scope", key_scope, "admin, search or events")->required();
  keys_create->add_flag("--json", as_json, "machine-readable output");
  auto* keys_list = keys_cmd->add_subcommand("list", "List keys (ids and scopes, never the keys)");
  keys_list->add_option("DIR", dir, "data directory")->required();
  keys_list->add_flag("--json", as_json, "machine-readable output");

  auto* score_cmd = app.add_subcommand("score-lists", "HR/MRR/NDCG/recall of ranked lists made elsewhere");
  std::string lists_file;
  std::vector<size_t> score_ks = {10, 20};
  score_cmd->add_option("FILE", lists_file, "lines TARGET<TAB>ITEM,ITEM,... (best first)")->required();
  score_cmd->add_option("--k", score_ks, "cut-offs")->delimiter(',')->capture_default_str();
  score_cmd->add_flag("--json", as_json, "machine-readable output");

  auto* runs_cmd = app.add_subcommand("runs", "Training runs: per-epoch loss and validation metrics (DIR/runs)");
  std::string run_name;
  runs_cmd->add_option("DIR", dir, "data directory")->required();
  runs_cmd->add_option("RUN", run_name, "one run's curve (a name from the list)");
  runs_cmd->add_flag("--json", as_json, "machine-readable output");

  // ope
  cli::OpeArgs ope_args;
  auto* ope_cmd = cli::AddOpeCommand(app, &ope_args);

  // bandit qlearn (src/cli/qlearn_cmd.cc), under the `bandit` parent above
  auto* qlearn_cmd =
      bandit_cmd->add_subcommand("qlearn", "Q-learning vs. a myopic bandit in a session simulator built from a shop");
  cli::QLearnArgs qargs;
  qlearn_cmd->add_option("--shop", qargs.shop, "shop directory (from `souk gen`; reads DIR/generated)")->required();
  qlearn_cmd->add_option("--episodes", qargs.episodes, "training episodes per agent and seed")->capture_default_str();
  qlearn_cmd->add_option("--eval-episodes", qargs.eval_episodes, "greedy evaluation episodes per agent and seed")
      ->capture_default_str();
  qlearn_cmd->add_option("--seeds", qargs.seeds, "seeds (each retrains every agent)")->capture_default_str();
  qlearn_cmd->add_option("--seed", qargs.seed, "first seed")->capture_default_str();
  qlearn_cmd->add_option("--gamma", qargs.gamma, "discount of the Q agents")->capture_default_str();
  qlearn_cmd->add_option("--alpha", qargs.alpha, "step size of the Q agents")->capture_default_str();
  qlearn_cmd->add_option("--eps", qargs.eps, "initial exploration rate")->capture_default_str();
  qlearn_cmd->add_option("--decay", qargs.decay, "eps / (1 + decay * episode)")->capture_default_str();
  qlearn_cmd->add_option("--level", qargs.level, "category level acted on: 1 top, 2 mid")->capture_default_str();
  qlearn_cmd->add_option("--history", qargs.history, "state = last 1 or 2 categories viewed")->capture_default_str();
  qlearn_cmd->add_option("--purchase-weight", qargs.purchase_weight, "reward = click + weight * purchase")
      ->capture_default_str();
  qlearn_cmd
      ->add_option("--interest-power", qargs.interest_power,
                   "interest = (T(a|s) / max T)^power; below 1 the shown list steers users more")
      ->capture_default_str();
  qlearn_cmd->add_option("--prior", qargs.prior, "pseudo-count of the smoothing priors")->capture_default_str();
  qlearn_cmd->add_flag("--click-to-continue", qargs.click_to_continue,
                       "the simulated session ends whenever the shown list is not clicked");
  qlearn_cmd->add_flag("--revenue", qargs.revenue,
                       "a purchase is worth the weight times its category's mean price over the overall mean");
  qlearn_cmd->add_flag("--checkout", qargs.checkout,
                       "purchases are paid at checkout, with the session's last step (a delayed reward)");
  qlearn_cmd->add_flag("--json", qargs.json, "machine-readable output");

  CLI11_PARSE(app, argc, argv);

  if (ope_cmd->parsed()) return cli::OpeCommand(ope_args);
  if (qlearn_cmd->parsed()) return cli::QLearnCommand(qargs);

  if (runs_cmd->parsed()) return cli::RunsCommand(dir, run_name, as_json);

  if (score_cmd->parsed()) return cli::ScoreListsCommand(lists_file, score_ks, as_json);

  if (demo_cmd->parsed()) return cli::DemoCommand(demo_args);
  if (serve_cmd->parsed()) {
    serve_args.dir = dir;
    return cli::ServeCommand(serve_args);
  }
  if (keys_cmd->parsed()) {
    if (!fs::exists(DbPath(dir)))
      return Fail(Status::NotFound(fmt::format("'{}' is not a souk data directory (run `souk init {}` first)", dir, dir)));
    return cli::KeysCommand(keys_create->parsed() ? "create" : "list", dir, key_scope, as_json);
  }

  if (camp_cmd->parsed()) {
    auto o = OpenDir(dir);
    if (!o.ok()) return Fail(o.status());
    for (auto* c : {camp_create, camp_list, camp_show, camp_decide, camp_reward, camp_log})
      if (c->parsed()) cargs.action = c->get_name();
    cargs.json = as_json;
    return cli::CampaignCommand(cargs, o->store.get());
  }

  if (bsim_cmd->parsed()) {
    bsim.json = as_json;
    return cli::BanditSimulateCommand(bsim);
  }

  if (embed_cmd->parsed()) {
    auto o = OpenDir(dir);
    if (!o.ok()) return Fail(o.status());
    embargs.dir = dir;
    embargs.json = as_json;
    return cli::EmbedCommand(embargs, o->store.get());
  }

  if (train_cmd->parsed() || rec_cmd->parsed() || sim_cmd->parsed() || eval_cmd->parsed() || tune_cmd->parsed()) {
    auto o = OpenDir(dir);
    if (!o.ok()) return Fail(o.status());
    rargs.dir = dir;
    rargs.json = as_json;
    if (exclude_seen && include_seen)
      return Fail(Status::InvalidArgument("--exclude-seen and --include-seen conflict"));
    if (exclude_seen || include_seen) rargs.exclude_seen = exclude_seen;
    if (train_cmd->parsed()) {
      const size_t ltr = std::count_if(rargs.models.begin(), rargs.models.end(), cli::IsLtrSpec);
      if (ltr > 0 && ltr < rargs.models.size())
        return Fail(Status::InvalidArgument("train --model ltr-search on its own (it reads the index and the log)"));
      if (ltr > 0) return cli::TrainLtrSearchCommand(rargs, o->store.get(), o->config);
      return cli::TrainCommand(rargs, o->store.get(), o->config);
    }
    if (rec_cmd->parsed()) return cli::RecommendCommand(rargs, o->store.get(), o->config);
    if (sim_cmd->parsed()) return cli::SimilarCommand(rargs, o->store.get(), o->config);
    if (eval_cmd->parsed()) return cli::EvalCommand(rargs, o->store.get(), o->config);
    return cli::TuneCommand(rargs, o->store.get(), o->config);
  }

  if (rules_cmd->parsed()) {
    auto o = OpenDir(dir);
    if (!o.ok()) return Fail(o.status());
    ruargs.dir = dir;
    ruargs.json = as_json;
    ruargs.action = rules_list->parsed() ? "list" : rules_add->parsed() ? "add" : "delete";
    return cli::RulesCommand(ruargs, o->store.get(), o->config);
  }

  if (feat_cmd->parsed()) {
    auto o = OpenDir(dir);
    if (!o.ok()) return Fail(o.status());
    fargs.dir = dir;
    fargs.json = as_json;
    return cli::FeaturesCommand(fargs, o->store.get(), o->config);
  }

  if (intent_cmd->parsed()) {
    auto o = OpenDir(dir);
    if (!o.ok()) return Fail(o.status());
    return cli::IntentCommand(dir, intent_train, intent_query, intent_k, intent_holdout, intent_split, o->store.get(),
                              as_json);
  }

  if (index_cmd->parsed() || search_cmd->parsed() || seval->parsed() || suggest_cmd->parsed()) {
    auto o = OpenDir(dir);
    if (!o.ok()) return Fail(o.status());
    if (suggest_cmd->parsed())
      return cli::SuggestCommand(dir, suggest_prefix, suggest_k, o->store.get(), o->config, as_json);
    if (index_cmd->parsed()) return cli::IndexCommand(dir, o->store.get(), o->config, as_json);
    if (seval->parsed()) {
      eargs.dir = dir;
      eargs.json = as_json;
      eargs.prior_weight = o->config.GetDouble("search.prior_weight");
      eargs.mode_given = seval->get_option("--mode")->count() > 0;
      return cli::SearchEvalCommand(eargs, judgments, o->store.get(), o->config);
    }
    if (sargs.query.empty() && sargs.queries_file.empty() && sargs.filter.empty())
      return Fail(Status::InvalidArgument("give a QUERY, a --filter or --queries FILE"));
    sargs.dir = dir;
    sargs.json = as_json;
    sargs.prior_weight = o->config.GetDouble("search.prior_weight");
    return cli::SearchCommand(sargs, o->store.get(), o->config);
  }

  if (init->parsed()) {
    bool created = false;
    Status s = InitDir(dir, &created);
    if (!s.ok()) return Fail(s);
    if (as_json)
      PrintJson({{"dir", dir}, {"created", created}, {"db", DbPath(dir)}, {"config", TomlPath(dir)}});
    else
      std::printf("%s %s (souk.toml, souk.db)\n", created ? "created" : "already initialised:", dir.c_str());
    return 0;
  }

  if (gen_cmd->parsed()) {
    if (fs::exists(DbPath(dir))) {
      auto o = OpenDir(dir);
      if (!o.ok()) return Fail(o.status());
      auto c = o->store->Counts();
      if (!c.ok()) return Fail(c.status());
      if (c->events || c->items)
        return Fail(Status::FailedPrecondition(
            fmt::format("'{}' already holds a shop ({} items, {} events); generate into a new directory", dir, c->items,
                        c->events)));
    }
    bool created = false;
    Status s = InitDir(dir, &created);
    if (!s.ok()) return Fail(s);
    std::string out_dir = (fs::path(dir) / "generated").string();
    std::error_code ec;
    fs::create_directories(out_dir, ec);
    if (ec) return Fail(Status::IoError(fmt::format("cannot create '{}': {}", out_dir, ec.message())));
    gopt.inject_faults = !no_faults;
    Progress progress("generate", 1000);
    gopt.progress = [&](double f) { progress.Update(static_cast<uint64_t>(f * 1000)); };
    auto stats = gen::GenerateShop(gopt, out_dir);
    progress.Finish();
    if (!stats.ok()) return Fail(stats.status());
    json faults = json::object();
    for (const auto& [k, v] : stats->faults) faults[k] = v;
    json out = {{"dir", dir},
                {"generated", out_dir},
                {"items", stats->items},
                {"users", stats->users},
                {"events", stats->events},
                {"sessions", stats->sessions},
                {"faults", faults}};
    if (no_import) {
      if (as_json)
        PrintJson(out);
      else
        std::printf("generated %s items, %s users, %s events into %s (not imported)\n",
                    WithThousands(stats->items).c_str(), WithThousands(stats->users).c_str(),
                    WithThousands(stats->events).c_str(), out_dir.c_str());
      return 0;
    }
    // The generator's synonyms become the shop's synonyms file.
    fs::copy_file(out_dir + "/synonyms.txt", (fs::path(dir) / "synonyms.txt").string(),
                  fs::copy_options::overwrite_existing, ec);
    auto o = OpenDir(dir);
    if (!o.ok()) return Fail(o.status());
    json imported;
    s = RunImport(
        *o, {{"items", out_dir + "/items.csv"}, {"users", out_dir + "/users.csv"}, {"events", out_dir + "/events.csv"}},
        true, /*quiet=*/true, "", &imported);
    if (!s.ok()) return Fail(s);
    if (as_json) {
      out["import"] = imported;
      PrintJson(out);
    } else {
      std::printf("generated %s items, %s users, %s events (%s sessions) into %s\n",
                  WithThousands(stats->items).c_str(), WithThousands(stats->users).c_str(),
                  WithThousands(stats->events).c_str(), WithThousands(stats->sessions).c_str(), out_dir.c_str());
      std::printf("injected faults (ground truth in %s/ground_truth.csv):", out_dir.c_str());
      for (const auto& [k, v] : stats->faults) std::printf(" %s %s;", k.c_str(), WithThousands(v).c_str());
      std::printf("\n");
      for (const auto& f : imported["files"])
        std::printf("imported %s: read %s, accepted %s, updated %s, duplicates %s, rejected %s\n",
                    f["table"].get<std::string>().c_str(), WithThousands(f["read"].get<uint64_t>()).c_str(),
                    WithThousands(f["accepted"].get<uint64_t>()).c_str(),
                    WithThousands(f["updated"].get<uint64_t>()).c_str(),
                    WithThousands(f["duplicates"].get<uint64_t>()).c_str(),
                    WithThousands(f["rejected"].get<uint64_t>()).c_str());
      std::printf("next: souk quality %s --html %s/quality.html\n", dir.c_str(), dir.c_str());
    }
    return 0;
  }

  if (imp->parsed()) {
    std::vector<std::pair<std::string, std::string>> files;
    if (!items_file.empty()) files.emplace_back("items", items_file);
    if (!users_file.empty()) files.emplace_back("users", users_file);
    if (!events_file.empty()) files.emplace_back("events", events_file);
    if (files.empty())
      return Fail(Status::InvalidArgument("nothing to import: give --items, --users or --events FILE"));
    auto o = OpenDir(dir);
    if (!o.ok()) return Fail(o.status());
    json out;
    Status s = RunImport(*o, files, as_json, quiet, format, &out);
    if (!s.ok()) return Fail(s);
    if (as_json) PrintJson(out);
    return 0;
  }

  if (qual->parsed() || clean->parsed()) {
    auto o = OpenDir(dir);
    if (!o.ok()) return Fail(o.status());
    if (clean->parsed() && reset) {
      Status s = o->store->SetEventFlags({});
      if (!s.ok()) return Fail(s);
      if (as_json)
        PrintJson({{"flagged", 0}});
      else
        std::printf("cleared all event flags\n");
      return 0;
    }
    auto report = ingest::RunQuality(o->store.get(), o->config);
    if (!report.ok()) return Fail(report.status());
    report->data_dir = dir;
    if (clean->parsed()) {
      auto n = ingest::CleanEvents(o->store.get(), *report);
      if (!n.ok()) return Fail(n.status());
      json by_rule = json::object();
      for (const auto& f : report->findings)
        if (!f.event_rowids.empty()) by_rule[f.rule] = f.event_rowids.size();
      if (as_json)
        PrintJson({{"flagged", *n}, {"by_rule", by_rule}});
      else {
        std::printf("flagged %s events; training views (training_events) now skip them:\n", WithThousands(*n).c_str());
        for (auto& [k, v] : by_rule.items())
          std::printf("  %-18s %s\n", k.c_str(), WithThousands(v.get<uint64_t>()).c_str());
      }
      return 0;
    }
    if (!html.empty()) {
      Status s = WriteFile(html, ingest::QualityHtml(*report));
      if (!s.ok()) return Fail(s);
    }
    if (as_json)
      std::printf("%s\n", ingest::QualityJson(*report).c_str());
    else {
      std::printf("%s", ingest::QualityText(*report).c_str());
      if (!html.empty()) std::printf("\nHTML report: %s\n", html.c_str());
    }
    return 0;
  }

  if (cfg->parsed()) {
    if (markdown) {
      std::printf("%s", Config::Markdown().c_str());
      return 0;
    }
    Config config;
    if (!dir.empty()) {
      auto c = Config::Load(TomlPath(dir));
      if (!c.ok()) return Fail(c.status());
      config = *c;
    }
    if (as_json) {
      json j = json::object();
      for (const auto& d : AllSettings()) j[std::string(d.name)] = config.Text(d.name);
      PrintJson(j);
    } else {
      for (const auto& d : AllSettings())
        std::printf("%-30s = %-12s  %s\n", std::string(d.name).c_str(), config.Text(d.name).c_str(),
                    std::string(d.description).c_str());
    }
    return 0;
  }

  if (info->parsed()) {
    auto o = OpenDir(dir);
    if (!o.ok()) return Fail(o.status());
    auto c = o->store->Counts();
    if (!c.ok()) return Fail(c.status());
    auto sources = o->store->Sources();
    if (!sources.ok()) return Fail(sources.status());
    auto models = o->store->Models();
    if (!models.ok()) return Fail(models.status());
    json j = {{"items", c->items},          {"placeholder_items", c->placeholder_items},
              {"users", c->users},          {"placeholder_users", c->placeholder_users},
              {"events", c->events},        {"flagged_events", c->flagged_events},
              {"quarantine", c->quarantine}};
    j["sources"] = json::array();
    for (const auto& s : *sources)
      j["sources"].push_back({{"id", s.id},
                              {"path", s.path},
                              {"table", s.table},
                              {"status", s.status},
                              {"started", FormatTimestamp(s.started_ms)},
                              {"read", s.read},
                              {"accepted", s.accepted},
                              {"updated", s.updated},
                              {"duplicates", s.duplicates},
                              {"rejected", s.rejected}});
    j["models"] = json::array();
    for (const auto& m : *models)
      j["models"].push_back({{"name", m.name}, {"spec", m.spec}, {"path", m.path}, {"active", m.active}});
    if (as_json)
      PrintJson(j);
    else {
      std::printf(
          "%s: %s items (+%s placeholders), %s users (+%s placeholders), %s events (%s flagged), %s quarantined\n",
          dir.c_str(), WithThousands(c->items).c_str(), WithThousands(c->placeholder_items).c_str(),
          WithThousands(c->users).c_str(), WithThousands(c->placeholder_users).c_str(),
          WithThousands(c->events).c_str(), WithThousands(c->flagged_events).c_str(),
          WithThousands(c->quarantine).c_str());
      for (const auto& s : *sources)
        std::printf("  source %lld %-6s %-8s %s  read %s rejected %s\n", static_cast<long long>(s.id), s.table.c_str(),
                    s.status.c_str(), s.path.c_str(), WithThousands(s.read).c_str(), WithThousands(s.rejected).c_str());
    }
    return 0;
  }
  return 0;
}
