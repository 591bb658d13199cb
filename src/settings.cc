#include "src/settings.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <type_traits>

#include <yaml-cpp/yaml.h>

#include "src/bind_entry.h"

namespace thriftd {
namespace {

using T = SettingType;

// Whether a row's C++ type is the one its kind parses to (LogLevel is a choice).
template <typename Type>
constexpr bool FitsKind(SettingType kind) {
  switch (kind) {
    case T::kBool:
      return std::is_same_v<Type, bool>;
    case T::kCount:
    case T::kOctal:
      return std::is_same_v<Type, std::int64_t>;
    case T::kSeconds:
      return std::is_same_v<Type, double>;
    case T::kString:
    case T::kFile:
    case T::kPlugin:
    case T::kWorkerClass:
      return std::is_same_v<Type, std::string>;
    case T::kChoice:
      return std::is_same_v<Type, std::string> || std::is_same_v<Type, LogLevel>;
    case T::kBind:
      return std::is_same_v<Type, StringList>;
    case T::kKeyValue:
      return std::is_same_v<Type, StringMap>;
  }
  return false;
}

#define THRIFTD_CHECK_KIND(name, flag, short_flag, kind, type, ...) \
  static_assert(FitsKind<type>(T::kind), #name ": its C++ type does not hold its kind");
THRIFTD_SETTINGS(THRIFTD_CHECK_KIND)
#undef THRIFTD_CHECK_KIND

std::string Join(const std::vector<const char*>& words, const char* separator) {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i > 0) out += separator;
    out += words[i];
  }
  return out;
}

// The shortest text that reads back as the same number.
std::string FormatSeconds(double seconds) {
  char text[32];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(text, sizeof text, "%.*g", precision, seconds);
    if (std::strtod(text, nullptr) == seconds) break;
  }
  return text;
}

// A mode as it is usually written: 0 and 022 rather than 18.
std::string OctalText(std::int64_t mode) {
  char text[16];
  std::snprintf(text, sizeof text, "%04llo", static_cast<unsigned long long>(mode));
  return mode == 0 ? "0" : text;
}

// The default as --help shows it and as it would be typed: "" when unset.
std::string DefaultText(const SettingValue& value) {
  struct Visitor {
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(std::int64_t n) const { return std::to_string(n); }
    std::string operator()(double seconds) const { return FormatSeconds(seconds); }
    std::string operator()(const std::string& text) const { return text; }
    std::string operator()(const StringList& list) const {
      std::string out;
      for (const std::string& text : list) out += (out.empty() ? "" : ", ") + text;
      return out;
    }
    std::string operator()(const StringMap& map) const {
      std::string out;
      for (const auto& [key, text] : map) out += (out.empty() ? "" : ", ") + key + "=" + text;
      return out;
    }
  };
  return std::visit(Visitor(), value);
}

// A setting's range of accepted values, as its row in THRIFTD_SETTINGS
// writes it: (MIN) or (MIN, MAX).
struct CountRange {
  std::int64_t min = 0;
  std::int64_t max = INT32_MAX;
};

Setting Row(const char* name, const char* flag, char short_flag, SettingType type,
            SettingValue default_value, std::vector<const char*> choices, CountRange range,
            const char* metavar, const char* section, SettingScope scope, const char* help) {
  // A mode reads as it is written (0660), not as its decimal value.
  std::string default_text = type == T::kOctal ? OctalText(std::get<std::int64_t>(default_value))
                                               : DefaultText(default_value);
  return Setting{name,
                 flag,
                 short_flag,
                 type,
                 std::move(default_value),
                 std::move(default_text),
                 std::move(choices),
                 range.min,
                 range.max,
                 metavar,
                 section,
                 help,
                 scope};
}

#define THRIFTD_BRACED(...) \
  { __VA_ARGS__ }
#define THRIFTD_TABLE_ROW(name, flag, short_flag, kind, type, default_value, choices, range, \
                          metavar, section, scope, help)                                     \
  Row(#name, flag, short_flag, T::kind, ToSettingValue<type>(default_value),                 \
      THRIFTD_BRACED choices, CountRange THRIFTD_BRACED range, metavar, section,             \
      SettingScope::scope, help),

const std::vector<Setting>& Table() {
  static const std::vector<Setting> table = {THRIFTD_SETTINGS(THRIFTD_TABLE_ROW)};
  return table;
}

