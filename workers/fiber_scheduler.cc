#include "workers/fiber_scheduler.h"

#include <sys/timerfd.h>
#include <unistd.h>

#include <boost/context/fiber.hpp>
#include <boost/context/protected_fixedsize_stack.hpp>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "src/base/clock.h"
#include "src/base/log.h"

// The sanitizers must be told when the stack changes under them.
// AddressSanitizer otherwise takes a fiber's frames for overflows of the
// loop's stack (and unwinding an exception on a fiber leaves poison where
// the next turn runs); ThreadSanitizer takes the switches for one thread
// jumping around and reports races that are none. Debian's Boost.Context
// (fcontext) has no hooks of its own.
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define THRIFTD_ASAN_FIBERS 1
#endif
#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#define THRIFTD_TSAN_FIBERS 1
#endif

namespace thriftd {

namespace context = boost::context;

namespace {

// The scheduler of the calling thread, for thriftd::sleep_for: handler code
// cannot be handed one. Set while a FiberScheduler lives on this thread.
thread_local FiberScheduler* this_thread_scheduler = nullptr;

// The fiber's guard-page stack, noting its bounds for the sanitizers.
struct RecordingStack {
  context::protected_fixedsize_stack inner;
  FiberScheduler::Fiber* fiber;
  context::stack_context allocate();
  void deallocate(context::stack_context& stack) noexcept { inner.deallocate(stack); }
};

constexpr std::uint32_t kNoJob = UINT32_MAX;

}  // namespace

struct FiberScheduler::Fiber {
  FiberScheduler* scheduler = nullptr;
  context::fiber self;         // the suspended fiber, while it does not run
  context::fiber back;         // inside the fiber: the loop to return to
  std::uint32_t job = kNoJob;  // the slot whose turn it runs
  bool turn_done = false;
  // Stack bounds for the sanitizers: the fiber's, and (seen from inside the
  // fiber) the loop's.
  const void* stack_bottom = nullptr;
  std::size_t stack_size = 0;
  const void* loop_bottom = nullptr;
  std::size_t loop_size = 0;
  void* fake_stack = nullptr;
#ifdef THRIFTD_TSAN_FIBERS
  void* tsan_fiber = __tsan_create_fiber(0);
  void* tsan_loop = nullptr;
  ~Fiber() { __tsan_destroy_fiber(tsan_fiber); }
#endif

  /// Inside the fiber: switches to the loop; returns when resumed.
  void ReturnToLoop() {
#ifdef THRIFTD_ASAN_FIBERS
    __sanitizer_start_switch_fiber(&fake_stack, loop_bottom, loop_size);
#endif
#ifdef THRIFTD_TSAN_FIBERS
    __tsan_switch_to_fiber(tsan_loop, 0);
#endif
    back = std::move(back).resume();
    ArrivedInFiber();
  }

  /// Inside the fiber, after every switch into it.
  void ArrivedInFiber() {
#ifdef THRIFTD_ASAN_FIBERS
    __sanitizer_finish_switch_fiber(fake_stack, &loop_bottom, &loop_size);
#endif
  }

  /// On the loop: runs the fiber until it switches back.
  void Enter() {
#ifdef THRIFTD_ASAN_FIBERS
    void* loop_fake_stack = nullptr;
    __sanitizer_start_switch_fiber(&loop_fake_stack, stack_bottom, stack_size);
#endif
#ifdef THRIFTD_TSAN_FIBERS
    tsan_loop = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(tsan_fiber, 0);
#endif
    self = std::move(self).resume();
#ifdef THRIFTD_ASAN_FIBERS
    __sanitizer_finish_switch_fiber(loop_fake_stack, nullptr, nullptr);
#endif
  }

  /// The fiber's body: turns until it is given no job.
  context::fiber Body(context::fiber&& loop) {
    back = std::move(loop);
    ArrivedInFiber();
    while (job != kNoJob) {
      scheduler->engine_.Serve(job);
      turn_done = true;
      ReturnToLoop();  // back with the next job, or none
    }
#ifdef THRIFTD_ASAN_FIBERS
    // Leaving for good: no fake stack to keep.
    __sanitizer_start_switch_fiber(nullptr, loop_bottom, loop_size);
#endif
#ifdef THRIFTD_TSAN_FIBERS
    __tsan_switch_to_fiber(tsan_loop, 0);
#endif
    return std::move(back);
  }
};

context::stack_context RecordingStack::allocate() {
  context::stack_context stack = inner.allocate();
  fiber->stack_size = stack.size;
  fiber->stack_bottom = static_cast<char*>(stack.sp) - stack.size;
  return stack;
}

FiberScheduler::FiberScheduler(ConnectionEngine& engine, std::size_t stack_size,
                               double check_interval)
    : engine_(engine), stack_size_(stack_size), check_interval_(check_interval) {
  this_thread_scheduler = this;
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
    fiber->job = kNoJob;
    fiber->Enter();
  }
  this_thread_scheduler = nullptr;
}

Status FiberScheduler::Start() {
  timer_fd_.Reset(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!timer_fd_.valid()) return Status::FromErrno("timerfd_create(fibers)", errno);
  Status status = engine_.Watch(timer_fd_.get(), [this] { OnTimer(); });
  if (!status.ok()) return status;
  if (check_interval_ > 0) {
    try {
      watchdog_ = std::thread([this] { Watchdog(); });
    } catch (const std::system_error& error) {
      return Status::Error(std::string("cannot start the fiber watchdog: ") + error.what());
    }
  }
  return Status::Ok();
}

