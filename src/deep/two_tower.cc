// Two-tower retrieval on libtorch: see deep.h for the model and its spec.
//
// Features are made here in plain C++ (hashing, vocabularies, quantiles);
// torch only sees index tensors. Text is lower-cased and split at anything
// but letters and digits (bytes >= 0x80 count as letters, so CJK text stays
// in words); each word gives a word feature and the character trigrams of
// "#word#", all hashed into one table of `buckets` rows (row 0 = padding)
// that the item and the query tower share: the query "jogging footwear" and
// a title both land in the same rows when they share words or pieces of
// words, and the towers' MLPs learn the rest from the search log.
//
// Item tower: [mean(title features), mean(description words), brand, leaf
// category, top category, log-price bucket, item id] -> Linear, ReLU,
// Linear -> L2 norm. The id row is 0 for items without interactions (cold
// items are embedded from their content alone) and, while training, for a
// `iddrop` share of the positives, so the content part learns to stand on
// its own.
// Query tower: mean(query features) -> MLP -> L2 norm.
// User tower: mean of the (cached) item vectors of the last `hist` items ->
// MLP -> L2 norm.
// Loss: in-batch softmax over the batch's items with temperature `temp` and
// the log-Q correction (logit - log q(item), q = the item's share of the
// stream's positives), which keeps popular items from being pushed down just
// because they are everyone's negative. Two streams: search -> picked item,
// and a user's items so far -> the next one.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <numeric>
#include <random>
#include <sstream>
#include <unordered_map>

#include "core/core.h"
#include "deep/deep.h"
#include "deep/internal.h"
#include "rec/rec.h"

