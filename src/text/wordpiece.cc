// WordPiece (BERT) tokenization: see text.h for the algorithm. Every step
// mirrors a function of BERT's tokenization.py (and HuggingFace's
// BertTokenizer, which adds NFC), so the comments name them. Characters are
// code points, as Python's str: max_chars_per_word and the greedy match
// count code points, not bytes.
#include <utf8proc.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "text/internal.h"
#include "text/text.h"

namespace souk::text {
namespace {

using internal::AppendUtf8;

constexpr char32_t kReplacement = 0xFFFD;

utf8proc_category_t Category(char32_t cp) { return utf8proc_category(static_cast<utf8proc_int32_t>(cp)); }

// _is_whitespace: the characters _clean_text turns into a space.
bool IsBertWhitespace(char32_t cp) {
  if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r') return true;
  return Category(cp) == UTF8PROC_CATEGORY_ZS;
}

// _is_control: the characters _clean_text drops (with NUL and U+FFFD).
bool IsBertControl(char32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  const auto c = Category(cp);
  return c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF;
}

// _is_punctuation: ASCII symbols count as punctuation too ($, +, ^, `, ...),
// as BERT treats them.
bool IsBertPunctuation(char32_t cp) {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126))
    return true;
  switch (Category(cp)) {
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
      return true;
    default:
      return false;
  }
}

// _is_chinese_char: the CJK Unified Ideographs blocks (not kana, not Hangul).
bool IsBertCjk(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

// Python's str.isspace(), which whitespace_tokenize's str.split() uses.
// After cleaning, only ' ', U+2028 and U+2029 are left of these (the others
// are controls, dropped, or Zs, already spaces), but the full set costs
// nothing and keeps the split right if cleaning ever changes.
bool IsPythonSpace(char32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

std::u32string Decode(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    char32_t cp;
    size_t len = internal::DecodeUtf8(text, i, &cp);
    if (len == 0) {
      len = internal::InvalidRunLength(text, i);
      cp = kReplacement;
    }
    out.push_back(cp);
    i += len;
  }
  return out;
}

std::string ToUtf8(std::u32string_view cps) {
  std::string out;
  out.reserve(cps.size());
  for (char32_t cp : cps) AppendUtf8(cp, &out);
  return out;
}

bool IsAscii(std::u32string_view cps) {
  for (char32_t cp : cps)
    if (cp >= 0x80) return false;
  return true;
}

// NFC or NFD (canonical, with canonical ordering) of valid code points.
std::u32string Normalize(std::u32string_view cps, bool compose) {
  if (IsAscii(cps)) return std::u32string(cps);  // ASCII is already in every normal form
  const std::string utf8 = ToUtf8(cps);
  utf8proc_uint8_t* mapped = nullptr;
  const auto options =
      static_cast<utf8proc_option_t>(UTF8PROC_STABLE | (compose ? UTF8PROC_COMPOSE : UTF8PROC_DECOMPOSE));
  const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(utf8.data()),
                                          static_cast<utf8proc_ssize_t>(utf8.size()), &mapped, options);
  if (n < 0) return std::u32string(cps);  // cannot happen: the input was decoded, so it is valid
  std::u32string out = Decode(std::string_view(reinterpret_cast<const char*>(mapped), static_cast<size_t>(n)));
  std::free(mapped);
  return out;
}

// Python's c.lower() for one character: the simple Unicode lowercase mapping,
// except U+0130 (İ), the one character whose full lowercase is two (i and a
// combining dot above). Character by character, as HuggingFace lower-cases,
// so no final-sigma context applies.
void AppendLower(char32_t cp, std::u32string* out) {
  if (cp == 0x130) {
    out->push_back('i');
    out->push_back(0x307);
    return;
  }
  out->push_back(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
}

// _run_strip_accents: NFD, then drop nonspacing marks. (NFD also splits
// Hangul syllables into jamo, as in BERT.)
std::u32string StripAccents(std::u32string_view word) {
  std::u32string nfd = Normalize(word, /*compose=*/false);
  std::u32string out;
  out.reserve(nfd.size());
  for (char32_t cp : nfd)
    if (Category(cp) != UTF8PROC_CATEGORY_MN) out.push_back(cp);
  return out;
}

}  // namespace

// ---- loading ---------------------------------------------------------------

