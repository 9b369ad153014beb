// SASRec on libtorch: see deep.h for the model and its spec.
//
// Layout: item ids are shifted by one inside the network (0 = padding);
// sequences are the last `len` items, left-padded. The network follows the
// authors' PyTorch port: embeddings scaled by sqrt(d) plus learned positions,
// then per block  q = LN(x); x = q + MHA(q, x, x; causal);  x = LN(x);
// x = x + FFN(x)  with padding positions zeroed after each block, and a final
// layer norm. The score of item i after a sequence is <h_last, E_i>.
#include <malloc.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>
#include <numeric>
#include <random>
#include <sstream>

#include "deep/deep.h"
#include "deep/internal.h"
#include "deep/quant.h"
#include "rec/rec.h"

namespace souk::deep {
namespace {

using rec::FormatNumber;

struct Config {
  int64_t d = 50, len = 50, layers = 2, heads = 1, batch = 128, epochs = 200, patience = 5, every = 2, neg = 1024;
  double dropout = 0.5, lr = 0.001, l2 = 0;
  double t = 0.75;  // gbce calibration
  std::string loss = "ssm";
  std::string holdout = "val";  // whose last item validation withholds: val users or all
  int64_t seed = -1;
  // torch threads: training uses N (0 = 1 below d=128, else rec.threads);
  // each scoring call caps torch at N (0 = leave torch's setting).
  int64_t threads = 0;
  double minutes = 20;  // training time budget; 0 = none
  int64_t int8 = 0;     // serve with int8 linear layers and item table (quant.h); training is fp32
};

constexpr float kMasked = -1e9f;  // additive attention mask (finite: a fully masked padding row stays finite)

struct SasRecNetImpl : torch::nn::Module {
  SasRecNetImpl(int64_t num_items, const Config& c) : d(c.d), len(c.len), heads(c.heads), dropout(c.dropout) {
    item_emb = register_module("item_emb",
                               torch::nn::Embedding(torch::nn::EmbeddingOptions(num_items + 1, c.d).padding_idx(0)));
    pos_emb = register_module("pos_emb", torch::nn::Embedding(c.len, c.d));
    drop = register_module("drop", torch::nn::Dropout(c.dropout));
    for (int64_t b = 0; b < c.layers; ++b) {
      const std::string s = std::to_string(b);
      attn_ln.push_back(
          register_module("attn_ln" + s, torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.d}).eps(1e-8))));
      wq.push_back(register_module("wq" + s, torch::nn::Linear(c.d, c.d)));
      wkv.push_back(register_module("wkv" + s, torch::nn::Linear(c.d, 2 * c.d)));
      wo.push_back(register_module("wo" + s, torch::nn::Linear(c.d, c.d)));
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
    for (auto& b : wq) b->bias.zero_();
    for (auto& b : wkv) b->bias.zero_();
    for (auto& b : wo) b->bias.zero_();
    item_emb->weight[0].zero_();  // padding
  }

