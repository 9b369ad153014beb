// The jieba dictionary and maximum-probability segmentation of Han runs.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "core/core.h"
#include "text/internal.h"

namespace souk::text {

using internal::FnvFeed;
using internal::kFnvBasis;

namespace {

Status ReadWholeFile(const std::string& path, std::string* data) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      return Status::NotFound("jieba dictionary not found: " + path +
                              " (install python3-jieba, or pass the path of a jieba dict.txt)");
    }
    return Status::IoError("cannot open jieba dictionary " + path + ": " + std::strerror(err));
  }
  char buf[1 << 16];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) data->append(buf, got);
  bool failed = std::ferror(f) != 0;
  int err = errno;
  std::fclose(f);
  if (failed) return Status::IoError("cannot read jieba dictionary " + path + ": " + std::strerror(err));
  return Status::Ok();
}

// Builds the hash table of words and prefixes.
class Builder {
 public:
  // `expected_keys`: words plus distinct prefixes, a hint to size the table.
  Builder(Dictionary::Rep* rep, size_t expected_keys) : rep_(rep) {
    size_t capacity = 1024;
    while (capacity * 7 < expected_keys * 10) capacity *= 2;
    Resize(capacity);
  }

  // Adds a normalized Han word (already appended to rep_->pool at `offset`)
  // whose character boundaries are `ends` (byte lengths of each prefix).
  void AddWord(uint32_t offset, const std::vector<uint32_t>& ends, uint64_t freq) {
    uint64_t h = kFnvBasis;
    uint32_t prev = 0;
    for (size_t k = 0; k < ends.size(); ++k) {
      h = FnvFeed(h, rep_->pool.data() + offset + prev, ends[k] - prev);
      prev = ends[k];
      Dictionary::Rep::Slot* slot = FindOrInsert(h, offset, ends[k]);
      if (k + 1 < ends.size()) {
        slot->flags |= Dictionary::Rep::kPrefix;
        continue;
      }
      // A later line for the same word replaces the earlier one, as in jieba.
      if (freq > 0) {
        slot->flags |= Dictionary::Rep::kWord;
      } else {
        slot->flags &= static_cast<uint8_t>(~Dictionary::Rep::kWord);
      }
      slot->log_prob = static_cast<float>(freq);  // a frequency until Finish()
      if (freq > 0 && static_cast<int>(ends.size()) > rep_->max_word_chars) {
        rep_->max_word_chars = static_cast<int>(ends.size());
      }
    }
  }

  void Finish(double total) {
    rep_->log_total = std::log(total);
    rep_->num_words = 0;
    for (auto& s : rep_->slots) {
      if (!(s.flags & Dictionary::Rep::kWord)) continue;
      s.log_prob = static_cast<float>(std::log(static_cast<double>(s.log_prob)) - rep_->log_total);
      ++rep_->num_words;
    }
  }

 private:
  Dictionary::Rep::Slot* FindOrInsert(uint64_t h, uint32_t offset, uint32_t length) {
    if ((rep_->num_keys + 1) * 10 > rep_->slots.size() * 7) Resize(rep_->slots.size() * 2);
    const char* key = rep_->pool.data() + offset;
    uint16_t tag = static_cast<uint16_t>(h >> 48);
    for (uint64_t i = rep_->Index(h);; i = (i + 1) & rep_->mask) {
      Dictionary::Rep::Slot& s = rep_->slots[i];
      if (s.length == 0) {
        s.length = static_cast<uint8_t>(length);
        s.tag = tag;
        s.key = length <= 8 ? Dictionary::Rep::PackKey(key, length) : offset;
        ++rep_->num_keys;
        return &s;
      }
      if (s.tag == tag && rep_->KeyEquals(s, key, length)) return &s;
    }
  }

  void Resize(size_t capacity) {
    std::vector<Dictionary::Rep::Slot> old;
    old.swap(rep_->slots);
    rep_->slots.assign(capacity, {});
    rep_->mask = capacity - 1;
    for (const auto& s : old) {
      if (s.length == 0) continue;
      const char* key = s.length <= 8 ? reinterpret_cast<const char*>(&s.key) : rep_->pool.data() + s.key;
      uint64_t i = rep_->Index(FnvFeed(kFnvBasis, key, s.length));
      while (rep_->slots[i].length != 0) i = (i + 1) & rep_->mask;
      rep_->slots[i] = s;
    }
  }

  Dictionary::Rep* rep_;
};

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// Fast path for the common case: a word made only of CJK Unified Ideographs
// (U+3400-U+4DBF, U+4E00-U+9FFF), which normalization leaves unchanged.
// Appends it to *pool and its character end offsets to *ends; false (and
// nothing appended) for any other word.
bool AppendIfUnifiedHan(std::string_view word, std::string* pool, std::vector<uint32_t>* ends) {
  for (size_t i = 0; i < word.size(); i += 3) {
    char32_t cp;
    if (internal::DecodeUtf8(word, i, &cp) != 3 ||
        !((cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF))) {
      ends->clear();
      return false;
    }
    ends->push_back(static_cast<uint32_t>(i + 3));
  }
  pool->append(word);
  return true;
}

}  // namespace

std::string DefaultDictionaryPath() {
#ifdef SOUK_JIEBA_DICT
  return SOUK_JIEBA_DICT;
#else
  return "/usr/lib/python3/dist-packages/jieba/dict.txt";
#endif
}

