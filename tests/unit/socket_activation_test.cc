// TakeActivatedSockets with a real listening socket where systemd puts the
// first one: descriptor 3.
#include "src/socket_activation.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>

#include "src/base/unique_fd.h"
#include "tests/unit/test_util.h"

namespace thriftd {
namespace {

// The socket-activation variables, unset for the case and put back after
// it: the test process may itself have been started with them.
struct ScopedEnvironment : thriftd_test::ScopedEnvironment {
  ScopedEnvironment()
      : thriftd_test::ScopedEnvironment({"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"}) {}
  /// True when none of the three is set any longer.
  static bool AllUnset() {
    return std::getenv("LISTEN_PID") == nullptr && std::getenv("LISTEN_FDS") == nullptr &&
           std::getenv("LISTEN_FDNAMES") == nullptr;
  }
};

// Descriptor 3 for the case's lifetime. Whatever the test process had there
// is moved aside and put back afterwards; meanwhile 3 holds /dev/null, so no
// socket the case opens lands on it by chance, until Put() or Close().
class DescriptorThree {
 public:
  DescriptorThree() {
    saved_ = fcntl(3, F_DUPFD_CLOEXEC, 10);
    if (saved_ >= 0) {
      saved_flags_ = fcntl(3, F_GETFD);
      REQUIRE(saved_flags_ >= 0);
    } else {
      REQUIRE(errno == EBADF);
    }
    UniqueFd null(open("/dev/null", O_RDONLY | O_CLOEXEC));
    REQUIRE(null.valid());
    if (null.get() == 3) {
      null.Release();  // 3 was free and open() took it
    } else {
      REQUIRE(dup2(null.get(), 3) == 3);
    }
  }
  ~DescriptorThree() {
    if (saved_ >= 0) {
      dup3(saved_, 3, (saved_flags_ & FD_CLOEXEC) ? O_CLOEXEC : 0);
      close(saved_);
    } else {
      close(3);
    }
  }
  DescriptorThree(const DescriptorThree&) = delete;
  DescriptorThree& operator=(const DescriptorThree&) = delete;

  /// 3 becomes `fd` (without close-on-exec, as systemd passes it).
  void Put(int fd) { REQUIRE(dup2(fd, 3) == 3); }
  void Close() { REQUIRE(close(3) == 0); }

 private:
  int saved_ = -1;
  int saved_flags_ = 0;
};

// A TCP socket listening on a free loopback port.
UniqueFd Listener(int* port) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(fd.valid());
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(listen(fd.get(), 16) == 0);
  socklen_t length = sizeof address;
  REQUIRE(getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) == 0);
  *port = ntohs(address.sin_port);
  return fd;
}

int PortOf(int fd) {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  return ntohs(address.sin_port);
}

bool CloseOnExec(int fd) {
  int flags = fcntl(fd, F_GETFD);
  REQUIRE(flags >= 0);
  return (flags & FD_CLOEXEC) != 0;
}

TEST_CASE("TakeActivatedSockets without the variables is an empty list") {
  ScopedEnvironment environment;
  std::vector<ActivatedSocket> sockets{{7, "stale"}};
  Status status = TakeActivatedSockets(&sockets);
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(sockets.empty());
}

TEST_CASE("TakeActivatedSockets takes systemd's socket with its name") {
  ScopedEnvironment environment;
  DescriptorThree three;
  int port = 0;
  UniqueFd listener = Listener(&port);
  three.Put(listener.get());
  REQUIRE_FALSE(CloseOnExec(3));
  environment.Set("LISTEN_PID", std::to_string(getpid()));
  environment.Set("LISTEN_FDS", "1");
  environment.Set("LISTEN_FDNAMES", "web");
  std::vector<ActivatedSocket> sockets;
  Status status = TakeActivatedSockets(&sockets);
  REQUIRE_MESSAGE(status.ok(), status.message());
  REQUIRE(sockets.size() == 1);
  CHECK(sockets[0].fd == 3);
  CHECK(sockets[0].name == "web");
  CHECK(PortOf(3) == port);
  CHECK(CloseOnExec(3));
  // Nothing the master starts (a worker, a re-executed thriftd) takes them for its own.
  CHECK(ScopedEnvironment::AllUnset());
}

TEST_CASE("TakeActivatedSockets names a socket without LISTEN_FDNAMES \"unknown\"") {
  ScopedEnvironment environment;
  DescriptorThree three;
  int port = 0;
  UniqueFd listener = Listener(&port);
  three.Put(listener.get());
  environment.Set("LISTEN_PID", std::to_string(getpid()));
  environment.Set("LISTEN_FDS", "1");
  std::vector<ActivatedSocket> sockets;
  Status status = TakeActivatedSockets(&sockets);
  REQUIRE_MESSAGE(status.ok(), status.message());
  REQUIRE(sockets.size() == 1);
  CHECK(sockets[0].fd == 3);
  CHECK(sockets[0].name == "unknown");
}

TEST_CASE("TakeActivatedSockets ignores sockets passed to another process") {
  // As in a worker or a re-executed thriftd, had the variables been left set.
  ScopedEnvironment environment;
  DescriptorThree three;
  int port = 0;
  UniqueFd listener = Listener(&port);
  three.Put(listener.get());
  environment.Set("LISTEN_PID", std::to_string(getppid()));
  environment.Set("LISTEN_FDS", "1");
  environment.Set("LISTEN_FDNAMES", "web");
  std::vector<ActivatedSocket> sockets;
  Status status = TakeActivatedSockets(&sockets);
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(sockets.empty());
  CHECK_FALSE(CloseOnExec(3));  // not ours: left alone
  CHECK(ScopedEnvironment::AllUnset());
}

TEST_CASE("TakeActivatedSockets names the malformed variable") {
  ScopedEnvironment environment;
  DescriptorThree three;
  int port = 0;
  UniqueFd listener = Listener(&port);
  three.Put(listener.get());
  std::string pid = std::to_string(getpid());
  std::string expected;

  SUBCASE("LISTEN_PID") {
    environment.Set("LISTEN_PID", "thriftd");
    environment.Set("LISTEN_FDS", "1");
    expected = "socket activation: LISTEN_PID=thriftd is not a pid";
  }
  SUBCASE("LISTEN_FDS") {
    environment.Set("LISTEN_PID", pid);
    environment.Set("LISTEN_FDS", "one");
    expected = "socket activation: LISTEN_FDS=one is not a positive number";
  }
  SUBCASE("LISTEN_FDS naming a descriptor that is not open") {
    three.Close();
    environment.Set("LISTEN_PID", pid);
    environment.Set("LISTEN_FDS", "1");
    expected = "socket activation: LISTEN_FDS=1 names descriptor 3, which is not open";
  }
  SUBCASE("LISTEN_FDNAMES") {
    environment.Set("LISTEN_PID", pid);
    environment.Set("LISTEN_FDS", "1");
    environment.Set("LISTEN_FDNAMES", "web:admin");
    expected = "socket activation: LISTEN_FDNAMES=web:admin has 2 names for LISTEN_FDS=1";
  }

  std::vector<ActivatedSocket> sockets;
  Status status = TakeActivatedSockets(&sockets);
  REQUIRE_FALSE(status.ok());
  CHECK(status.message() == expected);
  CHECK(sockets.empty());
  CHECK(ScopedEnvironment::AllUnset());
}

}  // namespace
}  // namespace thriftd
