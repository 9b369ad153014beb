// `souk serve` for real: the binary listens on a free localhost port and a
// cpp-httplib client talks to it. Routes and JSON shapes, the OpenAPI
// document against the route table, the auth matrix (every scope on every
// route), malformed JSON and wrong types, oversized bodies, unknown routes,
// rate limits, concurrent decide/reward, and SIGTERM finishing cleanly.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "test_util.h"

namespace souk {
namespace {

using json = nlohmann::json;
using souk::testing::CmdResult;
using souk::testing::TempDir;

CmdResult Souk(const TempDir& dir, const std::string& args) { return souk::testing::RunSouk(dir, args); }

// A running `souk serve`: started on port 0, the port read from its first
// line; SIGTERM on destruction (unless stopped already).
class Served {
 public:
  Served(const std::string& dir, const std::string& flags = "") {
    int out[2];
    EXPECT_EQ(pipe(out), 0);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      const std::string cmd = std::string(SOUK_BINARY) + " serve " + dir + " --port 0 --quiet " + flags;
      execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), nullptr);
      _exit(127);
    }
    close(out[1]);
    out_ = fdopen(out[0], "r");
    char line[512] = {};
    if (fgets(line, sizeof line, out_)) {
      const std::string s = line;
      const size_t colon = s.rfind(':');
      if (colon != std::string::npos) port_ = std::atoi(s.c_str() + colon + 1);
    }
    EXPECT_GT(port_, 0) << "souk serve did not start: " << line;
  }
  ~Served() {
    if (pid_ > 0) Stop();
    if (out_) fclose(out_);
  }
  int port() const { return port_; }
  // SIGTERM; returns the exit code and what it printed after the first line.
  std::pair<int, std::string> Stop() {
    kill(pid_, SIGTERM);
    std::string rest;
    char buf[256];
    while (fgets(buf, sizeof buf, out_)) rest += buf;
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, rest};
  }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
  int port_ = 0;
};

std::string Key(const TempDir& dir, const std::string& shop, const std::string& scope) {
  CmdResult k = Souk(dir, "keys create " + shop + " --scope " + scope + " --json");
  EXPECT_EQ(k.code, 0) << k.err;
  return json::parse(k.out)["key"];
}

httplib::Headers Bearer(const std::string& key) { return {{"Authorization", "Bearer " + key}}; }

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    shop_ = dir_ / "shop";
    ASSERT_EQ(Souk(dir_, "gen " + shop_ + " --users 200 --items 150 --days 5 --seed 2").code, 0);
    ASSERT_EQ(Souk(dir_, "index " + shop_).code, 0);
    ASSERT_EQ(Souk(dir_, "campaign create " + shop_ + " hero --arms a,b,c --policy ts --seed 1").code, 0);
    keys_["admin"] = Key(dir_, shop_, "admin");
    keys_["search"] = Key(dir_, shop_, "search");
    keys_["events"] = Key(dir_, shop_, "events");
  }
  TempDir dir_;
  std::string shop_;
  std::map<std::string, std::string> keys_;
};

