// The "torchscript" text encoder: a pretrained transformer exported with
// torch.jit.trace, fed WordPiece ids (see text.h for the spec and deep.md for
// exporting a real model). Everything torch throws is caught here and comes
// back as a Status; the first line of torch's message is kept (the rest is
// a C++ backtrace nobody can act on).
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <thread>

#include "deep/deep.h"
#include "deep/quant.h"
#include "text/text.h"

namespace souk::deep {
namespace {

std::string FirstLine(const std::string& s) { return s.substr(0, s.find('\n')); }

// One line out of what torch threw. Errors raised inside the TorchScript
// interpreter arrive as std::runtime_error whose first line only says so,
// then a traceback of the model's code; the cause is the last line
// ("RuntimeError: index out of range in self").
std::string TorchMessage(const std::exception& e) {
  if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) return FirstLine(c10->what_without_backtrace());
  std::string what = e.what();
  while (!what.empty() && (what.back() == '\n' || what.back() == ' ')) what.pop_back();
  std::string line = what.find("TorchScript interpreter") != std::string::npos
                         ? what.substr(what.rfind('\n') == std::string::npos ? 0 : what.rfind('\n') + 1)
                         : FirstLine(what);
  if (line.find("index out of range") != std::string::npos)
    line +=
        " (a token id past the model's embedding table, or maxlen past its positions: is vocab= the model's "
        "own vocab.txt, and maxlen at most its max_position_embeddings?)";
  return line;
}

std::string ShapeText(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
  return s + "]";
}

class TorchScriptEncoder : public text::TextEncoder {
 public:
  TorchScriptEncoder(text::EncoderOptions options, std::shared_ptr<const text::WordPieceTokenizer> tokenizer)
      : options_(std::move(options)), tokenizer_(std::move(tokenizer)) {}

  Status Load() {
    const std::string& path = options_.model_path;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
      return Status::NotFound("TorchScript model '" + path + "' not found");
    const int threads =
        options_.threads > 0 ? options_.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    torch::set_num_threads(threads);
    try {
      module_ = torch::jit::load(path, torch::kCPU);
      module_.eval();
    } catch (const std::exception& e) {
      const std::string why = TorchMessage(e);
      // The zip reader fails on anything that is not a TorchScript file
      // (truncated, a state_dict pickle, text); any other failure is a
      // TorchScript file this libtorch cannot run, usually one exported
      // with a newer torch (operators it does not know).
      if (why.find("PytorchStreamReader") != std::string::npos || why.find("zip") != std::string::npos)
        return Status::Corruption("'" + path +
                                  "' is not a TorchScript archive (export one with torch.jit.trace and "
                                  "torch.jit.save; see docs/deep.md): " +
                                  why);
      return Status::InvalidArgument(
          "cannot load TorchScript model '" + path +
          "' with libtorch " TORCH_VERSION " (exported with a newer torch? see docs/deep.md): " + why);
    }
    if (options_.int8) {
      // Before the probe: the graph is rewritten before its first run.
      Result<int> quantized = 0;
      try {
        quantized = QuantizeLinears(module_);
      } catch (const std::exception& e) {
        return Status::InvalidArgument("TorchScript model '" + path + "': int8=1 failed: " + TorchMessage(e));
      }
      SOUK_RETURN_IF_ERROR(quantized.status());
      if (*quantized == 0)
        return Status::InvalidArgument("TorchScript model '" + path +
                                       "': int8=1 found no aten::linear with constant weights in its forward graph");
    }
    // One probe batch, in the shape every call will have, checks the
    // model's signature and output and gives the vector size.
    std::vector<float> probe;
    const std::vector<std::string> empty(1);
    SOUK_RETURN_IF_ERROR(EmbedBatch(empty, &probe, /*probing=*/true));
    return Status::Ok();
  }

  size_t dim() const override { return dim_; }
  std::string Describe() const override { return text::DescribeEncoder(options_); }
  const text::WordPieceTokenizer* tokenizer() const override { return tokenizer_.get(); }

  Status Embed(std::span<const std::string> texts, std::vector<float>* out) const override {
    out->assign(texts.size() * dim_, 0.0f);
    std::vector<float> part;
    for (size_t start = 0; start < texts.size(); start += options_.batch_size) {
      const size_t n = std::min(options_.batch_size, texts.size() - start);
      SOUK_RETURN_IF_ERROR(EmbedBatch(texts.subspan(start, n), &part, /*probing=*/false));
      std::copy(part.begin(), part.end(), out->begin() + static_cast<std::ptrdiff_t>(start * dim_));
    }
    return Status::Ok();
  }

