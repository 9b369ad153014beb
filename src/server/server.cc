// The HTTP server: the route table (all routes, in one place), keys and
// scopes, rate limits, per-route metrics, the OpenAPI document.
#include "server/server.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <random>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <shared_mutex>
#include <thread>

#include "campaign/campaign.h"
#include "cli/commands.h"
#include "core/config.h"
#include "ingest/ingest.h"
#include "rank/rank.h"
#include "search/search.h"
#include "server/cache.h"
#include "server/front.h"
#include "server/web_assets.h"
#include "store/store.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace souk::server {

const char* ScopeName(Scope s) {
  switch (s) {
    case Scope::kPublic:
      return "public";
    case Scope::kSearch:
      return "search";
    case Scope::kEvents:
      return "events";
    case Scope::kAdmin:
      return "admin";
  }
  return "?";
}

Result<Scope> ParseScope(const std::string& name) {
  if (name == "admin") return Scope::kAdmin;
  if (name == "search") return Scope::kSearch;
  if (name == "events") return Scope::kEvents;
  return Status::InvalidArgument("unknown key scope '" + name + "' (admin, search or events)");
}

namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Hex(const unsigned char* p, size_t n) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) out += kDigits[p[i] >> 4], out += kDigits[p[i] & 15];
  return out;
}

std::string Sha256(const std::string& s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(s.data(), s.size(), md, &len, EVP_sha256(), nullptr);
  return Hex(md, len);
}

std::string KeysPath(const std::string& dir) { return (fs::path(dir) / "keys.json").string(); }

struct StoredKey {
  KeyInfo info;
  std::string hash;
};

Result<std::vector<StoredKey>> ReadKeys(const std::string& dir) {
  std::vector<StoredKey> out;
  const std::string path = KeysPath(dir);
  if (!fs::exists(path)) return out;
  std::ifstream in(path);
  json j = json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("keys") || !j["keys"].is_array())
    return Status::Corruption(path + ": not a souk keys file");
  for (const auto& k : j["keys"]) {
    if (!k.contains("id") || !k.contains("hash") || !k.contains("scope"))
      return Status::Corruption(path + ": a key needs id, hash and scope");
    StoredKey s;
    s.info.id = k["id"].get<std::string>();
    s.hash = k["hash"].get<std::string>();
    SOUK_ASSIGN_OR_RETURN(s.info.scope, ParseScope(k["scope"].get<std::string>()));
    s.info.created_ms = k.value("created_ms", int64_t{0});
    out.push_back(std::move(s));
  }
  return out;
}

// ---- metrics ----------------------------------------------------------------------

constexpr double kBuckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
constexpr size_t kNumBuckets = sizeof(kBuckets) / sizeof(kBuckets[0]);

// Lock-free: every request of every thread updates these.
struct RouteMetrics {
  std::atomic<uint64_t> by_status[600] = {};  // index = HTTP status
  std::atomic<uint64_t> buckets[kNumBuckets + 1] = {};
  std::atomic<uint64_t> nanos{0}, count{0};
  void Observe(int status, double s) {
    by_status[status >= 0 && status < 600 ? status : 0].fetch_add(1, std::memory_order_relaxed);
    size_t b = 0;
    while (b < kNumBuckets && s > kBuckets[b]) ++b;
    buckets[b].fetch_add(1, std::memory_order_relaxed);
    nanos.fetch_add(static_cast<uint64_t>(s * 1e9), std::memory_order_relaxed);
    count.fetch_add(1, std::memory_order_relaxed);
  }
};

// ---- rate limit -------------------------------------------------------------------

class RateLimiter {
 public:
  RateLimiter(double rate, double burst) : rate_(rate), burst_(burst) {}
  bool Allow(const std::string& key_id) {
    std::lock_guard lock(mu_);
    const double now = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    auto [it, inserted] = buckets_.try_emplace(key_id, Bucket{burst_, now});
    Bucket& b = it->second;
    b.tokens = std::min(burst_, b.tokens + (now - b.last) * rate_);
    b.last = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

 private:
  struct Bucket {
    double tokens, last;
  };
  double rate_, burst_;
  std::mutex mu_;
  std::map<std::string, Bucket> buckets_;
};

// ---- the server -------------------------------------------------------------------

struct Request {
  const httplib::Request& http;
  std::vector<std::string> params;  // path parameters, in order
  KeyInfo key;
  json Body() const {
    json j = json::parse(http.body, nullptr, false);
    return j;
  }
};

struct Reply {
  Reply() = default;
  Reply(int status, json body) : status(status), body(std::move(body)) {}
  int status = 200;
  json body;
  // A non-JSON answer (metrics text, the console's files) when type is set.
  std::string type;
  std::string_view raw;
  std::string owned;  // raw's storage when it is not static
  std::string cache_control;
};

class HttpError {
 public:
  HttpError(int status, std::string message) : status(status), message(std::move(message)) {}
  int status;
  std::string message;
};

int HttpStatusOf(const Status& s) {
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
      return 409;
    case StatusCode::kFailedPrecondition:
      return 409;
    case StatusCode::kResourceExhausted:
      return 429;
    default:
      return 500;
  }
}

class HttpServer;
using Handler = std::function<Reply(HttpServer&, const Request&)>;

struct Route {
  const char* method;
  const char* path;  // OpenAPI template, {name} for a parameter
  Scope scope;       // who may call it (admin may call everything)
  const char* summary;
  Handler handler;
};

std::vector<Route> RouteTable();

class HttpServer final : public Server {
 public:
  Status Init(const std::string& dir, const ServerOptions& options) {
    dir_ = dir;
    options_ = options;
    if (!fs::exists(fs::path(dir) / "souk.db"))
      return Status::NotFound(fmt::format("'{}' is not a souk data directory (run `souk init {}` first)", dir, dir));
    SOUK_ASSIGN_OR_RETURN(config_, Config::Load((fs::path(dir) / "souk.toml").string()));
    StoreOptions so;
    so.create_if_missing = false;
    SOUK_ASSIGN_OR_RETURN(store_, Store::OpenSqlite((fs::path(dir) / "souk.db").string(), so));
    SOUK_RETURN_IF_ERROR(store_->PrepareForServing());
    // Read connections: one per core (at least 2); reads need no lock.
    const size_t readers = std::max(2u, std::thread::hardware_concurrency());
    for (size_t i = 0; i < readers; ++i) {
      StoreOptions ro = so;
      ro.cache_mb = 64;
      SOUK_ASSIGN_OR_RETURN(auto reader, Store::OpenSqlite((fs::path(dir) / "souk.db").string(), ro));
      SOUK_RETURN_IF_ERROR(reader->PrepareForServing());
      readers_.push_back(std::move(reader));
    }
    SOUK_ASSIGN_OR_RETURN(auto keys, ReadKeys(dir));
    for (auto& k : keys) keys_.emplace(k.hash, k.info);
    {
      StoreOptions wo = so;
      wo.cache_mb = 16;
      SOUK_ASSIGN_OR_RETURN(watcher_, Store::OpenSqlite((fs::path(dir) / "souk.db").string(), wo));
      SOUK_ASSIGN_OR_RETURN(data_version_, watcher_->DataVersion());
      SOUK_ASSIGN_OR_RETURN(auto none, watcher_->EventUsersSince(-1, &last_event_id_));
      (void)none;
      SOUK_ASSIGN_OR_RETURN(catalog_version_, watcher_->CatalogVersion());
      SOUK_RETURN_IF_ERROR(catalog_.Refresh(watcher_.get()));
    }
    cache_ = std::make_unique<ResultCache>(static_cast<size_t>(std::max<int64_t>(0, config_.GetInt("server.cache_entries"))));
    log_impressions_ = config_.GetBool("server.impressions");
    // Campaigns write on their own connection: a decision must not land
    // inside (or be rolled back with) an import's transaction.
    SOUK_ASSIGN_OR_RETURN(campaign_store_, Store::OpenSqlite((fs::path(dir) / "souk.db").string(), so));
    campaigns_ = std::make_unique<campaign::CampaignService>(campaign_store_.get());
    limiter_ = std::make_unique<RateLimiter>(options.rate_per_key, options.burst);
    LoadLtr(store_.get());
    {
      SOUK_ASSIGN_OR_RETURN(auto rules, store_->Rules());
      SetRules(std::move(rules));
    }
    routes_ = RouteTable();
    for (const Route& r : routes_) templates_.push_back(Template(r.path));
    metrics_.resize(routes_.size());
    for (auto& m : metrics_) m = std::make_unique<RouteMetrics>();
    return Status::Ok();
  }

