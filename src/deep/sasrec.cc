// SASRec on libtorch: see deep.h for the model and its spec.
//
// Layout: item ids are shifted by one inside the network (0 = padding);
// sequences are the last `len` items, left-padded. The network follows the
// authors' PyTorch port: embeddings scaled by sqrt(d) plus learned positions,
// then per block  q = LN(x); x = q + MHA(q, x, x; causal);  x = LN(x);
// x = x + FFN(x)  with padding positions zeroed after each block, and a final
// layer norm. The score of item i after a sequence is <h_last, E_i>.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>
#include <numeric>
#include <random>
#include <sstream>

#include "deep/deep.h"
#include "rec/rec.h"

namespace souk::deep {
namespace {

using rec::FormatNumber;

struct Config {
  int64_t d = 50, len = 50, layers = 2, heads = 1, batch = 128, epochs = 200, patience = 5, every = 2, neg = 1;
  double dropout = 0.5, lr = 0.001;
  std::string loss = "bce";
  int64_t seed = -1;
  double minutes = 20;  // training time budget; 0 = none
};

struct SasRecNetImpl : torch::nn::Module {
  SasRecNetImpl(int64_t num_items, const Config& c) : d(c.d), len(c.len) {
    item_emb = register_module("item_emb",
                               torch::nn::Embedding(torch::nn::EmbeddingOptions(num_items + 1, c.d).padding_idx(0)));
    pos_emb = register_module("pos_emb", torch::nn::Embedding(c.len, c.d));
    drop = register_module("drop", torch::nn::Dropout(c.dropout));
    for (int64_t b = 0; b < c.layers; ++b) {
      const std::string s = std::to_string(b);
      attn_ln.push_back(
          register_module("attn_ln" + s, torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.d}).eps(1e-8))));
      attn.push_back(register_module(
          "attn" + s,
          torch::nn::MultiheadAttention(torch::nn::MultiheadAttentionOptions(c.d, c.heads).dropout(c.dropout))));
      ffn_ln.push_back(
          register_module("ffn_ln" + s, torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.d}).eps(1e-8))));
      ff1.push_back(register_module("ff1_" + s, torch::nn::Linear(c.d, c.d)));
      ff2.push_back(register_module("ff2_" + s, torch::nn::Linear(c.d, c.d)));
    }
    last_ln = register_module("last_ln", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.d}).eps(1e-8)));
    // Xavier-normal for every matrix, as the authors' PyTorch port: torch's
    // default N(0, 1) embeddings, scaled by sqrt(d), start with logits of
    // std ~sqrt(d) and the model barely learns.
    torch::NoGradGuard no_grad;
    for (auto& p : parameters()) {
      if (p.dim() >= 2) torch::nn::init::xavier_normal_(p);
    }
    item_emb->weight[0].zero_();  // padding
  }

  // seq: [B, L] int64 (0 = padding) -> hidden states [B, L, d].
  torch::Tensor Encode(const torch::Tensor& seq) {
    const int64_t b = seq.size(0), l = seq.size(1);
    auto x = item_emb(seq) * std::sqrt(static_cast<double>(d));
    auto positions = torch::arange(l, torch::kLong).unsqueeze(0).expand({b, l});
    x = drop(x + pos_emb(positions));
    auto keep = (seq != 0).unsqueeze(-1).to(torch::kFloat);
    x = x * keep;
    auto causal = torch::triu(torch::ones({l, l}, torch::kBool), 1);  // true = may not attend
    for (size_t i = 0; i < attn.size(); ++i) {
      auto q = attn_ln[i](x);
      auto kv = x.transpose(0, 1);
      auto out = std::get<0>(attn[i]->forward(q.transpose(0, 1), kv, kv, {}, /*need_weights=*/false, causal));
      x = q + out.transpose(0, 1);
      x = ffn_ln[i](x);
      auto h = drop(ff2[i](drop(torch::relu(ff1[i](x)))));
      x = (x + h) * keep;
    }
    return last_ln(x);
  }

  int64_t d, len;
  torch::nn::Embedding item_emb{nullptr}, pos_emb{nullptr};
  torch::nn::Dropout drop{nullptr};
  std::vector<torch::nn::LayerNorm> attn_ln, ffn_ln;
  std::vector<torch::nn::MultiheadAttention> attn;
  std::vector<torch::nn::Linear> ff1, ff2;
  torch::nn::LayerNorm last_ln{nullptr};
};
TORCH_MODULE(SasRecNet);