TEST_F(ServerTest, RoutesShapesAuthAndErrors) {
  Served s(shop_);
  httplib::Client c("127.0.0.1", s.port());
  // Health is public.
  auto h = c.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(json::parse(h->body)["status"], "ok");
  // Search: 401 without a key, 200 with a search key, hits and a request id.
  EXPECT_EQ(c.Get("/v1/search?q=shoes")->status, 401);
  auto r = c.Get("/v1/search?q=shoes&k=3", Bearer(keys_["search"]));
  ASSERT_EQ(r->status, 200) << r->body;
  const json sj = json::parse(r->body);
  EXPECT_EQ(sj["query"], "shoes");
  EXPECT_LE(sj["hits"].size(), 3u);
  EXPECT_TRUE(sj.contains("request_id"));
  EXPECT_TRUE(sj["hits"][0].contains("item_id"));
  // Wrong types and values are 400 with a message.
  auto bad_k = c.Get("/v1/search?q=shoes&k=zero", Bearer(keys_["search"]));
  EXPECT_EQ(bad_k->status, 400);
  EXPECT_NE(json::parse(bad_k->body)["error"].get<std::string>().find("'k'"), std::string::npos);
  EXPECT_EQ(c.Get("/v1/search?filter=price:[", Bearer(keys_["search"]))->status, 400);
  // Unknown routes: JSON 404.
  auto nf = c.Get("/v1/nope", Bearer(keys_["admin"]));
  EXPECT_EQ(nf->status, 404);
  EXPECT_EQ(json::parse(nf->body)["status"], 404);
  // Decide and reward: the decision joins its reward once.
  auto d = c.Post("/v1/decide", Bearer(keys_["search"]), R"({"campaign":"hero","user":"U1"})", "application/json");
  ASSERT_EQ(d->status, 200) << d->body;
  const json dj = json::parse(d->body);
  EXPECT_EQ(dj["arms"].size(), 1u);
  const std::string reward = json({{"decision", dj["decision"]}, {"value", 1}}).dump();
  auto r1 = c.Post("/v1/reward", Bearer(keys_["events"]), reward, "application/json");
  ASSERT_EQ(r1->status, 200) << r1->body;
  EXPECT_EQ(json::parse(r1->body)["duplicate"], false);
  auto r2 = c.Post("/v1/reward", Bearer(keys_["events"]), reward, "application/json");
  EXPECT_EQ(json::parse(r2->body)["duplicate"], true);
  auto unknown =
      c.Post("/v1/reward", Bearer(keys_["events"]), R"({"decision":"1-999-x","value":1})", "application/json");
  EXPECT_EQ(unknown->status, 404);
  EXPECT_EQ(c.Post("/v1/reward", Bearer(keys_["events"]), "{not json", "application/json")->status, 400);
  auto wrong_type = c.Post("/v1/reward", Bearer(keys_["events"]), R"({"decision":5,"value":1})", "application/json");
  EXPECT_EQ(wrong_type->status, 400);
  EXPECT_NE(wrong_type->body.find("'decision'"), std::string::npos) << wrong_type->body;
  EXPECT_EQ(c.Post("/v1/decide", Bearer(keys_["search"]), R"({"campaign":"nope"})", "application/json")->status, 404);
  // Metrics count what happened, by route pattern.
  auto m = c.Get("/metrics");
  ASSERT_EQ(m->status, 200);
  EXPECT_NE(m->body.find(R"(souk_requests_total{method="POST",route="/v1/reward",status="200"} 2)"), std::string::npos)
      << m->body;
  EXPECT_NE(m->body.find("souk_request_seconds_bucket"), std::string::npos);
  // SIGTERM: a clean stop.
  auto [code, rest] = s.Stop();
  EXPECT_EQ(code, 0);
  EXPECT_NE(rest.find("stopped"), std::string::npos);
}

TEST_F(ServerTest, OpenApiListsEveryRouteAndEveryScopeIsEnforced) {
  CmdResult rt = Souk(dir_, "serve " + shop_ + " --routes");
  ASSERT_EQ(rt.code, 0) << rt.err;
  const json routes = json::parse(rt.out)["routes"];
  ASSERT_GE(routes.size(), 5u);
  Served s(shop_);
  httplib::Client c("127.0.0.1", s.port());
  const json api = json::parse(c.Get("/openapi.json")->body);
  EXPECT_EQ(api["openapi"], "3.0.3");
  size_t ops = 0;
  for (const auto& [path, methods] : api["paths"].items()) ops += methods.size();
  EXPECT_EQ(ops, routes.size());
  for (const auto& r : routes) {
    std::string method = r["method"];
    for (char& ch : method) ch = static_cast<char>(std::tolower(ch));
    ASSERT_TRUE(api["paths"].contains(r["path"])) << r;
    EXPECT_TRUE(api["paths"][r["path"].get<std::string>()].contains(method)) << r;
  }
  // The matrix: no key, each scope, on each route.
  for (const auto& r : routes) {
    std::string path = r["path"];
    const std::string scope = r["scope"], method = r["method"];
    auto call = [&](const httplib::Headers& h) {
      if (method == "GET") return c.Get(path.c_str(), h);
      if (method == "DELETE") return c.Delete(path.c_str(), h);
      return c.Post(path.c_str(), h, "{}", "application/json");
    };
    auto none = call({});
    ASSERT_TRUE(none) << path;
    if (scope == "public") {
      EXPECT_EQ(none->status, 200) << path;
      continue;
    }
    EXPECT_EQ(none->status, 401) << path;
    EXPECT_EQ(call(Bearer("souk_admin_not-a-key"))->status, 401) << path;
    for (const std::string who : {"admin", "search", "events"}) {
      const int status = call(Bearer(keys_[who]))->status;
      if (who == "admin" || who == scope)
        EXPECT_TRUE(status != 401 && status != 403) << path << " as " << who << ": " << status;
      else
        EXPECT_EQ(status, 403) << path << " as " << who;
    }
  }
}

