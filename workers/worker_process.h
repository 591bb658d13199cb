// The worker process's life after fork(): signals, the App, the kind's loop.
#ifndef THRIFTD_WORKERS_WORKER_PROCESS_H_
#define THRIFTD_WORKERS_WORKER_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "src/base/app_loader.h"
#include "src/base/credentials.h"
#include "src/base/listener_settings.h"
#include "src/base/scoreboard.h"
#include "src/base/worker_settings.h"
#include "thriftd/worker.h"

namespace thriftd {

/// Everything a worker process starts from, prepared by the master before fork.
struct WorkerLaunch {
  int index = 0;                 ///< 0 .. workers-1 within its generation
  std::uint64_t generation = 0;  ///< the configuration it serves
  int slot = 0;                  ///< its scoreboard slot
  WorkerSettings settings;       ///< its generation's settings
  std::vector<int> listen_fds;
  std::vector<ListenerSettings> listener_settings;  ///< each listen fd's, in the same order
  int channel_fd = -1;
  Scoreboard* scoreboard = nullptr;
  std::unique_ptr<Worker> kind;  ///< constructed in the master before fork
  /// The master's pid, taken before fork: a worker whose parent is another
  /// process by the time it starts has lost its master (and as PID 1 in a
  /// container, the master's parent pid is 0, not 1: compare, do not guess).
  pid_t master_pid = 0;
  /// The user and group to run as (the `user` and `group` settings),
  /// taken on right after fork, before the App is loaded; none: the master's.
  std::optional<Credentials> credentials;
  /// preload_app: the App the master loaded before fork (this process's
  /// copy of it); nullptr: the worker loads the App itself.
  LoadedApp* preloaded = nullptr;
};

/// Runs in the worker process right after fork(); never returns. Builds the
/// TLS context (certfile set) while it still has the master's privileges,
/// so a key only root can read serves; takes on the launch's credentials (a failure is a boot
/// error), then loads and starts the App, reports "ready" (or the boot error, then exits with
/// kWorkerExitBootError) over the channel, and serves until stopped.
[[noreturn]] void RunWorkerProcess(WorkerLaunch launch);

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_WORKER_PROCESS_H_
