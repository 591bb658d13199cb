// SystemdNotifier against a notify socket of the test's own, playing systemd.
#include "src/systemd_notifier.h"

#include <doctest/doctest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>

#include "src/base/clock.h"
#include "src/base/log.h"
#include "src/base/unique_fd.h"
#include "test_util.h"

namespace thriftd {
namespace {

// The variables systemd sets for a service: the test process may run under
// one, and a case must neither see nor lose them.
struct ScopedEnvironment : thriftd_test::ScopedEnvironment {
  ScopedEnvironment()
      : thriftd_test::ScopedEnvironment({"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"}) {}
};

// systemd's end: a datagram socket bound in a fresh directory. An AF_UNIX
// datagram is on the receiver's queue when sendmsg returns, so whatever the
// notifier sent is here by the time its call returned: "nothing was sent"
// needs no waiting.
class NotifySocket {
 public:
  NotifySocket() : fd_(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) {
    REQUIRE(fd_.valid());
    path_ = dir_.Join("notify");
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    REQUIRE(path_.size() < sizeof address.sun_path);
    std::memcpy(address.sun_path, path_.c_str(), path_.size() + 1);
    REQUIRE(bind(fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  }

  const std::string& path() const { return path_; }

  /// The next datagram; fails the test when none comes within 5 s.
  std::string Receive() {
    double deadline = MonotonicSeconds() + 5;
    for (;;) {
      char buffer[4096];
      ssize_t n = recv(fd_.get(), buffer, sizeof buffer, 0);
      if (n >= 0) return std::string(buffer, static_cast<std::size_t>(n));
      REQUIRE(errno == EAGAIN);
      double left = deadline - MonotonicSeconds();
      REQUIRE_MESSAGE(left > 0, "no notification within 5 s");
      pollfd readable{fd_.get(), POLLIN, 0};
      int ready = poll(&readable, 1, static_cast<int>(left * 1000) + 1);
      REQUIRE((ready >= 0 || errno == EINTR));
    }
  }

  /// True when nothing more was sent.
  bool Silent() {
    char byte;
    ssize_t n = recv(fd_.get(), &byte, 1, MSG_PEEK);
    return n < 0 && errno == EAGAIN;
  }

 private:
  thriftd_test::TempDir dir_;
  UniqueFd fd_;
  std::string path_;
};

// systemd running the test as a service: its variables, NOTIFY_SOCKET naming
// this socket.
class Systemd : public NotifySocket {
 public:
  Systemd() { environment.Set("NOTIFY_SOCKET", path()); }
  /// WatchdogSec=3s, for the process `pid` (systemd's WATCHDOG_PID).
  void EnableWatchdog(pid_t pid) {
    environment.Set("WATCHDOG_USEC", "3000000");
    environment.Set("WATCHDOG_PID", std::to_string(pid));
  }
  ScopedEnvironment environment;
};

std::size_t Count(const std::string& text, const std::string& part) {
  std::size_t count = 0;
  for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1))
    ++count;
  return count;
}

TEST_CASE("SystemdNotifier without NOTIFY_SOCKET sends nothing, even once it is set") {
  ScopedEnvironment environment;
  environment.Set("WATCHDOG_USEC", "3000000");
  environment.Set("WATCHDOG_PID", std::to_string(getpid()));
  NotifySocket systemd;
  SystemdNotifier notifier;
  CHECK_FALSE(notifier.enabled());
  CHECK_FALSE(notifier.watchdog_enabled());
  // Read once: a socket named afterwards changes nothing.
  environment.Set("NOTIFY_SOCKET", systemd.path());
  notifier.Ready("ready");
  notifier.Reloading("reloading");
  notifier.Status("status");
  notifier.WatchdogTick(100);
  notifier.Stopping("stopping");
  notifier.MainPid(getppid());
  CHECK(systemd.Silent());
}

TEST_CASE("SystemdNotifier::Ready sends READY=1 with the status") {
  Systemd systemd;
  SystemdNotifier notifier;
  CHECK(notifier.enabled());
  CHECK_FALSE(notifier.watchdog_enabled());
  notifier.Ready("serving with 2 workers");
  CHECK(systemd.Receive() == "READY=1\nSTATUS=serving with 2 workers");
  CHECK(systemd.Silent());
  // The environment stays for a re-executed thriftd.
  CHECK(std::getenv("NOTIFY_SOCKET") == systemd.path());
}

TEST_CASE("SystemdNotifier::Reloading sends RELOADING=1 with the monotonic time it was sent") {
  Systemd systemd;
  SystemdNotifier notifier;
  std::int64_t before = MonotonicNanos() / 1000;
  notifier.Reloading("reloading");
  std::int64_t after = MonotonicNanos() / 1000;
  std::string message = systemd.Receive();
  std::string prefix = "RELOADING=1\nMONOTONIC_USEC=";
  std::string suffix = "\nSTATUS=reloading";
  REQUIRE(message.rfind(prefix, 0) == 0);
  REQUIRE(message.size() > prefix.size() + suffix.size());
  REQUIRE(message.compare(message.size() - suffix.size(), suffix.size(), suffix) == 0);
  std::string usec = message.substr(prefix.size(), message.size() - prefix.size() - suffix.size());
  REQUIRE(usec.find_first_not_of("0123456789") == std::string::npos);
  CHECK(std::stoll(usec) >= before);
  CHECK(std::stoll(usec) <= after);
}

TEST_CASE("SystemdNotifier::Stopping sends STOPPING=1 with the status") {
  Systemd systemd;
  SystemdNotifier notifier;
  notifier.Stopping("stopping gracefully");
  CHECK(systemd.Receive() == "STOPPING=1\nSTATUS=stopping gracefully");
}

TEST_CASE("SystemdNotifier::Status sends a status only when it changed") {
  Systemd systemd;
  SystemdNotifier notifier;
  notifier.Status("2 workers");
  CHECK(systemd.Receive() == "STATUS=2 workers");
  notifier.Status("2 workers");
  CHECK(systemd.Silent());
  notifier.Status("3 workers");
  CHECK(systemd.Receive() == "STATUS=3 workers");
  // READY always goes, and its status counts as sent.
  notifier.Ready("3 workers");
  CHECK(systemd.Receive() == "READY=1\nSTATUS=3 workers");
  notifier.Status("3 workers");
  CHECK(systemd.Silent());
  notifier.Status("");
  CHECK(systemd.Receive() == "STATUS=");
}

TEST_CASE("SystemdNotifier keeps a status on one line: a newline would start another assignment") {
  Systemd systemd;
  SystemdNotifier notifier;
  notifier.Status("bad config\nSTOPPING=1");
  CHECK(systemd.Receive() == "STATUS=bad config STOPPING=1");
}

TEST_CASE("SystemdNotifier::MainPid hands the service over, and nothing is sent afterwards") {
  Systemd systemd;
  systemd.EnableWatchdog(getpid());
  SystemdNotifier notifier;
  REQUIRE(notifier.watchdog_enabled());
  notifier.MainPid(4242);
  CHECK(systemd.Receive() == "MAINPID=4242");
  CHECK_FALSE(notifier.enabled());
  CHECK_FALSE(notifier.watchdog_enabled());
  notifier.Status("handed over");
  notifier.Ready("ready");
  notifier.Reloading("reloading");
  notifier.WatchdogTick(100);
  notifier.Stopping("stopping");
  notifier.MainPid(4243);
  CHECK(systemd.Silent());
}

TEST_CASE("SystemdNotifier::WatchdogTick pings once a third of WATCHDOG_USEC has passed") {
  Systemd systemd;
  systemd.EnableWatchdog(getpid());  // a ping every second at least
  SystemdNotifier notifier;
  REQUIRE(notifier.watchdog_enabled());
  notifier.WatchdogTick(100.0);  // the first tick pings: nothing says when the last one was
  CHECK(systemd.Receive() == "WATCHDOG=1");
  notifier.WatchdogTick(100.2);
  notifier.WatchdogTick(100.999);
  CHECK(systemd.Silent());
  notifier.WatchdogTick(101.0);
  CHECK(systemd.Receive() == "WATCHDOG=1");
  notifier.WatchdogTick(101.5);
  CHECK(systemd.Silent());
  notifier.WatchdogTick(105.0);  // a late tick pings once, not once per missed second
  CHECK(systemd.Receive() == "WATCHDOG=1");
  CHECK(systemd.Silent());
  // Pings are not statuses: the status is still sent, once.
  notifier.Status("serving");
  CHECK(systemd.Receive() == "STATUS=serving");
}

TEST_CASE("SystemdNotifier's watchdog is off without WATCHDOG_USEC") {
  Systemd systemd;
  SystemdNotifier notifier;
  CHECK_FALSE(notifier.watchdog_enabled());
  notifier.WatchdogTick(100);
  CHECK(systemd.Silent());
}

TEST_CASE("SystemdNotifier's watchdog is another process's when WATCHDOG_PID names it") {
  // As in a re-executed thriftd that inherited the old master's variables.
  Systemd systemd;
  systemd.EnableWatchdog(getppid());
  SystemdNotifier other;
  CHECK_FALSE(other.watchdog_enabled());
  other.WatchdogTick(100);
  CHECK(systemd.Silent());
}

TEST_CASE("SystemdNotifier in a master that is not the main process yet sends statuses and pings") {
  Systemd systemd;
  systemd.EnableWatchdog(getpid());
  SystemdNotifier notifier;
  CHECK(notifier.main_process());
  notifier.SetMainProcess(false);
  CHECK_FALSE(notifier.main_process());
  notifier.Ready("upgraded master ready");
  CHECK(systemd.Receive() == "STATUS=upgraded master ready");
  notifier.Ready("upgraded master ready");
  notifier.Reloading("upgraded master ready");
  CHECK(systemd.Silent());
  notifier.Stopping("rolled back");  // a STOPPING=1 here would stop the unit
  CHECK(systemd.Receive() == "STATUS=rolled back");
  notifier.WatchdogTick(100);
  CHECK(systemd.Receive() == "WATCHDOG=1");
  notifier.SetMainProcess(true);
  notifier.Stopping("rolled back");
  CHECK(systemd.Receive() == "STOPPING=1\nSTATUS=rolled back");
}

TEST_CASE("SystemdNotifier logs a failed sd_notify once, and carries on") {
  ScopedEnvironment environment;
  thriftd_test::TempDir dir;
  environment.Set("NOTIFY_SOCKET", dir.Join("nobody-listens"));
  SystemdNotifier notifier;
  thriftd_test::LogCapture log(LogLevel::kDebug);
  notifier.Ready("ready");
  notifier.Status("serving");
  notifier.Stopping("stopping");
  std::string text = log.Text();
  CHECK(Count(text, "[WARNING]") == 1);
  CHECK(text.find("cannot notify systemd (further failures are not logged): sd_notify(READY=1): "
                  "No such file or directory") != std::string::npos);

  // A status that failed to go is sent again once systemd listens.
  NotifySocket systemd;
  environment.Set("NOTIFY_SOCKET", systemd.path());
  notifier.Status("stopping");
  CHECK(systemd.Receive() == "STATUS=stopping");
}

}  // namespace
}  // namespace thriftd
