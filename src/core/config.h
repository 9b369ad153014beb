// souk.toml: every setting is declared once, in the table in config.cc (name,
// type, default, description). The TOML loader, `souk config` (and through it
// docs/config.md) and the defaults written by `souk init` all come from that
// table, so they cannot disagree.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/status.h"

namespace souk {

enum class SettingType { kInt, kDouble, kBool, kString };

struct SettingDef {
  std::string_view name;  // "section.key"
  SettingType type;
  std::string_view default_value;  // as TOML would spell it (strings unquoted)
  std::string_view description;
};

// The table of all settings, in documentation order.
const std::vector<SettingDef>& AllSettings();

// The values in force: defaults overridden by souk.toml. Cheap to copy.
// Reading a name that is not in the table is a programmer error (assert).
class Config {
 public:
  // All defaults.
  Config();

  // Loads `path` over the defaults. A missing file gives the defaults; an
  // unknown key, a wrong type or a TOML syntax error is InvalidArgument naming
  // the file, line and key.
  static Result<Config> Load(const std::string& path);

  // Sets one value from its text form ("10", "0.5", "true", "text").
  Status Set(std::string_view name, std::string_view value);

  int64_t GetInt(std::string_view name) const;
  double GetDouble(std::string_view name) const;
  bool GetBool(std::string_view name) const;
  const std::string& GetString(std::string_view name) const;

  // The value of a setting as text, for display.
  std::string Text(std::string_view name) const;

  // A commented souk.toml with every setting at its current value.
  std::string ToToml() const;
  // docs/config.md: one table per section.
  static std::string Markdown();

 private:
  using Value = std::variant<int64_t, double, bool, std::string>;
  const Value& Get(std::string_view name) const;
  std::map<std::string, Value, std::less<>> values_;
};

}  // namespace souk
