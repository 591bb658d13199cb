#include "src/config.h"

#include <iomanip>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include <boost/program_options.hpp>
#include "src/base/access_log_format.h"
#include "src/base/bind_address.h"
#include "src/base/read_whole_file.h"
#include "src/bind_entry.h"
#include "src/setting_paths.h"

namespace thriftd {
namespace po = boost::program_options;
namespace {

const char kPositionalApp[] = "app-positional";

Status AtOrigin(const Origin& origin, Status status) { return status.Prepend(origin.Describe()); }

// --- YAML -------------------------------------------------------------------

Status ParseYamlValue(const Setting& setting, const YAML::Node& node, const Origin& origin,
                      SettingValue* value) {
  auto scalar = [&](const YAML::Node& element) -> Status {
    if (!element.IsScalar()) {
      return AtOrigin(origin, Status::Error("expected " + ExpectedText(setting) + ", got a YAML " +
                                            (element.IsMap() ? "mapping" : "sequence")));
    }
    return AtOrigin(origin, ParseSettingText(setting, element.Scalar(), value));
  };
  bool repeatable = setting.type == SettingType::kBind || setting.type == SettingType::kKeyValue;
  if (!repeatable) return scalar(node);
  *value = DefaultValue(setting);
  if (setting.type == SettingType::kBind) *value = std::vector<std::string>();
  if (setting.type == SettingType::kBind) {
    // One entry, or a sequence of them: an address, or a map that also sets
    // the listener's own settings; each error names the entry's line.
    auto entry = [&](const YAML::Node& element) -> Status {
      Origin at{origin.source, element.Mark().line + 1, origin.key};
      std::string text;
      Status status = BindEntryFromYaml(element, &text);
      if (!status.ok()) return AtOrigin(at, std::move(status));
      std::get<std::vector<std::string>>(*value).push_back(text);
      return Status::Ok();
    };
    if (!node.IsSequence()) return entry(node);
    for (const YAML::Node& element : node) {
      Status status = entry(element);
      if (!status.ok()) return status;
    }
    return Status::Ok();
  }
  if (node.IsSequence()) {
    for (const YAML::Node& element : node) {
      Status status = scalar(element);
      if (!status.ok()) return status;
    }
    return Status::Ok();
  }
  if (node.IsMap() && setting.type == SettingType::kKeyValue) {
    for (const auto& pair : node) {
      if (!pair.second.IsScalar() && !pair.second.IsNull()) {
        return AtOrigin(origin, Status::Error("expected a string value for key " +
                                              QuotedText(pair.first.Scalar())));
      }
      std::get<std::map<std::string, std::string>>(*value)[pair.first.Scalar()] =
          pair.second.IsNull() ? "" : pair.second.Scalar();
    }
    return Status::Ok();
  }
  return scalar(node);
}

// --- command line -------------------------------------------------------------

po::options_description CommandLineOptions() {
  po::options_description options;
  for (const Setting& setting : Settings()) {
    if (*setting.flag == '\0') continue;
    std::string spelling = setting.flag;
    if (setting.short_flag) spelling += std::string(",") + setting.short_flag;
    // Every option collects all its occurrences: repeatable settings keep
    // them all, the others keep the last, as argparse (gunicorn) does.
    auto* semantic = po::value<std::vector<std::string>>();
    if (setting.type == SettingType::kBool)
      semantic->zero_tokens()->implicit_value(std::vector<std::string>{"true"}, "true");
    options.add_options()(spelling.c_str(), semantic, setting.help);
  }
  options.add_options()(kPositionalApp, po::value<std::string>(), "the App");
  return options;
}

// "--workers" -> "workers"; "-" and "--" (an option named by dashes alone,
// as in "-=3") -> "".
std::string WithoutDashes(std::string name) {
  name.erase(0, name.find_first_not_of('-'));
  return name;
}

Status CommandLineError(const std::string& source, const po::error& error) {
  if (const auto* unknown = dynamic_cast<const po::unknown_option*>(&error)) {
    std::string name = unknown->get_option_name();
    name = name.substr(0, name.find('='));  // --wrokers=3 names --wrokers
    std::string bare = WithoutDashes(name);
    std::string suggestion = SuggestName(bare, /*flags=*/true);
    std::string message = source + ": unknown option " + name;
    if (!suggestion.empty()) message += " (did you mean --" + suggestion + "?)";
    return Status::Error(message);
  }
  if (dynamic_cast<const po::too_many_positional_options_error*>(&error)) {
    return Status::Error(source + ": more than one App given (expected one PATH.so[:NAME])");
  }
  if (const auto* syntax = dynamic_cast<const po::invalid_command_line_syntax*>(&error)) {
    if (syntax->kind() == po::invalid_command_line_syntax::missing_parameter) {
      std::string name = syntax->get_option_name();
      const Setting* setting = FindSettingByFlag(WithoutDashes(name));
      return Status::Error(source + ": " + name + ": expected " +
                           (setting ? ExpectedText(*setting) : std::string("a value")) +
                           ", got nothing");
    }
  }
  return Status::Error(source + ": " + error.what());
}

// --- merging -------------------------------------------------------------------

void Overlay(const ConfigLayer& higher, std::map<std::string, ConfigLayer::Entry>* merged) {
  for (const auto& [name, entry] : higher.entries) {
    const Setting* setting = FindSetting(name);
    auto& slot = (*merged)[name];
    if (setting->type == SettingType::kKeyValue &&
        std::holds_alternative<std::map<std::string, std::string>>(slot.value)) {
      auto& map = std::get<std::map<std::string, std::string>>(slot.value);
      for (const auto& [key, text] : std::get<std::map<std::string, std::string>>(entry.value))
        map[key] = text;
      slot.origin = entry.origin;
    } else {
      slot = entry;
    }
  }
}

using Values = std::map<std::string, ConfigLayer::Entry>;

// The quote left open at the end of `text` (0: none), as split_unix reads
// quotes and backslashes: either quote character opens or closes a quoted
// part. split_unix takes an open quote to run to the end ("-w \"2" gives
// -w 2), where a shell refuses the line.
char OpenQuote(const std::string& text) {
  char open = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\') {
      ++i;  // the next character is taken as it is
    } else if (c == '"' || c == '\'') {
      open = open == 0 ? c : 0;
    }
  }
  return open;
}

