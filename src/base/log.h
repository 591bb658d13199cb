// The error log: gunicorn's line format, `[time] [pid] [LEVEL] message`,
// to stderr or a file.
//
// The log is process-wide, as stderr is: every process (master and workers)
// has exactly one, configured by main() before the first fork and reopened on
// USR1. Each line is one write() to an O_APPEND descriptor, so lines of
// several processes sharing the file never interleave.
#ifndef THRIFTD_SRC_BASE_LOG_H_
#define THRIFTD_SRC_BASE_LOG_H_

#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include "src/base/status.h"

namespace thriftd {

enum class LogLevel { kDebug = 0, kInfo, kWarning, kError, kCritical };

/// "debug" | "info" | "warning" | "error" | "critical" (gunicorn's names).
std::optional<LogLevel> ParseLogLevel(std::string_view name);
const char* LogLevelName(LogLevel level);

namespace log {

/// Sends lines to `path` ("-" or "" means stderr) at `level` and above.
/// Opens the file before returning, so a bad path is reported at startup;
/// on an error the log stays as it was (file and level).
Status Configure(const std::string& path, LogLevel level);
/// Reopens the file (after logrotate moved it). Stderr needs nothing.
Status Reopen();
bool Enabled(LogLevel level);
/// The descriptor lines go to (stable across Reopen()).
int Fd();
/// Writes one line; never throws, never blocks on a lock.
void Write(LogLevel level, std::string_view message);
/// Routes Apache Thrift's GlobalOutput (its internal warnings) here.
void CaptureThriftOutput();

}  // namespace log

/// Opens `path` for appending, replacing the file behind *fd atomically when
/// *fd is already open (a reopen after logrotate): other threads writing to
/// *fd meanwhile never see it closed.
Status ReopenAppendFile(const std::string& path, int* fd);
/// Writes all of `line` with as few write() calls as the kernel allows
/// (one, for a line to an O_APPEND file).
void WriteLine(int fd, std::string_view line);

/// Streams a line: THRIFTD_LOG(kInfo) << "Booting worker with pid: " << pid;
class LogLine {
 public:
  explicit LogLine(LogLevel level) : level_(level) {}
  ~LogLine() { log::Write(level_, stream_.str()); }
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  template <typename T>
  LogLine& operator<<(const T& value) {
    stream_ << value;
    return *this;
  }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};

}  // namespace thriftd

// The line is only built when its level is enabled; the loop runs at most once
// and, unlike an if/else macro, nests safely under an unbraced `if`.
#define THRIFTD_LOG(level)                                                          \
  for (bool thriftd_log_once = ::thriftd::log::Enabled(::thriftd::LogLevel::level); \
       thriftd_log_once; thriftd_log_once = false)                                  \
  ::thriftd::LogLine(::thriftd::LogLevel::level)

#endif  // THRIFTD_SRC_BASE_LOG_H_
