#include "ingest/csv.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace souk::ingest {

Result<std::unique_ptr<RecordScanner>> RecordScanner::Open(const std::string& path, const Options& options) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return Status::NotFound(fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
  if (S_ISDIR(st.st_mode)) return Status::InvalidArgument(fmt::format("'{}' is a directory, not a file", path));
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return Status::NotFound(fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
  std::unique_ptr<RecordScanner> s(new RecordScanner());
  s->file_ = f;
  s->options_ = options;
  s->file_size_ = static_cast<uint64_t>(st.st_size);
  s->buf_.resize(std::max(options.block_bytes, options.max_record_bytes + 1) * 2);
  return s;
}

RecordScanner::~RecordScanner() {
  if (file_) std::fclose(file_);
}

bool RecordScanner::Fill() {
  if (eof_) return false;
  if (begin_ > 0) {  // move the unconsumed tail to the front
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == buf_.size()) buf_.resize(buf_.size() * 2);
  size_t n = std::fread(buf_.data() + end_, 1, buf_.size() - end_, file_);
  if (n == 0) {
    if (std::ferror(file_)) status_ = Status::IoError(fmt::format("read failed: {}", std::strerror(errno)));
    eof_ = true;
    return false;
  }
  if (first_) {
    first_ = false;
    if (n >= 3 && std::memcmp(buf_.data() + end_, "\xEF\xBB\xBF", 3) == 0) {  // UTF-8 BOM
      std::memmove(buf_.data() + end_, buf_.data() + end_ + 3, n - 3);
      n -= 3;
      consumed_ += 3;
    }
  }
  end_ += n;
  return true;
}

bool RecordScanner::Next(Record* rec) {
  for (;;) {
    // Scan from begin_ for the end of the record, refilling as needed. `pos`
    // and the quote state persist across refills (offsets relative to begin_).
    size_t rel = 0;
    // CSV state machine: a quote opens a quoted field only at a field's start;
    // inside one, "" is an escaped quote. The state survives refills.
    enum { kFieldStart, kUnquoted, kQuoted, kQuoteInQuoted } state = kFieldStart;
    int64_t newlines = 0;
    bool too_long = false;
    uint64_t dropped = 0;  // bytes of an over-long record already discarded
    long_record_.clear();
    const char delim = options_.delimiter;
    for (;;) {
      const char* p = buf_.data() + begin_ + rel;
      const char* e = buf_.data() + end_;
      if (options_.csv_quotes) {
        for (; p < e; ++p) {
          char c = *p;
          if (state == kQuoted) {
            if (c == '"')
              state = kQuoteInQuoted;
            else if (c == '\n')
              ++newlines;
            continue;
          }
          if (c == '\n') break;
          if (state == kQuoteInQuoted)
            state = c == '"' ? kQuoted : c == delim ? kFieldStart : kUnquoted;
          else if (c == delim)
            state = kFieldStart;
          else if (state == kFieldStart)
            state = c == '"' ? kQuoted : kUnquoted;
        }
      } else {
        const void* nl = std::memchr(p, '\n', e - p);
        p = nl ? static_cast<const char*>(nl) : e;
      }
      rel = p - (buf_.data() + begin_);
      if (p < e) break;  // found the terminating newline
      // Need more bytes. Keep memory bounded for over-long records: keep the
      // prefix once and drop the rest as it streams by.
      if (rel > options_.max_record_bytes) {
        if (!too_long) {
          too_long = true;
          long_record_.assign(buf_.data() + begin_, options_.max_record_bytes);
        }
        dropped += rel;
        consumed_ += rel;
        begin_ += rel;
        rel = 0;
      }
      if (!Fill()) {
        // End of file: whatever is left is the last record.
        rel = end_ - begin_;
        break;
      }
    }
    bool at_eof = begin_ + rel >= end_;
    if (rel == 0 && at_eof && dropped == 0) return false;
    std::string_view text(buf_.data() + begin_, rel);
    size_t advance = rel + (at_eof ? 0 : 1);
    begin_ += advance;
    consumed_ += advance;
    uint64_t full = dropped + rel;
    if (!too_long && full > options_.max_record_bytes) {
      too_long = true;
      long_record_.assign(text.data(), options_.max_record_bytes);
    }
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    rec->line = line_;
    rec->lines = 1 + newlines;
    line_ += 1 + newlines;
    // Blank lines carry nothing: skip them (they are not records).
    if (!too_long && text.find_first_not_of(" \t") == std::string_view::npos) {
      if (at_eof) return false;
      continue;
    }
    rec->too_long = too_long;
    rec->full_bytes = full;
    rec->eof_in_quotes = options_.csv_quotes && state == kQuoted;
    rec->text = too_long ? std::string_view(long_record_) : text;
    return true;
  }
}

std::string SplitCsv(std::string_view text, char delimiter, std::vector<std::string_view>* fields,
                     std::string* scratch) {
  fields->clear();
  scratch->clear();
  scratch->reserve(text.size());  // views into scratch must never move
  size_t i = 0, n = text.size();
  for (;;) {
    if (i < n && text[i] == '"') {
      // Quoted field.
      size_t j = i + 1;
      bool has_escapes = false;
      for (;;) {
        size_t q = text.find('"', j);
        if (q == std::string_view::npos) return fmt::format("unterminated quoted field {}", fields->size() + 1);
        if (q + 1 < n && text[q + 1] == '"') {
          has_escapes = true;
          j = q + 2;
          continue;
        }
        j = q;
        break;
      }
      std::string_view inner = text.substr(i + 1, j - i - 1);
      if (has_escapes) {
        size_t start = scratch->size();
        for (size_t k = 0; k < inner.size(); ++k) {
          scratch->push_back(inner[k]);
          if (inner[k] == '"') ++k;  // skip the second quote of a pair
        }
        fields->emplace_back(scratch->data() + start, scratch->size() - start);
      } else {
        fields->push_back(inner);
      }
      i = j + 1;
      if (i == n) return {};
      if (text[i] != delimiter)
        return fmt::format("unexpected character '{}' after the closing quote of field {}",
                           text[i] == '\r' ? std::string("\\r") : std::string(1, text[i]), fields->size());
      ++i;
      continue;
    }
    size_t d = text.find(delimiter, i);
    if (d == std::string_view::npos) {
      fields->push_back(text.substr(i));
      return {};
    }
    fields->push_back(text.substr(i, d - i));
    i = d + 1;
  }
}

}  // namespace souk::ingest
