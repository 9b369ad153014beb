// Query intent: softmax regression over hashed query features (search.h).
//
// Weights are stored per feature row, and only for the hash buckets that
// occur in training (row_of_bucket maps a bucket to its row, or kNoRow), so
// the model stays small when the hash space is large: a shop's search log
// touches tens of thousands of buckets, not 2^18.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <numeric>
#include <random>
#include <unordered_map>

#include "search/search.h"

namespace souk::search {
namespace {

constexpr char kMagic[8] = {'S', 'O', 'U', 'K', 'I', 'N', 'T', '1'};
constexpr uint32_t kVersion = 1;
constexpr uint32_t kNoRow = 0xffffffffu;

uint64_t Fnv1a(std::string_view s, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

uint64_t Mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  return x ^ (x >> 33);
}

// Hashed features of a query: unigrams, bigrams, character trigrams of
// each word ("^ab", "abc", "bc$"), distinct, sorted.
std::vector<uint32_t> Features(const text::Analyzer& analyzer, std::string_view query, uint32_t bits) {
  std::vector<std::string> words = analyzer.Terms(query);
  std::vector<uint32_t> f;
  const uint64_t mask = (uint64_t{1} << bits) - 1;
  auto add = [&](uint64_t h) { f.push_back(static_cast<uint32_t>(Mix(h) & mask)); };
  for (size_t i = 0; i < words.size(); ++i) {
    add(Fnv1a(words[i], Fnv1a("u:")));
    if (i + 1 < words.size()) add(Fnv1a(words[i + 1], Fnv1a(" ", Fnv1a(words[i], Fnv1a("b:")))));
    std::string w(1, '^');
    w.append(words[i]).push_back('$');
    for (size_t j = 0; j + 3 <= w.size(); ++j) add(Fnv1a(std::string_view(w).substr(j, 3), Fnv1a("c:")));
  }
  std::sort(f.begin(), f.end());
  f.erase(std::unique(f.begin(), f.end()), f.end());
  return f;
}

void Softmax(std::vector<float>* z) {
  if (z->empty()) return;
  float m = *std::max_element(z->begin(), z->end());
  double sum = 0;
  for (float& v : *z) sum += (v = std::exp(v - m));
  for (float& v : *z) v = static_cast<float>(v / sum);
}

}  // namespace

struct IntentModel::Rep {
  IntentOptions options;
  text::Analyzer analyzer{text::AnalyzerOptions{}, nullptr};
  std::vector<std::string> categories;
  std::vector<uint32_t> row_of_bucket;  // 2^bits entries
  std::vector<uint32_t> bucket_of_row;
  std::vector<float> weights;  // rows x classes
  std::vector<float> bias;     // classes

  explicit Rep(const IntentOptions& o) : options(o), analyzer(o.analyzer, nullptr) {}

