// PollWaiter: an IoWaiter that blocks the calling thread in poll(). Runs in a
// worker thread (the sync worker's only thread, the thread kind's pool).
#ifndef THRIFTD_WORKERS_POLL_WAITER_H_
#define THRIFTD_WORKERS_POLL_WAITER_H_

#include "thriftd/worker.h"

namespace thriftd {

class PollWaiter final : public IoWaiter {
 public:
  /// Between messages the sync kind waits here too, woken by a graceful
  /// stop; the thread kind instead hands the connection back to its poller
  /// (`idle_between_messages`). A long wait is cut into slices that each
  /// report a heartbeat: a worker waiting on a silent client is alive.
  PollWaiter(WorkerContext& context, bool idle_between_messages)
      : context_(context), idle_between_messages_(idle_between_messages) {}
  Result Wait(int fd, short events, int timeout_ms, bool between_messages) override;

 private:
  WorkerContext& context_;
  bool idle_between_messages_;
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_POLL_WAITER_H_
