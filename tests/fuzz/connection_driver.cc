#include "tests/fuzz/connection_driver.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include <thrift/TProcessor.h>

#include "PingPong.h"
#include "src/base/log.h"
#include "src/base/unique_fd.h"
#include "src/base/worker_settings.h"
#include "tests/fuzz/allocation_limit.h"
#include "workers/connection.h"

namespace thriftd_fuzz {
namespace {

// The configured limits (thrift_max_frame_size, thrift_max_message_size):
// small, so that lengths near them are within the fuzzer's reach, and
// larger than the 16 KiB block every connection reads into. Fuzz inputs are
// smaller (run.sh's -max_len), so no allocation the connection makes for
// bytes that really came can reach the bound: an allocation over it was
// made for a length the client only claimed.
constexpr std::int64_t kMaxMessage = 64 * 1024;
// A frame's length prefix and the header transport's fixed header come on
// top of the message they carry.
constexpr std::size_t kFramingSlack = 64;
constexpr std::size_t kAllocationBound = kMaxMessage + kFramingSlack;

// A connection that still is not closed after this many turns once the
// client has sent everything and shut its side never will be: a hang.
constexpr int kMaxTurnsAfterEnd = 1000;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "connection_driver: %s (errno %d: %s)\n", what, errno, std::strerror(errno));
  std::abort();
}

class Handler final : public pingpong::PingPongIf {
 public:
  void ping(std::string& reply) override { reply = "pong"; }
  std::int32_t add(std::int32_t a, std::int32_t b) override {
    return static_cast<std::int32_t>(static_cast<std::uint32_t>(a) + static_cast<std::uint32_t>(b));
  }
  void echo(std::string& reply, const std::string& data) override { reply = data; }
  void sleep(std::int32_t) override {}  // a fuzz run waits for nobody
};

class Host final : public thriftd::ConnectionHost {
 public:
  explicit Host(thriftd::WorkerSettings settings) : settings_(std::move(settings)) {}
  const thriftd::WorkerSettings& settings() const override { return settings_; }
  void OnCallStart(const char*, std::int64_t) override {}
  void RecordCall(const char*, thriftd::CallRecord&, const thriftd::Connection&,
                  std::int64_t) override {}

 private:
  thriftd::WorkerSettings settings_;
};

// Reads and drops what the connection answered, so that it never waits
// for a client that does not read (that path has tests of its own).
void Drain(int fd) {
  char sink[16384];
  for (;;) {
    ssize_t n = recv(fd, sink, sizeof sink, MSG_DONTWAIT);
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNRESET) Fail("recv");
    return;
  }
}

bool QuietLogs() {
  // Every bad input closes its connection with a warning: a line per input.
  if (!thriftd::log::Configure("/dev/null", thriftd::LogLevel::kCritical).ok()) Fail("log");
  thriftd::log::CaptureThriftOutput();
  return true;
}

}  // namespace

void DriveConnection(const char* transport, const std::uint8_t* data, std::size_t size) {
  static const bool quiet = QuietLogs();
  (void)quiet;
  if (size == 0) return;
  // The header protocol runs over the header and the framed transports.
  const bool header =
      std::strcmp(transport, "header") == 0 || std::strcmp(transport, "framed") == 0;
  static const char* const kProtocols[] = {"binary", "compact", "json", "header"};
  const int protocols = header ? 4 : 3;
  static const std::size_t kPieces[] = {0, 1, 3, 61};  // 0: all at once
  const std::size_t piece = kPieces[(data[0] / protocols) % 4];

  thriftd::WorkerSettings settings;
  thriftd::ServedListener listener;
  listener.settings.thrift_transport_factory = transport;
  listener.settings.thrift_protocol_factory = kProtocols[data[0] % protocols];
  listener.service.factory = std::make_shared<apache::thrift::TSingletonProcessorFactory>(
      std::make_shared<pingpong::PingPongProcessor>(std::make_shared<Handler>()));
  settings.thrift_max_frame_size = kMaxMessage;
  settings.thrift_max_message_size = kMaxMessage;
  ++data;
  --size;

  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0)
    Fail("socketpair");
  thriftd::UniqueFd client(fds[0]);
  Host host(settings);
  AllocationLimit limit(kAllocationBound);
  thriftd::Connection connection(thriftd::UniqueFd(fds[1]), host, listener);

  using Phase = thriftd::Connection::Phase;
  Phase phase = Phase::kIdle;
  std::size_t sent = 0;
  while (sent < size && phase != Phase::kClosed) {
    std::size_t length = piece == 0 ? size - sent : std::min(piece, size - sent);
    ssize_t n = send(client.get(), data + sent, length, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EPIPE && errno != ECONNRESET) Fail("send");
    if (n < 0 && errno != EAGAIN) break;  // the connection closed itself
    if (n > 0) sent += static_cast<std::size_t>(n);
    bool progressed = false;
    phase = connection.RunTurn(&progressed);
    Drain(client.get());
  }
  if (shutdown(client.get(), SHUT_WR) != 0 && errno != ENOTCONN) Fail("shutdown");
  connection.OnPeerHangUp();
  for (int turn = 0; phase != Phase::kClosed; ++turn) {
    if (turn == kMaxTurnsAfterEnd) Fail("the connection did not close after the client's end");
    bool progressed = false;
    phase = connection.RunTurn(&progressed);
    Drain(client.get());
  }
}

}  // namespace thriftd_fuzz
