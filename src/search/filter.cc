#include "search/filter.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <limits>

#include "core/core.h"

namespace souk::search {
namespace {

struct Tok {
  enum Kind { kEnd, kWord, kQuoted, kColon, kLParen, kRParen, kLBracket, kRBracket, kOp } kind;
  std::string text;
  size_t column;  // 1-based
};

Result<std::vector<Tok>> Lex(std::string_view s) {
  std::vector<Tok> out;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    size_t col = i + 1;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      ++i;
      continue;
    }
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F)
      return Status::InvalidArgument(fmt::format("filter: column {}: control character", col));
    if (c == ':')
      out.push_back({Tok::kColon, ":", col}), ++i;
    else if (c == '(')
      out.push_back({Tok::kLParen, "(", col}), ++i;
    else if (c == ')')
      out.push_back({Tok::kRParen, ")", col}), ++i;
    else if (c == '[')
      out.push_back({Tok::kLBracket, "[", col}), ++i;
    else if (c == ']')
      out.push_back({Tok::kRBracket, "]", col}), ++i;
    else if (c == '<' || c == '>' || c == '=') {
      std::string op(1, c);
      ++i;
      if (c != '=' && i < s.size() && s[i] == '=') op += '=', ++i;
      out.push_back({Tok::kOp, op, col});
    } else if (c == '"') {
      std::string v;
      ++i;
      bool closed = false;
      while (i < s.size()) {
        if (s[i] == '\\' && i + 1 < s.size()) {
          v += s[i + 1];
          i += 2;
        } else if (s[i] == '"') {
          closed = true;
          ++i;
          break;
        } else {
          v += s[i++];
        }
      }
      if (!closed) return Status::InvalidArgument(fmt::format("filter: column {}: unterminated quoted text", col));
      out.push_back({Tok::kQuoted, v, col});
    } else {
      size_t b = i;
      while (i < s.size() && !std::strchr(" \t\r\n:()[]<>=\"", s[i])) ++i;
      out.push_back({Tok::kWord, std::string(s.substr(b, i - b)), col});
    }
  }
  out.push_back({Tok::kEnd, "end of filter", s.size() + 1});
  return out;
}

class Parser {
 public:
  Parser(std::vector<Tok> toks, std::string (*normalize)(std::string_view))
      : toks_(std::move(toks)), normalize_(normalize) {}

  Result<std::unique_ptr<FilterNode>> Parse() {
    SOUK_ASSIGN_OR_RETURN(auto e, Or());
    if (Peek().kind != Tok::kEnd) return Expected("AND, OR or the end of the filter");
    return e;
  }

 private:
  const Tok& Peek() const { return toks_[pos_]; }
  bool IsKeyword(const char* kw) const {
    return Peek().kind == Tok::kWord && ToLowerAscii(Peek().text) == ToLowerAscii(kw);
  }
  Status Expected(std::string_view what) const {
    const Tok& t = Peek();
    std::string found =
        t.kind == Tok::kEnd ? std::string("the end of the filter") : fmt::format("'{}'", Shorten(t.text, 30));
    return Status::InvalidArgument(fmt::format("filter: column {}: expected {}, found {}", t.column, what, found));
  }

  Result<std::unique_ptr<FilterNode>> Or() {
    SOUK_ASSIGN_OR_RETURN(auto left, And());
    if (!IsKeyword("OR")) return left;
    auto node = std::make_unique<FilterNode>();
    node->kind = FilterNode::kOr;
    node->children.push_back(std::move(left));
    while (IsKeyword("OR")) {
      ++pos_;
      SOUK_ASSIGN_OR_RETURN(auto right, And());
      node->children.push_back(std::move(right));
    }
    return node;
  }

  Result<std::unique_ptr<FilterNode>> And() {
    SOUK_ASSIGN_OR_RETURN(auto left, Unary());
    std::unique_ptr<FilterNode> node;
    for (;;) {
      if (IsKeyword("AND")) {
        ++pos_;
      } else if (Peek().kind == Tok::kEnd || Peek().kind == Tok::kRParen || IsKeyword("OR")) {
        break;
      }
      SOUK_ASSIGN_OR_RETURN(auto right, Unary());
      if (!node) {
        node = std::make_unique<FilterNode>();
        node->kind = FilterNode::kAnd;
        node->children.push_back(std::move(left));
      }
      node->children.push_back(std::move(right));
    }
    return node ? std::move(node) : std::move(left);
  }

