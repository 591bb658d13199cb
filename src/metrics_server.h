// The metrics and health endpoint: a small HTTP server (libevent's evhttp)
// on the master's event loop. Runs in the master, on the loop's thread.
#ifndef THRIFTD_SRC_METRICS_SERVER_H_
#define THRIFTD_SRC_METRICS_SERVER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "src/base/status.h"
#include "src/listener.h"
#include "src/metrics.h"

struct event_base;
struct evhttp;
struct evhttp_request;

namespace thriftd {

/// Serves, for GET:
///   /metrics  200, text/plain; version=0.0.4, the body from render_metrics()
///   /healthz  200 or 503 as health() says, with its body (application/json)
///   /schema   200, application/json, the App's embedded schema (SetSchema);
///             404 with a line saying why when it has none, or when it
///             cannot be read (SetSchemaError)
/// Other paths are 404; HEAD is answered as GET without the body; other
/// methods 405.
class MetricsServer {
 public:
  /// Binds host:port ("" = all IPv4 interfaces; port 0 lets the kernel
  /// choose) and serves from `base`, which must outlive the server. The
  /// callbacks run on the loop's thread, one request at a time. The sockets
  /// are close-on-exec, so an exec'd process does not inherit them; workers
  /// fork without exec and close every descriptor they do not need
  /// (PosixProcessOps). The error is OpenListener's ("cannot listen on
  /// 127.0.0.1:9100: bind: Address already in use").
  static Status Start(event_base* base, const std::string& host, int port,
                      std::function<std::string()> render_metrics,
                      std::function<HealthReport()> health, std::unique_ptr<MetricsServer>* out);
  /// As Start(), on a socket already listening (one a binary upgrade's old
  /// master passed, adopted with AdoptListener).
  static Status Serve(event_base* base, Listener listener,
                      std::function<std::string()> render_metrics,
                      std::function<HealthReport()> health, std::unique_ptr<MetricsServer>* out);
  /// Closes the listening socket and any open connections.
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  /// What /schema serves from now on: the App's schema (JSON), or nullopt
  /// for none; `app` names the App in the 404's line.
  void SetSchema(std::optional<std::string> schema, const std::string& app) {
    schema_ = std::move(schema);
    no_schema_ = "the App " + app + " embeds no schema (THRIFTD_SCHEMA, include/thriftd/schema.h)";
  }
  /// The App's schema could not be read (`error` says why, naming the
  /// file): /schema's 404 says so from now on, rather than that it has none.
  void SetSchemaError(const std::string& error) {
    schema_.reset();
    no_schema_ = "cannot serve the App's schema: " + error;
  }

  /// The bound port: the kernel's choice when 0 was asked for.
  int port() const { return port_; }
  /// The listening socket (owned by evhttp).
  int fd() const { return fd_; }

 private:
  MetricsServer(std::function<std::string()> render_metrics, std::function<HealthReport()> health)
      : render_metrics_(std::move(render_metrics)), health_(std::move(health)) {}
  static void OnRequest(evhttp_request* request, void* server);
  void Handle(evhttp_request* request);
  void HandleMetrics(evhttp_request* request);
  void HandleHealth(evhttp_request* request);
  void HandleSchema(evhttp_request* request);

  std::function<std::string()> render_metrics_;
  std::function<HealthReport()> health_;
  std::optional<std::string> schema_;
  std::string no_schema_;  // /schema's 404 line when there is no schema_
  evhttp* http_ = nullptr;
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace thriftd

#endif  // THRIFTD_SRC_METRICS_SERVER_H_