// THRIFTD_CMD_ARGS, split as a shell would, then parsed as a command line.
Status ParseEnvironment(const std::optional<std::string>& env_args, ConfigLayer* layer) {
  if (!env_args) return Status::Ok();
  if (char quote = OpenQuote(*env_args); quote != 0) {
    return Status::Error(std::string("THRIFTD_CMD_ARGS: a ") + quote + " quote is not closed in " +
                         QuotedText(*env_args));
  }
  std::vector<std::string> words;
  try {
    words = po::split_unix(*env_args);
  } catch (const std::exception& error) {
    return Status::Error(std::string("THRIFTD_CMD_ARGS: cannot split into words: ") + error.what());
  }
  return ParseArguments(words, "THRIFTD_CMD_ARGS", layer);
}

// The file named by -c: the command line's, else THRIFTD_CMD_ARGS's, else none.
Status ReadConfigFile(const ConfigLayer& command_line, const ConfigLayer& environment,
                      ConfigLayer* file) {
  const ConfigLayer::Entry* named = nullptr;
  for (const ConfigLayer* layer : {&environment, &command_line}) {
    if (auto it = layer->entries.find("config_file"); it != layer->entries.end())
      named = &it->second;
  }
  if (named == nullptr) return Status::Ok();
  return LoadYamlConfigFile(std::get<std::string>(named->value), named->origin, file);
}

