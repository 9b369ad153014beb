// Deep models on libtorch (CPU). This is the only module that includes torch
// headers (they cost ~30 s per translation unit); everything else sees the
// models through rec::Model.
//
// Models:
//  - sasrec: SASRec (Kang & McAuley 2018), self-attentive sequential
//    recommendation: item + learned position embeddings, causal
//    self-attention blocks with layer norm, dropout and a point-wise
//    feed-forward net. Losses: a sampled softmax over `neg` uniform
//    negatives shared by the batch (loss=ssm, default; neg=0 = full
//    softmax), the paper's binary cross-entropy on one sampled negative per
//    position (loss=bce), or gBCE (loss=gbce, calibration t). Early stopping
//    on validation NDCG@10 (the last item of 3,000 users, full ranking).
//    Batches are length-bucketed and trimmed to their longest sequence.
//    Serving scores the user's current sequence, so events stored a moment
//    ago count.
//    Spec: sasrec:d=50,len=50,layers=2,heads=1,drop=0.5,lr=0.001,bs=128,
//          epochs=200,patience=5,every=2,loss=ssm,neg=1024,l2=0,minutes=20
//          [,holdout=val|all][,threads=N][,seed=S][,t=0.75 for gbce]
//    (`minutes` is a training time budget: training stops after the first
//    validation past it and keeps the best epoch so far; 0 = no budget.)
//  - twotower: two-tower retrieval (YouTube/Google style, Yi et al. 2019)
//    for semantic search, cold-start items and user-to-item retrieval. Item
//    tower: hashed words + character trigrams of the title, description
//    words, brand, leaf and top category, log-price quantile bucket and an
//    item-id embedding (zero for items without interactions, dropped at
//    random while training), through an MLP to d, L2-normalised. Query
//    tower: the same hashed text table through its own MLP. User tower:
//    the mean of the last `hist` item vectors through an MLP. Trained with
//    in-batch softmax (temperature temp) and log-Q correction on search ->
//    picked item pairs (Store::SearchPicks) and on consecutive items of
//    users' sequences (at most upairs x the search pairs per epoch). Needs
//    FitContext::content (souk train loads it). Item vectors are
//    ItemFactors(); queries are embedded with EmbedQueries.
//    Spec: twotower:d=64,buckets=200000,epochs=10,lr=0.002,temp=0.05,bs=256,
//          hist=10,hidden=0,iddrop=0.5,upairs=4,seed=1   (hidden 0 = 2d)
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
inline constexpr const char* kModelNames[] = {"sasrec", "twotower"};

// Registers twotower (RegisterModels calls it).
void RegisterTwoTower();

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
