// Scoreboard: shared memory mapped by the master before the first fork, one
// fixed-size slot per worker. A worker writes only its own slot, with relaxed
// atomics and no system calls; the master (and, for balancing, the other
// workers) only read. The master clears a slot before giving it to a new
// worker, when no process owns it.
#ifndef THRIFTD_SRC_BASE_SCOREBOARD_H_
#define THRIFTD_SRC_BASE_SCOREBOARD_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>

#include "src/base/status.h"

namespace thriftd {

enum class SlotState : std::uint32_t { kFree = 0, kBooting, kReady, kDraining };

/// How a call ended, as the reply says.
enum class CallOutcome : int {
  kOk = 0,                ///< a normal reply
  kDeclaredException,     ///< the handler threw an exception the IDL declares
  kApplicationException,  ///< TApplicationException: undeclared exception, unknown method
  kProtocolError,         ///< the request could not be read; no reply
};
inline constexpr int kCallOutcomes = 4;
const char* CallOutcomeName(CallOutcome outcome);  ///< "ok", "declared_exception", ...

/// Latency histogram bucket upper bounds, microseconds; one more bucket
/// counts the rest (+Inf).
inline constexpr std::int64_t kLatencyBoundsUs[] = {100,    250,    500,     1000,    2500,
                                                    5000,   10000,  25000,   50000,   100000,
                                                    250000, 500000, 1000000, 2500000, 10000000};
inline constexpr int kLatencyBuckets = sizeof(kLatencyBoundsUs) / sizeof(kLatencyBoundsUs[0]) + 1;

/// One method's counters in a worker's slot. The worker claims an entry by
/// writing the name, then setting `used` (release); readers check `used`
/// (acquire) before reading the name.
struct MethodStats {
  static constexpr int kNameSize = 64;
  std::atomic<std::uint32_t> used;
  char name[kNameSize];  ///< "Service.method", NUL-terminated
  std::atomic<std::uint64_t> calls[kCallOutcomes];
  std::atomic<std::uint64_t> latency_buckets[kLatencyBuckets];  ///< per bucket, not cumulative
  std::atomic<std::uint64_t> latency_sum_us;
};

struct ScoreboardSlot {
  static constexpr int kMaxMethods = 64;
  std::atomic<std::int32_t> pid;
  std::atomic<std::uint32_t> state;  ///< SlotState
  std::atomic<std::uint64_t> generation;
  std::atomic<std::int64_t> heartbeat_ms;  ///< CLOCK_MONOTONIC, milliseconds
  std::atomic<std::uint64_t> requests;
  std::atomic<std::uint64_t> errors;
  std::atomic<std::int32_t> connections;  ///< held right now
  std::atomic<std::int32_t> connection_limit;
  std::atomic<std::uint64_t> bytes_in;
  std::atomic<std::uint64_t> bytes_out;
  /// The method of the call in flight (a string literal of the worker's
  /// processor: the pointer means something only inside that worker), for
  /// the worker's own SIGABRT report when the master finds it hung.
  std::atomic<const char*> current_method;
  std::atomic<std::int64_t> call_started_ms;  ///< 0 between calls
  /// Calls of methods beyond kMaxMethods, and calls that never reached a
  /// method (unknown method names, unreadable requests), by outcome.
  std::atomic<std::uint64_t> unlisted_calls[kCallOutcomes];
  MethodStats methods[kMaxMethods];

  SlotState Load() const { return static_cast<SlotState>(state.load(std::memory_order_relaxed)); }
  void Store(SlotState s) { state.store(static_cast<std::uint32_t>(s), std::memory_order_relaxed); }
};

class Scoreboard {
 public:
  static constexpr int kMaxSlots = 1024;

  /// Maps the shared memory (MAP_SHARED | MAP_ANONYMOUS): inherited by fork.
  static Status Create(std::unique_ptr<Scoreboard>* scoreboard);
  ~Scoreboard();
  Scoreboard(const Scoreboard&) = delete;
  Scoreboard& operator=(const Scoreboard&) = delete;

  ScoreboardSlot& slot(int index) { return slots_[index]; }
  const ScoreboardSlot& slot(int index) const { return slots_[index]; }
  /// Master: zeroes a slot that no live process owns, for a new worker.
  void Reset(int index);
  /// One past the highest slot ever handed out: readers scan [0, limit).
  int slot_limit() const { return header_->slot_limit.load(std::memory_order_relaxed); }

 private:
  struct Header {
    std::atomic<std::int32_t> slot_limit;
  };
  Scoreboard(Header* header, ScoreboardSlot* slots) : header_(header), slots_(slots) {}
  Header* header_;
  ScoreboardSlot* slots_;
};

}  // namespace thriftd

#endif  // THRIFTD_SRC_BASE_SCOREBOARD_H_