// --- turns ----------------------------------------------------------------------

FiberScheduler::Fiber* FiberScheduler::TakeFiber() {
  if (!idle_fibers_.empty()) {
    Fiber* fiber = idle_fibers_.back();
    idle_fibers_.pop_back();
    return fiber;
  }
  auto owned = std::make_unique<Fiber>();
  Fiber* fiber = owned.get();
  fiber->scheduler = this;
  fiber->self = context::fiber(
      std::allocator_arg, RecordingStack{context::protected_fixedsize_stack(stack_size_), fiber},
      [fiber](context::fiber&& loop) { return fiber->Body(std::move(loop)); });
  fibers_.push_back(std::move(owned));
  return fiber;
}

void FiberScheduler::Dispatch(std::uint32_t slot) {
  Fiber* fiber = nullptr;
  try {
    fiber = TakeFiber();
  } catch (const std::exception& error) {
    // A new fiber's stack is mapped at once, and the mapping can fail (no
    // memory, vm.max_map_count): that connection goes, not the worker.
    engine_.Abandon(slot, "no fiber to serve it (a " + std::to_string(stack_size_) +
                              "-byte stack): " + error.what());
    return;
  }
  fiber->job = slot;
  Resume(fiber);
}

void FiberScheduler::Resume(Fiber* fiber) {
  // Release: the watchdog (acquire) then sees the connection it is given whole.
  running_connection_.store(engine_.ConnectionAt(fiber->job), std::memory_order_release);
  running_since_ms_.store(CoarseMonotonicMillis(), std::memory_order_relaxed);
  current_ = fiber;
  fiber->Enter();
  current_ = nullptr;
  running_since_ms_.store(0, std::memory_order_relaxed);
  running_connection_.store(nullptr, std::memory_order_relaxed);
  if (!fiber->turn_done) return;  // parked; the timer resumes it
  fiber->turn_done = false;
  RecycleFiber(fiber);
}

void FiberScheduler::RecycleFiber(Fiber* fiber) {
  if (idle_fibers_.size() < kMaxIdleFibers) {
    idle_fibers_.push_back(fiber);
    return;
  }
  fiber->job = kNoJob;  // ends its loop; its stack is released with it
  fiber->Enter();
  for (auto it = fibers_.begin(); it != fibers_.end(); ++it) {
    if (it->get() == fiber) {
      fibers_.erase(it);
      break;
    }
  }
}

void FiberScheduler::Destroy(std::unique_ptr<Connection> connection) {
  // A turn may end its own connection: the watchdog must not read it after.
  std::lock_guard<std::mutex> lock(destruction_mutex_);
  if (running_connection_.load(std::memory_order_relaxed) == connection.get())
    running_connection_.store(nullptr, std::memory_order_relaxed);
  connection.reset();
}

// --- sleeping -------------------------------------------------------------------

bool FiberScheduler::SleepInCurrentFiber(std::int64_t ms) {
  FiberScheduler* scheduler = this_thread_scheduler;
  if (scheduler == nullptr || scheduler->current_ == nullptr) return false;
  scheduler->SleepUntil(scheduler->current_,
                        MonotonicNanos() + std::max<std::int64_t>(0, ms) * 1000000);
  return true;
}

void FiberScheduler::SleepUntil(Fiber* fiber, std::int64_t deadline_ns) {
  sleepers_.emplace(deadline_ns, fiber);
  ArmTimer();
  // The loop runs other turns meanwhile: this fiber is not blocking it.
  fiber->ReturnToLoop();
}

void FiberScheduler::ArmTimer() {
  std::int64_t next = sleepers_.empty() ? 0 : sleepers_.begin()->first;
  if (next == armed_for_ns_) return;
  itimerspec spec{};
  if (next != 0) {
    // Absolute, on the clock MonotonicNanos reads: never early. (Zero
    // would disarm it: an overdue wake-up fires one nanosecond in.)
    std::int64_t at = std::max<std::int64_t>(next, 1);
    spec.it_value.tv_sec = static_cast<time_t>(at / 1000000000);
    spec.it_value.tv_nsec = static_cast<long>(at % 1000000000);
  }
  if (timerfd_settime(timer_fd_.get(), TFD_TIMER_ABSTIME, &spec, nullptr) < 0) {
    THRIFTD_LOG(kError) << "timerfd_settime(fibers): " << std::strerror(errno);
    return;
  }
  armed_for_ns_ = next;
}

void FiberScheduler::OnTimer() {
  std::uint64_t expirations = 0;
  if (read(timer_fd_.get(), &expirations, sizeof expirations) < 0 && errno != EAGAIN)
    THRIFTD_LOG(kWarning) << "read(timerfd): " << std::strerror(errno);
  armed_for_ns_ = 0;
  std::int64_t now = MonotonicNanos();
  std::vector<Fiber*> due;
  while (!sleepers_.empty() && sleepers_.begin()->first <= now) {
    due.push_back(sleepers_.begin()->second);
    sleepers_.erase(sleepers_.begin());
  }
  ArmTimer();
  for (Fiber* fiber : due) Resume(fiber);
}

// --- the watchdog -----------------------------------------------------------------

void FiberScheduler::Watchdog() {
  const auto interval_ms = static_cast<std::int64_t>(std::ceil(check_interval_ * 1000));
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
      // Connections are destroyed under this lock, which also clears
      // running_connection_ when it names them: one seen here is alive.
      std::lock_guard<std::mutex> alive(destruction_mutex_);
      Connection* running = running_connection_.load(std::memory_order_acquire);
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
