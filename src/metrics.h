// Metrics: the counters the master folds out of the scoreboard, and their
// rendering in the Prometheus text exposition format (0.0.4). Runs in the
// master; nothing here is shared between processes.
#ifndef THRIFTD_SRC_METRICS_H_
#define THRIFTD_SRC_METRICS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "src/base/scoreboard.h"

namespace thriftd {

/// The method name that calls without a known method are counted under
/// (MethodStats::unlisted_calls). Real names are "Service.method", so it
/// cannot clash with one.
inline constexpr char kUnknownMethod[] = "unknown";

/// The restart reasons always rendered, with 0 until one happens.
inline constexpr const char* kRestartReasons[] = {"boot_error",   "exited", "killed",
                                                  "max_requests", "reload", "timeout"};

/// One method's counters, summed over workers.
struct MethodTotals {
  std::uint64_t calls[kCallOutcomes] = {};              ///< by CallOutcome
  std::uint64_t latency_buckets[kLatencyBuckets] = {};  ///< per bucket, not cumulative
  std::uint64_t latency_sum_us = 0;
};

/// Counters that only grow: the master keeps one for the workers that are
/// gone and folds the live slots into a copy of it for each scrape.
class MetricsTotals {
 public:
  /// Adds a slot's counters. Safe while the slot's worker is writing: reads
  /// each method's `used` with acquire before its name, counters relaxed.
  void AddSlot(const ScoreboardSlot& slot);
  void Add(const MetricsTotals& other);

  std::map<std::string, MethodTotals> methods;  ///< by "Service.method", or kUnknownMethod
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
};

/// Everything one scrape of /metrics shows.
struct MetricsSnapshot {
  MetricsTotals totals;
  int workers_booting = 0;
  int workers_ready = 0;
  int workers_draining = 0;
  std::int64_t connections = 0;  ///< held by all workers right now
  /// Worker restarts by reason; kRestartReasons are rendered even when absent.
  std::map<std::string, std::uint64_t> restarts_by_reason;
  std::string version;
  std::string thrift_version;
};

/// The snapshot in the Prometheus text format 0.0.4, every metric named
/// thriftd_*, with HELP and TYPE lines. Each known method gets all outcomes
/// and a latency histogram, so its series never vanish between scrapes.
std::string RenderPrometheus(const MetricsSnapshot& snapshot);

/// What /healthz reports on.
/// One listener, as /healthz reports it.
struct HealthListener {
  std::string address;    ///< as configured: "127.0.0.1:0", "127.0.0.1:9000-9100", "unix:/x.sock"
  std::string listening;  ///< where it listens: "127.0.0.1:9042" (the port chosen)
  int port = 0;           ///< TCP: the bound port; 0: none (a unix socket)
};

struct HealthSnapshot {
  bool stopping = false;
  int workers_ready = 0;   ///< serving now, every generation
  int workers_wanted = 0;  ///< the worker count asked for (0 after WINCH)
  std::uint64_t generation = 0;
  std::vector<HealthListener> listeners;
};

/// What /healthz answers: 200 while `serving` (a load balancer keeps
/// sending), else 503; the body (JSON) says more.
struct HealthReport {
  bool serving = false;
  std::string body;
};

/// Serving while a worker is ready and thriftd is not stopping. The body:
/// {"status": "ok" | "degraded" (fewer ready than wanted) | "unavailable"
/// (none) | "stopping", "workers_ready": N, "workers_wanted": N, "generation": N,
/// "listeners": [{"address": "127.0.0.1:0", "listening": "127.0.0.1:9042",
/// "port": 9042}, {"address": "unix:/x.sock", "listening": "unix:/x.sock"}]}
/// (a listener without a TCP port has no "port").
HealthReport RenderHealth(const HealthSnapshot& health);

/// A label value escaped for the text format: backslash, double quote and
/// newline become \\, \" and \n.
std::string EscapeLabelValue(const std::string& value);

/// Microseconds as a decimal number of seconds, exact: 2500 -> "0.0025",
/// 1000000 -> "1".
std::string MicrosAsSeconds(std::uint64_t micros);

}  // namespace thriftd

#endif  // THRIFTD_SRC_METRICS_H_
