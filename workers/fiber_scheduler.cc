#include "workers/fiber_scheduler.h"

#include <poll.h>
#include <boost/context/fiber.hpp>
#include <boost/context/protected_fixedsize_stack.hpp>

#include <cmath>
#include <cstdio>

#include "src/base/clock.h"
#include "src/base/log.h"
#include "src/base/scoreboard.h"

// AddressSanitizer must be told when the stack changes under it, or it
// takes a fiber's frames for overflows of the loop's stack (and unwinding an
// exception on a fiber leaves poison where the next turn runs).
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define THRIFTD_ANNOTATE_FIBERS 1
#endif

namespace thriftd {

namespace context = boost::context;

namespace {

// The scheduler of the calling thread, for thriftd::sleep_for: handler code
// cannot be handed one. Set while FiberWorker::Run runs on this thread.
thread_local FiberScheduler* this_thread_scheduler = nullptr;

// A guard page below each stack turns an overflow into a crash, not
// corruption; the bounds are noted for the sanitizer annotations.
struct RecordingStack {
  context::protected_fixedsize_stack inner;
  FiberScheduler::Fiber* fiber;
  context::stack_context allocate();
  void deallocate(context::stack_context& stack) noexcept { inner.deallocate(stack); }
};

// Idle fibers kept with their stacks for the next busy connection; more are
// ended when they finish a turn.
constexpr size_t kMaxIdleFibers = 128;

}  // namespace

struct FiberScheduler::Fiber final : public IoWaiter {
  FiberScheduler* scheduler = nullptr;
  // Stack bounds, for the sanitizer annotations: the fiber's, and (seen
  // from inside the fiber) the loop's.
  const void* stack_bottom = nullptr;
  std::size_t stack_size = 0;
  const void* loop_bottom = nullptr;
  std::size_t loop_size = 0;
  void* fake_stack = nullptr;
  context::fiber self;  // the suspended fiber, while it does not run
  context::fiber back;  // inside the fiber: the loop to return to
  HeldConnection* job = nullptr;
  bool turn_done = false;
  ThriftConnection::Outcome outcome = ThriftConnection::Outcome::kClosed;
  event* wake = nullptr;
  Result wake_result = Result::kReady;

  ~Fiber() override {
    if (wake) event_free(wake);
  }

