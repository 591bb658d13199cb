// ProcessOps: the arbiter's seam to the operating system (spawn, kill, reap,
// clock), as leveldb's Env. The Posix implementation forks real workers; a
// fake lets the arbiter's decisions be tested without forking.
#ifndef THRIFTD_SRC_PROCESS_OPS_H_
#define THRIFTD_SRC_PROCESS_OPS_H_

#include <sys/types.h>

#include <cstdint>
#include <vector>

#include "src/base/status.h"

namespace thriftd {

struct WorkerSpec {
  int index = 0;                 ///< slot 0 .. workers-1 within its generation
  std::uint64_t generation = 0;  ///< bumped by each reload
  int slot = 0;                  ///< scoreboard slot, unique among live workers
};

struct ProcessExit {
  pid_t pid = 0;
  int wait_status = 0;  ///< as from waitpid()
};

class ProcessOps {
 public:
  virtual ~ProcessOps() = default;
  /// Starts a worker; its process runs the worker side and never returns here.
  virtual Status Spawn(const WorkerSpec& spec, pid_t* pid) = 0;
  virtual void Kill(pid_t pid, int signo) = 0;
  /// Stops a worker gracefully (SIGTERM) after telling it to hand its idle
  /// connections to the other workers instead of closing them.
  virtual void Retire(pid_t pid) = 0;
  /// Collects every exited child without blocking.
  virtual std::vector<ProcessExit> Reap() = 0;
  /// Monotonic seconds.
  virtual double Now() = 0;
  /// When the worker in scoreboard `slot` last reported alive (its loop's
  /// heartbeat), in Now()'s seconds; 0 before its first report.
  virtual double LastHeartbeat(int slot) = 0;
};

}  // namespace thriftd

#endif  // THRIFTD_SRC_PROCESS_OPS_H_