  Result<std::unique_ptr<FilterNode>> Unary() {
    if (IsKeyword("NOT")) {
      ++pos_;
      SOUK_ASSIGN_OR_RETURN(auto inner, Unary());
      auto node = std::make_unique<FilterNode>();
      node->kind = FilterNode::kNot;
      node->children.push_back(std::move(inner));
      return node;
    }
    if (Peek().kind == Tok::kLParen) {
      ++pos_;
      SOUK_ASSIGN_OR_RETURN(auto inner, Or());
      if (Peek().kind != Tok::kRParen) return Expected("')'");
      ++pos_;
      return inner;
    }
    return Clause();
  }

  Result<double> Number() {
    if (Peek().kind != Tok::kWord) return Expected("a number");
    auto v = ParseDouble(Peek().text);
    if (!v || std::isnan(*v)) return Expected("a number");
    ++pos_;
    return *v;
  }

  Result<std::unique_ptr<FilterNode>> Clause() {
    if (Peek().kind != Tok::kWord) return Expected("a field (price, stock, brand, category, tag)");
    std::string field = ToLowerAscii(Peek().text);
    if (field == "tags") field = "tag";
    bool numeric = field == "price" || field == "stock";
    if (!numeric && field != "brand" && field != "category" && field != "tag")
      return Expected("a field (price, stock, brand, category, tag)");
    ++pos_;
    if (Peek().kind != Tok::kColon) return Expected("':' after the field name");
    ++pos_;
    auto node = std::make_unique<FilterNode>();
    node->field = field;
    if (numeric) {
      node->kind = FilterNode::kNumber;
      node->lo = -std::numeric_limits<double>::infinity();
      node->hi = std::numeric_limits<double>::infinity();
      if (Peek().kind == Tok::kLBracket) {
        ++pos_;
        SOUK_ASSIGN_OR_RETURN(node->lo, Number());
        if (!IsKeyword("TO")) return Expected("TO");
        ++pos_;
        SOUK_ASSIGN_OR_RETURN(node->hi, Number());
        if (Peek().kind != Tok::kRBracket) return Expected("']'");
        ++pos_;
        if (node->lo > node->hi)
          return Status::InvalidArgument(
              fmt::format("filter: {}: the range [{} TO {}] is empty", field, node->lo, node->hi));
      } else if (Peek().kind == Tok::kOp) {
        std::string op = Peek().text;
        ++pos_;
        SOUK_ASSIGN_OR_RETURN(double v, Number());
        if (op == ">")
          node->lo = v, node->lo_open = true;
        else if (op == ">=")
          node->lo = v;
        else if (op == "<")
          node->hi = v, node->hi_open = true;
        else if (op == "<=")
          node->hi = v;
        else
          node->lo = node->hi = v;
      } else {
        SOUK_ASSIGN_OR_RETURN(double v, Number());
        node->lo = node->hi = v;
      }
      return node;
    }
    node->kind = FilterNode::kText;
    if (Peek().kind != Tok::kWord && Peek().kind != Tok::kQuoted) return Expected("a value");
    node->text = normalize_(Peek().text);
    ++pos_;
    if (node->text.empty()) return Expected("a non-empty value");
    return node;
  }

  std::vector<Tok> toks_;
  std::string (*normalize_)(std::string_view);
  size_t pos_ = 0;
};

}  // namespace

Result<std::unique_ptr<FilterNode>> ParseFilter(std::string_view text, std::string (*normalize)(std::string_view)) {
  if (!IsValidUtf8(text)) return Status::InvalidArgument("filter: invalid UTF-8");
  SOUK_ASSIGN_OR_RETURN(auto toks, Lex(text));
  if (toks.size() == 1)
    return Status::InvalidArgument("filter: column 1: expected a field, found the end of the filter");
  Parser p(std::move(toks), normalize);
  return p.Parse();
}

}  // namespace souk::search