  // The search index, opened on first use (a data directory without a
  // catalog can still serve campaigns) and reopened after catalog writes,
  // which folds the changes in as a delta segment; searches in flight keep
  // the index they started with (shared_ptr swap).
  Result<std::shared_ptr<const search::Index>> Index() {
    if (!index_stale_.load(std::memory_order_acquire)) {  // the common case: readers share the lock
      std::shared_lock read(index_mu_);
      if (index_) return index_;
    }
    std::unique_lock lock(index_mu_);
    if (!index_ || index_stale_) {
      // Cleared before the store is read: a change that lands while the
      // index is being opened marks it stale again for the next request.
      index_stale_.store(false);
      std::unique_ptr<search::Index> fresh;
      Result<std::unique_ptr<search::Index>> opened = Status::Internal("not opened");
      {
        std::lock_guard store_lock(store_mu_);
        opened = cli::OpenSearchIndex(dir_, store_.get(), config_);
      }
      if (!opened.ok()) {
        index_stale_.store(true);
        return opened.status();
      }
      index_ = std::shared_ptr<const search::Index>(std::move(*opened));
    }
    return index_;
  }
  void CatalogChanged() { index_stale_.store(true, std::memory_order_release); }
  // The search LTR model (rank.search = "ltr" and DIR/models/ltr-search.json
  // present), with the feature store as of its loading: loaded at start and
  // again after each retraining. Null: BM25F's order (a missing model is
  // normal; a broken one is reported on stderr).
  std::shared_ptr<const cli::LtrContext> Ltr() {
    std::shared_lock read(ltr_mu_);
    return ltr_;
  }
  void LoadLtr(Store* store) {
    if (config_.GetString("rank.search") != "ltr") return;
    if (!fs::exists(fs::path(dir_) / "models" / "ltr-search.meta.json")) return;
    auto l = cli::LtrContext::Open(dir_, store, config_, /*serving=*/true);
    if (!l.ok()) {
      std::fprintf(stderr, "souk: warning: search ranker not used: %s; serving BM25F's order\n",
                   l.status().message().c_str());
      return;
    }
    std::unique_lock lock(ltr_mu_);
    ltr_ = std::shared_ptr<const cli::LtrContext>(std::move(*l));
  }
  // The trained recommenders, loaded on first use and swapped whole when a
  // retraining finishes: a request keeps the models it started with.
  Result<std::shared_ptr<const cli::RecService>> Recs() {
    {
      std::shared_lock read(rec_mu_);
      if (recs_) return recs_;
    }
    std::unique_lock lock(rec_mu_);
    if (!recs_) {
      SOUK_ASSIGN_OR_RETURN(auto fresh, cli::RecService::Open(dir_, config_));
      recs_ = std::shared_ptr<const cli::RecService>(std::move(fresh));
      ++model_version_;
    }
    return recs_;
  }

  // Retraining in the background: `souk train DIR` in a child process (so
  // a crash or an out-of-memory there cannot take the server down), then
  // the new models are loaded and swapped in. One job at a time.
  struct TrainJob {
    uint64_t id = 0;
    std::string status = "none";  // none, running, done, failed
    int64_t started_ms = 0, finished_ms = 0;
    int exit_code = 0;
    std::string error;
  };
  // Starts a job unless one runs; returns the job (new or running).
  TrainJob StartTraining() {
    std::lock_guard lock(train_mu_);
    if (job_.status == "running") return job_;
    job_ = TrainJob{job_.id + 1, "running", NowMs(), 0, 0, ""};
    if (trainer_.joinable()) trainer_.join();
    trainer_ = std::thread([this, id = job_.id] { TrainInChild(id); });
    return job_;
  }
  TrainJob Job() {
    std::lock_guard lock(train_mu_);
    return job_;
  }
  uint64_t model_version() {
    std::shared_lock lock(rec_mu_);
    return model_version_;
  }
  ~HttpServer() override {
    stopping_ = true;
    schedule_cv_.notify_all();
    background_cv_.notify_all();
    if (scheduler_.joinable()) scheduler_.join();
    if (trainer_.joinable()) trainer_.join();
    if (background_.joinable()) background_.join();
    FlushImpressions();
  }

  // ---- change tracking ----
  // Brings the caches up to date with the store: the users whose events
  // arrived since the last sync lose their cached answers; a catalog change
  // refreshes the catalog view, drops every answer and marks the search
  // index stale. Runs after every write the server makes (before it
  // answers) and every 250 ms for writes by other processes (souk import).
  Status SyncChanges() {
    std::lock_guard lock(sync_mu_);
    SOUK_ASSIGN_OR_RETURN(int64_t version, watcher_->DataVersion());
    if (version == data_version_) return Status::Ok();
    int64_t max_id = last_event_id_;
    SOUK_ASSIGN_OR_RETURN(auto users, watcher_->EventUsersSince(last_event_id_, &max_id));
    if (!users.empty()) cache_->Invalidate(users);
    SOUK_ASSIGN_OR_RETURN(int64_t catalog, watcher_->CatalogVersion());
    if (catalog != catalog_version_) {
      CatalogChanged();
      SOUK_RETURN_IF_ERROR(catalog_.Refresh(watcher_.get()));
      cache_->Clear();
      catalog_version_ = catalog;
    }
    SOUK_ASSIGN_OR_RETURN(auto rules, watcher_->Rules());
    SetRules(std::move(rules));
    // The search ranker's feature store follows the log.
    const auto ltr = Ltr();
    std::optional<EventColumns> fresh;
    if (ltr && max_id > last_event_id_) {
      SOUK_ASSIGN_OR_RETURN(auto ev, watcher_->LoadEventsAfter(last_event_id_));
      fresh = std::move(ev);
    }
    // Progress is recorded only once every step of it is done: a failed
    // sync is done again, whole, by the next one.
    if (fresh) ltr->Apply(*fresh);
    last_event_id_ = max_id;
    data_version_ = version;
    return Status::Ok();
  }
  CatalogView& catalog() { return catalog_; }

  // ---- business rules (src/rank), re-read on every store change ----
  struct RuleSet {
    std::vector<RuleRecord> rules;
    // Filter and stock matches, for one index (a new matcher when it changes).
    mutable std::mutex mu;
    mutable std::shared_ptr<const cli::RuleMatcher> matcher;
    std::shared_ptr<const cli::RuleMatcher> For(const std::shared_ptr<const search::Index>& index) const {
      std::lock_guard lock(mu);
      if (!matcher || matcher->index() != index.get()) matcher = std::make_shared<cli::RuleMatcher>(index, rules);
      return matcher;
    }
  };
  void SetRules(std::vector<RuleRecord> rules) {
    {
      std::shared_lock read(rules_mu_);
      if (rules_ && rules_->rules == rules) return;  // ids can be reused after a delete: compare whole rules
    }
    auto fresh = std::make_shared<RuleSet>();
    fresh->rules = std::move(rules);
    std::unique_lock lock(rules_mu_);
    rules_ = std::move(fresh);
    ++rules_version_;  // cached recommendations were cut with the old rules
  }
  uint64_t rules_version() const { return rules_version_.load(); }
  std::shared_ptr<const RuleSet> Rules() {
    std::shared_lock read(rules_mu_);
    return rules_;
  }
  ResultCache& cache() { return *cache_; }

