#include "text/text.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/core.h"
#include "test_util.h"

namespace souk::text {
namespace {

using souk::testing::TempDir;
using souk::testing::WriteText;

using Terms = std::vector<std::string>;

// The system jieba dictionary, loaded once for the whole binary (it is
// immutable and shared, as in production). Null when python3-jieba is not
// installed: the tests that need it skip.
std::shared_ptr<const Dictionary> Jieba() {
  static std::shared_ptr<const Dictionary> dict = [] {
    auto d = LoadDictionary();
    return d.ok() ? *d : nullptr;
  }();
  return dict;
}

#define REQUIRE_JIEBA() \
  if (Jieba() == nullptr) GTEST_SKIP() << "python3-jieba dictionary missing"

// Default options with the jieba dictionary (CJK tests), and without it for
// tests of Latin text, which then need not load the dictionary.
Analyzer Default() { return Analyzer(AnalyzerOptions{}, Jieba()); }
Analyzer Plain() { return Analyzer(AnalyzerOptions{}, nullptr); }

std::set<std::string> TermSet(const Analyzer& a, std::string_view text) {
  Terms t = a.Terms(text);
  return {t.begin(), t.end()};
}

// True if every position of `query` shares a term with some position of the
// document: the "OR within a position, AND across positions" contract.
bool Matches(const Analyzer& a, std::string_view doc, std::string_view query) {
  std::set<std::string> doc_terms = TermSet(a, doc);
  std::vector<Token> q;
  a.Analyze(query, &q);
  if (q.empty()) return false;
  for (uint32_t p = 0; p <= q.back().position; ++p) {
    bool hit = false;
    for (const Token& t : q) hit = hit || (t.position == p && doc_terms.count(t.term));
    if (!hit) return false;
  }
  return true;
}

// The search module's strict contract: each query position needs its kWord,
// or all of its kPart terms (its kWhole is optional).
bool MatchesAllParts(const Analyzer& a, std::string_view doc, std::string_view query) {
  std::set<std::string> doc_terms = TermSet(a, doc);
  std::vector<Token> q;
  a.Analyze(query, &q);
  if (q.empty()) return false;
  for (const Token& t : q) {
    if (t.kind != TokenKind::kWhole && !doc_terms.count(t.term)) return false;
  }
  return true;
}

std::string Str(const std::vector<Token>& tokens) {
  std::string s;
  for (const Token& t : tokens) {
    s += t.term + "@" + std::to_string(t.position) + "[" + std::to_string(t.start) + "," + std::to_string(t.end) + ")" +
         (t.kind == TokenKind::kWhole  ? "W"
          : t.kind == TokenKind::kPart ? "P"
                                       : "") +
         " ";
  }
  return s;
}

// ---- normalization -----------------------------------------------------------

TEST(TextNormalize, CaseAccentsAndWidth) {
  Analyzer a = Plain();
  EXPECT_EQ(a.Normalize("Café"), "cafe");
  EXPECT_EQ(a.Normalize("Crème BRÛLÉE"), "creme brulee");
  EXPECT_EQ(a.Normalize("Cafe\xCC\x81"), "cafe");  // e + combining acute
  EXPECT_EQ(a.Normalize("ＡＢＣ１２３"), "abc123");
  EXPECT_EQ(a.Normalize("Straße Øresund Æble"), "strasse oresund aeble");
  EXPECT_EQ(a.Normalize("ﬁne ½"), "fine 1/2");
  EXPECT_EQ(a.Normalize("Ñandú İstanbul"), "nandu istanbul");
  EXPECT_EQ(a.Normalize("Йогурт"), "йогурт");  // Cyrillic keeps its marks (й is not и)
  EXPECT_EQ(a.Normalize("한국어"), "한국어");
  EXPECT_EQ(a.Normalize("a\tb\x01"
                        "c"),
            "a b c");
  EXPECT_EQ(a.Normalize("men’s"), "men's");
}

TEST(TextAnalyze, CafeMatchesCafe) {
  Analyzer a = Plain();
  EXPECT_EQ(a.Terms("Café Crème"), a.Terms("cafe creme"));
  EXPECT_EQ(a.Terms("CAFÉ"), Terms{"cafe"});
  EXPECT_EQ(a.Terms("Cafe\xCC\x81"), Terms{"cafe"});
}

TEST(TextAnalyze, FullWidthBecomesAscii) {
  Analyzer a = Plain();
  EXPECT_EQ(a.Terms("ＡＢＣ１２３"), Terms{"abc123"});
  std::vector<Token> t;
  a.Analyze("ＡＢＣ１２３", &t);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].start, 0u);
  EXPECT_EQ(t[0].end, 18u);  // six 3-byte characters
}

