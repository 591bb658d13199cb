// What the worker layer's tests share: a fake worker context (a real
// WorkerRuntime over a private scoreboard, a stop signal with no signal
// handlers, and a channel whose master end the test holds), the PingPong
// service with a test handler, client connections as socketpairs, and
// encoding calls and decoding replies with Apache Thrift's own protocols.
#ifndef THRIFTD_TESTS_UNIT_WORKER_FIXTURE_H_
#define THRIFTD_TESTS_UNIT_WORKER_FIXTURE_H_

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <thrift/TApplicationException.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TCompactProtocol.h>
#include <thrift/protocol/THeaderProtocol.h>
#include <thrift/protocol/TJSONProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/THeaderTransport.h>

#include "PingPong.h"
#include "src/base/channel.h"
#include "src/base/log.h"
#include "src/base/scoreboard.h"
#include "src/base/unique_fd.h"
#include "src/base/worker_settings.h"
#include "tests/unit/test_util.h"
#include "thriftd/app.h"
#include "workers/connection_engine.h"
#include "workers/fiber_scheduler.h"
#include "workers/stop_signal.h"
#include "workers/worker_runtime.h"

namespace thriftd_test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

/// Polls `done` every millisecond until it holds or `timeout` passes;
/// returns whether it held.
template <typename Predicate>
bool WaitFor(Predicate done, std::chrono::milliseconds timeout = 5s) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
}

/// How many times slower the code runs under a sanitizer, for the few
/// bounds on elapsed time (GCC's macros; clang's __has_feature).
#if defined(__SANITIZE_THREAD__)
inline constexpr int kSanitizerSlowdown = 10;
#elif defined(__SANITIZE_ADDRESS__)
inline constexpr int kSanitizerSlowdown = 3;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr int kSanitizerSlowdown = 10;
#elif __has_feature(address_sanitizer)
inline constexpr int kSanitizerSlowdown = 3;
#else
inline constexpr int kSanitizerSlowdown = 1;
#endif
#else
inline constexpr int kSanitizerSlowdown = 1;
#endif

inline std::int64_t MillisSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// --- the wire: encoding calls, decoding replies -------------------------------------

/// A transport and protocol pair, named as thrift_transport_factory and
/// thrift_protocol_factory name them.
struct Wire {
  std::string transport = "buffered";
  std::string protocol = "binary";
  std::string Name() const { return transport + "/" + protocol; }
};

inline std::vector<Wire> AllWires() {
  std::vector<Wire> wires;
  for (const char* transport : {"buffered", "framed", "header"}) {
    for (const char* protocol : {"binary", "compact", "json"})
      wires.push_back({transport, protocol});
  }
  wires.push_back({"header", "header"});
  wires.push_back({"framed", "header"});
  return wires;
}

/// A client's protocol stack over memory, as Apache Thrift's clients build it.
struct ClientStack {
  std::shared_ptr<apache::thrift::transport::TMemoryBuffer> memory;
  std::shared_ptr<apache::thrift::transport::TTransport> transport;  // what is flushed
  std::shared_ptr<apache::thrift::protocol::TProtocol> protocol;
};