  // ---- impressions ----
  // Queued and written by the background thread in one transaction every
  // 200 ms (and at shutdown), so logging costs a request no write.
  // Sharded by thread, so request threads rarely meet on a lock.
  void LogImpression(ImpressionRecord r) {
    if (!log_impressions_) return;
    const size_t shard = std::hash<std::thread::id>()(std::this_thread::get_id()) % kImpressionShards;
    std::lock_guard lock(impressions_[shard].mu);
    impressions_[shard].queue.push_back(std::move(r));
  }
  void FlushImpressions() {
    std::vector<ImpressionRecord> batch;
    for (auto& shard : impressions_) {
      std::lock_guard lock(shard.mu);
      if (batch.empty())
        batch.swap(shard.queue);
      else
        std::move(shard.queue.begin(), shard.queue.end(), std::back_inserter(batch)), shard.queue.clear();
    }
    if (batch.empty()) return;
    Status st;
    {
      std::lock_guard lock(store_mu_);
      st = store_->LogImpressions(batch);
    }
    if (!st.ok()) std::fprintf(stderr, "souk: warning: %zu impressions not logged: %s\n", batch.size(), st.message().c_str());
    impressions_logged_ += st.ok() ? batch.size() : 0;
  }
  uint64_t impressions_logged() const { return impressions_logged_; }
  void CountIngested(const std::string& table, uint64_t n) {
    (table == "events" ? events_ingested_ : table == "items" ? items_ingested_ : users_ingested_) += n;
  }
  uint64_t ingested(const std::string& table) const {
    return table == "events" ? events_ingested_ : table == "items" ? items_ingested_ : users_ingested_;
  }
  void StartBackground() {
    background_ = std::thread([this] {
      std::unique_lock lock(background_mu_);
      while (!stopping_) {
        background_cv_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stopping_.load(); });
        lock.unlock();
        FlushImpressions();
        Status st = SyncChanges();
        if (!st.ok()) std::fprintf(stderr, "souk: warning: change tracking: %s\n", st.message().c_str());
        lock.lock();
      }
    });
  }

  // Runs f(store) with the store to itself.
  template <typename F>
  auto WithStore(F f) {
    std::lock_guard lock(store_mu_);
    return f(store_.get());
  }
  // Runs the reads of f(store) -> Result<json> as one read snapshot on a
  // connection of the reader pool: reads run in parallel with each other
  // and with the writer (SQLite WAL), and see every committed write.
  template <typename F>
  Result<json> ReadStore(F f) {
    std::unique_ptr<Store> reader;
    {
      std::unique_lock lock(readers_mu_);
      readers_cv_.wait(lock, [this] { return !readers_.empty(); });
      reader = std::move(readers_.back());
      readers_.pop_back();
    }
    struct Return {  // the connection goes back to the pool, also when f throws
      HttpServer* s;
      std::unique_ptr<Store>* reader;
      ~Return() {
        {
          std::lock_guard lock(s->readers_mu_);
          s->readers_.push_back(std::move(*reader));
        }
        s->readers_cv_.notify_one();
      }
    } back{this, &reader};
    Result<json> out = Status::Internal("not run");
    Status st = reader->ReadSnapshot([&] {
      out = f(reader.get());
      return out.ok() ? Status::Ok() : out.status();
    });
    if (!st.ok()) return st;
    return out;
  }
  const std::string& dir() const { return dir_; }
  const Config& config() const { return config_; }
  campaign::CampaignService& campaigns() { return *campaigns_; }
  const std::vector<Route>& routes() const { return routes_; }
  const std::vector<std::unique_ptr<RouteMetrics>>& metrics() const { return metrics_; }
  uint64_t requests() const { return requests_; }

  Status Run(const std::function<void(int)>& on_ready) override {
    FrontOptions fo;
    fo.host = options_.host;
    fo.port = options_.port;
    fo.loops = options_.threads > 0 ? options_.threads
                                    : std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
    fo.max_body = options_.max_body;
    fo.timeout_s = options_.read_timeout_s;
    int port = 0;
    if (Status st = front_.Bind(fo, &port); !st.ok()) return st;
    port_ = port;
    if (options_.retrain_minutes > 0) Schedule(options_.retrain_minutes);
    StartBackground();
    if (on_ready) on_ready(port);
    Status served = front_.Run([this](const httplib::Request& req, httplib::Response& res) { Dispatch(req, res); });
    FlushImpressions();  // what was shown before the stop
    return served;
  }
  void Stop() override {
    stopping_ = true;
    schedule_cv_.notify_all();
    background_cv_.notify_all();
    front_.Stop();
  }
  int port() const override { return port_; }

 private:
  // "/v1/similar/{item}" -> {"v1", "similar", "{"}: "{" stands for a parameter.
  static std::vector<std::string> Template(const char* path) {
    std::vector<std::string> out;
    std::string_view p(path);
    for (size_t b = 1; b <= p.size();) {
      size_t e = p.find('/', b);
      if (e == std::string_view::npos) e = p.size();
      std::string seg(p.substr(b, e - b));
      out.push_back(!seg.empty() && seg[0] == '{' ? "{" : seg);
      b = e + 1;
    }
    return out;
  }
  static bool MatchPath(const std::vector<std::string>& tmpl, std::string_view path, std::vector<std::string>* params) {
    params->clear();
    if (path.empty() || path[0] != '/') return false;
    size_t b = 1;
    for (size_t k = 0; k < tmpl.size(); ++k) {
      if (b > path.size()) return false;
      size_t e = path.find('/', b);
      if (e == std::string_view::npos) e = path.size();
      const std::string_view seg = path.substr(b, e - b);
      if (tmpl[k] == "{") {
        if (seg.empty()) return false;
        params->emplace_back(seg);
      } else if (seg != tmpl[k]) {
        return false;
      }
      b = e + 1;
    }
    return b == path.size() + 1;  // every segment used, no trailing part
  }

  // Matches the route table's templates segment by segment. HEAD is GET
  // without the body (evhttp drops it). A path that only another method
  // serves is 405; no path at all, 404.
  void Dispatch(const httplib::Request& req, httplib::Response& res) {
    const std::string_view method = req.method == "HEAD" ? std::string_view("GET") : std::string_view(req.method);
    std::vector<std::string> params;
    bool other_method = false;
    for (size_t i = 0; i < routes_.size(); ++i) {
      if (!MatchPath(templates_[i], req.path, &params)) continue;
      if (method != routes_[i].method) {
        other_method = true;
        continue;
      }
      Handle(i, req, res, std::move(params));
      return;
    }
    res.status = other_method ? 405 : 404;
    res.set_content(json({{"error", other_method ? "method not allowed" : "no such route"}, {"status", res.status}})
                        .dump(),
                    "application/json");
  }
  void Handle(size_t i, const httplib::Request& req, httplib::Response& res, std::vector<std::string> params) {
    const auto t0 = std::chrono::steady_clock::now();
    const Route& route = routes_[i];
    ++requests_;
    Reply reply;
    Request r{req, std::move(params), {}};
    try {
      if (route.scope != Scope::kPublic) Authorize(route.scope, req, &r.key);
      reply = route.handler(*this, r);
    } catch (const HttpError& e) {
      reply = {e.status, {{"error", e.message}, {"status", e.status}}};
    } catch (const std::exception& e) {
      reply = {500, {{"error", std::string("internal error: ") + e.what()}, {"status", 500}}};
    }
    res.status = reply.status;
    if (!reply.cache_control.empty()) res.set_header("Cache-Control", reply.cache_control);
    if (!reply.type.empty() && !reply.owned.empty())
      res.set_content(reply.owned, reply.type);
    else if (!reply.type.empty())
      res.set_content(reply.raw.data(), reply.raw.size(), reply.type);
    else
      res.set_content(reply.body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    metrics_[i]->Observe(reply.status, s);
    // The pattern, not the path: no ids, queries or keys in the log.
    if (options_.log) std::fprintf(stderr, "%s %s %d %.2f ms\n", route.method, route.path, reply.status, s * 1e3);
  }

  void Authorize(Scope need, const httplib::Request& req, KeyInfo* who) {
    const std::string auth = req.get_header_value("Authorization");
    if (auth.rfind("Bearer ", 0) != 0)
      throw HttpError(401, "missing key: send Authorization: Bearer KEY (souk keys create DIR --scope ...)");
    auto it = keys_.find(Sha256(auth.substr(7)));
    if (it == keys_.end()) throw HttpError(401, "unknown key");
    *who = it->second;
    if (who->scope != Scope::kAdmin && who->scope != need)
      throw HttpError(403, fmt::format("a key of scope {} may not call this route (it needs {} or admin)",
                                       ScopeName(who->scope), ScopeName(need)));
    if (!limiter_->Allow(who->id)) throw HttpError(429, "rate limit exceeded for this key");
  }

  void TrainInChild(uint64_t id) {
    const fs::path log = fs::path(dir_) / "runs" / fmt::format("server-train-{}.log", id);
    std::error_code ec;
    fs::create_directories(log.parent_path(), ec);
    char exe[4096];
    const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    std::string error;
    int code = -1;
    if (n <= 0) {
      error = "cannot find the souk executable";
    } else {
      exe[n] = '\0';
      const pid_t pid = fork();
      if (pid == 0) {
        sigset_t none;  // the server blocks SIGTERM in its threads; the trainer must not
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) dup2(fd, STDOUT_FILENO), dup2(fd, STDERR_FILENO);
        execl(exe, exe, "train", dir_.c_str(), static_cast<char*>(nullptr));
        _exit(127);
      }
      int status = 0;
      if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)) code = WEXITSTATUS(status);
      if (code != 0) error = fmt::format("souk train exited with {} (see {})", code, log.string());
    }
    if (error.empty()) {
      // Load the new models outside the lock, then swap.
      auto fresh = cli::RecService::Open(dir_, config_);
      if (fresh.ok()) {
        std::lock_guard lock(rec_mu_);
        recs_ = std::shared_ptr<const cli::RecService>(std::move(*fresh));
        ++model_version_;
        cache_->Clear();
      } else {
        error = fresh.status().message();
      }
      if (error.empty()) {
        std::lock_guard lock(store_mu_);  // the ranker's features, from every event now
        LoadLtr(store_.get());
      }
      CatalogChanged();
    }
    std::lock_guard lock(train_mu_);
    job_.status = error.empty() ? "done" : "failed";
    job_.finished_ms = NowMs();
    job_.exit_code = code;
    job_.error = error;
  }
  void Schedule(double minutes) {
    scheduler_ = std::thread([this, minutes] {
      std::unique_lock lock(schedule_mu_);
      while (!stopping_) {
        if (schedule_cv_.wait_for(lock, std::chrono::duration<double, std::ratio<60>>(minutes),
                                  [this] { return stopping_.load(); }))
          break;
        StartTraining();
      }
    });
  }

  std::string dir_;
  ServerOptions options_;
  Config config_;
  std::unique_ptr<Store> store_;  // the writer (and reads that go with writes)
  std::mutex store_mu_;
  std::vector<std::unique_ptr<Store>> readers_;  // free read connections
  std::mutex readers_mu_;
  std::condition_variable readers_cv_;
  std::shared_mutex index_mu_;
  std::shared_ptr<const search::Index> index_;
  std::atomic<bool> index_stale_{false};
  std::shared_mutex rec_mu_;
  std::shared_ptr<const cli::RecService> recs_;
  std::shared_mutex ltr_mu_;
  std::shared_ptr<const cli::LtrContext> ltr_;
  std::shared_mutex rules_mu_;
  std::shared_ptr<const RuleSet> rules_;
  std::atomic<uint64_t> rules_version_{0};
  uint64_t model_version_ = 0;
  std::mutex train_mu_;
  TrainJob job_;
  std::thread trainer_, scheduler_;
  std::atomic<bool> stopping_{false};
  std::mutex schedule_mu_;
  std::condition_variable schedule_cv_;
  std::unique_ptr<Store> campaign_store_;
  std::unique_ptr<campaign::CampaignService> campaigns_;  // declared after its store: destroyed first
  std::unique_ptr<Store> watcher_;  // change tracking's own read connection
  std::mutex sync_mu_;
  int64_t data_version_ = 0, last_event_id_ = 0, catalog_version_ = 0;
  CatalogView catalog_;
  std::unique_ptr<ResultCache> cache_;
  bool log_impressions_ = true;
  static constexpr size_t kImpressionShards = 16;
  struct ImpressionShard {
    std::mutex mu;
    std::vector<ImpressionRecord> queue;
  };
  ImpressionShard impressions_[kImpressionShards];
  std::atomic<uint64_t> impressions_logged_{0};
  std::atomic<uint64_t> events_ingested_{0}, items_ingested_{0}, users_ingested_{0};
  std::thread background_;
  std::mutex background_mu_;
  std::condition_variable background_cv_;
  std::unique_ptr<RateLimiter> limiter_;
  std::map<std::string, KeyInfo> keys_;  // by hash
  std::vector<Route> routes_;
  std::vector<std::vector<std::string>> templates_;  // routes_[i].path split, "{" = parameter
  std::vector<std::unique_ptr<RouteMetrics>> metrics_;
  std::atomic<uint64_t> requests_{0};
  Front front_;
  int port_ = 0;
};

