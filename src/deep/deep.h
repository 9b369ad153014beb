// Deep models on libtorch (CPU). This is the only module that includes torch
// headers (they cost ~30 s per translation unit); everything else sees the
// models through rec::Model.
//
// Models:
//  - sasrec: SASRec (Kang & McAuley 2018), self-attentive sequential
//    recommendation: item + learned position embeddings, causal
//    self-attention blocks with layer norm, dropout and a point-wise
//    feed-forward net; trained with the paper's binary cross-entropy on one
//    sampled negative per position (loss=bce) or a sampled softmax over many
//    negatives (loss=ssm); early stopping on validation NDCG@10 (each user's
//    last training item). Serving scores the user's current sequence, so
//    events stored a moment ago count.
//    Spec: sasrec:d=50,len=50,layers=2,heads=1,drop=0.5,lr=0.001,bs=128,
//          epochs=200,patience=5,every=2,loss=bce,neg=1,minutes=20
//    (`minutes` is a training time budget: training stops after the first
//    validation past it and keeps the best epoch so far; 0 = no budget.)
//    Serving keys: int8=1 serves with int8 linear layers and item scores
//    (libtorch dynamic quantization; see quant.h and docs/deep.md),
//    threads=N caps torch's threads per scoring call (a per-process
//    setting). ScoreBatch scores many histories in one forward.
//
// Text encoders (text::TextEncoder, spec in text/text.h):
//  - torchscript: a pretrained transformer exported with torch.jit.trace
//    (e.g. sentence-transformers/all-MiniLM-L6-v2; docs/deep.md says how),
//    fed BERT WordPiece ids; mean or [CLS] pooling, optional L2
//    normalisation, batched, with a thread cap.
#pragma once

#include <cstdint>

namespace souk::deep {

// Registers the deep model families with rec::MakeModel.
void RegisterModels();

// The model family names this module provides.
inline constexpr const char* kModelNames[] = {"sasrec"};

// Registers the text encoder kinds with text::MakeEncoder.
void RegisterEncoders();

// The encoder kinds this module provides.
inline constexpr const char* kEncoderNames[] = {"torchscript"};

}  // namespace souk::deep

// The module's entry point for dlopen (the `souk` executable loads
// libsouk_deep.so from its own directory when a deep model or an encoder is
// named): registers the models and the encoders.
extern "C" void souk_deep_register();

namespace souk::rec {
class Model;
}

// SASRec's hidden state after every prefix of `items` (dense item ids, in
// time order; the last `len` are used): writes min(n, len) rows of d floats
// to `out` (row t = the state that predicts the item after position t) and
// returns the number of rows, or -1 when `model` is not a fitted sasrec or
// `out_rows` is too small. Position t depends on items 0..t only (causal
// attention); the tests check that, and explanations can use it.
extern "C" int64_t souk_deep_sasrec_states(const souk::rec::Model* model, const uint32_t* items, int64_t n,
                                           float* out, int64_t out_rows);