  /// Parks until `fd` is ready (or, with fd -1, until the timeout), then
  /// returns how it woke. Runs inside the fiber.
  Result Park(int fd, short events, int timeout_ms) {
    short what = 0;
    if (events & POLLIN) what |= EV_READ;
    if (events & POLLOUT) what |= EV_WRITE;
    // libevent needs every event on one descriptor to agree on EV_ET, and the
    // poller's are edge-triggered. The fiber has just seen EAGAIN, so any
    // later readiness is a new edge.
    if (fd >= 0) what |= EV_ET;
    event_assign(wake, scheduler->base_, fd, what, &FiberScheduler::OnWake, this);
    // libevent measures timeouts from the time it cached when the loop last
    // woke; a handler may have run long since. Without this, a sleep_for
    // after 200 ms of work would end 200 ms early.
    event_base_update_cache_time(scheduler->base_);
    timeval timeout{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    event_add(wake, timeout_ms >= 0 ? &timeout : nullptr);
    ReturnToLoop();
    return wake_result;
  }

  /// Inside the fiber: switches to the loop; returns when resumed.
  void ReturnToLoop() {
#ifdef THRIFTD_ANNOTATE_FIBERS
    __sanitizer_start_switch_fiber(&fake_stack, loop_bottom, loop_size);
#endif
    back = std::move(back).resume();
    ArrivedInFiber();
  }

  /// Inside the fiber, after every switch into it.
  void ArrivedInFiber() {
#ifdef THRIFTD_ANNOTATE_FIBERS
    __sanitizer_finish_switch_fiber(fake_stack, &loop_bottom, &loop_size);
#endif
  }

  /// On the loop: runs the fiber until it switches back.
  void Enter() {
#ifdef THRIFTD_ANNOTATE_FIBERS
    void* loop_fake_stack = nullptr;
    __sanitizer_start_switch_fiber(&loop_fake_stack, stack_bottom, stack_size);
#endif
    self = std::move(self).resume();
#ifdef THRIFTD_ANNOTATE_FIBERS
    __sanitizer_finish_switch_fiber(loop_fake_stack, nullptr, nullptr);
#endif
  }

  Result Wait(int fd, short events, int timeout_ms, bool between_messages) override {
    if (between_messages) return Result::kIdle;  // the poller holds idle connections
    return Park(fd, events, timeout_ms);
  }
};

context::stack_context RecordingStack::allocate() {
  context::stack_context stack = inner.allocate();
  fiber->stack_size = stack.size;
  fiber->stack_bottom = static_cast<char*>(stack.sp) - stack.size;
  return stack;
}

FiberScheduler::FiberScheduler(WorkerContext& context, event_base* base)
    : context_(context), base_(base) {
  this_thread_scheduler = this;
  if (context.fiber_check_interval > 0) watchdog_ = std::thread([this] { Watchdog(); });
}

FiberScheduler::~FiberScheduler() {
  if (watchdog_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(watchdog_mutex_);
      watchdog_stop_ = true;
    }
    watchdog_wake_.notify_all();
    watchdog_.join();
  }
  // An idle fiber waits at the end of its loop for a job; none ends it.
  for (Fiber* fiber : idle_fibers_) {
    fiber->job = nullptr;
    fiber->Enter();
  }
  this_thread_scheduler = nullptr;
}

FiberScheduler::Fiber* FiberScheduler::TakeFiber() {
  if (!idle_fibers_.empty()) {
    Fiber* fiber = idle_fibers_.back();
    idle_fibers_.pop_back();
    return fiber;
  }
  auto owned = std::make_unique<Fiber>();
  Fiber* fiber = owned.get();
  fiber->scheduler = this;
  fiber->wake = event_new(base_, -1, 0, &OnWake, fiber);
  fiber->self = context::fiber(
      std::allocator_arg,
      RecordingStack{context::protected_fixedsize_stack(context_.fiber_stack_size), fiber},
      [fiber](context::fiber&& loop) {
        fiber->back = std::move(loop);
        fiber->ArrivedInFiber();
        while (fiber->job != nullptr) {
          fiber->outcome = fiber->job->connection->Serve(*fiber);
          fiber->turn_done = true;
          fiber->ReturnToLoop();  // back with the next job, or none
        }
#ifdef THRIFTD_ANNOTATE_FIBERS
        // Leaving for good: no fake stack to keep.
        __sanitizer_start_switch_fiber(nullptr, fiber->loop_bottom, fiber->loop_size);
#endif
        return std::move(fiber->back);
      });
  fibers_.push_back(std::move(owned));
  return fiber;
}

void FiberScheduler::Dispatch(HeldConnection* held) {
  Fiber* fiber = TakeFiber();
  fiber->job = held;
  Resume(fiber);
}

void FiberScheduler::Resume(Fiber* fiber) {
  for (;;) {
    running_connection_.store(fiber->job->connection.get(), std::memory_order_relaxed);
    running_since_ms_.store(CoarseMonotonicMillis(), std::memory_order_relaxed);
    current_ = fiber;
    fiber->Enter();
    current_ = nullptr;
    running_since_ms_.store(0, std::memory_order_relaxed);
    running_connection_.store(nullptr, std::memory_order_relaxed);
    if (!fiber->turn_done) return;  // parked; an event resumes it
    fiber->turn_done = false;
    HeldConnection* held = fiber->job;
    ThriftConnection::Outcome outcome = fiber->outcome;
    ConnectionPoller::Next next = poller_->Finish(held, outcome);
    if (next == ConnectionPoller::Next::kServeAgain) continue;  // same fiber, same job
    RecycleFiber(fiber);
    if (next == ConnectionPoller::Next::kToLoop) poller_->Done(held, outcome);
    return;
  }
}

void FiberScheduler::RecycleFiber(Fiber* fiber) {
  if (idle_fibers_.size() < kMaxIdleFibers) {
    idle_fibers_.push_back(fiber);
    return;
  }
  fiber->job = nullptr;  // ends its loop; its stack is released with it
  fiber->Enter();
  for (auto it = fibers_.begin(); it != fibers_.end(); ++it) {
    if (it->get() == fiber) {
      fibers_.erase(it);
      break;
    }
  }
}

void FiberScheduler::OnWake(evutil_socket_t, short what, void* arg) {
  auto* fiber = static_cast<Fiber*>(arg);
  fiber->wake_result = (what & EV_TIMEOUT) ? IoWaiter::Result::kTimeout : IoWaiter::Result::kReady;
  fiber->scheduler->Resume(fiber);
}

bool FiberScheduler::SleepInCurrentFiber(std::int64_t ms) {
  FiberScheduler* scheduler = this_thread_scheduler;
  if (scheduler == nullptr || scheduler->current_ == nullptr) return false;
  Fiber* fiber = scheduler->current_;
  // The loop may run other fibers meanwhile: this one is not blocking it.
  fiber->Park(-1, 0, static_cast<int>(std::max<std::int64_t>(0, ms)));
  return true;
}

void FiberScheduler::Watchdog() {
  const auto interval_ms =
      static_cast<std::int64_t>(std::ceil(context_.fiber_check_interval * 1000));
  const auto period = std::chrono::milliseconds(std::max<std::int64_t>(10, interval_ms / 4));
  std::int64_t warned_for = 0;  // the turn already warned about
  std::unique_lock<std::mutex> lock(watchdog_mutex_);
  while (!watchdog_wake_.wait_for(lock, period, [this] { return watchdog_stop_; })) {
    std::int64_t since = running_since_ms_.load(std::memory_order_relaxed);
    if (since == 0 || since == warned_for) continue;
    std::int64_t blocked = CoarseMonotonicMillis() - since;
    if (blocked < interval_ms) continue;
    std::string method;
    {
      // Connections are destroyed under this lock, and only after their turn
      // ended (running_connection_ cleared): one seen here is alive.
      std::lock_guard<std::mutex> alive(destruction_mutex_);
      ThriftConnection* running = running_connection_.load(std::memory_order_relaxed);
      const char* name = running != nullptr ? running->CurrentMethod() : nullptr;
      if (name != nullptr) method = name;
    }
    warned_for = since;
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.1f", static_cast<double>(blocked) / 1000);
    THRIFTD_LOG(kWarning) << "fiber worker: a handler has blocked the event loop for " << seconds
                          << " s (method " << (method.empty() ? "unknown" : method)
                          << "); use thriftd::sleep_for, not a blocking wait";
  }
}

}  // namespace thriftd

extern "C" __attribute__((visibility("default"))) bool thriftd_fiber_sleep(std::int64_t ms) {
  return thriftd::FiberScheduler::SleepInCurrentFiber(ms);
}
