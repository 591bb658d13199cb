// The metrics/health HTTP endpoint, with real sockets and a real event loop.
#include "src/metrics_server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <doctest/doctest.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "src/base/unique_fd.h"

namespace thriftd {
namespace {

struct Response {
  int status = 0;
  std::string head;  ///< status line and headers
  std::string body;
};

/// A server on 127.0.0.1:0 with its own loop, serving `metrics_text` and
/// `healthy`.
class ServerFixture {
 public:
  ServerFixture() : base_(event_base_new()) {
    REQUIRE(base_ != nullptr);
    Status status = MetricsServer::Start(
        base_, "127.0.0.1", 0, [this] { return Render(); },
        [this] {
          return HealthReport{healthy, healthy ? "{\"status\": \"ok\"}\n" : "{}\n"};
        },
        &server);
    REQUIRE_MESSAGE(status.ok(), status.message());
  }
  ~ServerFixture() {
    server.reset();  // before the loop it runs on
    event_base_free(base_);
  }

  /// Sends `request` and runs the loop until the server closes the connection.
  Response Send(const std::string& request) {
    UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd.valid());
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(server->port()));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // The kernel completes the handshake from the backlog; the loop need not run.
    REQUIRE(connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(write(fd.get(), request.data(), request.size()) ==
            static_cast<ssize_t>(request.size()));
    fcntl(fd.get(), F_SETFL, O_NONBLOCK);

    std::string raw;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      RunOnce();
      char chunk[4096];
      ssize_t n = read(fd.get(), chunk, sizeof chunk);
      if (n == 0) break;
      if (n > 0) {
        raw.append(chunk, static_cast<size_t>(n));
      } else {
        REQUIRE(errno == EAGAIN);
        usleep(1000);
      }
    }
    Response response;
    size_t end = raw.find("\r\n\r\n");
    REQUIRE(end != std::string::npos);
    response.head = raw.substr(0, end + 2);
    response.body = raw.substr(end + 4);
    response.status = std::atoi(raw.substr(raw.find(' ') + 1, 3).c_str());
    return response;
  }

  void RunOnce() { event_base_loop(base_, EVLOOP_NONBLOCK); }

  std::string Render() {
    if (throw_on_render) throw std::runtime_error("no memory");
    return metrics_text;
  }

  std::unique_ptr<MetricsServer> server;
  std::string metrics_text = "thriftd_connections 3\n";
  bool healthy = true;
  bool throw_on_render = false;

 private:
  event_base* base_;
};

bool HasHeader(const Response& response, const std::string& line) {
  return response.head.find("\r\n" + line + "\r\n") != std::string::npos;
}

bool IsCloseOnExec(int fd) { return (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0; }

// This process's sockets whose local port is `port`: the listening socket
// and the connections accepted on it.
std::vector<int> SocketsOnPort(int port) {
  std::vector<int> fds;
  DIR* dir = opendir("/proc/self/fd");
  REQUIRE(dir != nullptr);
  while (dirent* entry = readdir(dir)) {
    int fd = std::atoi(entry->d_name);
    if (entry->d_name[0] == '.' || fd == dirfd(dir)) continue;
    sockaddr_in local{};
    socklen_t length = sizeof local;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0 &&
        local.sin_family == AF_INET && ntohs(local.sin_port) == port) {
      fds.push_back(fd);
    }
  }
  closedir(dir);
  return fds;
}

TEST_CASE("GET /metrics answers 200 with the exposition format's content type and the body") {
  ServerFixture fixture;
  CHECK(fixture.server->port() > 0);
  Response response = fixture.Send("GET /metrics HTTP/1.0\r\n\r\n");
  CHECK(response.status == 200);
  CHECK(HasHeader(response, "Content-Type: text/plain; version=0.0.4; charset=utf-8"));
  CHECK(response.body == "thriftd_connections 3\n");

  fixture.metrics_text = "thriftd_connections 4\n";  // rendered for each scrape
  CHECK(fixture.Send("GET /metrics?x=1 HTTP/1.0\r\n\r\n").body == "thriftd_connections 4\n");
}

TEST_CASE("GET /healthz answers 200 while healthy and 503 when not") {
  ServerFixture fixture;
  Response ok = fixture.Send("GET /healthz HTTP/1.0\r\n\r\n");
  CHECK(ok.status == 200);
  CHECK(ok.body == "{\"status\": \"ok\"}\n");
  CHECK(HasHeader(ok, "Content-Type: application/json"));
  fixture.healthy = false;
  Response down = fixture.Send("GET /healthz HTTP/1.0\r\n\r\n");
  CHECK(down.status == 503);
  CHECK(down.body == "{}\n");
}

