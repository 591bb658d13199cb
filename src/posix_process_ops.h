// PosixProcessOps: the real ProcessOps. It forks workers (no exec), owns
// the master's end of each worker's control channel (src/base/channel.h),
// signals and reaps children, and reads the clock and the scoreboard. Runs
// in the master, on its loop's thread; one instance per master.
#ifndef THRIFTD_SRC_POSIX_PROCESS_OPS_H_
#define THRIFTD_SRC_POSIX_PROCESS_OPS_H_

#include <sys/types.h>

#include <functional>
#include <map>
#include <vector>

#include "src/base/scoreboard.h"
#include "src/base/status.h"
#include "src/base/unique_fd.h"
#include "src/process_ops.h"

namespace thriftd {

class PosixProcessOps final : public ProcessOps {
 public:
  /// What one worker starts from, prepared in the master before fork.
  struct WorkerStart {
    /// Descriptors the worker inherits besides stdin, stdout, stderr, the
    /// error log (log::Fd()) and its channel: the listening sockets. Every
    /// other descriptor is closed in the child (the metrics socket, other
    /// workers' channels, the master's event loop), since a worker forks
    /// without exec and close-on-exec does not apply.
    std::vector<int> inherited_fds;
    /// Runs in the child after fork(), given the worker's end of its
    /// channel; never returns (if it does, the child _exits with 0). Every
    /// signal is blocked when it starts: it unblocks them once its own
    /// handlers are installed, so that the master's handlers (inherited)
    /// never see a signal meant for the worker.
    std::function<void(int channel_fd)> run;
  };
  /// In the master, before fork: prepares worker `spec` (its generation's
  /// configuration, its worker kind). An error means nothing is forked.
  using PrepareWorker = std::function<Status(const WorkerSpec& spec, WorkerStart* start)>;
  /// Called after each fork with the master's end of the new worker's
  /// channel, for the loop to watch. It must not call into the arbiter
  /// (Spawn runs inside an arbiter call). The descriptor stays valid until
  /// CloseChannel(pid). An error fails the spawn: the child is killed and
  /// reaped at once, since a worker nobody hears would never be ready.
  using WatchChannel = std::function<Status(pid_t pid, int channel_fd)>;

  /// `scoreboard` must outlive this object; Spawn() clears the new worker's slot.
  PosixProcessOps(Scoreboard& scoreboard, PrepareWorker prepare, WatchChannel watch);
  ~PosixProcessOps() override;
  PosixProcessOps(const PosixProcessOps&) = delete;
  PosixProcessOps& operator=(const PosixProcessOps&) = delete;

  // ProcessOps.
  /// Opens the channel, forks with every signal blocked, and in the child
  /// closes every descriptor it must not hold before running the body.
  Status Spawn(const WorkerSpec& spec, pid_t* pid) override;
  /// kill(2); ESRCH (the worker is gone already) is not an error, others are logged.
  void Kill(pid_t pid, int signo) override;
  /// kChannelHandOver on the worker's channel, then SIGTERM: by the time
  /// the worker sees its stop, the request is already waiting. Never
  /// blocks: when the request cannot be sent (the channel is full or
  /// closed) that is logged and the worker just gets SIGTERM.
  void Retire(pid_t pid) override;
  double Now() override;
  double LastHeartbeat(int slot) override;

  /// Collects every exited child (workers or not: as PID 1 the master
  /// inherits orphans) without blocking; empty when none has exited. Only
  /// collects: the worker's channel stays open for the caller to drain,
  /// then close with CloseChannel().
  std::vector<ProcessExit> Reap();
  /// The master's end of worker `pid`'s channel, or -1 if it has none.
  int ChannelFd(pid_t pid) const;
  /// Closes worker `pid`'s channel (stop watching it first).
  void CloseChannel(pid_t pid);

 private:
  Scoreboard& scoreboard_;
  PrepareWorker prepare_;
  WatchChannel watch_;
  std::map<pid_t, UniqueFd> channels_;  // master ends, by worker pid
};

}  // namespace thriftd

#endif  // THRIFTD_SRC_POSIX_PROCESS_OPS_H_