  // seq: [B, m] int64 (0 = padding, left-padded, m <= len) -> hidden states
  // [B, m, d]. The columns are the last m of the model's `len` positions, so
  // a batch trimmed to its longest sequence gives exactly what the full
  // padded batch gives: padding keys are masked out of attention, not just
  // zeroed.
  torch::Tensor Encode(const torch::Tensor& seq) {
    const int64_t b = seq.size(0), m = seq.size(1);
    const int64_t dh = d / heads;
    auto x = Items(seq) * std::sqrt(static_cast<double>(d));
    auto positions = torch::arange(len - m, len, torch::kLong);
    x = drop(x + pos_emb(positions).unsqueeze(0));
    auto real = seq != 0;                              // [B, m]
    auto keep = real.unsqueeze(-1).to(torch::kFloat);  // [B, m, 1]
    x = x * keep;
    // Query t may attend key s when s <= t and s is a real item.
    auto allowed = torch::tril(torch::ones({m, m}, torch::kBool)).unsqueeze(0) & real.unsqueeze(1);  // [B, m, m]
    auto mask = torch::zeros({b, 1, m, m}).masked_fill_(allowed.logical_not().unsqueeze(1), kMasked);
    const double scale = 1.0 / std::sqrt(static_cast<double>(dh));
    for (size_t i = 0; i < wq.size(); ++i) {
      auto q = attn_ln[i](x);
      auto qh = wq[i](q).view({b, m, heads, dh}).transpose(1, 2);               // [B, H, m, dh]
      auto kv = wkv[i](x).view({b, m, 2, heads, dh}).permute({2, 0, 3, 1, 4});  // [2, B, H, m, dh]
      auto att =
          torch::baddbmm(mask.expand({b, heads, m, m}).reshape({b * heads, m, m}), qh.reshape({b * heads, m, dh}),
                         kv[0].reshape({b * heads, m, dh}).transpose(1, 2), 1.0, scale);
      att = torch::softmax(att, -1);
      if (is_training() && dropout > 0) att = torch::dropout(att, dropout, true);
      auto out =
          torch::bmm(att, kv[1].reshape({b * heads, m, dh})).view({b, heads, m, dh}).transpose(1, 2).reshape({b, m, d});
      x = q + wo[i](out);
      x = ffn_ln[i](x);
      auto h = drop(ff2[i](drop(torch::relu(ff1[i](x)))));
      x = (x + h) * keep;
    }
    return last_ln(x);
  }

  // Rows of the item table for ids of any shape -> [..., d]. index_select
  // rather than nn::Embedding: its CPU backward is ~10x slower here.
  torch::Tensor Items(const torch::Tensor& ids) {
    auto sizes = ids.sizes().vec();
    sizes.push_back(d);
    return item_emb->weight.index_select(0, ids.reshape({-1})).view(sizes);
  }