#undef THRIFTD_TABLE_ROW
#undef THRIFTD_BRACED

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

bool AllDigits(const std::string& text) {
  size_t start = (!text.empty() && text[0] == '-') ? 1 : 0;
  if (text.size() == start) return false;
  for (size_t i = start; i < text.size(); ++i)
    if (text[i] < '0' || text[i] > '9') return false;
  return true;
}

// gunicorn's reading of an integer (its auto_int): a leading 0 followed by
// a digit, or 0o, means octal, so that the umask 022 of a shell is 022;
// otherwise decimal, or 0x hexadecimal. -1 when it is none of these.
long long ParseGunicornInt(const std::string& text) {
  int base = 10;
  size_t start = 0;
  if (text.size() > 1 && text[0] == '0' && (text[1] == 'o' || text[1] == 'O')) {
    base = 8;
    start = 2;
  } else if (text.size() > 1 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    base = 16;
    start = 2;
  } else if (text.size() > 1 && text[0] == '0') {
    base = 8;
  }
  if (start >= text.size() || !std::isxdigit(static_cast<unsigned char>(text[start]))) return -1;
  errno = 0;
  char* end = nullptr;
  long long n = std::strtoll(text.c_str() + start, &end, base);
  if (*end != '\0' || errno == ERANGE) return -1;
  return n;
}

Status Expected(const Setting& setting, const std::string& got) {
  return Status::Error("expected " + ExpectedText(setting) + ", got " + QuotedText(got));
}

}  // namespace

const std::vector<Setting>& Settings() { return Table(); }

const Setting* FindSetting(std::string_view name) {
  for (const Setting& s : Table())
    if (name == s.name) return &s;
  return nullptr;
}

const Setting* FindSettingByFlag(std::string_view flag) {
  for (const Setting& s : Table())
    if (*s.flag != '\0' && flag == s.flag) return &s;
  return nullptr;
}

std::string SuggestName(std::string_view unknown, bool flags) {
  std::string best;
  size_t best_distance = SIZE_MAX;
  for (const Setting& s : Table()) {
    std::string_view candidate = flags ? s.flag : s.name;
    if (candidate.empty() || (!flags && s.command_line_only())) continue;
    size_t distance = EditDistance(unknown, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = std::string(candidate);
    }
  }
  // Close enough to be a typo: a third of the word, at least one edit.
  size_t limit = std::max<size_t>(1, unknown.size() / 3);
  return best_distance <= limit ? best : "";
}

std::string ExpectedText(const Setting& setting) {
  switch (setting.type) {
    case T::kString:
      return "a string";
    case T::kFile:
      return "a file name";
    case T::kPlugin:
      return "PATH.so[:NAME]";
    case T::kBool:
      return "true or false";
    case T::kCount:
      if (setting.min_value == 0) return "a non-negative integer";
      if (setting.min_value == 1) return "a positive integer";
      return "an integer >= " + std::to_string(setting.min_value);
    case T::kOctal:
      return "an octal mode from 0 to 0777 (022, 0o22)";
    case T::kSeconds:
      return "a non-negative number of seconds";
    case T::kChoice:
      return "one of " + Join(setting.choices, ", ");
    case T::kWorkerClass:
      return "one of " + Join(setting.choices, ", ") + " or PATH.so[:NAME]";
    case T::kKeyValue:
      return "KEY=VALUE";
    case T::kBind:
      return "an address (HOST:PORT, HOST:FIRST-LAST, :PORT, [V6]:PORT, unix:PATH, fd://N or "
             "systemd:NAME)";
  }
  return "?";
}