// ---- tokenization ------------------------------------------------------------

TEST(TextAnalyze, ModelNumbersAndUnitsStayTogether) {
  Analyzer a = Plain();
  EXPECT_EQ(a.Terms("iPhone15 500ml 128GB X200"), (Terms{"iphone15", "500ml", "128gb", "x200"}));
  EXPECT_EQ(a.Terms("4.5 inch 1/2 cup 3.5mm v1.2"), (Terms{"4.5", "inch", "1/2", "cup", "3.5mm", "v1.2"}));
  EXPECT_EQ(a.Terms("20,000mAh 1,5 1,0000"), (Terms{"20000mah", "1", "5", "1", "0000"}));
  EXPECT_EQ(a.Terms("500ml."), Terms{"500ml"});
}

TEST(TextAnalyze, RangesAndDatesAreNotJoined) {
  Analyzer a = Plain();
  EXPECT_EQ(a.Terms("ages 3-5"), (Terms{"age", "3", "5"}));
  EXPECT_EQ(a.Terms("2024-03-10"), (Terms{"2024", "03", "10"}));
}

TEST(TextAnalyze, HyphenatedCompoundsMatchAllSpellings) {
  Analyzer a = Plain();
  std::vector<Token> t;
  a.Analyze("Anker USB-C charger", &t);
  EXPECT_EQ(Str(t), "anker@0[0,5) usbc@1[6,11)W usb@1[6,9)P c@1[10,11)P charger@2[12,19) ");
  const char* title = "Anker 20W USB-C Charger";
  for (const char* q : {"usb-c", "usb c", "usbc", "USB-C charger", "usb c charger", "USBC"}) {
    EXPECT_TRUE(Matches(a, title, q)) << q;
  }
  // ... and the other way round: titles spelled differently match "usb-c".
  EXPECT_TRUE(Matches(a, "USB C cable", "usb-c"));
  EXPECT_TRUE(Matches(a, "usbc cable", "usb-c"));
  EXPECT_TRUE(MatchesAllParts(a, "USB C cable", "usb-c"));
  EXPECT_TRUE(MatchesAllParts(a, title, "usb c"));
  EXPECT_FALSE(MatchesAllParts(a, "vitamin c", "usb-c"));
  EXPECT_EQ(a.Terms("Wi-Fi"), (Terms{"wifi", "wi", "fi"}));
  EXPECT_EQ(a.Terms("T-Shirts"), (Terms{"tshirt", "t", "shirt"}));
  EXPECT_EQ(a.Terms("AT&T"), (Terms{"att", "at", "t"}));
  EXPECT_EQ(a.Terms("RTX-3080"), (Terms{"rtx3080", "rtx", "3080"}));
  EXPECT_EQ(a.Terms("USB–C"), (Terms{"usbc", "usb", "c"}));  // en dash
  EXPECT_EQ(a.Terms("1.5-inch"), (Terms{"1.5inch", "1.5", "inch"}));
}

TEST(TextAnalyze, LongChainsAreCapped) {
  Analyzer a = Plain();
  std::vector<Token> t;
  a.Analyze("a-b-c-d-e-f-g-h-i-j", &t);
  EXPECT_EQ(t.front().term, "abcdefgh");
  EXPECT_EQ(t.front().kind, TokenKind::kWhole);
  // The 9th part starts a new compound at the next position.
  EXPECT_EQ(Str(std::vector<Token>(t.end() - 3, t.end())), "ij@1[16,19)W i@1[16,17)P j@1[18,19)P ");
}

TEST(TextAnalyze, Apostrophes) {
  Analyzer a = Plain();
  EXPECT_EQ(a.Terms("men's"), Terms{"men"});
  EXPECT_EQ(a.Terms("Men’s Shoes"), (Terms{"men", "shoe"}));
  EXPECT_EQ(a.Terms("MEN`S"), Terms{"men"});
  EXPECT_EQ(a.Terms("don't"), Terms{"dont"});
  EXPECT_EQ(a.Terms("L'Oréal"), Terms{"loreal"});
  EXPECT_EQ(a.Terms("kids' toys"), (Terms{"kid", "toy"}));
  std::vector<Token> t;
  a.Analyze("men's", &t);
  EXPECT_EQ(t[0].end, 5u);  // highlight the whole word
}

