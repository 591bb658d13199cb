// Listening sockets: TCP, unix and inherited descriptors.
#include "src/listener.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "test_util.h"

namespace thriftd {
namespace {

BindAddress Address(const std::string& text) {
  BindAddress address;
  REQUIRE_MESSAGE(ParseBindAddress(text, &address), text);
  return address;
}

bool IsListening(int fd) {
  int accepting = 0;
  socklen_t length = sizeof accepting;
  return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length) == 0 && accepting;
}

bool IsNonBlocking(int fd) { return (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0; }
bool IsCloseOnExec(int fd) { return (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0; }

int PortOf(const std::string& display) { return std::stoi(display.substr(display.rfind(':') + 1)); }

// Binds a unix socket at `path` and closes it, leaving the file behind as a
// crashed thriftd would.
void LeaveStaleSocket(const std::string& path) {
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM, 0));
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  std::strncpy(sun.sun_path, path.c_str(), sizeof sun.sun_path - 1);
  REQUIRE(bind(fd.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0);
}

bool IsSocketFile(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

TEST_CASE("OpenListener on 127.0.0.1:0 listens, non-blocking, on a real port") {
  Listener listener;
  Status status = OpenListener(Address("127.0.0.1:0"), 16, &listener);
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(listener.fd.valid());
  CHECK(IsListening(listener.fd.get()));
  CHECK(IsNonBlocking(listener.fd.get()));
  CHECK(IsCloseOnExec(listener.fd.get()));
  CHECK(listener.display.rfind("127.0.0.1:", 0) == 0);
  CHECK(PortOf(listener.display) > 0);
  CHECK(listener.address.ToString() == "127.0.0.1:0");
  CHECK_FALSE(listener.owns_unix_path);

  sockaddr_in bound{};
  socklen_t length = sizeof bound;
  REQUIRE(getsockname(listener.fd.get(), reinterpret_cast<sockaddr*>(&bound), &length) == 0);
  CHECK(ntohs(bound.sin_port) == PortOf(listener.display));
}

TEST_CASE("a port already listening is refused, naming the address and bind()") {
  Listener first;
  REQUIRE(OpenListener(Address("127.0.0.1:0"), 16, &first).ok());
  std::string taken = "127.0.0.1:" + std::to_string(PortOf(first.display));
  Listener second;
  Status status = OpenListener(Address(taken), 16, &second);
  REQUIRE_FALSE(status.ok());
  CHECK(status.message() == "cannot listen on " + taken + ": bind: Address already in use");
  CHECK_FALSE(second.fd.valid());
}

TEST_CASE("a port range takes its first free port, and names the range when none is free") {
  // A port P held by another socket, with P+1 free: looked for many times, since
  // a busy host (tens of thousands of connections) leaves few such pairs.
  Listener taken;
  int port = 0;
  for (int attempt = 0; attempt < 500 && port == 0; ++attempt) {
    Listener candidate;
    REQUIRE(OpenListener(Address("127.0.0.1:0"), 16, &candidate).ok());
    int p = PortOf(candidate.display);
    if (p >= 65535) continue;
    Listener next;
    if (!OpenListener(Address("127.0.0.1:" + std::to_string(p + 1)), 16, &next).ok()) continue;
    taken = std::move(candidate);
    port = p;
  }
  REQUIRE(port != 0);
  std::string range = "127.0.0.1:" + std::to_string(port) + "-" + std::to_string(port + 1);
  Listener listener;
  Status status = OpenListener(Address(range), 16, &listener);
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(listener.port == port + 1);
  CHECK(listener.display == "127.0.0.1:" + std::to_string(port + 1));
  CHECK(listener.address.ToString() == range);
  CHECK(IsListening(listener.fd.get()));

  // Both taken now.
  Listener none;
  status = OpenListener(Address(range), 16, &none);
  CHECK(status.message() ==
        "cannot listen on " + range + ": no free port in the range (bind: Address already in use)");
  CHECK_FALSE(none.fd.valid());

  // A socket inherited for the range (a binary upgrade) is adopted on any port of it.
  int fd = dup(listener.fd.get());
  REQUIRE(fd >= 0);
  Listener adopted;
  status = AdoptListener(fd, Address(range), &adopted);
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(adopted.port == port + 1);
  int other = dup(taken.fd.get());
  REQUIRE(other >= 0);
  Listener outside;
  std::string beyond = "127.0.0.1:" + std::to_string(port + 1) + "-" + std::to_string(port + 1);
  CHECK_FALSE(AdoptListener(other, Address(beyond), &outside).ok());
  close(other);
}

TEST_CASE("reuse_port sets SO_REUSEPORT, so a second listener of ours shares the port") {
  Listener first;
  REQUIRE(OpenListener(Address("127.0.0.1:0"), 16, &first, /*reuse_port=*/true).ok());
  int on = 0;
  socklen_t length = sizeof on;
  REQUIRE(getsockopt(first.fd.get(), SOL_SOCKET, SO_REUSEPORT, &on, &length) == 0);
  CHECK(on == 1);
  std::string shared = "127.0.0.1:" + std::to_string(PortOf(first.display));
  Listener second;
  Status status = OpenListener(Address(shared), 16, &second, /*reuse_port=*/true);
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(IsListening(second.fd.get()));
  // Without it (the default) the port stays this socket group's alone.
  Listener third;
  CHECK_FALSE(OpenListener(Address(shared), 16, &third).ok());
}

TEST_CASE(":PORT listens on every IPv4 interface") {
  Listener listener;
  Status status = OpenListener(Address(":0"), 16, &listener);
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(listener.display.rfind("0.0.0.0:", 0) == 0);
}

TEST_CASE("[::1]:0 listens on IPv6 loopback") {
  UniqueFd probe(socket(AF_INET6, SOCK_STREAM, 0));
  sockaddr_in6 loopback{};
  loopback.sin6_family = AF_INET6;
  loopback.sin6_addr = in6addr_loopback;
  if (!probe.valid() ||
      bind(probe.get(), reinterpret_cast<sockaddr*>(&loopback), sizeof loopback) != 0) {
    MESSAGE("no IPv6 loopback here; skipped");
    return;
  }
  Listener listener;
  Status status = OpenListener(Address("[::1]:0"), 16, &listener);
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(listener.display.rfind("[::1]:", 0) == 0);
  CHECK(IsNonBlocking(listener.fd.get()));
}

TEST_CASE("an unresolvable host names the address and the resolver's reason") {
  Listener listener;
  Status status = OpenListener(Address("no-such-host.invalid:80"), 16, &listener);
  REQUIRE_FALSE(status.ok());
  CHECK(status.message().rfind("cannot listen on no-such-host.invalid:80: ", 0) == 0);
}

TEST_CASE("a unix socket is created at its path and removed by RemoveUnixSocketPaths") {
  thriftd_test::TempDir dir;
  std::string path = dir.Join("thriftd.sock");
  std::vector<Listener> listeners(1);
  Status status = OpenListener(Address("unix:" + path), 16, &listeners[0]);
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(IsSocketFile(path));
  CHECK(listeners[0].display == "unix:" + path);
  CHECK(listeners[0].owns_unix_path);
  CHECK(IsListening(listeners[0].fd.get()));
  CHECK(IsNonBlocking(listeners[0].fd.get()));

  RemoveUnixSocketPaths(listeners);
  CHECK_FALSE(thriftd_test::Exists(path));
}

TEST_CASE("a stale unix socket file is replaced") {
  thriftd_test::TempDir dir;
  std::string path = dir.Join("stale.sock");
  LeaveStaleSocket(path);
  REQUIRE(IsSocketFile(path));
  Listener listener;
  Status status = OpenListener(Address("unix:" + path), 16, &listener);
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(IsListening(listener.fd.get()));
  CHECK(listener.owns_unix_path);
}

TEST_CASE("a live unix socket is refused and left alone") {
  thriftd_test::TempDir dir;
  std::string path = dir.Join("live.sock");
  Listener live;
  REQUIRE(OpenListener(Address("unix:" + path), 16, &live).ok());
  Listener second;
  Status status = OpenListener(Address("unix:" + path), 16, &second);
  REQUIRE_FALSE(status.ok());
  CHECK(status.message() == "cannot listen on unix:" + path + ": bind: Address already in use");
  CHECK_FALSE(second.owns_unix_path);
  CHECK(IsSocketFile(path));

  // The refused listener removes nothing that is not its own.
  RemoveUnixSocketPaths({});
  std::vector<Listener> refused(1);
  refused[0] = std::move(second);
  RemoveUnixSocketPaths(refused);
  CHECK(IsSocketFile(path));
}

TEST_CASE("a unix path that is a regular file is not replaced") {
  thriftd_test::TempDir dir;
  std::string path = dir.Write("data.txt", "precious\n");
  Listener listener;
  Status status = OpenListener(Address("unix:" + path), 16, &listener);
  REQUIRE_FALSE(status.ok());
  CHECK(status.message() == "cannot listen on unix:" + path + ": bind: File exists");
  CHECK(thriftd_test::ReadFile(path) == "precious\n");
}

TEST_CASE("a unix path longer than sun_path is refused") {
  std::string path = "/tmp/" + std::string(200, 'x') + ".sock";
  Listener listener;
  Status status = OpenListener(Address("unix:" + path), 16, &listener);
  REQUIRE_FALSE(status.ok());
  CHECK(status.message() == "cannot listen on unix:" + path + ": bind: File name too long");
}

TEST_CASE("fd://N adopts a listening descriptor") {
  Listener original;
  REQUIRE(OpenListener(Address("127.0.0.1:0"), 16, &original).ok());
  int fd = original.fd.Release();
  Listener adopted;
  Status status = OpenListener(Address("fd://" + std::to_string(fd)), 16, &adopted);
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(adopted.fd.get() == fd);
  CHECK(adopted.display.rfind("fd://" + std::to_string(fd) + " (127.0.0.1:", 0) == 0);
  CHECK(IsNonBlocking(fd));
  CHECK(IsCloseOnExec(fd));
}

TEST_CASE("fd://N refuses a descriptor that is not a listening socket") {
  UniqueFd unbound(socket(AF_INET, SOCK_STREAM, 0));
  std::string spec = "fd://" + std::to_string(unbound.get());
  Listener listener;
  Status status = OpenListener(Address(spec), 16, &listener);
  REQUIRE_FALSE(status.ok());
  CHECK(status.message() == "cannot listen on " + spec + ": descriptor " +
                                std::to_string(unbound.get()) +
                                " is not a listening stream socket");

  thriftd_test::TempDir dir;
  UniqueFd file(open(dir.Write("f", "").c_str(), O_RDONLY));
  spec = "fd://" + std::to_string(file.get());
  status = OpenListener(Address(spec), 16, &listener);
  REQUIRE_FALSE(status.ok());
  CHECK(status.message() ==
        "cannot listen on " + spec + ": getsockopt: Socket operation on non-socket");
}

}  // namespace
}  // namespace thriftd
