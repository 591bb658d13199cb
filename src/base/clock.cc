#include "src/base/clock.h"

#include <time.h>

namespace thriftd {
namespace {

std::int64_t Nanos(clockid_t clock) {
  timespec now;
  // CLOCK_MONOTONIC(_COARSE) cannot fail with a valid timespec.
  clock_gettime(clock, &now);
  return static_cast<std::int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
}

}  // namespace

std::int64_t MonotonicNanos() { return Nanos(CLOCK_MONOTONIC); }

std::int64_t MonotonicMillis() { return MonotonicNanos() / 1000000; }

double MonotonicSeconds() { return static_cast<double>(MonotonicNanos()) / 1e9; }

std::int64_t CoarseMonotonicMillis() { return Nanos(CLOCK_MONOTONIC_COARSE) / 1000000; }

std::int64_t WallClockMicros() { return Nanos(CLOCK_REALTIME) / 1000; }

}  // namespace thriftd
