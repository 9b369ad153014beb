// Tests of the search benchmark harness (common.h): parsing, percentiles,
// the two query passes and OUT.tsv. No timing is asserted.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common.h"

namespace souk::bench {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    const auto* info = testing::UnitTest::GetInstance()->current_test_info();
    path_ =
        fs::path(testing::TempDir()) / ("search_bench_" + std::string(info->name()) + "_" + std::to_string(getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string File(const std::string& name, const std::string& content) const {
    const std::string path = (path_ / name).string();
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  std::string Path(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

TEST(ParseCorpus, ReadsThreeFieldsPerLine) {
  auto docs = ParseCorpus("0\tRed Kettle\tA kettle.\r\n7\t\t\n42\tTitle only\t", "c.tsv");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  ASSERT_EQ(docs->size(), 3u);
  EXPECT_EQ((*docs)[0].id, 0u);
  EXPECT_EQ((*docs)[0].title, "Red Kettle");
  EXPECT_EQ((*docs)[0].description, "A kettle.");  // "\r" dropped
  EXPECT_EQ((*docs)[1].id, 7u);
  EXPECT_EQ((*docs)[1].title, "");
  EXPECT_EQ((*docs)[2].description, "");
}

TEST(ParseCorpus, NamesTheBadLine) {
  for (const char* text : {"0\ta\tb\n1\tno second tab\n", "0\ta\tb\n1\ta\tb\tc\n", "0\ta\tb\nx\ta\tb\n",
                           "0\ta\tb\n4294967296\ta\tb\n", "0\ta\tb\n\ta\tb\n"}) {
    auto docs = ParseCorpus(text, "c.tsv");
    ASSERT_FALSE(docs.ok()) << text;
    EXPECT_EQ(docs.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(docs.status().message().find("c.tsv:2:"), std::string::npos) << docs.status().message();
  }
}

TEST(ReadQueries, NumbersFollowTheFile) {
  TempDir dir;
  auto queries = ReadQueries(dir.File("q.txt", "red kettle\r\n\nshoes\n"));
  ASSERT_TRUE(queries.ok());
  EXPECT_EQ(*queries, (std::vector<std::string>{"red kettle", "", "shoes"}));
  EXPECT_EQ(ReadQueries(dir.Path("missing.txt")).status().code(), StatusCode::kNotFound);
}

TEST(Percentile, NearestRank) {
  std::vector<double> v = {4, 1, 3, 2};
  EXPECT_EQ(Percentile(&v, 50), 2);
  EXPECT_EQ(Percentile(&v, 99), 4);
  EXPECT_EQ(Percentile(&v, 0), 1);
  std::vector<double> hundred;
  for (int i = 100; i >= 1; --i) hundred.push_back(i);
  EXPECT_EQ(Percentile(&hundred, 99), 99);
  std::vector<double> empty;
  EXPECT_EQ(Percentile(&empty, 50), 0);
}

// Answers query "n" with ids n, n+1, ..., n+k-1; fails on "fail".
class FakeSearcher : public Searcher {
 public:
  Status Search(std::string_view query, size_t k, std::vector<uint32_t>* ids) override {
    ids->clear();
    if (query == "fail") return Status::InvalidArgument("bad query");
    if (query.empty()) return Status::Ok();
    const uint32_t n = static_cast<uint32_t>(std::stoul(std::string(query)));
    for (uint32_t i = 0; i < k; ++i) ids->push_back(n + i);
    return Status::Ok();
  }
};

class FakeEngine : public Engine {
 public:
  std::string Name() const override { return "fake"; }
  std::string Describe() const override { return "fake"; }
  Status Build(std::span<const Doc>, const std::string&) override { return Status::Ok(); }
  Status Open(const std::string&, uint64_t* docs) override {
    *docs = 0;
    return Status::Ok();
  }
  Result<std::unique_ptr<Searcher>> NewSearcher() override {
    ++searchers;
    return std::unique_ptr<Searcher>(std::make_unique<FakeSearcher>());
  }
  int searchers = 0;
};

TEST(QueryBenchmark, BothPassesAnswerEveryQuery) {
  std::vector<std::string> queries;
  for (int i = 0; i < 1000; ++i) queries.push_back(i % 10 == 0 ? "" : std::to_string(i));
  FakeEngine engine;
  QueryOptions options;
  options.k = 3;
  options.threads = 3;
  auto stats = QueryBenchmark(engine, queries, options);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(engine.searchers, 4);  // one for the first pass, one per thread
  ASSERT_EQ(stats->results.size(), 1000u);
  EXPECT_EQ(stats->latencies_ms.size(), 1000u);
  EXPECT_EQ(stats->results[0], std::vector<uint32_t>{});
  EXPECT_EQ(stats->results[7], (std::vector<uint32_t>{7, 8, 9}));
  EXPECT_EQ(stats->mismatches, 0u);
}

TEST(QueryBenchmark, ReportsTheFailingQuery) {
  FakeEngine engine;
  auto stats = QueryBenchmark(engine, {"1", "fail"}, QueryOptions{});
  ASSERT_FALSE(stats.ok());
  EXPECT_NE(stats.status().message().find("query 1 'fail'"), std::string::npos) << stats.status().message();
}

TEST(WriteResults, OneLinePerQuery) {
  TempDir dir;
  const std::string path = dir.Path("out.tsv");
  ASSERT_TRUE(WriteResults(path, {{3, 1, 2}, {}, {9}}).ok());
  std::stringstream content;
  content << std::ifstream(path).rdbuf();
  EXPECT_EQ(content.str(), "0\t3,1,2\n1\t\n2\t9\n");
}

}  // namespace
}  // namespace souk::bench
