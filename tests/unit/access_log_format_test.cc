// AccessLogFormat: templates and the lines they make.
#include "src/base/access_log_format.h"

#include <doctest/doctest.h>

#include <string>

namespace thriftd {
namespace {

std::string LineFor(const std::string& format, std::string_view method) {
  AccessLogFormat parsed;
  REQUIRE(AccessLogFormat::Parse(format, &parsed).ok());
  CallRecord call;
  call.peer = "127.0.0.1:5555";
  call.method = method;
  call.seqid = 3;
  return parsed.Format(call, 0);
}

TEST_CASE("a template's fields and literal braces") {
  CHECK(LineFor("{{{service}}} {method} {seqid}", "PingPong.ping") == "{PingPong} ping 3\n");
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

}  // namespace
}  // namespace thriftd
