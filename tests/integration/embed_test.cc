// Pretrained text encoders end to end: tests/deep/make_tiny_encoder.py
// (Debian's python3-torch) traces a tiny transformer and computes, in
// Python, the WordPiece ids (its own reference tokenizer) and the pooled
// embeddings of a list of sentences; `souk embed` (which loads
// libsouk_deep.so) must give the same ids and the same vectors to 1e-5, for
// texts and for the catalog's vectors file, and clear one-line errors for
// broken files.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "store/store.h"
#include "test_util.h"

namespace souk {
namespace {

using json = nlohmann::json;
using souk::testing::CmdResult;
using souk::testing::ReadText;
using souk::testing::TempDir;
using souk::testing::WriteText;

constexpr double kTolerance = 1e-5;

// A python3 that imports torch: Debian's /usr/bin/python3 first, where
// python3-torch installs (a python3 earlier on PATH, pyenv or a venv, may
// not have it).
std::string TorchPython() {
  for (const char* py : {"/usr/bin/python3", "python3"}) {
    const std::string cmd = std::string(py) + " -c 'import torch' >/dev/null 2>&1";
    if (std::system(cmd.c_str()) == 0) return py;
  }
  return "";
}

class Embed : public ::testing::Test {
 protected:
  // The model and references are made once for the suite (tracing takes a
  // few seconds); each test still works in its own directory.
  static void SetUpTestSuite() {
    python_ = TorchPython();
    if (python_.empty()) return;
    assets_ = std::make_unique<TempDir>();
    const std::string cmd = python_ + " " + SOUK_SOURCE_DIR + "/tests/deep/make_tiny_encoder.py " + assets_->path() +
                            " >" + (*assets_ / "make.log") + " 2>&1";
    make_status_ = std::system(cmd.c_str());
    if (make_status_ == 0) reference_ = json::parse(ReadText(*assets_ / "reference.json"));
  }
  static void TearDownTestSuite() { assets_.reset(); }

  void SetUp() override {
    if (python_.empty()) GTEST_SKIP() << "python3-torch is not installed (scripts/install-deps installs it)";
    ASSERT_EQ(make_status_, 0) << ReadText(*assets_ / "make.log");
    shop_ = dir_ / "shop";
    ASSERT_EQ(Souk("init " + shop_).code, 0);
  }

  CmdResult Souk(const std::string& args) { return souk::testing::RunSouk(dir_, args); }
  static std::string Asset(const std::string& name) { return *assets_ / name; }
  static std::string Spec(const std::string& model, const std::string& options) {
    return "'torchscript:path=" + Asset(model) + ",vocab=" + Asset("vocab.txt") + (options.empty() ? "" : ",") +
           options + "'";
  }

  // Runs `souk embed --texts` with one reference configuration and checks
  // ids and vectors; returns the largest absolute difference.
  double CheckAgainstReference(const json& config, const std::string& model, const std::string& extra) {
    const std::string options = config["spec"].get<std::string>() + extra;
    CmdResult r = Souk("embed " + shop_ + " --encoder " + Spec(model, options) + " --texts " + Asset("texts.txt") +
                       " --json --tokens");
    EXPECT_EQ(r.code, 0) << r.err;
    std::istringstream lines(r.out);
    std::string line;
    size_t i = 0;
    double max_diff = 0;
    const json& texts = reference_["texts"];
    while (std::getline(lines, line)) {
      if (i >= texts.size()) {
        ADD_FAILURE() << "more output lines than texts";
        break;
      }
      const json j = json::parse(line);
      EXPECT_EQ(j["text"], texts[i]);
      EXPECT_EQ(j["ids"], config["ids"][i])
          << config["name"] << ": " << texts[i] << "\n souk: " << j["tokens"] << "\n python: " << config["tokens"][i];
      EXPECT_EQ(j["tokens"], config["tokens"][i]);
      const json& want = config["vectors"][i];
      EXPECT_EQ(j["vector"].size(), want.size());
      for (size_t d = 0; d < want.size() && d < j["vector"].size(); ++d)
        max_diff = std::max(max_diff, std::fabs(j["vector"][d].get<double>() - want[d].get<double>()));
      ++i;
    }
    EXPECT_EQ(i, texts.size());
    EXPECT_LE(max_diff, kTolerance) << config["name"] << " with " << model << " " << extra;
    std::printf("[ embed    ] %-22s %-15s %-15s max abs diff %.3g\n", config["name"].get<std::string>().c_str(),
                model.c_str(), extra.c_str(), max_diff);
    return max_diff;
  }

