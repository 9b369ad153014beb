// Internals of souk::text shared by its .cc files: character normalization
// and the dictionary's hash table. Not part of the public API.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "text/text.h"

namespace souk::text::internal {

// What a normalized character does in tokenization.
enum class CharClass : uint8_t {
  kSep = 0,     // space, punctuation, symbol, control, U+FFFD: ends a word
  kLetter,      // letter of an alphabetic script (not Han, not kana)
  kDigit,       // any number character
  kMark,        // combining mark: part of the word (dropped after a Latin letter)
  kHan,         // CJK ideograph: segmented with the dictionary
  kKana,        // Hiragana, Katakana: overlapping bigrams
  kJoiner,      // - _ & : joins words into a compound
  kDotSlash,    // . / : kept between digits (4.5, 1/2), else joins a compound
  kComma,       // , : thousands separator between digits, else a separator
  kApostrophe,  // ' : dropped inside a word; with a following s ends it
};

// One normalized character and the bytes [start, end) of the original code
// point it came from (one code point can yield several characters: ﬁ -> f i).
struct NChar {
  char32_t cp;
  CharClass cls;
  uint32_t start, end;
};

// Decodes `text` (invalid sequences read as U+FFFD, a separator) and appends
// its normalized characters. Thread-safe.
void NormalizeChars(std::string_view text, std::vector<NChar>* out);

// Decodes one code point at text[i]. Returns its length, or 0 for an invalid
// sequence (then *cp is unspecified).
size_t DecodeUtf8(std::string_view text, size_t i, char32_t* cp);
// Length of the invalid sequence at text[i] that one U+FFFD replaces (the
// bad byte and any continuation bytes after it), as souk::RepairUtf8 does.
size_t InvalidRunLength(std::string_view text, size_t i);
inline void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
    return;
  }
  char b[4];
  size_t n;
  if (cp < 0x800) {
    b[0] = static_cast<char>(0xC0 | (cp >> 6));
    n = 2;
  } else if (cp < 0x10000) {
    b[0] = static_cast<char>(0xE0 | (cp >> 12));
    b[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    n = 3;
  } else {
    b[0] = static_cast<char>(0xF0 | (cp >> 18));
    b[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    b[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    n = 4;
  }
  b[n - 1] = static_cast<char>(0x80 | (cp & 0x3F));
  out->append(b, n);
}

inline bool IsLatinLetter(char32_t cp) {
  if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
  return (cp >= 0xC0 && cp <= 0x24F && cp != 0xD7 && cp != 0xF7) || (cp >= 0x250 && cp <= 0x2AF) ||
         (cp >= 0x1E00 && cp <= 0x1EFF) || (cp >= 0x2C60 && cp <= 0x2C7F) || (cp >= 0xA720 && cp <= 0xA7FF) ||
         (cp >= 0xAB30 && cp <= 0xAB6F) || (cp >= 0xFB00 && cp <= 0xFB06);
}
bool IsHan(char32_t cp);
// True for characters that may compose with their neighbours under NFC
// (Hangul conjoining jamo); with non-Latin marks they trigger recomposition.
bool IsConjoiningJamo(char32_t cp);
// NFC composition of a UTF-8 string (used for the rare words that carry
// decomposed non-Latin marks or conjoining jamo).
std::string ComposeUtf8(std::string_view s);

// FNV-1a, fed incrementally so that a DAG walk hashes each longer prefix from
// the shorter one.
inline constexpr uint64_t kFnvBasis = 0xcbf29ce484222325ULL;
inline uint64_t FnvFeed(uint64_t h, const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(p[i]);
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace souk::text::internal

namespace souk::text {

// The dictionary: an open-addressing hash table (linear probing, power-of-two
// size) over normalized UTF-8 keys. Every word and every prefix of a word has
// a slot, so a DAG walk stops at the first substring that is not a prefix (as
// jieba's prefix dict does), and a slot says whether longer keys extend it,
// which saves the final, missing lookup of most walks. Keys of up to 8 bytes
// (one or two Han characters, most lookups) live in the slot; longer ones in
// `pool`. The table does not fit in cache, so avoiding a second memory access
// per lookup matters more than the 16 bytes a slot takes.
struct Dictionary::Rep {
  static constexpr uint8_t kWord = 1;    // a word with a positive frequency
  static constexpr uint8_t kPrefix = 2;  // a proper prefix of some word
  struct Slot {
    uint8_t length = 0;  // key bytes; 0: empty slot
    uint8_t flags = 0;   // kWord | kPrefix
    uint16_t tag = 0;    // high hash bits, to skip most key compares
    float log_prob = 0;  // log(freq / total) for words
    uint64_t key = 0;    // the key bytes when length <= 8, else the key's offset in pool
  };

  std::string path;
  std::string pool;
  std::vector<Slot> slots;
  uint64_t mask = 0;
  size_t num_keys = 0;
  size_t num_words = 0;
  int max_word_chars = 0;
  double log_total = 0;  // an unknown single character scores -log_total (jieba: freq 1)

  static uint64_t PackKey(const char* p, size_t n) {
    uint64_t k = 0;
    std::memcpy(&k, p, n);
    return k;
  }
  uint64_t Index(uint64_t h) const { return (h ^ (h >> 31)) & mask; }
  bool KeyEquals(const Slot& s, const char* p, size_t n) const {
    if (s.length != n) return false;
    if (n <= 8) return s.key == PackKey(p, n);
    return std::memcmp(pool.data() + s.key, p, n) == 0;
  }

  // The slot for key `p[0, n)` (n <= 255) whose FNV hash is `h`, or null.
  const Slot* Find(uint64_t h, const char* p, size_t n) const {
    uint16_t tag = static_cast<uint16_t>(h >> 48);
    for (uint64_t i = Index(h);; i = (i + 1) & mask) {
      const Slot& s = slots[i];
      if (s.length == 0) return nullptr;
      if (s.tag == tag && KeyEquals(s, p, n)) return &s;
    }
  }
  const Slot* Find(std::string_view key) const {
    return Find(internal::FnvFeed(internal::kFnvBasis, key.data(), key.size()), key.data(), key.size());
  }
};

}  // namespace souk::text

namespace souk::text::internal {

// A word of a segmented Han run: characters [begin, end); `known` when it is
// a dictionary word (false only for single characters the dictionary lacks).
struct HanPiece {
  uint32_t begin, end;
  bool known;
};

// Reusable buffers for SegmentHan.
struct SegmentScratch {
  std::vector<double> best;
  std::vector<uint32_t> next;
  std::vector<uint8_t> known;
};

// Appends the maximum-probability segmentation (jieba.cut, HMM=False) of the
// `n` Han characters in `utf8`, character i being bytes [off[i], off[i+1]),
// using dictionary words of at most `max_chars` characters (a word's finer
// split excludes the word itself).
void SegmentHan(const Dictionary::Rep& dict, std::string_view utf8, const uint32_t* off, size_t n, size_t max_chars,
                SegmentScratch* scratch, std::vector<HanPiece>* out);

}  // namespace souk::text::internal