// ---- handlers ---------------------------------------------------------------------

// "r" + 12 hex digits of the time in ms + 8 random: unique, and in time
// order, so the impressions table grows at its end.
std::string RequestId() {
  unsigned char b[10];
  const uint64_t ms = static_cast<uint64_t>(NowMs());
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(ms >> (8 * (5 - i)));
  // Per-thread splitmix64 seeded once from OpenSSL: no lock per request.
  thread_local uint64_t state = [] {
    uint64_t seed = 0;
    RAND_bytes(reinterpret_cast<unsigned char*>(&seed), sizeof seed);
    return seed;
  }();
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  for (int i = 0; i < 4; ++i) b[6 + i] = static_cast<unsigned char>(z >> (8 * i));
  return "r" + Hex(b, sizeof b);
}

json RequireObject(const Request& r) {
  json j = r.Body();
  if (j.is_discarded()) throw HttpError(400, "the body is not valid JSON");
  if (!j.is_object()) throw HttpError(400, "the body must be a JSON object");
  return j;
}

template <typename T>
T Get(const json& j, const char* key, const char* type) {
  if (!j.contains(key)) throw HttpError(400, fmt::format("missing field '{}' ({})", key, type));
  try {
    return j[key].get<T>();
  } catch (const std::exception&) {
    throw HttpError(400, fmt::format("field '{}' must be {}", key, type));
  }
}

size_t SizeParam(const httplib::Request& req, const char* name, size_t fallback, size_t max) {
  if (!req.has_param(name)) return fallback;
  const std::string v = req.get_param_value(name);
  char* end = nullptr;
  const long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n < 1 || static_cast<size_t>(n) > max)
    throw HttpError(400, fmt::format("'{}' must be a whole number in [1, {}]", name, max));
  return static_cast<size_t>(n);
}

Reply Health(HttpServer&, const Request&) { return {200, {{"status", "ok"}}}; }

// Gives a response that shows items its request id and logs what it showed
// (surface, user, items in order) as an impression.
json Shown(HttpServer& s, const char* surface, const std::string& user, const std::string& query, json out) {
  const std::string id = RequestId();
  out["request_id"] = id;
  ImpressionRecord imp;
  imp.request_id = id;
  imp.ts_ms = NowMs();
  imp.surface = surface;
  imp.user = user;
  imp.query = query;
  if (out.contains("model") && out["model"].is_string()) imp.model = out["model"].get<std::string>();
  const char* list = out.contains("hits") ? "hits" : "items";
  if (out.contains(list))
    for (const auto& x : out[list]) imp.items.push_back(x["item_id"].get<std::string>());
  s.LogImpression(std::move(imp));
  return out;
}

// Re-orders the hits by z(BM25F) + w * z(user model score), both z-scored
// over these hits; items the model does not know get the hits' lowest
// model score. Leaves the order alone (and `how` null) when the user or
// the model gives nothing to go on.
void PersonalizeHits(HttpServer& s, const search::Index& index, const std::string& user, search::SearchResult* res,
                     json* how) {
  const double w = s.config().GetDouble("search.personalize_weight");
  if (res->hits.size() < 2) return;
  auto recs = s.Recs();
  if (!recs.ok()) return;
  std::vector<float> scores;
  auto got = s.ReadStore([&](Store* st) -> Result<json> {
    SOUK_ASSIGN_OR_RETURN(scores, (*recs)->UserScores(st, user));
    return json();
  });
  if (!got.ok() || scores.empty()) return;
  const size_t n = res->hits.size();
  std::vector<double> text(n), model(n);
  std::vector<bool> known(n, false);
  double lowest = INFINITY;
  for (size_t i = 0; i < n; ++i) {
    text[i] = res->hits[i].score;
    auto row = s.catalog().Get(index.ExternalId(res->hits[i].doc));
    if (row && row->id < scores.size()) {
      model[i] = scores[row->id];
      known[i] = true;
      lowest = std::min(lowest, model[i]);
    }
  }
  if (!std::isfinite(lowest)) return;
  for (size_t i = 0; i < n; ++i)
    if (!known[i]) model[i] = lowest;
  auto zscore = [](std::vector<double>& v) {
    double mean = 0, var = 0;
    for (double x : v) mean += x;
    mean /= static_cast<double>(v.size());
    for (double x : v) var += (x - mean) * (x - mean);
    const double sd = std::sqrt(var / static_cast<double>(v.size()));
    for (double& x : v) x = sd > 0 ? (x - mean) / sd : 0;
  };
  zscore(text);
  zscore(model);
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return text[a] + w * model[a] > text[b] + w * model[b]; });
  std::vector<search::Hit> hits;
  for (size_t i : order) hits.push_back({res->hits[i].doc, static_cast<float>(text[i] + w * model[i])});
  res->hits = std::move(hits);
  *how = {{"user", user}, {"model", (*recs)->UserModelName()}, {"weight", w}, {"depth", n}};
}