  TempDir dir_;
  std::string shop_;
  static inline std::string python_;
  static inline std::unique_ptr<TempDir> assets_;
  static inline int make_status_ = -1;
  static inline json reference_;
};

// int8=1 (libtorch dynamic quantization of the model's linear layers) gives
// vectors close to the fp32 reference: cosine >= 0.99 for every text. The
// same ids, so only the model's arithmetic changed.
TEST_F(Embed, Int8VectorsStayCloseToFp32) {
  const json& config = reference_["configs"][0];  // uncased, mean, L2-normalised
  for (const std::string shape : {"", ",shape=dynamic"}) {
    CmdResult r = Souk("embed " + shop_ + " --encoder " +
                       Spec("model.pt", config["spec"].get<std::string>() + ",int8=1" + shape) + " --texts " +
                       Asset("texts.txt") + " --json --tokens");
    ASSERT_EQ(r.code, 0) << r.err;
    std::istringstream lines(r.out);
    std::string line;
    size_t i = 0;
    double worst = 1, worst_diff = 0;
    while (std::getline(lines, line) && i < config["vectors"].size()) {
      const json j = json::parse(line);
      EXPECT_EQ(j["ids"], config["ids"][i]);
      const json& want = config["vectors"][i];
      ASSERT_EQ(j["vector"].size(), want.size());
      double dot = 0, a = 0, b = 0;
      for (size_t d = 0; d < want.size(); ++d) {
        const double x = j["vector"][d].get<double>(), y = want[d].get<double>();
        dot += x * y;
        a += x * x;
        b += y * y;
        worst_diff = std::max(worst_diff, std::fabs(x - y));
      }
      const double cosine = dot / std::sqrt(a * b);
      EXPECT_GE(cosine, 0.99) << reference_["texts"][i];
      worst = std::min(worst, cosine);
      ++i;
    }
    EXPECT_EQ(i, config["vectors"].size());
    // Not bit-identical: int8 really ran.
    EXPECT_GT(worst_diff, 1e-6);
    std::printf("[ embed    ] int8%-15s lowest cosine to fp32 %.5f, max abs diff %.3g\n", shape.c_str(), worst,
                worst_diff);
  }
  // A bad value is a one-line spec error.
  CmdResult bad = Souk("embed " + shop_ + " --encoder " + Spec("model.pt", "int8=2") + " --text x");
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.err.find("int8 must be 0 or 1"), std::string::npos) << bad.err;
}

TEST_F(Embed, IdsAndVectorsMatchThePythonReference) {
  ASSERT_EQ(reference_["configs"].size(), 3u);
  double worst = 0;
  // Each configuration: uncased + mean + L2 (the default kind of model),
  // cased + [CLS] + raw, uncased keeping accents. Batches of 4, 5 and 8 for
  // 13 texts: the last batch is short and gets filler rows (shape=fixed).
  for (const json& config : reference_["configs"])
    worst = std::max(worst, CheckAgainstReference(config, "model.pt", ""));
  // A model returning the hidden states as a plain tensor, and batches as
  // wide as their longest text (the tiny model's trace accepts any shape).
  worst = std::max(worst, CheckAgainstReference(reference_["configs"][0], "model_plain.pt", ",shape=dynamic"));
  worst = std::max(worst, CheckAgainstReference(reference_["configs"][1], "model.pt", ",shape=dynamic,bs=1,threads=1"));
  std::printf("[ embed    ] worst max abs diff over all runs: %.3g\n", worst);
  RecordProperty("max_abs_diff", std::to_string(worst));

  // The plain-text output (repeated --text) shows the same pieces. (Part of
  // this test rather than its own: ctest runs each test in a new process,
  // which traces the model again.)
  CmdResult r = Souk("embed " + shop_ + " --encoder " + Spec("model.pt", "maxlen=16") +
                     " --text 'Red running shoes for men' --text '运动鞋很好看' --tokens");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Red running shoes for men\n  tokens: [CLS] red running shoes for men [SEP]\n  vector[32]: "),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("  tokens: [CLS] 运 动 鞋 很 好 看 [SEP]"), std::string::npos) << r.out;
}

// Reads DIR/vectors/items-NAME.f32 as docs/formats.md describes it.
struct VectorsFile {
  uint32_t dim = 0, flags = 0;
  uint64_t rows = 0;
  std::string spec;
  std::vector<float> matrix;
  std::vector<uint8_t> present;
};

VectorsFile ReadVectors(const std::string& path) {
  const std::string b = ReadText(path);
  VectorsFile v;
  EXPECT_GE(b.size(), 32u);
  if (b.size() < 32) return v;
  EXPECT_EQ(b.substr(0, 8), "SOUKVEC1");
  uint32_t header = 0, spec_bytes = 0;
  std::memcpy(&header, b.data() + 8, 4);
  std::memcpy(&v.dim, b.data() + 12, 4);
  std::memcpy(&v.rows, b.data() + 16, 8);
  std::memcpy(&v.flags, b.data() + 24, 4);
  std::memcpy(&spec_bytes, b.data() + 28, 4);
  EXPECT_EQ(header % 64, 0u);
  v.spec = b.substr(32, spec_bytes);
  const size_t floats = v.rows * v.dim;
  EXPECT_EQ(b.size(), header + floats * 4 + v.rows);
  if (b.size() != header + floats * 4 + v.rows) return v;
  v.matrix.resize(floats);
  std::memcpy(v.matrix.data(), b.data() + header, floats * 4);
  v.present.assign(b.begin() + static_cast<std::ptrdiff_t>(header + floats * 4), b.end());
  return v;
}

TEST_F(Embed, CatalogVectorsFileFollowsDenseItemIds) {
  // Item texts are title + description + brand + category joined by spaces,
  // so these three give reference texts 0, 3 and 1 exactly. An event names
  // an item the catalog lacks: its placeholder row is empty.
  WriteText(dir_ / "items.csv",
            "item_id,title,description,brand,category\n"
            "A,Red running shoes,for men,,\n"
            "B,运动鞋很好看,,,\n"
            "C,\"Café crème\",,\"brûlée,\",naïve façade\n");
  WriteText(dir_ / "events.csv",
            "user_id,item_id,event_type,timestamp\nu1,ghost,view,1780000000\nu1,B,view,1780000100\n");
  ASSERT_EQ(Souk("import " + shop_ + " --items " + (dir_ / "items.csv") + " --events " + (dir_ / "events.csv")).code,
            0);
  const json& config = reference_["configs"][0];
  CmdResult r = Souk("embed " + shop_ + " --encoder " + Spec("model.pt", config["spec"].get<std::string>()) +
                     " --items --name tiny --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["items"], 4);
  EXPECT_EQ(j["embedded"], 3);
  EXPECT_EQ(j["skipped"], 1);
  EXPECT_EQ(j["dim"], 32);
  const std::string path = shop_ + "/vectors/items-tiny.f32";
  EXPECT_EQ(j["path"], path);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));