TEST_F(ServerTest, LimitsAndConcurrentWriters) {
  Served s(shop_, "--rate 20 --max-body-mb 1");
  httplib::Client c("127.0.0.1", s.port());
  // A 2 MiB body is refused before any handler runs.
  const std::string big = "{\"campaign\":\"" + std::string(2 << 20, 'x') + "\"}";
  auto b = c.Post("/v1/decide", Bearer(keys_["search"]), big, "application/json");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->status, 413);
  // 120 requests in a row from one key: the bucket (40, refilled at 20/s)
  // runs dry -> 429s (unless the requests took over 4 s).
  int limited = 0;
  for (int i = 0; i < 120; ++i) limited += c.Get("/v1/search?q=shoes", Bearer(keys_["search"]))->status == 429;
  EXPECT_GT(limited, 0);
  // Concurrent decide + reward from 4 threads (admin key; its own bucket
  // refills at 20/s, so the threads pace themselves on 429).
  std::atomic<int> rewarded{0}, errors{0};
  std::vector<std::thread> pool;
  for (int w = 0; w < 4; ++w)
    pool.emplace_back([&] {
      httplib::Client cw("127.0.0.1", s.port());
      for (int t = 0; t < 10; ++t) {
        // Retries while the key's bucket is empty (429).
        auto post = [&](const char* path, const std::string& body) -> std::pair<int, std::string> {
          for (;;) {
            auto res = cw.Post(path, Bearer(keys_["admin"]), body, "application/json");
            if (!res) return {-1, ""};
            if (res->status != 429) return {res->status, res->body};
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
          }
        };
        auto [ds, dbody] = post("/v1/decide", R"({"campaign":"hero"})");
        if (ds != 200) {
          ++errors;
          continue;
        }
        const std::string body = json({{"decision", json::parse(dbody)["decision"]}, {"value", 1}}).dump();
        if (post("/v1/reward", body).first == 200)
          ++rewarded;
        else
          ++errors;
      }
    });
  for (auto& t : pool) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(rewarded.load(), 40);
  s.Stop();
  // Every accepted reward is in the store: a fresh process sees them.
  CmdResult show = Souk(dir_, "campaign show " + shop_ + " hero --json");
  ASSERT_EQ(show.code, 0) << show.err;
  EXPECT_EQ(json::parse(show.out)["rewarded"], 40);
}

