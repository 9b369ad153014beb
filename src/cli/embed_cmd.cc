// `souk embed`: dense vectors from a pretrained text encoder (text.h's
// TextEncoder; the torchscript kind lives in libsouk_deep.so, loaded on
// demand). Texts from flags or a file go to stdout; `--items` embeds the
// catalog into DIR/vectors/items-NAME.f32 (format in docs/formats.md).
#include <fmt/format.h>

#include <bit>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/core.h"
#include "text/text.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace souk::cli {
namespace {

static_assert(std::endian::native == std::endian::little, "the vectors file is written little-endian as is");

// Texts per Embed call: big enough to fill the encoder's batches, small
// enough that output streams and progress moves.
constexpr size_t kChunk = 256;

constexpr char kVectorsMagic[8] = {'S', 'O', 'U', 'K', 'V', 'E', 'C', '1'};
constexpr uint32_t kFlagNormalized = 1;

// JSON numbers are doubles: a float widened as is prints 17 digits
// (0.1f -> 0.10000000149011612). The double nearest the float's shortest
// decimal prints as that decimal and reads back as the same float.
json FloatsJson(const float* v, size_t n) {
  json out = json::array();
  char buf[32];
  for (size_t i = 0; i < n; ++i) {
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf) - 1, v[i]);
    *end = '\0';
    out.push_back(ec == std::errc() ? std::strtod(buf, nullptr) : static_cast<double>(v[i]));
  }
  return out;
}

// What an item is embedded from: its title, description, brand and category
// path, in that order, joined by spaces (empty fields skipped).
std::string ItemText(const ItemRow& item) {
  std::string s;
  for (const std::string* f : {&item.title, &item.description, &item.brand, &item.category}) {
    if (f->empty()) continue;
    if (!s.empty()) s += ' ';
    s += *f;
  }
  return s;
}

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  return true;
}

// The vectors file (docs/formats.md); written to a temporary name and
// renamed, so a reader never sees half a file.
Status WriteVectors(const std::string& path, const std::string& spec, bool normalized, size_t dim,
                    const std::vector<float>& matrix, const std::vector<uint8_t>& present) {
  const uint64_t rows = present.size();
  const uint32_t spec_bytes = static_cast<uint32_t>(spec.size());
  const uint32_t header = static_cast<uint32_t>((32 + spec.size() + 63) / 64 * 64);
  std::string head(header, '\0');
  auto put = [&](size_t at, const void* p, size_t n) { std::memcpy(head.data() + at, p, n); };
  const uint32_t dim32 = static_cast<uint32_t>(dim);
  const uint32_t flags = normalized ? kFlagNormalized : 0;
  put(0, kVectorsMagic, 8);
  put(8, &header, 4);
  put(12, &dim32, 4);
  put(16, &rows, 8);
  put(24, &flags, 4);
  put(28, &spec_bytes, 4);
  put(32, spec.data(), spec.size());

  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Status::IoError(fmt::format("cannot write '{}'", tmp));
    out.write(head.data(), static_cast<std::streamsize>(head.size()));
    out.write(reinterpret_cast<const char*>(matrix.data()), static_cast<std::streamsize>(matrix.size() * 4));
    out.write(reinterpret_cast<const char*>(present.data()), static_cast<std::streamsize>(present.size()));
    out.close();
    if (!out) return Status::IoError(fmt::format("writing '{}' failed", tmp));
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Status::IoError(fmt::format("cannot rename '{}' to '{}': {}", tmp, path, ec.message()));
  return Status::Ok();
}

