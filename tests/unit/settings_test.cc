// The settings table and the parsing of one setting's text.
#include "src/settings.h"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <type_traits>

#include "src/base/scoreboard.h"

namespace thriftd {
namespace {

const Setting& Row(const char* name) {
  const Setting* setting = FindSetting(name);
  REQUIRE_MESSAGE(setting != nullptr, name);
  return *setting;
}

// Parses `text` as setting `name` into a fresh default value; "" when ok,
// otherwise the error message.
std::string ParseError(const char* name, const std::string& text) {
  SettingValue value = DefaultValue(Row(name));
  Status status = ParseSettingText(Row(name), text, &value);
  return status.ok() ? "" : status.message();
}

template <typename V>
V Parsed(const char* name, const std::string& text) {
  SettingValue value = DefaultValue(Row(name));
  Status status = ParseSettingText(Row(name), text, &value);
  REQUIRE_MESSAGE(status.ok(), status.message());
  REQUIRE(std::holds_alternative<V>(value));
  return std::get<V>(value);
}

// The value of the setting's type that holds nothing: 0, "", [], {}.
SettingValue EmptyValue(const Setting& setting) {
  return std::visit([](const auto& v) { return SettingValue(std::decay_t<decltype(v)>()); },
                    setting.default_value);
}

TEST_CASE("every setting's default is of its type and its text parses back to it") {
  for (const Setting& setting : Settings()) {
    std::string name = setting.name;
    CAPTURE(name);
    SettingValue value = DefaultValue(setting);
    if (!setting.default_text.empty()) {
      // --help shows default_text; it must say what the default is.
      SettingValue parsed = EmptyValue(setting);
      Status status = ParseSettingText(setting, setting.default_text, &parsed);
      CHECK_MESSAGE(status.ok(), status.message());
      CHECK(parsed == value);
    }
    switch (setting.type) {
      case SettingType::kString:
      case SettingType::kFile:
      case SettingType::kPlugin:
      case SettingType::kChoice:
      case SettingType::kWorkerClass:
        CHECK(std::holds_alternative<std::string>(value));
        break;
      case SettingType::kBool:
        CHECK(std::holds_alternative<bool>(value));
        break;
      case SettingType::kCount:
        CHECK(std::holds_alternative<std::int64_t>(value));
        CHECK(std::get<std::int64_t>(value) >= setting.min_value);
        break;
      case SettingType::kOctal:
        CHECK(std::holds_alternative<std::int64_t>(value));
        CHECK(std::get<std::int64_t>(value) >= 0);
        CHECK(std::get<std::int64_t>(value) <= 0777);
        break;
      case SettingType::kSeconds:
        CHECK(std::holds_alternative<double>(value));
        break;
      case SettingType::kBind:
        CHECK(std::holds_alternative<std::vector<std::string>>(value));
        break;
      case SettingType::kKeyValue:
        CHECK(std::holds_alternative<std::map<std::string, std::string>>(value));
        break;
    }
  }
}

TEST_CASE("the default text is what --help has always shown") {
  CHECK(Row("bind").default_text == "127.0.0.1:8000");
  CHECK(Row("graceful_timeout").default_text == "30");
  CHECK(Row("unix_socket_mode").default_text == "0660");  // as a mode is written, not 432
  CHECK(Row("fiber_check_interval").default_text == "1");
  CHECK(Row("worker_class").default_text == "sync");
  CHECK(Row("loglevel").default_text == "info");
  CHECK(Row("errorlog").default_text == "-");
  CHECK(Row("pidfile").default_text == "");
  CHECK(Row("app_config").default_text == "");
}

TEST_CASE("every log level the table offers is a LogLevel") {
  for (const char* choice : Row("loglevel").choices) {
    CAPTURE(choice);
    CHECK(ParseLogLevel(choice).has_value());
  }
  CHECK(FromSettingValue<LogLevel>(std::string("warning")) == LogLevel::kWarning);
  CHECK(ToSettingValue(LogLevel::kError) == SettingValue(std::string("error")));
}

TEST_CASE("defaults are gunicorn's where gunicorn has the setting") {
  CHECK(std::get<std::vector<std::string>>(DefaultValue(Row("bind"))) ==
        std::vector<std::string>{"127.0.0.1:8000"});
  CHECK(std::get<std::int64_t>(DefaultValue(Row("backlog"))) == 2048);
  CHECK(std::get<std::int64_t>(DefaultValue(Row("workers"))) == 1);
  CHECK(std::get<std::string>(DefaultValue(Row("worker_class"))) == "sync");
  CHECK(std::get<double>(DefaultValue(Row("graceful_timeout"))) == 30.0);
  CHECK(std::get<std::string>(DefaultValue(Row("errorlog"))) == "-");
  CHECK(std::get<std::string>(DefaultValue(Row("loglevel"))) == "info");
  CHECK(std::get<std::string>(DefaultValue(Row("pidfile"))) == "");
  CHECK(std::get<std::map<std::string, std::string>>(DefaultValue(Row("app_config"))).empty());
  CHECK(std::get<std::int64_t>(DefaultValue(Row("umask"))) == 0);
  CHECK(std::get<std::string>(DefaultValue(Row("chdir"))) == "");
  CHECK(std::get<std::map<std::string, std::string>>(DefaultValue(Row("raw_env"))).empty());
  CHECK(std::string(Row("raw_env").flag) == "env");
  CHECK(Row("raw_env").short_flag == 'e');
}

TEST_CASE("names, flags and short flags are each unique") {
  std::set<std::string> names, flags;
  std::set<char> short_flags;
  for (const Setting& setting : Settings()) {
    std::string name = setting.name;
    CAPTURE(name);
    CHECK(names.insert(setting.name).second);
    if (*setting.flag != '\0') CHECK(flags.insert(setting.flag).second);
    if (setting.short_flag != 0) CHECK(short_flags.insert(setting.short_flag).second);
  }
}

TEST_CASE("every config-file setting but the positional app has a flag") {
  for (const Setting& setting : Settings()) {
    std::string name = setting.name;
    CAPTURE(name);
    if (std::string(setting.name) == "app") {
      CHECK(std::string(setting.flag) == "");
      continue;
    }
    CHECK(std::string(setting.flag) != "");
    // YAML keys use underscores, flags dashes.
    CHECK(std::string(setting.name).find('-') == std::string::npos);
    CHECK(std::string(setting.flag).find('_') == std::string::npos);
    CHECK(*setting.help != '\0');
    CHECK(*setting.section != '\0');
  }
}

TEST_CASE("FindSetting and FindSettingByFlag look up by YAML name and by flag") {
  CHECK(FindSetting("graceful_timeout") == FindSettingByFlag("graceful-timeout"));
  CHECK(FindSetting("pidfile") == FindSettingByFlag("pid"));
  CHECK(FindSetting("loglevel") == FindSettingByFlag("log-level"));
  CHECK(FindSetting("errorlog") == FindSettingByFlag("error-logfile"));
  CHECK(FindSetting("graceful-timeout") == nullptr);
  CHECK(FindSettingByFlag("graceful_timeout") == nullptr);
  CHECK(FindSettingByFlag("") == nullptr);  // app has no flag
  CHECK(FindSetting("nosuch") == nullptr);
}

TEST_CASE("ExpectedText says what each type accepts") {
  CHECK(ExpectedText(Row("workers")) == "a positive integer");
  CHECK(ExpectedText(Row("graceful_timeout")) == "a non-negative number of seconds");
  CHECK(ExpectedText(Row("thrift_transport_factory")) == "one of buffered, framed, header, zlib");
  CHECK(ExpectedText(Row("loglevel")) == "one of debug, info, warning, error, critical");
  CHECK(ExpectedText(Row("app_config")) == "KEY=VALUE");
  CHECK(ExpectedText(Row("bind")) ==
        "an address (HOST:PORT, HOST:FIRST-LAST, :PORT, [V6]:PORT, unix:PATH, fd://N or "
        "systemd:NAME)");
  CHECK(ExpectedText(Row("check_config")) == "true or false");
  CHECK(ExpectedText(Row("access_log_format")) == "a string");
  CHECK(ExpectedText(Row("pidfile")) == "a file name");
  CHECK(ExpectedText(Row("app")) == "PATH.so[:NAME]");

  Setting non_negative = Row("workers");
  non_negative.min_value = 0;
  CHECK(ExpectedText(non_negative) == "a non-negative integer");
  non_negative.min_value = 5;
  CHECK(ExpectedText(non_negative) == "an integer >= 5");
}

TEST_CASE("SuggestName suggests the near YAML name or flag for a typo") {
  CHECK(SuggestName("worker", false) == "workers");
  CHECK(SuggestName("wrokers", false) == "workers");
  CHECK(SuggestName("graceful-timeout", false) == "graceful_timeout");
  CHECK(SuggestName("log_level", false) == "loglevel");
  CHECK(SuggestName("worker", true) == "workers");
  CHECK(SuggestName("graceful_timeout", true) == "graceful-timeout");
  CHECK(SuggestName("log-levl", true) == "log-level");
  CHECK(SuggestName("conifg", true) == "config");
}

TEST_CASE("SuggestName suggests nothing for a far-off name") {
  CHECK(SuggestName("banana", false) == "");
  CHECK(SuggestName("listen_queue_depth", false) == "");
  CHECK(SuggestName("zzzzzzz", true) == "");
  CHECK(SuggestName("", false) == "");
}

TEST_CASE("SuggestName never offers a command-line-only setting as a YAML key") {
  // "config" is a flag, not a key of the file.
  CHECK(SuggestName("confg", false) != "config");
  CHECK(SuggestName("confg", true) == "config");
}

TEST_CASE("a count is a base-10 integer within its range; too large says the maximum") {
  CHECK(Parsed<std::int64_t>("backlog", "4") == 4);
  CHECK(Parsed<std::int64_t>("backlog", "2147483647") == 2147483647);
  CHECK(ParseError("workers", "0") == "expected a positive integer, got \"0\"");
  CHECK(ParseError("workers", "-1") == "expected a positive integer, got \"-1\"");
  CHECK(ParseError("workers", "abc") == "expected a positive integer, got \"abc\"");
  CHECK(ParseError("workers", "1e3") == "expected a positive integer, got \"1e3\"");
  CHECK(ParseError("workers", "2.5") == "expected a positive integer, got \"2.5\"");
  CHECK(ParseError("workers", "4 ") == "expected a positive integer, got \"4 \"");
  CHECK(ParseError("workers", "") == "expected a positive integer, got \"\"");
  CHECK(ParseError("backlog", "2147483648") ==
        "expected a positive integer up to 2147483647, got \"2147483648\"");
  CHECK(ParseError("backlog", "99999999999999999999999") ==
        "expected a positive integer up to 2147483647, got \"99999999999999999999999\"");
  CHECK(ParseError("max_requests", "2147483648") ==
        "expected a non-negative integer up to 2147483647, got \"2147483648\"");
  CHECK(ParseError("backlog", "0x10") == "expected a positive integer, got \"0x10\"");
  // A reload starts the new generation beside the old one in the
  // scoreboard's slots: twice the workers must fit.
  CHECK(Parsed<std::int64_t>("workers", "512") == 512);
  CHECK(2 * 512 <= Scoreboard::kMaxSlots);
  CHECK(ParseError("workers", "1000000") ==
        "expected a positive integer up to 512, got \"1000000\"");
}

TEST_CASE("an octal mode reads as gunicorn reads a umask: a leading 0 or 0o is octal") {
  CHECK(Parsed<std::int64_t>("umask", "022") == 022);
  CHECK(Parsed<std::int64_t>("umask", "0o27") == 027);
  CHECK(Parsed<std::int64_t>("umask", "0777") == 0777);
  CHECK(Parsed<std::int64_t>("umask", "0") == 0);
  CHECK(Parsed<std::int64_t>("umask", "18") == 022);  // decimal, as int("18", 0)
  CHECK(Parsed<std::int64_t>("umask", "0x12") == 022);
  const std::string expected = "expected an octal mode from 0 to 0777 (022, 0o22), got ";
  CHECK(ParseError("umask", "01000") == expected + "\"01000\"");
  CHECK(ParseError("umask", "09") == expected + "\"09\"");
  CHECK(ParseError("umask", "-1") == expected + "\"-1\"");
  CHECK(ParseError("umask", "0o") == expected + "\"0o\"");
  CHECK(ParseError("umask", "") == expected + "\"\"");
  CHECK(ParseError("umask", "22 ") == expected + "\"22 \"");
  // Written back in octal, quoted so that no YAML reader takes 0022 for 22.
  CHECK(FormatSettingValue(Row("umask"), std::int64_t{022}) == "\"0022\"");
  CHECK(Parsed<std::int64_t>("umask", "0022") == 022);
}

TEST_CASE("seconds are a non-negative finite number, fractions allowed") {
  CHECK(Parsed<double>("graceful_timeout", "1.5") == 1.5);
  CHECK(Parsed<double>("graceful_timeout", "0") == 0.0);
  CHECK(Parsed<double>("graceful_timeout", "30") == 30.0);
  CHECK(Parsed<double>("thrift_client_timeout", "1e3") == 1000.0);
  CHECK(ParseError("graceful_timeout", "-1") ==
        "expected a non-negative number of seconds, got \"-1\"");
  CHECK(ParseError("graceful_timeout", "") ==
        "expected a non-negative number of seconds, got \"\"");
  CHECK(ParseError("graceful_timeout", "10s") ==
        "expected a non-negative number of seconds, got \"10s\"");
  CHECK(ParseError("graceful_timeout", "inf") ==
        "expected a non-negative number of seconds, got \"inf\"");
  CHECK(ParseError("graceful_timeout", "nan") ==
        "expected a non-negative number of seconds, got \"nan\"");
  CHECK(ParseError("graceful_timeout", "1e10") ==
        "expected a non-negative number of seconds, got \"1e10\"");
}

TEST_CASE("a bool is true/yes/on/1 or false/no/off/0") {
  for (const char* text : {"true", "yes", "on", "1"}) {
    CAPTURE(text);
    CHECK(Parsed<bool>("check_config", text) == true);
  }
  for (const char* text : {"false", "no", "off", "0"}) {
    CAPTURE(text);
    CHECK(Parsed<bool>("check_config", text) == false);
  }
  CHECK(ParseError("check_config", "maybe") == "expected true or false, got \"maybe\"");
  CHECK(ParseError("check_config", "") == "expected true or false, got \"\"");
  CHECK(ParseError("check_config", "2") == "expected true or false, got \"2\"");
}

TEST_CASE("a choice is one of its spellings exactly") {
  CHECK(Parsed<std::string>("thrift_transport_factory", "framed") == "framed");
  CHECK(Parsed<std::string>("thrift_protocol_factory", "compact") == "compact");
  CHECK(Parsed<std::string>("loglevel", "debug") == "debug");
  CHECK(ParseError("thrift_transport_factory", "Framed") ==
        "expected one of buffered, framed, header, zlib, got \"Framed\"");
  CHECK(ParseError("thrift_protocol_factory", "") ==
        "expected one of binary, compact, json, header, got \"\"");
  CHECK(ParseError("worker_class", "gevent") ==
        "expected one of sync, thread, fiber or PATH.so[:NAME], got \"gevent\"");
}

TEST_CASE("KEY=VALUE splits at the first '=' and adds to the map") {
  const Setting& app_config = Row("app_config");
  SettingValue value = DefaultValue(app_config);
  REQUIRE(ParseSettingText(app_config, "dsn=postgres://db/x?a=b", &value).ok());
  REQUIRE(ParseSettingText(app_config, "empty=", &value).ok());
  REQUIRE(ParseSettingText(app_config, "dsn2=x", &value).ok());
  REQUIRE(ParseSettingText(app_config, "dsn2=y", &value).ok());
  CHECK(std::get<std::map<std::string, std::string>>(value) ==
        std::map<std::string, std::string>{
            {"dsn", "postgres://db/x?a=b"}, {"empty", ""}, {"dsn2", "y"}});

  CHECK(ParseError("app_config", "novalue") == "expected KEY=VALUE, got \"novalue\"");
  CHECK(ParseError("app_config", "=value") == "expected KEY=VALUE, got \"=value\"");
  CHECK(ParseError("app_config", "") == "expected KEY=VALUE, got \"\"");
}

TEST_CASE("a bind address is validated and appended to the list") {
  const Setting& bind = Row("bind");
  SettingValue value = std::vector<std::string>();
  REQUIRE(ParseSettingText(bind, "127.0.0.1:9090", &value).ok());
  REQUIRE(ParseSettingText(bind, "unix:/run/thriftd.sock", &value).ok());
  CHECK(std::get<std::vector<std::string>>(value) ==
        std::vector<std::string>{"127.0.0.1:9090", "unix:/run/thriftd.sock"});

  CHECK(ParseError("bind", "nohost") ==
        "expected an address (HOST:PORT, HOST:FIRST-LAST, :PORT, [V6]:PORT, unix:PATH, fd://N "
        "or systemd:NAME), got \"nohost\"");
  CHECK(ParseError("bind", "1.2.3.4:99999") ==
        "expected an address (HOST:PORT, HOST:FIRST-LAST, :PORT, [V6]:PORT, unix:PATH, fd://N "
        "or systemd:NAME), got "
        "\"1.2.3.4:99999\"");
}

TEST_CASE("a string takes any text") {
  CHECK(Parsed<std::string>("pidfile", "/run/thriftd.pid") == "/run/thriftd.pid");
  CHECK(Parsed<std::string>("pidfile", "") == "");
}

TEST_CASE("FormatSettingValue writes values as YAML") {
  CHECK(FormatSettingValue(Row("workers"), std::int64_t{4}) == "4");
  CHECK(FormatSettingValue(Row("graceful_timeout"), 1.5) == "1.5");
  CHECK(FormatSettingValue(Row("graceful_timeout"), 30.0) == "30");
  CHECK(FormatSettingValue(Row("check_config"), true) == "true");
  CHECK(FormatSettingValue(Row("pidfile"), std::string()) == "null");
  // "" where the default is not "" must not print as null, which reads back as the default.
  CHECK(FormatSettingValue(Row("errorlog"), std::string()) == "\"\"");
  CHECK(FormatSettingValue(Row("pidfile"), std::string("a\"b\\c\nd")) == "\"a\\\"b\\\\c\\nd\"");
  CHECK(FormatSettingValue(Row("pidfile"), std::string("/run/x.pid")) == "\"/run/x.pid\"");
  CHECK(FormatSettingValue(Row("bind"), std::vector<std::string>{"a:1", "unix:/x"}) ==
        "[\"a:1\", \"unix:/x\"]");
  CHECK(FormatSettingValue(Row("bind"), std::vector<std::string>{}) == "[]");
  CHECK(FormatSettingValue(Row("app_config"),
                           std::map<std::string, std::string>{{"b", "2"}, {"a", "1"}}) ==
        "{\"a\": \"1\", \"b\": \"2\"}");
  CHECK(FormatSettingValue(Row("app_config"), std::map<std::string, std::string>{}) == "{}");
}

TEST_CASE("an error message quotes the bad value on one line") {
  CHECK(ParseError("workers", "1\n2") == "expected a positive integer, got \"1\\n2\"");
  CHECK(ParseError("workers", "\"3\"") == "expected a positive integer, got \"\\\"3\\\"\"");
}

}  // namespace
}  // namespace thriftd
