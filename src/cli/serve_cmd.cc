// `souk serve DIR` (the HTTP API, src/server) and `souk keys create|list`.
#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/commands.h"
#include "server/server.h"

using json = nlohmann::json;

namespace souk::cli {
namespace {

int Fail(const Status& s) {
  std::fprintf(stderr, "souk: error: %s\n", s.message().c_str());
  return 1;
}

}  // namespace

int ServeCommand(const ServeArgs& a) {
  if (a.routes) {
    json out = json::array();
    for (const auto& r : server::Server::Routes())
      out.push_back({{"method", r.method}, {"path", r.path}, {"scope", r.scope}, {"summary", r.summary}});
    std::printf("%s\n", json({{"routes", out}}).dump().c_str());
    return 0;
  }
  server::ServerOptions o;
  o.host = a.host;
  o.port = a.port;
  o.rate_per_key = a.rate;
  o.burst = 2 * a.rate;
  o.max_body = a.max_body_mb << 20;
  o.threads = a.threads;
  o.retrain_minutes = a.retrain_minutes;
  o.log = !a.quiet;
  auto srv = server::Server::Open(a.dir, o);
  if (!srv.ok()) return Fail(srv.status());
  // SIGTERM / SIGINT stop the server from a thread that waits for them
  // (not a signal handler): in-flight requests finish, then Run returns.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&set, &sig);
    if (sig == SIGTERM || sig == SIGINT) (*srv)->Stop();
  });
  Status s = (*srv)->Run([&](int port) {
    std::printf("souk: serving %s on http://%s:%d (Ctrl-C to stop)\n", a.dir.c_str(), a.host.c_str(), port);
    std::fflush(stdout);
  });
  // Wake the waiter if Run ended by itself.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  if (!s.ok()) return Fail(s);
  std::printf("souk: stopped\n");
  return 0;
}

int KeysCommand(const std::string& action, const std::string& dir, const std::string& scope, bool as_json) {
  if (action == "create") {
    auto sc = server::ParseScope(scope);
    if (!sc.ok()) return Fail(sc.status());
    auto k = server::CreateKey(dir, *sc);
    if (!k.ok()) return Fail(k.status());
    if (as_json)
      std::printf("%s\n", json({{"key", k->first}, {"id", k->second.id}, {"scope", scope}}).dump().c_str());
    else
      std::printf("%s\n(a %s key, id %s; shown once: souk keeps only its hash in %s/keys.json)\n", k->first.c_str(),
                  scope.c_str(), k->second.id.c_str(), dir.c_str());
    return 0;
  }
  auto keys = server::ListKeys(dir);
  if (!keys.ok()) return Fail(keys.status());
  json out = json::array();
  for (const auto& k : *keys) {
    if (as_json)
      out.push_back({{"id", k.id}, {"scope", server::ScopeName(k.scope)}, {"created_ms", k.created_ms}});
    else
      std::printf("%s  %-7s\n", k.id.c_str(), server::ScopeName(k.scope));
  }
  if (as_json) std::printf("%s\n", json({{"keys", out}}).dump().c_str());
  return 0;
}

}  // namespace souk::cli
