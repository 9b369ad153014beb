// Character normalization. Every code point maps to a short sequence of
// normalized characters, each with a CharClass. The mapping for the Basic
// Multilingual Plane is computed once (about 65k utf8proc calls, a few
// milliseconds) into a flat table; the rare supplementary code points are
// mapped on the fly. ASCII never reaches the table.
#include <utf8proc.h>

#include <array>
#include <cassert>
#include <cstdlib>
#include <cstring>

#include "text/internal.h"

namespace souk::text::internal {
namespace {

// Packed normalized character: code point in bits 0-20, class in bits 21-28.
constexpr int kClassShift = 21;
constexpr uint32_t kCpMask = (1u << kClassShift) - 1;
// In the BMP table: the entry is an offset into the pool ([count, chars...]).
constexpr uint32_t kMultiFlag = 1u << 31;

inline uint32_t Pack(char32_t cp, CharClass cls) {
  return static_cast<uint32_t>(cp) | (static_cast<uint32_t>(cls) << kClassShift);
}

constexpr char32_t kReplacement = 0xFFFD;

struct AsciiEntry {
  char32_t cp;
  CharClass cls;
};

constexpr std::array<AsciiEntry, 128> MakeAsciiTable() {
  std::array<AsciiEntry, 128> t{};
  for (int c = 0; c < 128; ++c) {
    t[c] = {static_cast<char32_t>(c), CharClass::kSep};
    if (c >= 'A' && c <= 'Z') t[c] = {static_cast<char32_t>(c - 'A' + 'a'), CharClass::kLetter};
    if (c >= 'a' && c <= 'z') t[c].cls = CharClass::kLetter;
    if (c >= '0' && c <= '9') t[c].cls = CharClass::kDigit;
  }
  t['-'].cls = t['_'].cls = t['&'].cls = CharClass::kJoiner;
  t['.'].cls = t['/'].cls = CharClass::kDotSlash;
  t[','].cls = CharClass::kComma;
  t['\''].cls = CharClass::kApostrophe;
  t['`'] = {'\'', CharClass::kApostrophe};
  return t;
}
constexpr std::array<AsciiEntry, 128> kAscii = MakeAsciiTable();

bool IsKana(char32_t cp) {
  if (cp == 0x30FB || cp == 0x30A0) return false;  // katakana middle dot, double hyphen: punctuation
  return (cp >= 0x3041 && cp <= 0x3096) || (cp >= 0x309D && cp <= 0x309F) || (cp >= 0x30A1 && cp <= 0x30FF) ||
         (cp >= 0x31F0 && cp <= 0x31FF) || (cp >= 0x1B000 && cp <= 0x1B16F);
}

CharClass Classify(char32_t cp) {
  if (cp < 0x80) return kAscii[cp].cls;
  if (IsHan(cp)) return CharClass::kHan;
  if (IsKana(cp)) return CharClass::kKana;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      return CharClass::kLetter;
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
      return CharClass::kMark;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return CharClass::kDigit;
    default:
      return CharClass::kSep;
  }
}

// Mappings applied before utf8proc: punctuation variants that must behave
// like their ASCII counterparts in tokenization.
char32_t PreMap(char32_t cp) {
  switch (cp) {
    case 0x2010:  // hyphen
    case 0x2011:  // non-breaking hyphen
    case 0x2012:  // figure dash
    case 0x2013:  // en dash
    case 0x2212:  // minus sign
    case 0xFE63:  // small hyphen-minus
    case 0xFF0D:  // full-width hyphen-minus
      return '-';
    case 0x2018:  // left single quotation mark
    case 0x2019:  // right single quotation mark (the usual typographic apostrophe)
    case 0x02BC:  // modifier letter apostrophe
    case 0x00B4:  // acute accent, sometimes typed as an apostrophe
    case 0xFF07:  // full-width apostrophe
      return '\'';
    case 0x2044:  // fraction slash: ½ -> 1/2
    case 0x2215:  // division slash
      return '/';
    default:
      return cp;
  }
}

// Latin letters that NFKD does not decompose but shoppers type without the
// stroke or ligature. Writes the replacement into out; returns its length,
// or 0 when `cp` is not one of them.
int LatinFold(char32_t cp, char32_t out[2]) {
  switch (cp) {
    case 0x00F8:
      out[0] = 'o';
      return 1;  // ø
    case 0x0111:
      out[0] = 'd';
      return 1;  // đ
    case 0x00F0:
      out[0] = 'd';
      return 1;  // ð
    case 0x0142:
      out[0] = 'l';
      return 1;  // ł
    case 0x0127:
      out[0] = 'h';
      return 1;  // ħ
    case 0x0131:
      out[0] = 'i';
      return 1;  // dotless i
    case 0x0167:
      out[0] = 't';
      return 1;  // ŧ
    case 0x00E6:
      out[0] = 'a';
      out[1] = 'e';
      return 2;  // æ
    case 0x0153:
      out[0] = 'o';
      out[1] = 'e';
      return 2;  // œ
    case 0x00FE:
      out[0] = 't';
      out[1] = 'h';
      return 2;  // þ
    default:
      return 0;
  }
}

bool IsMarkCategory(utf8proc_category_t c) {
  return c == UTF8PROC_CATEGORY_MN || c == UTF8PROC_CATEGORY_MC || c == UTF8PROC_CATEGORY_ME;
}

// The normalized characters of one code point (not ASCII), packed. Returns
// the count written (cap is large enough for any code point).
int MapCodePoint(char32_t cp, uint32_t* out, int cap) {
  if (cp == 0x200B) {  // zero-width space separates words (utf8proc would drop it)
    out[0] = Pack(' ', CharClass::kSep);
    return 1;
  }
  char32_t pre = PreMap(cp);
  if (pre != cp) {
    out[0] = Pack(pre, kAscii[pre].cls);
    return 1;
  }
  utf8proc_int32_t buf[64];
  utf8proc_ssize_t n = utf8proc_decompose_char(
      static_cast<utf8proc_int32_t>(cp), buf, 64,
      static_cast<utf8proc_option_t>(UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD | UTF8PROC_IGNORE),
      nullptr);
  if (n < 0 || n > 64) {
    out[0] = Pack(kReplacement, CharClass::kSep);
    return 1;
  }
  // Drop marks that follow a Latin base (é = e + U+0301 -> e); keep marks on
  // other scripts and marks that stand alone (the tokenizer decides those).
  utf8proc_ssize_t k = 0;
  bool after_latin = false;
  for (utf8proc_ssize_t i = 0; i < n; ++i) {
    char32_t c = static_cast<char32_t>(buf[i]);
    if (IsMarkCategory(utf8proc_category(buf[i]))) {
      if (after_latin) continue;
    } else {
      after_latin = IsLatinLetter(c);
    }
    buf[k++] = buf[i];
  }
  if (k > 1) k = utf8proc_normalize_utf32(buf, k, static_cast<utf8proc_option_t>(UTF8PROC_COMPOSE | UTF8PROC_STABLE));
  int m = 0;
  for (utf8proc_ssize_t i = 0; i < k && m + 2 <= cap; ++i) {
    char32_t c = PreMap(static_cast<char32_t>(buf[i]));
    char32_t folded[2];
    int f = LatinFold(c, folded);
    if (c < 0x80) {
      out[m++] = Pack(kAscii[c].cp, kAscii[c].cls);
    } else if (f == 0) {
      out[m++] = Pack(c, Classify(c));
    } else {
      for (int j = 0; j < f; ++j) out[m++] = Pack(folded[j], CharClass::kLetter);
    }
  }
  return m;
}

constexpr int kMaxMapped = 40;  // U+FDFA expands to 18 characters

// The BMP mapping: entry[cp] is a packed single character, or kMultiFlag |
// offset into pool, where pool[offset] is the count and the characters follow.
class BmpTable {
 public:
  BmpTable() : entry_(0x10000) {
    for (char32_t cp = 0; cp < 0x80; ++cp) entry_[cp] = Pack(kAscii[cp].cp, kAscii[cp].cls);
    for (char32_t cp = 0x80; cp < 0x10000; ++cp) {
      if (cp >= 0xD800 && cp <= 0xDFFF) {  // surrogates never decode; keep the table total anyway
        entry_[cp] = Pack(kReplacement, CharClass::kSep);
        continue;
      }
      uint32_t out[kMaxMapped];
      int n = MapCodePoint(cp, out, kMaxMapped);
      if (n == 1) {
        entry_[cp] = out[0];
      } else {
        entry_[cp] = kMultiFlag | static_cast<uint32_t>(pool_.size());
        pool_.push_back(static_cast<uint32_t>(n));
        pool_.insert(pool_.end(), out, out + n);
      }
    }
  }