  const VectorsFile v = ReadVectors(path);
  EXPECT_EQ(v.rows, 4u);
  EXPECT_EQ(v.dim, 32u);
  EXPECT_EQ(v.flags, 1u);  // L2-normalised
  EXPECT_EQ(v.spec, j["encoder"].get<std::string>());
  ASSERT_EQ(v.present.size(), 4u);

  auto store = Store::OpenSqlite(shop_ + "/souk.db");
  ASSERT_TRUE(store.ok()) << store.status().message();
  auto items = (*store)->LoadItems();
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), 4u);
  const std::map<std::string, int> text_of = {{"A", 0}, {"B", 3}, {"C", 1}};
  double max_diff = 0;
  for (const ItemRow& item : *items) {
    const size_t row = item.id;
    if (item.ext_id == "ghost") {
      EXPECT_EQ(v.present[row], 0);
      for (size_t d = 0; d < v.dim; ++d) EXPECT_EQ(v.matrix[row * v.dim + d], 0.0f);
      continue;
    }
    EXPECT_EQ(v.present[row], 1) << item.ext_id;
    const json& want = config["vectors"][text_of.at(item.ext_id)];
    for (size_t d = 0; d < v.dim; ++d)
      max_diff = std::max(max_diff, std::fabs(static_cast<double>(v.matrix[row * v.dim + d]) - want[d].get<double>()));
  }
  EXPECT_LE(max_diff, kTolerance);
  std::printf("[ embed    ] catalog vectors file: max abs diff %.3g\n", max_diff);
}

