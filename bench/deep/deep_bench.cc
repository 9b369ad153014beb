// deep_bench: serving cost of src/deep's models, fp32 against int8 (numbers
// only, no assertions). bench/deep/run.sh runs both parts and prints tables.
//
//   deep_bench sasrec [--users 8000 --items 10000 --minlen 20 --maxlen 50]
//                     [--spec sasrec:d=64,len=50,... --threads 1 --queries 1000 --seed 1]
//       Trains SASRec (fp32) on synthetic planted sequences (each user walks
//       item chains i -> i + 1, one step in five a random jump), holding out
//       each user's last item; then loads the same weights with int8=1 and
//       reports per-user Score latency (median, p99), ScoreBatch throughput
//       at batch sizes 1, 32 and 256 (users/s), and leave-last-out NDCG@10 /
//       HR@10 over all items (seen items excluded), fp32 and int8.
//   deep_bench encoder --model M.pt --vocab V.txt --texts FILE
//                      [--options maxlen=64,bs=32 --threads 1 --runs 3]
//       Embeds every line of FILE with the torchscript encoder, fp32 and
//       int8=1: texts per second (best of --runs) and the cosine between
//       each text's fp32 and int8 vectors (mean, min).
//
// It loads build/libsouk_deep.so as the souk executable does (dlopen; the
// module takes rec/text symbols from this binary), so it needs no torch.
// Every line of output is "key: value".
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "rec/rec.h"
#include "text/text.h"

namespace souk {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

class Flags {
 public:
  Flags(int argc, char** argv, int first) {
    for (int i = first; i + 1 < argc; i += 2) {
      std::string key = argv[i];
      if (key.rfind("--", 0) != 0) {
        std::fprintf(stderr, "expected --flag value, got %s\n", key.c_str());
        std::exit(2);
      }
      kv_[key.substr(2)] = argv[i + 1];
    }
  }
  std::string Str(const std::string& key, const std::string& fallback) const {
    auto it = kv_.find(key);
    return it == kv_.end() ? fallback : it->second;
  }
  int64_t Int(const std::string& key, int64_t fallback) const {
    auto it = kv_.find(key);
    return it == kv_.end() ? fallback : std::stoll(it->second);
  }

