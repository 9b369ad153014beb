// souk's WordPiece tokenizer against the Python reference
// (tests/deep/wordpiece_ref.py, written from BERT's published algorithm) on
// random text from many scripts and character classes, for every
// combination of lower-casing and accent stripping. Needs only python3; runs
// in sanitizer builds too, where it doubles as a small fuzz test.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_util.h"
#include "text/text.h"

namespace souk::text {
namespace {

using json = nlohmann::json;
using souk::testing::ReadText;
using souk::testing::TempDir;

TEST(WordPieceReference, RandomTextMatchesPython) {
  TempDir dir;
  const std::string cmd = std::string("python3 ") + SOUK_SOURCE_DIR + "/tests/deep/wordpiece_ref.py random " +
                          dir.path() + " 20240601 3000 >" + (dir / "log.txt") + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << ReadText(dir / "log.txt");
  const json ref = json::parse(ReadText(dir / "random.json"));
  const auto texts = ref["texts"].get<std::vector<std::string>>();
  const auto vocab = ref["vocab"].get<std::vector<std::string>>();
  ASSERT_EQ(texts.size(), 3000u);
  for (const json& config : ref["configs"]) {
    WordPieceOptions o;
    o.lower_case = config["lower"].get<bool>();
    o.strip_accents = config["strip_accents"].get<bool>();
    auto t = WordPieceTokenizer::FromTokens(vocab, o);
    ASSERT_TRUE(t.ok()) << t.status().message();
    size_t mismatches = 0, unknown = 0, pieces = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
      const auto want = config["ids"][i].get<std::vector<int64_t>>();
      const std::vector<int64_t> got = (*t)->TokenIds(texts[i]);
      for (int64_t id : got) {
        unknown += id == (*t)->unk_id();
        pieces += vocab[static_cast<size_t>(id)].rfind("##", 0) == 0;
      }
      if (got == want) continue;
      if (++mismatches <= 5) {
        std::string w, g;
        for (int64_t id : want) w += " " + vocab[static_cast<size_t>(id)];
        for (int64_t id : got) g += " " + vocab[static_cast<size_t>(id)];
        ADD_FAILURE() << (*t)->Describe() << " text " << json(texts[i]).dump() << "\n python:" << w
                      << "\n souk:  " << g;
      }
    }
    EXPECT_EQ(mismatches, 0u) << (*t)->Describe();
    // The vocabulary leaves out 30% of the words: the cases exercise both
    // ## pieces and [UNK].
    EXPECT_GT(unknown, 100u);
    EXPECT_GT(pieces, 100u);
  }
}

}  // namespace
}  // namespace souk::text
