#include "workers/poll_waiter.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>

#include "src/base/clock.h"

namespace thriftd {
namespace {

constexpr int kHeartbeatSliceMs = 500;
// Inside a message once a graceful stop came: how soon a quick stop after
// it is seen (the stop descriptor, readable for good, cannot say).
constexpr int kQuickStopSliceMs = 50;

}  // namespace

IoWaiter::Result PollWaiter::Wait(int fd, short events, int timeout_ms, bool between_messages) {
  pollfd fds[2] = {{fd, events, 0}, {context_.stop_fd(), POLLIN, 0}};
  std::int64_t deadline = timeout_ms < 0 ? -1 : MonotonicMillis() + timeout_ms;
  for (;;) {
    // A quick stop ends any wait: no call is waited for.
    if (context_.quick_stop_requested()) return Result::kStop;
    // The stop descriptor stays readable once a stop came. Between messages
    // any stop ends the wait; inside one only a quick stop does, so once a
    // graceful stop is under way the descriptor is left out, and a quick
    // stop is looked for between short slices.
    bool watch_stop = between_messages || !context_.stop_requested();
    int slice = watch_stop ? kHeartbeatSliceMs : kQuickStopSliceMs;
    if (deadline >= 0)
      slice = static_cast<int>(std::clamp<std::int64_t>(deadline - MonotonicMillis(), 0, slice));
    int n = poll(fds, watch_stop ? 2 : 1, slice);
    // EINTR: look again. Any other failure: let recv/send name it.
    if (n < 0 && errno != EINTR) return Result::kReady;
    if (n > 0) {
      if (context_.quick_stop_requested()) return Result::kStop;
      // A request that already arrived is served even when a graceful stop
      // came with it.
      if (fds[0].revents != 0) return Result::kReady;  // errors surface at recv/send
      if (between_messages) return Result::kStop;
      continue;  // a graceful stop inside a message: the message goes on
    }
    context_.Heartbeat();
    if (deadline >= 0 && MonotonicMillis() >= deadline) return Result::kTimeout;
  }
}

}  // namespace thriftd
