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
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <thrift/TProcessor.h>

#include "src/base/access_log_format.h"
#include "src/base/listener_settings.h"
#include "src/base/scoreboard.h"
#include "src/base/worker_settings.h"
#include "thriftd/worker.h"
#include "workers/connection.h"
#include "workers/hand_over.h"
#include "workers/served_listener.h"
#include "workers/stop_signal.h"

namespace thriftd {

class WorkerRuntime final : public WorkerContext, public ConnectionHost {
 public:
  struct Options {
    WorkerSettings settings;
    int worker_index = 0;
    std::vector<int> listen_fds;
    /// Each listen fd as it is served (settings, processor factory, TLS),
    /// in the same order; at least one, which serves connections made from
    /// an fd that came from no listener (a test's).
    std::vector<ServedListener> listeners;
    Scoreboard* scoreboard = nullptr;
    int slot = 0;
    StopSignal* stop = nullptr;
    int channel_fd = -1;
    std::int64_t max_requests = 0;  ///< with the jitter already added; 0 = never
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
  void OnCallStart(const char* method, std::int64_t started_ns) override;
  /// Counts the call in the scoreboard (under `method`, or as unlisted when
  /// null), writes the access log line, and asks for a successor at
  /// max_requests. Thread-safe.
  void RecordCall(const char* method, CallRecord& call, const Connection& connection,
                  std::int64_t now_ns) override;

  // For the engine and the built-in kinds: thriftd's own connections.
  /// listen_fds()[index] as it is served.
  const ServedListener& listener(std::size_t index) const { return options_.listeners.at(index); }
  /// Accepts one connection from listen_fds()[index], as Accept() does.
  int AcceptFrom(std::size_t index);
  /// A connection on an fd accepted from listen_fds()[listener] (or,
  /// `adopted`, handed over from it): over TLS when that listener has a TLS
  /// context (one handed over is always plain: a TLS one is never handed
  /// over). nullptr, the fd closed and the reason logged, when the App's
  /// processor factory threw or no TLS session could be made.
  std::unique_ptr<Connection> NewConnection(UniqueFd fd, std::size_t listener,
                                            std::string_view carried = {}, bool adopted = false);
  /// Whether any listener's TLS handshakes have a deadline (the engine's
  /// sweep then watches connections in their handshake).
  bool tls_handshake_deadlines() const;
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
  int AcceptOn(int listen_fd);
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
  // For a custom kind, which calls Accept(listen_fd) then OpenConnection(fd):
  // the listener each fd it accepted came from, until it is opened.
  std::mutex accepted_lock_;
  std::unordered_map<int, std::size_t> accepted_from_;
  const std::uint64_t serial_;  // this runtime, among all made in the process
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_WORKER_RUNTIME_H_