TEST(TextAnalyze, StemmingRunsOnLettersOnly) {
  Analyzer a = Plain();
  EXPECT_EQ(a.Terms("running shoes"), a.Terms("run shoe"));
  EXPECT_EQ(a.Terms("Running Shoes"), (Terms{"run", "shoe"}));
  EXPECT_EQ(a.Terms("boxes2 running3"), (Terms{"boxes2", "running3"}));
  AnalyzerOptions raw;
  raw.stem = false;
  EXPECT_EQ(Analyzer(raw, nullptr).Terms("running shoes"), (Terms{"running", "shoes"}));
}

TEST(TextAnalyze, StopWords) {
  AnalyzerOptions o;
  o.stop_words = true;
  Analyzer a(o, nullptr);
  EXPECT_EQ(a.Terms("case for the iPhone"), (Terms{"case", "iphon"}));
  EXPECT_EQ(a.Terms("the"), Terms{"the"});  // never for one token
  EXPECT_EQ(a.Terms("to be or"), (Terms{"be"}));
  EXPECT_EQ(a.Terms("and or"), (Terms{"and", "or"}));  // only stop words: keep them
  EXPECT_EQ(a.Terms("state-of-the-art"), (Terms{"stateoftheart", "state", "of", "the", "art"}));
  std::vector<Token> t;
  a.Analyze("case for iphone", &t);
  EXPECT_EQ(t[1].position, 1u);                                             // dropped words take no position
  EXPECT_EQ(Plain().Terms("case for the"), (Terms{"case", "for", "the"}));  // off by default
}

TEST(TextAnalyze, OffsetsPointAtOriginalBytes) {
  Analyzer a = Plain();
  std::string text = "  Crème\tBRÛLÉE ｘ２ 苹果";
  std::vector<Token> t;
  a.Analyze(text, &t);
  ASSERT_EQ(t.size(), 4u) << Str(t);
  EXPECT_EQ(text.substr(t[0].start, t[0].end - t[0].start), "Crème");
  EXPECT_EQ(text.substr(t[1].start, t[1].end - t[1].start), "BRÛLÉE");
  EXPECT_EQ(text.substr(t[2].start, t[2].end - t[2].start), "ｘ２");
  EXPECT_EQ(t[2].term, "x2");
  EXPECT_EQ(text.substr(t[3].start, t[3].end - t[3].start), "苹果");
  for (uint32_t i = 0; i < t.size(); ++i) EXPECT_EQ(t[i].position, i);
}

TEST(TextAnalyze, PositionsRestartAndOutputIsAppended) {
  Analyzer a = Plain();
  std::vector<Token> t;
  a.Analyze("red shoes", &t);
  a.Analyze("blue hat", &t);
  ASSERT_EQ(t.size(), 4u);
  EXPECT_EQ(t[1].position, 1u);
  EXPECT_EQ(t[2].term, "blue");
  EXPECT_EQ(t[2].position, 0u);
}

TEST(TextAnalyze, EmptyAndSeparatorsOnly) {
  Analyzer a = Plain();
  EXPECT_TRUE(a.Terms("").empty());
  EXPECT_TRUE(a.Terms("  -- ... ,,, !!! ").empty());
  EXPECT_TRUE(a.Terms("\xCC\x81").empty());  // a lone combining mark
}

TEST(TextAnalyze, InvalidUtf8AndControlCharacters) {
  Analyzer a = Plain();
  // Invalid bytes separate words like U+FFFD would; offsets stay on the input.
  std::string text = "red\xFF\xFEshoes\x80 blue\x01hat\xE4\xB8";
  std::vector<Token> t;
  a.Analyze(text, &t);
  EXPECT_EQ(Str(t), "red@0[0,3) shoe@1[5,10) blue@2[12,16) hat@3[17,20) ");
  EXPECT_EQ(a.Normalize("a\xFF"
                        "b"),
            "a\xEF\xBF\xBD"
            "b");
  // Every byte string is safe.
  std::string junk;
  for (int i = 0; i < 4096; ++i) junk.push_back(static_cast<char>((i * 7919 + i / 3) & 0xFF));
  t.clear();
  a.Analyze(junk, &t);
  for (const Token& tok : t) {
    EXPECT_LE(tok.end, junk.size());
    EXPECT_LT(tok.start, tok.end);
  }
  EXPECT_TRUE(IsValidUtf8(a.Normalize(junk)));
}