Status ParseSettingText(const Setting& setting, const std::string& text, SettingValue* value) {
  switch (setting.type) {
    case T::kString:
    case T::kFile:
    case T::kPlugin:
      *value = text;
      return Status::Ok();
    case T::kBool:
      if (text == "true" || text == "yes" || text == "on" || text == "1") {
        *value = true;
      } else if (text == "false" || text == "no" || text == "off" || text == "0") {
        *value = false;
      } else {
        return Expected(setting, text);
      }
      return Status::Ok();
    case T::kCount: {
      errno = 0;
      char* end = nullptr;
      long long n = std::strtoll(text.c_str(), &end, 10);
      if (!AllDigits(text) || *end != '\0' || n < setting.min_value) return Expected(setting, text);
      // Too large: the message says how large may be.
      if (errno == ERANGE || n > setting.max_value) {
        return Status::Error("expected " + ExpectedText(setting) + " up to " +
                             std::to_string(setting.max_value) + ", got " + QuotedText(text));
      }
      *value = static_cast<std::int64_t>(n);
      return Status::Ok();
    }
    case T::kOctal: {
      long long mode = ParseGunicornInt(text);
      if (mode < 0 || mode > 0777) return Expected(setting, text);
      *value = static_cast<std::int64_t>(mode);
      return Status::Ok();
    }
    case T::kSeconds: {
      char* end = nullptr;
      double seconds = std::strtod(text.c_str(), &end);
      if (text.empty() || std::isspace(static_cast<unsigned char>(text[0])) || *end != '\0' ||
          !std::isfinite(seconds) || seconds < 0 || seconds > 1e9) {
        return Expected(setting, text);
      }
      *value = seconds;
      return Status::Ok();
    }
    case T::kChoice:
    case T::kWorkerClass:
      for (const char* choice : setting.choices) {
        if (text == choice) {
          *value = text;
          return Status::Ok();
        }
      }
      // A custom kind is a shared object; it is loaded (and checked) later.
      if (setting.type == T::kWorkerClass && text.find(".so") != std::string::npos) {
        *value = text;
        return Status::Ok();
      }
      return Expected(setting, text);
    case T::kBind: {
      BindEntry ignored;
      Status status = ParseBindEntry(text, &ignored);
      if (!status.ok()) return status;
      if (!std::holds_alternative<std::vector<std::string>>(*value))
        *value = std::vector<std::string>();
      std::get<std::vector<std::string>>(*value).push_back(text);
      return Status::Ok();
    }
    case T::kKeyValue: {
      size_t equals = text.find('=');
      if (equals == std::string::npos || equals == 0) return Expected(setting, text);
      if (!std::holds_alternative<std::map<std::string, std::string>>(*value))
        *value = std::map<std::string, std::string>();
      std::get<std::map<std::string, std::string>>(*value)[text.substr(0, equals)] =
          text.substr(equals + 1);
      return Status::Ok();
    }
  }
  return Status::Error("unhandled setting type");
}

void EmitSettingValue(const Setting& setting, const SettingValue& value, YAML::Emitter* out) {
  switch (setting.type) {
    case T::kBool:
      *out << std::get<bool>(value);
      break;
    case T::kCount:
      *out << std::get<std::int64_t>(value);
      break;
    case T::kOctal:
      // Quoted, since YAML 1.2 reads a plain 0022 as the decimal 22.
      *out << YAML::DoubleQuoted << OctalText(std::get<std::int64_t>(value));
      break;
    case T::kSeconds:
      // The emitter's own doubles carry 17 digits: 0.1 would print as 0.10000000000000001.
      *out << FormatSeconds(std::get<double>(value));
      break;
    case T::kString:
    case T::kFile:
    case T::kPlugin:
    case T::kChoice:
    case T::kWorkerClass: {
      // Unset prints as null; "" where the default is not empty must read back as "".
      const auto& text = std::get<std::string>(value);
      if (text.empty() && setting.default_text.empty()) {
        *out << YAML::Null;
      } else {
        *out << YAML::DoubleQuoted << text;
      }
      break;
    }
    case T::kBind:
      *out << YAML::Flow << YAML::BeginSeq;
      for (const std::string& text : std::get<StringList>(value)) EmitBindEntry(text, out);
      *out << YAML::EndSeq;
      break;
    case T::kKeyValue:
      *out << YAML::Flow << YAML::BeginMap;
      for (const auto& [key, text] : std::get<StringMap>(value)) {
        *out << YAML::Key << YAML::DoubleQuoted << key;
        *out << YAML::Value << YAML::DoubleQuoted << text;
      }
      *out << YAML::EndMap;
      break;
  }
}

std::string FormatSettingValue(const Setting& setting, const SettingValue& value) {
  YAML::Emitter out;
  out.SetNullFormat(YAML::LowerNull);
  EmitSettingValue(setting, value, &out);
  return out.c_str();
}

std::string QuotedText(const std::string& text) {
  YAML::Emitter out;
  out << YAML::DoubleQuoted << text;
  return out.c_str();
}

SettingValue DefaultValue(const Setting& setting) { return setting.default_value; }

}  // namespace thriftd
