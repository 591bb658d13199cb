// Opening the listeners from bind entries and inherited sockets (a binary
// upgrade's, systemd's).
#include "src/open_listeners.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "src/base/socket_address.h"
#include "test_util.h"

namespace thriftd {
namespace {

// A listening socket on an ephemeral 127.0.0.1 port, as another process
// would pass it; its port in *port.
UniqueFd ListeningSocket(int* port) {
  BindAddress address;
  REQUIRE(ParseBindAddress("127.0.0.1:0", &address));
  Listener listener;
  REQUIRE(OpenListener(address, 16, &listener).ok());
  *port = listener.port;
  return std::move(listener.fd);
}

bool IsOpen(int fd) { return fcntl(fd, F_GETFD) >= 0; }

TEST_CASE("a bind entry adopts the inherited socket of the same key, not a new one") {
  int port = 0;
  UniqueFd passed = ListeningSocket(&port);
  int fd = passed.get();
  std::string key = "127.0.0.1:" + std::to_string(port);
  std::vector<InheritedSocket> inherited;
  inherited.push_back({std::move(passed), key});
  std::vector<Listener> listeners;
  Status status = OpenListeners({key}, false, 16, std::move(inherited), &listeners);
  REQUIRE_MESSAGE(status.ok(), status.message());
  REQUIRE(listeners.size() == 1);
  CHECK(listeners[0].fd.get() == fd);
  CHECK(listeners[0].key == key);
  CHECK(listeners[0].port == port);
}

TEST_CASE("an adopted unix socket's path is not the adopter's to remove") {
  // The master that created it (an older one, in an upgrade) still serves
  // on it; the new one owns the path only once that one has gone.
  thriftd_test::TempDir dir;
  std::string key = "unix:" + dir.Join("x.sock");
  BindAddress address;
  REQUIRE(ParseBindAddress(key, &address));
  Listener original;
  REQUIRE(OpenListener(address, 16, &original).ok());
  REQUIRE(original.owns_unix_path);
  std::vector<InheritedSocket> inherited;
  inherited.push_back({std::move(original.fd), key});
  std::vector<Listener> listeners;
  REQUIRE(OpenListeners({key}, false, 16, std::move(inherited), &listeners).ok());
  CHECK_FALSE(listeners[0].owns_unix_path);
  RemoveUnixSocketPaths(listeners);
  CHECK(thriftd_test::Exists(dir.Join("x.sock")));
}

TEST_CASE("an ephemeral port is kept: the entry 127.0.0.1:0 adopts the socket it named") {
  int port = 0;
  UniqueFd passed = ListeningSocket(&port);
  std::vector<InheritedSocket> inherited;
  inherited.push_back({std::move(passed), "127.0.0.1:0"});
  std::vector<Listener> listeners;
  REQUIRE(OpenListeners({"127.0.0.1:0"}, false, 16, std::move(inherited), &listeners).ok());
  CHECK(listeners[0].port == port);
}

TEST_CASE("an inherited socket bound elsewhere than its key says is refused") {
  int port = 0;
  UniqueFd passed = ListeningSocket(&port);
  int other = port == 65535 ? port - 1 : port + 1;
  std::string key = "127.0.0.1:" + std::to_string(other);
  std::vector<InheritedSocket> inherited;
  inherited.push_back({std::move(passed), key});
  std::vector<Listener> listeners;
  Status status = OpenListeners({key}, false, 16, std::move(inherited), &listeners);
  REQUIRE_FALSE(status.ok());
  CHECK(status.message().find("is not bound there: it is bound to 127.0.0.1:" +
                              std::to_string(port)) != std::string::npos);
}

TEST_CASE("systemd:NAME takes the socket systemd passed by that name") {
  int port = 0;
  UniqueFd passed = ListeningSocket(&port);
  int fd = passed.get();
  std::vector<InheritedSocket> inherited;
  inherited.push_back({std::move(passed), "systemd:web"});
  std::vector<Listener> listeners;
  Status status = OpenListeners({"systemd:web"}, false, 16, std::move(inherited), &listeners);
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(listeners[0].fd.get() == fd);
  CHECK(listeners[0].display == "systemd:web (127.0.0.1:" + std::to_string(port) + ")");
}

TEST_CASE("systemd:NAME with no such socket names the ones that were passed") {
  int port = 0;
  std::vector<InheritedSocket> inherited;
  inherited.push_back({ListeningSocket(&port), "systemd:web"});
  inherited.push_back({ListeningSocket(&port), "systemd:admin"});
  std::vector<Listener> listeners;
  Status status = OpenListeners({"systemd:api"}, false, 16, std::move(inherited), &listeners);
  REQUIRE_FALSE(status.ok());
  CHECK(status.message() ==
        "cannot listen on systemd:api: systemd passed no socket named api (LISTEN_FDNAMES: web, "
        "admin)");

  status = OpenListeners({"systemd:api"}, false, 16, {}, &listeners);
  CHECK(status.message() ==
        "cannot listen on systemd:api: systemd passed no socket named api (it passed none: "
        "LISTEN_FDS is not set)");
}

TEST_CASE("with the default bind, the sockets systemd passed are the listeners") {
  int web_port = 0, admin_port = 0;
  std::vector<InheritedSocket> inherited;
  inherited.push_back({ListeningSocket(&web_port), "systemd:web"});
  inherited.push_back({ListeningSocket(&admin_port), "systemd:admin"});
  std::vector<Listener> listeners;
  Status status = OpenListeners({"127.0.0.1:8000"}, /*binds_are_default=*/true, 16,
                                std::move(inherited), &listeners);
  REQUIRE_MESSAGE(status.ok(), status.message());
  REQUIRE(listeners.size() == 2);
  CHECK(listeners[0].key == "systemd:web");
  CHECK(listeners[0].port == web_port);
  CHECK(listeners[1].key == "systemd:admin");
  CHECK(listeners[1].port == admin_port);
}

TEST_CASE("an inherited socket no entry binds is closed") {
  int port = 0;
  UniqueFd passed = ListeningSocket(&port);
  int fd = passed.get();
  std::vector<InheritedSocket> inherited;
  inherited.push_back({std::move(passed), "127.0.0.1:" + std::to_string(port)});
  std::vector<Listener> listeners;
  REQUIRE(OpenListeners({"127.0.0.1:0"}, false, 16, std::move(inherited), &listeners).ok());
  CHECK(listeners[0].port != port);
  CHECK_FALSE(IsOpen(fd));
}

TEST_CASE("THRIFTD_LISTENERS names each listener's descriptor and key, and is taken once") {
  int port = 0;
  std::vector<Listener> listeners(2);
  listeners[0].fd = ListeningSocket(&port);
  listeners[0].key = "127.0.0.1:0";
  listeners[1].fd = ListeningSocket(&port);
  listeners[1].key = "systemd:web";
  std::string value = ListenersVariable(
      {{listeners[0].fd.get(), listeners[0].key}, {listeners[1].fd.get(), listeners[1].key}});
  CHECK(value == std::to_string(listeners[0].fd.get()) + " 127.0.0.1:0\n" +
                     std::to_string(listeners[1].fd.get()) + " systemd:web\n");
  thriftd_test::ScopedEnvironment environment;
  environment.Set(kListenersVariable, value);
  std::vector<InheritedSocket> taken;
  REQUIRE(TakeUpgradeSockets(&taken).ok());
  CHECK(getenv(kListenersVariable) == nullptr);
  REQUIRE(taken.size() == 2);
  CHECK(taken[0].fd.get() == listeners[0].fd.get());
  CHECK(taken[1].key == "systemd:web");
  // Both own the descriptors now; the test's copies go first.
  for (InheritedSocket& socket : taken) socket.fd.Release();
}

TEST_CASE("a malformed THRIFTD_LISTENERS is an error naming the variable") {
  thriftd_test::ScopedEnvironment environment;
  for (const char* value : {"x 127.0.0.1:1", "3", "3 ", "-1 a"}) {
    CAPTURE(value);
    environment.Set(kListenersVariable, value);
    std::vector<InheritedSocket> taken;
    Status status = TakeUpgradeSockets(&taken);
    REQUIRE_FALSE(status.ok());
    CHECK(status.message().rfind("THRIFTD_LISTENERS: expected lines of \"FD BIND\"", 0) == 0);
    for (InheritedSocket& socket : taken) socket.fd.Release();
  }
}

}  // namespace
}  // namespace thriftd
