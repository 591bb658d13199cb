// TlsSession: a server session over a non-blocking socket pair, driven
// against an OpenSSL client in the same thread, one step at a time, as the
// connection engine drives it.
#include "workers/tls_session.h"

#include <openssl/ssl.h>
#include <sys/socket.h>

#include <doctest/doctest.h>

#include <cerrno>
#include <memory>
#include <string>

#include "tests/unit/test_util.h"
#include "tests/unit/tls_test_util.h"
#include "tests/unit/worker_fixture.h"

namespace thriftd {
namespace {

using thriftd_test::MakeSelfSigned;
using thriftd_test::MakeSocketPair;
using thriftd_test::SocketPair;
using thriftd_test::TempDir;

// The client end: an OpenSSL client on the other socket, with a certificate
// of its own when given one.
class Client {
 public:
  Client(int fd, const thriftd_test::TestCertificate* certificate) {
    context_ = SSL_CTX_new(TLS_client_method());
    if (certificate != nullptr) {
      REQUIRE(SSL_CTX_use_certificate_file(context_, certificate->cert.c_str(), SSL_FILETYPE_PEM) ==
              1);
      REQUIRE(SSL_CTX_use_PrivateKey_file(context_, certificate->key.c_str(), SSL_FILETYPE_PEM) ==
              1);
    }
    ssl_ = SSL_new(context_);
    SSL_set_fd(ssl_, fd);
    SSL_set_connect_state(ssl_);
  }
  ~Client() {
    SSL_free(ssl_);
    SSL_CTX_free(context_);
  }
  SSL* ssl() { return ssl_; }

