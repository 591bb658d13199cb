#include "src/settings.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "src/bind_address.h"

namespace thriftd {
namespace {

using T = SettingType;

// gunicorn's spellings and defaults where it has them (gunicorn_thrift for the
// thrift_* keys); thriftd's own keys follow the same style.
const std::vector<Setting>& Table() {
  // clang-format off
  static const std::vector<Setting> table = {
      {"config", "config", 'c', T::kString, "", {}, 0, "FILE", "Config file",
       "YAML config file to read settings from", true},
      {"check_config", "check-config", 0, T::kBool, "false", {}, 0, "", "Config file",
       "validate the configuration and load the App, then exit", true},
      {"print_config", "print-config", 0, T::kBool, "false", {}, 0, "", "Config file",
       "print the resolved configuration as YAML, then exit", true},
      {"help", "help", 'h', T::kBool, "false", {}, 0, "", "Config file",
       "show this help, then exit", true},
      {"version", "version", 'v', T::kBool, "false", {}, 0, "", "Config file",
       "print the version, then exit", true},

      {"app", "", 0, T::kString, "", {}, 0, "PATH.so[:NAME]", "App",
       "the App: a shared object exporting THRIFTD_APP, optionally naming one App in it"},
      {"app_config", "app-config", 0, T::kKeyValue, "", {}, 0, "KEY=VALUE", "App",
       "a string passed to the App's AppContext::app_config (repeatable)"},

      {"bind", "bind", 'b', T::kBind, "127.0.0.1:8000", {}, 0, "ADDRESS", "Server socket",
       "listen on HOST:PORT, :PORT, [V6]:PORT, unix:PATH or fd://N (repeatable)"},
      {"backlog", "backlog", 0, T::kCount, "2048", {}, 1, "INT", "Server socket",
       "the maximum number of pending connections (listen() backlog)"},

      {"workers", "workers", 'w', T::kCount, "1", {}, 1, "INT", "Worker processes",
       "the number of worker processes"},
      {"worker_class", "worker-class", 'k', T::kWorkerClass, "sync", {"sync", "thread", "fiber"}, 0, "KIND", "Worker processes",
       "the worker kind: sync, thread, fiber, or PATH.so[:NAME] exporting THRIFTD_WORKER"},
      {"threads", "threads", 0, T::kCount, "1", {}, 1, "INT", "Worker processes",
       "thread worker: the threads serving calls in each worker"},
      {"worker_connections", "worker-connections", 0, T::kCount, "1000", {}, 1, "INT", "Worker processes",
       "thread and fiber workers: the most connections one worker holds"},
      {"max_requests", "max-requests", 0, T::kCount, "0", {}, 0, "INT", "Worker processes",
       "recycle a worker after this many calls (0: never)"},
      {"max_requests_jitter", "max-requests-jitter", 0, T::kCount, "0", {}, 0, "INT", "Worker processes",
       "add up to this many calls, at random, to max_requests"},
      {"timeout", "timeout", 't', T::kSeconds, "30", {}, 0, "SECONDS", "Worker processes",
       "kill and replace a worker whose loop has not reported for this long (0: never)"},
      {"graceful_timeout", "graceful-timeout", 0, T::kSeconds, "30", {}, 0, "SECONDS", "Worker processes",
       "how long in-flight calls may finish when a worker stops"},
      {"fiber_check_interval", "fiber-check-interval", 0, T::kSeconds, "1", {}, 0, "SECONDS", "Worker processes",
       "fiber worker: warn when a handler blocks the loop this long (0: never)"},
      {"fiber_stack_size", "fiber-stack-size", 0, T::kCount, "262144", {}, 16384, "BYTES", "Worker processes",
       "fiber worker: each fiber's stack, plus a guard page"},

      {"thrift_transport_factory", "thrift-transport-factory", 0, T::kChoice, "buffered", {"buffered", "framed", "header"}, 0, "NAME", "Thrift",
       "the Thrift transport"},
      {"thrift_protocol_factory", "thrift-protocol-factory", 0, T::kChoice, "binary", {"binary", "compact", "json", "header"}, 0, "NAME", "Thrift",
       "the Thrift protocol (header needs the header transport)"},
      {"thrift_client_timeout", "thrift-client-timeout", 0, T::kSeconds, "0", {}, 0, "SECONDS", "Thrift",
       "close a connection idle between messages this long (0: never)"},
      {"thrift_max_frame_size", "thrift-max-frame-size", 0, T::kCount, "16384000", {}, 1, "BYTES", "Thrift",
       "close a connection that sends a larger frame"},
      {"thrift_max_message_size", "thrift-max-message-size", 0, T::kCount, "104857600", {}, 1, "BYTES", "Thrift",
       "close a connection that sends a larger message"},

      {"metrics_bind", "metrics-bind", 0, T::kString, "", {}, 0, "HOST:PORT", "Process",
       "serve Prometheus /metrics and /healthz on this address (unset: off)"},
      {"pidfile", "pid", 'p', T::kString, "", {}, 0, "FILE", "Process",
       "write the master's pid to this file"},
      {"errorlog", "error-logfile", 0, T::kString, "-", {}, 0, "FILE", "Logging",
       "the error log file ('-' is stderr)"},
      {"accesslog", "access-logfile", 0, T::kString, "", {}, 0, "FILE", "Logging",
       "the access log file, one line per call ('-' is stdout; unset: none)"},
      {"access_log_format", "access-logformat", 0, T::kString, "{peer} [{time}] \"{service}.{method}\" {seqid} {outcome} {duration_us}us {bytes_in} {bytes_out} {pid}", {}, 0, "FORMAT", "Logging",
       "the access log line: {peer} {time} {service} {method} {seqid} {outcome} {duration_us} {bytes_in} {bytes_out} {pid}, or json"},
      {"loglevel", "log-level", 0, T::kChoice, "info", {"debug", "info", "warning", "error", "critical"}, 0, "LEVEL", "Logging",
       "the error log's level"},
  };
  // clang-format on
  return table;
}

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

// A YAML double-quoted scalar: --print-config output must read back.
std::string Quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
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

bool AllDigits(const std::string& text) {
  size_t start = (!text.empty() && text[0] == '-') ? 1 : 0;
  if (text.size() == start) return false;
  for (size_t i = start; i < text.size(); ++i)
    if (text[i] < '0' || text[i] > '9') return false;
  return true;
}

Status Expected(const Setting& setting, const std::string& got) {
  return Status::Error("expected " + ExpectedText(setting) + ", got " + Quoted(got));
}

std::string Join(const std::vector<const char*>& words, const char* separator) {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i > 0) out += separator;
    out += words[i];
  }
  return out;
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
    if (candidate.empty() || (!flags && s.command_line_only)) continue;
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
    case T::kList:
      return "a string";
    case T::kBool:
      return "true or false";
    case T::kCount:
      if (setting.min_value == 0) return "a non-negative integer";
      if (setting.min_value == 1) return "a positive integer";
      return "an integer >= " + std::to_string(setting.min_value);
    case T::kSeconds:
      return "a non-negative number of seconds";
    case T::kChoice:
      return "one of " + Join(setting.choices, ", ");
    case T::kWorkerClass:
      return "one of " + Join(setting.choices, ", ") + " or PATH.so[:NAME]";
    case T::kKeyValue:
      return "KEY=VALUE";
    case T::kBind:
      return "an address (HOST:PORT, :PORT, [V6]:PORT, unix:PATH or fd://N)";
  }
  return "?";
}

