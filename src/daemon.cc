#include "src/daemon.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace thriftd {
namespace {

// The terminal process: the daemon's report, then its exit status.
[[noreturn]] void WaitForDaemon(UniqueFd from_daemon, int failure_code) {
  std::string error;
  char buffer[512];
  for (;;) {
    ssize_t n = read(from_daemon.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    error.append(buffer, static_cast<size_t>(n));
  }
  // EOF with nothing said is a start (ReportStarted closes the pipe), or a
  // daemon that died before it could say anything: 'ok' then needs the "."
  // ReportStarted writes. A report is ".", or ".CODE MESSAGE" from the
  // daemon; the intermediate child's failures have no ".".
  if (error == ".") _exit(0);
  int code = failure_code;
  if (error.empty()) error = "the daemon exited before it started serving; see the error log";
  if (error.front() == '.') {
    std::size_t space = error.find(' ');
    int reported = std::atoi(error.substr(1, space - 1).c_str());
    if (space != std::string::npos && reported > 0 && reported < 256) code = reported;
    error.erase(0, space == std::string::npos ? 1 : space + 1);
  }
  std::fprintf(stderr, "thriftd: %s\n", error.c_str());
  _exit(code);
}

}  // namespace

Status CheckDaemonAllowed(const Config& config) {
  if (!config.daemon) return Status::Ok();
  std::string origin = config.OriginOf("daemon").Describe();
  const char* notify = std::getenv("NOTIFY_SOCKET");
  if (notify != nullptr && *notify != '\0') {
    return Status::Error(origin +
                         ": thriftd runs under systemd (NOTIFY_SOCKET is set), whose service "
                         "must not detach; unset daemon (the unit is Type=notify)");
  }
  if (getpid() == 1) {
    return Status::Error(origin +
                         ": thriftd is PID 1 (a container's init), which must not detach; "
                         "unset daemon");
  }
  return Status::Ok();
}

Status Daemonize(int failure_code, UniqueFd* started) {
  int ends[2];
  if (pipe2(ends, O_CLOEXEC) != 0) return Status::FromErrno("pipe2", errno);
  UniqueFd read_end(ends[0]);
  UniqueFd write_end(ends[1]);
  UniqueFd null_fd(open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null_fd.valid()) return Status::FromErrno("open(/dev/null)", errno);
  (void)std::fflush(nullptr);  // not written twice by the children
  pid_t child = fork();
  if (child < 0) return Status::FromErrno("fork", errno);
  if (child > 0) {
    write_end.Reset();
    WaitForDaemon(std::move(read_end), failure_code);
  }
  read_end.Reset();
  // The intermediate child: a new session without a terminal; its own
  // child, not a session leader, can never acquire one again.
  auto fail = [&write_end](const std::string& what, int err) {
    std::string message = Status::FromErrno(what, err).message();
    (void)!write(write_end.get(), message.data(), message.size());
    _exit(1);
  };
  if (setsid() < 0) fail("setsid", errno);
  pid_t daemon = fork();
  if (daemon < 0) fail("fork", errno);
  if (daemon > 0) _exit(0);  // the daemon is reparented to init (or a subreaper)
  for (int fd = 0; fd <= 2; ++fd) {
    if (dup2(null_fd.get(), fd) < 0) fail("dup2(/dev/null)", errno);
  }
  *started = std::move(write_end);
  return Status::Ok();
}

void ReportStarted(UniqueFd* started, const std::string& error, int exit_code) {
  if (!started->valid()) return;
  // A leading "." tells a report from a daemon that died silently.
  std::string report = error.empty() ? "." : "." + std::to_string(exit_code) + " " + error;
  (void)!write(started->get(), report.data(), report.size());  // the terminal went: no one to tell
  started->Reset();
}

}  // namespace thriftd
