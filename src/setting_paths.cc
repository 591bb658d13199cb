#include "src/setting_paths.h"

#include <unistd.h>

#include <cerrno>
#include <climits>

#include "src/base/plugin_loader.h"
#include "src/bind_entry.h"

namespace thriftd {
namespace {

constexpr char kUnixPrefix[] = "unix:";

bool IsAbsolute(const std::string& path) { return !path.empty() && path[0] == '/'; }

// `path` (absolute) without "." components and repeated or trailing slashes.
std::string Tidy(const std::string& path) {
  std::string out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string part = path.substr(start, end - start);
    if (!part.empty() && part != ".") out += "/" + part;
    start = end + 1;
  }
  return out.empty() ? "/" : out;
}

// The PATH of PATH.so[:NAME] taken from `directory`, the :NAME kept as written.
std::string ResolvePluginSpec(const std::string& text, const std::string& directory) {
  PluginSpec spec = ParsePluginSpec(text);
  if (spec.path.empty()) return text;
  return JoinPath(directory, spec.path) + text.substr(spec.path.size());
}

bool IsChoice(const Setting& setting, const std::string& text) {
  for (const char* choice : setting.choices)
    if (text == choice) return true;
  return false;
}

}  // namespace

Status DirectoryOf(const std::string& file, std::string* directory) {
  std::string absolute = file;
  if (!IsAbsolute(file)) {
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd) == nullptr) return Status::FromErrno("getcwd", errno);
    absolute = std::string(cwd) + "/" + file;
  }
  *directory = Tidy(absolute.substr(0, absolute.rfind('/') + 1));
  return Status::Ok();
}

std::string JoinPath(const std::string& directory, const std::string& path) {
  if (path.empty() || IsAbsolute(path)) return path;
  return Tidy(directory + "/" + path);
}

SettingValue ResolvePaths(const Setting& setting, const SettingValue& value,
                          const std::string& directory) {
  switch (setting.type) {
    case SettingType::kFile: {
      const auto& text = std::get<std::string>(value);
      if (text == "-") return value;
      return JoinPath(directory, text);
    }
    case SettingType::kPlugin:
      return ResolvePluginSpec(std::get<std::string>(value), directory);
    case SettingType::kWorkerClass: {
      const auto& text = std::get<std::string>(value);
      if (IsChoice(setting, text)) return value;
      return ResolvePluginSpec(text, directory);
    }
    case SettingType::kBind: {
      StringList entries = std::get<StringList>(value);
      for (std::string& entry : entries) {
        // Checked later with its source; resolved only once it parses.
        BindEntry parsed;
        if (!ParseBindEntry(entry, &parsed).ok()) continue;
        if (parsed.address.rfind(kUnixPrefix, 0) == 0) {
          parsed.address =
              kUnixPrefix + JoinPath(directory, parsed.address.substr(sizeof kUnixPrefix - 1));
        }
        // The entry's own files (a listener's certfile) as the global ones.
        for (auto& [key, text] : parsed.options) {
          const Setting* option = FindSetting(key);
          if (option != nullptr && option->type == SettingType::kFile)
            text = std::get<std::string>(ResolvePaths(*option, text, directory));
        }
        entry = parsed.ToString();
      }
      return entries;
    }
    case SettingType::kString:
    case SettingType::kBool:
    case SettingType::kCount:
    case SettingType::kOctal:
    case SettingType::kSeconds:
    case SettingType::kChoice:
    case SettingType::kKeyValue:
      return value;
  }
  return value;
}

}  // namespace thriftd