inline ClientStack MakeClientStack(const Wire& wire, std::string_view bytes = {}) {
  using namespace apache::thrift::protocol;
  using namespace apache::thrift::transport;
  ClientStack stack;
  stack.memory = bytes.empty() ? std::make_shared<TMemoryBuffer>()
                               : std::make_shared<TMemoryBuffer>(
                                     reinterpret_cast<uint8_t*>(const_cast<char*>(bytes.data())),
                                     static_cast<uint32_t>(bytes.size()), TMemoryBuffer::COPY);
  if (wire.protocol == "header") {
    // Over the framed transport, as Apache Thrift's cross-test clients do:
    // each header frame inside a framed frame.
    std::shared_ptr<TTransport> below = stack.memory;
    if (wire.transport == "framed") below = std::make_shared<TFramedTransport>(stack.memory);
    auto protocol = std::make_shared<THeaderProtocol>(below);
    stack.transport = protocol->getTransport();
    stack.protocol = protocol;
    return stack;
  }
  std::shared_ptr<THeaderTransport> header;
  if (wire.transport == "framed") {
    stack.transport = std::make_shared<TFramedTransport>(stack.memory);
  } else if (wire.transport == "header") {
    header = std::make_shared<THeaderTransport>(stack.memory);
    stack.transport = header;
  } else {
    stack.transport = stack.memory;
  }
  if (wire.protocol == "compact") {
    stack.protocol = std::make_shared<TCompactProtocol>(stack.transport);
  } else if (wire.protocol == "json") {
    stack.protocol = std::make_shared<TJSONProtocol>(stack.transport);
  } else {
    stack.protocol = std::make_shared<TBinaryProtocol>(stack.transport);
  }
  if (header && wire.protocol != "json")
    header->setProtocolId(wire.protocol == "compact" ? T_COMPACT_PROTOCOL : T_BINARY_PROTOCOL);
  return stack;
}

/// One message: `name`, `type`, `seqid`, the body written by `body`.
template <typename Body>
std::string EncodeMessage(const Wire& wire, const std::string& name,
                          apache::thrift::protocol::TMessageType type, std::int32_t seqid,
                          const Body& body) {
  ClientStack stack = MakeClientStack(wire);
  stack.protocol->writeMessageBegin(name, type, seqid);
  body.write(stack.protocol.get());
  stack.protocol->writeMessageEnd();
  stack.transport->writeEnd();
  stack.transport->flush();
  return stack.memory->getBufferAsString();
}

inline std::string PingCall(std::int32_t seqid, const Wire& wire = {}) {
  pingpong::PingPong_ping_pargs args;
  return EncodeMessage(wire, "ping", apache::thrift::protocol::T_CALL, seqid, args);
}

inline std::string AddCall(std::int32_t a, std::int32_t b, std::int32_t seqid,
                           const Wire& wire = {}) {
  pingpong::PingPong_add_pargs args;
  args.a = &a;
  args.b = &b;
  return EncodeMessage(wire, "add", apache::thrift::protocol::T_CALL, seqid, args);
}

inline std::string EchoCall(const std::string& data, std::int32_t seqid, const Wire& wire = {}) {
  pingpong::PingPong_echo_pargs args;
  args.data = &data;
  return EncodeMessage(wire, "echo", apache::thrift::protocol::T_CALL, seqid, args);
}

/// notify(): a oneway call, which TestProcessor serves without a reply.
inline std::string NotifyCall(std::int32_t seqid, const Wire& wire = {}) {
  pingpong::PingPong_ping_pargs args;  // no arguments, as ping
  return EncodeMessage(wire, "notify", apache::thrift::protocol::T_ONEWAY, seqid, args);
}

inline std::string SleepCall(std::int32_t ms, std::int32_t seqid, const Wire& wire = {}) {
  pingpong::PingPong_sleep_pargs args;
  args.ms = &ms;
  return EncodeMessage(wire, "sleep", apache::thrift::protocol::T_CALL, seqid, args);
}

/// A decoded reply: the method, the seqid, and the result as text ("pong",
/// "5", the echoed bytes, "" for sleep; "exception: WHAT" for an exception).
struct Reply {
  std::string method;
  std::int32_t seqid = 0;
  std::string value;
  bool operator==(const Reply& other) const {
    return method == other.method && seqid == other.seqid && value == other.value;
  }
};

inline std::ostream& operator<<(std::ostream& out, const Reply& reply) {
  std::string shown = reply.value.size() > 40 ? reply.value.substr(0, 40) + "... (" +
                                                    std::to_string(reply.value.size()) + " bytes)"
                                              : reply.value;
  return out << "{" << reply.method << ", " << reply.seqid << ", \"" << shown << "\"}";
}

