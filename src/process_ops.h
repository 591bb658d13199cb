// ProcessOps: the arbiter's seam to the operating system (spawn, kill,
// clock), as leveldb's Env. PosixProcessOps (src/posix_process_ops.h) forks
// real workers; a fake lets the arbiter's decisions be tested without
// forking.
//
// Reaping is not part of this seam: the arbiter never asks for exits. The
// master's loop reaps (PosixProcessOps::Reap), finishes with the dead
// worker's channel and counters, and reports each exit to the arbiter as an
// event (Arbiter::OnWorkerExited), so no call into the seam calls back into
// the arbiter. Runs in the master.
#ifndef THRIFTD_SRC_PROCESS_OPS_H_
#define THRIFTD_SRC_PROCESS_OPS_H_

#include <sys/types.h>

#include <cstdint>

#include "src/base/status.h"

namespace thriftd {

struct WorkerSpec {
  int index = 0;                 ///< 0 .. workers-1 within its generation
  std::uint64_t generation = 0;  ///< bumped by each reload
  int slot = 0;                  ///< scoreboard slot, unique among live workers
};

/// A child that exited, as waitpid() reported it.
struct ProcessExit {
  pid_t pid = 0;
  int wait_status = 0;  ///< as from waitpid(): WIFEXITED / WEXITSTATUS / WTERMSIG apply
};

class ProcessOps {
 public:
  virtual ~ProcessOps() = default;
  /// Starts a worker; its process runs the worker side and never returns here.
  virtual Status Spawn(const WorkerSpec& spec, pid_t* pid) = 0;
  /// Sends `signo`; a worker already gone is not an error.
  virtual void Kill(pid_t pid, int signo) = 0;
  /// Stops a worker gracefully (SIGTERM) after telling it to hand its idle
  /// connections to the other workers instead of closing them.
  virtual void Retire(pid_t pid) = 0;
  /// Monotonic seconds.
  virtual double Now() = 0;
  /// When the worker in scoreboard `slot` last showed it was alive, in
  /// Now()'s seconds: the later of its loop's last heartbeat and the start
  /// of the call in flight (the loop ran then), so the liveness timeout
  /// counts a blocking call from its start. 0 before its first report.
  virtual double LastHeartbeat(int slot) = 0;
};

}  // namespace thriftd

#endif  // THRIFTD_SRC_PROCESS_OPS_H_