class SasRec : public rec::Model {
 public:
  explicit SasRec(rec::Spec& spec) {
    c_.d = spec.Int("d", 50);
    c_.len = spec.Int("len", 50);
    c_.layers = spec.Int("layers", 2);
    c_.heads = spec.Int("heads", 1);
    c_.dropout = spec.Double("drop", 0.5);
    c_.lr = spec.Double("lr", 0.001);
    c_.batch = spec.Int("bs", 128);
    c_.epochs = spec.Int("epochs", 200);
    c_.patience = spec.Int("patience", 5);
    c_.every = spec.Int("every", 2);
    c_.loss = spec.String("loss", "bce");
    c_.neg = spec.Int("neg", 1);
    c_.seed = spec.Int("seed", -1);
    c_.minutes = spec.Double("minutes", 20);
  }

  std::string Name() const override { return "sasrec"; }
  std::string Describe() const override {
    std::string s = "sasrec:d=" + std::to_string(c_.d) + ",len=" + std::to_string(c_.len) +
                    ",layers=" + std::to_string(c_.layers) + ",heads=" + std::to_string(c_.heads) +
                    ",drop=" + FormatNumber(c_.dropout) + ",lr=" + FormatNumber(c_.lr) +
                    ",bs=" + std::to_string(c_.batch) + ",epochs=" + std::to_string(c_.epochs) +
                    ",patience=" + std::to_string(c_.patience) + ",every=" + std::to_string(c_.every) +
                    ",loss=" + c_.loss + ",neg=" + std::to_string(c_.neg) + ",minutes=" + FormatNumber(c_.minutes);
    if (c_.seed >= 0) s += ",seed=" + std::to_string(c_.seed);
    return s;
  }

  Status Validate() const {
    if (c_.d < 1 || c_.len < 1 || c_.layers < 1 || c_.heads < 1 || c_.d % c_.heads != 0) {
      return Status::InvalidArgument("sasrec: need d, len, layers, heads >= 1 and d divisible by heads");
    }
    if (!(c_.dropout >= 0 && c_.dropout < 1) || !(c_.lr > 0) || c_.batch < 1 || c_.epochs < 1 || c_.patience < 1 ||
        c_.every < 1 || c_.neg < 1 || !(c_.minutes >= 0)) {
      return Status::InvalidArgument("sasrec: need 0 <= drop < 1, lr > 0, bs, epochs, patience, every, neg >= 1");
    }
    if (c_.loss != "bce" && c_.loss != "ssm") return Status::InvalidArgument("sasrec: loss must be bce or ssm");
    return Status::Ok();
  }

