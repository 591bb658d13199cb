#include "src/bind_entry.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "src/base/bind_address.h"
#include "src/config.h"
#include "src/settings.h"

namespace thriftd {
namespace {

constexpr char kAddressKey[] = "address";

// "thrift_transport_factory, thrift_protocol_factory": what a bind entry may set.
std::string ListenerKeys() {
  std::string keys;
  for (const Setting& setting : Settings()) {
    if (setting.scope == SettingScope::kListener)
      keys += (keys.empty() ? "" : ", ") + std::string(setting.name);
  }
  return keys;
}

// The kListener row named `key`, or an error saying which keys there are.
Status FindListenerSetting(const std::string& key, const Setting** setting) {
  *setting = FindSetting(key);
  if (*setting != nullptr && (*setting)->scope == SettingScope::kListener) return Status::Ok();
  std::string message = "unknown bind entry key " + QuotedText(key);
  std::string suggestion = SuggestName(key, /*flags=*/false);
  const Setting* near = suggestion.empty() ? nullptr : FindSetting(suggestion);
  if (near != nullptr && near->scope == SettingScope::kListener)
    message += " (did you mean " + suggestion + "?)";
  return Status::Error(message + ": expected address or a per-listener setting (" + ListenerKeys() +
                       ")");
}

Status CheckAddress(const std::string& address) {
  BindAddress ignored;
  if (!ParseBindAddress(address, &ignored)) {
    return Status::Error("expected " + ExpectedText(*FindSetting("bind")) + ", got " +
                         QuotedText(address));
  }
  return Status::Ok();
}

// The value of `key` in `config` with the text `value` in its place.
void Override(const std::string& key, const std::string& value, ListenerSettings* settings) {
  const Setting* setting = FindSetting(key);
  SettingValue parsed = DefaultValue(*setting);
  if (!ParseSettingText(*setting, value, &parsed).ok()) return;  // checked with the config
#define THRIFTD_OVERRIDE_LISTENER_FIELD(name, flag, short_flag, kind, type, default_value, \
                                        choices, range, metavar, section, scope, help)     \
  THRIFTD_IF_LISTENER_SCOPE(scope,                                                         \
                            if (key == #name) settings->name = FromSettingValue<type>(parsed);)
  THRIFTD_SETTINGS(THRIFTD_OVERRIDE_LISTENER_FIELD)
#undef THRIFTD_OVERRIDE_LISTENER_FIELD
}

// The kListener settings of `config` itself, for the listener `key`.
ListenerSettings GlobalListenerSettings(const Config& config, const std::string& key) {
  ListenerSettings settings;
  settings.key = key;
#define THRIFTD_COPY_LISTENER_FIELD(name, flag, short_flag, kind, type, default_value, choices, \
                                    range, metavar, section, scope, help)                       \
  THRIFTD_IF_LISTENER_SCOPE(scope, settings.name = config.name;)
  THRIFTD_SETTINGS(THRIFTD_COPY_LISTENER_FIELD)
#undef THRIFTD_COPY_LISTENER_FIELD
  return settings;
}

}  // namespace

std::string BindEntry::ToString() const {
  std::string text = address;
  for (const auto& [key, value] : options) text += "," + key + "=" + value;
  return text;
}

Status ParseBindEntry(const std::string& text, BindEntry* entry) {
  BindEntry parsed;
  std::size_t comma = text.find(',');
  parsed.address = text.substr(0, comma);
  Status status = CheckAddress(parsed.address);
  if (!status.ok()) return status;
  while (comma != std::string::npos) {
    std::size_t start = comma + 1;
    comma = text.find(',', start);
    std::string pair = text.substr(start, comma == std::string::npos ? comma : comma - start);
    std::size_t equals = pair.find('=');
    if (equals == std::string::npos || equals == 0) {
      return Status::Error("expected KEY=VALUE after the address (" + ListenerKeys() + "), got " +
                           QuotedText(pair));
    }
    std::string key = pair.substr(0, equals);
    std::string value = pair.substr(equals + 1);
    const Setting* setting = nullptr;
    status = FindListenerSetting(key, &setting);
    if (!status.ok()) return status;
    for (const auto& [seen, ignored] : parsed.options)
      if (seen == key) return Status::Error(key + ": set twice in one bind entry");
    SettingValue ignored = DefaultValue(*setting);
    status = ParseSettingText(*setting, value, &ignored);
    if (!status.ok()) return status.Prepend(key);
    parsed.options.emplace_back(std::move(key), std::move(value));
  }
  *entry = std::move(parsed);
  return Status::Ok();
}

Status BindEntryFromYaml(const YAML::Node& node, std::string* text) {
  if (node.IsScalar()) {
    BindEntry ignored;
    Status status = ParseBindEntry(node.Scalar(), &ignored);
    if (status.ok()) *text = node.Scalar();
    return status;
  }
  if (!node.IsMap()) {
    return Status::Error(
        "expected an address or a map {address: ADDRESS, KEY: VALUE}, got a "
        "YAML sequence");
  }
  BindEntry entry;
  bool has_address = false;
  for (const auto& pair : node) {
    const std::string& key = pair.first.Scalar();
    if (!pair.second.IsScalar()) {
      return Status::Error(key + ": expected a single value, got a YAML " +
                           (pair.second.IsMap()    ? "mapping"
                            : pair.second.IsNull() ? "null"
                                                   : "sequence"));
    }
    const std::string& value = pair.second.Scalar();
    // The command-line form, which Config::bind holds, splits at commas.
    if (value.find(',') != std::string::npos)
      return Status::Error(key + ": a bind entry's values cannot hold a comma, got " +
                           QuotedText(value));
    if (key == kAddressKey) {
      has_address = true;
      entry.address = value;
      continue;
    }
    const Setting* setting = nullptr;
    Status status = FindListenerSetting(key, &setting);
    if (!status.ok()) return status;
    entry.options.emplace_back(key, value);
  }
  if (!has_address) {
    return Status::Error("expected an address: key in the map (" +
                         std::string("{address: \"127.0.0.1:9090\", KEY: VALUE}") + ")");
  }
  BindEntry checked;
  Status status = ParseBindEntry(entry.ToString(), &checked);
  if (status.ok()) *text = entry.ToString();
  return status;
}

void EmitBindEntry(const std::string& text, YAML::Emitter* out) {
  BindEntry entry;
  if (!ParseBindEntry(text, &entry).ok() || entry.options.empty()) {
    *out << YAML::DoubleQuoted << text;
    return;
  }
  *out << YAML::Flow << YAML::BeginMap;
  *out << YAML::Key << kAddressKey << YAML::Value << YAML::DoubleQuoted << entry.address;
  for (const auto& [key, value] : entry.options) {
    const Setting* setting = FindSetting(key);
    SettingValue parsed = DefaultValue(*setting);
    (void)ParseSettingText(*setting, value, &parsed);  // parsed above
    *out << YAML::Key << key << YAML::Value;
    EmitSettingValue(*setting, parsed, out);
  }
  *out << YAML::EndMap;
}

std::vector<std::string> BindAddresses(const Config& config) {
  std::vector<std::string> addresses;
  for (const std::string& text : config.bind) addresses.push_back(text.substr(0, text.find(',')));
  return addresses;
}

ListenerSettings ListenerSettingsOf(const Config& config, const BindEntry& entry) {
  ListenerSettings settings = GlobalListenerSettings(config, entry.address);
  for (const auto& [name, value] : entry.options) Override(name, value, &settings);
  return settings;
}

std::vector<ListenerSettings> AllListenerSettings(const Config& config) {
  std::vector<ListenerSettings> all;
  for (const std::string& text : config.bind) {
    BindEntry entry;
    // One that does not parse (a resolved config has none) is left out:
    // ListenerSettingsFor gives such a key the config's own settings.
    if (ParseBindEntry(text, &entry).ok()) all.push_back(ListenerSettingsOf(config, entry));
  }
  return all;
}

std::vector<ListenerSettings> ListenerSettingsFor(const Config& config,
                                                  const std::vector<std::string>& keys) {
  std::vector<ListenerSettings> all = AllListenerSettings(config);
  std::vector<ListenerSettings> found;
  for (const std::string& key : keys) {
    auto it = std::find_if(all.begin(), all.end(), [&key](const ListenerSettings& settings) {
      return settings.key == key;
    });
    found.push_back(it != all.end() ? *it : GlobalListenerSettings(config, key));
  }
  return found;
}

Status CheckListenerSettings(const ListenerSettings& settings) {
  // THeaderProtocol reads and writes the header framing itself: over the
  // header transport, or inside framed frames (Apache Thrift's cross-test
  // clients); the buffered and zlib transports have no such stack.
  if (settings.thrift_protocol_factory == "header" &&
      settings.thrift_transport_factory != "header" &&
      settings.thrift_transport_factory != "framed") {
    return Status::Error(
        "thrift_protocol_factory header needs thrift_transport_factory header or framed, got " +
        QuotedText(settings.thrift_transport_factory));
  }
  return Status::Ok();
}

}  // namespace thriftd
