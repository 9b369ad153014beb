// `souk serve`: the HTTP JSON API (cpp-httplib) and the console. Every route
// is one row of the table in server.cc (method, path, scope, summary,
// handler); dispatch, the OpenAPI document and the per-route metrics all
// come from that table.
//
// Security: keys live in DIR/keys.json as SHA-256 hashes with a scope
// (admin > search, events). `Authorization: Bearer KEY`; a missing or
// unknown key is 401, a key of the wrong scope 403. Bodies over
// `max_body` are 413, a key over its rate 429. The access log names the
// route pattern, status and latency: never a key, a query string or a raw
// user id. Binds 127.0.0.1 unless told otherwise.
//
// Reads run on a pool of read connections, one snapshot per request;
// recommendation answers are cached and kept coherent with the store by
// change tracking; what each answer showed is logged as an impression
// (docs/server.md).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace souk::server {

enum class Scope { kPublic, kSearch, kEvents, kAdmin };
const char* ScopeName(Scope s);
Result<Scope> ParseScope(const std::string& name);  // admin, search, events

// ---- keys (DIR/keys.json) ---------------------------------------------------------

struct KeyInfo {
  std::string id;  // short public id ("k1a2b3c4"), safe to log
  Scope scope = Scope::kSearch;
  int64_t created_ms = 0;
};
// Creates a key of `scope`: stores its hash, returns the key itself (shown once).
Result<std::pair<std::string, KeyInfo>> CreateKey(const std::string& dir, Scope scope);
Result<std::vector<KeyInfo>> ListKeys(const std::string& dir);

// ---- the server -------------------------------------------------------------------

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 7700;            // 0 = any free port (see Server::port)
  size_t max_body = 8 << 20;  // bytes; larger bodies are 413
  double rate_per_key = 200;  // requests per second per key (token bucket)
  double burst = 400;         // bucket size
  int read_timeout_s = 10, write_timeout_s = 10;  // idle or unfinished connections are closed
  int threads = 0;  // event loops (threads), each serving many connections; 0 = one per core
  double retrain_minutes = 0;    // > 0: retrain in the background this often (as POST /v1/admin/train)
  bool log = true;  // access log on stderr
};

struct RouteInfo {
  std::string method, path, scope, summary;
};

class Server {
 public:
  virtual ~Server() = default;
  // Opens DIR's store, search index and campaigns, ready to listen.
  static Result<std::unique_ptr<Server>> Open(const std::string& dir, const ServerOptions& options);
  // Binds and serves until Stop (blocking). `on_ready` runs once bound.
  virtual Status Run(const std::function<void(int port)>& on_ready = {}) = 0;
  // Stops accepting; in-flight requests finish, then Run returns.
  virtual void Stop() = 0;
  virtual int port() const = 0;
  // The route table (the OpenAPI document lists exactly these).
  static std::vector<RouteInfo> Routes();
};

}  // namespace souk::server