Result<std::shared_ptr<const WordPieceTokenizer>> WordPieceTokenizer::FromTokens(std::vector<std::string> tokens,
                                                                                 const WordPieceOptions& options) {
  if (options.max_len < 2)
    return Status::InvalidArgument("wordpiece: maxlen must be at least 2 (room for [CLS] and [SEP])");
  if (options.max_chars_per_word < 1) return Status::InvalidArgument("wordpiece: max_chars_per_word must be >= 1");
  std::shared_ptr<WordPieceTokenizer> t(new WordPieceTokenizer());
  t->options_ = options;
  t->tokens_ = std::move(tokens);
  t->ids_.reserve(t->tokens_.size());
  for (size_t i = 0; i < t->tokens_.size(); ++i) {
    const std::string& tok = t->tokens_[i];
    t->ids_[tok] = static_cast<int64_t>(i);  // a repeated token keeps its last id
    const size_t bytes = tok.rfind("##", 0) == 0 ? tok.size() - 2 : tok.size();
    t->max_token_bytes_ = std::max(t->max_token_bytes_, bytes);
  }
  auto special = [&](const char* name, int64_t* id) -> Status {
    auto it = t->ids_.find(std::string_view(name));
    if (it == t->ids_.end())
      return Status::InvalidArgument(std::string("vocabulary has no ") + name +
                                     " token (a BERT vocab.txt lists [PAD], [UNK], [CLS], [SEP] and [MASK])");
    *id = it->second;
    return Status::Ok();
  };
  SOUK_RETURN_IF_ERROR(special("[UNK]", &t->unk_));
  SOUK_RETURN_IF_ERROR(special("[CLS]", &t->cls_));
  SOUK_RETURN_IF_ERROR(special("[SEP]", &t->sep_));
  SOUK_RETURN_IF_ERROR(special("[PAD]", &t->pad_));
  return std::shared_ptr<const WordPieceTokenizer>(std::move(t));
}

Result<std::shared_ptr<const WordPieceTokenizer>> WordPieceTokenizer::Load(const std::string& vocab_path,
                                                                           const WordPieceOptions& options) {
  std::ifstream in(vocab_path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    if (!std::filesystem::exists(vocab_path, ec)) return Status::NotFound("vocab file '" + vocab_path + "' not found");
    return Status::IoError("cannot read vocab file '" + vocab_path + "'");
  }
  std::stringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return Status::IoError("reading vocab file '" + vocab_path + "' failed");
  const std::string data = buf.str();
  // Lines end at \n, \r\n or \r: Python's universal newlines, which
  // HuggingFace's load_vocab reads with. A final newline ends the last line.
  std::vector<std::string> tokens;
  size_t start = 0;
  size_t i = 0;
  while (i < data.size()) {
    if (data[i] == '\n' || data[i] == '\r') {
      tokens.emplace_back(data, start, i - start);
      i += (data[i] == '\r' && i + 1 < data.size() && data[i + 1] == '\n') ? 2 : 1;
      start = i;
    } else {
      ++i;
    }
  }
  if (start < data.size()) tokens.emplace_back(data, start, data.size() - start);
  for (size_t line = 0; line < tokens.size(); ++line) {
    const std::string& tok = tokens[line];
    for (size_t k = 0; k < tok.size();) {
      char32_t cp;
      const size_t len = internal::DecodeUtf8(tok, k, &cp);
      if (len == 0)
        return Status::Corruption("vocab file '" + vocab_path + "' line " + std::to_string(line + 1) +
                                  ": invalid UTF-8");
      k += len;
    }
  }
  auto t = FromTokens(std::move(tokens), options);
  if (!t.ok()) return t.status().WithContext("vocab file '" + vocab_path + "'");
  return t;
}

// ---- tokenization ------------------------------------------------------------

std::vector<std::string> WordPieceTokenizer::BasicTokenize(std::string_view text) const {
  // _clean_text and _tokenize_chinese_chars in one pass.
  std::u32string cleaned;
  cleaned.reserve(text.size() + 8);
  for (char32_t cp : Decode(text)) {
    if (cp == 0 || cp == kReplacement || IsBertControl(cp)) continue;
    if (IsBertWhitespace(cp)) {
      cleaned.push_back(' ');
    } else if (options_.split_cjk && IsBertCjk(cp)) {
      cleaned.push_back(' ');
      cleaned.push_back(cp);
      cleaned.push_back(' ');
    } else {
      cleaned.push_back(cp);
    }
  }
  // NFC after the CJK spaces, as HuggingFace: NFC maps most CJK
  // compatibility ideographs (U+F900...) to unified ones, already spaced.
  const std::u32string nfc = Normalize(cleaned, /*compose=*/true);

  std::vector<std::string> out;
  const bool strip = options_.StripsAccents();
  std::u32string word, lowered;
  auto flush_word = [&] {
    if (word.empty()) return;
    std::u32string_view w = word;
    if (options_.lower_case) {
      lowered.clear();
      for (char32_t cp : word) AppendLower(cp, &lowered);
      w = lowered;
    }
    std::u32string stripped;
    if (strip) {
      stripped = StripAccents(w);
      w = stripped;
    }
    // _run_split_on_punc: each punctuation character alone, the runs
    // between them as words; an emptied word (only marks) yields nothing.
    size_t run = 0;
    for (size_t k = 0; k < w.size(); ++k) {
      if (!IsBertPunctuation(w[k])) continue;
      if (k > run) out.push_back(ToUtf8(w.substr(run, k - run)));
      out.push_back(ToUtf8(w.substr(k, 1)));
      run = k + 1;
    }
    if (run < w.size()) out.push_back(ToUtf8(w.substr(run)));
    word.clear();
  };
  for (char32_t cp : nfc) {
    if (IsPythonSpace(cp))
      flush_word();
    else
      word.push_back(cp);
  }
  flush_word();
  return out;
}