TEST(TextAnalyze, LongTermsAreCut) {
  Analyzer a = Plain();
  std::string long_word(300, 'x');
  Terms t = a.Terms(long_word);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].size(), kMaxTermBytes);
}

// ---- CJK ---------------------------------------------------------------------

TEST(TextCjk, ApplePhoneCase) {
  REQUIRE_JIEBA();
  Analyzer a = Default();
  std::vector<Token> t;
  a.Analyze("苹果手机壳", &t);
  EXPECT_EQ(Str(t), "苹果@0[0,6) 手机@1[6,12) 壳@2[12,15) ");
  for (const char* q : {"苹果", "手机", "手机壳", "苹果手机", "壳", "苹果 手机壳"}) {
    EXPECT_TRUE(Matches(a, "苹果手机壳", q)) << q;
    EXPECT_TRUE(MatchesAllParts(a, "苹果手机壳", q)) << q;
  }
  EXPECT_FALSE(Matches(a, "苹果手机壳", "华为"));
}

TEST(TextCjk, MixedHanAndModelNumber) {
  REQUIRE_JIEBA();
  Analyzer a = Default();
  EXPECT_EQ(a.Terms("华为p40手机壳"), (Terms{"华为", "p40", "手机", "壳"}));
  EXPECT_EQ(a.Terms("华为P40 手机壳"), (Terms{"华为", "p40", "手机", "壳"}));
  EXPECT_TRUE(Matches(a, "华为P40手机壳", "华为 p40"));
  EXPECT_EQ(a.Terms("小米充电宝20000毫安"), (Terms{"小米", "充电", "宝", "20000", "毫安"}));
}

TEST(TextCjk, LongWordsAlsoYieldTheirParts) {
  REQUIRE_JIEBA();
  Analyzer a = Default();
  std::vector<Token> t;
  a.Analyze("清华大学", &t);
  EXPECT_EQ(Str(t), "清华大学@0[0,12)W 清华@0[0,6)P 大学@0[6,12)P ");
  t.clear();
  a.Analyze("运动鞋男", &t);
  EXPECT_EQ(Str(t), "运动鞋@0[0,9)W 运动@0[0,6)P 鞋@0[6,9)P 男@1[9,12) ");
  t.clear();
  a.Analyze("中华人民共和国", &t);  // parts of parts: 人民共和国 -> 人民 共和 国
  EXPECT_EQ(Str(t), "中华人民共和国@0[0,21)W 中华@0[0,6)P 人民@0[6,12)P 共和@0[12,18)P 国@0[18,21)P ");
  // Searches that require every part of each query word.
  EXPECT_TRUE(MatchesAllParts(a, "运动鞋男", "运动"));
  EXPECT_TRUE(MatchesAllParts(a, "运动鞋男", "运动鞋"));
  EXPECT_TRUE(MatchesAllParts(a, "运动 鞋", "运动鞋"));  // written apart
  EXPECT_FALSE(MatchesAllParts(a, "运动裤", "运动鞋"));
  EXPECT_TRUE(MatchesAllParts(a, "中华人民共和国", "共和国"));
  EXPECT_TRUE(MatchesAllParts(a, "清华大学", "大学"));
  EXPECT_FALSE(MatchesAllParts(a, "中华人民共和国", "华人"));  // not a word of it
}

TEST(TextCjk, UnknownCharactersBecomeBigrams) {
  // A private dictionary that knows only 手机 and 壳.
  TempDir dir;
  WriteText(dir / "dict.txt", "手机 100 n\n壳 10 n\nfoo 5\n");
  auto dict = LoadDictionary(dir / "dict.txt");
  ASSERT_TRUE(dict.ok()) << dict.status().ToString();
  EXPECT_EQ((*dict)->size(), 2u);  // foo is not Han
  Analyzer a(AnalyzerOptions{}, *dict);
  EXPECT_EQ(a.Terms("倍思手机壳"), (Terms{"倍思", "手机", "壳"}));
  EXPECT_EQ(a.Terms("倍思尔手机"), (Terms{"倍思", "思尔", "手机"}));
  EXPECT_EQ(a.Terms("倍 手机"), (Terms{"倍", "手机"}));
}