  void Scores(const std::vector<uint32_t>& feats, std::vector<float>* z) const {
    const size_t c = categories.size();
    z->assign(bias.begin(), bias.end());
    for (uint32_t b : feats) {
      uint32_t r = row_of_bucket[b];
      if (r == kNoRow) continue;
      const float* w = &weights[size_t{r} * c];
      for (size_t k = 0; k < c; ++k) (*z)[k] += w[k];
    }
  }
};

IntentModel::IntentModel(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
IntentModel::~IntentModel() = default;

const std::vector<std::string>& IntentModel::categories() const { return rep_->categories; }

Result<std::unique_ptr<IntentModel>> IntentModel::Train(const std::vector<IntentPair>& pairs,
                                                        const IntentOptions& options) {
  if (pairs.empty()) return Status::InvalidArgument("intent: no (query, category) pairs to train on");
  if (options.hash_bits < 8 || options.hash_bits > 24)
    return Status::InvalidArgument(fmt::format("intent: hash_bits {} outside [8, 24]", options.hash_bits));
  auto rep = std::make_unique<Rep>(options);
  // Categories in sorted order, so ids do not depend on the pairs' order.
  std::vector<std::string> cats;
  for (const auto& p : pairs) cats.push_back(p.category);
  std::sort(cats.begin(), cats.end());
  cats.erase(std::unique(cats.begin(), cats.end()), cats.end());
  rep->categories = cats;
  std::unordered_map<std::string_view, uint32_t> cat_id;
  for (uint32_t i = 0; i < cats.size(); ++i) cat_id[rep->categories[i]] = i;
  const size_t c = cats.size();
  rep->row_of_bucket.assign(size_t{1} << options.hash_bits, kNoRow);
  std::vector<std::vector<uint32_t>> rows(pairs.size());
  std::vector<uint32_t> label(pairs.size());
  for (size_t i = 0; i < pairs.size(); ++i) {
    label[i] = cat_id[pairs[i].category];
    for (uint32_t b : Features(rep->analyzer, pairs[i].query, options.hash_bits)) {
      uint32_t& r = rep->row_of_bucket[b];
      if (r == kNoRow) {
        r = static_cast<uint32_t>(rep->bucket_of_row.size());
        rep->bucket_of_row.push_back(b);
      }
      rows[i].push_back(r);
    }
  }
  rep->weights.assign(rep->bucket_of_row.size() * c, 0.0f);
  rep->bias.assign(c, 0.0f);
  std::vector<float> g2(rep->weights.size(), 0.0f), g2b(c, 0.0f);
  std::vector<size_t> order(pairs.size());
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(options.seed);
  std::vector<float> z(c);
  const float lr = options.learning_rate, l2 = options.l2;
  for (int e = 0; e < options.epochs; ++e) {
    std::shuffle(order.begin(), order.end(), rng);
    for (size_t i : order) {
      z.assign(rep->bias.begin(), rep->bias.end());
      for (uint32_t r : rows[i]) {
        const float* w = &rep->weights[size_t{r} * c];
        for (size_t k = 0; k < c; ++k) z[k] += w[k];
      }
      Softmax(&z);
      z[label[i]] -= 1.0f;  // gradient of the cross-entropy w.r.t. the logits
      for (size_t k = 0; k < c; ++k) {
        g2b[k] += z[k] * z[k];
        rep->bias[k] -= lr * z[k] / (std::sqrt(g2b[k]) + 1e-6f);
      }
      for (uint32_t r : rows[i]) {
        float* w = &rep->weights[size_t{r} * c];
        float* g = &g2[size_t{r} * c];
        for (size_t k = 0; k < c; ++k) {
          float grad = z[k] + l2 * w[k];
          if (grad == 0.0f) continue;
          g[k] += grad * grad;
          w[k] -= lr * grad / (std::sqrt(g[k]) + 1e-6f);
        }
      }
    }
  }
  return std::unique_ptr<IntentModel>(new IntentModel(std::move(rep)));
}

std::vector<float> IntentModel::Probabilities(std::string_view query) const {
  std::vector<float> z;
  rep_->Scores(Features(rep_->analyzer, query, rep_->options.hash_bits), &z);
  Softmax(&z);
  return z;
}

std::vector<IntentPrediction> IntentModel::Predict(std::string_view query, size_t k) const {
  std::vector<float> p = Probabilities(query);
  std::vector<uint32_t> idx(p.size());
  std::iota(idx.begin(), idx.end(), 0);
  k = std::min(k, idx.size());
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                    [&](uint32_t a, uint32_t b) { return p[a] != p[b] ? p[a] > p[b] : a < b; });
  std::vector<IntentPrediction> out;
  for (size_t i = 0; i < k; ++i) out.push_back({rep_->categories[idx[i]], p[idx[i]]});
  return out;
}

std::string IntentModel::Describe() const {
  const auto& o = rep_->options;
  return fmt::format("intent:bits={},epochs={},lr={},l2={},classes={}", o.hash_bits, o.epochs, o.learning_rate, o.l2,
                     rep_->categories.size());
}

namespace {

template <typename T>
void Put(std::string* out, const T& v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(T));
}

struct Reader {
  const std::string& data;
  size_t pos = 0;
  bool ok = true;
  template <typename T>
  T Get() {
    T v{};
    if (pos + sizeof(T) > data.size()) {
      ok = false;
      return v;
    }
    std::memcpy(&v, data.data() + pos, sizeof(T));
    pos += sizeof(T);
    return v;
  }
  bool Bytes(void* dst, size_t n) {
    if (!ok || n > data.size() - pos) return ok = false;
    if (n) std::memcpy(dst, data.data() + pos, n);
    pos += n;
    return true;
  }
};

}  // namespace