/// Decodes `count` replies from the start of `bytes`; false when they have
/// not all arrived (or do not decode). *consumed: the bytes they took.
inline bool DecodeReplies(const Wire& wire, const std::string& bytes, std::size_t count,
                          std::vector<Reply>* replies, std::size_t* consumed = nullptr) {
  using namespace apache::thrift::protocol;
  replies->clear();
  if (bytes.empty()) return count == 0;
  ClientStack stack = MakeClientStack(wire, bytes);
  TProtocol& in = *stack.protocol;
  try {
    while (replies->size() < count) {
      Reply reply;
      TMessageType type;
      in.readMessageBegin(reply.method, type, reply.seqid);
      if (type == T_EXCEPTION) {
        apache::thrift::TApplicationException error;
        error.read(&in);
        reply.value = std::string("exception: ") + error.what();
      } else if (reply.method == "ping") {
        pingpong::PingPong_ping_presult result;
        result.success = &reply.value;
        result.read(&in);
      } else if (reply.method == "echo") {
        pingpong::PingPong_echo_presult result;
        result.success = &reply.value;
        result.read(&in);
      } else if (reply.method == "add") {
        std::int32_t sum = 0;
        pingpong::PingPong_add_presult result;
        result.success = &sum;
        result.read(&in);
        reply.value = std::to_string(sum);
      } else {
        pingpong::PingPong_sleep_presult result;
        result.read(&in);
      }
      in.readMessageEnd();
      stack.transport->readEnd();
      replies->push_back(std::move(reply));
    }
  } catch (const apache::thrift::TException&) {
    return false;
  }
  if (consumed != nullptr) *consumed = bytes.size() - stack.memory->available_read();
  return true;
}

// --- client connections -------------------------------------------------------------

/// A connection as a socketpair, both ends non-blocking: `client` is the
/// test's, `server` goes to the code under test.
struct SocketPair {
  thriftd::UniqueFd client;
  thriftd::UniqueFd server;
};

inline SocketPair MakeSocketPair() {
  int fds[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
  return {thriftd::UniqueFd(fds[0]), thriftd::UniqueFd(fds[1])};
}

/// A TCP connection over loopback, both ends non-blocking. Unlike a
/// socketpair's, its server end hears nothing when the client reads (a unix
/// socket's writer is told of every byte of room the reader frees), as with
/// the clients thriftd serves.
inline SocketPair MakeTcpPair() {
  thriftd::UniqueFd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(listener.valid());
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  REQUIRE(bind(listener.get(), reinterpret_cast<sockaddr*>(&address), length) == 0);
  REQUIRE(listen(listener.get(), 1) == 0);
  REQUIRE(getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length) == 0);
  thriftd::UniqueFd client(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(client.valid());
  REQUIRE(connect(client.get(), reinterpret_cast<sockaddr*>(&address), length) == 0);
  REQUIRE(fcntl(client.get(), F_SETFL, O_NONBLOCK) == 0);
  thriftd::UniqueFd server(accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
  REQUIRE(server.valid());
  return {std::move(client), std::move(server)};
}

/// Sends what the socket takes now; returns how much.
inline std::size_t SendSome(int fd, std::string_view bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  return sent;
}

/// Sends all of `bytes`, waiting for room; false when `timeout` passed first.
inline bool SendAll(int fd, std::string_view bytes, std::chrono::milliseconds timeout = 5s) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    bytes.remove_prefix(SendSome(fd, bytes));
    if (bytes.empty()) return true;
    if (Clock::now() >= deadline) return false;
    pollfd p{fd, POLLOUT, 0};
    poll(&p, 1, 10);
  }
}

