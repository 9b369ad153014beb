// Edit distance for typo tolerance, and the guard that keeps it off model
// numbers and quantities.
#include <utf8proc.h>

#include <algorithm>
#include <vector>

#include "text/internal.h"

namespace souk::text {
namespace {

// Code points of a short string, without a heap allocation for terms of up
// to kInline characters (almost all of them).
class CodePoints {
 public:
  explicit CodePoints(std::string_view s) {
    if (s.size() > kInline) heap_.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
      char32_t cp;
      size_t len = internal::DecodeUtf8(s, i, &cp);
      if (len == 0) {
        cp = 0xFFFD;
        len = internal::InvalidRunLength(s, i);
      }
      Push(cp);
      i += len;
    }
  }
  const char32_t* data() const { return heap_.empty() ? inline_ : heap_.data(); }
  int size() const { return size_; }

 private:
  static constexpr size_t kInline = 64;
  void Push(char32_t cp) {
    if (heap_.empty() && static_cast<size_t>(size_) < kInline) {
      inline_[size_++] = cp;
      return;
    }
    if (heap_.empty()) heap_.assign(inline_, inline_ + size_);
    heap_.push_back(cp);
    ++size_;
  }
  char32_t inline_[kInline];
  std::vector<char32_t> heap_;
  int size_ = 0;
};

}  // namespace

int BoundedEditDistance(std::string_view a_text, std::string_view b_text, int max_distance) {
  const int bound = std::max(max_distance, 0);
  if (a_text == b_text) return 0;
  CodePoints ca(a_text), cb(b_text);
  const char32_t* a = ca.data();
  const char32_t* b = cb.data();
  const int la = ca.size(), lb = cb.size();
  const int over = bound + 1;
  if (std::abs(la - lb) > bound) return over;
  if (la == 0 || lb == 0) return std::max(la, lb);

  // Three rows of the optimal-string-alignment DP (the transposition looks
  // two rows back). Only cells within `bound` of the diagonal can stay
  // within bound; the rest are `over`. A row whose minimum exceeds the
  // bound ends the computation: distances never decrease down the table.
  std::vector<int> storage;
  int small[3 * 66];
  int* rows = small;
  if (lb + 1 > 66) {
    storage.resize(3 * static_cast<size_t>(lb + 1));
    rows = storage.data();
  }
  int* prev2 = rows;
  int* prev = rows + (lb + 1);
  int* cur = rows + 2 * (lb + 1);
  for (int j = 0; j <= lb; ++j) prev[j] = std::min(j, over);
  for (int i = 1; i <= la; ++i) {
    std::fill(cur, cur + lb + 1, over);
    cur[0] = std::min(i, over);
    int row_min = cur[0];
    const int lo = std::max(1, i - bound), hi = std::min(lb, i + bound);
    for (int j = lo; j <= hi; ++j) {
      int v = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      v = std::min(v, prev[j] + 1);
      v = std::min(v, cur[j - 1] + 1);
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) v = std::min(v, prev2[j - 2] + 1);
      cur[j] = std::min(v, over);
      row_min = std::min(row_min, cur[j]);
    }
    if (row_min > bound) return over;
    int* t = prev2;
    prev2 = prev;
    prev = cur;
    cur = t;
  }
  return std::min(prev[lb], over);
}

bool IsNumericOrCode(std::string_view term) {
  size_t i = 0;
  while (i < term.size()) {
    unsigned char c = static_cast<unsigned char>(term[i]);
    if (c < 0x80) {
      if (c >= '0' && c <= '9') return true;
      ++i;
      continue;
    }
    char32_t cp;
    size_t len = internal::DecodeUtf8(term, i, &cp);
    if (len == 0) {
      i += internal::InvalidRunLength(term, i);
      continue;
    }
    switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
      case UTF8PROC_CATEGORY_ND:
      case UTF8PROC_CATEGORY_NL:
      case UTF8PROC_CATEGORY_NO:
        return true;
      default:
        break;
    }
    i += len;
  }
  return false;
}

}  // namespace souk::text
