#include "src/metrics_server.h"

#include <event2/buffer.h>
#include <event2/http.h>

#include <exception>
#include <string_view>

#include "src/base/bind_address.h"
#include "src/base/log.h"
#include "src/listener.h"

namespace thriftd {
namespace {

constexpr char kMetricsType[] = "text/plain; version=0.0.4; charset=utf-8";
constexpr char kTextType[] = "text/plain; charset=utf-8";
constexpr char kJsonType[] = "application/json";
constexpr int kBacklog = 64;
constexpr int kTimeoutSeconds = 10;  // a stalled scraper does not hold a connection for long

Status Failed(const std::string& where, const char* why) {
  return Status::Error("cannot serve metrics on " + where + ": " + why);
}

void Reply(evhttp_request* request, int code, const char* reason, const char* content_type,
           const std::string& body) {
  evkeyvalq* headers = evhttp_request_get_output_headers(request);
  evhttp_add_header(headers, "Content-Type", content_type);
  // HEAD (a load balancer's check, curl -I): the headers a GET gets, with
  // its length, and no body (evhttp would send the one it is given).
  bool head = evhttp_request_get_command(request) == EVHTTP_REQ_HEAD;
  if (head) evhttp_add_header(headers, "Content-Length", std::to_string(body.size()).c_str());
  std::unique_ptr<evbuffer, decltype(&evbuffer_free)> buffer(evbuffer_new(), &evbuffer_free);
  if (!buffer || (!head && evbuffer_add(buffer.get(), body.data(), body.size()) != 0)) {
    evhttp_send_error(request, HTTP_INTERNAL, nullptr);
    return;
  }
  evhttp_send_reply(request, code, reason, buffer.get());
}

}  // namespace

Status MetricsServer::Start(event_base* base, const std::string& host, int port,
                            std::function<std::string()> render_metrics,
                            std::function<HealthReport()> health,
                            std::unique_ptr<MetricsServer>* out) {
  BindAddress address;
  address.host = host;
  address.port = port;
  // The same listening socket as the Thrift listeners' (not
  // evhttp_bind_socket()): errors name the failing call, and it is
  // close-on-exec from the start.
  Listener listener;
  Status status = OpenListener(address, kBacklog, &listener);
  if (!status.ok()) return status;
  return Serve(base, std::move(listener), std::move(render_metrics), std::move(health), out);
}

Status MetricsServer::Serve(event_base* base, Listener listener,
                            std::function<std::string()> render_metrics,
                            std::function<HealthReport()> health,
                            std::unique_ptr<MetricsServer>* out) {
  const std::string where = listener.display;

  std::unique_ptr<MetricsServer> server(
      new MetricsServer(std::move(render_metrics), std::move(health)));
  server->http_ = evhttp_new(base);
  if (server->http_ == nullptr) return Failed(where, "evhttp_new failed");
  // Every method reaches Handle(), which answers 405; evhttp's own refusal is a 501.
  evhttp_set_allowed_methods(server->http_, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                                EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                                EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                                                EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
  evhttp_set_timeout(server->http_, kTimeoutSeconds);
  evhttp_set_gencb(server->http_, &MetricsServer::OnRequest, server.get());
  // Accepted connections are close-on-exec too (LEV_OPT_CLOSE_ON_EXEC).
  if (evhttp_accept_socket_with_handle(server->http_, listener.fd.get()) == nullptr)
    return Failed(where, "cannot accept connections");
  server->fd_ = listener.fd.Release();  // evhttp owns it now
  server->port_ = listener.port;
  *out = std::move(server);
  return Status::Ok();
}

MetricsServer::~MetricsServer() {
  if (http_ != nullptr) evhttp_free(http_);
}

void MetricsServer::OnRequest(evhttp_request* request, void* server) {
  static_cast<MetricsServer*>(server)->Handle(request);
}

// Every route has the same method rule, checked once here: an unknown
// path is 404 whatever the method, a known one 405 for other than GET/HEAD.
void MetricsServer::Handle(evhttp_request* request) {
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(request);
  const char* path = uri != nullptr ? evhttp_uri_get_path(uri) : nullptr;
  std::string_view route = path != nullptr ? path : "";
  if (route != "/metrics" && route != "/healthz" && route != "/schema") {
    Reply(request, HTTP_NOTFOUND, "Not Found", kTextType, "not found\n");
    return;
  }
  evhttp_cmd_type method = evhttp_request_get_command(request);
  if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
    evhttp_add_header(evhttp_request_get_output_headers(request), "Allow", "GET, HEAD");
    Reply(request, HTTP_BADMETHOD, "Method Not Allowed", kTextType, "method not allowed\n");
    return;
  }
  if (route == "/healthz") {
    HandleHealth(request);
  } else if (route == "/schema") {
    HandleSchema(request);
  } else {
    HandleMetrics(request);
  }
}

void MetricsServer::HandleHealth(evhttp_request* request) {
  HealthReport report = health_();
  if (report.serving) {
    Reply(request, HTTP_OK, "OK", kJsonType, report.body);
  } else {
    Reply(request, HTTP_SERVUNAVAIL, "Service Unavailable", kJsonType, report.body);
  }
}

void MetricsServer::HandleMetrics(evhttp_request* request) {
  // An exception must not unwind through libevent's C frames into the loop.
  std::string body;
  try {
    body = render_metrics_();
  } catch (const std::exception& e) {
    THRIFTD_LOG(kError) << "cannot render metrics: " << e.what();
    Reply(request, HTTP_INTERNAL, "Internal Server Error", kTextType, "internal error\n");
    return;
  }
  Reply(request, HTTP_OK, "OK", kMetricsType, body);
}

// A 404 that says why: the App embeds none, or its schema cannot be read.
void MetricsServer::HandleSchema(evhttp_request* request) {
  if (!schema_) {
    Reply(request, HTTP_NOTFOUND, "Not Found", kTextType, no_schema_ + "\n");
    return;
  }
  Reply(request, HTTP_OK, "OK", kJsonType, *schema_);
}

}  // namespace thriftd
