// Helpers shared by the deep models (internal to src/deep).
#pragma once

#include <torch/torch.h>

#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace souk::deep {

// `net`'s parameters and buffers as libtorch's archive bytes.
inline std::string SaveArchive(const torch::nn::Module& net) {
  torch::serialize::OutputArchive ar;
  net.save(ar);
  std::ostringstream buf;
  ar.save_to(buf);
  return buf.str();
}

// Loads libtorch's archive `bytes` into `net`, which must have been built
// from the model's spec. torch::nn::Module::load replaces every tensor with
// the stored one whatever its shape, so the shapes `net` had before are
// checked afterwards: a file whose tensors do not fit the spec is a
// Corruption error naming the tensor (`what` starts the message, e.g.
// "sasrec: model file ... spec sasrec:d=8,..."). c10::Error from a damaged
// archive propagates to the caller.
inline Status LoadCheckedArchive(torch::nn::Module& net, const std::string& bytes, const std::string& what) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> expected;
  for (const auto& p : net.named_parameters()) expected.emplace_back(p.key(), p.value().sizes().vec());
  torch::serialize::InputArchive ar;
  std::istringstream is(bytes);
  ar.load_from(is);
  net.load(ar);
  size_t k = 0;
  for (const auto& p : net.named_parameters()) {
    if (k >= expected.size() || p.key() != expected[k].first || p.value().sizes().vec() != expected[k].second) {
      std::ostringstream msg;
      msg << what << ": " << p.key() << " is " << p.value().sizes();
      if (k < expected.size()) msg << ", expected " << c10::IntArrayRef(expected[k].second);
      return Status::Corruption(msg.str());
    }
    ++k;
  }
  if (k != expected.size()) return Status::Corruption(what + ": the file has fewer tensors than the spec implies");
  return Status::Ok();
}

}  // namespace souk::deep
