// Streaming readers for import files (internal to src/ingest; the public API
// is ingest.h). Both read the file in large blocks and hand out one record at
// a time, so memory stays bounded by the block size and the longest record.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace souk::ingest {

// A buffered file that hands out records (spans of bytes) ending at a newline
// that is not inside double quotes (CSV) or at any newline (JSONL).
class RecordScanner {
 public:
  struct Options {
    bool csv_quotes = true;  // newlines inside "..." do not end a record
    char delimiter = ',';    // CSV only: where a quoted field may start
    size_t max_record_bytes = 1 << 20;
    size_t block_bytes = 4 << 20;
  };
  struct Record {
    std::string_view text;    // without the line terminator; truncated if too_long
    int64_t line = 0;         // physical line where the record starts (1-based)
    int64_t lines = 1;        // physical lines it spans
    uint64_t full_bytes = 0;  // length before truncation
    bool too_long = false;
    bool eof_in_quotes = false;  // the file ended inside a quoted field
  };

  static Result<std::unique_ptr<RecordScanner>> Open(const std::string& path, const Options& options);
  ~RecordScanner();

  // The next record, or false at the end of the file. Blank lines are skipped.
  // Returns an I/O error status through status() when a read fails.
  bool Next(Record* rec);
  const Status& status() const { return status_; }
  uint64_t file_size() const { return file_size_; }
  uint64_t consumed() const { return consumed_; }

 private:
  RecordScanner() = default;
  bool Fill();  // reads more; false at EOF or error

  std::FILE* file_ = nullptr;
  Options options_;
  std::vector<char> buf_;
  size_t begin_ = 0, end_ = 0;  // unconsumed bytes are buf_[begin_, end_)
  bool eof_ = false;
  bool first_ = true;
  int64_t line_ = 1;
  uint64_t file_size_ = 0, consumed_ = 0;
  std::string long_record_;  // the kept prefix of an over-long record
  Status status_;
};

// Splits one CSV record (RFC 4180) into fields. Quoted fields may contain the
// delimiter, newlines and doubled quotes. A quote inside an unquoted field is
// kept literally (as most producers expect). Fields are views into `text` or
// into `scratch` (for fields with doubled quotes); both must outlive them.
// Returns an error message, or empty on success.
std::string SplitCsv(std::string_view text, char delimiter, std::vector<std::string_view>* fields,
                     std::string* scratch);

}  // namespace souk::ingest
