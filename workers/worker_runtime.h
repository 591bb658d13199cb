// WorkerRuntime: thriftd's side of one worker process, the WorkerContext a
// kind is given and the ConnectionHost its connections report to: the
// worker's settings, the App's processors, its scoreboard slot, its stop
// state, its channel to the master (hand-over), and the access log.
// Runs in a worker; see WorkerContext (include/thriftd/worker.h) for which
// thread may call what.
#ifndef THRIFTD_WORKERS_WORKER_RUNTIME_H_
#define THRIFTD_WORKERS_WORKER_RUNTIME_H_

#include <signal.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <thrift/TProcessor.h>

#include "src/base/access_log_format.h"
#include "src/base/scoreboard.h"
#include "src/base/worker_settings.h"
#include "thriftd/worker.h"
#include "workers/connection.h"
#include "workers/hand_over.h"
#include "workers/stop_signal.h"
#include "workers/tls_context.h"

namespace thriftd {

class WorkerRuntime final : public WorkerContext, public ConnectionHost {
 public:
  struct Options {
    WorkerSettings settings;
    int worker_index = 0;
    std::vector<int> listen_fds;
    std::shared_ptr<apache::thrift::TProcessorFactory> processor_factory;
    Scoreboard* scoreboard = nullptr;
    int slot = 0;
    StopSignal* stop = nullptr;
    int channel_fd = -1;
    std::int64_t max_requests = 0;  ///< with the jitter already added; 0 = never
    /// The TCP listeners' TLS context; null: they are plain.
    std::shared_ptr<const TlsContext> tls;
  };
  explicit WorkerRuntime(Options options);

  // WorkerContext: settings.
  int worker_index() const override { return options_.worker_index; }
  const std::vector<int>& listen_fds() const override { return options_.listen_fds; }
  int threads() const override { return static_cast<int>(options_.settings.threads); }
  int worker_connections() const override { return connection_limit_; }
  double client_timeout() const override { return options_.settings.thrift_client_timeout; }
  double graceful_timeout() const override { return options_.settings.graceful_timeout; }
  double fiber_check_interval() const override { return options_.settings.fiber_check_interval; }
  std::size_t fiber_stack_size() const override {
    return static_cast<std::size_t>(options_.settings.fiber_stack_size);
  }
  void LimitConnections(int most) override;

  // WorkerContext: serving.
  int Accept(int listen_fd) override;
  bool ShouldAccept(int held) override;
  std::unique_ptr<ThriftConnection> OpenConnection(int fd) override;
  void Heartbeat() override;
  void ReportConnections(int held) override;
  std::uint64_t calls_served() const override { return calls_.load(std::memory_order_relaxed); }
  int stop_fd() const override { return options_.stop->wake_fd(); }
  bool stop_requested() const override { return options_.stop->stop_requested(); }
  bool quick_stop_requested() const override { return options_.stop->quick(); }
  int channel_fd() const override { return options_.channel_fd; }
  std::unique_ptr<ThriftConnection> AdoptConnection() override;
  bool HandOver(ThriftConnection& connection) override;
  std::unique_ptr<IoWaiter> MakeBlockingWaiter() override;
  void Log(const char* level, const std::string& message) override;

  // ConnectionHost.
  const WorkerSettings& settings() const override { return options_.settings; }
  apache::thrift::TProcessorFactory& processor_factory() override {
    return *options_.processor_factory;
  }
  void OnCallStart(const char* method, std::int64_t started_ns) override;
  /// Counts the call in the scoreboard (under `method`, or as unlisted when
  /// null), writes the access log line, and asks for a successor at
  /// max_requests. Thread-safe.
  void RecordCall(const char* method, CallRecord& call, const Connection& connection,
                  std::int64_t now_ns) override;

  // For the engine and the built-in kinds: thriftd's own connections.
  /// A connection on an accepted (or, `adopted`, handed over) fd: over TLS
  /// when it was accepted on a TCP listener and TLS is on (one handed over
  /// is always plain: a TLS one is never handed over). nullptr, the fd
  /// closed and the reason logged, when the App's processor factory threw
  /// or no TLS session could be made.
  std::unique_ptr<Connection> NewConnection(UniqueFd fd, std::string_view carried = {},
                                            bool adopted = false);
  /// The TCP listeners' TLS context; null when they are plain.
  const TlsContext* tls_context() const { return options_.tls.get(); }
  /// Reads the channel: false once the master is gone (then a graceful
  /// stop has been requested). One thread at a time.
  bool PollChannel();
  /// A connection another worker handed over, if one is waiting.
  std::unique_ptr<Connection> TakeAdopted();
  /// Whether this worker's connections go to the master rather than being
  /// closed: the master asked (read the channel first), or another process
  /// stopped this worker gracefully (an operator's TERM: a graceful stop of
  /// this worker alone; when thriftd itself stops, the master closes them).
  bool hand_over_requested() const {
    int outside = options_.stop != nullptr ? options_.stop->outside_signal() : 0;
    return hand_over_.requested() ||
           ((outside == SIGTERM || outside == SIGHUP) && !options_.stop->quick());
  }
  /// Passes `connection` to a successor (only when hand_over_requested()
  /// and connection.CanHandOver()); it is left empty either way. False
  /// when it could not go (logged).
  bool HandOverConnection(Connection& connection);
  StopSignal& stop() { return *options_.stop; }
  /// The worker reached max_requests and asked the master for a successor.
  bool retiring() const { return retiring_.load(std::memory_order_relaxed); }
  ScoreboardSlot& slot() { return options_.scoreboard->slot(options_.slot); }

 private:
  /// The slot's entry for `method`, claimed on first use; null when full.
  MethodStats* StatsFor(const char* method);

  Options options_;
  int connection_limit_;
  std::atomic<std::uint64_t> calls_{0};
  std::atomic<bool> retiring_{false};
  std::atomic<std::int64_t> out_of_descriptors_until_ms_{0};
  std::atomic<bool> out_of_descriptors_logged_{false};  // until an accept succeeds
  AccessLogFormat access_format_;
  int access_fd_ = -1;
  HandOverChannel hand_over_;
  const std::uint64_t serial_;  // this runtime, among all made in the process
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_WORKER_RUNTIME_H_