// Every setting's default, then each layer over it, lowest precedence first.
Values Merge(const std::vector<const ConfigLayer*>& layers) {
  Values values;
  for (const Setting& setting : Settings())
    values[setting.name] = {DefaultValue(setting), Origin{"default", 0, setting.name}};
  for (const ConfigLayer* layer : layers) Overlay(*layer, &values);
  return values;
}

// Each merged value into its Config field (every row of THRIFTD_SETTINGS).
void CopyIntoFields(const Values& values, Config* config) {
#define THRIFTD_COPY_FIELD(name, flag, short_flag, kind, type, ...) \
  config->name = FromSettingValue<type>(values.at(#name).value);
  THRIFTD_SETTINGS(THRIFTD_COPY_FIELD)
#undef THRIFTD_COPY_FIELD
}

// What no single setting can check: settings that must agree, and formats
// parsed by the code that uses them.
Status CheckResolved(const Config& config) {
  // Each listener's own settings must agree (CheckListenerSettings); a
  // listener that sets none of its own has the globals, checked as those.
  // An address is a listener's key (its settings, a connection's hand-over):
  // listed twice, the second would be served with the first one's settings.
  std::set<std::string> addresses;
  for (const std::string& text : config.bind) {
    BindEntry entry;
    if (!ParseBindEntry(text, &entry).ok()) continue;  // parsed with its source
    if (!addresses.insert(entry.address).second)
      return Status::Error(config.OriginOf("bind").Describe() + ": " + entry.address +
                           ": listed twice");
    Status status = CheckListenerSettings(ListenerSettingsOf(config, entry));
    if (status.ok()) continue;
    if (entry.options.empty()) {
      return Status::Error(config.OriginOf("thrift_protocol_factory").Describe() +
                           ": header needs thrift_transport_factory header or framed, got " +
                           QuotedText(config.thrift_transport_factory) + " (from " +
                           config.OriginOf("thrift_transport_factory").Describe() + ")");
    }
    return status.Prepend(config.OriginOf("bind").Describe() + ": " + entry.address);
  }
  AccessLogFormat format;
  Status format_status = AccessLogFormat::Parse(config.access_log_format, &format);
  if (!format_status.ok()) {
    return format_status.Prepend(config.OriginOf("access_log_format").Describe());
  }
  if (!config.metrics_bind.empty()) {
    BindAddress address;
    if (!ParseBindAddress(config.metrics_bind, &address) ||
        address.kind != BindAddress::Kind::kTcp || address.last_port != 0) {
      return Status::Error(config.OriginOf("metrics_bind").Describe() +
                           ": expected HOST:PORT, got " + QuotedText(config.metrics_bind));
    }
  }
  if (config.bind.empty()) {
    return Status::Error(config.OriginOf("bind").Describe() + ": expected " +
                         ExpectedText(*FindSetting("bind")) + ", got none");
  }
  return Status::Ok();
}

}  // namespace

Status RequireApp(const Config& config) {
  if (!config.app.empty()) return Status::Ok();
  return Status::Error("no App given: run thriftd PATH.so[:NAME], or set app: in the config file");
}

std::string Origin::Describe() const {
  if (line > 0) return source + ":" + std::to_string(line) + ": " + key;
  return source + ": " + key;
}

const Origin& Config::OriginOf(const std::string& name) const { return resolved.at(name).origin; }

std::string AppOriginPrefix(const Config& config) {
  const Origin& origin = config.OriginOf("app");
  return origin.line > 0 ? origin.Describe() + ": " : "";
}

Status ParseYamlConfig(const std::string& text, const std::string& source, ConfigLayer* layer) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& error) {
    return Status::Error(source + ":" + std::to_string(error.mark.line + 1) +
                         ": malformed YAML: " + error.msg);
  }
  if (root.IsNull()) return Status::Ok();
  if (!root.IsMap()) {
    return Status::Error(source + ":" + std::to_string(root.Mark().line + 1) +
                         ": expected a mapping of settings (key: value)");
  }
  // yaml-cpp keeps the last of two equal keys silently; a second `workers:`
  // further down a long file is a mistake the operator should hear about.
  std::map<std::string, int> seen;  // key -> its line
  for (const auto& pair : root) {
    Origin origin{source, pair.first.Mark().line + 1, pair.first.Scalar()};
    const std::string& key = pair.first.Scalar();
    auto [first, inserted] = seen.emplace(key, origin.line);
    if (!inserted) {
      return AtOrigin(origin, Status::Error("duplicate key (first set at line " +
                                            std::to_string(first->second) + ")"));
    }
    const Setting* setting = FindSetting(key);
    if (setting == nullptr || setting->command_line_only()) {
      std::string message = "unknown setting";
      std::string suggestion = SuggestName(key, /*flags=*/false);
      if (!suggestion.empty()) message += " (did you mean " + suggestion + "?)";
      return AtOrigin(origin, Status::Error(message));
    }
    if (pair.second.IsNull()) continue;  // `key:` with no value keeps the default
    ConfigLayer::Entry entry{DefaultValue(*setting), origin};
    Status status = ParseYamlValue(*setting, pair.second, origin, &entry.value);
    if (!status.ok()) return status;
    layer->entries[setting->name] = std::move(entry);
  }
  return Status::Ok();
}