Reply Search(HttpServer& s, const Request& r) {
  const auto& req = r.http;
  const std::string q = req.get_param_value("q");
  const std::string user = req.get_param_value("user");
  search::QueryOptions qo;
  qo.k = SizeParam(req, "per_page", SizeParam(req, "k", 10, 1000), 1000);
  const size_t page = SizeParam(req, "page", 1, 100000);
  qo.offset = (page - 1) * qo.k;
  qo.filter = req.get_param_value("filter");
  if (req.has_param("facets")) {
    std::string f = req.get_param_value("facets");
    for (size_t b = 0, e; b <= f.size(); b = e + 1) {
      e = f.find(',', b);
      if (e == std::string::npos) e = f.size();
      if (e > b) qo.facets.push_back(f.substr(b, e - b));
    }
  }
  if (q.empty() && qo.filter.empty()) throw HttpError(400, "give q (a query) or filter");
  auto index = s.Index();
  if (!index.ok()) throw HttpError(HttpStatusOf(index.status()), index.status().message());
  const auto t0 = std::chrono::steady_clock::now();
  // Personalized: the best `depth` hits are fetched, re-ordered for the
  // user, and the page is cut from them.
  // With the LTR model (unless rank=none), BM25F's best rank.depth are
  // re-ordered by it (for `user` when given) and the page cut from them.
  const std::string rank = req.has_param("rank") ? req.get_param_value("rank") : "ltr";
  if (rank != "ltr" && rank != "none") throw HttpError(400, "rank must be ltr or none");
  const auto ltr = rank == "ltr" && !q.empty() ? s.Ltr() : nullptr;
  const bool ranked = ltr && qo.offset + qo.k <= ltr->depth();
  const size_t depth = ranked ? ltr->depth()
                              : static_cast<size_t>(std::max<int64_t>(1, s.config().GetInt("search.personalize_depth")));
  const bool personal = ranked || (!user.empty() && s.config().GetDouble("search.personalize_weight") > 0 &&
                                   qo.offset + qo.k <= depth);
  // Business rules for this query: hides and out-of-stock go into the
  // filter (so they cost no results), the rest is applied after ranking.
  const auto rules = s.Rules();
  rank::RuleContext rctx;
  rctx.surface = "search";
  rctx.query = q;
  rctx.k = qo.offset + qo.k;
  rctx.exclude_out_of_stock = s.config().GetBool("rank.exclude_out_of_stock");
  static const std::vector<RuleRecord> kNoRules;
  const cli::SearchRulePlan plan =
      cli::PlanSearchRules(rules ? rules->rules : kNoRules, rctx, qo.filter, /*fold=*/true);
  const bool rules_on = plan.on;
  search::QueryOptions run = qo;
  run.filter = plan.filter;
  if (personal) run.offset = 0, run.k = depth;
  if (rules_on) run.offset = 0, run.k = std::max(personal ? depth : 0, qo.offset + qo.k) + plan.extra;
  auto res = (*index)->Search(q, run);
  if (!res.ok()) throw HttpError(HttpStatusOf(res.status()), res.status().message());
  json how;
  if (ranked) {
    if (Status st = ltr->Rerank(q, user, &res->hits); !st.ok())
      throw HttpError(HttpStatusOf(st), st.message());
    how = {{"model", "ltr-search"}, {"depth", depth}};
    if (!user.empty()) how["user"] = user;
  } else if (personal) {
    PersonalizeHits(s, **index, user, &*res, &how);
  }
  // A randomisation bucket: some first pages show their top results in
  // random order (before the rules, so pins keep their places).
  bool shuffled = false;
  if (qo.offset == 0 && res->hits.size() > 1) {
    const double share = s.config().GetDouble("rank.shuffle_share");
    thread_local std::mt19937_64 rng{std::random_device{}()};
    if (share > 0 && std::uniform_real_distribution<double>(0, 1)(rng) < share) {
      const size_t n = std::min<size_t>(res->hits.size(),
                                        static_cast<size_t>(std::max<int64_t>(2, s.config().GetInt("rank.shuffle_depth"))));
      std::shuffle(res->hits.begin(), res->hits.begin() + static_cast<std::ptrdiff_t>(n), rng);
      shuffled = true;
    }
  }
  json applied;
  if (rules_on) {
    const auto matcher =
        rules ? rules->For(*index) : std::make_shared<const cli::RuleMatcher>(*index, std::vector<RuleRecord>{});
    const rank::RuleHooks hooks = matcher->Hooks([&](const std::string& ext) {
      auto row = s.catalog().Get(ext);
      return row && !row->deleted ? row->id : kNoId;
    });
    res->hits = cli::ApplySearchRules(matcher->rules(), rctx, res->hits, hooks);
    applied = plan.applied;
  }
  if (personal || rules_on) {
    std::vector<search::Hit> pageh;
    for (size_t i = qo.offset; i < res->hits.size() && pageh.size() < qo.k; ++i) pageh.push_back(res->hits[i]);
    res->hits = std::move(pageh);
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  json out = cli::SearchHitsJson(**index, q, *res, ms);
  if (!how.is_null()) out[ranked ? "ranked" : "personalized"] = how;
  if (ranked) out["model"] = "ltr-search";
  if (!applied.is_null()) out["rules"] = applied;
  if (shuffled) out["shuffled"] = true;
  s.catalog().Decorate(&out["hits"]);
  return {200, Shown(s, "search", user, q, std::move(out))};
}

Reply Decide(HttpServer& s, const Request& r) {
  const json body = RequireObject(r);
  const std::string name = Get<std::string>(body, "campaign", "a string");
  const std::string user = body.contains("user") ? Get<std::string>(body, "user", "a string") : "";
  std::vector<std::pair<std::string, double>> ctx;
  if (body.contains("context")) {
    if (!body["context"].is_object()) throw HttpError(400, "field 'context' must be an object of numbers");
    for (const auto& [k, v] : body["context"].items()) {
      if (v.is_boolean())
        ctx.emplace_back(k, v.get<bool>() ? 1.0 : 0.0);
      else if (v.is_number())
        ctx.emplace_back(k, v.get<double>());
      else
        throw HttpError(400, "context feature '" + k + "' must be a number or a boolean");
    }
  }
  auto d = s.campaigns().Decide(name, user, ctx);
  if (!d.ok()) throw HttpError(HttpStatusOf(d.status()), d.status().message());
  return {200,
          {{"decision", d->id},
           {"campaign", d->campaign},
           {"arms", d->arm_names},
           {"arm_ids", d->arms},
           {"propensities", d->propensities},
           {"request_id", d->id}}};
}

Reply RewardRoute(HttpServer& s, const Request& r) {
  const json body = RequireObject(r);
  const std::string id = Get<std::string>(body, "decision", "a string");
  std::vector<double> values;
  if (body.contains("rewards")) {
    values = Get<std::vector<double>>(body, "rewards", "an array of numbers");
  } else {
    values = {Get<double>(body, "value", "a number")};
  }
  auto out = s.campaigns().Reward(id, values);
  if (!out.ok()) throw HttpError(HttpStatusOf(out.status()), out.status().message());
  return {200,
          {{"decision", out->decision},
           {"duplicate", out->duplicate},
           {"rewards", out->rewards},
           {"updates", out->updates}}};
}

Reply Campaigns(HttpServer& s, const Request&) {
  auto all = s.campaigns().List();
  if (!all.ok()) throw HttpError(500, all.status().message());
  json out = json::array();
  for (const auto& c : *all)
    out.push_back({{"name", c.name},
                   {"policy", c.policy},
                   {"arms", c.arms},
                   {"features", c.features},
                   {"decisions", c.decisions},
                   {"rewarded", c.rewarded}});
  return {200, {{"campaigns", out}}};
}

Reply Metrics(HttpServer& s, const Request&) {
  std::string out =
      "# HELP souk_requests_total HTTP requests by route and status.\n# TYPE souk_requests_total counter\n";
  const auto& routes = s.routes();
  for (size_t i = 0; i < routes.size(); ++i) {
    for (int status = 0; status < 600; ++status) {
      const uint64_t n = s.metrics()[i]->by_status[status].load(std::memory_order_relaxed);
      if (n == 0) continue;
      out += fmt::format("souk_requests_total{{method=\"{}\",route=\"{}\",status=\"{}\"}} {}\n", routes[i].method,
                         routes[i].path, status, n);
    }
  }
  out += fmt::format(
      "# HELP souk_model_version Recommender models loaded since start (1 = the first).\n# TYPE "
      "souk_model_version gauge\nsouk_model_version {}\n",
      s.model_version());
  out += fmt::format(
      "# HELP souk_http_requests Requests since start.\n# TYPE souk_http_requests counter\nsouk_http_requests {}\n",
      s.requests());
  out += "# HELP souk_ingested_total Records accepted or updated through the API.\n# TYPE souk_ingested_total counter\n";
  for (const char* t : {"events", "items", "users"})
    out += fmt::format("souk_ingested_total{{table=\"{}\"}} {}\n", t, s.ingested(t));
  out += fmt::format(
      "# HELP souk_impressions_logged_total Responses whose shown items were logged.\n# TYPE "
      "souk_impressions_logged_total counter\nsouk_impressions_logged_total {}\n",
      s.impressions_logged());
  out += fmt::format(
      "# HELP souk_rec_cache_total Recommendation answers from the cache (hit) or computed (miss).\n# TYPE "
      "souk_rec_cache_total counter\nsouk_rec_cache_total{{result=\"hit\"}} {}\nsouk_rec_cache_total{{result=\"miss\"}} {}\n",
      s.cache().hits(), s.cache().misses());
  if (auto index = s.Index(); index.ok())
    out += fmt::format(
        "# HELP souk_index_documents Documents in the search index.\n# TYPE souk_index_documents gauge\n"
        "souk_index_documents {}\n",
        (*index)->num_docs());
  out += "# HELP souk_request_seconds Request latency by route.\n# TYPE souk_request_seconds histogram\n";
  for (size_t i = 0; i < routes.size(); ++i) {
    auto& m = *s.metrics()[i];
    uint64_t cum = 0;
    const std::string labels = fmt::format("method=\"{}\",route=\"{}\"", routes[i].method, routes[i].path);
    for (size_t b = 0; b < kNumBuckets; ++b) {
      cum += m.buckets[b];
      out += fmt::format("souk_request_seconds_bucket{{{},le=\"{}\"}} {}\n", labels, kBuckets[b], cum);
    }
    cum += m.buckets[kNumBuckets];
    out += fmt::format("souk_request_seconds_bucket{{{},le=\"+Inf\"}} {}\n", labels, cum);
    out += fmt::format("souk_request_seconds_sum{{{}}} {}\n", labels, static_cast<double>(m.nanos.load()) * 1e-9);
    out += fmt::format("souk_request_seconds_count{{{}}} {}\n", labels, m.count.load());
  }
  Reply reply;
  reply.type = "text/plain; version=0.0.4";
  reply.owned = std::move(out);
  return reply;
}

Reply OpenApi(HttpServer&, const Request&);

// ---- the console (web/, embedded) --------------------------------------------------

const WebAsset* FindAsset(std::string_view path) {
  for (size_t i = 0; i < kNumWebAssets; ++i)
    if (path == kWebAssets[i].path) return &kWebAssets[i];
  return nullptr;
}

Reply AssetReply(const WebAsset& a, bool immutable) {
  Reply r;
  r.type = a.type;
  r.raw = std::string_view(reinterpret_cast<const char*>(a.data), a.size);
  r.cache_control = immutable ? "public, max-age=31536000, immutable" : "no-cache";
  return r;
}

Reply Console(HttpServer&, const Request&) {
  const WebAsset* index = FindAsset("/index.html");
  if (!index)
    throw HttpError(404, "this souk was built without the console (needs npm at build time; see docs/console.md)");
  return AssetReply(*index, false);
}

Reply Asset(HttpServer&, const Request& r) {
  const WebAsset* a = FindAsset("/assets/" + r.params[0]);
  if (!a) throw HttpError(404, "no such console file");
  return AssetReply(*a, true);  // file names carry a content hash
}


bool BoolParam(const httplib::Request& req, const char* name, bool fallback) {
  if (!req.has_param(name)) return fallback;
  const std::string v = req.get_param_value(name);
  if (v == "1" || v == "true") return true;
  if (v == "0" || v == "false") return false;
  throw HttpError(400, fmt::format("'{}' must be true or false", name));
}

json Computed(const Result<json>& r) {
  if (!r.ok()) throw HttpError(HttpStatusOf(r.status()), r.status().message());
  return *r;
}

// The models' answer for (key, variant): from the result cache when the
// user's events, the catalog and the models are unchanged since it was
// computed, else computed by f(store, models) on a read snapshot, given the
// items' display fields, and cached.
template <typename F>
json CachedAnswer(HttpServer& s, const std::string& key, const std::string& variant, F f) {
  if (auto hit = s.cache().Get(key, variant)) return std::move(*hit);
  const uint64_t epoch = s.cache().Epoch();  // before any read: a later invalidation voids the Put
  auto recs = s.Recs();
  if (!recs.ok()) throw HttpError(HttpStatusOf(recs.status()), recs.status().message());
  json out = Computed(s.ReadStore([&](Store* st) { return f(st, **recs); }));
  s.catalog().Decorate(&out["items"]);
  s.cache().Put(key, variant, out, epoch);
  return out;
}

Reply Recommend(HttpServer& s, const Request& r) {
  const size_t k = SizeParam(r.http, "k", 10, 1000);
  const bool exclude = BoolParam(r.http, "exclude_seen", true);
  cli::RecService::Options ro;
  ro.explain = BoolParam(r.http, "explain", false);
  ro.blend = BoolParam(r.http, "blend", false);
  // diversity = lambda of rank::Diversify (category MMR), over 3k
  // candidates; then the business rules of surface recommend.
  cli::RecFinish fin;
  fin.k = k;
  fin.lambda = s.config().GetDouble("rank.diversity");
  if (r.http.has_param("diversity")) {
    const std::string v = r.http.get_param_value("diversity");
    char* end = nullptr;
    fin.lambda = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || !(fin.lambda >= 0 && fin.lambda <= 1))
      throw HttpError(400, "'diversity' must be a number in [0, 1]");
  }
  fin.diversity.w_relevance = s.config().GetDouble("rank.weight_relevance");
  fin.diversity.w_revenue = s.config().GetDouble("rank.weight_revenue");
  fin.category_price = [&](const std::string& ext) {
    auto row = s.catalog().Get(ext);
    return row ? std::pair<std::string, double>{row->category, row->price} : std::pair<std::string, double>{"", NAN};
  };
  const auto rules = s.Rules();
  fin.rules = rules ? &rules->rules : nullptr;
  fin.exclude_out_of_stock = s.config().GetBool("rank.exclude_out_of_stock");
  fin.hooks.lookup = [&](const std::string& ext) {
    auto row = s.catalog().Get(ext);
    return row && !row->deleted ? row->id : kNoId;
  };
  // Filters and stock from the index, when a rule needs them.
  std::shared_ptr<const cli::RuleMatcher> matcher;
  if (fin.RulesApply()) {
    auto index = s.Index();
    std::shared_ptr<const search::Index> idx = index.ok() ? *index : nullptr;  // no catalog: nothing matches
    matcher = rules ? rules->For(idx) : std::make_shared<const cli::RuleMatcher>(idx, std::vector<RuleRecord>{});
    fin.hooks = matcher->Hooks(fin.hooks.lookup);
  }
  const bool rules_on = fin.RulesApply();
  const size_t fetch = fin.FetchSize();
  const std::string& user = r.params[0];
  json out = CachedAnswer(
      s, user,
      fmt::format("{}|{}|{}|{}|{}|{}", k, exclude, ro.explain, ro.blend, fin.lambda, rules_on ? s.rules_version() : 0),
      [&](Store* st, const cli::RecService& recs) -> Result<json> {
        SOUK_ASSIGN_OR_RETURN(json j, recs.ForUser(st, user, fetch, exclude, ro));
        cli::FinishRecommendations(fin, &j);
        return j;
      });
  return {200, Shown(s, "recommend", user, "", std::move(out))};
}

