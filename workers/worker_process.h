// The worker process's life after fork(): signals, the App, the kind's loop.
#ifndef THRIFTD_WORKERS_WORKER_PROCESS_H_
#define THRIFTD_WORKERS_WORKER_PROCESS_H_

#include <memory>
#include <vector>

#include "src/config.h"
#include "src/process_ops.h"
#include "src/scoreboard.h"
#include "thriftd/worker.h"

namespace thriftd {

struct WorkerLaunch {
  WorkerSpec spec;
  const Config* config = nullptr;  ///< the worker's generation's configuration
  std::vector<int> listen_fds;
  int channel_fd = -1;
  Scoreboard* scoreboard = nullptr;
  std::unique_ptr<Worker> kind;  ///< constructed in the master before fork
};

/// Runs in the worker process right after fork(); never returns. Loads and
/// starts the App, reports "ready" (or the boot error, then exits with
/// kWorkerExitBootError) over the channel, and serves until stopped.
[[noreturn]] void RunWorkerProcess(WorkerLaunch launch);

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_WORKER_PROCESS_H_
