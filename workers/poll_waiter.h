// PollWaiter: the IoWaiter that blocks the calling thread in poll(), what
// WorkerContext::MakeBlockingWaiter() gives (the sync kind's, and a custom
// kind's). It answers kStop for any stop between messages, and for a quick
// stop inside one; a long wait is cut into slices that each report a
// heartbeat, so a worker waiting on a quiet client is alive. Runs in a
// worker thread.
#ifndef THRIFTD_WORKERS_POLL_WAITER_H_
#define THRIFTD_WORKERS_POLL_WAITER_H_

#include "thriftd/worker.h"

namespace thriftd {

class PollWaiter final : public IoWaiter {
 public:
  explicit PollWaiter(WorkerContext& context) : context_(context) {}
  Result Wait(int fd, short events, int timeout_ms, bool between_messages) override;

 private:
  WorkerContext& context_;
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_POLL_WAITER_H_
