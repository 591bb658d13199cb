#include "src/base/log.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <utility>

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
  std::string fresh = (path == "-") ? "" : path;
  if (fresh.empty()) {
    // Back to stderr (an abandoned reload undoing a log file): the file's
    // descriptor goes. Only the master switches, from its single thread.
    int old = std::exchange(sink.fd, STDERR_FILENO);
    if (old > STDERR_FILENO) ::close(old);
  } else {
    // The sink changes only once the file is open: a path that cannot be
    // opened leaves the log as it was, and a later Reopen() (USR1) reopens
    // the file that works, not the one that failed.
    Status status = ReopenAppendFile(fresh, &sink.fd);
    if (!status.ok()) return status;
  }
  sink.path = std::move(fresh);
  sink.level = level;
  return Status::Ok();
}

Status Reopen() {
  if (sink.path.empty()) return Status::Ok();
  return ReopenAppendFile(sink.path, &sink.fd);
}

bool Enabled(LogLevel level) { return level >= sink.level; }

int Fd() { return sink.fd; }

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
  WriteLine(sink.fd, line);
}

void CaptureThriftOutput() { apache::thrift::GlobalOutput.setOutputFunction(&ThriftOutput); }

}  // namespace log

Status ReopenAppendFile(const std::string& path, int* fd) {
  int fresh = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fresh < 0) return Status::FromErrno("open(" + path + ")", errno);
  if (*fd == STDERR_FILENO || *fd == STDOUT_FILENO || *fd < 0) {
    *fd = fresh;
    return Status::Ok();
  }
  // dup2 swaps the file under the same descriptor number in one step, so a
  // thread writing a line meanwhile writes to the old file or the new one,
  // never to a closed (or reused) descriptor.
  if (dup2(fresh, *fd) < 0) {
    int err = errno;
    ::close(fresh);
    return Status::FromErrno("dup2(" + path + ")", err);
  }
  ::close(fresh);
  return Status::Ok();
}

void WriteLine(int fd, std::string_view line) {
  const char* data = line.data();
  size_t size = line.size();
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // Nowhere left to report a failing log.
    data += n;
    size -= static_cast<size_t>(n);
  }
}

}  // namespace thriftd