Reply SessionRecommend(HttpServer& s, const Request& r) {
  const json body = RequireObject(r);
  const auto items = Get<std::vector<std::string>>(body, "items", "an array of item ids");
  const size_t k = body.contains("k") ? Get<size_t>(body, "k", "a whole number") : 10;
  if (k == 0 || k > 1000) throw HttpError(400, "'k' must be a whole number in [1, 1000]");
  auto recs = s.Recs();
  if (!recs.ok()) throw HttpError(HttpStatusOf(recs.status()), recs.status().message());
  json out = Computed(s.ReadStore([&](Store* st) { return (*recs)->ForSession(st, items, k); }));
  s.catalog().Decorate(&out["items"]);
  std::string session;
  for (const auto& i : items) session += (session.empty() ? "" : ",") + i;
  return {200, Shown(s, "session", "", session, std::move(out))};
}

Reply Similar(HttpServer& s, const Request& r) {
  const size_t k = SizeParam(r.http, "k", 10, 1000);
  json out = CachedAnswer(s, "item:" + r.params[0], std::to_string(k), [&](Store* st, const cli::RecService& recs) {
    return recs.Similar(st, r.params[0], k);
  });
  return {200, Shown(s, "similar", "", r.params[0], std::move(out))};
}

json AttrsJson(const std::string& attrs) {
  if (attrs.empty()) return json::object();
  json j = json::parse(attrs, nullptr, false);
  return j.is_object() ? j : json::object();
}

Reply GetItem(HttpServer& s, const Request& r) {
  return {200, Computed(s.ReadStore([&](Store* st) -> Result<json> {
            SOUK_ASSIGN_OR_RETURN(ItemId id, st->FindItem(r.params[0]));
            if (id == kNoId) return Status::NotFound(fmt::format("unknown item '{}'", r.params[0]));
            SOUK_ASSIGN_OR_RETURN(auto rows, st->GetItems({id}));
            if (rows.empty() || rows[0].deleted || !rows[0].known)
              return Status::NotFound(fmt::format("item '{}' is not in the catalog", r.params[0]));
            const ItemRow& row = rows[0];
            return json{{"item_id", row.ext_id},
                        {"title", row.title},
                        {"description", row.description},
                        {"brand", row.brand},
                        {"category", row.category},
                        {"tags", row.tags},
                        {"price", std::isnan(row.price) ? json(nullptr) : json(row.price)},
                        {"stock", row.stock < 0 ? json(nullptr) : json(row.stock)},
                        {"attrs", AttrsJson(row.attrs_json)}};
          }))};
}

Reply Suggest(HttpServer& s, const Request& r) {
  auto index = s.Index();
  if (!index.ok()) throw HttpError(HttpStatusOf(index.status()), index.status().message());
  const size_t k = SizeParam(r.http, "k", 8, 100);
  json out = json::array();
  for (const auto& sug : (*index)->Suggest(r.http.get_param_value("q"), k))
    out.push_back({{"text", sug.text}, {"count", sug.count}});
  return {200, {{"q", r.http.get_param_value("q")}, {"suggestions", out}}};
}

// Ingest: a JSON array or JSON lines, through the same import (validation,
// quarantine, deduplication) as `souk import`, as one transaction.
Reply Ingest(HttpServer& s, const Request& r, const std::string& table) {
  const std::string& body = r.http.body;
  std::string lines;
  const size_t first = body.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) throw HttpError(400, "empty body: send a JSON array or JSON lines of " + table);
  if (body[first] == '[') {
    json arr = json::parse(body, nullptr, false);
    if (arr.is_discarded() || !arr.is_array()) throw HttpError(400, "the body is not a valid JSON array");
    for (const auto& row : arr) lines += row.dump() + "\n";
  } else {
    lines = body;
  }
  static std::atomic<uint64_t> counter{0};
  const fs::path tmp_dir = fs::path(s.dir()) / "tmp";
  std::error_code ec;
  fs::create_directories(tmp_dir, ec);
  const std::string path = (tmp_dir / fmt::format("ingest-{}-{}-{}.jsonl", table, getpid(), counter++)).string();
  {
    std::ofstream out(path, std::ios::binary);
    out << lines;
    if (!out) throw HttpError(500, "cannot stage the body");
  }
  ingest::ImportSummary summary;
  Status st = s.WithStore([&](Store* store) -> Status {
    SOUK_ASSIGN_OR_RETURN(auto types, ingest::EventTypesFromConfig(s.config()));
    ingest::ImportOptions opts = ingest::ImportOptionsFromConfig(s.config(), table);
    opts.format = "jsonl";
    opts.batch_rows = 0;  // the request commits whole or not at all
    opts.progress = false;
    return ingest::ImportFile(store, types, path, opts, &summary);
  });
  fs::remove(path, ec);
  if (!st.ok()) throw HttpError(st.code() == StatusCode::kIoError ? 500 : 400, st.message());
  // Before answering: the caches forget what this write changed.
  Status synced = s.SyncChanges();
  if (!synced.ok()) throw HttpError(500, synced.message());
  s.CountIngested(table, summary.accepted + summary.updated);
  json out = json::parse(ingest::SummaryJson(summary));
  out.erase("file");
  out.erase("rows_per_second");
  return {200, out};
}

Reply PostEvents(HttpServer& s, const Request& r) { return Ingest(s, r, "events"); }
Reply PostItems(HttpServer& s, const Request& r) { return Ingest(s, r, "items"); }
Reply PostUsers(HttpServer& s, const Request& r) { return Ingest(s, r, "users"); }

Reply DeleteItem(HttpServer& s, const Request& r) {
  Status st = s.WithStore([&](Store* store) { return store->DeleteItem(r.params[0]); });
  if (!st.ok()) throw HttpError(HttpStatusOf(st), st.message());
  Status synced = s.SyncChanges();
  if (!synced.ok()) throw HttpError(500, synced.message());
  return {200, {{"deleted", r.params[0]}}};
}

// ---- admin: business rules -----------------------------------------------------