TEST_CASE("other paths are 404 and other methods 405") {
  ServerFixture fixture;
  CHECK(fixture.Send("GET / HTTP/1.0\r\n\r\n").status == 404);
  CHECK(fixture.Send("GET /metricsx HTTP/1.0\r\n\r\n").status == 404);
  // The path first: an unknown one is 404 whatever the method.
  CHECK(fixture.Send("DELETE /nope HTTP/1.0\r\n\r\n").status == 404);
  Response post = fixture.Send("POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
  CHECK(post.status == 405);
  CHECK(HasHeader(post, "Allow: GET, HEAD"));
  CHECK(fixture.Send("DELETE /healthz HTTP/1.0\r\n\r\n").status == 405);
  CHECK(fixture.Send("PATCH /metrics HTTP/1.0\r\n\r\n").status == 405);
}

TEST_CASE("HEAD answers as GET would, with the length and no body") {
  // A load balancer's check, or curl -I.
  ServerFixture fixture;
  Response head = fixture.Send("HEAD /metrics HTTP/1.0\r\n\r\n");
  CHECK(head.status == 200);
  CHECK(HasHeader(head, "Content-Length: 22"));  // "thriftd_connections 3\n"
  CHECK(head.body.empty());
  Response health = fixture.Send("HEAD /healthz HTTP/1.0\r\n\r\n");
  CHECK(health.status == 200);
  CHECK(health.body.empty());
}

TEST_CASE("/schema serves the App's schema as JSON, or a 404 naming the App without one") {
  ServerFixture fixture;
  fixture.server->SetSchema(std::nullopt, "/srv/libkv.so");
  Response none = fixture.Send("GET /schema HTTP/1.0\r\n\r\n");
  CHECK(none.status == 404);
  CHECK(none.body ==
        "the App /srv/libkv.so embeds no schema (THRIFTD_SCHEMA, include/thriftd/schema.h)\n");
  fixture.server->SetSchema(std::string(R"({"thriftdSchema":1,"programs":[]})"), "/srv/libkv.so");
  Response schema = fixture.Send("GET /schema HTTP/1.0\r\n\r\n");
  CHECK(schema.status == 200);
  CHECK(HasHeader(schema, "Content-Type: application/json"));
  CHECK(schema.body == R"({"thriftdSchema":1,"programs":[]})");
  Response head = fixture.Send("HEAD /schema HTTP/1.0\r\n\r\n");
  CHECK(head.status == 200);
  CHECK(HasHeader(head, "Content-Length: 33"));
  CHECK(head.body.empty());
  Response post = fixture.Send("POST /schema HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
  CHECK(post.status == 405);
  CHECK(HasHeader(post, "Allow: GET, HEAD"));
}

TEST_CASE("/schema's 404 says why when the App's schema cannot be read, not that it has none") {
  ServerFixture fixture;
  fixture.server->SetSchemaError(
      "/srv/libkv.so: section .thriftd_schema: not a Thrift JSON schema");
  Response broken = fixture.Send("GET /schema HTTP/1.0\r\n\r\n");
  CHECK(broken.status == 404);
  CHECK(broken.body ==
        "cannot serve the App's schema: /srv/libkv.so: section .thriftd_schema: not a Thrift JSON "
        "schema\n");
  CHECK(fixture.Send("POST /schema HTTP/1.0\r\n\r\n").status == 405);
  // A schema read again (HUP) is served again.
  fixture.server->SetSchema(std::string("{}"), "/srv/libkv.so");
  CHECK(fixture.Send("GET /schema HTTP/1.0\r\n\r\n").status == 200);
}

TEST_CASE("a failing render answers 500 and the server keeps serving") {
  ServerFixture fixture;
  fixture.throw_on_render = true;
  CHECK(fixture.Send("GET /metrics HTTP/1.0\r\n\r\n").status == 500);
  fixture.throw_on_render = false;
  CHECK(fixture.Send("GET /metrics HTTP/1.0\r\n\r\n").status == 200);
}

TEST_CASE("the listening and accepted sockets are close-on-exec") {
  ServerFixture fixture;
  int port = fixture.server->port();
  std::vector<int> listening = SocketsOnPort(port);
  REQUIRE(listening.size() == 1);
  CHECK(IsCloseOnExec(listening[0]));

  UniqueFd client(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(client.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  std::vector<int> sockets;
  for (int i = 0; i < 1000 && sockets.size() < 2; ++i) {
    fixture.RunOnce();
    sockets = SocketsOnPort(port);
    usleep(1000);
  }
  REQUIRE(sockets.size() == 2);  // the listening socket and the accepted connection
  for (int fd : sockets) CHECK(IsCloseOnExec(fd));
}

TEST_CASE("a port in use is an error naming the address") {
  ServerFixture first;
  int port = first.server->port();
  event_base* base = event_base_new();
  std::unique_ptr<MetricsServer> second;
  Status status = MetricsServer::Start(
      base, "127.0.0.1", port, [] { return std::string(); }, [] { return HealthReport{}; },
      &second);
  CHECK_FALSE(status.ok());
  CHECK(status.message() ==
        "cannot listen on 127.0.0.1:" + std::to_string(port) + ": bind: Address already in use");
  CHECK(second == nullptr);
  event_base_free(base);
}

}  // namespace
}  // namespace thriftd