// Every failure is exit 1 and one line on stderr that names the problem.
void ExpectOneLineError(const CmdResult& r, const std::string& needle) {
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.rfind("souk: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

TEST_F(Embed, BrokenFilesGiveOneLineErrors) {
  const std::string bytes = ReadText(Asset("model.pt"));
  WriteText(dir_ / "truncated.pt", bytes.substr(0, bytes.size() / 2));
  WriteText(dir_ / "notes.pt", "this is not a model\n");
  auto embed = [&](const std::string& spec) { return Souk("embed " + shop_ + " --encoder " + spec + " --text hello"); };
  const std::string vocab = Asset("vocab.txt");

  ExpectOneLineError(embed("torchscript:path=" + (dir_ / "truncated.pt") + ",vocab=" + vocab + ",maxlen=16"),
                     "is not a TorchScript archive");
  ExpectOneLineError(embed("torchscript:path=" + (dir_ / "notes.pt") + ",vocab=" + vocab + ",maxlen=16"),
                     "is not a TorchScript archive");
  ExpectOneLineError(embed(Spec("state_dict.pt", "maxlen=16")), "is not a TorchScript archive");
  ExpectOneLineError(embed("torchscript:path=" + (dir_ / "missing.pt") + ",vocab=" + vocab),
                     "TorchScript model '" + (dir_ / "missing.pt") + "' not found");
  ExpectOneLineError(embed("torchscript:path=" + Asset("model.pt") + ",vocab=" + (dir_ / "missing.txt")),
                     "vocab file '" + (dir_ / "missing.txt") + "' not found");
  // A model that returns pooled [batch, hidden] vectors, not hidden states.
  ExpectOneLineError(embed(Spec("model_pooled.pt", "maxlen=16")), "an encoder must return the last hidden states");
  // maxlen past the tiny model's 64 positions: torch's index error, explained.
  ExpectOneLineError(embed(Spec("model.pt", "maxlen=100")), "index out of range");
  ExpectOneLineError(embed(Spec("model.pt", "pool=max")), "pool must be mean or cls");
  WriteText(dir_ / "nounk.txt", "[PAD]\n[CLS]\n[SEP]\nhello\n");
  ExpectOneLineError(embed("torchscript:path=" + Asset("model.pt") + ",vocab=" + (dir_ / "nounk.txt")), "[UNK]");
  ExpectOneLineError(Souk("embed " + shop_ + " --encoder " + Spec("model.pt", "")), "nothing to embed");
  ExpectOneLineError(Souk("embed " + shop_ + " --encoder " + Spec("model.pt", "maxlen=16") + " --items"),
                     "no items in");
}

}  // namespace
}  // namespace souk