 private:
  SSL_CTX* context_;
  SSL* ssl_;
};

std::unique_ptr<TlsContext> ServerContext(const TempDir& dir, TlsOptions::ClientCert cert_reqs,
                                          const std::string& ca = "") {
  auto server = MakeSelfSigned(dir, "server", "localhost");
  TlsOptions options;
  options.certfile = server.cert;
  options.keyfile = server.key;
  options.cert_reqs = cert_reqs;
  options.ca_certs = ca;
  std::unique_ptr<TlsContext> context;
  std::string setting;
  REQUIRE(TlsContext::Create(options, &context, &setting).ok());
  return context;
}

// Steps both handshakes until the server's ends; its last step.
TlsSession::Step Handshake(TlsSession& server, SSL* client) {
  for (int i = 0; i < 100; ++i) {
    TlsSession::Step step = server.Handshake();
    if (step != TlsSession::Step::kWouldBlock) {
      (void)SSL_do_handshake(client);  // takes the server's last flight
      return step;
    }
    (void)SSL_do_handshake(client);
  }
  FAIL("the handshake did not end");
  return TlsSession::Step::kFailed;
}

// A server session that asks for no client certificate and its client, over
// a fresh socket pair, before the handshake: the tests that move bytes.
struct PlainSession {
  PlainSession()
      : context(ServerContext(dir, TlsOptions::ClientCert::kNone)),
        client(pair.client.get(), nullptr) {
    REQUIRE(TlsSession::Create(*context, pair.server.get(), &server).ok());
  }
  TempDir dir;
  std::unique_ptr<TlsContext> context;
  SocketPair pair = MakeSocketPair();
  Client client;
  std::unique_ptr<TlsSession> server;
};

TEST_CASE_FIXTURE(
    PlainSession,
    "bytes each way after a non-blocking handshake, and close_notify as end of file") {
  char buffer[64];
  // Nothing has come: the server waits to read, as recv's EAGAIN.
  CHECK(server->Handshake() == TlsSession::Step::kWouldBlock);
  CHECK(server->wants_read());
  REQUIRE(Handshake(*server, client.ssl()) == TlsSession::Step::kDone);
  CHECK(server->established());
  CHECK(server->PeerSubject().empty());
  CHECK(server->Read(buffer, sizeof buffer) == -1);
  CHECK(errno == EAGAIN);

  REQUIRE(SSL_write(client.ssl(), "ping", 4) == 4);
  CHECK(server->Read(buffer, sizeof buffer) == 4);
  CHECK(std::string(buffer, 4) == "ping");
  CHECK(server->Write("pong", 4) == 4);
  int n = SSL_read(client.ssl(), buffer, sizeof buffer);
  CHECK(std::string(buffer, n > 0 ? n : 0) == "pong");

  (void)SSL_shutdown(client.ssl());
  CHECK(server->Read(buffer, sizeof buffer) == 0);
}

TEST_CASE_FIXTURE(PlainSession,
                  "drained: nothing in OpenSSL, and its last socket read emptied the socket") {
  REQUIRE(Handshake(*server, client.ssl()) == TlsSession::Step::kDone);
  char buffer[65536];
  // One record: read whole, and the socket read that brought it was short.
  REQUIRE(SSL_write(client.ssl(), "ping", 4) == 4);
  CHECK(server->Read(buffer, sizeof buffer) == 4);
  CHECK(server->drained());
  // Two records, read ahead in one socket read: the second waits inside
  // OpenSSL, where no poller sees it.
  REQUIRE(SSL_write(client.ssl(), "one", 3) == 3);
  REQUIRE(SSL_write(client.ssl(), "two", 3) == 3);
  CHECK(server->Read(buffer, sizeof buffer) == 3);
  CHECK_FALSE(server->drained());
  CHECK(server->Read(buffer, sizeof buffer) == 3);
  CHECK(std::string(buffer, 3) == "two");
  CHECK(server->drained());
  // More than OpenSSL's buffer takes at once: a socket read that fills it
  // may have left more in the socket, though each record reads short.
  std::string sent(48 * 1024, 'x');
  REQUIRE(SSL_write(client.ssl(), sent.data(), static_cast<int>(sent.size())) ==
          static_cast<int>(sent.size()));
  ssize_t first = server->Read(buffer, sizeof buffer);
  REQUIRE(first > 0);
  CHECK(static_cast<std::size_t>(first) < sent.size());
  CHECK_FALSE(server->drained());
  std::size_t received = static_cast<std::size_t>(first);
  for (int reads = 0; received < sent.size() && reads < 100; ++reads) {
    ssize_t n = server->Read(buffer, sizeof buffer);
    REQUIRE(n > 0);
    received += static_cast<std::size_t>(n);
  }
  CHECK(received == sent.size());
  CHECK(server->drained());
  // Drained, a read finds nothing: the poller's turn.
  CHECK(server->Read(buffer, sizeof buffer) == -1);
  CHECK(errno == EAGAIN);
}

TEST_CASE_FIXTURE(PlainSession,
                  "a write larger than the socket takes goes on later from a moved buffer") {
  REQUIRE(Handshake(*server, client.ssl()) == TlsSession::Step::kDone);

  std::string sent(4 * 1024 * 1024, '\0');
  for (std::size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<char>(i * 7 + i / 4096);
  std::string pending = sent;  // what the connection still holds, as its output buffer
  std::string received;
  bool blocked = false;
  char buffer[65536];
  // Each round moves a socket buffer's worth or more: 4 MiB takes a few dozen.
  // A round that moves nothing would loop for ever; fail instead.
  constexpr int kMaxRounds = 10000;
  for (int round = 0; received.size() < sent.size(); ++round) {
    if (round == kMaxRounds) {
      FAIL("the client had " << received.size() << " of " << sent.size() << " bytes after "
                             << kMaxRounds << " rounds");
    }
    // As a connection's turn: send until the socket is full...
    while (!pending.empty()) {
      ssize_t n = server->Write(pending.data(), pending.size());
      if (n <= 0) {
        REQUIRE(errno == EAGAIN);
        CHECK_FALSE(server->wants_read());
        blocked = true;
        // The retry comes from elsewhere: the buffer may have moved meanwhile.
        pending = std::string(pending.data(), pending.size());
        break;
      }
      // Consumed from the front: the rest moves, as ByteBuffer's data does.
      pending = pending.substr(static_cast<std::size_t>(n));
    }
    // ...then the client reads what came.
    for (int n; (n = SSL_read(client.ssl(), buffer, sizeof buffer)) > 0;)
      received.append(buffer, static_cast<std::size_t>(n));
  }
  CHECK(blocked);  // the socket did fill up
  CHECK(received == sent);
}

TEST_CASE("mutual TLS: the client's subject, or a refusal without a certificate") {
  TempDir dir;
  auto alice = MakeSelfSigned(dir, "alice", "alice");
  auto context = ServerContext(dir, TlsOptions::ClientCert::kRequired, alice.cert);

  SUBCASE("with the certificate") {
    SocketPair pair = MakeSocketPair();
    std::unique_ptr<TlsSession> server;
    REQUIRE(TlsSession::Create(*context, pair.server.get(), &server).ok());
    Client client(pair.client.get(), &alice);
    REQUIRE(Handshake(*server, client.ssl()) == TlsSession::Step::kDone);
    CHECK(server->PeerSubject() == "CN=alice");
  }
  SUBCASE("without one") {
    SocketPair pair = MakeSocketPair();
    std::unique_ptr<TlsSession> server;
    REQUIRE(TlsSession::Create(*context, pair.server.get(), &server).ok());
    Client client(pair.client.get(), nullptr);
    CHECK(Handshake(*server, client.ssl()) == TlsSession::Step::kFailed);
    CHECK(server->error().find("peer did not return a certificate") != std::string::npos);
  }
}

}  // namespace
}  // namespace thriftd
