// The `fiber` worker kind (gunicorn's gevent, gunicorn_thrift's
// thriftpy_gevent): one libevent loop per process; each busy connection runs
// in a Boost.Context fiber, and a read or write that would block parks the
// fiber and returns to the loop, so handler code stays synchronous. Idle
// connections hold no fiber (and so no stack): the poller holds them.
// A watchdog thread warns when one handler blocks the loop for longer than
// `fiber_check_interval`. Runs in a worker process.
#ifndef THRIFTD_WORKERS_FIBER_WORKER_H_
#define THRIFTD_WORKERS_FIBER_WORKER_H_

#include "thriftd/worker.h"

namespace thriftd {

class FiberWorker final : public Worker {
 public:
  bool InitProcess(WorkerContext& context, std::string* error) override;
  void Run(WorkerContext& context) override;
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_FIBER_WORKER_H_