  int64_t d, len, heads;
  double dropout;
  torch::nn::Embedding item_emb{nullptr}, pos_emb{nullptr};
  torch::nn::Dropout drop{nullptr};
  std::vector<torch::nn::LayerNorm> attn_ln, ffn_ln;
  std::vector<torch::nn::Linear> wq, wkv, wo;
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
    c_.loss = spec.String("loss", "ssm");
    c_.neg = spec.Int("neg", 1024);
    c_.l2 = spec.Double("l2", 0);
    c_.t = spec.Double("t", 0.75);
    c_.seed = spec.Int("seed", -1);
    c_.threads = spec.Int("threads", 0);
    c_.holdout = spec.String("holdout", "val");
    c_.minutes = spec.Double("minutes", 20);
    c_.int8 = spec.Int("int8", 0);
  }

  std::string Name() const override { return "sasrec"; }
  std::string Describe() const override {
    std::string s =
        "sasrec:d=" + std::to_string(c_.d) + ",len=" + std::to_string(c_.len) + ",layers=" + std::to_string(c_.layers) +
        ",heads=" + std::to_string(c_.heads) + ",drop=" + FormatNumber(c_.dropout) + ",lr=" + FormatNumber(c_.lr) +
        ",bs=" + std::to_string(c_.batch) + ",epochs=" + std::to_string(c_.epochs) +
        ",patience=" + std::to_string(c_.patience) + ",every=" + std::to_string(c_.every) + ",loss=" + c_.loss +
        ",neg=" + std::to_string(c_.neg) + ",l2=" + FormatNumber(c_.l2) +
        (c_.loss == "gbce" ? ",t=" + FormatNumber(c_.t) : std::string()) + ",minutes=" + FormatNumber(c_.minutes);
    if (c_.seed >= 0) s += ",seed=" + std::to_string(c_.seed);
    // Serving keys only when set, so descriptions of existing model files stay as they were.
    if (c_.int8) s += ",int8=1";
    if (c_.threads > 0) s += ",threads=" + std::to_string(c_.threads);
    if (c_.holdout != "val") s += ",holdout=" + c_.holdout;
    return s;
  }

  Status Validate() const {
    if (c_.d < 1 || c_.len < 1 || c_.layers < 1 || c_.heads < 1 || c_.d % c_.heads != 0) {
      return Status::InvalidArgument("sasrec: need d, len, layers, heads >= 1 and d divisible by heads");
    }
    if (!(c_.dropout >= 0 && c_.dropout < 1) || !(c_.lr > 0) || c_.batch < 1 || c_.epochs < 1 || c_.patience < 1 ||
        c_.every < 1 || c_.neg < 0 || c_.threads < 0 || !(c_.l2 >= 0) || !(c_.minutes >= 0)) {
      return Status::InvalidArgument(
          "sasrec: need 0 <= drop < 1, lr > 0, bs, epochs, patience, every >= 1, neg >= 0 (0 = every item), l2 >= 0");
    }
    if (c_.loss != "bce" && c_.loss != "ssm" && c_.loss != "gbce")
      return Status::InvalidArgument("sasrec: loss must be bce, ssm or gbce");
    if (c_.holdout != "val" && c_.holdout != "all")
      return Status::InvalidArgument("sasrec: holdout must be val or all");
    if (!(c_.t >= 0 && c_.t <= 1)) return Status::InvalidArgument("sasrec: need 0 <= t <= 1");
    if (c_.int8 != 0 && c_.int8 != 1) return Status::InvalidArgument("sasrec: int8 must be 0 or 1");
    if (c_.threads < 0 || c_.threads > 1024) return Status::InvalidArgument("sasrec: need 0 <= threads <= 1024");
    return Status::Ok();
  }

  Status Fit(const rec::Interactions& data, const rec::FitContext& ctx) override {
    SOUK_RETURN_IF_ERROR(Validate());
    num_items_ = data.num_items;
    const uint64_t seed = c_.seed >= 0 ? static_cast<uint64_t>(c_.seed) : ctx.seed;
    torch::manual_seed(seed);
    // At the paper's size (d=50) every op is too small to split: on 2 cores
    // an epoch on Games took 3.9 s with one thread and 8.0 s with two.
    const int64_t threads = c_.threads > 0 ? c_.threads : (c_.d < 128 ? 1 : std::max(1, ctx.threads));
    torch::set_num_threads(static_cast<int>(threads));
    net_ = SasRecNet(num_items_, c_);

    // Validation: the last item of up to 3,000 random users with three or
    // more items is withheld and predicted from the rest. With holdout=all
    // (the paper's setup) every user's last item is withheld from training;
    // with holdout=val (default) only the validation users' are, so the
    // other users' most recent item, the one nearest the future, is
    // trained on too.
    std::vector<std::vector<int64_t>> seqs;
    std::vector<int64_t> val_target;
    std::vector<uint32_t> users;
    std::vector<size_t> candidates;
    for (uint32_t u = 0; u < data.num_users; ++u) {
      auto s = data.Sequence(u);
      if (s.size() < 2) continue;
      if (s.size() >= 3) candidates.push_back(seqs.size());
      std::vector<int64_t> v(s.size());
      for (size_t j = 0; j < s.size(); ++j) v[j] = s[j] + 1;
      seqs.push_back(std::move(v));
      val_target.push_back(0);
      users.push_back(u);
    }
    if (seqs.empty()) return Status::FailedPrecondition("sasrec: no user has two or more interactions");
    std::mt19937_64 rng(seed);
    std::shuffle(candidates.begin(), candidates.end(), rng);
    std::vector<size_t> val_users(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(std::min<size_t>(
                                                                               candidates.size(), 3000)));
    for (size_t i : c_.holdout == "all" ? candidates : val_users) {
      val_target[i] = seqs[i].back();
      seqs[i].pop_back();
    }

    // Adam with decoupled weight decay only where asked (l2 > 0 regularises
    // the item embeddings, as the paper's l2_emb).
    torch::optim::Adam opt(net_->parameters(), torch::optim::AdamOptions(c_.lr).betas({0.9, 0.98}));
    const int64_t L = c_.len;
    std::uniform_int_distribution<int64_t> any_item(1, num_items_);
    auto seen = [&](size_t i, int64_t item) {
      auto items = data.UserItems(users[i]);
      return std::binary_search(items.begin(), items.end(), static_cast<uint32_t>(item - 1));
    };
    // Training pairs per user, capped at the model length.
    auto pairs = [&](size_t i) { return std::min<int64_t>(static_cast<int64_t>(seqs[i].size()) - 1, L); };

    double best = -1;
    int64_t bad_evals = 0;
    const auto started = std::chrono::steady_clock::now();
    auto out_of_time = [&] {
      return c_.minutes > 0 &&
             std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() > c_.minutes * 60;
    };
    std::string best_state;
    epochs_run_ = 0;
    std::vector<size_t> order(seqs.size());
    std::iota(order.begin(), order.end(), 0);
    std::vector<std::pair<size_t, size_t>> batches;
    for (int64_t epoch = 1; epoch <= c_.epochs; ++epoch) {
      net_->train();
      // Length buckets: shuffle, sort each run of 64 batches by length, cut
      // into batches, shuffle the batches. A batch is trimmed to its longest
      // sequence, so short sequences do not pay for `len` positions.
      std::shuffle(order.begin(), order.end(), rng);
      const size_t bs = static_cast<size_t>(c_.batch), run = bs * 64;
      batches.clear();
      for (size_t r = 0; r < order.size(); r += run) {
        const size_t re = std::min(order.size(), r + run);
        std::stable_sort(order.begin() + static_cast<std::ptrdiff_t>(r),
                         order.begin() + static_cast<std::ptrdiff_t>(re),
                         [&](size_t a, size_t b) { return pairs(a) < pairs(b); });
        for (size_t s = r; s < re; s += bs) batches.emplace_back(s, std::min(re, s + bs));
      }
      std::shuffle(batches.begin(), batches.end(), rng);
      double loss_sum = 0;
      int64_t loss_batches = 0;
      for (const auto& [start, end] : batches) {
        const int64_t B = static_cast<int64_t>(end - start);
        int64_t m = 1;
        for (size_t r = start; r < end; ++r) m = std::max(m, pairs(order[r]));
        auto inp = torch::zeros({B, m}, torch::kLong);
        auto pos = torch::zeros({B, m}, torch::kLong);
        auto pi = inp.accessor<int64_t, 2>();
        auto pp = pos.accessor<int64_t, 2>();
        for (int64_t r = 0; r < B; ++r) {
          const auto& s = seqs[order[start + static_cast<size_t>(r)]];
          // Inputs s[0..n-2] predict s[1..n-1]; keep the last `take` pairs.
          const int64_t n = static_cast<int64_t>(s.size()) - 1;
          const int64_t take = std::min(n, m);
          for (int64_t t = 0; t < take; ++t) {
            const int64_t src = n - take + t;
            pi[r][m - take + t] = s[static_cast<size_t>(src)];
            pp[r][m - take + t] = s[static_cast<size_t>(src + 1)];
          }
        }
        auto h = net_->Encode(inp).reshape({B * m, c_.d});  // [B*m, d]
        auto flat_pos = pos.reshape({B * m});
        auto valid = flat_pos.nonzero().squeeze(1);
        auto hv = h.index_select(0, valid);               // [P, d]
        auto pv = flat_pos.index_select(0, valid);        // [P]
        auto pos_logit = (hv * net_->Items(pv)).sum(-1);  // [P]
        const int64_t P = pv.size(0);
        torch::Tensor loss;
        if (c_.loss == "bce") {
          // The paper: one uniform negative per position, outside the user's items.
          auto neg = torch::empty({P}, torch::kLong);
          auto pn = neg.accessor<int64_t, 1>();
          int64_t k = 0;
          for (int64_t r = 0; r < B; ++r) {
            const size_t i = order[start + static_cast<size_t>(r)];
            const int64_t count = std::min(static_cast<int64_t>(seqs[i].size()) - 1, m);
            for (int64_t t = 0; t < count; ++t) {
              int64_t x;
              do x = any_item(rng);
              while (seen(i, x));
              pn[k++] = x;
            }
          }
          auto neg_logit = (hv * net_->Items(neg)).sum(-1);
          loss = (torch::nn::functional::softplus(-pos_logit) + torch::nn::functional::softplus(neg_logit)).mean();
        } else {
          // Sampled softmax: each position's item against `neg` uniform
          // negatives shared by the batch (neg=0 or neg >= the catalog:
          // against every item, a full softmax).
          // A negative equal to the position's own item is masked out.
          torch::Tensor cand;
          if (c_.neg == 0 || c_.neg >= static_cast<int64_t>(num_items_)) {
            cand = torch::arange(int64_t{1}, static_cast<int64_t>(num_items_) + 1, torch::kLong);
          } else {
            cand = torch::randint(1, static_cast<int64_t>(num_items_) + 1, {c_.neg}, torch::kLong);
          }
          auto neg_logit = torch::matmul(hv, net_->Items(cand).t());  // [P, N]
          neg_logit = neg_logit.masked_fill(pv.unsqueeze(1) == cand.unsqueeze(0), kMasked);
          if (c_.loss == "ssm") {
            auto logits = torch::cat({pos_logit.unsqueeze(1), neg_logit}, 1);
            loss = (torch::logsumexp(logits, 1) - pos_logit).mean();
          } else {
            // gBCE (Petrov & Macdonald 2023): BCE over the positive and N
            // negatives with the positive's probability raised to beta,
            // which undoes the overconfidence negative sampling causes.
            const double n = static_cast<double>(cand.size(0));
            const double alpha = n / std::max(1.0, static_cast<double>(num_items_) - 1);
            const double beta = alpha * (c_.t * (1 - 1 / alpha) + 1 / alpha);
            loss =
                (beta * torch::nn::functional::softplus(-pos_logit) + torch::nn::functional::softplus(neg_logit).sum(1))
                    .mean();
          }
        }
        if (c_.l2 > 0) loss = loss + c_.l2 * net_->Items(pv).pow(2).sum() / std::max<int64_t>(P, 1);
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
        best_state = SaveArchive(*net_);
      } else if (++bad_evals >= c_.patience) {
        break;
      }
      if (last) break;
    }
    if (best >= 0) {
      torch::serialize::InputArchive ar;
      std::istringstream in(best_state);
      ar.load_from(in);
      net_->load(ar);
    }
    best_validation_ = best;
    net_->eval();
    SOUK_RETURN_IF_ERROR(PrepareServing());
    return Status::Ok();
  }

  void Score(const rec::History& history, std::span<float> scores) const override {
    const rec::History* one[] = {&history};
    ScoreBatch(one, scores);
  }

  // One forward per group of equal-length sequences (so no row is padded and
  // a user's fp32 scores are the same bits alone or in any batch), then one
  // pass over the item table for the group.
  void ScoreBatch(std::span<const rec::History* const> histories, std::span<float> scores) const override {
    CapThreads(static_cast<int>(c_.threads));
    std::fill(scores.begin(), scores.end(), 0.0f);
    const size_t n = num_items_;
    std::vector<std::vector<int64_t>> seqs(histories.size());
    std::vector<std::pair<int64_t, size_t>> by_length;  // (rows the forward sees, history index)
    for (size_t r = 0; r < histories.size(); ++r) {
      for (uint32_t i : histories[r]->items) {
        if (i < num_items_) seqs[r].push_back(static_cast<int64_t>(i) + 1);
      }
      if (!seqs[r].empty()) by_length.emplace_back(std::min<int64_t>(static_cast<int64_t>(seqs[r].size()), c_.len), r);
    }
    std::sort(by_length.begin(), by_length.end());
    torch::NoGradGuard no_grad;
    constexpr size_t kMaxRows = 256;  // bounds the forward's memory (attention is rows x len x len)
    for (size_t start = 0; start < by_length.size();) {
      size_t end = start;
      while (end < by_length.size() && end - start < kMaxRows && by_length[end].first == by_length[start].first) ++end;
      std::vector<const std::vector<int64_t>*> rows;
      std::vector<float*> out;
      for (size_t k = start; k < end; ++k) {
        rows.push_back(&seqs[by_length[k].second]);
        out.push_back(scores.data() + by_length[k].second * n);
      }
      auto inp = Batch(rows);
      auto h = serve_->Encode(inp).select(1, inp.size(1) - 1).contiguous();  // [g, d]
      serve_->ScoreItems(h, out.data());
      start = end;
    }
  }

  uint32_t num_items() const override { return num_items_; }

  Status SaveState(std::ostream& out) const override {
    if (!net_) return Status::FailedPrecondition("sasrec: not fitted");
    const std::string bytes = SaveArchive(*net_);
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
      Status st = LoadCheckedArchive(*net_, bytes, "sasrec: model file has wrong shapes for its spec " + Describe());
      if (!st.ok()) {
        net_ = nullptr;
        return st;
      }
    } catch (const c10::Error& e) {
      return Status::Corruption(std::string("sasrec: cannot load the network (wrong shapes?): ") +
                                e.what_without_backtrace());
    }
    net_->eval();
    SOUK_RETURN_IF_ERROR(PrepareServing());
    return Status::Ok();
  }

  // Hidden states after each prefix of the last min(n, len) items.
  int64_t States(const uint32_t* items, int64_t n, float* out, int64_t out_rows) const {
    if (!net_) return -1;
    std::vector<int64_t> seq;
    for (int64_t i = 0; i < n; ++i) seq.push_back(items[i] < num_items_ ? static_cast<int64_t>(items[i]) + 1 : 0);
    if (seq.empty()) return 0;
    torch::NoGradGuard no_grad;
    auto inp = Batch({&seq});
    const int64_t m = inp.size(1);
    if (out_rows < m) return -1;
    auto h = net_->Encode(inp).select(0, 0).contiguous();  // [m, d]
    std::copy(h.data_ptr<float>(), h.data_ptr<float>() + h.numel(), out);
    return m;
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

  // Left-padded [B, m] input of the last min(len, |seq|) items of each
  // sequence, m = the longest of them (ids already shifted).
  torch::Tensor Batch(const std::vector<const std::vector<int64_t>*>& rows) const {
    int64_t m = 1;
    for (const auto* s : rows) m = std::max<int64_t>(m, std::min<int64_t>(static_cast<int64_t>(s->size()), c_.len));
    auto inp = torch::zeros({static_cast<int64_t>(rows.size()), m}, torch::kLong);
    auto a = inp.accessor<int64_t, 2>();
    for (size_t r = 0; r < rows.size(); ++r) {
      const auto& s = *rows[r];
      const int64_t take = std::min<int64_t>(static_cast<int64_t>(s.size()), m);
      for (int64_t t = 0; t < take; ++t)
        a[static_cast<int64_t>(r)][m - take + t] = s[s.size() - static_cast<size_t>(take) + static_cast<size_t>(t)];
    }
    return inp;
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
      std::vector<const std::vector<int64_t>*> rows;
      for (size_t r = start; r < end; ++r) rows.push_back(&seqs[users[r]]);
      auto inp = Batch(rows);
      auto h = net_->Encode(inp).select(1, inp.size(1) - 1);  // [B, d]
      auto scores = torch::matmul(h, e.t()).contiguous();     // [B, n+1]
      auto acc = scores.accessor<float, 2>();
      for (size_t r = 0; r < rows.size(); ++r) {
        const int64_t row = static_cast<int64_t>(r);
        acc[row][0] = -1e30f;
        // Seen items do not compete (as in exclude-seen serving).
        for (int64_t x : *rows[r]) acc[row][x] = -1e30f;
        const float t = acc[row][target[users[start + r]]];
        int64_t rank = 0;
        for (int64_t j = 1; j < scores.size(1) && rank < 10; ++j) rank += acc[row][j] > t;
        if (rank < 10) sum += 1.0 / std::log2(static_cast<double>(rank) + 2.0);
      }
    }
    net_->train();
    return users.empty() ? 0 : sum / static_cast<double>(users.size());
  }

  // After Fit or LoadState: the serving network (quant.h; fp32, or int8
  // with int8=1), its fp32 form checked first against the training forward:
  // SasRecInference copies Encode, and a copy that has drifted must not serve.
  Status PrepareServing() {
    torch::NoGradGuard no_grad;
    serve_.reset();
    if (num_items_ == 0) return Status::Corruption("sasrec: a model of no items");
    SasRecTensors t;
    t.d = c_.d;
    t.len = c_.len;
    t.heads = c_.heads;
    t.item_emb = net_->item_emb->weight.detach();
    t.pos_emb = net_->pos_emb->weight.detach();
    for (size_t i = 0; i < net_->wq.size(); ++i) {
      t.blocks.push_back({net_->attn_ln[i]->weight.detach(), net_->attn_ln[i]->bias.detach(),
                          net_->wq[i]->weight.detach(), net_->wq[i]->bias.detach(), net_->wkv[i]->weight.detach(),
                          net_->wkv[i]->bias.detach(), net_->wo[i]->weight.detach(), net_->wo[i]->bias.detach(),
                          net_->ffn_ln[i]->weight.detach(), net_->ffn_ln[i]->bias.detach(),
                          net_->ff1[i]->weight.detach(), net_->ff1[i]->bias.detach(), net_->ff2[i]->weight.detach(),
                          net_->ff2[i]->bias.detach()});
    }
    t.last_ln_w = net_->last_ln->weight.detach();
    t.last_ln_b = net_->last_ln->bias.detach();
    SOUK_ASSIGN_OR_RETURN(auto fp32, SasRecInference::Make(t, false));
    // Two rows, one padded, every position used. Rounding differs (no BLAS
    // in the copy); a missing or changed step differs by far more.
    std::vector<int64_t> a, b;
    for (int64_t p = 0; p < c_.len; ++p) a.push_back(1 + p % static_cast<int64_t>(num_items_));
    b.assign(a.begin() + c_.len / 2, a.end());
    auto probe = Batch({&a, &b});
    auto want = net_->Encode(probe);
    const double diff = (fp32->Encode(probe) - want).abs().max().item<double>();
    const double tolerance = 1e-4 * std::max(1.0, want.abs().max().item<double>());
    if (!(diff <= tolerance))
      return Status::Internal("sasrec: the serving forward (deep/quant.cc) no longer matches Encode (max diff " +
                              FormatNumber(diff) + "); update SasRecInference::Encode");
    if (!c_.int8) {
      serve_ = std::move(fp32);
      return Status::Ok();
    }
    SOUK_ASSIGN_OR_RETURN(serve_, SasRecInference::Make(std::move(t), true));
    return Status::Ok();
  }

  Config c_;
  uint32_t num_items_ = 0;
  mutable SasRecNet net_{nullptr};
  std::unique_ptr<SasRecInference> serve_;  // Score's network: fp32, or int8 with int8=1
  std::vector<std::pair<int64_t, double>> curve_;
  int64_t epochs_run_ = 0;
  double best_validation_ = -1;
};

}  // namespace

// libtorch allocates and frees multi-megabyte tensors (the item table's
// gradient, Adam's temporaries) every step. glibc returns such blocks to the
// kernel on free and page-faults them back in on the next step, which tripled
// SASRec's backward pass on Games. Keep freed memory in the heap instead.
void TuneAllocator() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 64 << 20);
}

void RegisterModels() {
  TuneAllocator();
  rec::RegisterModelFactory("sasrec", [](rec::Spec& spec) { return std::make_unique<SasRec>(spec); });
  RegisterTwoTower();
}

}  // namespace souk::deep

extern "C" int64_t souk_deep_sasrec_states(const souk::rec::Model* model, const uint32_t* items, int64_t n, float* out,
                                           int64_t out_rows) {
  const auto* s = dynamic_cast<const souk::deep::SasRec*>(model);
  return s == nullptr ? -1 : s->States(items, n, out, out_rows);
}
