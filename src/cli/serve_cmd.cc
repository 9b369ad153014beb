// `souk serve DIR` (the HTTP API, src/server) and `souk keys create|list`.
#include <pthread.h>

#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "bandit/bandit.h"
#include "campaign/campaign.h"
#include "cli/commands.h"
#include "server/server.h"
#include "store/store.h"

using json = nlohmann::json;

namespace souk::cli {

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
  o.read_timeout_s = o.write_timeout_s = a.timeout_s;
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
    if (!a.console_key.empty())
      std::printf("console: http://%s:%d/#key=%s\nAPI:     curl -H 'Authorization: Bearer %s' "
                  "'http://%s:%d/v1/search?q=running+shoes'\n",
                  a.host.c_str(), port, a.console_key.c_str(), a.console_key.c_str(), a.host.c_str(), port);
    std::fflush(stdout);
  });
  // Wake the waiter if Run ended by itself.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  if (!s.ok()) return Fail(s);
  std::printf("souk: stopped\n");
  return 0;
}

namespace {

namespace fs = std::filesystem;

// Runs `souk ARGS...` (this executable) in a child and waits: each demo step
// is exactly the command a user would type, with its own progress output.
Status RunSelf(const std::vector<std::string>& args) {
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return Status::IoError("cannot find the souk executable");
  exe[n] = '\0';
  std::string shown = "souk";
  for (const auto& a : args) shown += " " + a;
  std::printf("\n$ %s\n", shown.c_str());
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv{exe};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(exe, argv.data());
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return Status::IoError("cannot run " + shown);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return Status::Internal(fmt::format("`{}` failed (exit {})", shown, WIFEXITED(status) ? WEXITSTATUS(status) : -1));
  return Status::Ok();
}

// A demo campaign for the dashboard's bandit view: three banners, Thompson
// sampling, warmed with simulated visitors whose click rates are fixed here
// (4%, 6%, 9%), so the chart shows the policy moving to the best banner.
Status WarmDemoCampaign(const std::string& dir) {
  StoreOptions so;
  so.create_if_missing = false;
  SOUK_ASSIGN_OR_RETURN(auto store, Store::OpenSqlite((fs::path(dir) / "souk.db").string(), so));
  campaign::CampaignService service(store.get());
  SOUK_ASSIGN_OR_RETURN(auto existing, service.List());
  for (const auto& c : existing)
    if (c.name == "homepage_banner") return Status::Ok();
  campaign::CampaignSpec spec;
  spec.name = "homepage_banner";
  spec.policy = "ts";
  spec.arms = {"spring_sale", "free_shipping", "new_arrivals"};
  spec.seed = 7;
  SOUK_RETURN_IF_ERROR(service.Create(spec).status());
  const double ctr[] = {0.04, 0.06, 0.09};
  bandit::Rng rng(11);
  const int visitors = 3000;
  for (int i = 0; i < visitors; ++i) {
    SOUK_ASSIGN_OR_RETURN(auto d, service.Decide(spec.name, fmt::format("U{:06d}", 1 + i % 5000), {}));
    const double click = rng.Uniform() < ctr[d.arms[0]] ? 1.0 : 0.0;
    SOUK_RETURN_IF_ERROR(service.Reward(d.id, {click}).status());
  }
  SOUK_RETURN_IF_ERROR(service.Flush());
  std::printf("campaign homepage_banner: %d simulated visitors (click rates 4%%, 6%%, 9%%)\n", visitors);
  return Status::Ok();
}

}  // namespace

int DemoCommand(const DemoArgs& a) {
  const std::string& dir = a.dir;
  std::error_code ec;
  if (a.fresh && fs::exists(dir)) {
    // Only a souk data directory (or an empty one) is deleted.
    if (!fs::exists(fs::path(dir) / "souk.db") && !fs::is_empty(dir, ec))
      return Fail(Status::FailedPrecondition(
          fmt::format("--fresh would delete '{}', which is not a souk data directory; give another DIR", dir)));
    fs::remove_all(dir, ec);
  }
  const bool reuse = fs::exists(fs::path(dir) / "souk.db");
  std::vector<std::vector<std::string>> steps;
  if (!reuse) {
    steps.push_back({"gen", dir, "--users", "5000", "--items", "2000", "--days", "60", "--seed", "42"});
    steps.push_back({"quality", dir, "--html", (fs::path(dir) / "quality.html").string()});
    steps.push_back({"clean", dir});
  } else {
    std::printf("souk demo: reusing the shop in %s (--fresh builds it again)\n", dir.c_str());
  }
  if (!reuse || !fs::exists(fs::path(dir) / "index" / "search.idx")) steps.push_back({"index", dir});
  if (!reuse || !fs::exists(fs::path(dir) / "models" / "ials.bin")) {
    steps.push_back({"train", dir});
    steps.push_back({"train", dir, "--model", "bpr"});  // trains by epochs: a curve for the dashboard
  }
  if (!reuse || !fs::exists(fs::path(dir) / "reports" / "eval.json")) steps.push_back({"eval", dir, "--all"});
  for (const auto& step : steps) {
    Status st = RunSelf(step);
    if (!st.ok()) return Fail(st);
  }
  Status warm = WarmDemoCampaign(dir);
  if (!warm.ok()) return Fail(warm);
  // The demo's admin key is kept in DIR/demo-key (mode 0600) so a reused
  // demo shop keeps one key instead of gaining one per run.
  const fs::path key_file = fs::path(dir) / "demo-key";
  Result<std::pair<std::string, server::KeyInfo>> key = Status::NotFound("no demo key");
  {
    std::ifstream in(key_file);
    std::string saved;
    if (in && std::getline(in, saved) && saved.rfind("souk_admin_", 0) == 0)
      key = std::pair<std::string, server::KeyInfo>{saved, {}};
  }
  if (!key.ok()) {
    key = server::CreateKey(dir, server::Scope::kAdmin);
    if (!key.ok()) return Fail(key.status());
    std::ofstream out(key_file, std::ios::trunc);
    out << key->first << "\n";
    out.close();
    fs::permissions(key_file, fs::perms::owner_read | fs::perms::owner_write, ec);
  }
  if (a.no_serve) {
    std::printf("\ndemo shop ready in %s\nadmin key: %s\nserve it: souk serve %s, then open http://%s:%d/#key=%s\n",
                dir.c_str(), key->first.c_str(), dir.c_str(), a.host.c_str(), a.port, key->first.c_str());
    return 0;
  }
  std::printf("\nadmin key (kept in %s): %s\n", key_file.string().c_str(), key->first.c_str());
  std::fflush(stdout);
  ServeArgs s;
  s.console_key = key->first;
  s.dir = dir;
  s.host = a.host;
  s.port = a.port;
  s.quiet = a.quiet;
  return ServeCommand(s);
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