/// Appends what has arrived to *into; false once the peer closed (or reset).
inline bool ReceiveSome(int fd, std::string* into) {
  char chunk[65536];
  for (;;) {
    ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n > 0) {
      into->append(chunk, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    return false;
  }
}

/// Reads until `count` replies have arrived whole; false after `timeout`.
/// Bytes past them stay in *pending (when given) for the next call.
inline bool ReadReplies(int fd, const Wire& wire, std::size_t count, std::vector<Reply>* replies,
                        std::chrono::milliseconds timeout = 5s, std::string* pending = nullptr) {
  std::string local;
  std::string& bytes = pending != nullptr ? *pending : local;
  auto deadline = Clock::now() + timeout;
  for (;;) {
    bool open = ReceiveSome(fd, &bytes);
    std::size_t consumed = 0;
    if (DecodeReplies(wire, bytes, count, replies, &consumed)) {
      bytes.erase(0, consumed);
      return true;
    }
    if (!open || Clock::now() >= deadline) {
      MESSAGE("got " << replies->size() << " of " << count << " replies (" << bytes.size()
                     << " bytes)" << (open ? "" : "; the connection closed"));
      return false;
    }
    pollfd p{fd, POLLIN, 0};
    poll(&p, 1, 10);
  }
}

/// Waits for the server to close the connection, discarding what arrives.
inline bool WaitForClose(int fd, std::chrono::milliseconds timeout = 5s) {
  auto deadline = Clock::now() + timeout;
  std::string ignored;
  for (;;) {
    if (!ReceiveSome(fd, &ignored)) return true;
    if (Clock::now() >= deadline) return false;
    pollfd p{fd, POLLIN, 0};
    poll(&p, 1, 10);
  }
}

/// Whether the server has closed the connection by now (without waiting).
inline bool ClosedNow(int fd) {
  std::string ignored;
  return !ReceiveSome(fd, &ignored);
}

// --- the service --------------------------------------------------------------------

/// PingPong as the example serves it, counting what it does. sleep() uses
/// thriftd::sleep_for: it parks under the fiber kind, sleeps elsewhere.
class TestHandler : public pingpong::PingPongIf {
 public:
  void ping(std::string& reply) override {
    ++calls;
    reply = "pong";
  }
  std::int32_t add(std::int32_t a, std::int32_t b) override {
    ++calls;
    return a + b;
  }
  void echo(std::string& reply, const std::string& data) override {
    ++calls;
    reply = data;
  }
  void sleep(std::int32_t ms) override {
    ++calls;
    int now = ++sleeping;
    int peak = peak_sleeping.load();
    while (now > peak && !peak_sleeping.compare_exchange_weak(peak, now)) {
    }
    // Held at the gate first, looking every 10 ms, while it is closed (or
    // while this call is past the ones admitted).
    int ticket = sleep_tickets++;
    // (With block_loop the wait blocks the loop thread too.)
    while (gate_closed.load() || ticket >= sleeps_admitted.load()) {
      if (block_loop) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      } else {
        thriftd::sleep_for(std::chrono::milliseconds(10));
      }
    }
    auto start = Clock::now();
    if (block_loop) {
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    } else {
      thriftd::sleep_for(std::chrono::milliseconds(ms));
    }
    std::int64_t took = MillisSince(start);
    std::int64_t shortest = shortest_sleep_over_asked.load();
    while (took - ms < shortest &&
           !shortest_sleep_over_asked.compare_exchange_weak(shortest, took - ms)) {
    }
    --sleeping;
  }

  std::atomic<int> calls{0};
  std::atomic<int> notified{0};  ///< oneway notify() calls
  std::atomic<int> sleeping{0};
  std::atomic<int> peak_sleeping{0};
  /// The least (slept - asked) over every sleep, in milliseconds.
  std::atomic<std::int64_t> shortest_sleep_over_asked{INT64_MAX};
  /// sleep() blocks the thread instead of parking (a badly written handler).
  std::atomic<bool> block_loop{false};
  /// While set, sleep() waits before it starts: so many calls are surely
  /// asleep at once, however slowly they arrive (under a sanitizer).
  std::atomic<bool> gate_closed{false};
  /// sleep() calls are numbered as they arrive, from 0; those numbered
  /// this or more wait at the gate until it is raised.
  std::atomic<int> sleeps_admitted{INT_MAX};
  std::atomic<int> sleep_tickets{0};
  /// When set, called by the processor after each call (returned or
  /// thrown), with the connection serving it: for tests that look at a
  /// connection while its processor still runs.
  std::function<void(thriftd::Connection&)> after_call;
};

