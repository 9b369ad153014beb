// Product search: an inverted index over the catalog with BM25F ranking.
//
// Fields (title, brand, category, tags, description) are analysed by
// souk::text (the same analyzer at index and query time) and scored with
// BM25F: per term, the field frequencies are length-normalised per field,
// weighted, summed into one pseudo-frequency tf', and saturated once:
//   score(d, t) = idf(t) * tf' / (k1 + tf'),
//   tf' = sum_f w_f * tf_f / (1 - b_f + b_f * len_f / avglen_f).
// Because a document's field lengths do not change, tf'/(k1 + tf') is computed
// at index time and stored with each posting; idf is applied at query time.
//
// Layout (hnswlib-style flat data): postings of a term are blocks of
// kBlockSize documents: doc-id deltas as varints, one float impact per doc,
// and per block the last doc id and the largest impact. Top-k over OR queries
// uses MaxScore with block-max skipping, so common words do not scan whole
// lists; AND queries intersect with skipping.
//
// Around that core: AND matching that relaxes to any-word when a page cannot
// be filled, typo tolerance, synonyms (single and multi-word), prefix
// matching of the last word, phrase/proximity boost from title positions,
// filters and facets over item attributes, sorting, pagination, a popularity
// prior, highlighting, autocomplete, and a delta segment for updates.
//
// Thread-safety: a built or loaded Index is immutable; Search, Suggest and
// Highlight are const and safe from any number of threads. SetSynonyms,
// SetPopularQueries, SetPopularity and Update are not: call them before
// serving, or build a new Index and swap it in.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "text/text.h"

namespace souk::search {

struct FieldSpec {
  std::string name;  // title, brand, category, tags, description
  float weight = 1.0f;
  float b = 0.75f;  // length normalisation
};

struct IndexOptions {
  // Defaults favour the title, then brand, category and tags.
  std::vector<FieldSpec> fields = {{"title", 3.0f, 0.75f},
                                   {"brand", 2.0f, 0.5f},
                                   {"category", 1.5f, 0.5f},
                                   {"tags", 1.5f, 0.5f},
                                   {"description", 1.0f, 0.75f}};
  float k1 = 1.2f;
  text::AnalyzerOptions analyzer;
  int threads = 0;  // build threads; 0 = hardware concurrency
};

// One catalog item as the index sees it. `fields` follows IndexOptions::fields.
// What filters and facets look at (kept in the index, one per document).
struct Attributes {
  double price = std::numeric_limits<double>::quiet_NaN();  // NaN = none
  int64_t stock = -1;                                       // -1 = unknown
  std::string brand;
  std::string category;  // "a > b > c"
  std::string tags;      // "x|y"
};

struct Document {
  uint32_t id = 0;  // dense item id; documents must be given in increasing id order
  std::vector<std::string> fields;
  std::string external_id;  // the item_id users see; kept in the index
  Attributes attrs;
};

struct Hit {
  uint32_t doc;
  float score;
};

enum class Match {
  kAll,  // every query term must match (falls back to kAny when nothing matches)
  kAny,  // OR: any term; ranked by BM25F
};

struct QueryOptions {
  size_t k = 10;
  Match match = Match::kAll;
  size_t max_terms = 64;  // longer queries are an InvalidArgument
  // Typo tolerance: a query word that is not in the index (and has no digit)
  // also matches index terms within 1 edit (words of >= 4 characters) or 2
  // edits (>= 8), scored at typo_weight of a true match.
  bool typos = true;
  float typo_weight = 0.8f;
  // Synonyms (Index::SetSynonyms): a query word also matches its synonyms,
  // scored at synonym_weight.
  bool synonyms = true;
  float synonym_weight = 0.9f;
  // A filter expression (see ParseFilter); empty = none. A syntax error is
  // an InvalidArgument naming the column and what was expected.
  std::string filter;
  // Facets to count: any of "brand", "category", "tags", "price".
  std::vector<std::string> facets;
  size_t facet_size = 10;  // values per facet
  // Search-as-you-type: the last word, when the query does not end with a
  // space, also matches index words that start with it.
  bool prefix_last = false;
  // Word order in the title (kAll only): when every query word is in the
  // title, in query order and adjacent, the score is multiplied by
  // 1 + phrase_boost; otherwise by 1 + proximity_boost * (words - 1) /
  // (span - 1), span being the title positions the words cover.
  float phrase_boost = 0.25f;
  float proximity_boost = 0.10f;
  // kAll relaxes to any-word matching when fewer than this many documents
  // have every word; 0 = k (offset + k when paginating).
  size_t relax_below = 0;
  // Results to skip (pagination: page * per_page); hits holds k after them.
  size_t offset = 0;
  enum class Sort { kRelevance, kPriceAsc, kPriceDesc, kPopularity } sort = Sort::kRelevance;
  // Relevance blended with the popularity prior: score + prior_weight *
  // popularity / max popularity. 0 = off (the default, and what benchmarks use).
  // Applied to the best max(100, 4 * (offset + k)) documents by BM25F.
  float prior_weight = 0.0f;
};

struct FacetValue {
  std::string value;
  uint64_t count = 0;
};

struct SearchResult {
  std::vector<Hit> hits;                 // best first
  uint64_t found = 0;                    // documents matching (exact for kAll, lower bound for kAny)
  std::vector<std::string> terms;        // the analysed query terms
  std::vector<std::string> corrections;  // "shoos->shoes" for typo-corrected words
  // The query spelt with the closest catalog words, when some word of it is
  // not in the catalog ("runnign shoos" -> "running shoes"); empty otherwise.
  std::string did_you_mean;
  bool relaxed = false;  // kAll found nothing and kAny was used
  // Facet counts over every matching document (QueryOptions::facets), values
  // by count, most first (price buckets in price order).
  std::vector<std::pair<std::string, std::vector<FacetValue>>> facets;
};

class Index {
 public:
  ~Index();

