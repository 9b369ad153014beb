// WordPiece (BERT) tokenization, checked by hand: the cases of BERT's own
// tokenization_test.py, plus the Unicode corners (accents, NFC, CJK,
// controls, invalid UTF-8), truncation, padding and the encoder spec. The
// integration test (tests/integration/embed_test.cc) compares against a
// Python reference on more text.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_util.h"
#include "text/text.h"

namespace souk::text {
namespace {

using souk::testing::TempDir;
using souk::testing::WriteText;
using Words = std::vector<std::string>;

std::shared_ptr<const WordPieceTokenizer> Make(std::vector<std::string> vocab, WordPieceOptions o = {}) {
  const std::vector<std::string> special = {"[PAD]", "[UNK]", "[CLS]", "[SEP]"};
  vocab.insert(vocab.begin(), special.begin(), special.end());
  auto t = WordPieceTokenizer::FromTokens(std::move(vocab), o);
  EXPECT_TRUE(t.ok()) << t.status().message();
  return *t;
}

WordPieceOptions Opts(bool lower, std::optional<bool> strip = std::nullopt) {
  WordPieceOptions o;
  o.lower_case = lower;
  o.strip_accents = strip;
  return o;
}

Words Basic(const WordPieceOptions& o, std::string_view text) { return Make({}, o)->BasicTokenize(text); }

// BERT's test_basic_tokenizer_* cases.
TEST(WordPiece, BasicLowerStripsAccentsByDefault) {
  const WordPieceOptions o = Opts(true);
  EXPECT_EQ(Basic(o, " \tHeLLo!how  \n Are yoU?  "), (Words{"hello", "!", "how", "are", "you", "?"}));
  EXPECT_EQ(Basic(o, "H\u00E9llo"), (Words{"hello"}));
  EXPECT_EQ(Basic(o, " \tH\u00E4LLo!how  \n Are yoU?  "), (Words{"hallo", "!", "how", "are", "you", "?"}));
}

TEST(WordPiece, BasicLowerKeepingAccents) {
  const WordPieceOptions o = Opts(true, false);
  EXPECT_EQ(Basic(o, " \tH\u00E4LLo!how  \n Are yoU?  "), (Words{"h\u00E4llo", "!", "how", "are", "you", "?"}));
  EXPECT_EQ(Basic(o, "H\u00E9llo"), (Words{"h\u00E9llo"}));
}

TEST(WordPiece, BasicCased) {
  EXPECT_EQ(Basic(Opts(false), " \tHeLLo!how  \n Are yoU?  "), (Words{"HeLLo", "!", "how", "Are", "yoU", "?"}));
  // Cased keeps accents unless told to strip them.
  EXPECT_EQ(Basic(Opts(false), " \tH\u00E4LLo!how  \n Are yoU?  "),
            (Words{"H\u00E4LLo", "!", "how", "Are", "yoU", "?"}));
  EXPECT_EQ(Basic(Opts(false, true), " \tH\u00E4LLo!how  \n Are yoU?  "),
            (Words{"HaLLo", "!", "how", "Are", "yoU", "?"}));
}

TEST(WordPiece, CjkIdeographsStandAlone) {
  EXPECT_EQ(Basic(Opts(true), "ah\u535A\u63A8zz"), (Words{"ah", "\u535A", "\u63A8", "zz"}));
  EXPECT_EQ(Basic(Opts(true), "运动鞋"), (Words{"运", "动", "鞋"}));
  // Kana and Hangul are not BERT's "Chinese characters": they stay words.
  EXPECT_EQ(Basic(Opts(true, false), "カメラ한국"), (Words{"カメラ한국"}));
  // A CJK compatibility ideograph is spaced, then NFC maps it to the unified
  // one (U+F900 -> U+8C48).
  EXPECT_EQ(Basic(Opts(true), "a\uF900b"), (Words{"a", "\u8C48", "b"}));
  WordPieceOptions no_cjk = Opts(true);
  no_cjk.split_cjk = false;
  EXPECT_EQ(Basic(no_cjk, "ah\u535A\u63A8zz"), (Words{"ah\u535A\u63A8zz"}));
}

TEST(WordPiece, PunctuationSplitsIncludingAsciiSymbols) {
  // $, +, ^, ` and | are ASCII symbols, but BERT counts them as punctuation;
  // Unicode punctuation (P*) splits too, Unicode symbols (S*) do not.
  EXPECT_EQ(Basic(Opts(true), "USB-C $9.99+tax a^b `x` a|b"),
            (Words{"usb", "-", "c", "$", "9", ".", "99", "+", "tax", "a", "^", "b", "`", "x", "`", "a", "|", "b"}));
  EXPECT_EQ(Basic(Opts(true), "don't «hi»—ok…"), (Words{"don", "'", "t", "«", "hi", "»", "—", "ok", "…"}));
  EXPECT_EQ(Basic(Opts(true), "5€ ©2024 ★"), (Words{"5€", "©2024", "★"}));
}

TEST(WordPiece, CleaningDropsControlsAndInvalidUtf8) {
  // \x05 (Cc), soft hyphen (Cf), zero-width space (Cf) and U+FFFD vanish
  // without splitting; tab, newline, CR, no-break space and ideographic
  // space separate words.
  EXPECT_EQ(Basic(Opts(true),
                  "a\x05"
                  "b c\u00ADd e\u200Bf g\uFFFDh"),
            (Words{"ab", "cd", "ef", "gh"}));
  EXPECT_EQ(Basic(Opts(true), "a\tb\nc\rd\u00A0e\u3000f"), (Words{"a", "b", "c", "d", "e", "f"}));
  EXPECT_EQ(Basic(Opts(true), std::string("x\0y", 3)), (Words{"xy"}));
  // Invalid bytes read as U+FFFD, which cleaning drops.
  EXPECT_EQ(Basic(Opts(true),
                  "ab\xff\xfe"
                  "cd \xc3"),
            (Words{"abcd"}));
  // Line and paragraph separators are not BERT whitespace, but Python's
  // str.split() splits on them.
  EXPECT_EQ(Basic(Opts(true), "a\u2028b\u2029c"), (Words{"a", "b", "c"}));
  EXPECT_TRUE(Basic(Opts(true), "").empty());
  EXPECT_TRUE(Basic(Opts(true), " \t\n ").empty());
}

TEST(WordPiece, AccentsNfcAndLowerCasing) {
  // Decomposed input is composed first (HuggingFace's NFC): e + U+0301 is é.
  EXPECT_EQ(Basic(Opts(true, false), "Cafe\u0301"), (Words{"caf\u00E9"}));
  EXPECT_EQ(Basic(Opts(true), "Cafe\u0301 CRÈME brûlée"), (Words{"cafe", "creme", "brulee"}));
  // Stripping drops nonspacing marks only: ø and ß have none; Hangul
  // syllables decompose into jamo under NFD, as in BERT.
  EXPECT_EQ(Basic(Opts(true), "Ø ß Ñandú"), (Words{"ø", "ß", "nandu"}));
  EXPECT_EQ(Basic(Opts(true), "한"), (Words{"\u1112\u1161\u11AB"}));
  // A word of marks only is emptied and vanishes.
  EXPECT_EQ(Basic(Opts(true), "a \u0301 b"), (Words{"a", "b"}));
  // Python's lower(), one character at a time: İ -> i + U+0307 (then
  // stripped), Σ -> σ even at the end of a word.
  EXPECT_EQ(Basic(Opts(true, false), "İ"), (Words{"i\u0307"}));
  EXPECT_EQ(Basic(Opts(true), "İstanbul"), (Words{"istanbul"}));
  EXPECT_EQ(Basic(Opts(true), "ΟΔΟΣ"), (Words{"οδοσ"}));
}

// BERT's test_wordpiece_tokenizer.
TEST(WordPiece, GreedyLongestMatchFirst) {
  auto t = Make({"want", "##want", "##ed", "wa", "un", "runn", "##ing"});
  EXPECT_TRUE(t->Tokenize("").empty());
  EXPECT_EQ(t->Tokenize("unwanted running"), (Words{"un", "##want", "##ed", "runn", "##ing"}));
  EXPECT_EQ(t->Tokenize("unwantedX running"), (Words{"[UNK]", "runn", "##ing"}));
  // The longest piece wins even when a shorter one would leave a match.
  auto u = Make({"a", "ab", "##c", "##bc"});
  EXPECT_EQ(u->Tokenize("abc"), (Words{"ab", "##c"}));
  // Multi-byte characters are matched whole.
  EXPECT_EQ(Make({"caf", "##é", "中"}, Opts(true, false))->Tokenize("Café 中"), (Words{"caf", "##é", "中"}));
  EXPECT_EQ(Make({"caf", "##é"})->Tokenize("café"), (Words{"[UNK]"}));  // stripped to "cafe": no ##e
}

TEST(WordPiece, LongWordsAreUnknown) {
  auto t = Make({"a", "##a"});
  EXPECT_EQ(t->Tokenize(std::string(100, 'a')).size(), 100u);
  EXPECT_EQ(t->Tokenize(std::string(101, 'a')), (Words{"[UNK]"}));
  // Characters, not bytes: 100 two-byte characters are not too long.
  auto u = Make({"é", "##é"}, Opts(false));
  std::string e100;
  for (int i = 0; i < 100; ++i) e100 += "é";
  EXPECT_EQ(u->Tokenize(e100).size(), 100u);
  EXPECT_EQ(u->Tokenize(e100 + "é"), (Words{"[UNK]"}));
}

TEST(WordPiece, EncodeTruncatesAndPads) {
  WordPieceOptions o;
  o.max_len = 5;
  auto t = Make({"a", "b", "c", "d", "e"}, o);  // ids: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 a=4 ...
  EXPECT_EQ(t->pad_id(), 0);
  EXPECT_EQ(t->unk_id(), 1);
  EXPECT_EQ(t->cls_id(), 2);
  EXPECT_EQ(t->sep_id(), 3);
  EXPECT_EQ(t->Encode("a b"), (std::vector<int64_t>{2, 4, 5, 3}));
  EXPECT_EQ(t->Encode("a b c"), (std::vector<int64_t>{2, 4, 5, 6, 3}));
  EXPECT_EQ(t->Encode("a b c d e"), (std::vector<int64_t>{2, 4, 5, 6, 3}));  // cut to max_len with [SEP] kept
  EXPECT_EQ(t->Encode(""), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(t->Encode("zz"), (std::vector<int64_t>{2, 1, 3}));

  const std::vector<std::string> texts = {"a", "b c d e", ""};
  TokenBatch b = t->EncodeBatch(texts);
  EXPECT_EQ(b.rows, 3u);
  EXPECT_EQ(b.cols, 5u);
  EXPECT_EQ(b.ids, (std::vector<int64_t>{2, 4, 3, 0, 0, /**/ 2, 5, 6, 7, 3, /**/ 2, 3, 0, 0, 0}));
  EXPECT_EQ(b.mask, (std::vector<int64_t>{1, 1, 1, 0, 0, /**/ 1, 1, 1, 1, 1, /**/ 1, 1, 0, 0, 0}));
  const std::vector<std::string> short_texts = {"a", "a b", ""};
  b = t->EncodeBatch(short_texts, Padding::kLongest);
  EXPECT_EQ(b.cols, 4u);
  EXPECT_EQ(b.ids, (std::vector<int64_t>{2, 4, 3, 0, /**/ 2, 4, 5, 3, /**/ 2, 3, 0, 0}));
  EXPECT_EQ(b.mask, (std::vector<int64_t>{1, 1, 1, 0, /**/ 1, 1, 1, 1, /**/ 1, 1, 0, 0}));
  EXPECT_EQ(t->EncodeBatch({}).rows, 0u);
}

TEST(WordPiece, SpecialTokensInTextAreText) {
  auto t = Make({"[", "]", "sep", "cls", "x"});
  EXPECT_EQ(t->Tokenize("x [SEP] x"), (Words{"x", "[", "sep", "]", "x"}));
}

TEST(WordPiece, LoadsVocabFiles) {
  TempDir dir;
  // CRLF and CR line ends, a final line without a newline, a repeated token
  // (the last id wins).
  WriteText(dir / "vocab.txt", "[PAD]\r\n[UNK]\r[CLS]\n[SEP]\nhello\n##s\nhello\nworld");
  auto t = WordPieceTokenizer::Load(dir / "vocab.txt");
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ((*t)->vocab_size(), 8u);
  EXPECT_EQ((*t)->TokenIds("Hellos WORLD"), (std::vector<int64_t>{6, 5, 7}));
  EXPECT_EQ((*t)->token(7), "world");
  EXPECT_EQ((*t)->token(99), "");
  EXPECT_EQ((*t)->Describe(), "wordpiece:lower=1,strip_accents=1,cjk=1,maxlen=128");

  auto missing = WordPieceTokenizer::Load(dir / "nope.txt");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nope.txt"), std::string::npos);

  WriteText(dir / "nounk.txt", "[PAD]\n[CLS]\n[SEP]\nhello\n");
  auto nounk = WordPieceTokenizer::Load(dir / "nounk.txt");
  EXPECT_EQ(nounk.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(nounk.status().message().find("[UNK]"), std::string::npos) << nounk.status().message();

  WriteText(dir / "bad.txt", "[PAD]\n[UNK]\n\xff\n");
  auto bad = WordPieceTokenizer::Load(dir / "bad.txt");
  EXPECT_EQ(bad.status().code(), StatusCode::kCorruption);
  EXPECT_NE(bad.status().message().find("line 3"), std::string::npos) << bad.status().message();

  WordPieceOptions tiny;
  tiny.max_len = 1;
  EXPECT_EQ(WordPieceTokenizer::Load(dir / "vocab.txt", tiny).status().code(), StatusCode::kInvalidArgument);
}

TEST(EncoderSpec, ParsesAndDescribesItself) {
  auto o = ParseEncoderSpec("torchscript:path=/m/model.pt,vocab=/m/vocab.txt");
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->model_path, "/m/model.pt");
  EXPECT_EQ(o->pooling, Pooling::kMean);
  EXPECT_TRUE(o->normalize);
  EXPECT_EQ(o->tokenizer.max_len, 128u);
  EXPECT_EQ(DescribeEncoder(*o),
            "torchscript:path=/m/model.pt,vocab=/m/vocab.txt,pool=mean,norm=1,lower=1,strip_accents=1,cjk=1,"
            "maxlen=128,bs=32,threads=0,shape=fixed");

  o = ParseEncoderSpec(
      "torchscript:path=m.pt,vocab=v.txt,pool=cls,norm=0,lower=0,maxlen=16,bs=4,threads=2,shape=dynamic");
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->pooling, Pooling::kCls);
  EXPECT_FALSE(o->normalize);
  EXPECT_FALSE(o->tokenizer.lower_case);
  EXPECT_FALSE(o->tokenizer.StripsAccents());  // follows lower
  EXPECT_EQ(o->tokenizer.max_len, 16u);
  EXPECT_EQ(o->batch_size, 4u);
  EXPECT_EQ(o->threads, 2);
  EXPECT_FALSE(o->fixed_shape);
  auto again = ParseEncoderSpec(DescribeEncoder(*o));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(DescribeEncoder(*again), DescribeEncoder(*o));

  auto error = [](std::string_view spec) { return ParseEncoderSpec(spec).status().message(); };
  EXPECT_NE(error("torchscript:vocab=v.txt").find("needs path="), std::string::npos);
  EXPECT_NE(error("torchscript:path=m.pt").find("needs vocab="), std::string::npos);
  EXPECT_NE(error("torchscript:path=m.pt,vocab=v,pool=max").find("pool must be mean or cls"), std::string::npos);
  EXPECT_NE(error("torchscript:path=m.pt,vocab=v,maxlen=1").find("maxlen must be an integer >= 2"), std::string::npos);
  EXPECT_NE(error("torchscript:path=m.pt,vocab=v,bogus=1").find("unknown key 'bogus'"), std::string::npos);
  EXPECT_NE(error("onnx:path=m.onnx,vocab=v").find("unknown encoder kind 'onnx'"), std::string::npos);
}

TEST(EncoderSpec, MakeEncoderReportsAMissingVocabFirst) {
  auto e = MakeEncoder("torchscript:path=/nonexistent/model.pt,vocab=/nonexistent/vocab.txt");
  EXPECT_EQ(e.status().code(), StatusCode::kNotFound);
  EXPECT_NE(e.status().message().find("vocab file '/nonexistent/vocab.txt' not found"), std::string::npos)
      << e.status().message();
}

}  // namespace
}  // namespace souk::text
