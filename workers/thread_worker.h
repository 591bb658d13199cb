// The `thread` worker kind (gunicorn's gthread, gunicorn_thrift's
// thriftpy_thread): a poller thread holds the idle connections; a readable
// one goes to a pool of `threads` threads, which serve its calls while data
// is ready, then hand it back. An idle connection costs no thread; `threads`
// calls run in parallel in one process. Runs in a worker process.
#ifndef THRIFTD_WORKERS_THREAD_WORKER_H_
#define THRIFTD_WORKERS_THREAD_WORKER_H_

#include "thriftd/worker.h"

namespace thriftd {

class ThreadWorker final : public Worker {
 public:
  bool InitProcess(WorkerContext& context, std::string* error) override;
  void Run(WorkerContext& context) override;
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_THREAD_WORKER_H_
