// Serving-time helpers for src/deep (internal; torch headers): dynamic int8
// linear layers on libtorch's quantized engine, an int8 inference forward for
// SASRec that mirrors SasRecNetImpl::Encode, int8 rewriting of a TorchScript
// module's linear layers, the fp32 batch scoring kernel, and the thread cap.
//
// Which int8 path and why: Debian's libtorch 1.13 has no fbgemm, but it has
// the onednn and qnnpack quantized engines and the quantized::linear_prepack /
// quantized::linear_dynamic operators, so int8 here is libtorch's own dynamic
// quantization: weights int8, symmetric, one scale per output channel,
// quantized once; activations quantized per call (one affine uint8 scale for
// the whole input tensor, from its min and max), int32 accumulation,
// dequantised to float. onednn is preferred (VNNI kernels on this CPU, 3-4x
// faster than fp32 on encoder-sized matrices); qnnpack is an ARM-first
// engine and 2-10x slower than fp32 on x86, so it is used only when nothing
// else exists.
//
// Consequence of per-tensor activation scales: an int8 batch's numbers
// depend a little on what else is in the batch (the batch's largest
// activation sets the step). fp32 batches do not.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace torch::jit {
struct Module;
}

namespace souk::deep {

// Chooses the process's quantized engine (fbgemm, x86, onednn, then qnnpack,
// the first this libtorch has) and returns its name, or FailedPrecondition
// when libtorch was built without one. The engine is process-wide state in
// libtorch; packed weights remember the engine they were packed for.
Result<std::string> SelectQuantizedEngine();

// y = x W^T + b with W quantized to int8 (per output channel, symmetric) and
// x quantized per call. Immutable after Make; Forward may be called from
// several threads.
class Int8Linear {
 public:
  Int8Linear() = default;
  // weight [out, in] float, bias [out] float or undefined.
  static Int8Linear Make(const torch::Tensor& weight, const torch::Tensor& bias);
  // x [..., in] float -> [..., out] float; relu fuses max(0, y).
  torch::Tensor Forward(const torch::Tensor& x, bool relu = false) const;
  // The packed weights, a quantized::LinearPackedParamsBase object.
  const c10::IValue& packed() const { return packed_; }

 private:
  c10::IValue packed_;
  bool reduce_range_ = false;
};

// A fitted SASRec network's tensors (shared with the network, not copied),
// in the order SasRecNetImpl::Encode uses them.
struct SasRecTensors {
  int64_t d = 0, len = 0, heads = 1;
  double eps = 1e-8;                // the layer norms' epsilon
  torch::Tensor item_emb, pos_emb;  // [n + 1, d] (row 0 = padding), [len, d]
  struct Block {
    torch::Tensor attn_ln_w, attn_ln_b, wq_w, wq_b, wkv_w, wkv_b, wo_w, wo_b;
    torch::Tensor ffn_ln_w, ffn_ln_b, ff1_w, ff1_b, ff2_w, ff2_b;
  };
  std::vector<Block> blocks;
  torch::Tensor last_ln_w, last_ln_b;
};

// SASRec's eval-mode forward written again for serving, with every linear
// layer and the item scoring either fp32 or int8. fp32 does not call BLAS:
// OpenBLAS's sgemm rounds a row differently depending on how many rows the
// matrix has, so a user scored alone and in a batch would differ in the last
// bits. Its linear layers and item scores use DotScores (below), where each
// output is one in-order float sum, whatever the batch. (int8 batches differ
// anyway: activation scales are per call.) Immutable after Make; safe to
// call from several threads.
class SasRecInference {
 public:
  static Result<std::unique_ptr<SasRecInference>> Make(SasRecTensors tensors, bool int8);

  // seq [B, m] int64 (0 = padding, left-padded, m <= len) -> [B, m, d]:
  // SasRecNetImpl::Encode in eval mode, line for line.
  torch::Tensor Encode(const torch::Tensor& seq) const;
  // Hidden states [B, d] (contiguous) -> out_rows[r][i] = <h_r, E_i> for
  // items i = 0..n-1 (the padding row left out).
  void ScoreItems(const torch::Tensor& hidden, float* const* out_rows) const;
  bool int8() const { return int8_; }

 private:
  struct Layer {
    torch::Tensor wt, b;  // fp32: the weight transposed [in, out], the bias
    Int8Linear q;         // int8
  };
  static Layer MakeLayer(const torch::Tensor& w, const torch::Tensor& b, bool int8);
  torch::Tensor Linear(const torch::Tensor& x, const Layer& l, bool relu = false) const;

  SasRecTensors t_;
  bool int8_ = false;
  struct QBlock {
    Layer wq, wkv, wo, ff1, ff2;
  };
  std::vector<QBlock> layers_;
  torch::Tensor items_t_;  // fp32: item table transposed [d, n], padding row left out
  Int8Linear items_;       // int8: the item table as a linear layer without bias, x -> x E^T
};

// Rewrites every aten::linear in `module`'s forward whose weight is a module
// attribute or constant (a 2-D float tensor) into quantized::linear_dynamic
// with that weight packed to int8 (the forward graph is inlined first, so
// linear calls inside submodules count). Returns the number rewritten.
// Call before the first forward. Errors: no quantized engine.
Result<int> QuantizeLinears(torch::jit::Module& module);

// out_rows[r][i] = sum_k users[r * d + k] * items_t[k * n + i], each sum
// taken in order k = 0..d-1 in float, whatever the batch size b: so a user
// scored alone and in a batch gets the same bits. items_t is the item table
// transposed (d x n): the inner loop runs along items and vectorises without
// reassociating any sum; items are walked in blocks so a batch reads the
// table once.
void DotScores(const float* users, size_t b, const float* items_t, size_t n, size_t d, float* const* out_rows);

// Sets torch's intra-op threads (and OpenBLAS's) to `threads` for the
// calling thread's torch calls when threads > 0. torch's setting is per
// process: the last caller wins for every model and encoder in the process
// (with OpenMP, each calling thread keeps its own copy, set here).
void CapThreads(int threads);

}  // namespace souk::deep
