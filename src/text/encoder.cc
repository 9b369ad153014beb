// The torch-free half of text encoders: spec parsing and the registry that
// modules fill in (see text.h). The CLI links this; libsouk_deep.so
// registers "torchscript" when it is loaded.
#include <algorithm>
#include <charconv>
#include <utility>

#include "core/core.h"
#include "text/text.h"

namespace souk::text {
namespace {

std::vector<std::pair<std::string, EncoderFactory>>& Factories() {
  static std::vector<std::pair<std::string, EncoderFactory>> factories;
  return factories;
}

EncoderLoader& Loader() {
  static EncoderLoader loader;
  return loader;
}

const EncoderFactory* FindFactory(const std::string& kind) {
  for (const auto& [k, f] : Factories())
    if (k == kind) return &f;
  return nullptr;
}

constexpr const char* kKeys = "path, vocab, pool, norm, lower, strip_accents, cjk, maxlen, bs, threads, shape, int8";

Status Bad(std::string_view spec, const std::string& what) {
  return Status::InvalidArgument("encoder '" + std::string(spec) + "': " + what);
}

bool ParseSize(std::string_view v, size_t* out) {
  size_t x = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc() || p != v.data() + v.size()) return false;
  *out = x;
  return true;
}

}  // namespace

Result<EncoderOptions> ParseEncoderSpec(std::string_view spec) {
  EncoderOptions o;
  const size_t colon = spec.find(':');
  o.kind = std::string(Trim(spec.substr(0, colon)));
  // One kind so far; its keys are the grammar below. A second kind would
  // bring its own keys.
  if (o.kind != "torchscript")
    return Bad(spec, "unknown encoder kind '" + o.kind + "' (expected torchscript:path=MODEL.pt,vocab=VOCAB.txt)");
  if (colon != std::string_view::npos) {
    for (std::string_view kv : SplitTrimmed(spec.substr(colon + 1), ',')) {
      const size_t eq = kv.find('=');
      if (eq == std::string_view::npos) return Bad(spec, "expected key=value, got '" + std::string(kv) + "'");
      const std::string key(Trim(kv.substr(0, eq)));
      const std::string_view value = Trim(kv.substr(eq + 1));
      auto flag = [&](bool* out) -> Status {
        if (value == "1" || value == "true") {
          *out = true;
        } else if (value == "0" || value == "false") {
          *out = false;
        } else {
          return Bad(spec, key + " must be 0 or 1, got '" + std::string(value) + "'");
        }
        return Status::Ok();
      };
      auto count = [&](size_t* out, size_t min) -> Status {
        if (!ParseSize(value, out) || *out < min)
          return Bad(spec,
                     key + " must be an integer >= " + std::to_string(min) + ", got '" + std::string(value) + "'");
        return Status::Ok();
      };
      if (key == "path") {
        o.model_path = std::string(value);
      } else if (key == "vocab") {
        o.vocab_path = std::string(value);
      } else if (key == "pool") {
        if (value == "mean") {
          o.pooling = Pooling::kMean;
        } else if (value == "cls") {
          o.pooling = Pooling::kCls;
        } else {
          return Bad(spec, "pool must be mean or cls, got '" + std::string(value) + "'");
        }
      } else if (key == "norm") {
        SOUK_RETURN_IF_ERROR(flag(&o.normalize));
      } else if (key == "lower") {
        SOUK_RETURN_IF_ERROR(flag(&o.tokenizer.lower_case));
      } else if (key == "strip_accents") {
        bool b = false;
        SOUK_RETURN_IF_ERROR(flag(&b));
        o.tokenizer.strip_accents = b;
      } else if (key == "cjk") {
        SOUK_RETURN_IF_ERROR(flag(&o.tokenizer.split_cjk));
      } else if (key == "maxlen") {
        SOUK_RETURN_IF_ERROR(count(&o.tokenizer.max_len, 2));
      } else if (key == "bs") {
        SOUK_RETURN_IF_ERROR(count(&o.batch_size, 1));
      } else if (key == "threads") {
        size_t t = 0;
        SOUK_RETURN_IF_ERROR(count(&t, 0));
        o.threads = static_cast<int>(std::min<size_t>(t, 1024));
      } else if (key == "shape") {
        if (value == "fixed") {
          o.fixed_shape = true;
        } else if (value == "dynamic") {
          o.fixed_shape = false;
        } else {
          return Bad(spec, "shape must be fixed or dynamic, got '" + std::string(value) + "'");
        }
      } else if (key == "int8") {
        SOUK_RETURN_IF_ERROR(flag(&o.int8));
      } else {
        return Bad(spec, "unknown key '" + key + "' (keys: " + kKeys + ")");
      }
    }
  }
  if (o.model_path.empty()) return Bad(spec, "needs path=MODEL.pt (a TorchScript file)");
  if (o.vocab_path.empty()) return Bad(spec, "needs vocab=VOCAB.txt (the model's WordPiece vocabulary)");
  return o;
}

std::string DescribeEncoder(const EncoderOptions& o) {
  auto b = [](bool x) { return x ? "1" : "0"; };
  std::string s = o.kind + ":path=" + o.model_path + ",vocab=" + o.vocab_path;
  s += std::string(",pool=") + (o.pooling == Pooling::kMean ? "mean" : "cls");
  s += std::string(",norm=") + b(o.normalize);
  s += std::string(",lower=") + b(o.tokenizer.lower_case);
  s += std::string(",strip_accents=") + b(o.tokenizer.StripsAccents());
  s += std::string(",cjk=") + b(o.tokenizer.split_cjk);
  s += ",maxlen=" + std::to_string(o.tokenizer.max_len);
  s += ",bs=" + std::to_string(o.batch_size);
  s += ",threads=" + std::to_string(o.threads);
  s += std::string(",shape=") + (o.fixed_shape ? "fixed" : "dynamic");
  // Only when on, so the descriptions recorded in existing vectors files still match.
  if (o.int8) s += ",int8=1";
  return s;
}

void RegisterEncoderFactory(const std::string& kind, EncoderFactory factory) {
  for (auto& [k, f] : Factories()) {
    if (k == kind) {
      f = std::move(factory);
      return;
    }
  }
  Factories().emplace_back(kind, std::move(factory));
}

void SetEncoderLoader(EncoderLoader loader) { Loader() = std::move(loader); }

Result<std::unique_ptr<TextEncoder>> MakeEncoder(std::string_view spec) {
  SOUK_ASSIGN_OR_RETURN(EncoderOptions options, ParseEncoderSpec(spec));
  // The vocab first: a wrong path is reported without loading libtorch.
  SOUK_ASSIGN_OR_RETURN(std::shared_ptr<const WordPieceTokenizer> tokenizer,
                        WordPieceTokenizer::Load(options.vocab_path, options.tokenizer));
  if (FindFactory(options.kind) == nullptr && Loader()) SOUK_RETURN_IF_ERROR(Loader()(options.kind));
  const EncoderFactory* factory = FindFactory(options.kind);
  if (factory == nullptr)
    return Status::FailedPrecondition("encoder '" + options.kind + "' is not available in this build");
  return (*factory)(options, std::move(tokenizer));
}

}  // namespace souk::text
