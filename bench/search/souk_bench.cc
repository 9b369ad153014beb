// souk's own index as a benchmark engine, configured like the Xapian peer so
// results are comparable: one field (title + description), BM25 with k1 = 1
// and b = 0.5 (Xapian's BM25Weight defaults), English stemming, OR queries
// (souk's --exact mode). Index layout: INDEX_DIR/souk.idx.
#include <cstdlib>
#include <string_view>

#include "common.h"
#include "search/search.h"
#include "text/text.h"

namespace souk::bench {
namespace {

// SOUK_BENCH_CJK=bigram: Han text as character bigrams (search.cjk = false)
// instead of jieba words, closer to Xapian's n-grams.
bool Bigrams() {
  const char* v = std::getenv("SOUK_BENCH_CJK");
  return v != nullptr && std::string_view(v) == "bigram";
}

Result<std::shared_ptr<const text::Dictionary>> Dictionary() {
  if (Bigrams()) return std::shared_ptr<const text::Dictionary>();
  return text::LoadDictionary();
}

search::IndexOptions Options() {
  search::IndexOptions o;
  o.fields = {{"text", 1.0f, 0.5f}};
  o.k1 = 1.0f;
  return o;
}

class SoukSearcher : public Searcher {
 public:
  explicit SoukSearcher(const search::Index* index) : index_(index) {}
  Status Search(std::string_view query, size_t k, std::vector<uint32_t>* ids) override {
    ids->clear();
    search::QueryOptions qo;
    qo.k = k;
    qo.match = search::Match::kAny;  // OR, like the peers; typos and synonyms off
    qo.typos = false;
    qo.synonyms = false;
    auto r = index_->Search(query, qo);
    if (!r.ok()) return r.status();
    for (const auto& h : r->hits) ids->push_back(h.doc);
    return Status::Ok();
  }

 private:
  const search::Index* index_;
};

class SoukEngine : public Engine {
 public:
  std::string Name() const override { return "souk"; }
  std::string Describe() const override {
    return index_ ? index_->Describe()
                  : std::string("bm25f:k1=1,text=1/0.5;text:stem=1,stop=0,cjk=") + (Bigrams() ? "bigram" : "jieba");
  }
  Status Build(std::span<const Doc> docs, const std::string& dir) override {
    SOUK_ASSIGN_OR_RETURN(dict_, Dictionary());
    std::vector<search::Document> in;
    in.reserve(docs.size());
    for (const Doc& d : docs) {
      search::Document doc;
      doc.id = d.id;
      std::string t(d.title);
      t += ' ';
      t += d.description;
      doc.fields.push_back(std::move(t));
      in.push_back(std::move(doc));
    }
    index_ = search::Index::Build(in, Options(), dict_);
    return index_->Save(dir + "/souk.idx");
  }
  Status Open(const std::string& dir, uint64_t* docs) override {
    SOUK_ASSIGN_OR_RETURN(dict_, Dictionary());
    SOUK_ASSIGN_OR_RETURN(index_, search::Index::Load(dir + "/souk.idx", dict_));
    *docs = index_->num_docs();
    return Status::Ok();
  }
  Result<std::unique_ptr<Searcher>> NewSearcher() override {
    return std::unique_ptr<Searcher>(new SoukSearcher(index_.get()));
  }

 private:
  std::shared_ptr<const text::Dictionary> dict_;
  std::unique_ptr<search::Index> index_;
};

}  // namespace
}  // namespace souk::bench

int main(int argc, char** argv) {
  souk::bench::SoukEngine engine;
  return souk::bench::BenchMain(argc, argv, engine);
}
