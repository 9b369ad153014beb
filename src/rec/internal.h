// Shared by the model implementations in src/rec; not part of the public API.
#pragma once

#include <cmath>
#include <istream>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "rec/rec.h"

namespace souk::rec {

inline constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// One factory per model family; each reads its keys from `spec` (which the
// caller Finish()es) and returns the unfitted model.
std::unique_ptr<Model> NewPopularity(Spec& spec);
std::unique_ptr<Model> NewTrending(Spec& spec);
std::unique_ptr<Model> NewItemKnn(Spec& spec);
std::unique_ptr<Model> NewSessionKnn(Spec& spec);
std::unique_ptr<Model> NewIals(Spec& spec);
std::unique_ptr<Model> NewBpr(Spec& spec);
std::unique_ptr<Model> NewEase(Spec& spec);

// Binary state: souk::WritePod, ReadPod, WriteVector, ReadVector (core.h).

inline Status CorruptState(const std::string& model) {
  return Status::Corruption(model + ": model file is truncated or corrupt");
}

// Runs fn(begin, end) over [0, n) split into `threads` contiguous chunks
// (inline when threads <= 1 or n is small).
void ParallelFor(size_t n, int threads, const std::function<void(size_t, size_t)>& fn);

}  // namespace souk::rec
