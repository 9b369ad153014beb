// Filter expressions over document attributes (internal to src/search).
//
//   price:[10 TO 50] AND brand:acme AND category:"shoes > running"
//     AND stock:>0 AND NOT tag:refurbished
//
// Grammar (case-insensitive keywords AND, OR, NOT, TO; AND binds tighter
// than OR; juxtaposition means AND; parentheses group):
//   expr   := and ("OR" and)*
//   and    := unary (["AND"] unary)*
//   unary  := "NOT" unary | "(" expr ")" | clause
//   clause := field ":" value
//   field  := price | stock | brand | category | tag | tags
//   value  := "[" number "TO" number "]" | ("<" | "<=" | ">" | ">=" | "=") number
//           | number | "quoted text" | word
// brand and tag compare whole values case- and accent-insensitively;
// category matches a run of consecutive path components ("shoes > running"
// matches "Sports > Shoes > Running > Trail"); numbers compare numerically,
// and an item without a price or stock never matches a numeric clause.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace souk::search {

struct FilterNode {
  enum Kind { kAnd, kOr, kNot, kNumber, kText } kind;
  std::vector<std::unique_ptr<FilterNode>> children;
  std::string field;  // price, stock, brand, category, tag
  double lo = 0, hi = 0;
  bool lo_open = false, hi_open = false;  // exclusive bounds
  std::string text;                       // normalised value for brand/category/tag
};

// Parses a filter. Errors say "filter: column N: expected X, found Y".
// `normalize` maps text values the way indexed attributes are normalised.
Result<std::unique_ptr<FilterNode>> ParseFilter(std::string_view text, std::string (*normalize)(std::string_view));

}  // namespace souk::search