Status ParseSettingText(const Setting& setting, const std::string& text, SettingValue* value) {
  switch (setting.type) {
    case T::kString:
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
      if (!AllDigits(text) || *end != '\0' || errno == ERANGE || n < setting.min_value ||
          n > INT32_MAX) {
        return Expected(setting, text);
      }
      *value = static_cast<std::int64_t>(n);
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
    case T::kList:
    case T::kBind: {
      if (setting.type == T::kBind) {
        BindAddress ignored;
        if (!ParseBindAddress(text, &ignored)) return Expected(setting, text);
      }
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

std::string FormatSettingValue(const Setting& setting, const SettingValue& value) {
  std::ostringstream out;
  switch (setting.type) {
    case T::kBool:
      out << (std::get<bool>(value) ? "true" : "false");
      break;
    case T::kCount:
      out << std::get<std::int64_t>(value);
      break;
    case T::kSeconds:
      out << FormatSeconds(std::get<double>(value));
      break;
    case T::kString:
    case T::kChoice:
    case T::kWorkerClass: {
      const auto& text = std::get<std::string>(value);
      out << (text.empty() ? "null" : Quoted(text));
      break;
    }
    case T::kList:
    case T::kBind: {
      const auto& list = std::get<std::vector<std::string>>(value);
      out << "[";
      for (size_t i = 0; i < list.size(); ++i) out << (i ? ", " : "") << Quoted(list[i]);
      out << "]";
      break;
    }
    case T::kKeyValue: {
      const auto& map = std::get<std::map<std::string, std::string>>(value);
      out << "{";
      bool first = true;
      for (const auto& [key, text] : map) {
        out << (first ? "" : ", ") << Quoted(key) << ": " << Quoted(text);
        first = false;
      }
      out << "}";
      break;
    }
  }
  return out.str();
}

SettingValue DefaultValue(const Setting& setting) {
  SettingValue value;
  switch (setting.type) {
    case T::kList:
    case T::kBind:
      value = std::vector<std::string>();
      break;
    case T::kKeyValue:
      value = std::map<std::string, std::string>();
      break;
    case T::kString:
    case T::kChoice:
    case T::kWorkerClass:
      value = std::string();
      break;
    case T::kBool:
      value = false;
      break;
    case T::kCount:
      value = std::int64_t{0};
      break;
    case T::kSeconds:
      value = 0.0;
      break;
  }
  if (*setting.default_text != '\0') {
    Status status = ParseSettingText(setting, setting.default_text, &value);
    (void)status;  // The table's own defaults are tested to parse.
  }
  return value;
}

}  // namespace thriftd
