// StopSignal: how a worker learns it should stop (and reopen its logs),
// and the signal handlers that tell it. Runs in a worker process.
//
// The state is an object, so unit tests drive a worker's stop without any
// signal; InstallWorkerSignalHandlers() points the process's handlers at
// one StopSignal. The handlers only record and wake: a byte into a pipe that
// is never drained, so every later poll sees it.
#ifndef THRIFTD_WORKERS_STOP_SIGNAL_H_
#define THRIFTD_WORKERS_STOP_SIGNAL_H_

#include <sys/types.h>

#include <atomic>

#include "src/base/scoreboard.h"
#include "src/base/status.h"
#include "src/base/unique_fd.h"

namespace thriftd {

class StopSignal {
 public:
  /// Creates the wake pipe.
  Status Open();

  /// The read end: readable once a stop was requested (never drained).
  int wake_fd() const { return wake_read_.get(); }
  bool stop_requested() const { return stop_.load(std::memory_order_acquire) != kRunning; }
  /// A quick stop (INT, QUIT): stop at once, without waiting for calls.
  bool quick() const { return stop_.load(std::memory_order_acquire) == kQuick; }
  /// Requests a graceful stop, or a quick one (which overrides a graceful
  /// one, never the reverse). True when this call changed the stop: the
  /// first request, or the first quick one. Async-signal-safe; any thread.
  bool RequestStop(bool quick = false);
  /// Requests a log reopen (USR1). Async-signal-safe.
  void RequestReopen() { reopen_.store(1, std::memory_order_relaxed); }
  /// True once after each RequestReopen() (whichever thread asks first).
  bool TakeReopenRequest() { return reopen_.exchange(0) != 0; }
  /// The stop came from another process than the master (an operator's
  /// kill, a process-group signal): records the first such signal; false
  /// when one was recorded already. Async-signal-safe.
  bool NoteOutsideStop(int signo);
  /// That signal (0 when the stop, if any, came from the master).
  int outside_signal() const { return outside_signal_.load(std::memory_order_acquire); }

 private:
  static constexpr int kRunning = 0;
  static constexpr int kGraceful = 1;
  static constexpr int kQuick = 2;
  UniqueFd wake_read_;
  UniqueFd wake_write_;
  std::atomic<int> stop_{kRunning};
  std::atomic<int> reopen_{0};
  std::atomic<int> outside_signal_{0};
};

/// Installs the worker's handlers, delivering into `stop`: TERM (and HUP,
/// as gunicorn's workers) request a graceful stop; INT and QUIT a quick one,
/// with SIGALRM ending the process one second after the first of them
/// whatever it is doing (so the App's OnWorkerExit runs, but cannot hold the
/// exit up, and more INTs or QUITs do not put it off); USR1 a log
/// reopen; SIGABRT (the master found the worker hung) writes the call in
/// flight recorded in `slot` to `log_fd` and exits with kWorkerExitHung.
/// A stop signal sent by another process than `master_pid` is recorded
/// (NoteOutsideStop) and said to the master at once on `channel_fd`
/// (kChannelStopSignal), so that it replaces this worker (or, when the
/// master got the same signal, stops). Then unblocks every signal (the
/// master forks with all of them blocked). Once per process: the handlers
/// are process-wide.
void InstallWorkerSignalHandlers(StopSignal* stop, const ScoreboardSlot* slot, int log_fd,
                                 pid_t master_pid = 0, int channel_fd = -1);

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_STOP_SIGNAL_H_
