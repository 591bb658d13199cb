#include "workers/stop_signal.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

namespace thriftd {
namespace {

// Signal handling's process-wide state: what the handlers may touch.
volatile sig_atomic_t stop_flag = 0;
volatile sig_atomic_t reopen_flag = 0;
int wake_write_fd = -1;

void Wake() {
  if (wake_write_fd >= 0) {
    int saved = errno;
    ssize_t ignored = write(wake_write_fd, "s", 1);
    (void)ignored;
    errno = saved;
  }
}

void OnGracefulStop(int) {
  stop_flag = 1;
  Wake();
}

void OnQuickStop(int) { _exit(0); }

void OnReopen(int) { reopen_flag = 1; }

void Handle(int signo, void (*handler)(int)) {
  struct sigaction action {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(signo, &action, nullptr);
}

}  // namespace

Status StopSignal::Install() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) return Status::FromErrno("pipe2(stop)", errno);
  wake_read_.Reset(fds[0]);
  wake_write_.Reset(fds[1]);
  wake_write_fd = fds[1];
  stop_flag = 0;
  Handle(SIGTERM, OnGracefulStop);
  Handle(SIGHUP, OnGracefulStop);
  Handle(SIGINT, OnQuickStop);
  Handle(SIGQUIT, OnQuickStop);
  Handle(SIGUSR1, OnReopen);
  Handle(SIGTTIN, SIG_IGN);
  Handle(SIGTTOU, SIG_IGN);
  Handle(SIGWINCH, SIG_IGN);
  Handle(SIGUSR2, SIG_IGN);
  Handle(SIGPIPE, SIG_IGN);
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_UNBLOCK, &all, nullptr);
  return Status::Ok();
}

bool StopSignal::stop_requested() const { return stop_flag != 0; }

void StopSignal::RequestStop() {
  stop_flag = 1;
  Wake();
}

bool StopSignal::TakeReopenRequest() {
  if (!reopen_flag) return false;
  reopen_flag = 0;
  return true;
}

}  // namespace thriftd
