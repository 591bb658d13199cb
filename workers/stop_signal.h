// StopSignal: how a worker learns it should stop, from a signal handler.
// Runs in a worker process. The handler only records and wakes (a byte into
// a self-pipe that is never drained, so every later poll sees it).
#ifndef THRIFTD_WORKERS_STOP_SIGNAL_H_
#define THRIFTD_WORKERS_STOP_SIGNAL_H_

#include <atomic>

#include "src/base/scoreboard.h"
#include "src/base/status.h"
#include "src/base/unique_fd.h"

namespace thriftd {

class StopSignal {
 public:
  /// Creates the pipe and installs the worker's handlers: TERM (and HUP, as
  /// gunicorn's workers) requests a graceful stop; INT and QUIT exit at once;
  /// USR1 is recorded for a log reopen; SIGABRT reports a hang. Then unblocks every signal (the
  /// master forks with all of them blocked). Only one StopSignal per process.
  Status Install();

  /// The read end: readable once a stop was requested.
  int wake_fd() const { return wake_read_.get(); }
  bool stop_requested() const;
  /// Requests a graceful stop from inside the process (e.g. the master died).
  void RequestStop();
  /// True once after each USR1 (whichever thread asks first).
  bool TakeReopenRequest();
  /// SIGABRT (the master found this worker hung) logs the call in flight
  /// recorded in `slot` to `log_fd`, then exits with kWorkerExitHung.
  void ReportHangsFrom(const ScoreboardSlot* slot, int log_fd);

 private:
  UniqueFd wake_read_;
  UniqueFd wake_write_;
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_STOP_SIGNAL_H_
