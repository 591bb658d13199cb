#include "src/posix_process_ops.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "src/base/channel.h"
#include "src/base/clock.h"
#include "src/base/exit_codes.h"
#include "src/base/log.h"
#include "src/close_descriptors.h"

namespace thriftd {

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
  // What a worker keeps: stdio, the error log, its channel, and what the
  // master prepared for it.
  std::vector<int> inherited = start.inherited_fds;
  inherited.push_back(channel.worker_end.get());
  const std::vector<int> keep = DescriptorsToKeep(std::move(inherited));
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
  const ScoreboardSlot& stamps = scoreboard_.slot(slot);
  // A worker writes its heartbeat at most every few hundred ms; a call
  // that started since proves the loop ran then.
  std::int64_t last = std::max(stamps.heartbeat_ms.load(), stamps.call_started_ms.load());
  return static_cast<double>(last) / 1000.0;
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
