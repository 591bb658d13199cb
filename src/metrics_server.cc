#include "src/metrics_server.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <string_view>

#include "src/bind_address.h"
#include "src/log.h"
#include "src/unique_fd.h"

namespace thriftd {
namespace {

constexpr char kMetricsType[] = "text/plain; version=0.0.4; charset=utf-8";
constexpr char kTextType[] = "text/plain; charset=utf-8";
constexpr int kBacklog = 64;
constexpr int kTimeoutSeconds = 10;  // a stalled scraper does not hold a connection for long

Status Failed(const std::string& where, const char* why) {
  return Status::Error("cannot serve metrics on " + where + ": " + why);
}

// Our own socket rather than evhttp_bind_socket(): it reports errno exactly
// and is close-on-exec from the start.
Status Listen(const std::string& host, int port, const std::string& where, UniqueFd* out) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), std::to_string(port).c_str(), &hints,
                       &found);
  if (rc != 0) return Failed(where, gai_strerror(rc));
  // An empty host means all IPv4 interfaces, as for the Thrift listeners.
  addrinfo* chosen = found;
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    if (host.empty() && ai->ai_family == AF_INET) chosen = ai;
  }
  UniqueFd fd(socket(chosen->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  int err = errno;
  if (fd.valid()) {
    int one = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (chosen->ai_family == AF_INET6) {
      setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    }
    if (bind(fd.get(), chosen->ai_addr, chosen->ai_addrlen) < 0 || listen(fd.get(), kBacklog) < 0) {
      err = errno;
      fd.Reset();
    }
  }
  freeaddrinfo(found);
  if (!fd.valid()) return Failed(where, std::strerror(err));
  *out = std::move(fd);
  return Status::Ok();
}

void Reply(evhttp_request* request, int code, const char* reason, const char* content_type,
           const std::string& body) {
  evhttp_add_header(evhttp_request_get_output_headers(request), "Content-Type", content_type);
  std::unique_ptr<evbuffer, decltype(&evbuffer_free)> buffer(evbuffer_new(), &evbuffer_free);
  if (!buffer || evbuffer_add(buffer.get(), body.data(), body.size()) != 0) {
    evhttp_send_error(request, HTTP_INTERNAL, nullptr);
    return;
  }
  evhttp_send_reply(request, code, reason, buffer.get());
}

}  // namespace

Status MetricsServer::Start(event_base* base, const std::string& host, int port,
                            std::function<std::string()> render_metrics,
                            std::function<bool()> healthy, std::unique_ptr<MetricsServer>* out) {
  BindAddress address;
  address.host = host;
  address.port = port;
  const std::string where = address.ToString();
  UniqueFd fd;
  Status status = Listen(host, port, where, &fd);
  if (!status.ok()) return status;

  std::unique_ptr<MetricsServer> server(
      new MetricsServer(std::move(render_metrics), std::move(healthy)));
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
  evhttp_bound_socket* bound = evhttp_accept_socket_with_handle(server->http_, fd.get());
  if (bound == nullptr) return Failed(where, "cannot accept connections");
  fd.Release();  // evhttp owns it now

  sockaddr_storage local{};
  socklen_t length = sizeof local;
  if (getsockname(evhttp_bound_socket_get_fd(bound), reinterpret_cast<sockaddr*>(&local), &length) <
      0) {
    return Failed(where, std::strerror(errno));
  }
  server->port_ =
      ntohs(local.ss_family == AF_INET6 ? reinterpret_cast<const sockaddr_in6*>(&local)->sin6_port
                                        : reinterpret_cast<const sockaddr_in*>(&local)->sin_port);
  *out = std::move(server);
  return Status::Ok();
}

MetricsServer::~MetricsServer() {
  if (http_ != nullptr) evhttp_free(http_);
}

void MetricsServer::OnRequest(evhttp_request* request, void* server) {
  static_cast<MetricsServer*>(server)->Handle(request);
}

void MetricsServer::Handle(evhttp_request* request) {
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(request);
  const char* path = uri != nullptr ? evhttp_uri_get_path(uri) : nullptr;
  std::string_view route = path != nullptr ? path : "";
  if (route != "/metrics" && route != "/healthz") {
    Reply(request, HTTP_NOTFOUND, "Not Found", kTextType, "not found\n");
    return;
  }
  // Not even HEAD: evhttp would send the body with the headers.
  if (evhttp_request_get_command(request) != EVHTTP_REQ_GET) {
    evhttp_add_header(evhttp_request_get_output_headers(request), "Allow", "GET");
    Reply(request, HTTP_BADMETHOD, "Method Not Allowed", kTextType, "method not allowed\n");
    return;
  }
  if (route == "/healthz") {
    if (healthy_()) {
      Reply(request, HTTP_OK, "OK", kTextType, "ok\n");
    } else {
      Reply(request, HTTP_SERVUNAVAIL, "Service Unavailable", kTextType, "unavailable\n");
    }
    return;
  }
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

}  // namespace thriftd
