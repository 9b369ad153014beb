// SASRec in-process: the test binary loads libsouk_deep.so like the souk
// executable does (the module takes rec's symbols from the binary) and
// checks properties the CLI cannot show: causal attention, exact
// save/load, and clear errors for model files of the wrong shape.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <sstream>

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

}  // namespace
}  // namespace souk
