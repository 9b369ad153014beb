// The analyzer: normalized characters -> words, compounds, CJK words -> terms.
// See text.h for the rules; comments here say why the code is shaped as it is.
#include <libstemmer.h>

#include <cassert>
#include <cstring>
#include <memory>

#include "text/internal.h"

namespace souk::text {

using internal::CharClass;
using internal::NChar;

namespace {

constexpr size_t kMaxCompoundParts = 8;
// Scratch buffers above this many characters are released after a call, so
// one huge description does not pin memory in every thread.
constexpr size_t kKeepScratchChars = size_t{1} << 18;

// libstemmer stemmers keep state between calls and are not thread-safe, so
// each thread owns one (created on its first stemmed word). Stemming is the
// most expensive step of English analysis and catalog vocabulary is small and
// skewed, so each thread also keeps a direct-mapped cache of recent stems
// (4096 entries, 200 KB): it roughly triples throughput on catalog text.
class Stemmer {
 public:
  Stemmer() : stemmer_(sb_stemmer_new("english", "UTF_8")), cache_(new Entry[kCacheSize]) {
    assert(stemmer_ != nullptr);
  }
  ~Stemmer() {
    if (stemmer_ != nullptr) sb_stemmer_delete(stemmer_);
  }
  Stemmer(const Stemmer&) = delete;
  Stemmer& operator=(const Stemmer&) = delete;

  void Stem(std::string* term) {
    if (stemmer_ == nullptr) return;
    Entry* e = nullptr;
    if (term->size() <= kMaxCached) {
      uint64_t h = internal::FnvFeed(internal::kFnvBasis, term->data(), term->size());
      e = &cache_[(h ^ (h >> 32)) & (kCacheSize - 1)];
      if (e->word_len == term->size() && std::memcmp(e->word, term->data(), term->size()) == 0) {
        term->assign(e->stem, e->stem_len);
        return;
      }
    }
    const sb_symbol* r =
        sb_stemmer_stem(stemmer_, reinterpret_cast<const sb_symbol*>(term->data()), static_cast<int>(term->size()));
    if (r == nullptr) return;  // out of memory: keep the word as it is
    size_t len = static_cast<size_t>(sb_stemmer_length(stemmer_));
    if (e != nullptr && len <= kMaxCached) {
      e->word_len = static_cast<uint8_t>(term->size());
      std::memcpy(e->word, term->data(), term->size());
      e->stem_len = static_cast<uint8_t>(len);
      std::memcpy(e->stem, r, len);
    }
    term->assign(reinterpret_cast<const char*>(r), len);
  }