json RuleJson(const RuleRecord& r) {
  json j = {{"id", r.id}, {"kind", r.kind}, {"surface", r.surface}, {"query", r.query}, {"created_ms", r.created_ms}};
  if (!r.item.empty()) j["item"] = r.item;
  if (r.position) j["position"] = r.position;
  if (!r.filter.empty()) j["filter"] = r.filter;
  return j;
}

// The feature store for a user, an item or both (as `souk features
// --json`): the search ranker's own, kept current while serving, else one
// built from the store for this request.
Reply Features(HttpServer& s, const Request& r) {
  const std::string user = r.http.has_param("user") ? r.http.get_param_value("user") : "";
  const std::string item = r.http.has_param("item") ? r.http.get_param_value("item") : "";
  const std::string q = r.http.has_param("q") ? r.http.get_param_value("q") : "";
  if (user.empty() && item.empty()) throw HttpError(400, "give user, item or both");
  std::shared_ptr<const cli::LtrContext> ctx = s.Ltr();
  Result<json> out = Status::Internal("not run");
  if (ctx) {
    out = ctx->Features(user, item, q);
    if (out.ok()) (*out)["source"] = "ltr-search";
  } else {
    out = s.ReadStore([&](Store* st) -> Result<json> {
      SOUK_ASSIGN_OR_RETURN(auto built, cli::LtrContext::OpenFeatures(s.dir(), st, s.config()));
      SOUK_ASSIGN_OR_RETURN(json j, built->Features(user, item, q));
      j["source"] = "store";
      return j;
    });
  }
  if (!out.ok()) throw HttpError(HttpStatusOf(out.status()), out.status().message());
  return {200, std::move(*out)};
}

Reply ListRules(HttpServer& s, const Request&) {
  json out = json::array();
  if (auto rules = s.Rules())
    for (const RuleRecord& r : rules->rules) out.push_back(RuleJson(r));
  return {200, {{"rules", out}}};
}

Reply AddRule(HttpServer& s, const Request& r) {
  const json body = RequireObject(r);
  RuleRecord rule;
  rule.kind = Get<std::string>(body, "kind", "a string");
  if (body.contains("surface")) rule.surface = Get<std::string>(body, "surface", "a string");
  if (body.contains("query")) rule.query = Get<std::string>(body, "query", "a string");
  if (body.contains("item")) rule.item = Get<std::string>(body, "item", "a string");
  if (body.contains("position")) rule.position = Get<int>(body, "position", "an integer");
  if (body.contains("filter")) rule.filter = Get<std::string>(body, "filter", "a string");
  if (Status st = rank::ValidateRule(rule); !st.ok()) throw HttpError(400, st.message());
  if (!rule.filter.empty()) {
    auto index = s.Index();
    if (!index.ok()) throw HttpError(HttpStatusOf(index.status()), index.status().message());
    if (auto m = (*index)->MatchFilter(rule.filter); !m.ok()) throw HttpError(400, m.status().message());
  }
  int64_t id = 0;
  Status st = s.WithStore([&](Store* store) {
    auto got = store->AddRule(rule);
    if (got.ok()) id = *got;
    return got.status();
  });
  if (!st.ok()) throw HttpError(HttpStatusOf(st), st.message());
  Status synced = s.SyncChanges();
  if (!synced.ok()) throw HttpError(500, synced.message());
  rule.id = id;
  return {201, RuleJson(rule)};
}

Reply DeleteRule(HttpServer& s, const Request& r) {
  int64_t id = 0;
  try {
    size_t used = 0;
    id = std::stoll(r.params[0], &used);
    if (used != r.params[0].size()) throw std::invalid_argument("id");
  } catch (const std::exception&) {
    throw HttpError(400, "a rule id is a number");
  }
  Status st = s.WithStore([&](Store* store) { return store->DeleteRule(id); });
  if (!st.ok()) throw HttpError(HttpStatusOf(st), st.message());
  Status synced = s.SyncChanges();
  if (!synced.ok()) throw HttpError(500, synced.message());
  return {200, {{"deleted", id}}};
}

json JobJson(const HttpServer::TrainJob& j, uint64_t version) {
  json out = {{"job", j.id}, {"status", j.status}, {"model_version", version}};
  if (j.started_ms) out["started_ms"] = j.started_ms;
  if (j.finished_ms) out["finished_ms"] = j.finished_ms;
  if (!j.error.empty()) out["error"] = j.error;
  return out;
}

// ---- admin: what the console's dashboard shows ------------------------------

Reply Overview(HttpServer& s, const Request&) {
  json counts = Computed(s.ReadStore([&](Store* st) -> Result<json> {
    SOUK_ASSIGN_OR_RETURN(StoreCounts c, st->Counts());
    return json{{"items", c.items},
                {"placeholder_items", c.placeholder_items},
                {"users", c.users},
                {"placeholder_users", c.placeholder_users},
                {"events", c.events},
                {"flagged_events", c.flagged_events},
                {"quarantine", c.quarantine},
                {"sources", c.sources},
                {"models", c.models}};
  }));
  const Config& c = s.config();
  return {200,
          {{"counts", counts},
           {"model_version", s.model_version()},
           {"models",
            {{"user_model", c.GetString("rec.user_model")},
             {"session_model", c.GetString("rec.session_model")},
             {"similar_model", c.GetString("rec.similar_model")}}},
           {"requests", s.requests()},
           {"impressions_logged", s.impressions_logged()},
           {"cache", {{"entries", s.cache().entries()}, {"hits", s.cache().hits()}, {"misses", s.cache().misses()}}}}};
}

// The data-quality rules over the store (as `souk quality --json`, with at
// most 20 flagged ids per rule). Computed on a read connection and kept for
// a minute; `?refresh=true` recomputes.
Reply Quality(HttpServer& s, const Request& r) {
  static std::mutex mu;
  static json cached;
  static std::string cached_dir;
  static int64_t cached_ms = 0;
  const bool refresh = BoolParam(r.http, "refresh", false);
  std::lock_guard lock(mu);
  if (refresh || cached.is_null() || cached_dir != s.dir() || NowMs() - cached_ms > 60000) {
    json out = Computed(s.ReadStore([&](Store* st) -> Result<json> {
      SOUK_ASSIGN_OR_RETURN(auto report, ingest::RunQuality(st, s.config()));
      return json::parse(ingest::QualityJson(report));
    }));
    if (out.contains("rules"))
      for (auto& rule : out["rules"])
        if (rule.contains("flagged") && rule["flagged"].is_array() && rule["flagged"].size() > 20) {
          rule["flagged_total"] = rule["flagged"].size();
          rule["flagged"].erase(rule["flagged"].begin() + 20, rule["flagged"].end());
        }
    out.erase("data_dir");
    cached = std::move(out);
    cached_dir = s.dir();
    cached_ms = NowMs();
  }
  return {200, cached};
}

Reply EvalReport(HttpServer& s, const Request&) {
  const fs::path path = fs::path(s.dir()) / "reports" / "eval.json";
  std::ifstream in(path);
  if (!in) throw HttpError(404, fmt::format("no evaluation yet: run `souk eval {} --all`", s.dir()));
  json j = json::parse(in, nullptr, false);
  if (j.is_discarded()) throw HttpError(500, path.string() + " is not valid JSON");
  return {200, j};
}

Reply Runs(HttpServer& s, const Request&) { return {200, cli::RunsJson(s.dir())}; }

// One campaign: its arms (pulls, rewards, the policy's estimate and the
// chance of being chosen next) and, over its last 20,000 decisions in up to
// 40 time bins, each arm's share of the decisions (first slot).
Reply CampaignDetail(HttpServer& s, const Request& r) {
  auto sum = s.campaigns().Show(r.params[0]);
  if (!sum.ok()) throw HttpError(HttpStatusOf(sum.status()), sum.status().message());
  json arms = json::array();
  for (const auto& a : sum->arms)
    arms.push_back({{"arm", a.name},
                    {"pulls", a.pulls},
                    {"rewarded", a.rewarded},
                    {"reward", a.reward_sum},
                    {"mean", a.rewarded ? a.reward_sum / static_cast<double>(a.rewarded) : 0.0},
                    {"estimate", a.estimate},
                    {"width", a.width},
                    {"probability", a.probability}});
  const uint64_t last = sum->record.last_seq;
  const uint64_t after = last > 20000 ? last - 20000 : 0;
  std::vector<DecisionRecord> ds;
  json ignored = Computed(s.ReadStore([&](Store* st) -> Result<json> {
    SOUK_ASSIGN_OR_RETURN(ds, st->Decisions(sum->record.id, after));
    return json();
  }));
  json history = json::array();
  if (!ds.empty()) {
    std::sort(ds.begin(), ds.end(), [](const auto& a, const auto& b) { return a.ts_ms < b.ts_ms; });
    const int64_t t0 = ds.front().ts_ms, t1 = ds.back().ts_ms;
    const size_t bins = std::clamp<size_t>(ds.size() / 10, 1, 40);
    const double width = std::max<double>(1.0, static_cast<double>(t1 - t0 + 1) / static_cast<double>(bins));
    std::vector<std::vector<uint64_t>> count(bins, std::vector<uint64_t>(sum->arms.size(), 0));
    std::vector<uint64_t> total(bins, 0);
    for (const auto& d : ds) {
      if (d.arms.empty() || d.arms[0] >= sum->arms.size()) continue;
      const size_t b = std::min(bins - 1, static_cast<size_t>(static_cast<double>(d.ts_ms - t0) / width));
      ++count[b][d.arms[0]];
      ++total[b];
    }
    for (size_t b = 0; b < bins; ++b) {
      if (!total[b]) continue;
      json p = json::array();
      for (uint64_t c : count[b]) p.push_back(static_cast<double>(c) / static_cast<double>(total[b]));
      history.push_back({{"t_ms", t0 + static_cast<int64_t>(width * (static_cast<double>(b) + 0.5))},
                         {"decisions", total[b]},
                         {"probabilities", p}});
    }
  }
  return {200,
          {{"name", sum->record.name},
           {"policy", sum->policy},
           {"spec", sum->record.policy},
           {"decisions", sum->record.decisions},
           {"rewarded", sum->record.rewarded},
           {"arms", arms},
           {"history", history}}};
}