/// PingPong's processor, plus notify(): a oneway method (the IDL has none),
/// read and counted, never answered.
class TestProcessor final : public pingpong::PingPongProcessor {
 public:
  explicit TestProcessor(std::shared_ptr<TestHandler> handler)
      : PingPongProcessor(handler), handler_(std::move(handler)) {}

 protected:
  bool dispatchCall(apache::thrift::protocol::TProtocol* in,
                    apache::thrift::protocol::TProtocol* out, const std::string& name,
                    std::int32_t seqid, void* connection) override {
    struct AfterCall {
      TestHandler& handler;
      void* connection;
      ~AfterCall() {
        if (handler.after_call) handler.after_call(*static_cast<thriftd::Connection*>(connection));
      }
    } after_call{*handler_, connection};
    if (name != "notify") return PingPongProcessor::dispatchCall(in, out, name, seqid, connection);
    in->skip(apache::thrift::protocol::T_STRUCT);
    in->readMessageEnd();
    in->getTransport()->readEnd();
    ++handler_->notified;
    return true;
  }

 private:
  std::shared_ptr<TestHandler> handler_;
};

// --- the fake worker context ----------------------------------------------------------

/// A real WorkerRuntime built from test pieces. The test plays the master:
/// it holds the master's end of the channel and requests stops directly.
class TestWorker {
 public:
  /// A worker whose one listener (or each of `listen_fds`) has the
  /// default per-listener settings.
  explicit TestWorker(thriftd::WorkerSettings settings = {}, std::int64_t max_requests = 0,
                      std::vector<int> listen_fds = {})
      : TestWorker(std::move(settings), {}, max_requests, std::move(listen_fds)) {}
  /// A worker whose listeners have these settings, in order (none: one
  /// listener with the defaults).
  explicit TestWorker(thriftd::ListenerSettings listener)
      : TestWorker({}, {std::move(listener)}, 0, {}) {}
  TestWorker(thriftd::WorkerSettings settings,
             std::vector<thriftd::ListenerSettings> listener_settings, std::int64_t max_requests,
             std::vector<int> listen_fds) {
    REQUIRE(thriftd::Scoreboard::Create(&scoreboard_).ok());
    scoreboard_->Reset(kSlot);
    REQUIRE(stop_.Open().ok());
    REQUIRE(thriftd::OpenChannel(&channel_).ok());
    handler_ = std::make_shared<TestHandler>();
    thriftd::WorkerRuntime::Options options;
    options.settings = std::move(settings);
    options.listen_fds = std::move(listen_fds);
    auto factory = std::make_shared<apache::thrift::TSingletonProcessorFactory>(
        std::make_shared<TestProcessor>(handler_));
    // One listener at least (for connections a test makes by hand); those
    // given no settings have the defaults.
    std::size_t listeners =
        std::max({std::size_t{1}, options.listen_fds.size(), listener_settings.size()});
    listener_settings.resize(listeners);
    for (thriftd::ListenerSettings& listener : listener_settings)
      options.listeners.push_back({std::move(listener), {factory, nullptr}, nullptr});
    options.scoreboard = scoreboard_.get();
    options.slot = kSlot;
    options.stop = &stop_;
    options.channel_fd = channel_.worker_end.get();
    options.max_requests = max_requests;
    runtime_ = std::make_unique<thriftd::WorkerRuntime>(std::move(options));
  }

