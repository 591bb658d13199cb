#include "src/app_trial.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "src/arbiter.h"
#include "src/base/channel.h"
#include "src/base/clock.h"
#include "src/base/exit_codes.h"
#include "src/base/unique_fd.h"
#include "src/close_descriptors.h"
#include "workers/app_start.h"

namespace thriftd {
namespace {

// The child: what a worker does with its App, reported as a worker reports
// it (kChannelReady, here with the App's name, or kChannelBootError).
[[noreturn]] void RunTrial(const WorkerSettings& settings,
                           const std::vector<ListenerSettings>& listeners,
                           const std::optional<Credentials>& credentials, int channel_fd,
                           pid_t parent) {
  // The check may be interrupted (^C, a timeout); the trial must not outlive it.
  (void)prctl(PR_SET_PDEATHSIG, SIGKILL);  // cannot fail with a valid signal
  // preload_app: loaded as the master loads it, as the master's user.
  LoadedApp preloaded;
  Status status = settings.preload_app ? LoadApp(settings.app, &preloaded) : Status::Ok();
  if (!status.ok()) {
    (void)SendChannelMessage(channel_fd, kChannelBootError, status.message());
    _exit(kWorkerExitBootError);
  }
  status = credentials ? TakeCredentials(*credentials, SIGKILL) : Status::Ok();
  if (!status.ok()) {
    status.Prepend("cannot run the worker as user " + credentials->user_name + ", group " +
                   credentials->group_name);
  }
  if (getppid() != parent) _exit(kWorkerExitOk);
  StartedApp app;
  if (status.ok())
    status = StartApp(settings, listeners, /*worker_index=*/0, &app,
                      settings.preload_app ? &preloaded : nullptr);
  if (status.ok()) status = StopApp(app);
  Status sent = status.ok() ? SendChannelMessage(channel_fd, kChannelReady, app.loaded.name)
                            : SendChannelMessage(channel_fd, kChannelBootError, status.message());
  if (!sent.ok()) _exit(kWorkerExitBootError);  // the parent reads "no report"
  _exit(status.ok() ? kWorkerExitOk : kWorkerExitBootError);
}

// Waits up to `timeout` seconds (forever when <= 0) for the child behind
// `pidfd` to end; *ended is false when the time ran out.
Status WaitForExit(int pidfd, double timeout, bool* ended) {
  std::int64_t deadline_ms = MonotonicMillis() + static_cast<std::int64_t>(timeout * 1000);
  pollfd watch{pidfd, POLLIN, 0};
  for (;;) {
    int wait_ms = -1;
    if (timeout > 0) {
      std::int64_t left = std::max<std::int64_t>(0, deadline_ms - MonotonicMillis());
      wait_ms = static_cast<int>(std::min<std::int64_t>(left, INT_MAX));  // timeout may be 1e9 s
    }
    int ready = poll(&watch, 1, wait_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return Status::FromErrno("poll(pidfd)", errno);
    *ended = ready > 0;
    return Status::Ok();
  }
}

std::string SecondsText(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", seconds);
  return text;
}

}  // namespace

Status TryApp(const WorkerSettings& settings, const std::vector<ListenerSettings>& listeners,
              double timeout, const std::optional<Credentials>& credentials,
              std::string* app_name) {
  ChannelPair channel;
  Status status = OpenChannel(&channel);
  if (!status.ok()) return status;
  pid_t parent = getpid();
  const std::vector<int> keep = DescriptorsToKeep({channel.worker_end.get()});
  // Output still buffered would be written twice if the App exit()s in the child.
  (void)std::fflush(nullptr);  // nothing to do about a failed flush of the operator's terminal
  pid_t pid = fork();
  if (pid < 0) return Status::FromErrno("fork", errno);
  if (pid == 0) {
    // As a worker: nothing of the checking process but stdio and its channel.
    CloseAllBut(keep);
    RunTrial(settings, listeners, credentials, channel.worker_end.get(), parent);
  }
  channel.worker_end.Reset();
  // The child, not the channel, says when the trial is over: an App may
  // fork helpers of its own that keep the channel open.
  // Not glibc's pidfd_open(): Debian 12's <sys/pidfd.h> declares it without C linkage.
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd.valid()) {
    int err = errno;
    (void)kill(pid, SIGKILL);  // our child: it exists until we reap it
    (void)waitpid(pid, nullptr, 0);
    return Status::FromErrno("pidfd_open", err);
  }
  bool ended = false;
  status = WaitForExit(pidfd.get(), timeout, &ended);
  if (!ended) (void)kill(pid, SIGKILL);  // our child: it exists until we reap it
  int wait_status = 0;
  while (waitpid(pid, &wait_status, 0) < 0) {
    if (errno != EINTR) return Status::FromErrno("waitpid", errno);
  }
  if (!status.ok()) return status;
  if (!ended) {
    return Status::Error("App did not start in worker within " + SecondsText(timeout) +
                         "s (timeout); a worker would be killed");
  }
  ChannelMessage report;
  if (ReceiveChannelMessage(channel.master_end.get(), &report) != ChannelRead::kMessage) {
    return Status::Error("App failed to start in worker: the worker " + DescribeExit(wait_status));
  }
  if (report.kind == kChannelBootError) return Status::Error(report.text);
  *app_name = report.text;
  return Status::Ok();
}

}  // namespace thriftd
