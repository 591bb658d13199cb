#include "src/log.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include <thrift/Thrift.h>

namespace thriftd {
namespace {

// The only process-wide state besides signal handling: the log's sink, as
// stderr itself is process-wide. Written by main() and on USR1 in the loop
// thread; worker threads only read fd and level.
struct Sink {
  std::string path;  // empty: stderr
  int fd = STDERR_FILENO;
  LogLevel level = LogLevel::kInfo;
};
Sink sink;

void WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // Nowhere left to report a failing log.
    data += n;
    size -= static_cast<size_t>(n);
  }
}

void ThriftOutput(const char* message) { log::Write(LogLevel::kWarning, message); }

}  // namespace

std::optional<LogLevel> ParseLogLevel(std::string_view name) {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "info") return LogLevel::kInfo;
  if (name == "warning") return LogLevel::kWarning;
  if (name == "error") return LogLevel::kError;
  if (name == "critical") return LogLevel::kCritical;
  return std::nullopt;
}

const char* LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarning:
      return "WARNING";
    case LogLevel::kError:
      return "ERROR";
    case LogLevel::kCritical:
      return "CRITICAL";
  }
  return "?";
}

namespace log {

Status Configure(const std::string& path, LogLevel level) {
  sink.level = level;
  sink.path = (path == "-") ? "" : path;
  return Reopen();
}

Status Reopen() {
  if (sink.path.empty()) {
    sink.fd = STDERR_FILENO;
    return Status::Ok();
  }
  int fd = ::open(sink.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("open(" + sink.path + ")", errno);
  int old = sink.fd;
  sink.fd = fd;
  if (old != STDERR_FILENO) ::close(old);
  return Status::Ok();
}

bool Enabled(LogLevel level) { return level >= sink.level; }

void Write(LogLevel level, std::string_view message) {
  if (!Enabled(level)) return;
  char stamp[64];
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  struct tm tm;
  localtime_r(&now.tv_sec, &tm);
  strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S %z", &tm);
  std::string line;
  line.reserve(message.size() + 64);
  line += '[';
  line += stamp;
  line += "] [";
  line += std::to_string(::getpid());
  line += "] [";
  line += LogLevelName(level);
  line += "] ";
  line += message;
  while (!line.empty() && line.back() == '\n') line.pop_back();
  line += '\n';
  WriteAll(sink.fd, line.data(), line.size());
}

void CaptureThriftOutput() { apache::thrift::GlobalOutput.setOutputFunction(&ThriftOutput); }

}  // namespace log
}  // namespace thriftd
