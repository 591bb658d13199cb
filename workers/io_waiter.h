// IoWaiter: how a connection waits for its socket. The sync kind blocks the
// thread in poll(); a fiber kind parks the fiber instead. Either way the
// Thrift code above the socket reads as plain blocking code.
#ifndef THRIFTD_WORKERS_IO_WAITER_H_
#define THRIFTD_WORKERS_IO_WAITER_H_

namespace thriftd {

class IoWaiter {
 public:
  enum class Result { kReady, kTimeout, kStop };
  virtual ~IoWaiter() = default;
  /// Waits until `fd` has `events` (POLLIN / POLLOUT), `timeout_ms` passes
  /// (-1: no limit) or, when `stop_aware`, a graceful stop is requested.
  virtual Result Wait(int fd, short events, int timeout_ms, bool stop_aware) = 0;
};

/// Blocks the calling thread in poll() on the fd and the stop pipe.
class PollWaiter final : public IoWaiter {
 public:
  explicit PollWaiter(int stop_fd) : stop_fd_(stop_fd) {}
  Result Wait(int fd, short events, int timeout_ms, bool stop_aware) override;

 private:
  int stop_fd_;
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_IO_WAITER_H_
