#include "src/config.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include <boost/program_options.hpp>
#include "src/base/access_log_format.h"
#include "src/bind_address.h"

namespace thriftd {
namespace po = boost::program_options;
namespace {

const char kPositionalApp[] = "app-positional";

std::string Quoted(const std::string& text) { return "\"" + text + "\""; }

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
  bool repeatable = setting.type == SettingType::kList || setting.type == SettingType::kBind ||
                    setting.type == SettingType::kKeyValue;
  if (!repeatable) return scalar(node);
  *value = DefaultValue(setting);
  if (setting.type == SettingType::kBind || setting.type == SettingType::kList)
    *value = std::vector<std::string>();
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
                                              Quoted(pair.first.Scalar())));
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

Status CommandLineError(const std::string& source, const po::error& error) {
  if (const auto* unknown = dynamic_cast<const po::unknown_option*>(&error)) {
    std::string name = unknown->get_option_name();
    name = name.substr(0, name.find('='));  // --wrokers=3 names --wrokers
    std::string bare = name.substr(name.find_first_not_of('-'));
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
      const Setting* setting = FindSettingByFlag(name.substr(name.find_first_not_of('-')));
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

template <typename V>
const V& Get(const std::map<std::string, ConfigLayer::Entry>& values, const char* name) {
  return std::get<V>(values.at(name).value);
}

}  // namespace

std::string Origin::Describe() const {
  if (line > 0) return source + ":" + std::to_string(line) + ": " + key;
  return source + ": " + key;
}

const Origin& Config::OriginOf(const std::string& name) const { return resolved.at(name).origin; }

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
  for (const auto& pair : root) {
    Origin origin{source, pair.first.Mark().line + 1, pair.first.Scalar()};
    const std::string& key = pair.first.Scalar();
    const Setting* setting = FindSetting(key);
    if (setting == nullptr || setting->command_line_only) {
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
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return Status::Error(from.Describe() + ": cannot read " + path + ": " + std::strerror(EISDIR));
  }
  std::ifstream file(path);
  if (!file) {
    int err = errno;
    return Status::Error(from.Describe() + ": cannot read " + path + ": " + std::strerror(err));
  }
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) return Status::Error(from.Describe() + ": cannot read " + path);
  return ParseYamlConfig(text.str(), path, layer);
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
    if (setting->type == SettingType::kList || setting->type == SettingType::kBind)
      entry.value = std::vector<std::string>();
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
  if (!status.ok()) return status;
  if (env_args) {
    std::vector<std::string> words;
    try {
      words = po::split_unix(*env_args);
    } catch (const std::exception& error) {
      return Status::Error(std::string("THRIFTD_CMD_ARGS: cannot split into words: ") +
                           error.what());
    }
    status = ParseArguments(words, "THRIFTD_CMD_ARGS", &environment);
    if (!status.ok()) return status;
  }
  const ConfigLayer::Entry* config_entry = nullptr;
  if (auto it = environment.entries.find("config"); it != environment.entries.end())
    config_entry = &it->second;
  if (auto it = command_line.entries.find("config"); it != command_line.entries.end())
    config_entry = &it->second;
  if (config_entry != nullptr) {
    status =
        LoadYamlConfigFile(std::get<std::string>(config_entry->value), config_entry->origin, &file);
    if (!status.ok()) return status;
  }

  std::map<std::string, ConfigLayer::Entry> values;
  for (const Setting& setting : Settings())
    values[setting.name] = {DefaultValue(setting), Origin{"default", 0, setting.name}};
  Overlay(file, &values);
  Overlay(environment, &values);
  Overlay(command_line, &values);

  Config resolved;
  resolved.config_file = Get<std::string>(values, "config");
  resolved.check_config = Get<bool>(values, "check_config");
  resolved.print_config = Get<bool>(values, "print_config");
  resolved.version = Get<bool>(values, "version");
  resolved.help = Get<bool>(values, "help");
  resolved.app = Get<std::string>(values, "app");
  resolved.app_config = Get<std::map<std::string, std::string>>(values, "app_config");
  resolved.bind = Get<std::vector<std::string>>(values, "bind");
  resolved.backlog = static_cast<int>(Get<std::int64_t>(values, "backlog"));
  resolved.workers = static_cast<int>(Get<std::int64_t>(values, "workers"));
  resolved.worker_class = Get<std::string>(values, "worker_class");
  resolved.graceful_timeout = Get<double>(values, "graceful_timeout");
  resolved.threads = static_cast<int>(Get<std::int64_t>(values, "threads"));
  resolved.worker_connections = static_cast<int>(Get<std::int64_t>(values, "worker_connections"));
  resolved.max_requests = Get<std::int64_t>(values, "max_requests");
  resolved.max_requests_jitter = Get<std::int64_t>(values, "max_requests_jitter");
  resolved.fiber_check_interval = Get<double>(values, "fiber_check_interval");
  resolved.fiber_stack_size = Get<std::int64_t>(values, "fiber_stack_size");
  resolved.thrift_transport_factory = Get<std::string>(values, "thrift_transport_factory");
  resolved.thrift_protocol_factory = Get<std::string>(values, "thrift_protocol_factory");
  resolved.thrift_client_timeout = Get<double>(values, "thrift_client_timeout");
  resolved.thrift_max_frame_size = Get<std::int64_t>(values, "thrift_max_frame_size");
  resolved.thrift_max_message_size = Get<std::int64_t>(values, "thrift_max_message_size");
  resolved.pidfile = Get<std::string>(values, "pidfile");
  resolved.errorlog = Get<std::string>(values, "errorlog");
  resolved.timeout = Get<double>(values, "timeout");
  resolved.accesslog = Get<std::string>(values, "accesslog");
  resolved.access_log_format = Get<std::string>(values, "access_log_format");
  resolved.metrics_bind = Get<std::string>(values, "metrics_bind");
  resolved.loglevel = *ParseLogLevel(Get<std::string>(values, "loglevel"));
  resolved.resolved = std::move(values);

  // THeaderProtocol reads and writes the header framing itself; over a
  // buffered or framed transport the bytes would be framed twice.
  if (resolved.thrift_protocol_factory == "header" &&
      resolved.thrift_transport_factory != "header") {
    return Status::Error(resolved.OriginOf("thrift_protocol_factory").Describe() +
                         ": header needs thrift_transport_factory header, got " +
                         Quoted(resolved.thrift_transport_factory) + " (from " +
                         resolved.OriginOf("thrift_transport_factory").Describe() + ")");
  }
  AccessLogFormat format;
  Status format_status = AccessLogFormat::Parse(resolved.access_log_format, &format);
  if (!format_status.ok()) {
    return format_status.Prepend(resolved.OriginOf("access_log_format").Describe());
  }
  if (!resolved.metrics_bind.empty()) {
    BindAddress address;
    if (!ParseBindAddress(resolved.metrics_bind, &address) ||
        address.kind != BindAddress::Kind::kTcp) {
      return Status::Error(resolved.OriginOf("metrics_bind").Describe() +
                           ": expected HOST:PORT, got \"" + resolved.metrics_bind + "\"");
    }
  }
  if (resolved.bind.empty()) {
    return Status::Error(resolved.OriginOf("bind").Describe() + ": expected " +
                         ExpectedText(*FindSetting("bind")) + ", got none");
  }
  *config = std::move(resolved);
  return Status::Ok();
}

