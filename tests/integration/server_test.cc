// `souk serve` for real: the binary listens on a free localhost port and a
// cpp-httplib client talks to it. Routes and JSON shapes, the OpenAPI
// document against the route table, the auth matrix (every scope on every
// route), malformed JSON and wrong types, oversized bodies, unknown routes,
// rate limits, concurrent decide/reward, and SIGTERM finishing cleanly.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
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

std::string fmt_user(int n) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "U%06d", 1 + n);
  return buf;
}

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
      // The console's routes are 404 in a build without it (and for a file
      // that is not there); every other public route answers.
      if (path == "/" || path.rfind("/assets/", 0) == 0)
        EXPECT_TRUE(none->status == 200 || none->status == 404) << path;
      else
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

// The serving caches stay coherent with the store, what responses show is
// logged as impressions that events can name, the dashboard's admin routes
// answer, personalization re-orders search for a user, and a client that
// stalls mid-request is cut off by the timeout while others are served.
TEST_F(ServerTest, CachesImpressionsAdminRoutesAndTimeouts) {
  ASSERT_EQ(Souk(dir_, "train " + shop_).code, 0);
  Served s(shop_, "--timeout 1");
  httplib::Client c("127.0.0.1", s.port());
  const auto admin = Bearer(keys_["admin"]), search = Bearer(keys_["search"]), events = Bearer(keys_["events"]);
  // Cached answers are the same answers (request ids aside), with the
  // catalog's display fields.
  const json first = json::parse(c.Get("/v1/recommend/U000020?k=5", search)->body);
  const json again = json::parse(c.Get("/v1/recommend/U000020?k=5", search)->body);
  ASSERT_EQ(first["items"].size(), 5u) << first;
  EXPECT_EQ(first["items"], again["items"]);
  EXPECT_NE(first["request_id"], again["request_id"]);
  EXPECT_TRUE(first["items"][0].contains("title"));
  EXPECT_TRUE(first["items"][0].contains("price"));
  json metrics_hit;
  EXPECT_NE(c.Get("/metrics")->body.find("souk_rec_cache_total{result=\"hit\"} 1"), std::string::npos);
  // Another process writes events for this user (souk import while the
  // server runs): within a second the cached answer is dropped.
  const std::string top = first["items"][0]["item_id"];
  const std::string file = dir_ / "late.csv";
  {
    std::FILE* f = std::fopen(file.c_str(), "w");
    std::fprintf(f, "user_id,item_id,event_type,timestamp\nU000020,%s,purchase,1782864001\n", top.c_str());
    std::fclose(f);
  }
  CmdResult imp = Souk(dir_, "import " + shop_ + " --events " + file);
  ASSERT_EQ(imp.code, 0) << imp.err;
  json changed;
  for (int i = 0; i < 20; ++i) {
    changed = json::parse(c.Get("/v1/recommend/U000020?k=5", search)->body);
    if (changed["history"] != first["history"]) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(changed["history"].get<int>(), first["history"].get<int>() + 1) << "stale after an external import";
  for (const auto& it : changed["items"]) EXPECT_NE(it["item_id"], top);

  // Impressions: the items a response showed, in order, under its request
  // id; an event naming the request id and a position is stored with them.
  const json shown = json::parse(c.Get("/v1/search?q=shoes&k=4", search)->body);
  ASSERT_GT(shown["hits"].size(), 1u) << shown;
  const std::string rid = shown["request_id"];
  json impression;
  for (int i = 0; i < 30; ++i) {  // written in the background within ~200 ms
    auto r = c.Get("/v1/admin/impressions/" + rid, admin);
    if (r->status == 200) {
      impression = json::parse(r->body);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_FALSE(impression.is_null()) << "impression " << rid << " never logged";
  EXPECT_EQ(impression["surface"], "search");
  EXPECT_EQ(impression["query"], "shoes");
  ASSERT_EQ(impression["items"].size(), shown["hits"].size());
  for (size_t i = 0; i < shown["hits"].size(); ++i) EXPECT_EQ(impression["items"][i], shown["hits"][i]["item_id"]);
  EXPECT_EQ(c.Get("/v1/admin/impressions/rNOPE", admin)->status, 404);
  EXPECT_EQ(c.Get("/v1/admin/impressions/" + rid, search)->status, 403);
  const std::string clicked = shown["hits"][1]["item_id"];
  const std::string click = json::array({{{"user_id", "U000021"},
                                          {"item_id", clicked},
                                          {"event_type", "click"},
                                          {"timestamp", 1782864002},
                                          {"request_id", rid},
                                          {"position", 1}}})
                                .dump();
  auto posted = c.Post("/v1/events", events, click, "application/json");
  ASSERT_EQ(posted->status, 200) << posted->body;
  EXPECT_EQ(json::parse(posted->body)["accepted"], 1);

  // Only catalog items are recommended: the shop has placeholders (events
  // naming items it never imported) and none of them comes back.
  const json many = json::parse(c.Get("/v1/recommend/U000030?k=60", search)->body);
  ASSERT_GT(many["items"].size(), 10u);
  for (const auto& it : many["items"])
    EXPECT_EQ(c.Get("/v1/items/" + it["item_id"].get<std::string>(), search)->status, 200) << it;
  // One item, in full; unknown ones 404.
  auto item = c.Get("/v1/items/" + clicked, search);
  ASSERT_EQ(item->status, 200) << item->body;
  const json ij = json::parse(item->body);
  EXPECT_EQ(ij["item_id"], clicked);
  for (const char* f : {"title", "description", "brand", "category", "price", "stock", "attrs"})
    EXPECT_TRUE(ij.contains(f)) << f;
  EXPECT_EQ(c.Get("/v1/items/NO-SUCH", search)->status, 404);

  // Personalized search: the same hits as BM25F's best `depth`, re-ordered
  // for the user; without a user, or for an unknown one, BM25F's order.
  const json plain = json::parse(c.Get("/v1/search?q=shoes&k=100", search)->body);
  const json mine = json::parse(c.Get("/v1/search?q=shoes&k=100&user=U000020", search)->body);
  ASSERT_TRUE(mine.contains("personalized")) << mine;
  EXPECT_FALSE(plain.contains("personalized"));
  std::set<std::string> a, b;
  for (const auto& h : plain["hits"]) a.insert(h["item_id"]);
  for (const auto& h : mine["hits"]) b.insert(h["item_id"]);
  EXPECT_EQ(a, b);
  const json nobody = json::parse(c.Get("/v1/search?q=shoes&k=100&user=NOBODY", search)->body);
  EXPECT_FALSE(nobody.contains("personalized"));
  EXPECT_EQ(nobody["hits"], plain["hits"]);
  // Pages of a personalized search tile its order.
  ASSERT_GE(mine["hits"].size(), 3u);
  const json p1 = json::parse(c.Get("/v1/search?q=shoes&per_page=2&page=1&user=U000020", search)->body);
  const json p2 = json::parse(c.Get("/v1/search?q=shoes&per_page=2&page=2&user=U000020", search)->body);
  ASSERT_EQ(p1["hits"].size(), 2u);
  ASSERT_EQ(p2["hits"].size(), std::min<size_t>(2, mine["hits"].size() - 2));
  for (size_t i = 0; i < p1["hits"].size(); ++i) EXPECT_EQ(p1["hits"][i]["item_id"], mine["hits"][i]["item_id"]);
  for (size_t i = 0; i < p2["hits"].size(); ++i) EXPECT_EQ(p2["hits"][i]["item_id"], mine["hits"][2 + i]["item_id"]);

  // The dashboard's routes.
  const json ov = json::parse(c.Get("/v1/admin/overview", admin)->body);
  EXPECT_GT(ov["counts"]["events"].get<int>(), 0);
  EXPECT_EQ(ov["models"]["user_model"], "ials");
  const json q = json::parse(c.Get("/v1/admin/quality", admin)->body);
  ASSERT_TRUE(q["rules"].is_array());
  EXPECT_GT(q["rules"].size(), 3u);
  EXPECT_GT(q["days"].size(), 2u);
  for (const auto& r : q["rules"]) EXPECT_LE(r.value("flagged", json::array()).size(), 20u);
  EXPECT_EQ(c.Get("/v1/admin/eval", admin)->status, 404);  // not evaluated yet
  EXPECT_TRUE(json::parse(c.Get("/v1/admin/runs", admin)->body)["runs"].is_array());
  for (int i = 0; i < 30; ++i) {
    auto d = c.Post("/v1/decide", admin, R"({"campaign":"hero"})", "application/json");
    ASSERT_EQ(d->status, 200) << d->body;
    c.Post("/v1/reward", admin, json({{"decision", json::parse(d->body)["decision"]}, {"value", i % 2}}).dump(),
           "application/json");
  }
  const json hero = json::parse(c.Get("/v1/campaigns/hero", admin)->body);
  ASSERT_EQ(hero["arms"].size(), 3u) << hero;
  int pulls = 0;
  for (const auto& arm : hero["arms"]) pulls += arm["pulls"].get<int>();
  EXPECT_EQ(pulls, 30);
  ASSERT_FALSE(hero["history"].empty());
  for (const auto& h : hero["history"]) {
    double sum = 0;
    for (double p : h["probabilities"]) sum += p;
    EXPECT_NEAR(sum, 1.0, 1e-9);
  }
  EXPECT_EQ(c.Get("/v1/campaigns/nope", admin)->status, 404);

  // A client that sends half a request and stalls is cut off after the
  // 1 s timeout; meanwhile other clients are served.
  httplib::Client other("127.0.0.1", s.port());
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(s.port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const char* half = "GET /health HTTP/1.1\r\nHost: x\r\n";  // no blank line: never finished
  ASSERT_GT(write(fd, half, std::strlen(half)), 0);
  EXPECT_EQ(other.Get("/health")->status, 200);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[512];
  const auto t0 = std::chrono::steady_clock::now();
  const ssize_t n = read(fd, buf, sizeof buf);  // 0 (closed) or an error answer, not a 5 s wait
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  close(fd);
  EXPECT_LT(waited, 4.5) << "the stalled connection was not cut off";
  EXPECT_GE(n, 0);
}

// Writers and readers at once: 3 threads post events while 3 read search
// and recommendations; then SIGTERM while posts are still going. Every
// event the server answered "accepted" is in the store afterwards, counted
// by a fresh process.
TEST_F(ServerTest, ConcurrentWritersAndReadersAndShutdownLoseNoEvent) {
  ASSERT_EQ(Souk(dir_, "train " + shop_).code, 0);
  CmdResult before = Souk(dir_, "info " + shop_ + " --json");
  ASSERT_EQ(before.code, 0) << before.err;
  const int64_t events_before = json::parse(before.out)["events"];
  auto s = std::make_unique<Served>(shop_, "--rate 100000");
  const int port = s->port();
  std::atomic<int64_t> accepted{0};
  std::atomic<int> read_errors{0}, reads{0}, write_errors{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> pool;
  for (int w = 0; w < 3; ++w)
    pool.emplace_back([&, w] {
      httplib::Client c("127.0.0.1", port);
      for (int batch = 0; !stop; ++batch) {
        json rows = json::array();
        for (int i = 0; i < 20; ++i)
          rows.push_back({{"user_id", fmt_user(w * 7 + i)},
                          {"item_id", "I000" + std::to_string(100 + (batch * 20 + i) % 50)},
                          {"event_type", "view"},
                          {"timestamp", 1782900000 + w * 1000000 + batch * 20 + i}});
        auto r = c.Post("/v1/events", Bearer(keys_["events"]), rows.dump(), "application/json");
        if (!r) break;  // the server went away (the SIGTERM below)
        if (r->status != 200) {
          ++write_errors;
          continue;
        }
        accepted += json::parse(r->body)["accepted"].get<int64_t>();
      }
    });
  for (int rd = 0; rd < 3; ++rd)
    pool.emplace_back([&, rd] {
      httplib::Client c("127.0.0.1", port);
      while (!stop) {
        auto r = rd % 2 ? c.Get("/v1/search?q=shoes", Bearer(keys_["search"]))
                        : c.Get("/v1/recommend/" + fmt_user(rd) + "?k=5", Bearer(keys_["search"]));
        if (!r) break;
        ++reads;
        read_errors += r->status != 200;
      }
    });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const auto [code, rest] = s->Stop();  // SIGTERM with writes in flight
  stop = true;
  for (auto& t : pool) t.join();
  EXPECT_EQ(code, 0) << rest;
  EXPECT_EQ(read_errors.load(), 0);
  EXPECT_EQ(write_errors.load(), 0);
  EXPECT_GT(reads.load(), 10);
  EXPECT_GT(accepted.load(), 100);
  CmdResult after = Souk(dir_, "info " + shop_ + " --json");
  ASSERT_EQ(after.code, 0) << after.err;
  EXPECT_EQ(json::parse(after.out)["events"].get<int64_t>(), events_before + accepted.load());
}

}  // namespace
}  // namespace souk

namespace souk {
namespace {

// With DIR/models/ltr-search.json, /v1/search re-ranks BM25F's top
// rank.depth by it (rank=none turns it off per request); a corrupt model
// is reported and BM25F's order is served.
TEST_F(ServerTest, SearchIsReRankedByTheLtrModel) {
  CmdResult t = Souk(dir_, "train " + shop_ + " --model ltr-search --json");
  ASSERT_EQ(t.code, 0) << t.err;
  {
    Served s(shop_);
    httplib::Client c("127.0.0.1", s.port());
    auto ranked = c.Get("/v1/search?q=shoes&k=5&user=U000003", Bearer(keys_["search"]));
    ASSERT_EQ(ranked->status, 200) << ranked->body;
    const json rj = json::parse(ranked->body);
    EXPECT_EQ(rj["model"], "ltr-search");
    EXPECT_EQ(rj["ranked"]["model"], "ltr-search");
    EXPECT_EQ(rj["ranked"]["user"], "U000003");
    auto plain = c.Get("/v1/search?q=shoes&k=50&rank=none", Bearer(keys_["search"]));
    ASSERT_EQ(plain->status, 200);
    const json pj = json::parse(plain->body);
    EXPECT_FALSE(pj.contains("ranked"));
    // The re-ranked page holds BM25F's candidates, no others, no repeats.
    std::set<std::string> bm25, seen;
    for (const auto& h : pj["hits"]) bm25.insert(h["item_id"].get<std::string>());
    ASSERT_FALSE(rj["hits"].empty());
    for (const auto& h : rj["hits"]) {
      EXPECT_TRUE(bm25.count(h["item_id"].get<std::string>())) << h;
      EXPECT_TRUE(seen.insert(h["item_id"].get<std::string>()).second) << h;
    }
    EXPECT_EQ(c.Get("/v1/search?q=shoes&rank=other", Bearer(keys_["search"]))->status, 400);
    // Pages past rank.depth are BM25F's.
    auto deep = c.Get("/v1/search?q=shoes&k=10&page=6", Bearer(keys_["search"]));
    ASSERT_EQ(deep->status, 200);
    EXPECT_FALSE(json::parse(deep->body).contains("ranked"));
    // The ranker's feature store over HTTP (admin), following the log.
    const auto admin = Bearer(keys_["admin"]);
    EXPECT_EQ(c.Get("/v1/admin/features?user=U000003", Bearer(keys_["search"]))->status, 403);
    EXPECT_EQ(c.Get("/v1/admin/features", admin)->status, 400);
    EXPECT_EQ(c.Get("/v1/admin/features?user=nobody", admin)->status, 404);
    const std::string item = rj["hits"][0]["item_id"];
    auto f = c.Get("/v1/admin/features?user=U000003&item=" + item + "&q=shoes", admin);
    ASSERT_EQ(f->status, 200) << f->body;
    const json fj = json::parse(f->body);
    EXPECT_EQ(fj["source"], "ltr-search");
    EXPECT_EQ(fj["ranking_features"].size(), 35u);
    const uint64_t events = fj["user"]["events"], purchases = fj["item"]["purchases"];
    const std::string ev = json::array({{{"user_id", "U000003"},
                                         {"item_id", item},
                                         {"event_type", "purchase"},
                                         {"timestamp", fj["at_ms"].get<int64_t>() / 1000}}})
                               .dump();
    ASSERT_EQ(c.Post("/v1/events", Bearer(keys_["events"]), ev, "application/json")->status, 200);
    const json after = json::parse(c.Get("/v1/admin/features?user=U000003&item=" + item, admin)->body);
    EXPECT_EQ(after["user"]["events"].get<uint64_t>(), events + 1) << after;
    EXPECT_EQ(after["item"]["purchases"].get<uint64_t>(), purchases + 1) << after;
  }
  { std::ofstream(shop_ + "/models/ltr-search.json") << "garbage"; }
  Served s(shop_);
  httplib::Client c("127.0.0.1", s.port());
  auto r = c.Get("/v1/search?q=shoes&k=5", Bearer(keys_["search"]));
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_FALSE(json::parse(r->body).contains("ranked"));
}

}  // namespace
}  // namespace souk

namespace souk {
namespace {

// Business rules over HTTP (admin only) and from the CLI while serving:
// a pin moves an item to its position for its query, a hide by filter
// removes what it matches without shortening the page, deletes undo them.
TEST_F(ServerTest, BusinessRulesPinHideAndDelete) {
  Served s(shop_);
  httplib::Client c("127.0.0.1", s.port());
  const auto admin = Bearer(keys_["admin"]), search = Bearer(keys_["search"]);
  auto base = c.Get("/v1/search?q=for&k=10&rank=none", search);
  ASSERT_EQ(base->status, 200);
  const json bj = json::parse(base->body);
  ASSERT_GE(bj["hits"].size(), 6u);
  const std::string fifth = bj["hits"][4]["item_id"];
  const std::string brand = bj["hits"][0]["brand"];
  // Scopes and validation.
  const std::string pin = R"({"kind":"pin","query":"For ","item":")" + fifth + R"(","position":1})";
  EXPECT_EQ(c.Post("/v1/admin/rules", search, pin, "application/json")->status, 403);
  EXPECT_EQ(c.Post("/v1/admin/rules", admin, R"({"kind":"pin","item":"x"})", "application/json")->status, 400);
  EXPECT_EQ(c.Post("/v1/admin/rules", admin, R"({"kind":"hide","filter":"price:["})", "application/json")->status, 400);
  auto added = c.Post("/v1/admin/rules", admin, pin, "application/json");
  ASSERT_EQ(added->status, 201) << added->body;
  const int64_t pin_id = json::parse(added->body)["id"];
  auto pinned = json::parse(c.Get("/v1/search?q=for&k=10&rank=none", search)->body);
  EXPECT_EQ(pinned["hits"][0]["item_id"], fifth);
  EXPECT_EQ(pinned["hits"].size(), bj["hits"].size());
  EXPECT_EQ(pinned["rules"], json::array({pin_id}));
  // Other queries are untouched.
  EXPECT_FALSE(json::parse(c.Get("/v1/search?q=bag&k=5&rank=none", search)->body).contains("rules"));
  // A hide by filter from the CLI while serving: seen within a second.
  ASSERT_EQ(Souk(dir_, "rules add " + shop_ + " --kind hide --filter 'brand:\"" + brand + "\"'").code, 0);
  json hidden;
  for (int i = 0; i < 20; ++i) {
    hidden = json::parse(c.Get("/v1/search?q=for&k=10&rank=none", search)->body);
    if (hidden["rules"].size() == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(hidden["rules"].size(), 2u);
  std::set<std::string> ids;
  for (const auto& h : hidden["hits"]) {
    EXPECT_NE(h["brand"], brand) << h;
    EXPECT_TRUE(ids.insert(h["item_id"].get<std::string>()).second);
  }
  EXPECT_EQ(hidden["hits"].size(), std::min<size_t>(10, hidden["found"].get<size_t>()));
  auto listed = json::parse(c.Get("/v1/admin/rules", admin)->body);
  ASSERT_EQ(listed["rules"].size(), 2u);
  // Delete both: the answer is BM25F's again.
  EXPECT_EQ(c.Delete("/v1/admin/rules/" + std::to_string(pin_id), admin)->status, 200);
  EXPECT_EQ(c.Delete("/v1/admin/rules/" + std::to_string(pin_id), admin)->status, 404);
  EXPECT_EQ(c.Delete("/v1/admin/rules/abc", admin)->status, 400);
  EXPECT_EQ(c.Delete("/v1/admin/rules/" + listed["rules"][1]["id"].dump(), admin)->status, 200);
  auto back = json::parse(c.Get("/v1/search?q=for&k=10&rank=none", search)->body);
  EXPECT_EQ(back["hits"], bj["hits"]);
}

}  // namespace
}  // namespace souk

namespace souk {
namespace {

TEST_F(ServerTest, RecommendationsExplainAndBlendOverHttp) {
  ASSERT_EQ(Souk(dir_, "train " + shop_).code, 0);
  Served s(shop_);
  httplib::Client c("127.0.0.1", s.port());
  auto r = c.Get("/v1/recommend/U000003?k=5&explain=true&blend=true", Bearer(keys_["search"]));
  ASSERT_EQ(r->status, 200) << r->body;
  const json j = json::parse(r->body);
  EXPECT_EQ(j["model"], "blend");
  ASSERT_FALSE(j["items"].empty());
  for (const auto& x : j["items"]) {
    EXPECT_FALSE(x["reason"].get<std::string>().empty()) << x;
    EXPECT_TRUE(x.contains("title")) << x;  // display fields, as in every answer
  }
  EXPECT_TRUE(j.contains("request_id"));
  // Without the parameters: the user model's answer, no reasons.
  const json plain = json::parse(c.Get("/v1/recommend/U000003?k=5", Bearer(keys_["search"]))->body);
  EXPECT_NE(plain["model"], "blend");
  EXPECT_FALSE(plain["items"][0].contains("reason"));
  // Diversity: the same number of items, more categories.
  auto categories = [](const json& a) {
    std::set<std::string> c;
    for (const auto& x : a["items"]) c.insert(x["category"].get<std::string>());
    return c.size();
  };
  const json ten = json::parse(c.Get("/v1/recommend/U000003?k=10", Bearer(keys_["search"]))->body);
  const json varied = json::parse(c.Get("/v1/recommend/U000003?k=10&diversity=1", Bearer(keys_["search"]))->body);
  ASSERT_EQ(varied["items"].size(), ten["items"].size());
  EXPECT_EQ(varied["diversity"]["lambda"], 1.0);
  EXPECT_GE(categories(varied), categories(ten));
  EXPECT_GT(categories(varied), 1u);
  std::set<std::string> ids;
  for (const auto& x : varied["items"]) EXPECT_TRUE(ids.insert(x["item_id"].get<std::string>()).second);
  EXPECT_EQ(c.Get("/v1/recommend/U000003?diversity=2", Bearer(keys_["search"]))->status, 400);
  // Business rules on recommendations: a hide of the first item and a pin
  // of the tenth at the top, applied to the cached answer at once.
  const auto admin = Bearer(keys_["admin"]);
  const std::string first = ten["items"][0]["item_id"], tenth = ten["items"][9]["item_id"];
  ASSERT_EQ(c.Post("/v1/admin/rules", admin, R"({"kind":"hide","surface":"recommend","item":")" + first + R"("})",
                   "application/json")->status,
            201);
  ASSERT_EQ(c.Post("/v1/admin/rules", admin,
                   R"({"kind":"pin","surface":"recommend","item":")" + tenth + R"(","position":1})", "application/json")
                ->status,
            201);
  const json ruled = json::parse(c.Get("/v1/recommend/U000003?k=10", Bearer(keys_["search"]))->body);
  ASSERT_EQ(ruled["items"].size(), 10u) << ruled;
  EXPECT_EQ(ruled["items"][0]["item_id"], tenth);
  EXPECT_EQ(ruled["rules"].size(), 2u);
  ids.clear();
  for (const auto& x : ruled["items"]) {
    EXPECT_NE(x["item_id"], first);
    EXPECT_TRUE(ids.insert(x["item_id"].get<std::string>()).second);
    EXPECT_TRUE(x.contains("title")) << x;
  }
  // Search answers do not see recommend rules.
  EXPECT_FALSE(json::parse(c.Get("/v1/search?q=for&k=5&rank=none", Bearer(keys_["search"]))->body).contains("rules"));
}

}  // namespace
}  // namespace souk

namespace souk {
namespace {

// What the server showed (impressions) joined with the clicks that name
// its request ids: `souk train --model ltr-search` estimates position bias
// from them and weights its training searches.
TEST_F(ServerTest, LtrTrainingUsesImpressionsForPositionBias) {
  {
    Served s(shop_);
    httplib::Client c("127.0.0.1", s.port());
    json batch = json::array();
    const char* queries[] = {"for", "with", "black", "blue"};
    for (int i = 0; i < 40; ++i) {
      const std::string q = queries[i % 4];
      auto r = c.Get("/v1/search?q=" + q + "&k=10&rank=none", Bearer(keys_["search"]));
      ASSERT_EQ(r->status, 200);
      const json sj = json::parse(r->body);
      ASSERT_GE(sj["hits"].size(), 3u) << q;
      // Shoppers click the first result, sometimes the third.
      for (int p : {1, 3}) {
        if (p == 3 && i % 2) continue;
        batch.push_back({{"user_id", fmt_user(i)},
                         {"item_id", sj["hits"][p - 1]["item_id"]},
                         {"event_type", "click"},
                         {"timestamp", 1782864100 + i},
                         {"request_id", sj["request_id"]},
                         {"position", p}});
      }
    }
    auto posted = c.Post("/v1/events", Bearer(keys_["events"]), batch.dump(), "application/json");
    ASSERT_EQ(posted->status, 200) << posted->body;
    EXPECT_EQ(json::parse(posted->body)["accepted"], 60);
  }  // SIGTERM flushes the impressions
  CmdResult t = Souk(dir_, "train " + shop_ + " --model ltr-search --json");
  ASSERT_EQ(t.code, 0) << t.err;
  const json bias = json::parse(t.out)["position_bias"];
  EXPECT_EQ(bias["used"], true) << bias;
  EXPECT_EQ(bias["clicks"], 60);
  EXPECT_GE(bias["impressions"].get<int>(), 120);
  ASSERT_EQ(bias["theta"].size(), 20u);
  EXPECT_DOUBLE_EQ(bias["theta"][0].get<double>(), 1.0);
  EXPECT_LT(bias["theta"][1].get<double>(), 1.0);  // position 2 was never clicked
}

}  // namespace
}  // namespace souk

namespace souk {
namespace {

// rank.shuffle_share: a randomisation bucket for position-bias estimation.
TEST_F(ServerTest, RandomisedSearchesShuffleTheTopAndSaySo) {
  const std::string toml = shop_ + "/souk.toml";
  std::string text = souk::testing::ReadText(toml);
  const size_t at = text.find("shuffle_share = 0");
  ASSERT_NE(at, std::string::npos) << "the generated souk.toml names rank.shuffle_share";
  text.replace(at, std::string("shuffle_share = 0").size(), "shuffle_share = 1");
  souk::testing::WriteText(toml, text);
  Served s(shop_);
  httplib::Client c("127.0.0.1", s.port());
  const auto key = Bearer(keys_["search"]);
  std::set<std::vector<std::string>> orders;
  std::set<std::string> first_set;
  for (int i = 0; i < 12; ++i) {
    auto r = c.Get("/v1/search?q=for&k=10&rank=none", key);
    ASSERT_EQ(r->status, 200) << r->body;
    const json j = json::parse(r->body);
    EXPECT_EQ(j["shuffled"], true);
    std::vector<std::string> ids;
    for (const auto& h : j["hits"]) ids.push_back(h["item_id"].get<std::string>());
    const std::set<std::string> set(ids.begin(), ids.end());
    EXPECT_EQ(set.size(), ids.size());
    if (i == 0) first_set = set;
    EXPECT_EQ(set, first_set);  // the same results, in another order
    orders.insert(ids);
  }
  EXPECT_GT(orders.size(), 1u);
  // Later pages are never shuffled.
  EXPECT_FALSE(json::parse(c.Get("/v1/search?q=for&k=5&page=2&rank=none", key)->body).contains("shuffled"));
}

}  // namespace
}  // namespace souk
