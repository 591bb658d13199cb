// The one clock thriftd measures time with: CLOCK_MONOTONIC, in the units
// each use wants. Every process (master and workers) reads the same clock,
// so a worker's heartbeat stamp and the master's "now" compare directly.
#ifndef THRIFTD_SRC_BASE_CLOCK_H_
#define THRIFTD_SRC_BASE_CLOCK_H_

#include <cstdint>

namespace thriftd {

/// Nanoseconds on CLOCK_MONOTONIC, for call durations and deadlines.
std::int64_t MonotonicNanos();
/// Milliseconds on CLOCK_MONOTONIC.
std::int64_t MonotonicMillis();
/// Seconds on CLOCK_MONOTONIC (the master's timers).
double MonotonicSeconds();
/// Milliseconds on CLOCK_MONOTONIC_COARSE: no system call and no clock
/// read through the vDSO's slow path, but up to one tick (about 4 ms)
/// behind. For stamps taken on every call (heartbeats, call starts).
std::int64_t CoarseMonotonicMillis();
/// Microseconds since the epoch on CLOCK_REALTIME: for timestamps people
/// read (log lines), never for measuring time.
std::int64_t WallClockMicros();

}  // namespace thriftd

#endif  // THRIFTD_SRC_BASE_CLOCK_H_
