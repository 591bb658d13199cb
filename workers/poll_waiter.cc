#include "workers/poll_waiter.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>

#include "src/base/clock.h"

namespace thriftd {
namespace {

constexpr int kHeartbeatSliceMs = 500;

}  // namespace

IoWaiter::Result PollWaiter::Wait(int fd, short events, int timeout_ms, bool between_messages) {
  pollfd fds[2] = {{fd, events, 0}, {context_.stop_fd(), POLLIN, 0}};
  nfds_t count = between_messages ? 2 : 1;
  std::int64_t deadline = timeout_ms < 0 ? -1 : MonotonicMillis() + timeout_ms;
  for (;;) {
    int slice = kHeartbeatSliceMs;
    if (deadline >= 0)
      slice = static_cast<int>(std::clamp<std::int64_t>(deadline - MonotonicMillis(), 0, slice));
    int n = poll(fds, count, slice);
    // EINTR: look again. Any other failure: let recv/send name it.
    if (n < 0 && errno != EINTR) return Result::kReady;
    if (n > 0) {
      // A request that already arrived is served even when a stop came with it.
      if (fds[0].revents != 0) return Result::kReady;  // errors surface at recv/send
      return Result::kStop;
    }
    if (context_.quick_stop_requested()) return between_messages ? Result::kStop : Result::kReady;
    context_.Heartbeat();
    if (deadline >= 0 && MonotonicMillis() >= deadline) return Result::kTimeout;
  }
}

}  // namespace thriftd
