// FiberScheduler: the fiber kind's Dispatcher. Each connection turn the
// engine dispatches runs in a Boost.Context fiber on the worker's one loop
// thread, so a handler may park its fiber (thriftd::sleep_for) while the
// loop serves other connections. A turn never parks for I/O: the engine
// hands a fiber only messages that arrived whole, and replies the client is
// slow to read wait in the engine, not in the fiber.
//
// Fibers and their stacks (guard page below each) are pooled: up to 128
// idle fibers are kept for the next turns, more are ended as they finish.
// Sleeping fibers wait on one timerfd in the engine's epoll set, armed for
// the earliest wake-up. A watchdog thread warns when one handler blocks the
// loop for longer than `fiber_check_interval`.
// Runs in a worker, on the loop thread (the watchdog excepted).
#ifndef THRIFTD_WORKERS_FIBER_SCHEDULER_H_
#define THRIFTD_WORKERS_FIBER_SCHEDULER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "src/base/status.h"
#include "src/base/unique_fd.h"
#include "workers/connection_engine.h"

namespace thriftd {

class FiberScheduler final : public ConnectionEngine::Dispatcher {
 public:
  /// Idle fibers kept, with their stacks, for the next turns.
  static constexpr std::size_t kMaxIdleFibers = 128;

  FiberScheduler(ConnectionEngine& engine, std::size_t stack_size, double check_interval);
  /// Ends the idle fibers and the watchdog. No fiber may be mid-turn.
  ~FiberScheduler() override;
  FiberScheduler(const FiberScheduler&) = delete;
  FiberScheduler& operator=(const FiberScheduler&) = delete;

  /// Creates the timer and watches it through the engine (after
  /// engine.Open()); starts the watchdog. A failure is a boot error.
  Status Start();

  void Dispatch(std::uint32_t slot) override;
  void Destroy(std::unique_ptr<Connection> connection) override;

  /// Parks the calling fiber for at least `ms` milliseconds
  /// (thriftd::sleep_for). False when the calling thread is not running one
  /// of our fibers.
  static bool SleepInCurrentFiber(std::int64_t ms);

  /// Fibers alive (idle in the pool or running a turn), and idle ones.
  std::size_t fibers() const { return fibers_.size(); }
  std::size_t idle_fibers() const { return idle_fibers_.size(); }

  struct Fiber;

 private:
  Fiber* TakeFiber();
  /// Runs the fiber until its turn ends or it parks.
  void Resume(Fiber* fiber);
  /// Keeps the fiber (and its stack) for the next turn, or ends it.
  void RecycleFiber(Fiber* fiber);
  /// Parks the running fiber until `deadline_ns` (MonotonicNanos).
  void SleepUntil(Fiber* fiber, std::int64_t deadline_ns);
  /// The timer fired: wakes every fiber whose time has come.
  void OnTimer();
  void ArmTimer();
  void Watchdog();

  ConnectionEngine& engine_;
  std::size_t stack_size_;
  double check_interval_;
  UniqueFd timer_fd_;
  std::multimap<std::int64_t, Fiber*> sleepers_;  // by wake-up time
  std::int64_t armed_for_ns_ = 0;                 // 0: not armed
  std::vector<Fiber*> idle_fibers_;
  std::vector<std::unique_ptr<Fiber>> fibers_;
  Fiber* current_ = nullptr;

  // Read by the watchdog thread: when the running turn started (0: none)
  // and the connection it serves.
  std::atomic<std::int64_t> running_since_ms_{0};
  std::atomic<Connection*> running_connection_{nullptr};
  std::mutex destruction_mutex_;
  std::thread watchdog_;
  std::mutex watchdog_mutex_;
  std::condition_variable watchdog_wake_;
  bool watchdog_stop_ = false;
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_FIBER_SCHEDULER_H_