Dictionary::Dictionary(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
Dictionary::~Dictionary() = default;

size_t Dictionary::size() const { return rep_->num_words; }
int Dictionary::max_word_chars() const { return rep_->max_word_chars; }
const std::string& Dictionary::path() const { return rep_->path; }

bool Dictionary::Contains(std::string_view word) const {
  if (word.empty() || word.size() > 255) return false;
  const Rep::Slot* s = rep_->Find(word);
  return s != nullptr && (s->flags & Rep::kWord);
}

Result<std::shared_ptr<const Dictionary>> LoadDictionary(const std::string& path_arg) {
  auto rep = std::make_unique<Dictionary::Rep>();
  rep->path = path_arg.empty() ? DefaultDictionaryPath() : path_arg;
  std::string data;
  SOUK_RETURN_IF_ERROR(ReadWholeFile(rep->path, &data));

  std::string_view text(data);
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // BOM
  rep->pool.reserve(text.size() / 2);
  // jieba's dictionary has about 1.4 distinct prefixes-or-words per line.
  size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  Builder builder(rep.get(), lines + lines / 2);
  std::vector<internal::NChar> chars;
  std::vector<uint32_t> ends;
  double total = 0;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (Trim(line).empty()) continue;

    auto corrupt = [&](const std::string& what) {
      return Status::Corruption(rep->path + ":" + std::to_string(line_no) + ": " + what);
    };
    size_t w = 0;
    while (w < line.size() && !IsBlank(line[w])) ++w;
    std::string_view word = line.substr(0, w);
    size_t f = w;
    while (f < line.size() && IsBlank(line[f])) ++f;
    uint64_t freq = 0;
    size_t digits = 0;
    while (f < line.size() && line[f] >= '0' && line[f] <= '9') {
      if (freq > (uint64_t{1} << 40)) return corrupt("frequency too large");
      freq = freq * 10 + static_cast<uint64_t>(line[f] - '0');
      ++f, ++digits;
    }
    if (word.empty() || digits == 0 || (f < line.size() && !IsBlank(line[f]))) {
      return corrupt("expected 'word frequency [tag]', got '" + Shorten(line) + "'");
    }
    if (!IsValidUtf8(word)) return corrupt("invalid UTF-8");
    total += static_cast<double>(freq);

    // Keep words that are Han after normalization (the analyzer only looks up
    // Han runs); store them normalized, as the analyzer will see them.
    if (static_cast<unsigned char>(word[0]) < 0x80 || word.size() > 255) continue;
    uint32_t offset = static_cast<uint32_t>(rep->pool.size());
    ends.clear();
    if (!AppendIfUnifiedHan(word, &rep->pool, &ends)) {  // rare: normalize the slow way
      chars.clear();
      internal::NormalizeChars(word, &chars);
      bool han = !chars.empty();
      for (const auto& c : chars) han = han && c.cls == internal::CharClass::kHan;
      if (!han) continue;
      for (const auto& c : chars) {
        internal::AppendUtf8(c.cp, &rep->pool);
        ends.push_back(static_cast<uint32_t>(rep->pool.size()) - offset);
      }
    }
    if (ends.back() > 255) {
      rep->pool.resize(offset);
      continue;
    }
    builder.AddWord(offset, ends, freq);
  }
  if (total <= 0) return Status::Corruption(rep->path + ": no word has a positive frequency");
  builder.Finish(total);
  if (rep->num_words == 0) return Status::Corruption(rep->path + ": no Han words with a positive frequency");
  rep->pool.shrink_to_fit();
  return std::shared_ptr<const Dictionary>(new Dictionary(std::move(rep)));
}

namespace internal {

void SegmentHan(const Dictionary::Rep& dict, std::string_view utf8, const uint32_t* off, size_t n, size_t max_chars,
                SegmentScratch* scratch, std::vector<HanPiece>* out) {
  // Route from right to left (jieba.calc): best[s] = max over DAG edges
  // s -> e of log P(word s..e) + best[e]. Ties go to the longer word, as
  // Python's max over (score, end) tuples does.
  auto& best = scratch->best;
  auto& next = scratch->next;
  auto& known = scratch->known;
  best.assign(n + 1, 0.0);
  next.assign(n + 1, 0);
  known.assign(n + 1, 0);
  for (size_t s = n; s-- > 0;) {
    double top = -std::numeric_limits<double>::infinity();
    uint32_t top_end = 0;
    bool any = false;
    uint64_t h = kFnvBasis;
    const char* base = utf8.data() + off[s];
    for (size_t e = s; e < n && e - s < max_chars; ++e) {
      h = FnvFeed(h, utf8.data() + off[e], off[e + 1] - off[e]);
      size_t len = off[e + 1] - off[s];
      if (len > 255) break;
      const Dictionary::Rep::Slot* slot = dict.Find(h, base, len);
      if (slot == nullptr) break;
      if (slot->flags & Dictionary::Rep::kWord) {
        double score = slot->log_prob + best[e + 1];
        if (score >= top) top = score, top_end = static_cast<uint32_t>(e + 1);
        any = true;
      }
      if (!(slot->flags & Dictionary::Rep::kPrefix)) break;
    }
    if (!any) {  // jieba adds the lone character only when no word starts here
      top = -dict.log_total + best[s + 1];
      top_end = static_cast<uint32_t>(s + 1);
    }
    best[s] = top;
    next[s] = top_end;
    known[s] = any;
  }
  for (size_t s = 0; s < n; s = next[s]) {
    out->push_back({static_cast<uint32_t>(s), next[s], known[s] != 0});
  }
}

}  // namespace internal
}  // namespace souk::text
