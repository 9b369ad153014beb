// What every command prints the same way: errors and JSON lines.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"

namespace souk::cli {

int Fail(const Status& s) {
  std::fprintf(stderr, "souk: error: %s\n", s.message().c_str());
  return 1;
}

void PrintJson(const nlohmann::json& j) {
  std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
}

}  // namespace souk::cli