  // Appends the characters of `cp` (< 0x10000) with source bytes [start, end).
  void Append(char32_t cp, uint32_t start, uint32_t end, std::vector<NChar>* out) const {
    uint32_t e = entry_[cp];
    if (!(e & kMultiFlag)) {
      out->push_back({e & kCpMask, static_cast<CharClass>(e >> kClassShift), start, end});
      return;
    }
    const uint32_t* p = pool_.data() + (e & ~kMultiFlag);
    for (uint32_t i = 1; i <= p[0]; ++i) {
      out->push_back({p[i] & kCpMask, static_cast<CharClass>(p[i] >> kClassShift), start, end});
    }
  }

 private:
  std::vector<uint32_t> entry_;
  std::vector<uint32_t> pool_;
};

const BmpTable& Table() {
  static const BmpTable table;  // built once, thread-safe (magic statics)
  return table;
}

}  // namespace

bool IsHan(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2FA1F) ||
         (cp >= 0x30000 && cp <= 0x3134F) || (cp >= 0xF900 && cp <= 0xFAFF) || cp == 0x3005 || cp == 0x3007;
}

bool IsConjoiningJamo(char32_t cp) {
  return (cp >= 0x1100 && cp <= 0x11FF) || (cp >= 0xA960 && cp <= 0xA97F) || (cp >= 0xD7B0 && cp <= 0xD7FF);
}

