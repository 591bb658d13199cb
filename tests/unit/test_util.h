// Helpers shared by the unit tests: a scratch directory, small file I/O, the
// environment and the error log for the length of one test.
#ifndef THRIFTD_TESTS_UNIT_TEST_UTIL_H_
#define THRIFTD_TESTS_UNIT_TEST_UTIL_H_

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>

#include "src/base/log.h"

namespace thriftd_test {

/// A fresh directory from mkdtemp(), removed with everything in it when the
/// test ends.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/thriftd-unit-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  /// PATH/name.
  std::string Join(const std::string& name) const { return path_ + "/" + name; }
  /// Writes `text` to PATH/name and returns that path.
  std::string Write(const std::string& name, const std::string& text) const {
    std::string file = Join(name);
    std::ofstream(file) << text;
    return file;
  }

 private:
  std::string path_;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

inline bool Exists(const std::string& path) {
  std::error_code ignored;
  return std::filesystem::exists(std::filesystem::symlink_status(path, ignored));
}

/// Runs `body` in a child process as user and group nobody (65534) when the
/// test runs as root, as itself otherwise, and returns what it returned: a
/// permission check means nothing to root, which may do anything.
inline std::string AsUnprivileged(const std::function<std::string()>& body) {
  int pipe_fds[2];
  REQUIRE(pipe(pipe_fds) == 0);
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    close(pipe_fds[0]);
    if (getuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(2);
    std::string result = body();
    bool written =
        write(pipe_fds[1], result.data(), result.size()) == static_cast<ssize_t>(result.size());
    _exit(written ? 0 : 3);
  }
  close(pipe_fds[1]);
  std::string result;
  char chunk[4096];
  ssize_t n;
  while ((n = read(pipe_fds[0], chunk, sizeof chunk)) > 0)
    result.append(chunk, static_cast<std::size_t>(n));
  close(pipe_fds[0]);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE_MESSAGE((WIFEXITED(status) && WEXITSTATUS(status) == 0), "the unprivileged child failed");
  return result;
}

/// Environment variables for one test: those named are unset at the start
/// (the test process may itself run under them), Set() sets any, and every
/// one named or set goes back to what it was when the test ends.
class ScopedEnvironment {
 public:
  explicit ScopedEnvironment(std::initializer_list<const char*> unset = {}) {
    for (const char* name : unset) {
      Save(name);
      REQUIRE(unsetenv(name) == 0);
    }
  }
  ~ScopedEnvironment() {
    for (const auto& [name, value] : saved_) {
      if (value) {
        setenv(name.c_str(), value->c_str(), 1);
      } else {
        unsetenv(name.c_str());
      }
    }
  }
  ScopedEnvironment(const ScopedEnvironment&) = delete;
  ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;

  void Set(const char* name, const std::string& value) {
    Save(name);
    REQUIRE(setenv(name, value.c_str(), 1) == 0);
  }

 private:
  void Save(const char* name) {
    if (saved_.count(name)) return;
    const char* value = std::getenv(name);
    saved_[name] = value ? std::optional<std::string>(value) : std::nullopt;
  }
  std::map<std::string, std::optional<std::string>> saved_;
};

/// The error log goes to a file of its own at `level` while this lives (the
/// unit tests' main turns it down to critical); then back to stderr at the
/// level it had. Set up and torn down while no other thread logs: the log's
/// sink is process-wide.
class LogCapture {
 public:
  explicit LogCapture(thriftd::LogLevel level = thriftd::LogLevel::kWarning)
      : previous_(CurrentLevel()) {
    REQUIRE(thriftd::log::Configure(dir_.Join("error.log"), level).ok());
  }
  ~LogCapture() { (void)thriftd::log::Configure("-", previous_); }  // stderr cannot fail
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  /// Everything logged so far.
  std::string Text() const { return ReadFile(dir_.Join("error.log")); }

 private:
  // The log offers no getter: its level, found by asking.
  static thriftd::LogLevel CurrentLevel() {
    for (auto level : {thriftd::LogLevel::kDebug, thriftd::LogLevel::kInfo,
                       thriftd::LogLevel::kWarning, thriftd::LogLevel::kError}) {
      if (thriftd::log::Enabled(level)) return level;
    }
    return thriftd::LogLevel::kCritical;
  }

  TempDir dir_;
  thriftd::LogLevel previous_;
};

}  // namespace thriftd_test

#endif  // THRIFTD_TESTS_UNIT_TEST_UTIL_H_
