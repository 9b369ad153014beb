// souk::text turns item fields (title, brand, category, tags, description)
// and shopper queries into search terms. The same Analyzer, with the same
// options and dictionary, must run at index time and at query time: a query
// matches a document when they produce the same terms.
//
// What Analyze does, in order:
//
//  1. Decoding. Input is UTF-8. Invalid bytes are read as U+FFFD, one per
//     maximal invalid sequence (the same repair as souk::RepairUtf8, done in
//     place so that offsets still refer to the caller's bytes). Nothing
//     crashes on any input.
//  2. Normalization, per character: NFKC, Unicode case folding, and removal of
//     diacritics from Latin letters (Café -> cafe, Crème -> creme, ø -> o,
//     æ -> ae, ß -> ss, ＡＢＣ１２３ -> abc123). Marks of other scripts are kept
//     (Cyrillic й stays й). Dash variants become '-', apostrophe variants
//     ('’`´ʼ) become '\'', the fraction slash becomes '/' (½ -> 1/2); default
//     ignorable characters (soft hyphen, joiners) vanish without splitting a
//     word.
//  3. Tokenization. Letters, digits and marks form words; everything else
//     (spaces, punctuation, symbols, control characters, U+FFFD) separates
//     them. Inside a word:
//       - Letters and digits stay together: iphone15, 500ml, 128GB -> 128gb.
//       - '.' and '/' between two digits stay: 4.5, 1/2, 3.5mm, v1.2.
//       - ',' between digits followed by exactly three digits is a thousands
//         separator and is dropped: 20,000mAh -> 20000mah.
//       - An apostrophe between letters is dropped (don't -> dont, l'oréal ->
//         loreal), except the possessive 's, which is removed with it
//         (men's, men’s -> men).
//     Compounds: words joined by '-', '_', '&', or by '.' / '/' between
//     letters, form one compound: USB-C, wi-fi, t-shirt, AT&T, black/white,
//     RTX-3080. A compound yields its joined form (usbc, a TokenKind::kWhole)
//     and its parts (usb, c, each a TokenKind::kPart), all at ONE position.
//     So a title containing "USB-C" matches the queries "usbc", "usb c" and
//     "usb-c". A '-' between two numbers is a separator, not a joiner (ranges
//     and dates: 3-5, 2024-03-10), so no false "35" term is made.
//     At most 8 parts form a compound; a longer chain starts a new one.
//  4. CJK. A run of Han characters is segmented over the jieba dictionary:
//     the maximum-probability path through the word DAG, exactly like
//     jieba.cut(HMM=False). Each word gets its own position. A word of three
//     or more characters is a kWhole followed, at the same position, by its
//     parts (kPart): its best segmentation into shorter dictionary words,
//     parts of three or more characters split again (清华大学 -> 清华 大学,
//     中华人民共和国 -> 中华 人民 共和 国, 运动鞋 -> 运动 鞋). So, as for a
//     compound, the parts spell the whole, and 大学 finds 清华大学. (This is
//     jieba.cut_for_search's idea, but with parts that tile the word rather
//     than every dictionary n-gram inside it: 华人 is not a part of
//     中华人民共和国.) A word whose only split is into single characters has
//     no parts. Consecutive characters the dictionary does not know become
//     overlapping bigrams (one position each); a lone unknown character stays
//     a single token. Without a dictionary (or with cjk = false), every Han
//     run is indexed as overlapping bigrams. Kana runs (Japanese) are always
//     bigrams, hiragana and katakana apart. Other scripts without spaces
//     (Thai, Khmer, ...) are not segmented: a run is one token.
//  5. Stemming (English Snowball, libstemmer "english") applies to terms made
//     only of the letters a-z: running -> run, shoes -> shoe. Terms with
//     digits or other characters are never stemmed.
//  6. Stop words (off by default): the, a, an, and, or, of, for, with, in, on,
//     to, by are dropped when they stand alone (not inside a compound) and
//     the text has other tokens: an input made only of stop words ("the",
//     "and or") keeps them all. Dropped words do not take a position.
//
// Positions start at 0 on every Analyze call and increase by one per word,
// compound, CJK word or bigram. Tokens that share a position are spellings of
// the same stretch of text: a kWhole and its kPart tokens, whose terms
// concatenated (before stemming; a repeated part appears once) give the
// kWhole's. Two ways to match a query
// position: require all of its parts and let the whole only add to the score
// (precise: "usb-c" then also finds "usb c"), or accept any of its tokens
// (more recall). A kWord stands alone.
//
// Very long terms are cut to kMaxTermBytes (at a character boundary).
//
// Thread-safety: Dictionary and Analyzer are immutable after construction.
// Any number of threads may call their const methods concurrently (the
// Snowball stemmer, which is not thread-safe, is kept per thread, with a
// small per-thread cache of stems and scratch buffers).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace souk::text {