 private:
  // Embeds at most batch_size texts into *out (n x dim).
  Status EmbedBatch(std::span<const std::string> texts, std::vector<float>* out, bool probing) const {
    std::lock_guard<std::mutex> lock(mu_);
    // Load set torch's threads from the loading thread; with OpenMP each
    // calling thread has its own count, so set it again here.
    CapThreads(options_.threads);
    text::TokenBatch b =
        tokenizer_->EncodeBatch(texts, options_.fixed_shape ? text::Padding::kMaxLen : text::Padding::kLongest);
    const int64_t n = static_cast<int64_t>(b.rows);
    if (options_.fixed_shape && b.rows < options_.batch_size) {
      // Filler rows ([CLS] [SEP], never all padding: a fully masked row
      // makes attention NaN) keep the traced batch size; dropped below.
      const std::vector<int64_t> filler = {tokenizer_->cls_id(), tokenizer_->sep_id()};
      b.ids.resize(options_.batch_size * b.cols, tokenizer_->pad_id());
      b.mask.resize(options_.batch_size * b.cols, 0);
      for (size_t r = b.rows; r < options_.batch_size; ++r) {
        for (size_t c = 0; c < filler.size(); ++c) {
          b.ids[r * b.cols + c] = filler[c];
          b.mask[r * b.cols + c] = 1;
        }
      }
      b.rows = options_.batch_size;
    }
    const int64_t rows = static_cast<int64_t>(b.rows), cols = static_cast<int64_t>(b.cols);
    try {
      c10::InferenceMode inference;
      // The traced graph as recorded: the profiling executor would otherwise
      // re-specialise (and re-optimise) it for each new input shape, which
      // on CPU costs time and gains nothing.
      torch::jit::GraphOptimizerEnabledGuard no_optimize(false);
      auto ids = torch::from_blob(b.ids.data(), {rows, cols}, torch::kLong);
      auto mask = torch::from_blob(b.mask.data(), {rows, cols}, torch::kLong);
      torch::jit::IValue result;
      try {
        result = module_.forward({ids, mask});
      } catch (const std::exception& e) {
        return Status::InvalidArgument("TorchScript model '" + options_.model_path +
                                       "': forward(input_ids, attention_mask) failed: " + TorchMessage(e));
      }
      SOUK_ASSIGN_OR_RETURN(torch::Tensor hidden, HiddenStates(result, rows, cols));
      hidden = hidden.to(torch::kFloat);
      torch::Tensor pooled;
      if (options_.pooling == text::Pooling::kCls) {
        pooled = hidden.select(1, 0);
      } else {
        // Masked mean, as sentence-transformers: padding does not count.
        auto m = mask.unsqueeze(-1).to(torch::kFloat);
        pooled = (hidden * m).sum(1) / m.sum(1).clamp_min(1e-9);
      }
      if (options_.normalize) {
        pooled = torch::nn::functional::normalize(pooled, torch::nn::functional::NormalizeFuncOptions().p(2).dim(1));
      }
      pooled = pooled.slice(0, 0, n).contiguous();
      if (probing) dim_ = static_cast<size_t>(pooled.size(1));
      const float* p = pooled.data_ptr<float>();
      out->assign(p, p + pooled.numel());
    } catch (const std::exception& e) {
      return Status::Internal("TorchScript encoder: " + TorchMessage(e));
    }
    return Status::Ok();
  }

  // The [batch, tokens, hidden] tensor in a model's output: the output
  // itself, or the first element of a tuple or list, or of a dict
  // ("last_hidden_state" when present).
  Result<torch::Tensor> HiddenStates(const torch::jit::IValue& v, int64_t rows, int64_t cols) const {
    torch::jit::IValue first = v;
    if (v.isTuple() && !v.toTupleRef().elements().empty()) {
      first = v.toTupleRef().elements()[0];
    } else if (v.isList() && !v.toListRef().empty()) {
      first = v.toListRef()[0];
    } else if (v.isGenericDict() && !v.toGenericDict().empty()) {
      auto dict = v.toGenericDict();
      first = dict.begin()->value();
      for (const auto& entry : dict) {
        if (entry.key().isString() && entry.key().toStringRef() == "last_hidden_state") first = entry.value();
      }
    }
    const std::string expect =
        "; an encoder must return the last hidden states [batch, tokens, hidden] (or a tuple or dict whose first "
        "element is that tensor)";
    if (!first.isTensor())
      return Status::InvalidArgument("TorchScript model '" + options_.model_path + "' returned a " + first.tagKind() +
                                     expect);
    torch::Tensor t = first.toTensor();
    if (t.dim() != 3 || t.size(0) != rows || t.size(1) != cols || t.size(2) < 1 || !t.is_floating_point())
      return Status::InvalidArgument("TorchScript model '" + options_.model_path + "' returned a " +
                                     std::string(c10::toString(t.scalar_type())) + " tensor " + ShapeText(t) +
                                     " for inputs [" + std::to_string(rows) + ", " + std::to_string(cols) + "]" +
                                     expect);
    if (dim_ != 0 && static_cast<size_t>(t.size(2)) != dim_)
      return Status::InvalidArgument("TorchScript model '" + options_.model_path + "' changed its hidden size");
    return t;
  }

  text::EncoderOptions options_;
  std::shared_ptr<const text::WordPieceTokenizer> tokenizer_;
  mutable torch::jit::Module module_;  // forward() is not const; calls are serialised by mu_
  mutable std::mutex mu_;
  mutable size_t dim_ = 0;  // set by the probe in Load
};

}  // namespace

void RegisterEncoders() {
  text::RegisterEncoderFactory(
      "torchscript",
      [](const text::EncoderOptions& options,
         std::shared_ptr<const text::WordPieceTokenizer> tokenizer) -> Result<std::unique_ptr<text::TextEncoder>> {
        auto encoder = std::make_unique<TorchScriptEncoder>(options, std::move(tokenizer));
        SOUK_RETURN_IF_ERROR(encoder->Load());
        return std::unique_ptr<text::TextEncoder>(std::move(encoder));
      });
}

}  // namespace souk::deep