  // Builds the index. `docs` in increasing id order (ids may have gaps).
  static std::unique_ptr<Index> Build(const std::vector<Document>& docs, const IndexOptions& options,
                                      std::shared_ptr<const text::Dictionary> dict);

  // Saves to / loads from one file. Load checks the format version.
  Status Save(const std::string& path) const;
  static Result<std::unique_ptr<Index>> Load(const std::string& path, std::shared_ptr<const text::Dictionary> dict);

  // Incremental updates: `upserts` (new or changed documents, by id) and
  // `deletes` become searchable at once, without a rebuild: they go to a
  // small delta segment (rebuilt on each call, scored with this index's
  // statistics) and the replaced documents of the main segment are masked.
  // Not thread-safe with concurrent Search (callers swap whole indexes).
  // An index with pending updates cannot be saved; rebuild it instead.
  Status Update(const std::vector<Document>& upserts, const std::vector<uint32_t>& deletes);
  size_t pending_updates() const;
  // The catalog version (e.g. the latest item update time) the index was
  // built from; saved with it.
  void SetCatalogVersion(int64_t ms);
  int64_t CatalogVersion() const;

  // The popularity prior: per document, e.g. log(1 + weighted event counts).
  // Kept in the saved index.
  void SetPopularity(const std::vector<std::pair<uint32_t, float>>& doc_popularity);

  // Autocomplete: what shoppers searched (normalised query text -> count),
  // usually from the store's search events. Kept in the saved index.
  void SetPopularQueries(const std::vector<std::pair<std::string, uint64_t>>& queries);

  struct Suggestion {
    std::string text;
    uint64_t count = 0;  // times searched (0 for a completion from the catalog's words)
  };
  // Completions of `prefix` (normalised like queries): past searches that
  // start with it, most searched first, then catalog words that complete its
  // last word, most common first. An empty prefix gives the most popular
  // searches.
  std::vector<Suggestion> Suggest(std::string_view prefix, size_t k) const;

  // Highlighting: `text` with the query's words marked (pre/post around each
  // matching word, found through the analyzer, so "running" is marked for
  // the query "run"); for text longer than max_bytes, a window of about
  // max_bytes around the first match, with "…" at cut ends. HTML callers
  // escape text themselves (markers are inserted as given).
  std::string Highlight(std::string_view query, std::string_view text, std::string_view pre = "<em>",
                        std::string_view post = "</em>", size_t max_bytes = 200) const;

  // Synonym groups: each group is a list of words or phrases that mean the
  // same ("sneakers, trainers"). Terms are analysed like queries; a group
  // entry of several words contributes its words as alternatives. Not
  // thread-safe with concurrent Search: set before serving.
  void SetSynonyms(const std::vector<std::vector<std::string>>& groups);

  // Searches. InvalidArgument for queries over max_terms terms.
  Result<SearchResult> Search(std::string_view query, const QueryOptions& options) const;

  // Which documents a filter expression (QueryOptions::filter syntax)
  // matches: a byte per doc id (1 = match), sized to cover every id;
  // pending updates count. InvalidArgument for a syntax error.
  Result<std::vector<uint8_t>> MatchFilter(std::string_view filter) const;

  size_t num_docs() const;
  // The external id of a document ("" if none was given).
  const std::string& ExternalId(uint32_t doc) const;
  size_t num_terms() const;
  size_t MemoryBytes() const;
  // "bm25f:k1=1.2,title=3/0.75,...;text:stem=1,..."
  std::string Describe() const;

  struct Rep;

