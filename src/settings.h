// The settings table: every thriftd setting (name, YAML key, command-line
// flag, type, default, help, section), generated from THRIFTD_SETTINGS in
// src/base/setting_list.h, as gunicorn's config.py is for gunicorn. The CLI,
// the YAML loader, --print-config, --help and the man page are all driven by it.
#ifndef THRIFTD_SRC_SETTINGS_H_
#define THRIFTD_SRC_SETTINGS_H_

#include <cctype>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "src/base/log.h"
#include "src/base/setting_list.h"
#include "src/base/status.h"

namespace YAML {
class Emitter;
}  // namespace YAML

namespace thriftd {

// A setting that names a file is of a path kind (kFile, kPlugin,
// kWorkerClass, kBind): a relative path in it read from the config file means
// a path beside that file (src/setting_paths.h).
enum class SettingType {
  kString,
  kFile,    ///< a file; "" (unset) and "-" (a standard stream, for the logs) name none
  kPlugin,  ///< a shared object: PATH.so[:NAME]
  kBool,
  kCount,        ///< integer from min_value to max_value
  kOctal,        ///< a file mode bit mask, 0 to 0777, as gunicorn reads one: 022, 0o22 or 18
  kSeconds,      ///< number of seconds (fractions allowed), >= 0
  kChoice,       ///< one of `choices`
  kWorkerClass,  ///< one of `choices`, or a custom kind's PATH.so[:NAME]
  kKeyValue,     ///< repeatable KEY=VALUE; a higher source overrides key by key
  kBind,  ///< repeatable bind entry (src/bind_entry.h; unix:PATH too); a higher source replaces the
          ///< whole list
};

/// A setting's value once parsed. Which alternative is held follows the type:
/// kBool: bool; kCount, kOctal: int64; kSeconds: double;
/// kString/kFile/kPlugin/kChoice/kWorkerClass: string; kBind: vector; kKeyValue: map.
using SettingValue = std::variant<bool, std::int64_t, double, std::string, std::vector<std::string>,
                                  std::map<std::string, std::string>>;

/// Who acts on a setting (the `scope` column of THRIFTD_SETTINGS).
enum class SettingScope {
  kCommandLine,  ///< -c, --check-config ...: a switch of this run, not a YAML key
  kMaster,       ///< the master only
  kWorker,       ///< also every worker, in its WorkerSettings
  kListener,  ///< every worker, once per listener, in a ListenerSettings (a bind entry may set it)
};

/// One row of the table; see src/base/setting_list.h for the columns.
struct Setting {
  const char* name;  ///< YAML key and Config field; underscores ("graceful_timeout")
  /// Long option without dashes ("graceful-timeout"); "" = no --flag: the
  /// App, given positionally on the command line (or as `app:`).
  const char* flag;
  char short_flag;  ///< 'w' for -w, or 0
  SettingType type;
  SettingValue default_value;
  std::string default_text;  ///< the default as the user would write it; "" = unset
  std::vector<const char*> choices;
  std::int64_t min_value;  ///< kCount only: the smallest accepted value
  std::int64_t max_value;  ///< kCount only: the largest
  const char* metavar;     ///< placeholder in --help ("INT", "ADDRESS")
  const char* section;
  const char* help;  ///< one line
  SettingScope scope;

  bool command_line_only() const { return scope == SettingScope::kCommandLine; }
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
/// Writes the value as YAML (strings double-quoted, lists and maps in flow
/// style; an unset string as null), so that it reads back as the same value.
void EmitSettingValue(const Setting& setting, const SettingValue& value, YAML::Emitter* out);
/// The value as it would be written in YAML, on one line.
std::string FormatSettingValue(const Setting& setting, const SettingValue& value);
/// `text` as a YAML double-quoted scalar, for error messages: one line whatever it holds.
std::string QuotedText(const std::string& text);
/// The default; an empty value of the right type when unset.
SettingValue DefaultValue(const Setting& setting);

/// A Config or WorkerSettings field's value as the table holds it: the log
/// level by its name, every other type as itself.
template <typename T>
SettingValue ToSettingValue(const T& field) {
  if constexpr (std::is_same_v<T, LogLevel>) {
    std::string name = LogLevelName(field);  // "INFO", as log lines spell it
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return name;
  } else {
    return field;
  }
}

/// The inverse of ToSettingValue, for a value that parsed as its setting.
template <typename T>
T FromSettingValue(const SettingValue& value) {
  if constexpr (std::is_same_v<T, LogLevel>) {
    return ParseLogLevel(std::get<std::string>(value)).value_or(LogLevel::kInfo);
  } else {
    return std::get<T>(value);
  }
}

}  // namespace thriftd

#endif  // THRIFTD_SRC_SETTINGS_H_
