// Bind addresses as the operator writes them.
#include "src/base/bind_address.h"

#include <doctest/doctest.h>

namespace thriftd {
namespace {

BindAddress Parse(const std::string& text) {
  BindAddress address;
  REQUIRE_MESSAGE(ParseBindAddress(text, &address), text);
  return address;
}

TEST_CASE("HOST:PORT is a TCP address") {
  BindAddress address = Parse("127.0.0.1:9090");
  CHECK(address.kind == BindAddress::Kind::kTcp);
  CHECK(address.host == "127.0.0.1");
  CHECK(address.port == 9090);
  CHECK(address.ToString() == "127.0.0.1:9090");

  address = Parse("localhost:0");
  CHECK(address.host == "localhost");
  CHECK(address.port == 0);
  CHECK(address.ToString() == "localhost:0");

  address = Parse("my-host.example_1.com:65535");
  CHECK(address.host == "my-host.example_1.com");
  CHECK(address.port == 65535);
}

TEST_CASE("HOST:FIRST-LAST is a range of ports") {
  BindAddress address = Parse("127.0.0.1:9000-9100");
  CHECK(address.kind == BindAddress::Kind::kTcp);
  CHECK(address.host == "127.0.0.1");
  CHECK(address.port == 9000);
  CHECK(address.last_port == 9100);
  CHECK(address.ToString() == "127.0.0.1:9000-9100");
  address = Parse("[::1]:7-7");
  CHECK(address.port == 7);
  CHECK(address.last_port == 7);
  CHECK(address.ToString() == "[::1]:7-7");
  CHECK(Parse("127.0.0.1:9000").last_port == 0);
  for (const char* text : {"h:0-10", "h:10-9", "h:1-", "h:-1", "h:1-65536", "h:1--2", "h:a-b"}) {
    CAPTURE(text);
    BindAddress ignored;
    CHECK_FALSE(ParseBindAddress(text, &ignored));
  }
}

TEST_CASE(":PORT listens on all IPv4 interfaces") {
  BindAddress address = Parse(":8000");
  CHECK(address.kind == BindAddress::Kind::kTcp);
  CHECK(address.host == "");
  CHECK(address.port == 8000);
  CHECK(address.ToString() == "0.0.0.0:8000");
}

TEST_CASE("[V6]:PORT is an IPv6 address, brackets dropped from the host") {
  BindAddress address = Parse("[::1]:9090");
  CHECK(address.kind == BindAddress::Kind::kTcp);
  CHECK(address.host == "::1");
  CHECK(address.port == 9090);
  CHECK(address.ToString() == "[::1]:9090");

  address = Parse("[::]:80");
  CHECK(address.host == "::");
  CHECK(address.ToString() == "[::]:80");

  address = Parse("[2001:db8::ffff:1.2.3.4]:1");
  CHECK(address.host == "2001:db8::ffff:1.2.3.4");
  CHECK(address.port == 1);
}

TEST_CASE("unix:PATH is a unix socket") {
  BindAddress address = Parse("unix:/run/thriftd.sock");
  CHECK(address.kind == BindAddress::Kind::kUnix);
  CHECK(address.path == "/run/thriftd.sock");
  CHECK(address.ToString() == "unix:/run/thriftd.sock");

  address = Parse("unix:relative/a:b.sock");
  CHECK(address.path == "relative/a:b.sock");
}

TEST_CASE("fd://N adopts an inherited descriptor") {
  BindAddress address = Parse("fd://3");
  CHECK(address.kind == BindAddress::Kind::kFd);
  CHECK(address.fd == 3);
  CHECK(address.ToString() == "fd://3");
}

TEST_CASE("systemd:NAME takes the socket systemd passed under that name") {
  BindAddress address = Parse("systemd:thrift");
  CHECK(address.kind == BindAddress::Kind::kSystemd);
  CHECK(address.name == "thrift");
  CHECK(address.ToString() == "systemd:thrift");
}

TEST_CASE("malformed addresses are rejected and leave the output untouched") {
  for (const char* text : {"nohost",      "1.2.3.4:99999", "[::1",     "[::1]",  "[::1]9090",
                           "[]:80",       "[1.2.3.4]:80",  "unix:",    "fd://x", "fd://",
                           "fd://-1",     "host:port",     ":",        "",       "systemd:",
                           "systemd:a b", "systemd:a:b",   "host:",    "a:b:80", "ho st:80",
                           "host:-1",     "host:+80",      "host:80 ", "::1:80"}) {
    CAPTURE(text);
    BindAddress address;
    address.host = "untouched";
    CHECK_FALSE(ParseBindAddress(text, &address));
    CHECK(address.host == "untouched");
  }
}

}  // namespace
}  // namespace thriftd