Reply Impression(HttpServer& s, const Request& r) {
  return {200, Computed(s.ReadStore([&](Store* st) -> Result<json> {
            SOUK_ASSIGN_OR_RETURN(ImpressionRecord imp, st->GetImpression(r.params[0]));
            return json{{"request_id", imp.request_id}, {"ts_ms", imp.ts_ms}, {"surface", imp.surface},
                        {"user", imp.user},             {"query", imp.query}, {"model", imp.model},
                        {"items", imp.items}};
          }))};
}

Reply StartTrain(HttpServer& s, const Request&) {
  const auto job = s.StartTraining();
  return {202, JobJson(job, s.model_version())};
}

Reply TrainStatus(HttpServer& s, const Request&) { return {200, JobJson(s.Job(), s.model_version())}; }

std::vector<Route> RouteTable() {
  return {
      {"GET", "/health", Scope::kPublic, "Liveness: {\"status\":\"ok\"}", Health},
      {"GET", "/metrics", Scope::kPublic, "Prometheus metrics: requests and latency per route", Metrics},
      {"GET", "/openapi.json", Scope::kPublic, "This API as an OpenAPI 3 document", OpenApi},
      {"GET", "/", Scope::kPublic, "The console (shop front and admin dashboard); the key goes in #key=", Console},
      {"GET", "/assets/{file}", Scope::kPublic, "The console's scripts and styles", Asset},
      {"GET", "/v1/search", Scope::kSearch,
       "Product search: q, filter, facets, page, per_page (or k), user, rank (ltr or none); hits with a request_id",
       Search},
      {"POST", "/v1/decide", Scope::kSearch,
       "Bandit decision: {campaign, user?, context?} -> arms, propensities, decision id", Decide},
      {"POST", "/v1/reward", Scope::kEvents,
       "Reward a decision: {decision, value} or {decision, rewards:[..]}; idempotent", RewardRoute},
      {"GET", "/v1/suggest", Scope::kSearch, "Autocomplete: q (prefix), k", Suggest},
      {"GET", "/v1/recommend/{user}", Scope::kSearch,
       "Recommendations from the user's events as stored now: k, exclude_seen, explain (why each item), blend "
       "(every candidate generator, fused), diversity (0..1, category MMR)",
       Recommend},
      {"POST", "/v1/recommend/session", Scope::kSearch, "Recommendations for an anonymous session: {items:[ids], k?}",
       SessionRecommend},
      {"GET", "/v1/similar/{item}", Scope::kSearch, "Items similar to an item: k", Similar},
      {"GET", "/v1/items/{id}", Scope::kSearch, "One catalog item: title, description, brand, category, price, ...",
       GetItem},
      {"POST", "/v1/events", Scope::kEvents,
       "Ingest events (JSON array or JSON lines; as souk import): counts and reasons", PostEvents},
      {"POST", "/v1/items", Scope::kAdmin, "Upsert items (JSON array or JSON lines); searchable at once", PostItems},
      {"POST", "/v1/users", Scope::kAdmin, "Upsert users (JSON array or JSON lines)", PostUsers},
      {"DELETE", "/v1/items/{id}", Scope::kAdmin, "Delete an item (kept as a row, hidden from results)", DeleteItem},
      {"GET", "/v1/campaigns", Scope::kAdmin, "Campaigns with decision and reward counts", Campaigns},
      {"GET", "/v1/campaigns/{name}", Scope::kAdmin,
       "One campaign: arms (pulls, rewards, estimate, probability) and each arm's share of decisions over time",
       CampaignDetail},
      {"GET", "/v1/admin/overview", Scope::kAdmin, "Store counts, model names and version, cache and request counts",
       Overview},
      {"GET", "/v1/admin/quality", Scope::kAdmin, "Data-quality findings and events per day (refresh=true recomputes)",
       Quality},
      {"GET", "/v1/admin/eval", Scope::kAdmin, "The last `souk eval --all` results (404 before the first)",
       EvalReport},
      {"GET", "/v1/admin/runs", Scope::kAdmin, "Training runs with their per-epoch loss and validation NDCG@10", Runs},
      {"GET", "/v1/admin/rules", Scope::kAdmin, "Business rules (pin, boost, bury, hide) in id order", ListRules},
      {"GET", "/v1/admin/features", Scope::kAdmin,
       "Feature store: user= (profile), item= (item features), both (ranking features; q= adds BM25 per field)",
       Features},
      {"POST", "/v1/admin/rules", Scope::kAdmin,
       "Add a business rule: {kind, surface?, query?, item?, position?, filter?} -> the rule with its id", AddRule},
      {"DELETE", "/v1/admin/rules/{id}", Scope::kAdmin, "Delete a business rule", DeleteRule},
      {"GET", "/v1/admin/impressions/{request_id}", Scope::kAdmin,
       "What a response showed: surface, user, query, model, items in order", Impression},
      {"POST", "/v1/admin/train", Scope::kAdmin,
       "Retrain in the background (souk train in a child process); the new models swap in when done: 202 + job",
       StartTrain},
      {"GET", "/v1/admin/train", Scope::kAdmin, "The last training job: status, model_version", TrainStatus},
  };
}

Reply OpenApi(HttpServer& s, const Request&) {
  json paths = json::object();
  for (const Route& r : s.routes()) {
    std::string method = r.method;
    for (char& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    json op = {{"summary", r.summary},
               {"x-souk-scope", ScopeName(r.scope)},
               {"responses", {{"200", {{"description", "OK"}}}}}};
    if (r.scope != Scope::kPublic) {
      op["security"] = json::array({{{"bearer", json::array()}}});
      op["responses"]["401"] = {{"description", "missing or unknown key"}};
      op["responses"]["403"] = {{"description", "key of the wrong scope"}};
      op["responses"]["429"] = {{"description", "rate limit"}};
    }
    json params = json::array();
    std::smatch m;
    std::string path = r.path;
    std::regex re(R"(\{([a-z_]+)\})");
    for (auto it = std::sregex_iterator(path.begin(), path.end(), re); it != std::sregex_iterator(); ++it)
      params.push_back(
          {{"name", (*it)[1].str()}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}});
    if (!params.empty()) op["parameters"] = params;
    paths[r.path][method] = op;
  }
  return {200,
          {{"openapi", "3.0.3"},
           {"info", {{"title", "souk"}, {"version", "1"}}},
           {"components", {{"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}}}},
           {"paths", paths}}};
}

}  // namespace

Result<std::pair<std::string, KeyInfo>> CreateKey(const std::string& dir, Scope scope) {
  if (scope == Scope::kPublic) return Status::InvalidArgument("a key needs a scope: admin, search or events");
  SOUK_ASSIGN_OR_RETURN(auto keys, ReadKeys(dir));
  unsigned char secret[24], id[4];
  if (RAND_bytes(secret, sizeof secret) != 1 || RAND_bytes(id, sizeof id) != 1)
    return Status::Internal("no random bytes for a key");
  const std::string key = fmt::format("souk_{}_{}", ScopeName(scope), Hex(secret, sizeof secret));
  KeyInfo info{"k" + Hex(id, sizeof id), scope, NowMs()};
  json j = {{"keys", json::array()}};
  for (const auto& k : keys)
    j["keys"].push_back(
        {{"id", k.info.id}, {"hash", k.hash}, {"scope", ScopeName(k.info.scope)}, {"created_ms", k.info.created_ms}});
  j["keys"].push_back(
      {{"id", info.id}, {"hash", Sha256(key)}, {"scope", ScopeName(scope)}, {"created_ms", info.created_ms}});
  const std::string path = KeysPath(dir), tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << j.dump(2) << "\n";
    if (!out) return Status::IoError("cannot write " + tmp);
  }
  fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Status::IoError(fmt::format("cannot write {}: {}", path, ec.message()));
  return std::make_pair(key, info);
}

Result<std::vector<KeyInfo>> ListKeys(const std::string& dir) {
  SOUK_ASSIGN_OR_RETURN(auto keys, ReadKeys(dir));
  std::vector<KeyInfo> out;
  for (auto& k : keys) out.push_back(k.info);
  return out;
}

std::vector<RouteInfo> Server::Routes() {
  std::vector<RouteInfo> out;
  for (const Route& r : RouteTable()) out.push_back({r.method, r.path, ScopeName(r.scope), r.summary});
  return out;
}

Result<std::unique_ptr<Server>> Server::Open(const std::string& dir, const ServerOptions& options) {
  auto s = std::make_unique<HttpServer>();
  SOUK_RETURN_IF_ERROR(s->Init(dir, options));
  return std::unique_ptr<Server>(std::move(s));
}

}  // namespace souk::server
