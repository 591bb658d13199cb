// FiberScheduler: runs connections' serving turns in Boost.Context fibers on
// the worker's libevent loop. A wait inside a message parks the fiber on a
// one-shot event; between messages the fiber hands the connection back to
// the poller and returns to the pool of idle fibers, with its stack.
// Runs in a worker, in the loop thread (the watchdog excepted).
#ifndef THRIFTD_WORKERS_FIBER_SCHEDULER_H_
#define THRIFTD_WORKERS_FIBER_SCHEDULER_H_

#include <event2/event.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "workers/connection_poller.h"

namespace thriftd {

class FiberScheduler final : public ConnectionPoller::Dispatcher {
 public:
  FiberScheduler(WorkerContext& context, event_base* base);
  /// Ends the idle fibers and the watchdog. No fiber may be mid-turn.
  ~FiberScheduler() override;
  FiberScheduler(const FiberScheduler&) = delete;
  FiberScheduler& operator=(const FiberScheduler&) = delete;

  void set_poller(ConnectionPoller* poller) { poller_ = poller; }
  void Dispatch(HeldConnection* held) override;

  /// Parks the calling fiber for `ms` milliseconds (thriftd::sleep_for).
  /// False when the calling thread is not running one of our fibers.
  static bool SleepInCurrentFiber(std::int64_t ms);

  struct Fiber;

 private:
  Fiber* TakeFiber();
  void Resume(Fiber* fiber);
  /// Keeps the fiber (and its stack) for the next busy connection, or ends it.
  void RecycleFiber(Fiber* fiber);
  static void OnWake(evutil_socket_t fd, short what, void* arg);
  void Watchdog();

  WorkerContext& context_;
  event_base* base_;
  ConnectionPoller* poller_ = nullptr;
  std::vector<Fiber*> idle_fibers_;
  std::vector<std::unique_ptr<Fiber>> fibers_;
  Fiber* current_ = nullptr;

  std::mutex* destruction_mutex() override { return &destruction_mutex_; }

  // Read by the watchdog thread: when the running turn started (0: none)
  // and the connection it serves.
  std::atomic<std::int64_t> running_since_ms_{0};
  std::atomic<ThriftConnection*> running_connection_{nullptr};
  std::mutex destruction_mutex_;
  std::thread watchdog_;
  std::mutex watchdog_mutex_;
  std::condition_variable watchdog_wake_;
  bool watchdog_stop_ = false;
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_FIBER_SCHEDULER_H_
