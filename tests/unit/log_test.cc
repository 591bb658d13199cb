#include "src/base/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include "tests/unit/test_util.h"

namespace thriftd {
namespace {

bool IsOpen(int fd) { return fcntl(fd, F_GETFD) >= 0; }

// Every case leaves the log as main.cc configured it: stderr, critical only.
struct RestoreStderrLog {
  ~RestoreStderrLog() { (void)log::Configure("-", LogLevel::kCritical); }
};

TEST_CASE("log lines go to the configured file, at its level and above") {
  RestoreStderrLog restore;
  thriftd_test::TempDir dir;
  std::string path = dir.Join("error.log");
  REQUIRE(log::Configure(path, LogLevel::kWarning).ok());
  log::Write(LogLevel::kInfo, "not this one");
  log::Write(LogLevel::kError, "this one\n");
  std::string text = thriftd_test::ReadFile(path);
  CHECK(text.find("not this one") == std::string::npos);
  CHECK(text.find("[ERROR] this one\n") != std::string::npos);
}

TEST_CASE("a reopen after logrotate writes to the new file under the same descriptor") {
  RestoreStderrLog restore;
  thriftd_test::TempDir dir;
  std::string path = dir.Join("error.log");
  REQUIRE(log::Configure(path, LogLevel::kInfo).ok());
  int fd = log::Fd();
  REQUIRE(::rename(path.c_str(), dir.Join("error.log.1").c_str()) == 0);
  REQUIRE(log::Reopen().ok());
  CHECK(log::Fd() == fd);
  log::Write(LogLevel::kInfo, "after rotation");
  CHECK(thriftd_test::ReadFile(path).find("after rotation") != std::string::npos);
  CHECK(thriftd_test::ReadFile(dir.Join("error.log.1")).find("after rotation") ==
        std::string::npos);
}

TEST_CASE("going back to stderr closes the file's descriptor") {
  RestoreStderrLog restore;
  thriftd_test::TempDir dir;
  REQUIRE(log::Configure(dir.Join("error.log"), LogLevel::kInfo).ok());
  int file_fd = log::Fd();
  REQUIRE(file_fd > STDERR_FILENO);
  REQUIRE(log::Configure("-", LogLevel::kInfo).ok());
  CHECK(log::Fd() == STDERR_FILENO);
  CHECK_FALSE(IsOpen(file_fd));
}

TEST_CASE("a log file that cannot be opened is an error naming it") {
  RestoreStderrLog restore;
  Status status = log::Configure("/nonexistent-dir/error.log", LogLevel::kInfo);
  REQUIRE_FALSE(status.ok());
  CHECK(status.message().find("/nonexistent-dir/error.log") != std::string::npos);
}

// Regression: Configure kept the new path and level before the open
// failed, so a bad errorlog on HUP left the log half switched, and every
// later USR1 tried to reopen the path that had failed.
TEST_CASE("a log file that cannot be opened leaves the log as it was, and USR1 reopens that") {
  RestoreStderrLog restore;
  thriftd_test::TempDir dir;
  std::string path = dir.Join("error.log");
  REQUIRE(log::Configure(path, LogLevel::kWarning).ok());
  int fd = log::Fd();
  REQUIRE_FALSE(log::Configure(dir.Join("missing/error.log"), LogLevel::kDebug).ok());
  CHECK(log::Fd() == fd);
  CHECK_FALSE(log::Enabled(LogLevel::kInfo));  // still at warning
  REQUIRE(::rename(path.c_str(), dir.Join("error.log.1").c_str()) == 0);
  Status status = log::Reopen();
  CHECK_MESSAGE(status.ok(), status.message());
  log::Write(LogLevel::kWarning, "after rotation");
  CHECK(thriftd_test::ReadFile(path).find("after rotation") != std::string::npos);
}

}  // namespace
}  // namespace thriftd
