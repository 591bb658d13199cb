// Where `thriftd call` connects (its address, --schema-from): one endpoint,
// never a bind's port range, port 0 or all interfaces.
#include "call/connect_address.h"

#include <doctest/doctest.h>

namespace thriftd::call {
namespace {

TEST_CASE("a connect address is one host and port, or a unix socket where accepted") {
  BindAddress address;
  REQUIRE(ParseConnectAddress("127.0.0.1:9090", UnixSockets::kRefused, &address));
  CHECK(address.host == "127.0.0.1");
  CHECK(address.port == 9090);
  REQUIRE(ParseConnectAddress("[::1]:9090", UnixSockets::kRefused, &address));
  CHECK(address.host == "::1");
  REQUIRE(ParseConnectAddress("unix:/run/x.sock", UnixSockets::kAccepted, &address));
  CHECK(address.kind == BindAddress::Kind::kUnix);
  CHECK(address.path == "/run/x.sock");
}

TEST_CASE("a connect address refuses what only a bind can use, leaving the address alone") {
  BindAddress address;
  address.host = "kept";
  for (const char* text : {"127.0.0.1:9000-9100", "127.0.0.1:9000-9000", "127.0.0.1:0", ":9090",
                           "fd://3", "systemd:api", "127.0.0.1", "not an address"}) {
    CAPTURE(text);
    CHECK_FALSE(ParseConnectAddress(text, UnixSockets::kAccepted, &address));
  }
  CHECK_FALSE(ParseConnectAddress("unix:/run/x.sock", UnixSockets::kRefused, &address));
  CHECK(address.host == "kept");
}

}  // namespace
}  // namespace thriftd::call
