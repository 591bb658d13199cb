// BuiltinWorker: the base of the kinds built into thriftd (sync, thread,
// fiber). Unlike a custom kind, which sees only the public WorkerContext,
// they run on thriftd's own WorkerRuntime (the connection engine needs its
// connections whole); this base makes that one checked step. Runs in a
// worker process.
#ifndef THRIFTD_WORKERS_BUILTIN_WORKER_H_
#define THRIFTD_WORKERS_BUILTIN_WORKER_H_

#include <string>

#include "thriftd/worker.h"
#include "workers/worker_runtime.h"

namespace thriftd {

class BuiltinWorker : public Worker {
 public:
  bool InitProcess(WorkerContext& context, std::string* error) final {
    WorkerRuntime* runtime = dynamic_cast<WorkerRuntime*>(&context);
    if (runtime == nullptr) {
      *error = "a built-in worker kind needs thriftd's own worker runtime";
      return false;
    }
    runtime_ = runtime;
    return Init(*runtime, error);
  }
  void Run(WorkerContext& /*context*/) final { Serve(*runtime_); }

 protected:
  /// After fork, once the App started: sets up what the kind serves with.
  /// False, with *error set, fails the boot.
  virtual bool Init(WorkerRuntime& runtime, std::string* error) = 0;
  /// Serves until the worker stops.
  virtual void Serve(WorkerRuntime& runtime) = 0;

 private:
  WorkerRuntime* runtime_ = nullptr;
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_BUILTIN_WORKER_H_
