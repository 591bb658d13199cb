#include "workers/fiber_worker.h"

namespace thriftd {
namespace {

// Events taken per wait: the loop serves them one after another anyway.
constexpr int kEventsPerWait = 64;

}  // namespace

bool FiberWorker::Init(WorkerRuntime& runtime, std::string* error) {
  engine_ = std::make_unique<ConnectionEngine>(runtime);
  scheduler_ = std::make_unique<FiberScheduler>(*engine_, runtime.fiber_stack_size(),
                                                runtime.fiber_check_interval());
  Status status = engine_->Open(*scheduler_);
  if (status.ok()) status = scheduler_->Start();
  if (!status.ok()) *error = "fiber worker: " + status.message();
  return status.ok();
}

void FiberWorker::Serve(WorkerRuntime& runtime) {
  engine_->Run(kEventsPerWait);
  if (runtime.quick_stop_requested()) {
    // Fibers parked in handlers keep their stacks until the process ends,
    // which the quick stop brings within a second.
    (void)scheduler_.release();
    (void)engine_.release();
  }
}

}  // namespace thriftd