TEST(TextCjk, NoDictionaryMeansBigrams) {
  Analyzer a(AnalyzerOptions{}, nullptr);
  EXPECT_EQ(a.Terms("苹果手机壳"), (Terms{"苹果", "果手", "手机", "机壳"}));
  EXPECT_EQ(a.Terms("壳"), Terms{"壳"});
  EXPECT_TRUE(Matches(a, "苹果手机壳", "手机壳"));
  EXPECT_EQ(a.Describe(), "text:stem=1,stop=0,cjk=bigram");
  AnalyzerOptions o;
  o.cjk = false;
  EXPECT_EQ(Analyzer(o, Jieba()).Terms("苹果手机壳"), a.Terms("苹果手机壳"));
  // Kana runs are bigrams too; a middle dot separates.
  EXPECT_EQ(a.Terms("テキスト・カ"), (Terms{"テキ", "キス", "スト", "カ"}));
  EXPECT_EQ(a.Terms("のテキスト"), (Terms{"の", "テキ", "キス", "スト"}));  // hiragana and katakana apart
}

TEST(TextCjk, DescribeNamesTheDictionary) {
  REQUIRE_JIEBA();
  EXPECT_EQ(Default().Describe(), "text:stem=1,stop=0,cjk=jieba");
  AnalyzerOptions o;
  o.stem = false;
  o.stop_words = true;
  EXPECT_EQ(Analyzer(o, Jieba()).Describe(), "text:stem=0,stop=1,cjk=jieba");
}

// ---- dictionary loading --------------------------------------------------------

TEST(TextDictionary, MissingFileIsNotFound) {
  TempDir dir;
  auto d = LoadDictionary(dir / "no-such-dict.txt");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kNotFound);
  EXPECT_NE(d.status().message().find("no-such-dict.txt"), std::string::npos);
  EXPECT_NE(d.status().message().find("jieba dictionary not found"), std::string::npos);
}

TEST(TextDictionary, MalformedFilesAreCorruption) {
  TempDir dir;
  WriteText(dir / "bad.txt", "手机 100 n\n壳 lots n\n");
  auto d = LoadDictionary(dir / "bad.txt");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kCorruption);
  EXPECT_NE(d.status().message().find(":2:"), std::string::npos) << d.status().message();

  WriteText(dir / "latin.txt", "hello 5\n");
  EXPECT_EQ(LoadDictionary(dir / "latin.txt").status().code(), StatusCode::kCorruption);
  WriteText(dir / "utf8.txt", "\xE6\x89\x8B\xFF 5\n");
  EXPECT_EQ(LoadDictionary(dir / "utf8.txt").status().code(), StatusCode::kCorruption);
  EXPECT_EQ(LoadDictionary(dir.path()).status().code(), StatusCode::kIoError);  // a directory
}

TEST(TextDictionary, DefaultDictionary) {
  REQUIRE_JIEBA();
  auto dict = Jieba();
  EXPECT_GT(dict->size(), 300000u);
  EXPECT_TRUE(dict->Contains("手机"));
  EXPECT_TRUE(dict->Contains("清华大学"));
  EXPECT_FALSE(dict->Contains("清华大"));  // only a prefix of words
  EXPECT_GE(dict->max_word_chars(), 10);
  EXPECT_EQ(dict->path(), DefaultDictionaryPath());
}

// ---- thread safety -----------------------------------------------------------

