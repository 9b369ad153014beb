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

// ---- binary state helpers (little-endian host layout, as the search index) --

template <typename T>
void WritePod(std::ostream& out, const T& value) {
  out.write(reinterpret_cast<const char*>(&value), sizeof(T));
}

template <typename T>
bool ReadPod(std::istream& in, T* value) {
  return static_cast<bool>(in.read(reinterpret_cast<char*>(value), sizeof(T)));
}

template <typename T>
void WriteVector(std::ostream& out, const std::vector<T>& v) {
  WritePod<uint64_t>(out, v.size());
  if (!v.empty())
    out.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(T)));
}

// Reads a vector written by WriteVector; refuses sizes above `max_elems`
// (a corrupt file must not allocate terabytes).
template <typename T>
bool ReadVector(std::istream& in, std::vector<T>* v, uint64_t max_elems = uint64_t{1} << 34) {
  uint64_t n = 0;
  if (!ReadPod(in, &n) || n > max_elems) return false;
  v->resize(n);
  if (n == 0) return true;
  return static_cast<bool>(in.read(reinterpret_cast<char*>(v->data()), static_cast<std::streamsize>(n * sizeof(T))));
}

inline Status CorruptState(const std::string& model) {
  return Status::Corruption(model + ": model file is truncated or corrupt");
}

// Runs fn(begin, end) over [0, n) split into `threads` contiguous chunks
// (inline when threads <= 1 or n is small).
void ParallelFor(size_t n, int threads, const std::function<void(size_t, size_t)>& fn);

}  // namespace souk::rec