Status IntentModel::Save(const std::string& path) const {
  const Rep& r = *rep_;
  std::string out(kMagic, sizeof(kMagic));
  Put(&out, kVersion);
  Put(&out, r.options.hash_bits);
  Put(&out, r.options.epochs);
  Put(&out, r.options.learning_rate);
  Put(&out, r.options.l2);
  Put(&out, r.options.seed);
  Put(&out, static_cast<uint8_t>(r.options.analyzer.stem));
  Put(&out, static_cast<uint8_t>(r.options.analyzer.stop_words));
  Put(&out, static_cast<uint64_t>(r.categories.size()));
  for (const auto& c : r.categories) {
    Put(&out, static_cast<uint32_t>(c.size()));
    out += c;
  }
  Put(&out, static_cast<uint64_t>(r.bucket_of_row.size()));
  out.append(reinterpret_cast<const char*>(r.bucket_of_row.data()), r.bucket_of_row.size() * sizeof(uint32_t));
  out.append(reinterpret_cast<const char*>(r.bias.data()), r.bias.size() * sizeof(float));
  out.append(reinterpret_cast<const char*>(r.weights.data()), r.weights.size() * sizeof(float));
  Put(&out, Fnv1a(out));  // checksum of everything before it
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return Status::IoError(fmt::format("cannot write '{}'", tmp));
    f.write(out.data(), static_cast<std::streamsize>(out.size()));
    if (!f.flush()) return Status::IoError(fmt::format("cannot write '{}'", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    return Status::IoError(fmt::format("cannot rename '{}' to '{}'", tmp, path));
  return Status::Ok();
}

Result<std::unique_ptr<IntentModel>> IntentModel::Load(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::NotFound(fmt::format("no intent model '{}' (run `souk intent DIR --train`)", path));
  std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto corrupt = [&](std::string_view what) {
    return Status::Corruption(fmt::format("intent model '{}': {}", path, what));
  };
  if (data.size() < sizeof(kMagic) + 4 || std::memcmp(data.data(), kMagic, sizeof(kMagic)) != 0)
    return corrupt("not an intent model (bad magic)");
  Reader rd{data, sizeof(kMagic)};
  uint32_t version = rd.Get<uint32_t>();
  if (version != kVersion)
    return Status::FailedPrecondition(
        fmt::format("intent model '{}' has format version {}, this souk reads {}", path, version, kVersion));
  if (data.size() < sizeof(kMagic) + 4 + 8) return corrupt("truncated");
  uint64_t stored_sum = 0;
  std::memcpy(&stored_sum, data.data() + data.size() - 8, 8);
  if (Fnv1a(std::string_view(data).substr(0, data.size() - 8)) != stored_sum)
    return corrupt("truncated or damaged (checksum mismatch)");
  IntentOptions o;
  o.hash_bits = rd.Get<uint32_t>();
  o.epochs = rd.Get<int>();
  o.learning_rate = rd.Get<float>();
  o.l2 = rd.Get<float>();
  o.seed = rd.Get<uint64_t>();
  o.analyzer.stem = rd.Get<uint8_t>() != 0;
  o.analyzer.stop_words = rd.Get<uint8_t>() != 0;
  if (!rd.ok || o.hash_bits < 8 || o.hash_bits > 24) return corrupt("bad header");
  auto rep = std::make_unique<Rep>(o);
  uint64_t nc = rd.Get<uint64_t>();
  if (!rd.ok || nc == 0 || nc > data.size()) return corrupt("bad category count");
  for (uint64_t i = 0; i < nc; ++i) {
    uint32_t len = rd.Get<uint32_t>();
    std::string s(rd.ok && len <= data.size() ? len : 0, '\0');
    if (!rd.ok || len > data.size() || !rd.Bytes(s.data(), len)) return corrupt("truncated categories");
    rep->categories.push_back(std::move(s));
  }
  uint64_t rows = rd.Get<uint64_t>();
  if (!rd.ok || rows > (uint64_t{1} << o.hash_bits)) return corrupt("bad row count");
  rep->bucket_of_row.resize(rows);
  rep->bias.resize(nc);
  if (rows * nc > data.size()) return corrupt("truncated weights");
  rep->weights.resize(rows * nc);
  if (!rd.Bytes(rep->bucket_of_row.data(), rows * 4) || !rd.Bytes(rep->bias.data(), nc * 4) ||
      !rd.Bytes(rep->weights.data(), rows * nc * 4) || rd.pos + 8 != data.size())
    return corrupt("truncated weights");
  rep->row_of_bucket.assign(size_t{1} << o.hash_bits, kNoRow);
  for (uint32_t r = 0; r < rows; ++r) {
    uint32_t b = rep->bucket_of_row[r];
    if (b >= rep->row_of_bucket.size() || rep->row_of_bucket[b] != kNoRow) return corrupt("bad bucket");
    rep->row_of_bucket[b] = r;
  }
  return std::unique_ptr<IntentModel>(new IntentModel(std::move(rep)));
}

bool IsHeldOutQuery(std::string_view query, double share) {
  return static_cast<double>(Mix(Fnv1a(query)) >> 11) / static_cast<double>(uint64_t{1} << 53) < share;
}

IntentAccuracy EvaluateIntent(const IntentModel& model, const std::vector<IntentPair>& pairs) {
  IntentAccuracy a;
  size_t hit1 = 0, hit3 = 0;
  for (const auto& p : pairs) {
    auto top = model.Predict(p.query, 3);
    for (size_t i = 0; i < top.size(); ++i)
      if (top[i].category == p.category) {
        hit1 += i == 0;
        ++hit3;
        break;
      }
  }
  a.pairs = pairs.size();
  if (a.pairs) a.at1 = static_cast<double>(hit1) / a.pairs, a.at3 = static_cast<double>(hit3) / a.pairs;
  return a;
}

std::vector<Hit> ApplyIntent(const IntentModel& model, std::string_view query, std::vector<Hit> hits,
                             const std::function<const std::string&(uint32_t doc)>& category_of,
                             const IntentRerankOptions& options) {
  if (options.mode == IntentMode::kNone || hits.empty()) return hits;
  std::vector<float> p = model.Probabilities(query);
  if (p.empty()) return hits;
  std::unordered_map<std::string_view, float> prob;
  for (size_t i = 0; i < p.size(); ++i) prob[model.categories()[i]] = p[i];
  auto p_of = [&](uint32_t doc) {
    auto it = prob.find(category_of(doc));
    return it == prob.end() ? 0.0f : it->second;
  };
  if (options.mode == IntentMode::kBoost) {
    for (Hit& h : hits) h.score *= 1.0f + options.weight * p_of(h.doc);
    std::stable_sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) { return a.score > b.score; });
    return hits;
  }
  if (*std::max_element(p.begin(), p.end()) < options.threshold) return hits;
  std::vector<Hit> kept;
  for (const Hit& h : hits)
    if (p_of(h.doc) >= 0.5f) kept.push_back(h);
  return kept.empty() ? hits : kept;
}

}  // namespace souk::search
