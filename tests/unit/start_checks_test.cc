// What a start needs of the system, checked without leaving anything behind:
// writable files (CheckWritable) and the settings' checks (start_checks.h).
#include "src/start_checks.h"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "src/base/unique_fd.h"
#include "src/writable_file.h"
#include "test_util.h"

namespace thriftd {
namespace {

std::string WritableError(const std::string& path, FileWrite how) {
  Status status = CheckWritable(path, how);
  return status.ok() ? "ok" : status.message();
}

Config Resolve(const std::vector<std::string>& args) {
  Config config;
  Status status = ResolveConfig(args, std::nullopt, &config);
  REQUIRE_MESSAGE(status.ok(), status.message());
  return config;
}

// A TCP socket listening on 127.0.0.1 at a port the kernel chose.
struct HeldPort {
  UniqueFd fd{socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  int port = 0;
  HeldPort() {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    REQUIRE(bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(listen(fd.get(), 1) == 0);
    REQUIRE(getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) == 0);
    port = ntohs(address.sin_port);
  }
};

TEST_CASE("CheckWritable: a file that would be created needs its directory, and creates nothing") {
  thriftd_test::TempDir dir;
  for (FileWrite how : {FileWrite::kAppend, FileWrite::kReplace}) {
    CHECK(WritableError(dir.Join("new.log"), how) == "ok");
    CHECK_FALSE(thriftd_test::Exists(dir.Join("new.log")));
    CHECK(WritableError(dir.Join("missing/new.log"), how) ==
          "cannot write " + dir.Join("missing/new.log") + ": " + dir.Join("missing") +
              ": No such file or directory");
    CHECK_FALSE(thriftd_test::Exists(dir.Join("missing")));
    // The directory's name is a file.
    dir.Write("plain", "");
    CHECK(WritableError(dir.Join("plain/new.log"), how) ==
          "cannot write " + dir.Join("plain/new.log") + ": Not a directory");
    CHECK(WritableError(dir.path(), how) == "cannot write " + dir.path() + ": Is a directory");
    CHECK(WritableError(dir.path() + "/", how) ==
          "cannot write " + dir.path() + "/: Is a directory");
  }
}

TEST_CASE("CheckWritable: an existing log file is appended to, a pidfile replaced") {
  thriftd_test::TempDir dir;
  std::string log = dir.Write("old.log", "kept\n");
  CHECK(WritableError(log, FileWrite::kAppend) == "ok");
  CHECK(WritableError(log, FileWrite::kReplace) == "ok");
  CHECK(thriftd_test::ReadFile(log) == "kept\n");
  // Modes mean nothing to root: these run as nobody.
  auto unprivileged = [](const std::string& path, FileWrite how) {
    return thriftd_test::AsUnprivileged([&] { return WritableError(path, how); });
  };
  REQUIRE(chmod(log.c_str(), 0444) == 0);
  REQUIRE(chmod(dir.path().c_str(), 0777) == 0);
  CHECK(unprivileged(log, FileWrite::kAppend) == "cannot write " + log + ": Permission denied");
  // Renamed over: the file's own mode does not matter, the directory's does.
  CHECK(unprivileged(log, FileWrite::kReplace) == "ok");
  REQUIRE(chmod(dir.path().c_str(), 0555) == 0);
  CHECK(unprivileged(dir.Join("new.pid"), FileWrite::kReplace) ==
        "cannot write " + dir.Join("new.pid") + ": " + dir.path() + ": Permission denied");
  REQUIRE(chmod(dir.path().c_str(), 0755) == 0);
}

TEST_CASE("CheckWritable: a bare name is in the working directory") {
  CHECK(WritableError("thriftd-start-checks-test-never-written.log", FileWrite::kAppend) ==
        (access(".", W_OK) == 0 ? "ok"
                                : "cannot write thriftd-start-checks-test-never-written.log: .: "
                                  "Permission denied"));
  CHECK_FALSE(thriftd_test::Exists(
      "thriftd-start-checks-test-never-written.log"));  // a check writes nothing
}

TEST_CASE("CheckLogFiles and CheckPidfileDirectory name the setting's origin") {
  thriftd_test::TempDir dir;
  CHECK(CheckLogFiles(Resolve({})).ok());  // "-" and unset
  CHECK(CheckPidfileDirectory(Resolve({})).ok());
  std::string missing = dir.Join("missing");
  CHECK(CheckLogFiles(Resolve({"--access-logfile", missing + "/a.log"})).message() ==
        "command line: --access-logfile: cannot write " + missing + "/a.log: " + missing +
            ": No such file or directory");
  std::string file = dir.Write("t.yaml", "errorlog: missing/e.log\npidfile: missing/t.pid\n");
  Config config = Resolve({"-c", file});
  CHECK(CheckLogFiles(config).message() == file + ":1: errorlog: cannot write " + missing +
                                               "/e.log: " + missing +
                                               ": No such file or directory");
  CHECK(CheckPidfileDirectory(config).message() == file + ":2: pidfile: cannot write " + missing +
                                                       "/t.pid: " + missing +
                                                       ": No such file or directory");
}

TEST_CASE("CheckListeners binds and releases each entry, and notes the inherited ones") {
  thriftd_test::TempDir dir;
  std::string sock = dir.Join("s.sock");
  Config config =
      Resolve({"-b", "unix:" + sock, "-b", "127.0.0.1:0", "-b", "fd://3", "-b", "systemd:web"});
  std::vector<std::string> inherited;
  Status status = CheckListeners(config, &inherited);
  CHECK_MESSAGE(status.ok(), status.message());
  CHECK(inherited == std::vector<std::string>{"fd://3", "systemd:web"});
  CHECK_FALSE(thriftd_test::Exists(sock));

  HeldPort held;
  std::string in_use = "127.0.0.1:" + std::to_string(held.port);
  inherited.clear();
  CHECK(CheckListeners(Resolve({"-b", "unix:" + sock, "-b", in_use}), &inherited).message() ==
        "command line: --bind: cannot listen on " + in_use + ": bind: Address already in use");
  CHECK_FALSE(thriftd_test::Exists(sock));  // the first entry's file is gone again
}

TEST_CASE("CheckListeners binds and releases metrics_bind") {
  std::vector<std::string> inherited;
  CHECK(CheckListeners(Resolve({}), &inherited).ok());
  CHECK(CheckListeners(Resolve({"--metrics-bind", "127.0.0.1:0"}), &inherited).ok());
  HeldPort held;
  std::string in_use = "127.0.0.1:" + std::to_string(held.port);
  CHECK(CheckListeners(Resolve({"--metrics-bind", in_use}), &inherited).message() ==
        "command line: --metrics-bind: cannot listen on " + in_use +
            ": bind: Address already in use");
}

TEST_CASE("regression: CheckListeners holds every socket at once, as a start does") {
  // Each was opened and closed before the next: two binds of one port, or
  // the metrics port on a bind's, passed the check and failed the start.
  std::string port;
  {
    HeldPort free_now;
    port = std::to_string(free_now.port);
  }
  std::string address = "127.0.0.1:" + port;
  std::vector<std::string> inherited;
  // One port under two addresses (all IPv4 interfaces, then loopback): the
  // same address twice is a config error (bind: ...: listed twice).
  CHECK(CheckListeners(Resolve({"-b", ":" + port, "-b", address}), &inherited).message() ==
        "command line: --bind: cannot listen on " + address + ": bind: Address already in use");
  CHECK(CheckListeners(Resolve({"-b", address, "--metrics-bind", address}), &inherited).message() ==
        "command line: --metrics-bind: cannot listen on " + address +
            ": bind: Address already in use");
  CHECK(CheckListeners(Resolve({"-b", address}), &inherited).ok());  // all released again
}

}  // namespace
}  // namespace thriftd