TEST_F(ServerTest, RecommendationsAndCatalogAreRealTime) {
  ASSERT_EQ(Souk(dir_, "train " + shop_).code, 0);
  Served s(shop_);
  httplib::Client c("127.0.0.1", s.port());
  const auto admin = Bearer(keys_["admin"]), search = Bearer(keys_["search"]), events = Bearer(keys_["events"]);
  // A user's recommendations, then an event posted now changes the next
  // answer (iALS folds the history in at request time).
  auto before = c.Get("/v1/recommend/U000010?k=10", search);
  ASSERT_EQ(before->status, 200) << before->body;
  const json bj = json::parse(before->body);
  EXPECT_EQ(bj["user"], "U000010");
  ASSERT_EQ(bj["items"].size(), 10u);
  EXPECT_TRUE(bj.contains("request_id"));
  const std::string top = bj["items"][0]["item_id"];
  const std::string ev =
      json::array({{{"user_id", "U000010"}, {"item_id", top}, {"event_type", "purchase"}, {"timestamp", 1782864000}},
                   {{"user_id", "U000010"}, {"event_type", "bogus"}, {"timestamp", "x"}}})
          .dump();
  auto post = c.Post("/v1/events", events, ev, "application/json");
  ASSERT_EQ(post->status, 200) << post->body;
  const json pj = json::parse(post->body);
  EXPECT_EQ(pj["read"], 2);
  EXPECT_EQ(pj["accepted"], 1);
  EXPECT_EQ(pj["rejected"], 1);
  EXPECT_FALSE(pj.contains("file"));  // no server paths in answers
  auto after = c.Get("/v1/recommend/U000010?k=10", search);
  ASSERT_EQ(after->status, 200);
  const json aj = json::parse(after->body);
  EXPECT_EQ(aj["history"].get<int>(), bj["history"].get<int>() + 1);
  for (const auto& it : aj["items"]) EXPECT_NE(it["item_id"], top) << "a purchased item is excluded at once";
  // Similar items and an anonymous session.
  auto sim = c.Get("/v1/similar/" + top + "?k=5", search);
  ASSERT_EQ(sim->status, 200) << sim->body;
  EXPECT_EQ(json::parse(sim->body)["items"].size(), 5u);
  EXPECT_EQ(c.Get("/v1/similar/NO-SUCH-ITEM", search)->status, 404);
  auto sess = c.Post("/v1/recommend/session", search, json({{"items", {top}}, {"k", 4}}).dump(), "application/json");
  ASSERT_EQ(sess->status, 200) << sess->body;
  EXPECT_EQ(json::parse(sess->body)["items"].size(), 4u);
  EXPECT_EQ(c.Post("/v1/recommend/session", search, R"({"items":"x"})", "application/json")->status, 400);
  // An item upserted now is searchable on the next request; deleted, gone.
  auto up = c.Post("/v1/items", admin,
                   R"([{"item_id":"NEW1","title":"Zorblax quantum kettle","category":"Home > Kitchen","price":20}])",
                   "application/json");
  ASSERT_EQ(up->status, 200) << up->body;
  auto found = json::parse(c.Get("/v1/search?q=zorblax", search)->body);
  ASSERT_EQ(found["hits"].size(), 1u) << found;
  EXPECT_EQ(found["hits"][0]["item_id"], "NEW1");
  EXPECT_EQ(c.Delete("/v1/items/NEW1", admin)->status, 200);
  EXPECT_EQ(json::parse(c.Get("/v1/search?q=zorblax", search)->body)["hits"].size(), 0u);
  EXPECT_EQ(c.Delete("/v1/items/NEVER", admin)->status, 404);
  // A bad batch is refused whole: a header-less or broken body stores nothing.
  auto broken = c.Post("/v1/events", events, "[{\"user_id\":", "application/json");
  EXPECT_EQ(broken->status, 400);
  auto sug = c.Get("/v1/suggest?q=sh", search);
  ASSERT_EQ(sug->status, 200);
  EXPECT_TRUE(json::parse(sug->body)["suggestions"].is_array());

  // Background retraining: 202 with a job, requests keep being answered
  // while it runs, and the new models swap in (model_version + 1).
  EXPECT_EQ(c.Post("/v1/admin/train", search, "", "application/json")->status, 403);
  auto job = c.Post("/v1/admin/train", admin, "", "application/json");
  ASSERT_EQ(job->status, 202) << job->body;
  const json jj = json::parse(job->body);
  const int version = jj["model_version"];
  EXPECT_EQ(jj["status"], "running");
  json status;
  int served_meanwhile = 0;
  for (int i = 0; i < 600; ++i) {
    served_meanwhile += c.Get("/v1/recommend/U000010?k=3", search)->status == 200;
    status = json::parse(c.Get("/v1/admin/train", admin)->body);
    if (status["status"] != "running") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(status["status"], "done") << status;
  EXPECT_EQ(status["model_version"], version + 1) << status;
  EXPECT_GT(served_meanwhile, 0);
  EXPECT_EQ(c.Get("/v1/recommend/U000010?k=3", search)->status, 200);
  EXPECT_NE(c.Get("/metrics")->body.find("souk_model_version " + std::to_string(version + 1)), std::string::npos);
}

}  // namespace
}  // namespace souk
