// Config: the resolved settings of one thriftd run, and where each came from.
//
// Sources, lowest precedence first: the table's defaults, the YAML file given
// with -c (or `config` in THRIFTD_CMD_ARGS), the THRIFTD_CMD_ARGS environment
// variable, the command line. Every error is one line naming where the bad
// value came from ("thriftd.yaml:3: workers: expected a positive integer, got
// \"-2\""). Runs in the master (at start and on HUP).
#ifndef THRIFTD_SRC_CONFIG_H_
#define THRIFTD_SRC_CONFIG_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/base/log.h"
#include "src/base/setting_list.h"
#include "src/base/status.h"
#include "src/base/worker_settings.h"
#include "src/settings.h"

namespace thriftd {

/// Where a value came from: "thriftd.yaml:3: workers", "command line: --workers".
struct Origin {
  std::string source;  ///< file path, "command line", "THRIFTD_CMD_ARGS" or "default"
  int line = 0;        ///< 1-based line in a file; 0 elsewhere
  std::string key;     ///< as the user spelled it: "workers" or "--workers"
  std::string Describe() const;
};

/// One source's values, by setting name.
struct ConfigLayer {
  struct Entry {
    SettingValue value;
    Origin origin;
  };
  std::map<std::string, Entry> entries;
};

/// Parses YAML settings text. `source` names the file in messages.
Status ParseYamlConfig(const std::string& text, const std::string& source, ConfigLayer* layer);
/// Reads and parses a YAML config file. `from` names who asked for the file.
/// Relative paths in it are taken from the file's directory (ResolvePaths).
Status LoadYamlConfigFile(const std::string& path, const Origin& from, ConfigLayer* layer);
/// Parses command-line style arguments (without argv[0]).
Status ParseArguments(const std::vector<std::string>& args, const std::string& source,
                      ConfigLayer* layer);

/// One run's settings: a field per row of THRIFTD_SETTINGS
/// (src/base/setting_list.h), named as the row and of its C++ type; a
/// default-constructed Config holds every default.
struct Config {
#define THRIFTD_CONFIG_FIELD(name, flag, short_flag, kind, type, default_value, ...) \
  type name = default_value;
  THRIFTD_SETTINGS(THRIFTD_CONFIG_FIELD)
#undef THRIFTD_CONFIG_FIELD

  /// Every setting's value and origin after merging, for --print-config and
  /// for errors found later (a port in use names the line that asked for it).
  std::map<std::string, ConfigLayer::Entry> resolved;
  const Origin& OriginOf(const std::string& name) const;
};

/// How an error about the App begins when a config file named it
/// ("thriftd.yaml:2: app: "); "" when the command line did, where the path
/// says enough.
std::string AppOriginPrefix(const Config& config);

/// Resolves the configuration from the command line (without argv[0]) and
/// the value of THRIFTD_CMD_ARGS (nullopt when unset); reads the config file.
Status ResolveConfig(const std::vector<std::string>& args,
                     const std::optional<std::string>& env_args, Config* config);

/// An error unless `config` names an App (PATH.so[:NAME] on the command
/// line, or `app:`): a run, and a reload, need one. Not part of
/// ResolveConfig, since --version and --print-config do without.
Status RequireApp(const Config& config);

/// The part of `config` a worker process acts on: its kWorker settings.
WorkerSettings WorkerSettingsOf(const Config& config);

/// The field of setting `name` as the table types it (ToSettingValue), or
/// nullopt when the struct has no such field. For tests and tools that walk
/// every setting: the fields themselves are generated from THRIFTD_SETTINGS.
std::optional<SettingValue> FieldValue(const Config& config, std::string_view name);
std::optional<SettingValue> FieldValue(const WorkerSettings& settings, std::string_view name);

/// The resolved configuration as YAML, every setting with its value.
std::string PrintConfig(const Config& config);
/// --help: usage and every option from the settings table, by section.
std::string HelpText();

}  // namespace thriftd

#endif  // THRIFTD_SRC_CONFIG_H_
