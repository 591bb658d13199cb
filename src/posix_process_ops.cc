#include "src/posix_process_ops.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <string>

#include "src/base/channel.h"
#include "src/base/clock.h"
#include "src/base/exit_codes.h"
#include "src/base/log.h"

namespace thriftd {
namespace {

// Runs in the child: closes [first, last].
void CloseRange(unsigned first, unsigned last) {
  if (close_range(first, last, 0) == 0) return;
  // Before Linux 5.9, or under a seccomp filter that refuses close_range:
  // one at a time, up to the descriptor limit.
  rlimit limit{};
  unsigned highest = 65535;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY &&
      limit.rlim_cur > 0 && limit.rlim_cur - 1 < UINT_MAX) {
    highest = static_cast<unsigned>(limit.rlim_cur - 1);
  }
  for (unsigned fd = first; fd <= std::min(last, highest); ++fd) ::close(static_cast<int>(fd));
}

// Runs in the child: closes every descriptor not in `keep` (sorted, unique,
// none negative).
void CloseAllBut(const std::vector<int>& keep) {
  unsigned first = 0;
  for (int fd : keep) {
    if (static_cast<unsigned>(fd) > first) CloseRange(first, static_cast<unsigned>(fd) - 1);
    first = static_cast<unsigned>(fd) + 1;
  }
  CloseRange(first, UINT_MAX);
}

// What a worker keeps, sorted: stdio, the error log, its channel, and what
// the master prepared for it. Built before fork, so the child allocates nothing.
std::vector<int> KeptDescriptors(const std::vector<int>& inherited, int channel_fd) {
  std::vector<int> keep = inherited;
  keep.insert(keep.end(), {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO, log::Fd(), channel_fd});
  keep.erase(std::remove_if(keep.begin(), keep.end(), [](int fd) { return fd < 0; }), keep.end());
  std::sort(keep.begin(), keep.end());
  keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
  return keep;
}

}  // namespace

PosixProcessOps::PosixProcessOps(Scoreboard& scoreboard, PrepareWorker prepare, WatchChannel watch)
    : scoreboard_(scoreboard), prepare_(std::move(prepare)), watch_(std::move(watch)) {}

PosixProcessOps::~PosixProcessOps() = default;

Status PosixProcessOps::Spawn(const WorkerSpec& spec, pid_t* pid) {
  if (spec.slot < 0 || spec.slot >= Scoreboard::kMaxSlots) {
    return Status::Error("more than " + std::to_string(Scoreboard::kMaxSlots) + " workers");
  }
  WorkerStart start;
  Status status = prepare_(spec, &start);
  if (!status.ok()) return status;
  ChannelPair channel;
  status = OpenChannel(&channel);
  if (!status.ok()) return status;
  const std::vector<int> keep = KeptDescriptors(start.inherited_fds, channel.worker_end.get());
  scoreboard_.Reset(spec.slot);

  // Signals stay blocked across fork() until the worker has installed its
  // own handlers: before that, libevent's handlers (inherited) would
  // forward a TERM meant for the worker to the master's loop.
  sigset_t all, previous;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &previous);
  pid_t child = fork();
  if (child != 0) sigprocmask(SIG_SETMASK, &previous, nullptr);
  if (child < 0) return Status::FromErrno("fork", errno);
  if (child == 0) {
    // In the worker: the master's ends of every channel (its own included)
    // go with the rest; a worker holding one would hide the master's death
    // from that worker.
    CloseAllBut(keep);
    start.run(channel.worker_end.Release());
    _exit(kWorkerExitOk);
  }
  channel.worker_end.Reset();
  if (watch_) {
    status = watch_(child, channel.master_end.get());
    if (!status.ok()) {
      // Reaped here, not by Reap(): the arbiter never knew it, and its slot
      // goes to the next spawn, which this child must not write to.
      if (kill(child, SIGKILL) < 0)
        THRIFTD_LOG(kError) << "kill(" << child << "): " << std::strerror(errno);
      while (waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
      }
      return status;
    }
  }
  channels_[child] = std::move(channel.master_end);
  *pid = child;
  return Status::Ok();
}

void PosixProcessOps::Kill(pid_t pid, int signo) {
  if (kill(pid, signo) < 0 && errno != ESRCH)
    THRIFTD_LOG(kWarning) << "kill(" << pid << "): " << std::strerror(errno);
}

void PosixProcessOps::Retire(pid_t pid) {
  int fd = ChannelFd(pid);
  // Never blocks the master's loop on one worker. A failed send means the
  // worker is exiting already (its end is closed) or is not reading its
  // channel (a full one: hung, which the liveness timeout deals with). It
  // stops either way, closing its connections instead of handing them over.
  if (fd >= 0) {
    Status status = TrySendChannelMessage(fd, kChannelHandOver);
    if (!status.ok()) {
      THRIFTD_LOG(kWarning) << "cannot ask worker (pid:" << pid
                            << ") to hand its connections over: " << status.message();
    }
  }
  Kill(pid, SIGTERM);
}

double PosixProcessOps::Now() { return MonotonicSeconds(); }

double PosixProcessOps::LastHeartbeat(int slot) {
  return static_cast<double>(scoreboard_.slot(slot).heartbeat_ms.load()) / 1000.0;
}

std::vector<ProcessExit> PosixProcessOps::Reap() {
  std::vector<ProcessExit> exits;
  for (;;) {
    int wait_status = 0;
    pid_t pid = waitpid(-1, &wait_status, WNOHANG);
    if (pid > 0) {
      exits.push_back({pid, wait_status});
    } else if (pid < 0 && errno == EINTR) {
      continue;
    } else {
      break;  // 0: children left, none exited; ECHILD: no children at all
    }
  }
  return exits;
}

int PosixProcessOps::ChannelFd(pid_t pid) const {
  auto it = channels_.find(pid);
  return it == channels_.end() ? -1 : it->second.get();
}

void PosixProcessOps::CloseChannel(pid_t pid) { channels_.erase(pid); }

}  // namespace thriftd
