// Recommenders end to end on a generated shop whose users follow a hidden
// taste model: import, load the weighted training data from the store, split
// leave-one-out, fit every model and check each beats popularity (full
// ranking, NDCG@10 and HR@10) -- the planted structure is there to be found.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "eval/eval.h"
#include "gen/gen.h"
#include "ingest/ingest.h"
#include "rec/rec.h"
#include "test_util.h"

namespace souk {
namespace {

using souk::testing::TempDir;

TEST(RecShop, EveryModelBeatsPopularity) {
  TempDir dir;
  const std::string gdir = dir / "generated";
  std::filesystem::create_directories(gdir);
  gen::GenOptions opts;
  opts.users = 2000;
  opts.items = 800;
  opts.days = 30;
  opts.inject_faults = false;
  auto stats = gen::GenerateShop(opts, gdir);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  auto store = Store::OpenSqlite(dir / "souk.db");
  ASSERT_TRUE(store.ok());
  EventTypeRegistry types;
  for (const char* table : {"items", "users", "events"}) {
    ingest::ImportOptions o;
    o.table = table;
    o.progress = false;
    ingest::ImportSummary sum;
    ASSERT_TRUE(ingest::ImportFile(store->get(), types, gdir + "/" + table + ".csv", o, &sum).ok());
  }
  auto data = rec::LoadTrainingData(**store, rec::EventWeights{});
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  ASSERT_GT(data->interactions.size(), 10000u);
  // Search events carry no item and weigh nothing: none became interactions.
  for (const auto& x : data->interactions) ASSERT_GT(x.weight, 0.0f);

  eval::Split split = eval::LeaveOneOut(data->interactions, data->num_users, eval::Stage::kTest);
  ASSERT_GT(split.cases.size(), 500u);
  const rec::Interactions train = rec::BuildInteractions(split.train, data->num_users, data->num_items);
  eval::EvalOptions eo;
  eo.threads = 2;
  eo.bootstrap = 0;
  eo.item_category = data->item_category;
  std::map<std::string, double> ndcg, hr;
  for (const std::string& spec : rec::ModelNames()) {
    auto model = rec::MakeModel(spec);
    ASSERT_TRUE(model.ok());
    rec::FitContext ctx;
    ctx.threads = 2;
    ctx.item_category = data->item_category;
    Status s = (*model)->Fit(train, ctx);
    ASSERT_TRUE(s.ok()) << spec << ": " << s.ToString();
    auto r = eval::Evaluate(**model, split, data->num_items, eo);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ndcg[spec] = r->metrics.at("NDCG@10");
    hr[spec] = r->metrics.at("HR@10");
    std::printf("%-9s NDCG@10 %.4f HR@10 %.4f coverage@10 %.3f\n", spec.c_str(), ndcg[spec], hr[spec],
                r->metrics.at("coverage@10"));
  }
  for (const char* spec : {"itemknn", "sknn", "ease", "ials", "bpr"}) {
    EXPECT_GT(ndcg[spec], ndcg["pop"] * 1.1) << spec;
    EXPECT_GT(hr[spec], hr["pop"]) << spec;
  }
}

}  // namespace
}  // namespace souk