  thriftd::WorkerRuntime& runtime() { return *runtime_; }
  TestHandler& handler() { return *handler_; }
  thriftd::StopSignal& stop() { return stop_; }
  thriftd::ScoreboardSlot& slot() { return scoreboard_->slot(kSlot); }
  int master_fd() const { return channel_.master_end.get(); }
  /// Fills the worker's end of the channel with messages the master does
  /// not read, so that it is not writable.
  void FillWorkerEnd() {
    int sent = 0;
    while (send(channel_.worker_end.get(), "x", 1, MSG_DONTWAIT) == 1) ++sent;
    REQUIRE(errno == EAGAIN);
    REQUIRE(sent > 0);
    pollfd p{channel_.worker_end.get(), POLLOUT, 0};
    REQUIRE(poll(&p, 1, 0) == 0);
  }
  /// The master goes away: the worker sees end of file on its channel.
  void CloseMasterEnd() { channel_.master_end.Reset(); }

  /// Passes a client connection to the worker, as the master relays one
  /// another worker handed over; the worker's engine adopts it.
  /// `listener`: the key of the listener it came from (the default
  /// listener's is "").
  void Adopt(thriftd::UniqueFd server, std::string_view carried = {},
             std::string_view listener = {}) {
    std::string text(listener);
    text += '\0';
    text += carried;
    REQUIRE(
        thriftd::SendChannelMessage(master_fd(), thriftd::kChannelConnection, text, server.get())
            .ok());
  }
  /// Asks the worker to hand its connections over when it stops.
  void RequestHandOver() {
    REQUIRE(thriftd::SendChannelMessage(master_fd(), thriftd::kChannelHandOver).ok());
  }
  /// The next message the worker sends the master; kind 0 when none came in time.
  thriftd::ChannelMessage ReceiveFromWorker(std::chrono::milliseconds timeout = 5s) {
    thriftd::ChannelMessage message;
    pollfd p{master_fd(), POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0 ||
        thriftd::ReceiveChannelMessage(master_fd(), &message) != thriftd::ChannelRead::kMessage)
      message.kind = 0;
    return message;
  }

  /// Calls counted in the scoreboard for "PingPong.`method`", by outcome.
  std::uint64_t MethodCalls(const std::string& method,
                            thriftd::CallOutcome outcome = thriftd::CallOutcome::kOk) {
    std::string name = "PingPong." + method;
    for (thriftd::MethodStats& entry : slot().methods) {
      if (entry.used.load() == 1 && name == entry.name)
        return entry.calls[static_cast<int>(outcome)].load();
    }
    return 0;
  }

 private:
  static constexpr int kSlot = 0;
  std::unique_ptr<thriftd::Scoreboard> scoreboard_;
  thriftd::StopSignal stop_;
  thriftd::ChannelPair channel_;
  std::shared_ptr<TestHandler> handler_;
  std::unique_ptr<thriftd::WorkerRuntime> runtime_;
};

// --- the engine, run as a kind runs it --------------------------------------------------

enum class Kind { kThread, kFiber };

inline const char* KindName(Kind kind) { return kind == Kind::kThread ? "thread" : "fiber"; }

/// Runs a ConnectionEngine over a TestWorker's runtime the way a kind does:
/// the thread kind as ThreadWorker does (`threads` threads in
/// Run(events_per_wait), each turn on the thread that took the event), the
/// fiber kind as FiberWorker does (one loop thread, each turn in a fiber).
/// The test thread stays free to play the master and the clients.
class EngineRunner {
 public:
  EngineRunner(TestWorker& worker, Kind kind, int threads = 2,
               thriftd::ConnectionEngine::Options options = {}, int events_per_wait = 1)
      : worker_(worker), kind_(kind) {
    if (kind == Kind::kThread) options.threads = threads;
    engine_ = std::make_unique<thriftd::ConnectionEngine>(worker.runtime(), options);
    if (kind == Kind::kThread) {
      dispatcher_ = std::make_unique<InlineDispatcher>(*engine_);
      REQUIRE(engine_->Open(*dispatcher_).ok());
      for (int i = 0; i < threads; ++i) {
        threads_.emplace_back([this, events_per_wait] {
          engine_->Run(events_per_wait);
          ++returned_;
        });
      }
      return;
    }
    probe_fd_.Reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    REQUIRE(probe_fd_.valid());
    std::promise<thriftd::Status> opened;
    std::future<thriftd::Status> open_status = opened.get_future();
    threads_.emplace_back([this, &opened] { FiberLoop(opened); });
    thriftd::Status status = open_status.get();
    if (!status.ok()) {
      threads_.back().join();
      threads_.clear();
    }
    REQUIRE_MESSAGE(status.ok(), status.message());
  }

