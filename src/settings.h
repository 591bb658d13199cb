// The settings table: the single source of truth for every thriftd setting
// (name, YAML key, command-line flag, type, default, help, section), as
// gunicorn's config.py is for gunicorn. The CLI, the YAML loader,
// --print-config, --help and the man page are all driven by it.
#ifndef THRIFTD_SRC_SETTINGS_H_
#define THRIFTD_SRC_SETTINGS_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "src/base/status.h"

namespace thriftd {

enum class SettingType {
  kString,
  kBool,
  kCount,        ///< integer >= min_value
  kSeconds,      ///< number of seconds (fractions allowed), >= 0
  kChoice,       ///< one of `choices`
  kWorkerClass,  ///< one of `choices`, or a custom kind's PATH.so[:NAME]
  kList,         ///< repeatable string; a higher source replaces the whole list
  kKeyValue,     ///< repeatable KEY=VALUE; a higher source overrides key by key
  kBind,         ///< repeatable bind address; a higher source replaces the whole list
};

/// A setting's value once parsed. Which alternative is held follows the type:
/// kBool: bool; kCount: int64; kSeconds: double; kString/kChoice/kWorkerClass: string;
/// kList/kBind: vector; kKeyValue: map.
using SettingValue = std::variant<bool, std::int64_t, double, std::string, std::vector<std::string>,
                                  std::map<std::string, std::string>>;

struct Setting {
  const char* name;  ///< YAML key; underscores ("graceful_timeout")
  const char* flag;  ///< long option without dashes ("graceful-timeout"); "" = file only
  char short_flag;   ///< 'w' for -w, or 0
  SettingType type;
  const char* default_text;  ///< default as the user would write it; "" = unset
  std::vector<const char*> choices;
  std::int64_t min_value;  ///< kCount only
  const char* metavar;     ///< placeholder in --help ("INT", "ADDRESS")
  const char* section;
  const char* help;                ///< one line
  bool command_line_only = false;  ///< -c, --check-config ...: not a YAML key
};

/// Every setting, in the order --help and --print-config show them.
const std::vector<Setting>& Settings();
/// The row whose YAML name is `name`, or nullptr.
const Setting* FindSetting(std::string_view name);
/// The row whose long flag is `flag` (without dashes), or nullptr.
const Setting* FindSettingByFlag(std::string_view flag);
/// The closest known name or flag to a misspelling, or "" when none is close.
std::string SuggestName(std::string_view unknown, bool flags);

/// What a setting accepts, for error messages: "a positive integer".
std::string ExpectedText(const Setting& setting);
/// Parses a setting's text form (a command-line value, a YAML scalar). For
/// repeatable types it parses one element and appends it to *value.
/// The error message is "expected ..., got ..." without location.
Status ParseSettingText(const Setting& setting, const std::string& text, SettingValue* value);
/// The value as it would be written in YAML (for --print-config).
std::string FormatSettingValue(const Setting& setting, const SettingValue& value);
/// The default, parsed; an empty value of the right type when unset.
SettingValue DefaultValue(const Setting& setting);

}  // namespace thriftd

#endif  // THRIFTD_SRC_SETTINGS_H_