void WordPieceTokenizer::WordPieces(const std::string& word, std::vector<int64_t>* out) const {
  // Character starts, so candidates end on character boundaries.
  std::vector<size_t> starts;
  for (size_t i = 0; i < word.size(); ++i)
    if ((static_cast<unsigned char>(word[i]) & 0xC0) != 0x80) starts.push_back(i);
  if (starts.size() > options_.max_chars_per_word) {
    out->push_back(unk_);
    return;
  }
  starts.push_back(word.size());
  const size_t n = starts.size() - 1;
  const size_t first = out->size();
  std::string candidate;
  for (size_t begin = 0; begin < n;) {
    // Longest match first: shrink the end until the piece is in the vocab.
    int64_t found = -1;
    size_t end = n;
    for (; end > begin; --end) {
      const size_t bytes = starts[end] - starts[begin];
      if (bytes > max_token_bytes_) continue;
      candidate.assign(begin > 0 ? "##" : "");
      candidate.append(word, starts[begin], bytes);
      auto it = ids_.find(std::string_view(candidate));
      if (it != ids_.end()) {
        found = it->second;
        break;
      }
    }
    if (found < 0) {  // is_bad: the whole word is one [UNK]
      out->resize(first);
      out->push_back(unk_);
      return;
    }
    out->push_back(found);
    begin = end;
  }
}

std::vector<int64_t> WordPieceTokenizer::TokenIds(std::string_view text) const {
  std::vector<int64_t> ids;
  for (const std::string& word : BasicTokenize(text)) WordPieces(word, &ids);
  return ids;
}

std::vector<std::string> WordPieceTokenizer::Tokenize(std::string_view text) const {
  std::vector<std::string> out;
  for (int64_t id : TokenIds(text)) out.push_back(tokens_[static_cast<size_t>(id)]);
  return out;
}

std::vector<int64_t> WordPieceTokenizer::Encode(std::string_view text) const {
  std::vector<int64_t> pieces = TokenIds(text);
  // Truncation keeps the first pieces (HuggingFace's truncation=True for
  // one sequence).
  if (pieces.size() > options_.max_len - 2) pieces.resize(options_.max_len - 2);
  std::vector<int64_t> ids;
  ids.reserve(pieces.size() + 2);
  ids.push_back(cls_);
  ids.insert(ids.end(), pieces.begin(), pieces.end());
  ids.push_back(sep_);
  return ids;
}

TokenBatch WordPieceTokenizer::EncodeBatch(std::span<const std::string> texts, Padding padding) const {
  std::vector<std::vector<int64_t>> rows;
  rows.reserve(texts.size());
  size_t width = padding == Padding::kMaxLen ? options_.max_len : 0;
  for (const std::string& t : texts) {
    rows.push_back(Encode(t));
    width = std::max(width, rows.back().size());
  }
  TokenBatch b;
  b.rows = texts.size();
  b.cols = width;
  b.ids.assign(b.rows * b.cols, pad_);
  b.mask.assign(b.rows * b.cols, 0);
  for (size_t r = 0; r < b.rows; ++r) {
    for (size_t c = 0; c < rows[r].size(); ++c) {
      b.ids[r * b.cols + c] = rows[r][c];
      b.mask[r * b.cols + c] = 1;
    }
  }
  return b;
}

const std::string& WordPieceTokenizer::token(int64_t id) const {
  static const std::string kEmpty;
  if (id < 0 || static_cast<size_t>(id) >= tokens_.size()) return kEmpty;
  return tokens_[static_cast<size_t>(id)];
}

std::string WordPieceTokenizer::Describe() const {
  return "wordpiece:lower=" + std::to_string(options_.lower_case ? 1 : 0) +
         ",strip_accents=" + std::to_string(options_.StripsAccents() ? 1 : 0) +
         ",cjk=" + std::to_string(options_.split_cjk ? 1 : 0) + ",maxlen=" + std::to_string(options_.max_len);
}

}  // namespace souk::text
