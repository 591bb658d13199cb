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
  // thriftd::sleep_for promises at least its duration; libevent's default
  // coarse clock (4 ms ticks) would let timers fire a few ms early.
  event_config* config = event_config_new();
  event_config_set_flag(config, EVENT_BASE_FLAG_PRECISE_TIMER);
  std::unique_ptr<event_base, EventBaseDeleter> base(event_base_new_with_config(config));
  event_config_free(config);
  FiberScheduler scheduler(context, base.get());
  ConnectionPoller poller(context, base.get(), scheduler);
  scheduler.set_poller(&poller);
  poller.Start();
  event_base_dispatch(base.get());
}

}  // namespace thriftd