  ~EngineRunner() {
    if (!threads_.empty() && !Stopped()) {
      // The test failed before it stopped the worker: stop it now.
      worker_.stop().RequestStop();
      if (!WaitFor([this] { return Stopped(); })) worker_.stop().RequestStop(/*quick=*/true);
    }
    for (std::thread& thread : threads_) thread.join();
  }
  EngineRunner(const EngineRunner&) = delete;
  EngineRunner& operator=(const EngineRunner&) = delete;

  thriftd::ConnectionEngine& engine() { return *engine_; }
  Kind kind() const { return kind_; }

  /// Whether Run() has returned on every loop thread.
  bool Stopped() const { return returned_.load() == static_cast<int>(threads_.size()); }
  /// Waits until Run() has returned on every loop thread, then joins them.
  bool WaitUntilStopped(std::chrono::milliseconds timeout = 5s) {
    if (!WaitFor([this] { return Stopped(); }, timeout)) return false;
    for (std::thread& thread : threads_) thread.join();
    threads_.clear();
    returned_ = 0;
    return true;
  }

  struct FiberCounts {
    std::size_t fibers = 0;
    std::size_t idle = 0;
  };
  /// The fiber kind's scheduler counts, read on its loop thread between
  /// turns (the test thread may not touch the scheduler).
  FiberCounts ProbeFibers() {
    REQUIRE(kind_ == Kind::kFiber);
    int before = probes_.load();
    std::uint64_t one = 1;
    REQUIRE(write(probe_fd_.get(), &one, sizeof one) == sizeof one);
    REQUIRE(WaitFor([&] { return probes_.load() > before; }));
    return {probed_fibers_.load(), probed_idle_.load()};
  }

 private:
  class InlineDispatcher final : public thriftd::ConnectionEngine::Dispatcher {
   public:
    explicit InlineDispatcher(thriftd::ConnectionEngine& engine) : engine_(engine) {}
    void Dispatch(std::uint32_t slot) override { engine_.Serve(slot); }

   private:
    thriftd::ConnectionEngine& engine_;
  };

  // The fiber kind's loop thread: the scheduler lives and dies on it.
  void FiberLoop(std::promise<thriftd::Status>& opened) {
    const thriftd::WorkerRuntime& runtime = worker_.runtime();
    thriftd::FiberScheduler scheduler(*engine_, runtime.fiber_stack_size(),
                                      runtime.fiber_check_interval());
    thriftd::Status status = engine_->Open(scheduler);
    if (status.ok()) status = scheduler.Start();
    if (status.ok()) {
      status = engine_->Watch(probe_fd_.get(), [this, &scheduler] {
        std::uint64_t count = 0;
        (void)read(probe_fd_.get(), &count, sizeof count);
        probed_fibers_ = scheduler.fibers();
        probed_idle_ = scheduler.idle_fibers();
        ++probes_;
      });
    }
    bool ok = status.ok();
    opened.set_value(std::move(status));
    if (!ok) return;
    engine_->Run(64);
    ++returned_;
  }

  TestWorker& worker_;
  Kind kind_;
  std::unique_ptr<thriftd::ConnectionEngine> engine_;
  std::unique_ptr<InlineDispatcher> dispatcher_;
  std::vector<std::thread> threads_;
  std::atomic<int> returned_{0};
  thriftd::UniqueFd probe_fd_;
  std::atomic<int> probes_{0};
  std::atomic<std::size_t> probed_fibers_{0};
  std::atomic<std::size_t> probed_idle_{0};
};

}  // namespace thriftd_test

#endif  // THRIFTD_TESTS_UNIT_WORKER_FIXTURE_H_