// The dictionary LoadDictionary("") reads: python3-jieba's dict.txt
// (/usr/lib/python3/dist-packages/jieba/dict.txt) unless the build names
// another with -DSOUK_JIEBA_DICT="path".
std::string DefaultDictionaryPath();
// Longer terms are cut to this many bytes.
inline constexpr size_t kMaxTermBytes = 128;

enum class TokenKind : uint8_t {
  kWord = 0,   // the only token at its position
  kWhole = 1,  // a compound's joined form or a long CJK word; kPart tokens follow at the same position
  kPart = 2,   // a part of the preceding kWhole: usb and c of USB-C, 运动 and 鞋 of 运动鞋
};

struct Token {
  std::string term;  // normalized, and stemmed when enabled
  uint32_t position = 0;
  // Byte offsets [start, end) of the token in the caller's original text,
  // for highlighting. A kWhole covers all of its parts. "men's" covers the
  // whole word even though its term is "men".
  uint32_t start = 0, end = 0;
  TokenKind kind = TokenKind::kWord;

  bool operator==(const Token&) const = default;
};

struct AnalyzerOptions {
  bool stem = true;         // English Snowball on terms made of a-z only
  bool stop_words = false;  // drop the small English list above (never all tokens)
  bool cjk = true;          // segment Han text with the dictionary (false or no dictionary: bigrams)
};

class Dictionary;

// Loads a jieba word-frequency dictionary: UTF-8 lines "word freq [tag]".
// `path` empty means DefaultDictionaryPath(). Only words made entirely of Han
// characters are kept (the analyzer only looks up Han runs); every line's
// frequency counts toward the total, as in jieba. Errors: NotFound when the
// file does not exist, IoError when it cannot be read, Corruption (with the
// line number) for a malformed line, invalid UTF-8 or no Han words at all.
// The default dictionary (349,046 lines) loads in about 0.1 s.
Result<std::shared_ptr<const Dictionary>> LoadDictionary(const std::string& path = "");

// An immutable word -> log-probability table with every word's prefixes,
// shared by any number of analyzers and threads.
class Dictionary {
 public:
  ~Dictionary();
  Dictionary(const Dictionary&) = delete;
  Dictionary& operator=(const Dictionary&) = delete;

  // Han words with a positive frequency.
  size_t size() const;
  // The longest word, in characters.
  int max_word_chars() const;
  // True if `word` (already normalized) is a dictionary word.
  bool Contains(std::string_view word) const;
  // The file it was loaded from.
  const std::string& path() const;

  struct Rep;  // defined in text/internal.h

 private:
  friend Result<std::shared_ptr<const Dictionary>> LoadDictionary(const std::string& path);
  friend class Analyzer;
  explicit Dictionary(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

class Analyzer {
 public:
  // `dict` may be null: CJK text then falls back to bigrams.
  Analyzer(AnalyzerOptions options, std::shared_ptr<const Dictionary> dict);

  // Appends the tokens of `text` to *out (existing contents are kept);
  // positions start at 0. `text` must be shorter than 4 GiB.
  void Analyze(std::string_view text, std::vector<Token>* out) const;
  // Convenience: the terms only, in order.
  std::vector<std::string> Terms(std::string_view text) const;

  // "text:stem=1,stop=0,cjk=jieba" (cjk=bigram without a dictionary or with
  // cjk = false), for reports that record exactly what ran.
  std::string Describe() const;

  // The text with every character normalized as terms are (NFKC, case fold,
  // Latin accent removal, dash and apostrophe variants unified); no
  // tokenization and no stemming. Control characters become spaces, invalid
  // UTF-8 becomes U+FFFD. Normalize("Crème BRÛLÉE") == "creme brulee".
  std::string Normalize(std::string_view text) const;

  const AnalyzerOptions& options() const { return options_; }
  const std::shared_ptr<const Dictionary>& dictionary() const { return dict_; }

 private:
  struct Scratch;
  int AnalyzeOnce(std::string_view text, bool drop_stop_words, Scratch* s, std::vector<Token>* out,
                  bool* dropped) const;

  AnalyzerOptions options_;
  std::shared_ptr<const Dictionary> dict_;
  const Dictionary::Rep* jieba_ = nullptr;  // set when Han text is segmented with dict_
};

// Damerau-Levenshtein distance (optimal string alignment: insertions,
// deletions, substitutions and transpositions of adjacent characters each
// cost 1) between two strings, counted in code points. Stops early and
// returns max_distance + 1 once the distance must exceed max_distance
// (a negative bound is taken as 0). Invalid UTF-8 bytes count as U+FFFD.
int BoundedEditDistance(std::string_view a, std::string_view b, int max_distance);

// True if `term` contains a digit: model numbers and quantities such as
// iphone15, 500ml, x200, 128gb, 4.5. Typo tolerance must leave these alone
// (500ml is not a typo of 250ml).
bool IsNumericOrCode(std::string_view term);

}  // namespace souk::text