TEST(TextAnalyze, ConcurrentAnalyzeGivesSameResults) {
  Analyzer a = Default();
  const std::vector<std::string> texts = {
      "Anker USB-C Charger 20W for iPhone15", "Men's Running Shoes, size 10.5",   "苹果手机壳 华为p40手机壳",
      "Crème brûlée 500ml — ＡＢＣ１２３",    "清华大学 中华人民共和国 运动鞋男", "state-of-the-art wi-fi 6 router"};
  std::vector<std::vector<Token>> expected(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) a.Analyze(texts[i], &expected[i]);
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int th = 0; th < 4; ++th) {
    threads.emplace_back([&, th] {
      for (int round = 0; round < 300; ++round) {
        for (size_t i = 0; i < texts.size(); ++i) {
          std::vector<Token> got;
          a.Analyze(texts[(i + th) % texts.size()], &got);
          if (got != expected[(i + th) % texts.size()]) ++mismatches[th];
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

// ---- edit distance -------------------------------------------------------------

TEST(TextEditDistance, Basics) {
  EXPECT_EQ(BoundedEditDistance("shoes", "shoes", 2), 0);
  EXPECT_EQ(BoundedEditDistance("shoes", "shoe", 2), 1);
  EXPECT_EQ(BoundedEditDistance("shoe", "shoes", 2), 1);
  EXPECT_EQ(BoundedEditDistance("shoes", "shose", 2), 1);  // transposition
  EXPECT_EQ(BoundedEditDistance("iphone", "ipohne", 2), 1);
  EXPECT_EQ(BoundedEditDistance("kitten", "sitting", 3), 3);
  EXPECT_EQ(BoundedEditDistance("ca", "abc", 3), 3);  // optimal string alignment, not full Damerau
  EXPECT_EQ(BoundedEditDistance("", "abc", 3), 3);
  EXPECT_EQ(BoundedEditDistance("abc", "", 5), 3);
  EXPECT_EQ(BoundedEditDistance("", "", 0), 0);
}

TEST(TextEditDistance, BoundIsRespected) {
  EXPECT_EQ(BoundedEditDistance("kitten", "sitting", 1), 2);
  EXPECT_EQ(BoundedEditDistance("kitten", "sitting", 2), 3);
  EXPECT_EQ(BoundedEditDistance("a", "abcdefgh", 2), 3);  // length gap alone exceeds the bound
  EXPECT_EQ(BoundedEditDistance("abcdef", "ghijkl", 0), 1);
  EXPECT_EQ(BoundedEditDistance("abc", "abd", -4), 1);  // negative bound = 0
  std::string long_a(200, 'a'), long_b(200, 'a');
  long_b[100] = 'b';
  EXPECT_EQ(BoundedEditDistance(long_a, long_b, 2), 1);
}

TEST(TextEditDistance, CountsCodePoints) {
  EXPECT_EQ(BoundedEditDistance("café", "cafe", 2), 1);
  EXPECT_EQ(BoundedEditDistance("手机壳", "手机", 2), 1);
  EXPECT_EQ(BoundedEditDistance("手机壳", "机手壳", 2), 1);
  EXPECT_EQ(BoundedEditDistance("a\xFF", "a\xFE", 2), 0);  // both read as U+FFFD
}

TEST(TextEditDistance, MatchesUnboundedDefinition) {
  // Reference: the plain O(n*m) optimal-string-alignment recurrence.
  auto reference = [](const std::string& a, const std::string& b) {
    size_t n = a.size(), m = b.size();
    std::vector<std::vector<int>> d(n + 1, std::vector<int>(m + 1));
    for (size_t i = 0; i <= n; ++i) d[i][0] = static_cast<int>(i);
    for (size_t j = 0; j <= m; ++j) d[0][j] = static_cast<int>(j);
    for (size_t i = 1; i <= n; ++i) {
      for (size_t j = 1; j <= m; ++j) {
        d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])});
        if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
          d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
    return d[n][m];
  };
  uint32_t seed = 12345;
  auto next = [&] { return seed = seed * 1103515245u + 12345u, (seed >> 16) & 0x7FFF; };
  for (int iter = 0; iter < 3000; ++iter) {
    std::string a, b;
    for (uint32_t k = next() % 9; k > 0; --k) a.push_back(static_cast<char>('a' + next() % 3));
    for (uint32_t k = next() % 9; k > 0; --k) b.push_back(static_cast<char>('a' + next() % 3));
    int bound = static_cast<int>(next() % 5);
    int want = std::min(reference(a, b), bound + 1);
    ASSERT_EQ(BoundedEditDistance(a, b, bound), want) << a << " / " << b << " bound " << bound;
  }
}

TEST(TextIsNumericOrCode, DigitsMakeCodes) {
  for (const char* t : {"iphone15", "500ml", "x200", "128gb", "4.5", "1/2", "2024", "a1", "１２８"}) {
    EXPECT_TRUE(IsNumericOrCode(t)) << t;
  }
  for (const char* t : {"shoes", "usbc", "", "手机", "café", "-"}) EXPECT_FALSE(IsNumericOrCode(t)) << t;
}

}  // namespace
}  // namespace souk::text