namespace souk::deep {
namespace {

using rec::FormatNumber;

struct Config {
  int64_t d = 64, buckets = 200000, epochs = 10, batch = 256, hist = 10, hidden = 0;  // hidden 0 = 2d
  double lr = 0.002, temp = 0.05, iddrop = 0.5, upairs = 4;  // user pairs per query pair (cap), 0 = none
  double slr = 0.05;                                         // Adagrad rate of the (sparse) text table
  int64_t seed = 1;
};

constexpr int kPriceBuckets = 10;
constexpr size_t kMaxTitleFeatures = 128, kMaxDescWords = 48, kMaxQueryFeatures = 128;
constexpr uint32_t kFormatVersion = 1;

uint64_t Fnv1a(std::string_view s, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// Rows of the shared text table for `text`: words and (when `trigrams`)
// their character trigrams, at most `cap`.
void TextFeatures(std::string_view text, int64_t buckets, bool trigrams, size_t cap, std::vector<int64_t>* out) {
  const uint64_t n = static_cast<uint64_t>(buckets - 1);
  const size_t start = out->size();
  for (const std::string& w : AsciiWords(text)) {
    if (out->size() - start >= cap) break;
    out->push_back(1 + static_cast<int64_t>(Fnv1a(w, Fnv1a("w:")) % n));
    if (!trigrams) continue;
    const std::string padded = "#" + w + "#";
    for (size_t i = 0; i + 3 <= padded.size() && out->size() - start < cap; ++i)
      out->push_back(1 + static_cast<int64_t>(Fnv1a(std::string_view(padded).substr(i, 3), Fnv1a("t:")) % n));
  }
}

// Bags of feature rows in CSR form: bag i is rows[ptr[i]..ptr[i+1]); an
// empty bag gets the padding row so EmbeddingBag's mean is defined (zero).
struct Bags {
  std::vector<int64_t> ptr{0}, rows;
  void Add(std::vector<int64_t> feats) {
    if (feats.empty()) feats.push_back(0);
    rows.insert(rows.end(), feats.begin(), feats.end());
    ptr.push_back(static_cast<int64_t>(rows.size()));
  }
  size_t size() const { return ptr.size() - 1; }
  // Flat input + offsets of the bags `ids`, for EmbeddingBag.
  std::pair<torch::Tensor, torch::Tensor> Gather(const std::vector<int64_t>& ids) const {
    std::vector<int64_t> flat, off;
    off.reserve(ids.size());
    for (int64_t i : ids) {
      off.push_back(static_cast<int64_t>(flat.size()));
      flat.insert(flat.end(), rows.begin() + ptr[i], rows.begin() + ptr[i + 1]);
    }
    return {torch::tensor(flat, torch::kLong), torch::tensor(off, torch::kLong)};
  }
};

torch::nn::Sequential Mlp(int64_t in, int64_t hidden, int64_t out) {
  return torch::nn::Sequential(torch::nn::Linear(in, hidden), torch::nn::ReLU(), torch::nn::Linear(hidden, out));
}

struct Sizes {
  int64_t items = 0, brands = 1, leaves = 1, tops = 1;  // vocabularies include row 0 = none
};

struct TwoTowerNetImpl : torch::nn::Module {
  TwoTowerNetImpl(const Config& c, const Sizes& s) {
    const int64_t d = c.d, h = c.hidden > 0 ? c.hidden : 2 * c.d;
    // Sparse gradients: a batch touches a few thousand of the `buckets`
    // rows, and a dense gradient (plus Adam's update) of the whole table
    // cost ~2 s a batch at 200k x 64.
    auto bag = torch::nn::EmbeddingBagOptions(c.buckets, d).mode(torch::kMean).padding_idx(0).sparse(true);
    text = register_module("text", torch::nn::EmbeddingBag(bag));
    auto emb = [&](const char* name, int64_t n) {
      return register_module(name, torch::nn::Embedding(torch::nn::EmbeddingOptions(n, d).padding_idx(0)));
    };
    brand = emb("brand", s.brands);
    leaf = emb("leaf", s.leaves);
    top = emb("top", s.tops);
    price = emb("price", kPriceBuckets + 1);
    id = emb("id", s.items + 1);
    item_mlp = register_module("item_mlp", Mlp(7 * d, h, d));
    query_mlp = register_module("query_mlp", Mlp(d, h, d));
    user_mlp = register_module("user_mlp", Mlp(d, h, d));
    torch::NoGradGuard no_grad;
    for (auto& p : parameters())
      if (p.dim() == 2) torch::nn::init::normal_(p, 0, 0.05);
    for (auto* e : {&brand, &leaf, &top, &price, &id}) (*e)->weight[0].zero_();
    text->weight[0].zero_();
  }

  torch::Tensor Text(const std::pair<torch::Tensor, torch::Tensor>& bags) { return text(bags.first, bags.second); }

  // All inputs [B] (bags: flat + offsets) -> [B, d], unit length.
  torch::Tensor Item(const std::pair<torch::Tensor, torch::Tensor>& title,
                     const std::pair<torch::Tensor, torch::Tensor>& desc, const torch::Tensor& brand_ids,
                     const torch::Tensor& leaf_ids, const torch::Tensor& top_ids, const torch::Tensor& price_ids,
                     const torch::Tensor& item_ids) {
    auto x = torch::cat(
        {Text(title), Text(desc), brand(brand_ids), leaf(leaf_ids), top(top_ids), price(price_ids), id(item_ids)}, 1);
    return torch::nn::functional::normalize(item_mlp->forward(x), torch::nn::functional::NormalizeFuncOptions().dim(1));
  }
  torch::Tensor Query(const std::pair<torch::Tensor, torch::Tensor>& q) {
    return torch::nn::functional::normalize(query_mlp->forward(Text(q)),
                                            torch::nn::functional::NormalizeFuncOptions().dim(1));
  }
  torch::Tensor User(const torch::Tensor& mean_items) {
    return torch::nn::functional::normalize(user_mlp->forward(mean_items),
                                            torch::nn::functional::NormalizeFuncOptions().dim(1));
  }

  torch::nn::EmbeddingBag text{nullptr};
  torch::nn::Embedding brand{nullptr}, leaf{nullptr}, top{nullptr}, price{nullptr}, id{nullptr};
  torch::nn::Sequential item_mlp{nullptr}, query_mlp{nullptr}, user_mlp{nullptr};
};
TORCH_MODULE(TwoTowerNet);

// An item's inputs besides its text bags.
struct ItemIds {
  std::vector<int64_t> brand, leaf, top, price, warm;  // warm: 1 = has interactions (its id row is used)
};

class TwoTower final : public rec::Model {
 public:
  explicit TwoTower(rec::Spec& spec) {
    c_.d = spec.Int("d", c_.d);
    c_.buckets = spec.Int("buckets", c_.buckets);
    c_.epochs = spec.Int("epochs", c_.epochs);
    c_.batch = spec.Int("bs", c_.batch);
    c_.hist = spec.Int("hist", c_.hist);
    c_.hidden = spec.Int("hidden", c_.hidden);
    c_.lr = spec.Double("lr", c_.lr);
    c_.slr = spec.Double("slr", c_.slr);
    c_.temp = spec.Double("temp", c_.temp);
    c_.iddrop = spec.Double("iddrop", c_.iddrop);
    c_.upairs = spec.Double("upairs", c_.upairs);
    c_.seed = spec.Int("seed", c_.seed);
  }

  Status Validate() const {
    auto bad = [](const char* key, const char* want) {
      return Status::InvalidArgument(std::string("twotower: ") + key + " must be " + want);
    };
    if (c_.d < 1 || c_.d > 4096) return bad("d", "in 1..4096");
    if (c_.buckets < 2 || c_.buckets > (int64_t{1} << 26)) return bad("buckets", "in 2..67108864");
    if (c_.epochs < 0) return bad("epochs", ">= 0");
    if (c_.batch < 2) return bad("bs", ">= 2");
    if (c_.hist < 1) return bad("hist", ">= 1");
    if (c_.hidden < 0) return bad("hidden", ">= 0");
    if (!(c_.lr > 0)) return bad("lr", "> 0");
    if (!(c_.slr > 0)) return bad("slr", "> 0");
    if (!(c_.temp > 0)) return bad("temp", "> 0");
    if (!(c_.iddrop >= 0 && c_.iddrop <= 1)) return bad("iddrop", "in [0, 1]");
    if (!(c_.upairs >= 0)) return bad("upairs", ">= 0");
    return Status::Ok();
  }

  std::string Name() const override { return "twotower"; }
  std::string Describe() const override {
    return "twotower:d=" + std::to_string(c_.d) + ",buckets=" + std::to_string(c_.buckets) +
           ",epochs=" + std::to_string(c_.epochs) + ",lr=" + FormatNumber(c_.lr) + ",slr=" + FormatNumber(c_.slr) +
           ",temp=" + FormatNumber(c_.temp) + ",bs=" + std::to_string(c_.batch) + ",hist=" + std::to_string(c_.hist) +
           ",hidden=" + std::to_string(c_.hidden) + ",iddrop=" + FormatNumber(c_.iddrop) +
           ",upairs=" + FormatNumber(c_.upairs) + ",seed=" + std::to_string(c_.seed);
  }
  bool WantsContent() const override { return true; }
  uint32_t num_items() const override { return num_items_; }
  size_t FactorDim() const override { return static_cast<size_t>(c_.d); }
  const float* ItemFactors() const override { return items_.empty() ? nullptr : items_.data(); }

  Status Fit(const rec::Interactions& data, const rec::FitContext& ctx) override {
    SOUK_RETURN_IF_ERROR(Validate());
    if (ctx.content == nullptr)
      return Status::FailedPrecondition(
          "twotower needs the catalog's text and the search log (train it with souk train)");
    const rec::ItemContent& content = *ctx.content;
    if (content.titles.size() < data.num_items)
      return Status::InvalidArgument("twotower: the item content covers fewer items than the interactions");
    try {
      return FitImpl(data, content, ctx);
    } catch (const c10::Error& e) {
      return Status::Internal(std::string("twotower: torch: ") + e.what_without_backtrace());
    }
  }

  void Score(const rec::History& history, std::span<float> scores) const override {
    std::fill(scores.begin(), scores.end(), 0.0f);
    const std::vector<float> u = UserVector(history);
    if (u.empty()) return;
    const size_t d = static_cast<size_t>(c_.d);
    for (uint32_t i = 0; i < num_items_; ++i) {
      const float* e = items_.data() + static_cast<size_t>(i) * d;
      float s = 0;
      for (size_t k = 0; k < d; ++k) s += u[k] * e[k];
      scores[i] = s;
    }
  }

  std::vector<float> UserVector(const rec::History& history) const override {
    if (!net_) return {};
    const size_t d = static_cast<size_t>(c_.d);
    std::vector<float> mean(d, 0.0f);
    size_t n = 0;
    for (size_t t = history.items.size(); t-- > 0 && n < static_cast<size_t>(c_.hist);) {
      const uint32_t i = history.items[t];
      if (i >= num_items_) continue;
      for (size_t k = 0; k < d; ++k) mean[k] += items_[static_cast<size_t>(i) * d + k];
      ++n;
    }
    if (n == 0) return std::vector<float>(d, 0.0f);
    for (float& x : mean) x /= static_cast<float>(n);
    std::lock_guard<std::mutex> lock(mu_);
    torch::NoGradGuard no_grad;
    auto u = net_->User(torch::from_blob(mean.data(), {1, c_.d}, torch::kFloat).clone()).contiguous();
    return std::vector<float>(u.data_ptr<float>(), u.data_ptr<float>() + c_.d);
  }

  Result<std::vector<rec::ScoredItem>> Similar(uint32_t item, size_t k) const override {
    if (item >= num_items_) return Status::NotFound("twotower: item not in the model (trained before it was added?)");
    const size_t d = static_cast<size_t>(c_.d);
    std::vector<float> scores(num_items_);
    const float* q = items_.data() + static_cast<size_t>(item) * d;
    for (uint32_t i = 0; i < num_items_; ++i) {
      const float* e = items_.data() + static_cast<size_t>(i) * d;
      float s = 0;
      for (size_t j = 0; j < d; ++j) s += q[j] * e[j];
      scores[i] = s;
    }
    scores[item] = -std::numeric_limits<float>::infinity();
    return rec::TopK(scores, k);
  }

  Status EmbedQueries(std::span<const std::string> texts, std::vector<float>* out) const override {
    if (!net_) return Status::FailedPrecondition("twotower: not fitted");
    out->assign(texts.size() * static_cast<size_t>(c_.d), 0.0f);
    if (texts.empty()) return Status::Ok();
    Bags bags;
    std::vector<int64_t> ids;
    for (const std::string& t : texts) {
      std::vector<int64_t> f;
      TextFeatures(t, c_.buckets, true, kMaxQueryFeatures, &f);
      ids.push_back(static_cast<int64_t>(bags.size()));
      bags.Add(std::move(f));
    }
    try {
      std::lock_guard<std::mutex> lock(mu_);
      torch::NoGradGuard no_grad;
      auto q = net_->Query(bags.Gather(ids)).contiguous();
      std::memcpy(out->data(), q.data_ptr<float>(), out->size() * sizeof(float));
    } catch (const c10::Error& e) {
      return Status::Internal(std::string("twotower: torch: ") + e.what_without_backtrace());
    }
    return Status::Ok();
  }

  // Layout: u32 version, u32 num_items, i64 brands, leaves, tops, the torch
  // archive (u64 length + bytes), then the item vectors (num_items x d
  // floats), so serving needs neither the catalog nor a forward pass.
  Status SaveState(std::ostream& out) const override {
    if (!net_) return Status::FailedPrecondition("twotower: not fitted");
    const std::string bytes = SaveArchive(*net_);
    const uint64_t n = bytes.size();
    auto put = [&](const auto& v) { out.write(reinterpret_cast<const char*>(&v), sizeof(v)); };
    put(kFormatVersion);
    put(num_items_);
    put(sizes_.brands);
    put(sizes_.leaves);
    put(sizes_.tops);
    put(n);
    out.write(bytes.data(), static_cast<std::streamsize>(n));
    out.write(reinterpret_cast<const char*>(items_.data()),
              static_cast<std::streamsize>(items_.size() * sizeof(float)));
    if (!out) return Status::IoError("twotower: write failed");
    return Status::Ok();
  }

  Status LoadState(std::istream& in) override {
    SOUK_RETURN_IF_ERROR(Validate());
    auto get = [&](auto& v) { return static_cast<bool>(in.read(reinterpret_cast<char*>(&v), sizeof(v))); };
    uint32_t version = 0;
    uint64_t n = 0;
    Sizes s;
    if (!get(version)) return Status::Corruption("twotower: model file is truncated");
    if (version != kFormatVersion)
      return Status::Corruption("twotower: unknown model format version " + std::to_string(version) +
                                " (written by another souk version? retrain)");
    if (!get(num_items_) || !get(s.brands) || !get(s.leaves) || !get(s.tops) || !get(n) || n > (uint64_t{1} << 36) ||
        s.brands < 1 || s.leaves < 1 || s.tops < 1 || s.brands > (1 << 24) || s.leaves > (1 << 24) ||
        s.tops > (1 << 24)) {
      net_ = nullptr;
      return Status::Corruption("twotower: model file is truncated or corrupt");
    }
    s.items = num_items_;
    std::string bytes(n, '\0');
    if (!in.read(bytes.data(), static_cast<std::streamsize>(n))) {
      net_ = nullptr;
      return Status::Corruption("twotower: model file is truncated");
    }
    try {
      auto net = TwoTowerNet(c_, s);
      Status st = LoadCheckedArchive(*net, bytes, "twotower: model file does not fit its spec " + Describe());
      if (!st.ok()) {
        net_ = nullptr;
        return st;
      }
      net->eval();
      net_ = net;
    } catch (const c10::Error& e) {
      net_ = nullptr;
      return Status::Corruption(std::string("twotower: cannot load the network: ") + e.what_without_backtrace());
    }
    sizes_ = s;
    items_.assign(static_cast<size_t>(num_items_) * static_cast<size_t>(c_.d), 0.0f);
    if (!in.read(reinterpret_cast<char*>(items_.data()), static_cast<std::streamsize>(items_.size() * sizeof(float)))) {
      net_ = nullptr;
      return Status::Corruption("twotower: model file is truncated (item vectors)");
    }
    return Status::Ok();
  }

 private:
  Status FitImpl(const rec::Interactions& data, const rec::ItemContent& content, const rec::FitContext& ctx) {
    const auto started = std::chrono::steady_clock::now();
    torch::manual_seed(static_cast<uint64_t>(c_.seed));
    if (ctx.threads > 0) torch::set_num_threads(ctx.threads);
    std::mt19937_64 rng(static_cast<uint64_t>(c_.seed));
    num_items_ = data.num_items;
    const int64_t n_items = num_items_;

    // ---- item features ----
    Bags titles, descs;
    ItemIds ids;
    std::unordered_map<std::string, int64_t> brand_vocab, leaf_vocab, top_vocab;
    auto vocab = [](std::unordered_map<std::string, int64_t>& v, const std::string& key) -> int64_t {
      if (key.empty()) return 0;
      return v.try_emplace(key, static_cast<int64_t>(v.size()) + 1).first->second;
    };
    std::vector<double> log_prices;
    for (uint32_t i = 0; i < num_items_; ++i)
      if (content.prices[i] > 0) log_prices.push_back(std::log(content.prices[i]));
    std::sort(log_prices.begin(), log_prices.end());
    std::vector<double> cuts;  // kPriceBuckets - 1 quantile boundaries
    for (int b = 1; b < kPriceBuckets && !log_prices.empty(); ++b)
      cuts.push_back(log_prices[log_prices.size() * static_cast<size_t>(b) / kPriceBuckets]);
    for (uint32_t i = 0; i < num_items_; ++i) {
      std::vector<int64_t> f;
      TextFeatures(content.titles[i], c_.buckets, true, kMaxTitleFeatures, &f);
      titles.Add(std::move(f));
      f.clear();
      TextFeatures(content.descriptions[i], c_.buckets, false, kMaxDescWords, &f);
      descs.Add(std::move(f));
      ids.brand.push_back(vocab(brand_vocab, content.brands[i]));
      const std::string& cat = content.categories[i];
      ids.leaf.push_back(vocab(leaf_vocab, cat));
      ids.top.push_back(vocab(top_vocab, cat.substr(0, cat.find(" > "))));
      int64_t pb = 0;
      if (content.prices[i] > 0) {
        const double lp = std::log(content.prices[i]);
        pb = 1 + (std::upper_bound(cuts.begin(), cuts.end(), lp) - cuts.begin());
      }
      ids.price.push_back(pb);
      ids.warm.push_back(i + 1 < data.item_ptr.size() && data.item_ptr[i + 1] > data.item_ptr[i] ? 1 : 0);
    }
    sizes_ = {n_items, static_cast<int64_t>(brand_vocab.size()) + 1, static_cast<int64_t>(leaf_vocab.size()) + 1,
              static_cast<int64_t>(top_vocab.size()) + 1};
    net_ = TwoTowerNet(c_, sizes_);

    // ---- training pairs ----
    // Query stream: distinct query texts as bags, one pair per search pick.
    Bags queries;
    std::unordered_map<std::string, int64_t> query_ids;
    std::vector<std::pair<int64_t, int64_t>> qpairs;  // (query bag, item)
    for (const auto& q : content.queries) {
      if (q.item >= num_items_) continue;
      auto [it, fresh] = query_ids.try_emplace(q.text, static_cast<int64_t>(queries.size()));
      if (fresh) {
        std::vector<int64_t> f;
        TextFeatures(q.text, c_.buckets, true, kMaxQueryFeatures, &f);
        queries.Add(std::move(f));
      }
      qpairs.emplace_back(it->second, q.item);
    }
    // User stream: (user, position t) -> seq[t], for t >= 1 and a new item.
    std::vector<std::pair<uint32_t, uint32_t>> upairs_all;
    for (uint32_t u = 0; u + 1 < data.seq_ptr.size(); ++u) {
      const auto seq = data.Sequence(u);
      for (uint32_t t = 1; t < seq.size(); ++t)
        if (seq[t] != seq[t - 1]) upairs_all.emplace_back(u, t);
    }
    if (qpairs.empty() && upairs_all.empty()) return Status::FailedPrecondition("twotower: no training pairs");
    const size_t upair_cap = qpairs.empty()
                                 ? upairs_all.size()
                                 : std::min(upairs_all.size(), static_cast<size_t>(c_.upairs * qpairs.size()));
    auto log_q = [&](const std::vector<int64_t>& targets) {
      std::vector<double> count(num_items_, 0);
      for (int64_t i : targets) count[static_cast<size_t>(i)] += 1;
      std::vector<float> out(num_items_, 0.0f);
      for (uint32_t i = 0; i < num_items_; ++i)
        out[i] = count[i] > 0 ? static_cast<float>(std::log(count[i] / static_cast<double>(targets.size()))) : 0.0f;
      return out;
    };
    std::vector<int64_t> qtargets, utargets;
    for (const auto& [q, i] : qpairs) qtargets.push_back(i);
    for (const auto& [u, t] : upairs_all) utargets.push_back(data.Sequence(u)[t]);
    const std::vector<float> qlogq = log_q(qtargets), ulogq = log_q(utargets);

    // Adam for the dense parameters; Adagrad (which takes sparse gradients)
    // for the hashed text table.
    std::vector<torch::Tensor> dense_params, sparse_params;
    for (const auto& p : net_->named_parameters())
      (p.key() == "text.weight" ? sparse_params : dense_params).push_back(p.value());
    torch::optim::Adam opt(dense_params, torch::optim::AdamOptions(c_.lr));
    torch::optim::Adagrad sparse_opt(sparse_params, torch::optim::AdagradOptions(c_.slr));
    std::uniform_real_distribution<double> unit(0, 1);
    const size_t bs = static_cast<size_t>(c_.batch);
    const int64_t d = c_.d;

    // The item tower for a batch of item ids (gradients flow).
    auto item_forward = [&](const std::vector<int64_t>& items, bool train) {
      std::vector<int64_t> b, l, t, p, id;
      for (int64_t i : items) {
        b.push_back(ids.brand[i]);
        l.push_back(ids.leaf[i]);
        t.push_back(ids.top[i]);
        p.push_back(ids.price[i]);
        const bool drop = train && unit(rng) < c_.iddrop;
        id.push_back(ids.warm[i] && !drop ? i + 1 : 0);
      }
      return net_->Item(titles.Gather(items), descs.Gather(items), torch::tensor(b), torch::tensor(l), torch::tensor(t),
                        torch::tensor(p), torch::tensor(id));
    };
    // In-batch softmax with log-Q correction; repeats of the positive's item
    // elsewhere in the batch are not negatives.
    auto loss_of = [&](const torch::Tensor& left, const torch::Tensor& right, const std::vector<int64_t>& items,
                       const std::vector<float>& logq) {
      const int64_t B = static_cast<int64_t>(items.size());
      std::vector<float> corr;
      for (int64_t i : items) corr.push_back(logq[static_cast<size_t>(i)]);
      auto logits = torch::matmul(left, right.t()) / c_.temp - torch::tensor(corr).unsqueeze(0);
      auto it = torch::tensor(items);
      auto same = (it.unsqueeze(1) == it.unsqueeze(0)) & ~torch::eye(B).to(torch::kBool);
      logits = logits.masked_fill(same, -1e9f);
      return torch::nn::functional::cross_entropy(logits, torch::arange(B, torch::kLong));
    };

    for (int64_t epoch = 1; epoch <= c_.epochs; ++epoch) {
      // Stale item vectors for the user tower's inputs, refreshed per epoch.
      CacheItemVectors(titles, descs, ids);
      net_->train();
      std::shuffle(qpairs.begin(), qpairs.end(), rng);
      std::shuffle(upairs_all.begin(), upairs_all.end(), rng);
      // Batches: ('q', start) and ('u', start), interleaved at random.
      std::vector<std::pair<char, size_t>> batches;
      for (size_t s = 0; s + 1 < qpairs.size(); s += bs) batches.emplace_back('q', s);
      for (size_t s = 0; s + 1 < upair_cap; s += bs) batches.emplace_back('u', s);
      std::shuffle(batches.begin(), batches.end(), rng);
      double loss_sum = 0;
      for (const auto& [kind, start] : batches) {
        torch::Tensor loss;
        if (kind == 'q') {
          const size_t end = std::min(qpairs.size(), start + bs);
          std::vector<int64_t> qs, items;
          for (size_t r = start; r < end; ++r) qs.push_back(qpairs[r].first), items.push_back(qpairs[r].second);
          loss = loss_of(net_->Query(queries.Gather(qs)), item_forward(items, true), items, qlogq);
        } else {
          const size_t end = std::min(upair_cap, start + bs);
          std::vector<int64_t> items;
          std::vector<float> mean(static_cast<size_t>(end - start) * static_cast<size_t>(d), 0.0f);
          for (size_t r = start; r < end; ++r) {
            const auto [u, t] = upairs_all[r];
            const auto seq = data.Sequence(u);
            items.push_back(seq[t]);
            const uint32_t from = t > static_cast<uint32_t>(c_.hist) ? t - static_cast<uint32_t>(c_.hist) : 0;
            float* m = mean.data() + (r - start) * static_cast<size_t>(d);
            for (uint32_t j = from; j < t; ++j)
              for (int64_t k = 0; k < d; ++k) m[k] += items_[static_cast<size_t>(seq[j]) * d + k];
            for (int64_t k = 0; k < d; ++k) m[k] /= static_cast<float>(t - from);
          }
          auto users = net_->User(torch::from_blob(mean.data(), {static_cast<int64_t>(items.size()), d}).clone());
          loss = loss_of(users, item_forward(items, true), items, ulogq);
        }
        opt.zero_grad();
        sparse_opt.zero_grad();
        loss.backward();
        opt.step();
        sparse_opt.step();
        loss_sum += loss.item<double>();
      }
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      if (ctx.progress) ctx.progress(static_cast<uint64_t>(epoch), static_cast<uint64_t>(c_.epochs));
      if (ctx.log) {
        char buf[200];
        std::snprintf(buf, sizeof(buf),
                      "{\"epoch\":%lld,\"loss\":%.6f,\"query_pairs\":%zu,\"user_pairs\":%zu,\"seconds\":%.2f}",
                      static_cast<long long>(epoch), loss_sum / std::max<size_t>(1, batches.size()), qpairs.size(),
                      upair_cap, seconds);
        ctx.log(buf);
      }
    }
    CacheItemVectors(titles, descs, ids);
    net_->eval();
    return Status::Ok();
  }

  // items_ = the item tower over every item (eval mode, ids of warm items).
  void CacheItemVectors(const Bags& titles, const Bags& descs, const ItemIds& ids) {
    torch::NoGradGuard no_grad;
    net_->eval();
    items_.assign(static_cast<size_t>(num_items_) * static_cast<size_t>(c_.d), 0.0f);
    const int64_t chunk = 4096;
    for (int64_t s = 0; s < num_items_; s += chunk) {
      std::vector<int64_t> items, b, l, t, p, id;
      for (int64_t i = s; i < std::min<int64_t>(num_items_, s + chunk); ++i) {
        items.push_back(i);
        b.push_back(ids.brand[i]);
        l.push_back(ids.leaf[i]);
        t.push_back(ids.top[i]);
        p.push_back(ids.price[i]);
        id.push_back(ids.warm[i] ? i + 1 : 0);
      }
      auto v = net_->Item(titles.Gather(items), descs.Gather(items), torch::tensor(b), torch::tensor(l),
                          torch::tensor(t), torch::tensor(p), torch::tensor(id))
                   .contiguous();
      std::memcpy(items_.data() + static_cast<size_t>(s) * static_cast<size_t>(c_.d), v.data_ptr<float>(),
                  static_cast<size_t>(v.numel()) * sizeof(float));
    }
  }

  Config c_;
  Sizes sizes_;
  uint32_t num_items_ = 0;
  mutable TwoTowerNet net_{nullptr};  // forward passes are not const in torch
  std::vector<float> items_;          // num_items x d, unit rows
  mutable std::mutex mu_;             // torch modules are not safe to run from several threads at once
};

}  // namespace

void RegisterTwoTower() {
  rec::RegisterModelFactory("twotower", [](rec::Spec& spec) { return std::make_unique<TwoTower>(spec); });
}

}  // namespace souk::deep
