// SASRec in-process: the test binary loads libsouk_deep.so like the souk
// executable does (the module takes rec's symbols from the binary) and
// checks properties the CLI cannot show: causal attention, exact
// save/load, and clear errors for model files of the wrong shape.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <thread>

#include "deep/deep.h"
#include "rec/rec.h"
#include "test_util.h"

namespace souk {
namespace {

using StatesFn = int64_t (*)(const rec::Model*, const uint32_t*, int64_t, float*, int64_t);

StatesFn LoadModule() {
  static StatesFn states = [] {
    void* lib = dlopen(SOUK_DEEP_MODULE, RTLD_NOW | RTLD_LOCAL);
    EXPECT_NE(lib, nullptr) << dlerror();
    if (lib == nullptr) return StatesFn{nullptr};
    auto reg = reinterpret_cast<void (*)()>(dlsym(lib, "souk_deep_register"));
    EXPECT_NE(reg, nullptr);
    if (reg) reg();
    return reinterpret_cast<StatesFn>(dlsym(lib, "souk_deep_sasrec_states"));
  }();
  return states;
}

// 200 users walking a 20-item cycle: item i is followed by i + 1.
rec::Interactions Planted() {
  std::mt19937 rng(3);
  std::vector<rec::Interaction> data;
  for (uint32_t u = 0; u < 200; ++u) {
    const uint32_t start = rng() % 20;
    for (uint32_t t = 0; t < 7; ++t) data.push_back({u, (start + t) % 20, 1.0f, int64_t{1000} * (u * 10 + t), 0});
  }
  return rec::BuildInteractions(data, 200, 20);
}

std::unique_ptr<rec::Model> Fitted(const std::string& spec) {
  auto m = rec::MakeModel(spec);
  EXPECT_TRUE(m.ok()) << m.status().message();
  rec::FitContext ctx;
  ctx.seed = 7;
  Status s = (*m)->Fit(Planted(), ctx);
  EXPECT_TRUE(s.ok()) << s.message();
  return std::move(*m);
}

constexpr const char* kSpec = "sasrec:d=16,len=6,layers=2,heads=2,drop=0.1,lr=0.01,bs=32,epochs=6,every=3,seed=1";

TEST(DeepModel, FutureItemsCannotChangeAPastPrediction) {
  StatesFn states = LoadModule();
  ASSERT_NE(states, nullptr);
  auto model = Fitted(kSpec);
  const uint32_t a[] = {3, 4, 5, 6, 7}, b[] = {3, 4, 5, 6, 12}, c[] = {3, 4, 9, 6, 7};
  std::vector<float> ha(5 * 16), hb(5 * 16), hc(5 * 16);
  ASSERT_EQ(states(model.get(), a, 5, ha.data(), 5), 5);
  ASSERT_EQ(states(model.get(), b, 5, hb.data(), 5), 5);
  ASSERT_EQ(states(model.get(), c, 5, hc.data(), 5), 5);
  // Changing the last item leaves positions 0..3 exactly as they were ...
  for (size_t i = 0; i < 4 * 16; ++i) EXPECT_EQ(ha[i], hb[i]) << "position " << i / 16;
  // ... and changes the last one; changing position 2 changes 2..4 but not 0..1.
  double diff_last = 0, diff_after = 0;
  for (size_t i = 4 * 16; i < 5 * 16; ++i) diff_last += std::fabs(ha[i] - hb[i]);
  EXPECT_GT(diff_last, 1e-4);
  for (size_t i = 0; i < 2 * 16; ++i) EXPECT_EQ(ha[i], hc[i]) << "position " << i / 16;
  for (size_t i = 2 * 16; i < 5 * 16; ++i) diff_after += std::fabs(ha[i] - hc[i]);
  EXPECT_GT(diff_after, 1e-4);
  // A model of another family is refused, and so is a buffer too small.
  auto pop = rec::MakeModel("pop");
  ASSERT_TRUE(pop.ok());
  EXPECT_EQ(states(pop->get(), a, 5, ha.data(), 5), -1);
  EXPECT_EQ(states(model.get(), a, 5, ha.data(), 4), -1);
}

TEST(DeepModel, SaveLoadGivesIdenticalScoresAndWrongShapesAreClearErrors) {
  ASSERT_NE(LoadModule(), nullptr);
  auto model = Fitted(kSpec);
  souk::testing::TempDir dir;
  const std::string path = dir / "sasrec.bin";
  ASSERT_TRUE(rec::SaveModel(*model, path).ok());
  auto loaded = rec::LoadModel(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  rec::History h;
  h.items = {1, 2, 3};
  std::vector<float> s1(20), s2(20);
  model->Score(h, s1);
  (*loaded)->Score(h, s2);
  EXPECT_EQ(s1, s2);
  EXPECT_EQ((*loaded)->Describe(), model->Describe());

  // Same file, spec edited to d=8: the stored tensors no longer fit.
  std::string bytes = souk::testing::ReadText(path);
  const size_t at = bytes.find("d=16");
  ASSERT_NE(at, std::string::npos);
  std::string wrong = bytes;
  wrong.replace(at, 4, "d=08");
  souk::testing::WriteText(path, wrong);
  auto bad = rec::LoadModel(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("wrong shapes"), std::string::npos) << bad.status().message();

  // Truncated anywhere in the network bytes: an error, never a crash.
  for (size_t cut : {bytes.size() - 1, bytes.size() / 2, size_t{60}}) {
    souk::testing::WriteText(path, bytes.substr(0, cut));
    auto t = rec::LoadModel(path);
    EXPECT_FALSE(t.ok()) << "cut at " << cut;
  }
}

// 400 users on a 60-item catalog: mostly item i then i + 1, one step in
// five a random item. Big enough for top-10 lists to mean something.
rec::Interactions PlantedLarge() {
  std::mt19937 rng(5);
  std::vector<rec::Interaction> data;
  for (uint32_t u = 0; u < 400; ++u) {
    uint32_t item = rng() % 60;
    for (uint32_t t = 0; t < 9; ++t) {
      data.push_back({u, item, 1.0f, int64_t{1000} * (u * 10 + t), 0});
      item = rng() % 5 == 0 ? rng() % 60 : (item + 1) % 60;
    }
  }
  return rec::BuildInteractions(data, 400, 60);
}

constexpr const char* kLargeSpec = "sasrec:d=32,len=8,layers=2,heads=2,drop=0.1,lr=0.01,bs=64,epochs=10,every=5,seed=2";

// Histories of every length from empty to past len, with an id the model
// does not know (ignored), in shuffled order.
std::vector<rec::History> Histories(uint32_t num_items, size_t count) {
  std::mt19937 rng(11);
  std::vector<rec::History> hs(count);
  for (size_t r = 0; r < count; ++r) {
    const size_t n = r % 13;
    for (size_t t = 0; t < n; ++t) hs[r].items.push_back(rng() % num_items);
    if (r % 7 == 3) hs[r].items.push_back(num_items + 5);
  }
  std::shuffle(hs.begin(), hs.end(), rng);
  return hs;
}

// The same network as `model`, loaded again under `spec` (e.g. with int8=1).
std::unique_ptr<rec::Model> Reload(const rec::Model& model, const std::string& spec) {
  std::stringstream state;
  EXPECT_TRUE(model.SaveState(state).ok());
  auto m = rec::MakeModel(spec);
  EXPECT_TRUE(m.ok()) << m.status().message();
  Status s = (*m)->LoadState(state);
  EXPECT_TRUE(s.ok()) << s.message();
  return std::move(*m);
}

std::vector<uint32_t> Top(std::span<const float> scores, size_t k) {
  std::vector<uint32_t> ids;
  for (const auto& x : rec::TopK(scores, k)) ids.push_back(x.item);
  return ids;
}

TEST(DeepModel, BatchScoringEqualsPerUserScoringExactly) {
  ASSERT_NE(LoadModule(), nullptr);
  auto model = Fitted(kSpec);
  const uint32_t n = model->num_items();
  const auto hs = Histories(n, 60);
  std::vector<const rec::History*> ptrs;
  for (const auto& h : hs) ptrs.push_back(&h);
  std::vector<float> batch(hs.size() * n, -1.0f);
  model->ScoreBatch(ptrs, batch);
  std::vector<float> one(n);
  for (size_t r = 0; r < hs.size(); ++r) {
    model->Score(hs[r], one);
    for (uint32_t i = 0; i < n; ++i) ASSERT_EQ(batch[r * n + i], one[i]) << "history " << r << " item " << i;
  }
  // An empty history scores 0 everywhere, in a batch too.
  for (size_t r = 0; r < hs.size(); ++r) {
    if (!hs[r].items.empty()) continue;
    for (uint32_t i = 0; i < n; ++i) EXPECT_EQ(batch[r * n + i], 0.0f);
  }
}

TEST(DeepModel, Int8ScoresStayCloseToFp32) {
  ASSERT_NE(LoadModule(), nullptr);
  auto fp32 = rec::MakeModel(kLargeSpec);
  ASSERT_TRUE(fp32.ok());
  rec::FitContext ctx;
  ASSERT_TRUE((*fp32)->Fit(PlantedLarge(), ctx).ok());
  auto int8 = Reload(**fp32, std::string(kLargeSpec) + ",int8=1");
  EXPECT_NE(int8->Describe().find(",int8=1"), std::string::npos) << int8->Describe();
  const uint32_t n = (*fp32)->num_items();
  const auto hs = Histories(n, 80);
  std::vector<float> a(n), b(n);
  double overlap = 0, worst_rel = 0;
  size_t scored = 0;
  bool differs = false;
  for (const auto& h : hs) {
    if (h.items.empty()) continue;
    (*fp32)->Score(h, a);
    int8->Score(h, b);
    float scale = 0;
    for (float x : a) scale = std::max(scale, std::fabs(x));
    for (uint32_t i = 0; i < n; ++i) {
      worst_rel = std::max(worst_rel, std::fabs(static_cast<double>(a[i]) - b[i]) / scale);
      differs |= a[i] != b[i];
    }
    const auto ta = Top(a, 10), tb = Top(b, 10);
    size_t common = 0;
    for (uint32_t x : ta) common += std::count(tb.begin(), tb.end(), x);
    overlap += static_cast<double>(common) / 10;
    ++scored;
  }
  overlap /= static_cast<double>(scored);
  std::printf("[ int8     ] top-10 overlap with fp32 %.4f, max |error| / max |score| %.4f over %zu users\n", overlap,
              worst_rel, scored);
  EXPECT_TRUE(differs) << "int8 gave fp32's exact numbers: was it applied?";
  EXPECT_GE(overlap, 0.8);
  EXPECT_LE(worst_rel, 0.1);

  // Batched int8 is close to per-user int8 (activation scales are per batch,
  // so not the same bits), and per-user int8 is the same from any thread.
  std::vector<const rec::History*> ptrs;
  for (const auto& h : hs) ptrs.push_back(&h);
  std::vector<float> batch(hs.size() * n);
  int8->ScoreBatch(ptrs, batch);
  double batch_rel = 0;
  for (size_t r = 0; r < hs.size(); ++r) {
    int8->Score(hs[r], b);
    float scale = 1e-6f;
    for (float x : b) scale = std::max(scale, std::fabs(x));
    for (uint32_t i = 0; i < n; ++i)
      batch_rel = std::max(batch_rel, std::fabs(static_cast<double>(batch[r * n + i]) - b[i]) / scale);
  }
  EXPECT_LE(batch_rel, 0.1);
  std::vector<std::vector<float>> want(hs.size(), std::vector<float>(n)), got = want;
  for (size_t r = 0; r < hs.size(); ++r) int8->Score(hs[r], want[r]);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (size_t r = t; r < hs.size(); r += 2) int8->Score(hs[r], got[r]);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(got, want);
}

TEST(DeepModel, ServingKeysAreValidatedAndDescribed) {
  ASSERT_NE(LoadModule(), nullptr);
  for (const char* bad : {"sasrec:int8=2", "sasrec:threads=-1"}) {
    auto m = rec::MakeModel(bad);
    ASSERT_TRUE(m.ok()) << m.status().message();
    EXPECT_FALSE((*m)->Fit(Planted(), rec::FitContext{}).ok()) << bad;
  }
  auto plain = rec::MakeModel("sasrec");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ((*plain)->Describe().find("int8"), std::string::npos);
  EXPECT_EQ((*plain)->Describe().find("threads"), std::string::npos);
  auto capped = rec::MakeModel("sasrec:int8=1,threads=1");
  ASSERT_TRUE(capped.ok());
  EXPECT_NE((*capped)->Describe().find(",int8=1,threads=1"), std::string::npos) << (*capped)->Describe();
}

}  // namespace
}  // namespace souk
