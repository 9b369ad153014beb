// Xapian 1.4 as a search peer: BM25 (default parameters) over the plain
// text of title and description, English stemming (STEM_SOME), queries
// parsed with OR as the default operator. Fairness notes in
// docs/search-bench.md.
//
// Index layout: INDEX_DIR/db is a compacted glass database; Xapian document
// id = doc_id + 1 (Xapian ids start at 1), so a search never reads
// document data.
#include <xapian.h>

#include <filesystem>
#include <limits>
#include <vector>

#include "common.h"

namespace souk::bench {
namespace {

namespace fs = std::filesystem;

// Parser flags: phrases only (so "over-ear" is the phrase "over ear", as in
// FTS5), no boolean operators and no +/- love/hate, so every query is just
// an OR of its words, as in fts5_bench.
// FLAG_CJK_NGRAM: Han text as unigrams and bigrams at index and query time,
// Xapian 1.4's own answer to unsegmented Chinese (without it a whole Han run
// is one term and a query word inside a title never matches).
constexpr unsigned kParserFlags = Xapian::QueryParser::FLAG_PHRASE | Xapian::QueryParser::FLAG_CJK_NGRAM;

Status FromXapian(const Xapian::Error& e) { return Status::IoError("xapian: " + e.get_description()); }

class XapianSearcher : public Searcher {
 public:
  explicit XapianSearcher(const std::string& path) : db_(path), enquire_(db_), stem_("english") {
    enquire_.set_weighting_scheme(Xapian::BM25Weight());
    parser_.set_stemmer(stem_);
    parser_.set_stemming_strategy(Xapian::QueryParser::STEM_SOME);
    parser_.set_default_op(Xapian::Query::OP_OR);
  }

  Status Search(std::string_view query, size_t k, std::vector<uint32_t>* ids) override {
    ids->clear();
    try {
      Xapian::Query q;
      try {
        q = parser_.parse_query(std::string(query), kParserFlags);
      } catch (const Xapian::QueryParserError&) {
        // 1.4.22's parser rejects a Han run between two other words under
        // FLAG_CJK_NGRAM ("z330 扫地机器人 30w" is a parse error, each word
        // alone is not): parse word by word and OR the parts, which is the
        // query the parser builds when it succeeds.
        std::vector<Xapian::Query> parts;
        size_t i = 0;
        while (i < query.size()) {
          while (i < query.size() && query[i] == ' ') ++i;
          size_t j = query.find(' ', i);
          if (j == std::string_view::npos) j = query.size();
          if (j > i) parts.push_back(parser_.parse_query(std::string(query.substr(i, j - i)), kParserFlags));
          i = j;
        }
        q = Xapian::Query(Xapian::Query::OP_OR, parts.begin(), parts.end());
      }
      enquire_.set_query(q);
      const Xapian::MSet mset = enquire_.get_mset(0, static_cast<Xapian::doccount>(k));
      for (auto it = mset.begin(); it != mset.end(); ++it) ids->push_back(*it - 1);
    } catch (const Xapian::Error& e) {
      return FromXapian(e);
    }
    return Status::Ok();
  }

 private:
  Xapian::Database db_;  // one per searcher: Xapian objects are not thread-safe
  Xapian::Enquire enquire_;
  Xapian::Stem stem_;
  Xapian::QueryParser parser_;
};

class XapianEngine : public Engine {
 public:
  std::string Name() const override { return "xapian"; }

  std::string Describe() const override {
    return std::string("xapian-") + Xapian::version_string() +
           ":glass,compacted,bm25(k1=1,k2=0,k3=1,b=0.5,min_normlen=0.5),stem=english/some,"
           "text=title+description(wdf_inc=1,positions),cjk=ngram,op=or";
  }

  Status Build(std::span<const Doc> docs, const std::string& dir) override {
    const std::string tmp = dir + "/build.tmp";
    try {
      {
        Xapian::WritableDatabase db(tmp, Xapian::DB_CREATE_OR_OVERWRITE | Xapian::DB_BACKEND_GLASS);
        Xapian::TermGenerator indexer;
        indexer.set_stemmer(Xapian::Stem("english"));
        indexer.set_stemming_strategy(Xapian::TermGenerator::STEM_SOME);
        indexer.set_flags(Xapian::TermGenerator::FLAG_CJK_NGRAM);
        for (const Doc& doc : docs) {
          if (doc.id == std::numeric_limits<uint32_t>::max()) {
            return Status::InvalidArgument("doc_id 4294967295 does not fit a Xapian docid");
          }
          Xapian::Document xdoc;
          indexer.set_document(xdoc);
          indexer.index_text(std::string(doc.title));
          indexer.increase_termpos();  // no phrase spans title and description
          indexer.index_text(std::string(doc.description));
          db.replace_document(doc.id + 1, xdoc);
        }
        db.commit();
      }
      // Compacting is Xapian's counterpart of FTS5's 'optimize': full blocks,
      // one B-tree per table. Keep the ids (doc_id + 1).
      Xapian::Database(tmp).compact(dir + "/db", Xapian::DBCOMPACT_NO_RENUMBER);
    } catch (const Xapian::Error& e) {
      return FromXapian(e);
    }
    std::error_code ec;
    fs::remove_all(tmp, ec);
    if (ec) return Status::IoError("cannot remove " + tmp + ": " + ec.message());
    return Status::Ok();
  }

  Status Open(const std::string& dir, uint64_t* docs) override {
    path_ = dir + "/db";
    try {
      *docs = Xapian::Database(path_).get_doccount();
    } catch (const Xapian::Error& e) {
      return FromXapian(e);
    }
    return Status::Ok();
  }

  Result<std::unique_ptr<Searcher>> NewSearcher() override {
    try {
      return std::unique_ptr<Searcher>(std::make_unique<XapianSearcher>(path_));
    } catch (const Xapian::Error& e) {
      return FromXapian(e);
    }
  }

 private:
  std::string path_;
};

}  // namespace
}  // namespace souk::bench

int main(int argc, char** argv) {
  souk::bench::XapianEngine engine;
  return souk::bench::BenchMain(argc, argv, engine);
}