size_t DecodeUtf8(std::string_view text, size_t i, char32_t* cp) {
  const auto* u = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size();
  unsigned char c = u[i];
  auto cont = [&](size_t k) { return i + k < n && (u[i + k] & 0xC0) == 0x80; };
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  if (c >= 0xC2 && c <= 0xDF) {
    if (!cont(1)) return 0;
    *cp = (static_cast<char32_t>(c & 0x1F) << 6) | (u[i + 1] & 0x3F);
    return 2;
  }
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && u[i + 1] < 0xA0) return 0;  // overlong
    if (c == 0xED && u[i + 1] > 0x9F) return 0;  // surrogate
    *cp = (static_cast<char32_t>(c & 0x0F) << 12) | (static_cast<char32_t>(u[i + 1] & 0x3F) << 6) | (u[i + 2] & 0x3F);
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && u[i + 1] < 0x90) return 0;  // overlong
    if (c == 0xF4 && u[i + 1] > 0x8F) return 0;  // above U+10FFFF
    *cp = (static_cast<char32_t>(c & 0x07) << 18) | (static_cast<char32_t>(u[i + 1] & 0x3F) << 12) |
          (static_cast<char32_t>(u[i + 2] & 0x3F) << 6) | (u[i + 3] & 0x3F);
    return 4;
  }
  return 0;
}

size_t InvalidRunLength(std::string_view text, size_t i) {
  size_t j = i + 1;
  while (j < text.size() && (static_cast<unsigned char>(text[j]) & 0xC0) == 0x80) ++j;
  return j - i;
}

std::string ComposeUtf8(std::string_view s) {
  utf8proc_uint8_t* composed = nullptr;
  utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()), static_cast<utf8proc_ssize_t>(s.size()),
                   &composed, static_cast<utf8proc_option_t>(UTF8PROC_COMPOSE | UTF8PROC_STABLE));
  if (n < 0) return std::string(s);  // cannot happen on our own valid output; keep the input
  std::string result(reinterpret_cast<const char*>(composed), static_cast<size_t>(n));
  std::free(composed);
  return result;
}

void NormalizeChars(std::string_view text, std::vector<NChar>* out) {
  const BmpTable& table = Table();
  const auto* u = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  out->reserve(out->size() + n + 8);
  size_t i = 0;
  while (i < n) {
    unsigned char b = u[i];
    if (b < 0x80) {
      const AsciiEntry& e = kAscii[b];
      out->push_back({e.cp, e.cls, static_cast<uint32_t>(i), static_cast<uint32_t>(i + 1)});
      ++i;
      continue;
    }
    char32_t cp;
    size_t len = DecodeUtf8(text, i, &cp);
    if (len == 0) {
      len = InvalidRunLength(text, i);
      out->push_back({kReplacement, CharClass::kSep, static_cast<uint32_t>(i), static_cast<uint32_t>(i + len)});
    } else if (cp < 0x10000) {
      table.Append(cp, static_cast<uint32_t>(i), static_cast<uint32_t>(i + len), out);
    } else {
      uint32_t mapped[kMaxMapped];
      int m = MapCodePoint(cp, mapped, kMaxMapped);
      for (int k = 0; k < m; ++k) {
        out->push_back({mapped[k] & kCpMask, static_cast<CharClass>(mapped[k] >> kClassShift), static_cast<uint32_t>(i),
                        static_cast<uint32_t>(i + len)});
      }
    }
    i += len;
  }
}

}  // namespace souk::text::internal