Status LoadYamlConfigFile(const std::string& path, const Origin& from, ConfigLayer* layer) {
  std::string text;
  Status status = ReadWholeFile(path, &text);
  if (!status.ok()) return status.Prepend(from.Describe());
  status = ParseYamlConfig(text, path, layer);
  if (!status.ok()) return status;
  // The file's relative paths mean paths beside it: under systemd the
  // working directory is /, wherever the file is.
  std::string directory;
  status = DirectoryOf(path, &directory);
  if (!status.ok()) return status.Prepend(from.Describe());
  for (auto& [name, entry] : layer->entries)
    entry.value = ResolvePaths(*FindSetting(name), entry.value, directory);
  return Status::Ok();
}

Status ParseArguments(const std::vector<std::string>& args, const std::string& source,
                      ConfigLayer* layer) {
  po::variables_map parsed;
  try {
    po::positional_options_description positional;
    positional.add(kPositionalApp, 1);
    auto style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    po::store(po::command_line_parser(args)
                  .options(CommandLineOptions())
                  .positional(positional)
                  .style(style)
                  .run(),
              parsed);
  } catch (const po::error& error) {
    return CommandLineError(source, error);
  }
  for (const auto& [option, raw] : parsed) {
    const Setting* setting =
        option == kPositionalApp ? FindSetting("app") : FindSettingByFlag(option);
    Origin origin{source, 0, option == kPositionalApp ? "app" : "--" + option};
    ConfigLayer::Entry entry{DefaultValue(*setting), origin};
    if (setting->type == SettingType::kBind) entry.value = std::vector<std::string>();
    std::vector<std::string> texts;
    if (const auto* many = boost::any_cast<std::vector<std::string>>(&raw.value())) {
      texts = *many;
    } else {
      texts.push_back(boost::any_cast<std::string>(raw.value()));
    }
    for (const std::string& text : texts) {
      // Each occurrence is checked; for a single-valued setting the last one stays.
      Status status = ParseSettingText(*setting, text, &entry.value);
      if (!status.ok()) return AtOrigin(origin, std::move(status));
    }
    layer->entries[setting->name] = std::move(entry);
  }
  return Status::Ok();
}

Status ResolveConfig(const std::vector<std::string>& args,
                     const std::optional<std::string>& env_args, Config* config) {
  ConfigLayer command_line, environment, file;
  Status status = ParseArguments(args, "command line", &command_line);
  if (status.ok()) status = ParseEnvironment(env_args, &environment);
  if (status.ok()) status = ReadConfigFile(command_line, environment, &file);
  if (!status.ok()) return status;

  Config resolved;
  resolved.resolved = Merge({&file, &environment, &command_line});
  CopyIntoFields(resolved.resolved, &resolved);
  status = CheckResolved(resolved);
  if (!status.ok()) return status;
  *config = std::move(resolved);
  return Status::Ok();
}