 private:
  std::map<std::string, std::string> kv_;
};

double Percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

void Die(const std::string& what) {
  std::fprintf(stderr, "deep_bench: %s\n", what.c_str());
  std::exit(1);
}

void LoadDeepModule() {
  void* lib = dlopen(SOUK_DEEP_MODULE, RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) Die(std::string("cannot load ") + SOUK_DEEP_MODULE + ": " + dlerror());
  auto reg = reinterpret_cast<void (*)()>(dlsym(lib, "souk_deep_register"));
  if (reg == nullptr) Die("libsouk_deep.so has no souk_deep_register");
  reg();
}

// ---- sasrec ------------------------------------------------------------------

struct Shop {
  rec::Interactions train;
  std::vector<rec::History> histories;  // per held-out user: the training sequence
  std::vector<uint32_t> targets;        // and the held-out item
};

Shop Planted(uint32_t users, uint32_t items, uint32_t min_len, uint32_t max_len, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<rec::Interaction> data;
  Shop shop;
  for (uint32_t u = 0; u < users; ++u) {
    const uint32_t n = min_len + static_cast<uint32_t>(rng() % (max_len - min_len + 1));
    uint32_t item = static_cast<uint32_t>(rng() % items);
    rec::History h;
    h.user = u;
    for (uint32_t t = 0; t < n; ++t) {
      if (t + 1 == n) {
        shop.targets.push_back(item);
        break;
      }
      data.push_back({u, item, 1.0f, int64_t{1000} * (int64_t{u} * 100 + t), 0});
      h.items.push_back(item);
      item = rng() % 5 == 0 ? static_cast<uint32_t>(rng() % items) : (item + 1) % items;
    }
    shop.histories.push_back(std::move(h));
  }
  shop.train = rec::BuildInteractions(data, users, items);
  return shop;
}

struct Quality {
  double ndcg = 0, hr = 0;
};

Quality Evaluate(const rec::Model& model, const Shop& shop) {
  const uint32_t n = model.num_items();
  std::vector<const rec::History*> batch;
  Quality q;
  std::vector<float> scores;
  constexpr size_t kBatch = 256;
  for (size_t start = 0; start < shop.histories.size(); start += kBatch) {
    const size_t end = std::min(shop.histories.size(), start + kBatch);
    batch.clear();
    for (size_t r = start; r < end; ++r) batch.push_back(&shop.histories[r]);
    scores.assign(batch.size() * n, 0);
    model.ScoreBatch(batch, scores);
    for (size_t r = start; r < end; ++r) {
      float* s = scores.data() + (r - start) * n;
      for (uint32_t i : shop.histories[r].items) s[i] = -INFINITY;
      const uint32_t target = shop.targets[r];
      size_t rank = 0;
      for (uint32_t i = 0; i < n && rank < 10; ++i) rank += s[i] > s[target] || (s[i] == s[target] && i < target);
      if (rank < 10) {
        q.ndcg += 1.0 / std::log2(static_cast<double>(rank) + 2.0);
        q.hr += 1;
      }
    }
  }
  q.ndcg /= static_cast<double>(shop.histories.size());
  q.hr /= static_cast<double>(shop.histories.size());
  return q;
}

void Latency(const char* tag, const rec::Model& model, const Shop& shop, size_t queries) {
  const uint32_t n = model.num_items();
  std::vector<float> scores(n);
  std::vector<double> ms;
  for (size_t q = 0; q < queries; ++q) {
    const auto& h = shop.histories[q % shop.histories.size()];
    const auto t0 = Clock::now();
    auto top = rec::Recommend(model, h, rec::RecommendOptions{}, &scores);
    ms.push_back(Seconds(t0, Clock::now()) * 1e3);
  }
  std::printf("%s_ms_median: %.3f\n%s_ms_p99: %.3f\n", tag, Percentile(ms, 0.5), tag, Percentile(ms, 0.99));
  // Batches: users per second scoring every item (no top-k).
  for (size_t bs : {size_t{1}, size_t{32}, size_t{256}}) {
    std::vector<const rec::History*> batch;
    std::vector<float> out(bs * n);
    size_t users = 0;
    const auto t0 = Clock::now();
    // At least 1,024 users and 2 seconds' worth, whichever comes last.
    for (size_t start = 0; users < 1024 || Seconds(t0, Clock::now()) < 2; start += bs) {
      batch.clear();
      for (size_t r = 0; r < bs; ++r) batch.push_back(&shop.histories[(start + r) % shop.histories.size()]);
      model.ScoreBatch(batch, out);
      users += bs;
    }
    std::printf("%s_bs%zu_users_per_s: %.1f\n", tag, bs, static_cast<double>(users) / Seconds(t0, Clock::now()));
  }
}

int SasRec(const Flags& f) {
  const uint32_t users = static_cast<uint32_t>(f.Int("users", 8000)),
                 items = static_cast<uint32_t>(f.Int("items", 10000));
  const Shop shop = Planted(users, items, static_cast<uint32_t>(f.Int("minlen", 20)),
                            static_cast<uint32_t>(f.Int("maxlen", 50)), static_cast<uint64_t>(f.Int("seed", 1)));
  const std::string spec =
      f.Str("spec", "sasrec:d=64,len=50,layers=2,heads=1,drop=0.2,lr=0.001,bs=128,epochs=12,every=4,minutes=4,seed=1");
  const std::string threads = std::to_string(f.Int("threads", 1));
  std::printf("data: planted users=%u items=%u interactions=%zu\n", users, items, shop.train.seq_items.size());
  auto fp32 = rec::MakeModel(spec + ",threads=" + threads);
  if (!fp32.ok()) Die(fp32.status().message());
  rec::FitContext ctx;
  ctx.threads = static_cast<int>(f.Int("fit_threads", 2));
  const auto t0 = Clock::now();
  if (Status s = (*fp32)->Fit(shop.train, ctx); !s.ok()) Die(s.message());
  std::printf("fit_s: %.1f\n", Seconds(t0, Clock::now()));
  std::printf("spec_fp32: %s\n", (*fp32)->Describe().c_str());
  std::stringstream state;
  if (Status s = (*fp32)->SaveState(state); !s.ok()) Die(s.message());
  auto int8 = rec::MakeModel(spec + ",threads=" + threads + ",int8=1");
  if (!int8.ok()) Die(int8.status().message());
  if (Status s = (*int8)->LoadState(state); !s.ok()) Die(s.message());
  std::printf("spec_int8: %s\n", (*int8)->Describe().c_str());

  const Quality q32 = Evaluate(**fp32, shop), q8 = Evaluate(**int8, shop);
  std::printf("fp32_ndcg10: %.4f\nfp32_hr10: %.4f\nint8_ndcg10: %.4f\nint8_hr10: %.4f\n", q32.ndcg, q32.hr, q8.ndcg,
              q8.hr);
  const size_t queries = static_cast<size_t>(f.Int("queries", 1000));
  Latency("fp32", **fp32, shop, queries);
  Latency("int8", **int8, shop, queries);
  return 0;
}

// ---- encoder -----------------------------------------------------------------

int Encoder(const Flags& f) {
  const std::string model = f.Str("model", ""), vocab = f.Str("vocab", ""), texts_path = f.Str("texts", "");
  if (model.empty() || vocab.empty() || texts_path.empty()) Die("encoder needs --model, --vocab and --texts");
  std::ifstream in(texts_path);
  std::vector<std::string> texts;
  for (std::string line; std::getline(in, line);) texts.push_back(line);
  if (texts.empty()) Die("no texts in " + texts_path);
  const std::string base = "torchscript:path=" + model + ",vocab=" + vocab + "," + f.Str("options", "maxlen=64,bs=32") +
                           ",threads=" + std::to_string(f.Int("threads", 1));
  const int runs = static_cast<int>(f.Int("runs", 3));
  std::printf("texts: %zu\n", texts.size());
  std::vector<std::vector<float>> vectors;
  size_t dim = 0;
  for (const char* tag : {"fp32", "int8"}) {
    auto enc = text::MakeEncoder(base + (std::string(tag) == "int8" ? ",int8=1" : ""));
    if (!enc.ok()) Die(enc.status().message());
    std::printf("spec_%s: %s\n", tag, (*enc)->Describe().c_str());
    dim = (*enc)->dim();
    std::vector<float> out;
    double best = 1e30;
    for (int r = 0; r < runs; ++r) {
      const auto t0 = Clock::now();
      if (Status s = (*enc)->Embed(texts, &out); !s.ok()) Die(s.message());
      best = std::min(best, Seconds(t0, Clock::now()));
    }
    std::printf("%s_texts_per_s: %.1f\n", tag, static_cast<double>(texts.size()) / best);
    vectors.push_back(std::move(out));
  }
  double sum = 0, worst = 1;
  for (size_t t = 0; t < texts.size(); ++t) {
    double dot = 0, a = 0, b = 0;
    for (size_t k = 0; k < dim; ++k) {
      const double x = vectors[0][t * dim + k], y = vectors[1][t * dim + k];
      dot += x * y;
      a += x * x;
      b += y * y;
    }
    const double c = dot / std::sqrt(std::max(a * b, 1e-30));
    sum += c;
    worst = std::min(worst, c);
  }
  std::printf("dim: %zu\ncosine_mean: %.6f\ncosine_min: %.6f\n", dim, sum / static_cast<double>(texts.size()), worst);
  return 0;
}

}  // namespace
}  // namespace souk

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  const souk::Flags flags(argc, argv, 2);
  if (cmd != "sasrec" && cmd != "encoder") {
    std::fprintf(stderr, "usage: deep_bench sasrec [--flag value]... | encoder --model M --vocab V --texts F\n");
    return 2;
  }
  souk::LoadDeepModule();
  return cmd == "sasrec" ? souk::SasRec(flags) : souk::Encoder(flags);
}
