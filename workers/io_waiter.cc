#include "workers/io_waiter.h"

#include <poll.h>

#include <cerrno>

namespace thriftd {

IoWaiter::Result PollWaiter::Wait(int fd, short events, int timeout_ms, bool stop_aware) {
  pollfd fds[2] = {{fd, events, 0}, {stop_fd_, POLLIN, 0}};
  nfds_t count = (stop_aware && stop_fd_ >= 0) ? 2 : 1;
  for (;;) {
    int n = poll(fds, count, timeout_ms);
    if (n < 0 && errno == EINTR) continue;  // Handlers only record; the pipe tells us.
    if (n == 0) return Result::kTimeout;
    if (count == 2 && (fds[1].revents & POLLIN)) return Result::kStop;
    return Result::kReady;  // Errors and hang-ups surface at the next recv/send.
  }
}

}  // namespace thriftd
