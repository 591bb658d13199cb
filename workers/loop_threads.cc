#include "workers/loop_threads.h"

#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "src/base/clock.h"
#include "src/base/log.h"

namespace thriftd {
namespace {

// A turn running longer than this is taken to be blocked in a handler.
constexpr std::int64_t kBusyTurnNs = 1000000;

int CpuCount() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return 1;
}

}  // namespace

// The loop thread's entry in runners_state_.
thread_local LoopThreads::Runner* LoopThreads::this_thread_runner = nullptr;

LoopThreads::LoopThreads(const Options& options, const std::atomic<bool>& done)
    : shares_(options.threads > 1),
      wanted_pollers_(options.pollers > 0 ? options.pollers : CpuCount()),
      watch_interval_(options.watch_interval),
      done_(done) {}

Status LoopThreads::Open(int epoll_fd, std::uint64_t tag) {
  kick_fd_.Reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!kick_fd_.valid()) return Status::FromErrno("eventfd", errno);
  epoll_event event{};
  event.events = EPOLLIN | EPOLLET;
  event.data.u64 = tag;
  if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, kick_fd_.get(), &event) < 0)
    return Status::FromErrno("epoll_ctl(ADD)", errno);
  return Status::Ok();
}

void LoopThreads::Enter() {
  int runner = runners_.fetch_add(1);
  this_thread_runner = runner < kMaxRunners ? &runners_state_[runner] : nullptr;
}

void LoopThreads::Leave() {
  Runner* me = this_thread_runner;
  if (me != nullptr && me->poller.exchange(false)) pollers_.fetch_sub(1);
  this_thread_runner = nullptr;
  runners_.fetch_sub(1);
}

LoopThreads::Turn::Turn(LoopThreads& threads)
    // Only where several threads share events (the fiber kind's turns park,
    // and are alone).
    : started_ns_(threads.shares_ && this_thread_runner != nullptr
                      ? &this_thread_runner->turn_started_ns
                      : nullptr) {
  if (started_ns_ != nullptr) started_ns_->store(MonotonicNanos(), std::memory_order_relaxed);
}

LoopThreads::Turn::~Turn() {
  if (started_ns_ != nullptr) started_ns_->store(0, std::memory_order_relaxed);
}

// --- the poller role and parking ------------------------------------------------------

bool LoopThreads::TakePollerRole() {
  Runner* me = this_thread_runner;
  if (me == nullptr) return true;  // beyond kMaxRunners: always polls
  if (me->poller.load(std::memory_order_relaxed)) return true;
  // Flagged before it is counted: a thread that sees the count full then
  // finds every poller that counts (and perhaps this one, free, for a
  // moment), never too few, so it does not add a surplus poller.
  me->poller.store(true);
  int pollers = pollers_.load();
  while (pollers < wanted_pollers_) {
    if (pollers_.compare_exchange_weak(pollers, pollers + 1)) return true;
  }
  me->poller.store(false);
  if (AnyPollerFree(me)) return false;
  me->poller.store(true);
  pollers_.fetch_add(1);  // every poller is stuck: one more, for now
  return true;
}

void LoopThreads::LeaveSurplusPollerRole() {
  Runner* me = this_thread_runner;
  if (me == nullptr || !me->poller.load(std::memory_order_relaxed)) return;
  int pollers = pollers_.load();
  while (pollers > wanted_pollers_) {
    if (pollers_.compare_exchange_weak(pollers, pollers - 1)) {
      me->poller.store(false, std::memory_order_relaxed);
      return;
    }
  }
}

bool LoopThreads::AnyPollerFree(const Runner* except) {
  std::int64_t now = MonotonicNanos();
  for (int i = 0, n = std::min(runners_.load(), kMaxRunners); i < n; ++i) {
    Runner& runner = runners_state_[i];
    if (&runner == except || !runner.poller.load(std::memory_order_relaxed)) continue;
    std::int64_t started = runner.turn_started_ns.load(std::memory_order_relaxed);
    if (started == 0 || now - started < kBusyTurnNs) return true;
  }
  return false;
}

void LoopThreads::Park() {
  std::unique_lock<std::mutex> lock(park_mutex_);
  ++parked_;
  for (;;) {
    if (park_calls_ > 0) {
      --park_calls_;
      break;
    }
    // Events shared after this thread last looked, while it was not yet
    // counted as parked, called nobody. (Sharing counts parked threads
    // under this lock, after queueing: either it sees this thread, or this
    // thread sees its events.)
    if (shared_count_.load() > 0) break;
    if (done_.load(std::memory_order_acquire)) break;
    if (watching_) {
      park_cv_.wait(lock);  // another parked thread watches: wait to be called
      continue;
    }
    watching_ = true;
    park_cv_.wait_for(lock, watch_interval_);
    watching_ = false;
    if (park_calls_ > 0 || done_.load(std::memory_order_acquire)) continue;
    if (!AnyPollerFree(nullptr)) break;  // every poller is stuck: go and join them
  }
  --parked_;
  // The watcher leaves: another parked thread takes the watch.
  if (!watching_ && parked_ > 0) park_cv_.notify_one();
}

void LoopThreads::WakeAll() {
  std::lock_guard<std::mutex> lock(park_mutex_);
  park_cv_.notify_all();
}

// --- waiting and sharing ----------------------------------------------------------------

int LoopThreads::Wait(int epoll_fd, epoll_event* events, int max_events, int timeout_ms) {
  // Counted as waiting before the last look at the shared events, so a
  // thread that shares events sees it and kicks it (or it sees them).
  waiting_.fetch_add(1);
  int n = 0;
  if (shared_count_.load() == 0) {
    do {
      n = epoll_wait(epoll_fd, events, max_events, timeout_ms);
    } while (n < 0 && errno == EINTR);
  }
  waiting_.fetch_sub(1);
  return n;
}

void LoopThreads::Share(const epoll_event* events, int count) {
  {
    std::lock_guard<std::mutex> lock(shared_mutex_);
    for (int i = 0; i < count; ++i) shared_.push_back(events[i]);
    shared_count_.store(shared_.size());
  }
  CallForHelp();
}

bool LoopThreads::TakeShared(epoll_event* event) {
  if (shared_count_.load(std::memory_order_relaxed) == 0) return false;
  std::size_t left;
  {
    std::lock_guard<std::mutex> lock(shared_mutex_);
    if (shared_.empty()) return false;
    *event = shared_.front();
    shared_.pop_front();
    left = shared_.size();
    shared_count_.store(left);
  }
  if (left > 0) CallForHelp();
  return true;
}

void LoopThreads::CallForHelp() {
  // A poller waiting in epoll_wait takes shared events once woken (each
  // write of the edge-triggered eventfd wakes one). Pollers in short turns
  // look at them as their turns end. Only when every other poller is stuck
  // in a handler does a parked thread come: the caller is about to run a
  // turn itself, which may be long, so it does not count.
  if (waiting_.load() > 0) {
    std::uint64_t one = 1;
    if (write(kick_fd_.get(), &one, sizeof one) < 0)
      THRIFTD_LOG(kError) << "write(eventfd): " << std::strerror(errno);
    return;
  }
  if (AnyPollerFree(this_thread_runner)) return;
  std::lock_guard<std::mutex> lock(park_mutex_);
  if (parked_ > park_calls_) {
    ++park_calls_;
    park_cv_.notify_one();
  }
}

}  // namespace thriftd