 private:
  static constexpr size_t kCacheSize = 4096;
  static constexpr size_t kMaxCached = 24;
  struct Entry {
    uint8_t word_len = 0xFF;  // never a cached length: empty
    uint8_t stem_len = 0;
    char word[kMaxCached];
    char stem[kMaxCached];
  };
  sb_stemmer* stemmer_;
  std::unique_ptr<Entry[]> cache_;
};

Stemmer& ThreadStemmer() {
  thread_local Stemmer stemmer;
  return stemmer;
}

bool IsStopWord(std::string_view t) {
  static constexpr std::string_view kStopWords[] = {"the", "a",    "an", "and", "or", "of",
                                                    "for", "with", "in", "on",  "to", "by"};
  if (t.empty() || t.size() > 4) return false;
  for (std::string_view w : kStopWords) {
    if (w == t) return true;
  }
  return false;
}

bool IsAsciiLetters(std::string_view t) {
  for (char c : t) {
    if (c < 'a' || c > 'z') return false;
  }
  return true;
}

bool IsAlnum(CharClass c) { return c == CharClass::kLetter || c == CharClass::kDigit; }
bool IsWordChar(CharClass c) { return IsAlnum(c) || c == CharClass::kMark; }

// One word of a compound: its term is terms[begin, end) of the scratch
// buffer; its source bytes are [start, stop).
struct Part {
  uint32_t begin, end;
  uint32_t start, stop;
  bool compose;  // carries non-Latin marks or conjoining jamo: NFC it
};

// Reads one word starting at c[i] (a letter or digit) and appends its term
// to *terms. Returns the index of the first character after it.
size_t ReadPart(const NChar* c, size_t i, size_t n, std::string* terms, Part* part) {
  part->begin = static_cast<uint32_t>(terms->size());
  part->start = c[i].start;
  part->compose = false;
  CharClass prev = CharClass::kSep;
  bool prev_latin = false;
  size_t last = i;
  size_t j = i;
  while (j < n) {
    const NChar& ch = c[j];
    bool take = false;
    switch (ch.cls) {
      case CharClass::kLetter:
      case CharClass::kDigit:
        prev = ch.cls;
        if (ch.cp < 0x80) {  // the common case, kept cheap
          terms->push_back(static_cast<char>(ch.cp));
          prev_latin = ch.cls == CharClass::kLetter;
        } else {
          internal::AppendUtf8(ch.cp, terms);
          prev_latin = internal::IsLatinLetter(ch.cp);
          if (!prev_latin && internal::IsConjoiningJamo(ch.cp)) part->compose = true;
        }
        take = true;
        break;
      case CharClass::kMark:
        // A combining accent typed after a Latin letter is folded away like
        // a precomposed one; marks of other scripts are part of the word.
        if (!prev_latin) {
          internal::AppendUtf8(ch.cp, terms);
          part->compose = true;
        }
        take = true;
        break;
      case CharClass::kDotSlash:  // 4.5, 1/2
        if (prev == CharClass::kDigit && j + 1 < n && c[j + 1].cls == CharClass::kDigit) {
          internal::AppendUtf8(ch.cp, terms);
          prev = CharClass::kDotSlash;
          take = true;
        }
        break;
      case CharClass::kComma:  // 20,000 -> 20000; not 1,5 or 1,0000
        if (prev == CharClass::kDigit && j + 3 < n && c[j + 1].cls == CharClass::kDigit &&
            c[j + 2].cls == CharClass::kDigit && c[j + 3].cls == CharClass::kDigit &&
            (j + 4 >= n || c[j + 4].cls != CharClass::kDigit)) {
          ++j;
          continue;
        }
        break;
      case CharClass::kApostrophe:
        if (prev == CharClass::kLetter && j + 1 < n && c[j + 1].cls == CharClass::kLetter) {
          if (c[j + 1].cp == 's' && (j + 2 >= n || !IsWordChar(c[j + 2].cls))) {  // possessive: men's -> men
            last = j + 1;
            j += 2;
            goto done;
          }
          ++j;  // don't -> dont
          continue;
        }
        break;
      default:
        break;
    }
    if (!take) break;
    last = j++;
  }
done:
  part->end = static_cast<uint32_t>(terms->size());
  part->stop = c[last].end;
  return j;
}

// Appends to *leaves the parts of the dictionary word made of run characters
// [b, e): its best segmentation into shorter dictionary words, each part of
// three or more characters split again (中华人民共和国 -> 中华 人民 共和 国).
// Returns false, appending nothing, when the best split is only single
// characters: that says nothing a search could use.
bool SplitWord(const Dictionary::Rep& dict, std::string_view run, const uint32_t* off, uint32_t b, uint32_t e,
               internal::SegmentScratch* seg, std::vector<internal::HanPiece>* leaves) {
  std::vector<internal::HanPiece> fine;
  internal::SegmentHan(dict, run, off + b, e - b, e - b - 1, seg, &fine);
  bool has_word = false;
  for (const auto& f : fine) has_word = has_word || f.end - f.begin > 1;
  if (fine.size() < 2 || !has_word) return false;
  for (const auto& f : fine) {
    const uint32_t fb = b + f.begin, fe = b + f.end;
    if (fe - fb > 2 && SplitWord(dict, run, off, fb, fe, seg, leaves)) continue;
    leaves->push_back({fb, fe, f.known});
  }
  return true;
}

}  // namespace

struct Analyzer::Scratch {
  std::vector<NChar> chars;
  std::string terms;  // the current compound's part terms, back to back
  std::vector<Part> parts;
  std::string run;            // UTF-8 of the current Han or kana run
  std::vector<uint32_t> off;  // byte offset of each run character, plus the end
  std::vector<internal::HanPiece> pieces;
  std::vector<internal::HanPiece> fine;  // a long word's parts
  internal::SegmentScratch seg;
};

Analyzer::Analyzer(AnalyzerOptions options, std::shared_ptr<const Dictionary> dict)
    : options_(options), dict_(std::move(dict)) {
  if (options_.cjk && dict_ != nullptr) jieba_ = dict_->rep_.get();
  std::vector<NChar> warm;
  internal::NormalizeChars("\xC3\xA9", &warm);  // builds the normalization table now, not in the first query
}

std::string Analyzer::Describe() const {
  std::string d = "text:stem=";
  d += options_.stem ? "1" : "0";
  d += ",stop=";
  d += options_.stop_words ? "1" : "0";
  d += ",cjk=";
  d += jieba_ != nullptr ? "jieba" : "bigram";
  return d;
}

void Analyzer::Analyze(std::string_view text, std::vector<Token>* out) const {
  assert(text.size() < (uint64_t{1} << 32));
  thread_local Scratch scratch;
  size_t before = out->size();
  bool dropped = false;
  int kept = AnalyzeOnce(text, options_.stop_words, &scratch, out, &dropped);
  if (kept == 0 && dropped) {  // only stop words: keep them, or the text would vanish
    out->resize(before);
    AnalyzeOnce(text, false, &scratch, out, &dropped);
  }
  if (scratch.chars.capacity() > kKeepScratchChars) scratch = Scratch();
}

std::vector<std::string> Analyzer::Terms(std::string_view text) const {
  std::vector<Token> tokens;
  Analyze(text, &tokens);
  std::vector<std::string> terms;
  terms.reserve(tokens.size());
  for (auto& t : tokens) terms.push_back(std::move(t.term));
  return terms;
}

int Analyzer::AnalyzeOnce(std::string_view text, bool drop_stop_words, Scratch* s, std::vector<Token>* out,
                          bool* dropped) const {
  std::vector<NChar>& chars = s->chars;
  chars.clear();
  internal::NormalizeChars(text, &chars);
  const NChar* c = chars.data();
  const size_t n = chars.size();
  const size_t first = out->size();
  uint32_t pos = 0;

  // Turns raw normalized text into a final term: NFC when needed, length
  // cap, stemming.
  auto finish = [&](std::string* term, bool compose) {
    if (compose) *term = internal::ComposeUtf8(*term);
    if (term->size() > kMaxTermBytes) {
      size_t cut = kMaxTermBytes;
      while (cut > 0 && (static_cast<unsigned char>((*term)[cut]) & 0xC0) == 0x80) --cut;
      term->resize(cut);
    }
    // Snowball leaves words of one or two letters alone; skip the call.
    if (options_.stem && term->size() > 2 && IsAsciiLetters(*term)) ThreadStemmer().Stem(term);
  };
  // Appends a token at the current position and returns its term. The term
  // is built in place in the output: this is the hot path, copies count.
  auto push = [&](std::string_view term, uint32_t start, uint32_t end, TokenKind kind) -> std::string& {
    Token& t = out->emplace_back();
    t.term.assign(term);
    t.position = pos;
    t.start = start;
    t.end = end;
    t.kind = kind;
    return t.term;
  };
  // The same for a word whose raw normalized text still needs finishing
  // (Han terms are final as they are).
  auto emit = [&](std::string_view raw, bool compose, uint32_t start, uint32_t end, TokenKind kind) {
    finish(&push(raw, start, end, kind), compose);
  };
  // True if `term` is already a token at the current position (from index `from`).
  auto seen = [&](size_t from, std::string_view term, size_t end) {
    for (size_t k = from; k < end; ++k) {
      if ((*out)[k].term == term) return true;
    }
    return false;
  };
  // Builds s->run / s->off for characters [a, b).
  auto build_run = [&](size_t a, size_t b) {
    s->run.clear();
    s->off.clear();
    for (size_t k = a; k < b; ++k) {
      s->off.push_back(static_cast<uint32_t>(s->run.size()));
      internal::AppendUtf8(c[k].cp, &s->run);
    }
    s->off.push_back(static_cast<uint32_t>(s->run.size()));
  };
  // Run characters [a, b) (relative to run start `base`) as overlapping
  // bigrams, or one unigram when there is a single character.
  auto bigrams = [&](size_t base, size_t a, size_t b) {
    std::string_view run = s->run;
    if (b - a == 1) {
      push(run.substr(s->off[a], s->off[a + 1] - s->off[a]), c[base + a].start, c[base + a].end, TokenKind::kWord);
      ++pos;
      return;
    }
    for (size_t k = a; k + 1 < b; ++k) {
      push(run.substr(s->off[k], s->off[k + 2] - s->off[k]), c[base + k].start, c[base + k + 1].end, TokenKind::kWord);
      ++pos;
    }
  };

  size_t i = 0;
  while (i < n) {
    const CharClass cls = c[i].cls;
    if (IsAlnum(cls)) {
      s->terms.clear();
      s->parts.clear();
      Part part;
      size_t j = ReadPart(c, i, n, &s->terms, &part);
      s->parts.push_back(part);
      while (s->parts.size() < kMaxCompoundParts && j + 1 < n &&
             (c[j].cls == CharClass::kJoiner || c[j].cls == CharClass::kDotSlash) && IsAlnum(c[j + 1].cls)) {
        // Between two numbers a joiner is a range or a date (3-5,
        // 2024-03-10): separate words, no joined "35".
        if (c[j - 1].cls == CharClass::kDigit && c[j + 1].cls == CharClass::kDigit) break;
        j = ReadPart(c, j + 1, n, &s->terms, &part);
        s->parts.push_back(part);
      }
      const Part& p0 = s->parts.front();
      const Part& pn = s->parts.back();
      std::string_view terms = s->terms;
      if (s->parts.size() == 1) {
        std::string_view term = terms.substr(p0.begin, p0.end - p0.begin);
        if (drop_stop_words && IsStopWord(term)) {
          *dropped = true;
        } else {
          emit(term, p0.compose, p0.start, p0.stop, TokenKind::kWord);
          ++pos;
        }
      } else {
        // usb-c: usbc (whole), usb, c (parts), one position.
        bool compose = false;
        for (const Part& p : s->parts) compose = compose || p.compose;
        size_t whole = out->size();
        emit(terms.substr(p0.begin, pn.end - p0.begin), compose, p0.start, pn.stop, TokenKind::kWhole);
        for (const Part& p : s->parts) {
          emit(terms.substr(p.begin, p.end - p.begin), p.compose, p.start, p.stop, TokenKind::kPart);
          if (seen(whole, out->back().term, out->size() - 1)) out->pop_back();  // a-a: one part a
        }
        ++pos;
      }
      i = j;
      continue;
    }
    if (cls == CharClass::kHan) {
      size_t j = i;
      while (j < n && c[j].cls == CharClass::kHan) ++j;
      build_run(i, j);
      if (jieba_ == nullptr) {
        bigrams(i, 0, j - i);
        i = j;
        continue;
      }
      s->pieces.clear();
      internal::SegmentHan(*jieba_, s->run, s->off.data(), j - i, static_cast<size_t>(jieba_->max_word_chars), &s->seg,
                           &s->pieces);
      const auto& pieces = s->pieces;
      for (size_t p = 0; p < pieces.size();) {
        if (!pieces[p].known) {  // unknown characters: bigrams over the whole unknown stretch
          size_t q = p;
          while (q < pieces.size() && !pieces[q].known) ++q;
          bigrams(i, pieces[p].begin, pieces[q - 1].end);
          p = q;
          continue;
        }
        const uint32_t b = pieces[p].begin, e = pieces[p].end;
        size_t whole = out->size();
        push(std::string_view(s->run).substr(s->off[b], s->off[e] - s->off[b]), c[i + b].start, c[i + e - 1].end,
             TokenKind::kWord);
        // A word of three or more characters is also indexed as its parts,
        // at the same position: 手机 then finds 手机壳 and 大学 finds 清华大学.
        // As with a compound's parts, the parts spell the whole, so a search
        // that requires every part of a query word also finds documents that
        // wrote it as separate words.
        s->fine.clear();
        if (e - b > 2 && SplitWord(*jieba_, s->run, s->off.data(), b, e, &s->seg, &s->fine)) {
          (*out)[whole].kind = TokenKind::kWhole;
          for (const auto& f : s->fine) {
            std::string_view sub = std::string_view(s->run).substr(s->off[f.begin], s->off[f.end] - s->off[f.begin]);
            if (!seen(whole + 1, sub, out->size()))
              push(sub, c[i + f.begin].start, c[i + f.end - 1].end, TokenKind::kPart);
          }
        }
        ++pos;
        ++p;
      }
      i = j;
      continue;
    }
    if (cls == CharClass::kKana) {
      // Hiragana and katakana runs are split apart (the particle の does not
      // belong to the loanword テキスト); the prolonged sound mark ー goes with
      // either.
      auto hiragana = [](char32_t cp) { return cp >= 0x3041 && cp <= 0x309F; };
      const bool h = hiragana(c[i].cp);
      size_t j = i + 1;
      while (j < n && c[j].cls == CharClass::kKana && (c[j].cp == 0x30FC || hiragana(c[j].cp) == h)) ++j;
      build_run(i, j);
      bigrams(i, 0, j - i);
      i = j;
      continue;
    }
    ++i;  // separators, and joiners or marks with no word before them
  }
  return static_cast<int>(out->size() - first);
}

std::string Analyzer::Normalize(std::string_view text) const {
  std::vector<NChar> chars;
  internal::NormalizeChars(text, &chars);
  std::string out;
  out.reserve(text.size());
  bool prev_latin = false;
  bool compose = false;
  for (const NChar& ch : chars) {
    char32_t cp = ch.cp;
    if (ch.cls == CharClass::kMark) {
      if (prev_latin) continue;
      compose = true;
    } else {
      if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0)) cp = ' ';
      prev_latin = internal::IsLatinLetter(cp);
      compose = compose || internal::IsConjoiningJamo(cp);
    }
    internal::AppendUtf8(cp, &out);
  }
  return compose ? internal::ComposeUtf8(out) : out;
}

}  // namespace souk::text
