// WorkerRuntime: thriftd's side of the Worker contract in one worker process
// (the WorkerContext a kind is given): settings, the App's processors, the
// scoreboard slot, the stop signal, and the channel to the master.
// Runs in a worker; Accept, OpenConnection and ShouldAccept from the kind's
// loop thread, OnCallServed from any serving thread.
#ifndef THRIFTD_WORKERS_WORKER_RUNTIME_H_
#define THRIFTD_WORKERS_WORKER_RUNTIME_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include <thrift/TProcessor.h>

#include "src/base/access_log_format.h"
#include "src/base/scoreboard.h"
#include "thriftd/worker.h"
#include "workers/connection_socket.h"
#include "workers/stop_signal.h"
#include "workers/thrift_factories.h"

namespace thriftd {

class WorkerRuntime final : public WorkerContext {
 public:
  struct Options {
    ThriftSettings thrift;
    std::shared_ptr<apache::thrift::TProcessorFactory> processor_factory;
    Scoreboard* scoreboard = nullptr;
    int slot = 0;
    StopSignal* stop = nullptr;
    int channel_fd = -1;
    std::int64_t max_requests = 0;  ///< with the jitter already added; 0 = never
    std::string access_log;         ///< path, "-" for stdout, "" for none
    std::string access_log_format;  ///< validated by the config
  };
  explicit WorkerRuntime(Options options);

  // WorkerContext.
  int Accept(int listen_fd) override;
  bool ShouldAccept(int held) override;
  std::unique_ptr<ThriftConnection> OpenConnection(int fd) override;
  void Heartbeat() override;
  void ReportConnections(int held) override;
  int stop_fd() const override { return options_.stop->wake_fd(); }
  bool stop_requested() const override { return options_.stop->stop_requested(); }
  void Log(const char* level, const std::string& message) override;
  int channel_fd() const override { return options_.channel_fd; }
  std::unique_ptr<ThriftConnection> AdoptConnection() override;
  bool HandOver(ThriftConnection& connection) override;

  // For connections.
  const ThriftSettings& thrift() const { return options_.thrift; }
  /// The client timeout in milliseconds, -1 for none.
  int timeout_ms() const;
  apache::thrift::TProcessorFactory& processor_factory() { return *options_.processor_factory; }
  /// A call reached `method` (the processor's literal "Service.method").
  /// `started_ns` is the call's start on MonotonicNanos(), taken already.
  void OnCallStart(const char* method, std::int64_t started_ns);
  /// A call ended: counts it in the scoreboard (under `method`, or as
  /// unlisted when null), writes the access log line, and asks for a
  /// successor at max_requests. Thread-safe.
  /// `now_ns` is the call's end on MonotonicNanos(), taken already.
  void RecordCall(const char* method, CallRecord& call, const ConnectionSocket& socket,
                  std::int64_t now_ns);
  /// Calls answered so far (liveness: a worker making progress is alive).
  std::uint64_t calls_served() const override { return calls_.load(std::memory_order_relaxed); }
  /// The worker reached max_requests and asked the master for a successor.
  bool retiring() const { return retiring_.load(std::memory_order_relaxed); }

  ScoreboardSlot& slot() { return options_.scoreboard->slot(options_.slot); }

 private:
  Options options_;
  std::atomic<std::uint64_t> calls_{0};
  std::atomic<bool> retiring_{false};
  std::int64_t out_of_descriptors_until_ms_ = 0;

  /// Reads every message the master sent: a hand-over request sets
  /// hand_over_, connections queue in adopted_, EOF (the master died)
  /// requests a stop. Loop thread only.
  void ReadChannel();
  /// The slot's entry for `method`, claimed on first use; null when full.
  MethodStats* StatsFor(const char* method);
  AccessLogFormat access_format_;
  int access_fd_ = -1;
  bool hand_over_ = false;
  std::vector<int> adopted_;
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_WORKER_RUNTIME_H_