WorkerSettings WorkerSettingsOf(const Config& config) {
  WorkerSettings settings;
  settings.app = config.app;
  settings.app_config = config.app_config;
  settings.worker_class = config.worker_class;
  settings.threads = config.threads;
  settings.worker_connections = config.worker_connections;
  settings.max_requests = config.max_requests;
  settings.max_requests_jitter = config.max_requests_jitter;
  settings.graceful_timeout = config.graceful_timeout;
  settings.fiber_check_interval = config.fiber_check_interval;
  settings.fiber_stack_size = config.fiber_stack_size;
  settings.thrift_transport_factory = config.thrift_transport_factory;
  settings.thrift_protocol_factory = config.thrift_protocol_factory;
  settings.thrift_client_timeout = config.thrift_client_timeout;
  settings.thrift_max_frame_size = config.thrift_max_frame_size;
  settings.thrift_max_message_size = config.thrift_max_message_size;
  settings.accesslog = config.accesslog;
  settings.access_log_format = config.access_log_format;
  return settings;
}

std::string PrintConfig(const Config& config) {
  std::ostringstream out;
  for (const Setting& setting : Settings()) {
    if (setting.command_line_only) continue;
    out << setting.name << ": "
        << FormatSettingValue(setting, config.resolved.at(setting.name).value) << "\n";
  }
  return out.str();
}

std::string HelpText() {
  std::ostringstream out;
  out << "usage: thriftd [OPTIONS] [PATH.so[:NAME]]\n\n"
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
    if (*setting.default_text != '\0' && setting.type != SettingType::kBool)
      out << " [" << setting.default_text << "]";
    out << "\n";
  }
  out << "\nSignals to the master: TERM graceful stop, INT/QUIT quick stop, HUP reload,\n"
         "TTIN/TTOU one worker more/fewer. See thriftd(1).\n";
  return out.str();
}

}  // namespace thriftd