WorkerSettings WorkerSettingsOf(const Config& config) {
  WorkerSettings settings;
#define THRIFTD_COPY_WORKER_FIELD(name, flag, short_flag, kind, type, default_value, choices, \
                                  range, metavar, section, scope, help)                       \
  THRIFTD_IF_WORKER_SCOPE(scope, settings.name = config.name;)
  THRIFTD_SETTINGS(THRIFTD_COPY_WORKER_FIELD)
#undef THRIFTD_COPY_WORKER_FIELD
  return settings;
}

std::optional<SettingValue> FieldValue(const Config& config, std::string_view setting_name) {
#define THRIFTD_CONFIG_FIELD_VALUE(name, flag, short_flag, kind, type, ...) \
  if (setting_name == #name) return ToSettingValue<type>(config.name);
  THRIFTD_SETTINGS(THRIFTD_CONFIG_FIELD_VALUE)
#undef THRIFTD_CONFIG_FIELD_VALUE
  return std::nullopt;
}

std::optional<SettingValue> FieldValue(const WorkerSettings& settings,
                                       std::string_view setting_name) {
#define THRIFTD_WORKER_FIELD_VALUE(name, flag, short_flag, kind, type, default_value, choices, \
                                   range, metavar, section, scope, help)                       \
  THRIFTD_IF_WORKER_SCOPE(scope,                                                               \
                          if (setting_name == #name) return ToSettingValue<type>(settings.name);)
  THRIFTD_SETTINGS(THRIFTD_WORKER_FIELD_VALUE)
#undef THRIFTD_WORKER_FIELD_VALUE
  return std::nullopt;
}

std::string PrintConfig(const Config& config) {
  YAML::Emitter out;
  out.SetNullFormat(YAML::LowerNull);
  out << YAML::BeginMap;
  for (const Setting& setting : Settings()) {
    if (setting.command_line_only()) continue;
    out << YAML::Key << setting.name << YAML::Value;
    EmitSettingValue(setting, config.resolved.at(setting.name).value, &out);
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::string HelpText() {
  std::ostringstream out;
  out << "usage: thriftd [OPTIONS] [PATH.so[:NAME]]\n"
         "       thriftd call ...   (call a live Thrift service: thriftd call --help)\n\n"
         "Serves the Thrift App in PATH.so with a supervised pool of worker processes.\n";
  std::string section;
  for (const Setting& setting : Settings()) {
    if (section != setting.section) {
      section = setting.section;
      out << "\n" << section << ":\n";
    }
    std::string left = "  ";
    if (*setting.flag == '\0') {
      left += setting.metavar;
    } else {
      if (setting.short_flag) left += std::string("-") + setting.short_flag + ", ";
      left += std::string("--") + setting.flag;
      if (setting.type == SettingType::kChoice || setting.type == SettingType::kWorkerClass) {
        left += " {";
        for (size_t i = 0; i < setting.choices.size(); ++i)
          left += std::string(i ? "," : "") + setting.choices[i];
        if (setting.type == SettingType::kWorkerClass) left += ",PATH.so";
        left += "}";
      } else if (setting.type != SettingType::kBool) {
        left += std::string(" ") + setting.metavar;
      }
    }
    out << std::left << std::setw(42) << left;
    if (left.size() >= 42) out << "\n" << std::string(42, ' ');
    out << setting.help;
    if (!setting.default_text.empty() && setting.type != SettingType::kBool)
      out << " [" << setting.default_text << "]";
    out << "\n";
  }
  out << "\nSignals to the master: TERM graceful stop, INT/QUIT quick stop, HUP reload,\n"
         "TTIN/TTOU one worker more/fewer, USR1 reopen the logs, USR2 binary upgrade,\n"
         "WINCH stop the old master's workers after an upgrade. See thriftd(1).\n";
  return out.str();
}

}  // namespace thriftd
