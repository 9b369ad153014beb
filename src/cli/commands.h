// Subcommands of `souk` that live outside main.cc (internal to src/cli).
#pragma once

#include <string>
#include <vector>

#include "core/config.h"
#include "store/store.h"

namespace souk::cli {

struct SearchArgs {
  std::string dir;
  std::string query;         // one query, or
  std::string queries_file;  // one query a line -> one JSON line each
  size_t k = 10;
  bool exact = false;  // plain BM25F, OR semantics, no typos or synonyms
  bool typos = true;
  bool synonyms = true;
  std::string filter;               // e.g. price:[10 TO 50] AND brand:acme
  std::vector<std::string> facets;  // brand, category, tags, price
  bool prefix = false;              // search-as-you-type on the last word
  bool highlight = false;           // --json: add the highlighted title of each hit
  std::string sort = "relevance";   // relevance, price_asc, price_desc, popularity
  size_t page = 1;                  // 1-based; k results per page
  double prior_weight = 0;          // from search.prior_weight
  bool json = false;
};

// `souk index DIR`: builds the search index from the catalog and saves it.
int IndexCommand(const std::string& dir, Store* store, const Config& config, bool json);
// `souk search DIR QUERY | --queries FILE`.
int SearchCommand(const SearchArgs& args, Store* store, const Config& config);
// `souk suggest DIR PREFIX [--k N]`.
int SuggestCommand(const std::string& dir, const std::string& prefix, size_t k, Store* store, const Config& config,
                   bool json);
// `souk search-eval DIR --judgments FILE`.
int SearchEvalCommand(const SearchArgs& args, const std::string& judgments, Store* store, const Config& config);

}  // namespace souk::cli
