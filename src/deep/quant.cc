// int8 serving and batch helpers: see quant.h.
#include "deep/quant.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/csrc/jit/runtime/graph_iterator.h>
#include <torch/script.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>

namespace souk::deep {
namespace {

constexpr float kMasked = -1e9f;  // as sasrec.cc

const c10::OperatorHandle& Op(const char* name) {
  // Looked up once per name; the dispatcher's handles live for the process.
  static std::mutex mu;
  static std::vector<std::pair<std::string, c10::OperatorHandle>> ops;
  std::lock_guard<std::mutex> lock(mu);
  for (const auto& [n, h] : ops) {
    if (n == name) return h;
  }
  ops.emplace_back(name, c10::Dispatcher::singleton().findSchemaOrThrow(name, ""));
  return ops.back().second;
}

// fbgemm (and x86, which wraps it) needs 7-bit activations on CPUs without
// VNNI to keep its 16-bit intermediate sums from saturating; onednn and
// qnnpack take the full 8 bits.
bool ReduceRange() {
  const at::QEngine e = at::globalContext().qEngine();
  return e == at::QEngine::FBGEMM || e == at::QEngine::X86;
}

}  // namespace

Result<std::string> SelectQuantizedEngine() {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  const auto& supported = at::globalContext().supportedQEngines();
  const std::pair<at::QEngine, const char*> preferred[] = {{at::QEngine::FBGEMM, "fbgemm"},
                                                           {at::QEngine::X86, "x86"},
                                                           {at::QEngine::ONEDNN, "onednn"},
                                                           {at::QEngine::QNNPACK, "qnnpack"}};
  for (const auto& [engine, name] : preferred) {
    if (std::find(supported.begin(), supported.end(), engine) != supported.end()) {
      if (at::globalContext().qEngine() != engine) at::globalContext().setQEngine(engine);
      return std::string(name);
    }
  }
  return Status::FailedPrecondition("int8=1: this libtorch has no quantized engine (fbgemm, onednn or qnnpack)");
}

Int8Linear Int8Linear::Make(const torch::Tensor& weight, const torch::Tensor& bias) {
  torch::NoGradGuard no_grad;
  auto w = weight.detach().to(torch::kFloat).contiguous();
  // Symmetric per output channel: scale = max |w| / 127, zero point 0. An
  // all-zero row gets a tiny scale instead of a division by zero.
  auto scales = (w.abs().amax(1) / 127.0).clamp_min(1e-12).to(torch::kDouble);
  auto zero_points = torch::zeros({w.size(0)}, torch::kLong);
  auto qw = at::quantize_per_channel(w, scales, zero_points, 0, at::kQInt8);
  torch::jit::Stack stack{qw,
                          bias.defined() ? c10::IValue(bias.detach().to(torch::kFloat).contiguous()) : c10::IValue()};
  Op("quantized::linear_prepack").callBoxed(&stack);
  Int8Linear l;
  l.packed_ = stack.at(0);
  l.reduce_range_ = ReduceRange();
  return l;
}

torch::Tensor Int8Linear::Forward(const torch::Tensor& x, bool relu) const {
  auto sizes = x.sizes().vec();
  const int64_t in = sizes.back();
  torch::jit::Stack stack{x.reshape({-1, in}).contiguous(), packed_, reduce_range_};
  Op(relu ? "quantized::linear_relu_dynamic" : "quantized::linear_dynamic").callBoxed(&stack);
  torch::Tensor y = stack.at(0).toTensor();
  sizes.back() = y.size(1);
  return y.view(sizes);
}

SasRecInference::Layer SasRecInference::MakeLayer(const torch::Tensor& w, const torch::Tensor& b, bool int8) {
  Layer l;
  if (int8) {
    l.q = Int8Linear::Make(w, b);
  } else {
    l.wt = w.detach().t().contiguous();
    l.b = b.detach().contiguous();
  }
  return l;
}

Result<std::unique_ptr<SasRecInference>> SasRecInference::Make(SasRecTensors tensors, bool int8) {
  auto s = std::unique_ptr<SasRecInference>(new SasRecInference());
  s->t_ = std::move(tensors);
  s->int8_ = int8;
  if (int8) SOUK_RETURN_IF_ERROR(SelectQuantizedEngine().status());
  try {
    torch::NoGradGuard no_grad;
    for (const auto& b : s->t_.blocks) {
      s->layers_.push_back({MakeLayer(b.wq_w, b.wq_b, int8), MakeLayer(b.wkv_w, b.wkv_b, int8),
                            MakeLayer(b.wo_w, b.wo_b, int8), MakeLayer(b.ff1_w, b.ff1_b, int8),
                            MakeLayer(b.ff2_w, b.ff2_b, int8)});
    }
    auto items = s->t_.item_emb.detach().slice(0, 1);
    if (int8) {
      s->items_ = Int8Linear::Make(items, torch::Tensor());
    } else {
      s->items_t_ = items.t().contiguous();
    }
  } catch (const std::exception& e) {
    return Status::Internal(std::string("sasrec: preparing the serving network failed: ") + e.what());
  }
  return s;
}

torch::Tensor SasRecInference::Linear(const torch::Tensor& x, const Layer& l, bool relu) const {
  if (int8_) return l.q.Forward(x, relu);
  auto sizes = x.sizes().vec();
  const int64_t in = sizes.back(), out = l.wt.size(1);
  auto x2 = x.reshape({-1, in}).contiguous();
  auto y = torch::empty({x2.size(0), out});
  std::vector<float*> rows(static_cast<size_t>(x2.size(0)));
  for (size_t r = 0; r < rows.size(); ++r) rows[r] = y.data_ptr<float>() + static_cast<int64_t>(r) * out;
  DotScores(x2.data_ptr<float>(), rows.size(), l.wt.data_ptr<float>(), static_cast<size_t>(out),
            static_cast<size_t>(in), rows.data());
  y.add_(l.b);
  if (relu) y.relu_();
  sizes.back() = out;
  return y.view(sizes);
}

// Keep in step with SasRecNetImpl::Encode (sasrec.cc). sasrec.cc runs the
// fp32 form of this against Encode after every Fit and LoadState and
// refuses to serve if they disagree beyond rounding, so a change there that
// is not made here fails the first test that fits a model.
torch::Tensor SasRecInference::Encode(const torch::Tensor& seq) const {
  const int64_t b = seq.size(0), m = seq.size(1);
  const int64_t d = t_.d, len = t_.len, heads = t_.heads;
  const int64_t dh = d / heads;
  auto sizes = seq.sizes().vec();
  sizes.push_back(d);
  auto x = t_.item_emb.index_select(0, seq.reshape({-1})).view(sizes) * std::sqrt(static_cast<double>(d));
  auto positions = torch::arange(len - m, len, torch::kLong);
  x = x + torch::embedding(t_.pos_emb, positions).unsqueeze(0);  // dropout: identity in eval
  auto real = seq != 0;
  auto keep = real.unsqueeze(-1).to(torch::kFloat);
  x = x * keep;
  auto allowed = torch::tril(torch::ones({m, m}, torch::kBool)).unsqueeze(0) & real.unsqueeze(1);
  auto mask = torch::zeros({b, 1, m, m}).masked_fill_(allowed.logical_not().unsqueeze(1), kMasked);
  const double scale = 1.0 / std::sqrt(static_cast<double>(dh));
  for (size_t i = 0; i < t_.blocks.size(); ++i) {
    const auto& w = t_.blocks[i];
    const auto& l = layers_[i];
    auto q = torch::layer_norm(x, {d}, w.attn_ln_w, w.attn_ln_b, t_.eps);
    auto qh = Linear(q, l.wq).view({b, m, heads, dh}).transpose(1, 2);
    auto kv = Linear(x, l.wkv).view({b, m, 2, heads, dh}).permute({2, 0, 3, 1, 4});
    auto att = torch::baddbmm(mask.expand({b, heads, m, m}).reshape({b * heads, m, m}), qh.reshape({b * heads, m, dh}),
                              kv[0].reshape({b * heads, m, dh}).transpose(1, 2), 1.0, scale);
    att = torch::softmax(att, -1);
    auto out =
        torch::bmm(att, kv[1].reshape({b * heads, m, dh})).view({b, heads, m, dh}).transpose(1, 2).reshape({b, m, d});
    x = q + Linear(out, l.wo);
    x = torch::layer_norm(x, {d}, w.ffn_ln_w, w.ffn_ln_b, t_.eps);
    auto h = Linear(Linear(x, l.ff1, /*relu=*/true), l.ff2);
    x = (x + h) * keep;
  }
  return torch::layer_norm(x, {d}, t_.last_ln_w, t_.last_ln_b, t_.eps);
}

void SasRecInference::ScoreItems(const torch::Tensor& hidden, float* const* out_rows) const {
  const size_t b = static_cast<size_t>(hidden.size(0));
  if (int8_) {
    auto s = items_.Forward(hidden).contiguous();
    const size_t n = static_cast<size_t>(s.size(1));
    for (size_t r = 0; r < b; ++r) std::copy_n(s.data_ptr<float>() + r * n, n, out_rows[r]);
    return;
  }
  auto h = hidden.contiguous();
  DotScores(h.data_ptr<float>(), b, items_t_.data_ptr<float>(), static_cast<size_t>(items_t_.size(1)),
            static_cast<size_t>(t_.d), out_rows);
}

namespace {

using torch::jit::Node;
using torch::jit::Value;

// The tensor a graph value stands for when it is a constant or a chain of
// attribute reads from the module itself (self.encoder.layer.0.weight), or
// an undefined tensor.
torch::Tensor ConstantTensor(const torch::jit::Module& module, Value* self, Value* v) {
  std::vector<std::string> path;
  while (v->node()->kind() == c10::prim::GetAttr) {
    path.push_back(v->node()->s(c10::attr::name));
    v = v->node()->input(0);
  }
  if (path.empty()) {
    auto iv = torch::jit::toIValue(v);
    return iv && iv->isTensor() ? iv->toTensor() : torch::Tensor();
  }
  if (v != self) return torch::Tensor();
  c10::IValue obj = module._ivalue();
  for (auto it = path.rbegin(); it != path.rend(); ++it) {
    if (!obj.isObject() || !obj.toObjectRef().type()->hasAttribute(*it)) return torch::Tensor();
    obj = obj.toObjectRef().getAttr(*it);
  }
  return obj.isTensor() ? obj.toTensor() : torch::Tensor();
}

}  // namespace

Result<int> QuantizeLinears(torch::jit::Module& module) {
  SOUK_RETURN_IF_ERROR(SelectQuantizedEngine().status());
  auto graph = module.get_method("forward").graph();
  torch::jit::Inline(*graph);
  Value* self = graph->inputs().at(0);
  std::vector<Node*> linears;
  torch::jit::DepthFirstGraphNodeIterator it(graph);
  for (Node* n = it.next(); n != nullptr; n = it.next()) {
    if (n->kind() == c10::aten::linear) linears.push_back(n);
  }
  const c10::Symbol dynamic = c10::Symbol::fromQualString("quantized::linear_dynamic");
  const bool reduce_range = ReduceRange();
  int count = 0;
  for (Node* n : linears) {
    torch::Tensor w = ConstantTensor(module, self, n->input(1));
    if (!w.defined() || w.dim() != 2 || !w.is_floating_point()) continue;
    torch::Tensor b;
    if (n->inputs().size() > 2 && n->input(2)->type()->kind() != c10::TypeKind::NoneType) {
      b = ConstantTensor(module, self, n->input(2));
      if (!b.defined()) continue;  // a bias computed at run time: leave the layer in fp32
    }
    Int8Linear q = Int8Linear::Make(w, b);
    const std::string name = "_souk_int8_linear_" + std::to_string(count);
    module.register_attribute(name, q.packed().type(), q.packed());
    torch::jit::WithInsertPoint guard(n);
    // The packed weights are read where the linear was (self is in scope in
    // every block of forward).
    Value* packed = graph->insertGetAttr(self, name);
    Value* y = graph->insert(dynamic, {n->input(0), packed, reduce_range});
    y->setType(n->output()->type());
    n->output()->replaceAllUsesWith(y);
    n->destroy();
    ++count;
  }
  torch::jit::EliminateDeadCode(graph);
  return count;
}

// Compiled for AVX-512, AVX2 and baseline x86-64, chosen at load. Every
// clone does the same float multiplies and adds in the same order (quant.cc
// is compiled with -ffp-contract=off: no fused multiply-add), so the bits do
// not depend on the clone either.
__attribute__((target_clones("avx512f", "avx2", "default"))) void DotScores(const float* users, size_t b,
                                                                            const float* items_t, size_t n, size_t d,
                                                                            float* const* out_rows) {
  // 1024 items x d floats per block: a block of the table stays in L2 while
  // every user of the batch passes over it.
  constexpr size_t kBlock = 1024;
  for (size_t i0 = 0; i0 < n; i0 += kBlock) {
    const size_t len = std::min(kBlock, n - i0);
    for (size_t r = 0; r < b; ++r) {
      float* __restrict acc = out_rows[r] + i0;
      const float* u = users + r * d;
      std::fill(acc, acc + len, 0.0f);
      for (size_t k = 0; k < d; ++k) {
        const float uk = u[k];
        const float* __restrict e = items_t + k * n + i0;
        for (size_t j = 0; j < len; ++j) acc[j] += uk * e[j];
      }
    }
  }
}

void CapThreads(int threads) {
  if (threads <= 0) return;
  if (at::get_num_threads() != threads) at::set_num_threads(threads);
  // libtorch's BLAS here is OpenBLAS with its own pthread pool, which
  // at::set_num_threads does not reach. It is found through the already
  // loaded library (RTLD_NOLOAD): this module is dlopen'ed RTLD_LOCAL, so
  // the symbol is not in the global scope.
  static void (*blas_set)(int) = [] {
    void* lib = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_NOLOAD);
    return lib ? reinterpret_cast<void (*)(int)>(dlsym(lib, "openblas_set_num_threads")) : nullptr;
  }();
  static std::atomic<int> blas_threads{0};
  if (blas_set != nullptr && blas_threads.exchange(threads) != threads) blas_set(threads);
}

}  // namespace souk::deep
