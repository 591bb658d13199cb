#include "workers/fiber_worker.h"

#include <event2/event.h>

#include <memory>

#include "workers/connection_poller.h"
#include "workers/fiber_scheduler.h"

namespace thriftd {
namespace {

struct EventBaseDeleter {
  void operator()(event_base* base) const { event_base_free(base); }
};

}  // namespace

bool FiberWorker::InitProcess(WorkerContext& context, std::string* error) {
  if (context.fiber_stack_size < 16 * 1024) {
    *error = "fiber_stack_size must be at least 16384 bytes";
    return false;
  }
  return true;
}

void FiberWorker::Run(WorkerContext& context) {
  std::unique_ptr<event_base, EventBaseDeleter> base(event_base_new());
  FiberScheduler scheduler(context, base.get());
  ConnectionPoller poller(context, base.get(), scheduler);
  scheduler.set_poller(&poller);
  poller.Start();
  event_base_dispatch(base.get());
}

}  // namespace thriftd
