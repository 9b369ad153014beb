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
//          epochs=200,patience=5,every=2,loss=bce,neg=1
#pragma once

namespace souk::deep {

// Registers the deep model families with rec::MakeModel. Call once at start.
void RegisterModels();

}  // namespace souk::deep
