// The `sync` worker kind: one connection at a time, served to its end in the
// process's only thread (gunicorn's sync, gunicorn_thrift's thriftpy_sync).
// The simplest and most isolated kind: a process per concurrent connection.
// Runs in a worker process.
#ifndef THRIFTD_WORKERS_SYNC_WORKER_H_
#define THRIFTD_WORKERS_SYNC_WORKER_H_

#include "thriftd/worker.h"

namespace thriftd {

class SyncWorker final : public Worker {
 public:
  bool InitProcess(WorkerContext& context, std::string* error) override;
  /// Waits in poll() on every listener and the stop pipe; accepts one
  /// connection and serves it until it ends.
  void Run(WorkerContext& context) override;
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_SYNC_WORKER_H_
