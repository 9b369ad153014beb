// SQLite FTS5 as a search peer: one table docs(title, description) with the
// porter + unicode61 tokenizer, ranked by FTS5's built-in bm25() (k1 = 1.2,
// b = 0.75, both columns weight 1), queries an OR of their quoted words.
// Fairness notes in docs/search-bench.md.
//
// Index layout: INDEX_DIR/fts5.db; FTS5 rowid = doc_id.
#include <sqlite3.h>

#include "common.h"

namespace souk::bench {
namespace {

constexpr const char* kFile = "/fts5.db";
// Ties in bm25 are broken by rowid so the order matches Xapian's (ascending
// docid) and is deterministic.
constexpr const char* kQuerySql = "SELECT rowid FROM docs WHERE docs MATCH ?1 ORDER BY bm25(docs), rowid LIMIT ?2";

Status SqliteError(sqlite3* db, std::string_view what) {
  return Status::IoError(std::string(what) + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

// Opens path; on failure closes the handle and returns the error.
Status OpenDb(const std::string& path, int flags, sqlite3** db) {
  if (sqlite3_open_v2(path.c_str(), db, flags, nullptr) == SQLITE_OK) return Status::Ok();
  Status status = SqliteError(*db, "open " + path);
  sqlite3_close(*db);
  *db = nullptr;
  return status;
}

Status Exec(sqlite3* db, const char* sql) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return SqliteError(db, sql);
  return Status::Ok();
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// The FTS5 MATCH expression for a free-text query: each whitespace-separated
// word quoted (inner quotes doubled), joined by OR, so FTS5 syntax in the
// query ("AND", "NOT", "col:", "*", parentheses) is just text. A word the
// tokenizer splits (over-ear, 1.5l) becomes a phrase, as in Xapian.
std::string MatchExpression(std::string_view query) {
  std::string out;
  size_t i = 0;
  while (i < query.size()) {
    while (i < query.size() && IsSpace(query[i])) ++i;
    if (i == query.size()) break;
    if (!out.empty()) out += " OR ";
    out += '"';
    for (; i < query.size() && !IsSpace(query[i]); ++i) {
      if (query[i] == '"') out += '"';
      out += query[i];
    }
    out += '"';
  }
  return out;
}

class Fts5Searcher : public Searcher {
 public:
  ~Fts5Searcher() override {
    sqlite3_finalize(stmt_);
    sqlite3_close(db_);
  }

  Status Open(const std::string& path) {
    // NOMUTEX: this connection is only ever used by one thread.
    SOUK_RETURN_IF_ERROR(OpenDb(path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, &db_));
    if (sqlite3_prepare_v2(db_, kQuerySql, -1, &stmt_, nullptr) != SQLITE_OK) return SqliteError(db_, kQuerySql);
    return Status::Ok();
  }

  Status Search(std::string_view query, size_t k, std::vector<uint32_t>* ids) override {
    ids->clear();
    match_ = MatchExpression(query);
    if (match_.empty()) return Status::Ok();
    sqlite3_reset(stmt_);
    sqlite3_bind_text(stmt_, 1, match_.data(), static_cast<int>(match_.size()), SQLITE_STATIC);
    sqlite3_bind_int64(stmt_, 2, static_cast<sqlite3_int64>(k));
    int rc;
    while ((rc = sqlite3_step(stmt_)) == SQLITE_ROW) {
      ids->push_back(static_cast<uint32_t>(sqlite3_column_int64(stmt_, 0)));
    }
    if (rc != SQLITE_DONE) return SqliteError(db_, "match '" + match_ + "'");
    return Status::Ok();
  }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  std::string match_;  // bound with SQLITE_STATIC: must live until the next reset
};

class Fts5Engine : public Engine {
 public:
  std::string Name() const override { return "fts5"; }

  std::string Describe() const override {
    return std::string("fts5:sqlite-") + sqlite3_libversion() +
           ",tokenize=porter unicode61,detail=full,bm25(k1=1.2,b=0.75,weights=1/1),optimized,op=or";
  }

  Status Build(std::span<const Doc> docs, const std::string& dir) override {
    sqlite3* db = nullptr;
    SOUK_RETURN_IF_ERROR(OpenDb(dir + kFile, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &db));
    Status status = Insert(db, docs);
    if (sqlite3_close(db) != SQLITE_OK && status.ok()) status = Status::IoError("close " + dir + kFile);
    return status;
  }

  Status Open(const std::string& dir, uint64_t* docs) override {
    path_ = dir + kFile;
    sqlite3* db = nullptr;
    SOUK_RETURN_IF_ERROR(OpenDb(path_, SQLITE_OPEN_READONLY, &db));
    sqlite3_stmt* stmt = nullptr;
    Status status;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM docs", -1, &stmt, nullptr) != SQLITE_OK ||
        sqlite3_step(stmt) != SQLITE_ROW) {
      status = SqliteError(db, "count docs");
    } else {
      *docs = static_cast<uint64_t>(sqlite3_column_int64(stmt, 0));
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return status;
  }

  Result<std::unique_ptr<Searcher>> NewSearcher() override {
    auto searcher = std::make_unique<Fts5Searcher>();
    SOUK_RETURN_IF_ERROR(searcher->Open(path_));
    return std::unique_ptr<Searcher>(std::move(searcher));
  }

 private:
  // Everything in one transaction, then 'optimize' merges the segments into
  // one b-tree, as a read-mostly catalog would be kept.
  static Status Insert(sqlite3* db, std::span<const Doc> docs) {
    SOUK_RETURN_IF_ERROR(
        Exec(db, "CREATE VIRTUAL TABLE docs USING fts5(title, description, tokenize='porter unicode61')"));
    SOUK_RETURN_IF_ERROR(Exec(db, "BEGIN"));
    sqlite3_stmt* stmt = nullptr;
    const char* sql = "INSERT INTO docs(rowid, title, description) VALUES(?1, ?2, ?3)";
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) return SqliteError(db, sql);
    for (const Doc& doc : docs) {
      sqlite3_bind_int64(stmt, 1, doc.id);
      sqlite3_bind_text(stmt, 2, doc.title.data(), static_cast<int>(doc.title.size()), SQLITE_STATIC);
      sqlite3_bind_text(stmt, 3, doc.description.data(), static_cast<int>(doc.description.size()), SQLITE_STATIC);
      if (sqlite3_step(stmt) != SQLITE_DONE) {
        Status status = SqliteError(db, "insert doc " + std::to_string(doc.id));
        sqlite3_finalize(stmt);
        return status;
      }
      sqlite3_reset(stmt);
    }
    sqlite3_finalize(stmt);
    SOUK_RETURN_IF_ERROR(Exec(db, "COMMIT"));
    return Exec(db, "INSERT INTO docs(docs) VALUES('optimize')");
  }

  std::string path_;
};

}  // namespace
}  // namespace souk::bench

int main(int argc, char** argv) {
  // Memory statistics take a global mutex on every allocation, which would
  // serialize the threads of the QPS pass; souk's own store turns them off too.
  sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  souk::bench::Fts5Engine engine;
  return souk::bench::BenchMain(argc, argv, engine);
}
