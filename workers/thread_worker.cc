#include "workers/thread_worker.h"

#include <system_error>
#include <thread>
#include <vector>

#include "src/base/log.h"

namespace thriftd {

bool ThreadWorker::Init(WorkerRuntime& runtime, std::string* error) {
  ConnectionEngine::Options options;
  options.threads = runtime.threads();
  engine_ = std::make_unique<ConnectionEngine>(runtime, options);
  dispatcher_ = std::make_unique<InlineDispatcher>(*engine_);
  Status status = engine_->Open(*dispatcher_);
  if (!status.ok()) *error = "thread worker: " + status.message();
  return status.ok();
}

void ThreadWorker::Serve(WorkerRuntime& runtime) {
  // Several events per wait: one epoll_wait serves several calls. The
  // engine shares all but one with the other threads at once, so a thread
  // stuck in a handler holds no other connection's event.
  constexpr int kEventsPerWait = 16;
  ConnectionEngine* engine = engine_.get();  // the threads never touch engine_ itself
  std::vector<std::thread> pool;
  for (int i = 1; i < runtime.threads(); ++i) {
    try {
      pool.emplace_back([engine] { engine->Run(kEventsPerWait); });
    } catch (const std::system_error& error) {
      THRIFTD_LOG(kError) << "thread worker: cannot start pool thread " << i << " of "
                          << runtime.threads() << ": " << error.what();
      break;
    }
  }
  engine->Run(kEventsPerWait);
  if (runtime.quick_stop_requested()) {
    // Threads still in handlers are left to the process's end, which the
    // quick stop brings within a second; the engine they use stays.
    for (std::thread& thread : pool) thread.detach();
    (void)engine_.release();
    (void)dispatcher_.release();
    return;
  }
  for (std::thread& thread : pool) thread.join();
}

}  // namespace thriftd
