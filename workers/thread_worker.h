// The `thread` worker kind (gunicorn's gthread, gunicorn_thrift's
// thriftpy_thread): a pool of `threads` threads over the connection engine,
// leader/follower: every pool thread waits in the engine's epoll set and
// runs the turn of the connection it gets itself, with no hand-off between
// threads. `threads` calls run in parallel in one process; a connection
// waiting for its client holds no thread. Runs in a worker process.
#ifndef THRIFTD_WORKERS_THREAD_WORKER_H_
#define THRIFTD_WORKERS_THREAD_WORKER_H_

#include <memory>

#include "workers/builtin_worker.h"
#include "workers/connection_engine.h"

namespace thriftd {

class ThreadWorker final : public BuiltinWorker {
 protected:
  bool Init(WorkerRuntime& runtime, std::string* error) override;
  void Serve(WorkerRuntime& runtime) override;

 private:
  /// Runs each turn on the pool thread that took the connection's event.
  class InlineDispatcher final : public ConnectionEngine::Dispatcher {
   public:
    explicit InlineDispatcher(ConnectionEngine& engine) : engine_(engine) {}
    void Dispatch(std::uint32_t slot) override { engine_.Serve(slot); }

   private:
    ConnectionEngine& engine_;
  };

  std::unique_ptr<ConnectionEngine> engine_;
  std::unique_ptr<InlineDispatcher> dispatcher_;
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_THREAD_WORKER_H_
