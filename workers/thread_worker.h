// The `thread` worker kind (gunicorn's gthread, gunicorn_thrift's
// thriftpy_thread), as a leader/follower pool: each of `threads` threads waits
// in epoll_wait on the worker's one epoll fd and serves the connection it gets
// while data is ready, then leaves it idle in the epoll set. An idle
// connection costs no thread; `threads` calls run in parallel in one process.
// Runs in a worker process.
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