 private:
  explicit Index(std::unique_ptr<Rep> rep);
  static std::unique_ptr<Index> BuildWithBase(const std::vector<Document>& docs, const IndexOptions& options,
                                              std::shared_ptr<const text::Dictionary> dict, const Rep* base);
  std::unique_ptr<Rep> rep_;
};

// ---- relevance evaluation ------------------------------------------------------

struct Judgment {
  std::string query;
  std::string item_id;
  int grade = 0;  // 0 = not relevant; higher is better
};

struct EvalMetrics {
  size_t queries = 0;
  double ndcg10 = 0;     // gains 2^grade - 1, ideal from the judgments
  double mrr = 0;        // reciprocal rank of the first item with grade > 0 (within the top 100)
  double recall100 = 0;  // share of grade > 0 items in the top 100
};

// Runs every distinct judged query (k = 100) and averages the metrics over
// queries that have at least one relevant item.
Result<EvalMetrics> Evaluate(const Index& index, const std::vector<Judgment>& judgments, const QueryOptions& options);

// The same metrics for any ranker: `rank` returns the external item ids it
// ranks for a query, best first (the first 100 count).
using Ranker = std::function<Result<std::vector<std::string>>(const std::string& query)>;
Result<EvalMetrics> EvaluateRanker(const std::vector<Judgment>& judgments, const Ranker& rank);

// ---- hybrid search: fusing ranked lists ----------------------------------------

// Reciprocal rank fusion (Cormack et al. 2009): score(d) = sum over the
// lists that hold d of 1 / (rrf_k + rank), rank 1-based. Scores of the
// inputs are ignored, so lists on different scales (BM25F, cosine) fuse
// without tuning. Best k first; ties by lower doc id.
std::vector<Hit> FuseRrf(const std::vector<std::vector<Hit>>& lists, size_t k, double rrf_k = 60);

// Weighted blend of min-max normalised scores: each list's scores are mapped
// to [0, 1] (best = 1, the list's worst = 0; a one-element or constant list
// gives 1), a doc missing from a list gets 0 there, and
// score = (1 - weight) * a + weight * b. weight in [0, 1]: 0 = a alone.
// Best k first; ties by lower doc id.
std::vector<Hit> FuseBlend(const std::vector<Hit>& a, const std::vector<Hit>& b, double weight, size_t k);

// ---- query intent ----------------------------------------------------------------

// A classifier from query text to leaf category ("a > b > c"), trained from
// (query, category of the item picked next) pairs of the search log:
// multinomial logistic regression (softmax) over hashed features of the
// analysed query -- word unigrams, word bigrams and the character trigrams of
// each word (with boundary marks) -- fitted by AdaGrad SGD with L2. Training
// is deterministic given the seed (one thread, seeded shuffles).
// Thread-safety: a trained or loaded model is immutable; Predict is const.
struct IntentOptions {
  uint32_t hash_bits = 18;  // 2^hash_bits feature buckets
  int epochs = 5;
  float learning_rate = 0.5f;  // AdaGrad step
  float l2 = 1e-6f;            // per-update L2 on the weights a pair touches
  uint64_t seed = 42;
  text::AnalyzerOptions analyzer;
};

struct IntentPair {
  std::string query;
  std::string category;
};

struct IntentPrediction {
  std::string category;
  float probability = 0;
};

class IntentModel {
 public:
  ~IntentModel();
  // InvalidArgument when `pairs` is empty or hash_bits is outside [8, 24].
  static Result<std::unique_ptr<IntentModel>> Train(const std::vector<IntentPair>& pairs, const IntentOptions& options);
  // The k most likely categories, most likely first (fewer when the model
  // knows fewer categories; none for a query without features).
  std::vector<IntentPrediction> Predict(std::string_view query, size_t k) const;
  // p(category | query) for every category, indexed like categories().
  std::vector<float> Probabilities(std::string_view query) const;
  const std::vector<std::string>& categories() const;

  // One file: magic "SOUKINT1", version, options, categories, weights.
  // Load: NotFound for a missing file, Corruption for a truncated or
  // damaged one, FailedPrecondition for another format version.
  Status Save(const std::string& path) const;
  static Result<std::unique_ptr<IntentModel>> Load(const std::string& path);
  // "intent:bits=18,epochs=5,lr=0.5,l2=1e-06,classes=N"
  std::string Describe() const;

  struct Rep;

 private:
  explicit IntentModel(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

// Held-out split by distinct query text: a query is held out when a hash of
// its text falls in the first `share` of the hash range (so every pair of a
// query lands on the same side).
bool IsHeldOutQuery(std::string_view query, double share);

struct IntentAccuracy {
  size_t pairs = 0;
  double at1 = 0, at3 = 0;  // share of pairs whose category is in the top 1 / top 3
};
IntentAccuracy EvaluateIntent(const IntentModel& model, const std::vector<IntentPair>& pairs);

// Re-ranks `hits` (best first) by the predicted category of each document
// (`category_of(doc)`, the catalog path): boost multiplies each score by
// 1 + weight * p(category); filter keeps the hits in categories with
// p >= 0.5 when the top prediction's p >= threshold (all of them, and the
// unfiltered list when none is left).
enum class IntentMode { kNone, kBoost, kFilter };
struct IntentRerankOptions {
  IntentMode mode = IntentMode::kNone;
  float weight = 1.0f;
  float threshold = 0.7f;
};
std::vector<Hit> ApplyIntent(const IntentModel& model, std::string_view query, std::vector<Hit> hits,
                             const std::function<const std::string&(uint32_t doc)>& category_of,
                             const IntentRerankOptions& options);

}  // namespace souk::search