  Status Fit(const rec::Interactions& data, const rec::FitContext& ctx) override {
    SOUK_RETURN_IF_ERROR(Validate());
    num_items_ = data.num_items;
    const uint64_t seed = c_.seed >= 0 ? static_cast<uint64_t>(c_.seed) : ctx.seed;
    torch::manual_seed(seed);
    torch::set_num_threads(std::max(1, ctx.threads));
    net_ = SasRecNet(num_items_, c_);

    // Per user: the training sequence (all but the last item) and the
    // validation target (the last item), items shifted by one.
    std::vector<std::vector<int64_t>> seqs;
    std::vector<int64_t> val_target;
    std::vector<uint32_t> users;
    for (uint32_t u = 0; u < data.num_users; ++u) {
      auto s = data.Sequence(u);
      if (s.size() < 3) {
        if (s.size() == 2) {  // too short to validate on, still worth training on
          seqs.push_back({s[0] + 1, s[1] + 1});
          val_target.push_back(0);
          users.push_back(u);
        }
        continue;
      }
      std::vector<int64_t> v(s.size() - 1);
      for (size_t j = 0; j + 1 < s.size(); ++j) v[j] = s[j] + 1;
      seqs.push_back(std::move(v));
      val_target.push_back(s.back() + 1);
      users.push_back(u);
    }
    if (seqs.empty()) return Status::FailedPrecondition("sasrec: no user has two or more interactions");
    std::vector<size_t> val_users;
    for (size_t i = 0; i < seqs.size(); ++i) {
      if (val_target[i] != 0) val_users.push_back(i);
    }
    std::mt19937_64 rng(seed);
    std::shuffle(val_users.begin(), val_users.end(), rng);
    if (val_users.size() > 3000) val_users.resize(3000);

    torch::optim::Adam opt(net_->parameters(), torch::optim::AdamOptions(c_.lr).betas({0.9, 0.98}));
    const int64_t L = c_.len;
    std::vector<size_t> order(seqs.size());
    std::iota(order.begin(), order.end(), 0);
    std::uniform_int_distribution<int64_t> any_item(1, num_items_);
    auto seen = [&](size_t i, int64_t item) {
      auto items = data.UserItems(users[i]);
      return std::binary_search(items.begin(), items.end(), static_cast<uint32_t>(item - 1));
    };

    double best = -1;
    int64_t bad_evals = 0;
    const auto started = std::chrono::steady_clock::now();
    auto out_of_time = [&] {
      return c_.minutes > 0 &&
             std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() > c_.minutes * 60;
    };
    std::stringstream best_state;
    epochs_run_ = 0;
    for (int64_t epoch = 1; epoch <= c_.epochs; ++epoch) {
      net_->train();
      std::shuffle(order.begin(), order.end(), rng);
      double loss_sum = 0;
      int64_t loss_batches = 0;
      for (size_t start = 0; start < order.size(); start += static_cast<size_t>(c_.batch)) {
        const size_t end = std::min(order.size(), start + static_cast<size_t>(c_.batch));
        const int64_t B = static_cast<int64_t>(end - start);
        auto inp = torch::zeros({B, L}, torch::kLong);
        auto pos = torch::zeros({B, L}, torch::kLong);
        const int64_t nneg = c_.loss == "ssm" ? c_.neg : 1;
        auto neg = torch::zeros({B, L, nneg}, torch::kLong);
        auto pi = inp.accessor<int64_t, 2>();
        auto pp = pos.accessor<int64_t, 2>();
        auto pn = neg.accessor<int64_t, 3>();
        for (int64_t r = 0; r < B; ++r) {
          const size_t i = order[start + static_cast<size_t>(r)];
          const auto& s = seqs[i];
          // Inputs s[0..n-2] predict s[1..n-1]; keep the last L pairs.
          const int64_t n = static_cast<int64_t>(s.size()) - 1;
          const int64_t take = std::min(n, L);
          for (int64_t t = 0; t < take; ++t) {
            const int64_t src = n - take + t;
            const int64_t col = L - take + t;
            pi[r][col] = s[static_cast<size_t>(src)];
            pp[r][col] = s[static_cast<size_t>(src + 1)];
            for (int64_t k = 0; k < nneg; ++k) {
              int64_t x;
              do x = any_item(rng);
              while (seen(i, x));
              pn[r][col][k] = x;
            }
          }
        }
        auto h = net_->Encode(inp);                                       // [B, L, d]
        auto pos_logit = (h * net_->item_emb(pos)).sum(-1);               // [B, L]
        auto neg_logit = (h.unsqueeze(2) * net_->item_emb(neg)).sum(-1);  // [B, L, nneg]
        auto mask = (pos != 0);
        torch::Tensor loss;
        if (c_.loss == "bce") {
          auto lp = torch::nn::functional::binary_cross_entropy_with_logits(
              pos_logit, torch::ones_like(pos_logit),
              torch::nn::functional::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kNone));
          auto ln = torch::nn::functional::binary_cross_entropy_with_logits(
              neg_logit.squeeze(-1), torch::zeros_like(pos_logit),
              torch::nn::functional::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kNone));
          loss = ((lp + ln) * mask).sum() / mask.sum().clamp_min(1);
        } else {
          // Sampled softmax: the positive against nneg negatives.
          auto logits = torch::cat({pos_logit.unsqueeze(-1), neg_logit}, -1);  // [B, L, 1 + nneg]
          auto lse = torch::logsumexp(logits, -1);
          loss = ((lse - pos_logit) * mask).sum() / mask.sum().clamp_min(1);
        }
        opt.zero_grad();
        loss.backward();
        opt.step();
        loss_sum += loss.item<double>();
        ++loss_batches;
      }
      epochs_run_ = epoch;
      if (ctx.progress) ctx.progress(static_cast<uint64_t>(epoch), static_cast<uint64_t>(c_.epochs));
      const bool last = epoch == c_.epochs || out_of_time();
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      const double mean_loss = loss_sum / static_cast<double>(std::max<int64_t>(loss_batches, 1));
      if (epoch % c_.every != 0 && !last) {
        if (ctx.log) ctx.log(Json(epoch, mean_loss, -1, seconds));
        continue;
      }
      // Validation: full-ranking NDCG@10 of each sampled user's last training item.
      const double ndcg = ValidationNdcg(seqs, val_target, val_users);
      curve_.push_back({epoch, ndcg});
      if (ctx.log) ctx.log(Json(epoch, mean_loss, ndcg, seconds));
      if (ndcg > best) {
        best = ndcg;
        bad_evals = 0;
        best_state.str("");
        best_state.clear();
        torch::serialize::OutputArchive ar;
        net_->save(ar);
        ar.save_to(best_state);
      } else if (++bad_evals >= c_.patience) {
        break;
      }
      if (last) break;
    }
    if (best >= 0) {
      torch::serialize::InputArchive ar;
      std::istringstream in(best_state.str());
      ar.load_from(in);
      net_->load(ar);
    }
    best_validation_ = best;
    net_->eval();
    CacheItemEmbeddings();
    return Status::Ok();
  }

  void Score(const rec::History& history, std::span<float> scores) const override {
    std::fill(scores.begin(), scores.end(), 0.0f);
    std::vector<int64_t> seq;
    for (uint32_t i : history.items) {
      if (i < num_items_) seq.push_back(static_cast<int64_t>(i) + 1);
    }
    const std::vector<float> h = Hidden(seq);
    const size_t d = static_cast<size_t>(c_.d);
    for (uint32_t i = 0; i < num_items_; ++i) {
      const float* e = items_.data() + (static_cast<size_t>(i) + 1) * d;
      float s = 0;
      for (size_t k = 0; k < d; ++k) s += h[k] * e[k];
      scores[i] = s;
    }
  }

  uint32_t num_items() const override { return num_items_; }

  Status SaveState(std::ostream& out) const override {
    if (!net_) return Status::FailedPrecondition("sasrec: not fitted");
    std::ostringstream buf;
    torch::serialize::OutputArchive ar;
    net_->save(ar);
    ar.save_to(buf);
    const std::string bytes = buf.str();
    const uint64_t n = bytes.size();
    out.write(reinterpret_cast<const char*>(&num_items_), sizeof(num_items_));
    out.write(reinterpret_cast<const char*>(&n), sizeof(n));
    out.write(bytes.data(), static_cast<std::streamsize>(n));
    return Status::Ok();
  }

  Status LoadState(std::istream& in) override {
    SOUK_RETURN_IF_ERROR(Validate());
    uint64_t n = 0;
    if (!in.read(reinterpret_cast<char*>(&num_items_), sizeof(num_items_)) ||
        !in.read(reinterpret_cast<char*>(&n), sizeof(n)) || n > (uint64_t{1} << 36)) {
      return Status::Corruption("sasrec: model file is truncated or corrupt");
    }
    std::string bytes(n, '\0');
    if (!in.read(bytes.data(), static_cast<std::streamsize>(n))) {
      return Status::Corruption("sasrec: model file is truncated");
    }
    try {
      net_ = SasRecNet(num_items_, c_);
      torch::serialize::InputArchive ar;
      std::istringstream is(bytes);
      ar.load_from(is);
      net_->load(ar);
    } catch (const c10::Error& e) {
      return Status::Corruption(std::string("sasrec: cannot load the network (wrong shapes?): ") +
                                e.what_without_backtrace());
    }
    net_->eval();
    CacheItemEmbeddings();
    return Status::Ok();
  }

  // Per-evaluation validation NDCG@10 (epoch, value), for training curves.
  const std::vector<std::pair<int64_t, double>>& curve() const { return curve_; }

 private:
  static std::string Json(int64_t epoch, double loss, double ndcg, double seconds) {
    char buf[160];
    if (ndcg < 0) {
      std::snprintf(buf, sizeof(buf), "{\"epoch\":%lld,\"loss\":%.6f,\"seconds\":%.2f}", static_cast<long long>(epoch),
                    loss, seconds);
    } else {
      std::snprintf(buf, sizeof(buf), "{\"epoch\":%lld,\"loss\":%.6f,\"val_ndcg10\":%.6f,\"seconds\":%.2f}",
                    static_cast<long long>(epoch), loss, ndcg, seconds);
    }
    return buf;
  }

  // The last hidden state after `seq` (ids already shifted), length d.
  std::vector<float> Hidden(const std::vector<int64_t>& seq) const {
    const int64_t L = c_.len;
    auto inp = torch::zeros({1, L}, torch::kLong);
    auto a = inp.accessor<int64_t, 2>();
    const int64_t take = std::min<int64_t>(static_cast<int64_t>(seq.size()), L);
    for (int64_t t = 0; t < take; ++t)
      a[0][L - take + t] = seq[seq.size() - static_cast<size_t>(take) + static_cast<size_t>(t)];
    torch::NoGradGuard no_grad;
    auto h = net_->Encode(inp).index({0, L - 1}).contiguous();
    return std::vector<float>(h.data_ptr<float>(), h.data_ptr<float>() + c_.d);
  }

  double ValidationNdcg(const std::vector<std::vector<int64_t>>& seqs, const std::vector<int64_t>& target,
                        const std::vector<size_t>& users) {
    net_->eval();
    torch::NoGradGuard no_grad;
    auto e = net_->item_emb->weight;  // [n+1, d]
    double sum = 0;
    const size_t chunk = 256;
    for (size_t start = 0; start < users.size(); start += chunk) {
      const size_t end = std::min(users.size(), start + chunk);
      const int64_t B = static_cast<int64_t>(end - start), L = c_.len;
      auto inp = torch::zeros({B, L}, torch::kLong);
      auto a = inp.accessor<int64_t, 2>();
      std::vector<int64_t> tg(static_cast<size_t>(B));
      for (int64_t r = 0; r < B; ++r) {
        const size_t i = users[start + static_cast<size_t>(r)];
        const auto& s = seqs[i];
        const int64_t take = std::min<int64_t>(static_cast<int64_t>(s.size()), L);
        for (int64_t t = 0; t < take; ++t)
          a[r][L - take + t] = s[s.size() - static_cast<size_t>(take) + static_cast<size_t>(t)];
        tg[static_cast<size_t>(r)] = target[i];
      }
      auto h = net_->Encode(inp).select(1, L - 1);  // [B, d]
      auto scores = torch::matmul(h, e.t());        // [B, n+1]
      scores.select(1, 0).fill_(-1e30);
      // Seen items do not compete (as in exclude-seen serving).
      for (int64_t r = 0; r < B; ++r) {
        for (int64_t x : seqs[users[start + static_cast<size_t>(r)]]) scores[r][x] = -1e30;
      }
      auto acc = scores.accessor<float, 2>();
      for (int64_t r = 0; r < B; ++r) {
        const float t = acc[r][tg[static_cast<size_t>(r)]];
        int64_t rank = 0;
        for (int64_t j = 1; j < scores.size(1) && rank < 10; ++j) rank += acc[r][j] > t;
        if (rank < 10) sum += 1.0 / std::log2(static_cast<double>(rank) + 2.0);
      }
    }
    net_->train();
    return users.empty() ? 0 : sum / static_cast<double>(users.size());
  }

  void CacheItemEmbeddings() {
    auto w = net_->item_emb->weight.detach().contiguous();
    items_.assign(w.data_ptr<float>(), w.data_ptr<float>() + w.numel());
  }

  Config c_;
  uint32_t num_items_ = 0;
  mutable SasRecNet net_{nullptr};
  std::vector<float> items_;  // (num_items + 1) x d, row 0 = padding
  std::vector<std::pair<int64_t, double>> curve_;
  int64_t epochs_run_ = 0;
  double best_validation_ = -1;
};

}  // namespace

void RegisterModels() {
  rec::RegisterModelFactory("sasrec", [](rec::Spec& spec) { return std::make_unique<SasRec>(spec); });
}

}  // namespace souk::deep
