// The `fiber` worker kind (gunicorn's gevent, gunicorn_thrift's
// thriftpy_gevent): the connection engine on one loop thread, each turn in
// a Boost.Context fiber (FiberScheduler), so handler code stays synchronous
// and thriftd::sleep_for parks only its own call. Idle connections, and
// connections waiting for their client, hold no fiber. Runs in a worker
// process.
#ifndef THRIFTD_WORKERS_FIBER_WORKER_H_
#define THRIFTD_WORKERS_FIBER_WORKER_H_

#include <memory>

#include "workers/builtin_worker.h"
#include "workers/connection_engine.h"
#include "workers/fiber_scheduler.h"

namespace thriftd {

class FiberWorker final : public BuiltinWorker {
 protected:
  bool Init(WorkerRuntime& runtime, std::string* error) override;
  void Serve(WorkerRuntime& runtime) override;

 private:
  std::unique_ptr<ConnectionEngine> engine_;
  std::unique_ptr<FiberScheduler> scheduler_;
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_FIBER_WORKER_H_