int EmbedItems(const EmbedArgs& args, Store* store, const text::TextEncoder& encoder,
               const text::EncoderOptions& options) {
  std::string name = args.name;
  if (name.empty()) name = fs::path(options.model_path).stem().string();
  if (!ValidName(name))
    return Fail(
        Status::InvalidArgument(fmt::format("--name '{}': use up to 64 letters, digits, '-', '_' or '.'", name)));
  const auto t0 = std::chrono::steady_clock::now();
  auto items = store->LoadItems();
  if (!items.ok()) return Fail(items.status());
  if (items->empty())
    return Fail(Status::FailedPrecondition(fmt::format("no items in {} to embed (import a catalog first)", args.dir)));
  const size_t rows = items->size(), dim = encoder.dim();

  // Placeholders (items only events named), deleted items and items without
  // any text get a zero row marked absent: row i stays dense item id i.
  std::vector<uint32_t> ids;
  std::vector<std::string> texts;
  for (const ItemRow& item : *items) {
    if (!item.known || item.deleted) continue;
    std::string t = ItemText(item);
    if (Trim(t).empty()) continue;
    ids.push_back(item.id);
    texts.push_back(std::move(t));
  }
  std::vector<float> matrix(rows * dim, 0.0f);
  std::vector<uint8_t> present(rows, 0);
  Progress progress("embed items", texts.size());
  std::vector<float> part;
  for (size_t start = 0; start < texts.size(); start += kChunk) {
    const size_t n = std::min(kChunk, texts.size() - start);
    Status s = encoder.Embed(std::span<const std::string>(texts).subspan(start, n), &part);
    if (!s.ok()) return Fail(s);
    for (size_t k = 0; k < n; ++k) {
      const uint32_t id = ids[start + k];
      std::copy(part.begin() + static_cast<std::ptrdiff_t>(k * dim),
                part.begin() + static_cast<std::ptrdiff_t>((k + 1) * dim),
                matrix.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(id) * dim));
      present[id] = 1;
    }
    progress.Update(start + n, start + n);
  }
  progress.Finish();

  const fs::path dir = fs::path(args.dir) / "vectors";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Fail(Status::IoError(fmt::format("cannot create '{}': {}", dir.string(), ec.message())));
  const std::string path = (dir / ("items-" + name + ".f32")).string();
  Status s = WriteVectors(path, encoder.Describe(), options.normalize, dim, matrix, present);
  if (!s.ok()) return Fail(s);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (args.json) {
    PrintJson({{"path", path},
               {"items", rows},
               {"embedded", texts.size()},
               {"skipped", rows - texts.size()},
               {"dim", dim},
               {"encoder", encoder.Describe()},
               {"seconds", seconds}});
  } else {
    std::printf("embedded %s of %s items (%zu dims) in %.1f s -> %s\n", WithThousands(texts.size()).c_str(),
                WithThousands(rows).c_str(), dim, seconds, path.c_str());
  }
  return 0;
}

int EmbedTexts(const EmbedArgs& args, const text::TextEncoder& encoder) {
  std::vector<std::string> texts = args.texts;
  if (!args.texts_file.empty()) {
    std::ifstream in(args.texts_file, std::ios::binary);
    if (!in) return Fail(Status::NotFound(fmt::format("cannot open '{}'", args.texts_file)));
    std::string line;
    // Every line is a text, blank ones too: output line i answers input line i.
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      texts.push_back(std::move(line));
    }
  }
  const size_t dim = encoder.dim();
  const text::WordPieceTokenizer* tok = args.tokens ? encoder.tokenizer() : nullptr;
  std::vector<float> vectors;
  for (size_t start = 0; start < texts.size(); start += kChunk) {
    const size_t n = std::min(kChunk, texts.size() - start);
    Status s = encoder.Embed(std::span<const std::string>(texts).subspan(start, n), &vectors);
    if (!s.ok()) return Fail(s);
    for (size_t k = 0; k < n; ++k) {
      const std::string& t = texts[start + k];
      const float* v = vectors.data() + k * dim;
      std::vector<int64_t> ids;
      std::vector<std::string> pieces;
      if (tok != nullptr) {
        ids = tok->Encode(t);
        for (int64_t id : ids) pieces.push_back(tok->token(id));
      }
      if (args.json) {
        json j = {{"text", t}, {"vector", FloatsJson(v, dim)}};
        if (tok != nullptr) {
          j["ids"] = ids;
          j["tokens"] = pieces;
        }
        PrintJson(j);
        continue;
      }
      std::printf("%s\n", t.c_str());
      if (tok != nullptr) {
        std::string line;
        for (const std::string& p : pieces) line += (line.empty() ? "" : " ") + p;
        std::printf("  tokens: %s\n", line.c_str());
      }
      std::string line;
      for (size_t d = 0; d < dim; ++d) line += fmt::format("{}{:.6g}", d ? " " : "", v[d]);
      std::printf("  vector[%zu]: %s\n", dim, line.c_str());
    }
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int EmbedCommand(const EmbedArgs& args, Store* store) {
  const int modes = (!args.texts.empty() || !args.texts_file.empty() ? 1 : 0) + (args.items ? 1 : 0);
  if (modes == 0) return Fail(Status::InvalidArgument("nothing to embed: give --text TEXT, --texts FILE or --items"));
  if (modes > 1) return Fail(Status::InvalidArgument("--items embeds the catalog; give it without --text/--texts"));
  auto options = text::ParseEncoderSpec(args.encoder);
  if (!options.ok()) return Fail(options.status());
  auto encoder = text::MakeEncoder(args.encoder);
  if (!encoder.ok()) return Fail(encoder.status());
  if (args.items) return EmbedItems(args, store, **encoder, *options);
  return EmbedTexts(args, **encoder);
}

}  // namespace souk::cli
