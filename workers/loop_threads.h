// LoopThreads: how several loop threads share one epoll set, the thread
// kind's leader/follower pool. ConnectionEngine::Run() is the loop; this is
// who waits in epoll_wait, who parks, and how events one thread took reach
// the others.
//
// Only as many threads as there are CPUs poll the epoll set (the pollers);
// the others park. Every thread waiting in epoll_wait is woken by the kernel
// for each new event, so more pollers than CPUs only buy context switches.
// A thread that takes several events keeps one and shares the others at
// once, so a thread that then spends a while in a handler holds no other
// connection's event. A parked thread joins the pollers when every poller
// has been in one turn for over 1 ms (blocked in a handler, not using a
// CPU). Two things bring it: a thread that shares events while every other
// poller is stuck calls one at once; and one parked thread, the watcher,
// looks every watch_interval (10 ms) whether every poller is stuck, for the
// events no stuck poller will take from epoll. The other parked threads wait
// untimed, so an idle pool costs one wake-up per interval, not one per
// parked thread.
//
// Runs in a worker; every method is called on a loop thread, between
// Enter() and Leave(), except WakeAll().
#ifndef THRIFTD_WORKERS_LOOP_THREADS_H_
#define THRIFTD_WORKERS_LOOP_THREADS_H_

#include <sys/epoll.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>

#include "src/base/status.h"
#include "src/base/unique_fd.h"

namespace thriftd {

class LoopThreads {
 public:
  struct Options {
    /// Loop threads that will run the loop. With more than one, a thread
    /// keeps one of the events it takes and shares the others.
    int threads = 1;
    /// Loop threads that wait in epoll_wait at once (0: one per CPU the
    /// worker may run on); the others park.
    int pollers = 0;
    /// How often the one parked thread that watches looks whether every
    /// poller is stuck in a handler (then it joins them).
    std::chrono::milliseconds watch_interval{10};
  };

  /// `done` is the loop's end: parked threads leave when it is set (and
  /// WakeAll() is called).
  LoopThreads(const Options& options, const std::atomic<bool>& done);
  LoopThreads(const LoopThreads&) = delete;
  LoopThreads& operator=(const LoopThreads&) = delete;

  /// Creates the kick eventfd and registers it, edge-triggered, in
  /// `epoll_fd` with `tag`: the loop ignores its events, which only end a
  /// wait so that the shared events are looked at.
  Status Open(int epoll_fd, std::uint64_t tag);

  /// Several loop threads: each keeps one event it takes and shares the rest.
  bool shares() const { return shares_; }

  /// The calling thread starts or ends running the loop.
  void Enter();
  void Leave();

  /// An event another thread took and shared, if one waits.
  bool TakeShared(epoll_event* event);
  /// Whether the calling thread may wait in epoll_wait now: false when
  /// enough others do, and it should Park().
  bool TakePollerRole();
  /// After a turn: a poller beyond the wanted number goes back to parking.
  void LeaveSurplusPollerRole();
  /// Until this thread is called for shared events (or some wait already),
  /// or (the watcher) every poller is stuck in a handler, or the loop is done.
  void Park();
  /// epoll_wait for up to `timeout_ms`, unless events are shared meanwhile
  /// (then 0 at once). -1 on an error (errno set); EINTR is retried.
  int Wait(int epoll_fd, epoll_event* events, int max_events, int timeout_ms);
  /// Queues events for the other loop threads, waking one to take them if
  /// none will soon. The caller is about to run a turn of its own.
  void Share(const epoll_event* events, int count);
  /// The loop is done: every parked thread leaves Park(). Any thread.
  void WakeAll();

  /// While it lives, the calling loop thread is in a turn, which may block
  /// in a handler: what tells a poller that is stuck from one that is free.
  class Turn {
   public:
    explicit Turn(LoopThreads& threads);
    ~Turn();
    Turn(const Turn&) = delete;
    Turn& operator=(const Turn&) = delete;

   private:
    std::atomic<std::int64_t>* started_ns_;
  };

 private:
  struct Runner {
    std::atomic<bool> poller{false};               // may wait in epoll_wait
    std::atomic<std::int64_t> turn_started_ns{0};  // 0: not in a turn
  };
  static thread_local Runner* this_thread_runner;
  /// Shared events wait: wakes a thread to take them, if none will soon.
  void CallForHelp();
  /// A poller other than `except` (may be null) is waiting in epoll_wait
  /// or in a turn that began just now.
  bool AnyPollerFree(const Runner* except);

  static constexpr int kMaxRunners = 64;  // threads that take turns polling
  const bool shares_;
  const int wanted_pollers_;
  const std::chrono::milliseconds watch_interval_;
  const std::atomic<bool>& done_;
  UniqueFd kick_fd_;  // edge-triggered: each write wakes one waiting thread
  Runner runners_state_[kMaxRunners];
  std::atomic<int> runners_{0};  // threads in the loop
  std::atomic<int> pollers_{0};  // runners with the poller role
  std::mutex park_mutex_;
  std::condition_variable park_cv_;
  int parked_ = 0;               // under park_mutex_
  int park_calls_ = 0;           // wake-ups owed to parked threads, under park_mutex_
  bool watching_ = false;        // a parked thread waits timed, to watch; under park_mutex_
  std::atomic<int> waiting_{0};  // threads in (or about to be in) epoll_wait
  std::mutex shared_mutex_;
  std::deque<epoll_event> shared_;  // under shared_mutex_
  std::atomic<std::size_t> shared_count_{0};
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_LOOP_THREADS_H_
