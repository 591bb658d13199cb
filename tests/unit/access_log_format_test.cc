// AccessLogFormat: templates and the lines they make.
#include "src/base/access_log_format.h"

#include <doctest/doctest.h>

#include <time.h>

#include <cstdint>
#include <string>

#include "tests/unit/test_util.h"

namespace thriftd {
namespace {

std::string LineFor(const std::string& format, std::string_view method,
                    std::int64_t unix_time_us = 0) {
  AccessLogFormat parsed;
  REQUIRE(AccessLogFormat::Parse(format, &parsed).ok());
  CallRecord call;
  call.peer = "127.0.0.1:5555";
  call.method = method;
  call.seqid = 3;
  return parsed.Format(call, unix_time_us);
}

TEST_CASE("a template's fields and literal braces") {
  CHECK(LineFor("{{{service}}} {method} {seqid}", "PingPong.ping") == "{PingPong} ping 3\n");
}

TEST_CASE("a named service's call is logged under the name it is exported by") {
  AccessLogFormat parsed;
  REQUIRE(AccessLogFormat::Parse("{service} {method}", &parsed).ok());
  CallRecord call;
  call.method = "KeyValue.getValue";
  call.service = "kv";
  CHECK(parsed.Format(call, 0) == "kv getValue\n");
  REQUIRE(AccessLogFormat::Parse("json", &parsed).ok());
  CHECK(parsed.Format(call, 0).find("\"service\":\"kv\",\"method\":\"getValue\"") !=
        std::string::npos);
}

TEST_CASE("a method name a client chose cannot break the line or its quotes") {
  // The name an unknown method was asked by is logged as it came: found by
  // the access_log_format fuzz target (tests/fuzz), which wants one line.
  std::string line =
      LineFor("{peer} \"{service}.{method}\" {seqid}", "Ping.x\n127.0.0.1:1 \"Ping.ok\" 1\x7f\\");
  CHECK(line == "127.0.0.1:5555 \"Ping.x\\x0A127.0.0.1:1 \\x22Ping.ok\\x22 1\\x7F\\x5C\" 3\n");
  CHECK(LineFor("{method}", "\tmethod\r") == "\\x09method\\x0D\n");
}

TEST_CASE("json lines escape what a client chose as JSON does") {
  std::string line = LineFor("json", "Ping.a\nb\"");
  CHECK(line.find("\"method\":\"a\\nb\\\"\"") != std::string::npos);
  CHECK(line.find('\n') == line.size() - 1);
}

TEST_CASE("a json line's time is ISO 8601 with milliseconds and the offset") {
  struct ResetZone {
    ~ResetZone() { tzset(); }  // after TZ is put back
  } reset_zone;
  thriftd_test::ScopedEnvironment environment;
  // POSIX zone strings, which need no tzdata. 2026-11-30 19:53:14.123456 UTC
  const std::int64_t when = 1796068394123456;
  environment.Set("TZ", "UTC");
  tzset();
  CHECK(LineFor("json", "Ping.ping", when).find("{\"time\":\"2026-11-30T19:53:14.123+00:00\"") ==
        0);
  environment.Set("TZ", "EST5EDT");  // no DST at the end of November: UTC-5
  tzset();
  CHECK(LineFor("json", "Ping.ping", when).find("{\"time\":\"2026-11-30T14:53:14.123-05:00\"") ==
        0);
  environment.Set("TZ", "IST-5:30");
  tzset();
  CHECK(LineFor("json", "Ping.ping", when).find("\"time\":\"2026-12-01T01:23:14.123+05:30\"") !=
        std::string::npos);
  // The text format keeps the common log format's time.
  environment.Set("TZ", "UTC");
  tzset();
  CHECK(LineFor("{time}", "Ping.ping", when) == "30/Nov/2026:19:53:14 +0000\n");
}

TEST_CASE("the client certificate's subject: a dash without one, in json only with one") {
  AccessLogFormat text;
  AccessLogFormat json;
  REQUIRE(AccessLogFormat::Parse("{method} {tls_subject}", &text).ok());
  REQUIRE(AccessLogFormat::Parse("json", &json).ok());
  CallRecord call;
  call.method = "PingPong.ping";
  CHECK(text.Format(call, 0) == "ping -\n");
  CHECK(json.Format(call, 0).find("tls_subject") == std::string::npos);
  call.tls_subject = "CN=alice \"x\",O=Example";
  CHECK(text.Format(call, 0) == "ping CN=alice \\x22x\\x22,O=Example\n");
  CHECK(json.Format(call, 0).find(",\"tls_subject\":\"CN=alice \\\"x\\\",O=Example\"}") !=
        std::string::npos);
}

}  // namespace
}  // namespace thriftd
