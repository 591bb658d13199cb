// The `sync` worker kind: one connection at a time, served to its end in the
// process's only thread (gunicorn's sync, gunicorn_thrift's thriftpy_sync).
// The simplest and most isolated kind: a process per concurrent connection.
// A slow or silent client holds the worker for as long as it stays; bound
// that with thrift_client_timeout. Runs in a worker process.
#ifndef THRIFTD_WORKERS_SYNC_WORKER_H_
#define THRIFTD_WORKERS_SYNC_WORKER_H_

#include "workers/builtin_worker.h"

namespace thriftd {

class SyncWorker final : public BuiltinWorker {
 protected:
  bool Init(WorkerRuntime& runtime, std::string* error) override;
  /// Waits in poll() on every listener, the stop pipe and the channel;
  /// accepts one connection and serves it until it ends.
  void Serve(WorkerRuntime& runtime) override;
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_SYNC_WORKER_H_
