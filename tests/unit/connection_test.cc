// Connection: one client connection served in turns on the test thread,
// with a socketpair for the client and no engine.
#include "workers/connection.h"

#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/worker_fixture.h"

namespace thriftd {
namespace {

using namespace thriftd_test;
using Phase = Connection::Phase;

ListenerSettings SettingsFor(const Wire& wire) {
  ListenerSettings settings;
  settings.thrift_transport_factory = wire.transport;
  settings.thrift_protocol_factory = wire.protocol;
  return settings;
}

Phase Turn(Connection& connection) {
  bool progressed = false;
  return connection.RunTurn(&progressed);
}

/// Plays the client and the worker's loop in turn: sends `request` as the
/// socket takes it, runs turns, and reads until `count` replies came.
/// *turns_ms (when given): the time spent in the connection's turns.
bool Exchange(Connection& connection, int client, const Wire& wire, std::string_view request,
              std::size_t count, std::vector<Reply>* replies, std::int64_t* turns_ms = nullptr) {
  auto deadline = Clock::now() + 10s * kSanitizerSlowdown;
  std::string received;
  Clock::duration in_turns{};
  for (;;) {
    request.remove_prefix(SendSome(client, request));
    bool progressed = false;
    auto turn_start = Clock::now();
    Phase phase = connection.RunTurn(&progressed);
    in_turns += Clock::now() - turn_start;
    if (turns_ms != nullptr)
      *turns_ms = std::chrono::duration_cast<std::chrono::milliseconds>(in_turns).count();
    if (phase == Phase::kClosed) return false;
    ReceiveSome(client, &received);
    if (DecodeReplies(wire, received, count, replies)) return true;
    if (Clock::now() >= deadline) return false;
    if (!progressed) {
      pollfd p{connection.fd(), POLLIN, 0};
      poll(&p, 1, 1);
    }
  }
}

const std::string kAllBytes = [] {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  return bytes;
}();

TEST_CASE("a call that arrived whole is answered in one turn; then no buffers are held") {
  TestWorker worker;
  SocketPair pair = MakeSocketPair();
  int client = pair.client.get();
  Connection connection(std::move(pair.server), worker.runtime(), worker.runtime().listener(0));
  CHECK(connection.Peer() == "unix socket");
  CHECK_FALSE(connection.holds_buffers());

  REQUIRE(SendAll(client, PingCall(7)));
  bool progressed = false;
  CHECK(connection.RunTurn(&progressed) == Phase::kIdle);
  CHECK(progressed);
  CHECK_FALSE(connection.holds_buffers());
  CHECK(connection.buffered_in() == 0);
  CHECK(connection.buffered_out() == 0);
  std::vector<Reply> replies;
  REQUIRE(ReadReplies(client, {}, 1, &replies));
  CHECK(replies[0] == Reply{"ping", 7, "pong"});
  CHECK(worker.MethodCalls("ping") == 1);
  CHECK(worker.slot().requests.load() == 1);
  CHECK(worker.slot().errors.load() == 0);
  // Nothing came since: a turn moves nothing.
  CHECK(connection.RunTurn(&progressed) == Phase::kIdle);
  CHECK_FALSE(progressed);
}

TEST_CASE("every transport and protocol pair is served") {
  for (const Wire& wire : AllWires()) {
    SUBCASE(wire.Name().c_str()) {
      TestWorker worker(SettingsFor(wire));
      SocketPair pair = MakeSocketPair();
      int client = pair.client.get();
      Connection connection(std::move(pair.server), worker.runtime(), worker.runtime().listener(0));
      REQUIRE(SendAll(client,
                      AddCall(2, 3, 4, wire) + EchoCall(kAllBytes, 5, wire) + PingCall(6, wire)));
      CHECK(Turn(connection) == Phase::kIdle);
      std::vector<Reply> replies;
      REQUIRE(ReadReplies(client, wire, 3, &replies));
      CHECK(replies[0] == Reply{"add", 4, "5"});
      CHECK(replies[1] == Reply{"echo", 5, kAllBytes});
      CHECK(replies[2] == Reply{"ping", 6, "pong"});
    }
  }
}

TEST_CASE("a call arriving in pieces is kPartial until its last byte") {
  TestWorker worker;
  SocketPair pair = MakeSocketPair();
  int client = pair.client.get();
  Connection connection(std::move(pair.server), worker.runtime(), worker.runtime().listener(0));
  std::string call = EchoCall("hello, in pieces", 9);
  std::string received;
  for (std::size_t i = 0; i + 1 < call.size(); ++i) {
    REQUIRE(SendAll(client, call.substr(i, 1)));
    REQUIRE(Turn(connection) == Phase::kPartial);
    REQUIRE(connection.holds_buffers());
    REQUIRE(connection.buffered_in() == i + 1);
    ReceiveSome(client, &received);
    REQUIRE(received.empty());
  }
  CHECK(worker.handler().calls.load() == 0);
  REQUIRE(SendAll(client, call.substr(call.size() - 1)));
  CHECK(Turn(connection) == Phase::kIdle);
  CHECK_FALSE(connection.holds_buffers());
  std::vector<Reply> replies;
  REQUIRE(ReadReplies(client, {}, 1, &replies));
  CHECK(replies[0] == Reply{"echo", 9, "hello, in pieces"});
}

TEST_CASE("pipelined calls are all answered in one turn, in order") {
  TestWorker worker;
  SocketPair pair = MakeSocketPair();
  int client = pair.client.get();
  Connection connection(std::move(pair.server), worker.runtime(), worker.runtime().listener(0));
  std::string calls;
  for (int i = 1; i <= 50; ++i)
    calls += i % 2 ? AddCall(i, 1000, i) : EchoCall(std::to_string(i), i);
  REQUIRE(SendAll(client, calls));
  CHECK(Turn(connection) == Phase::kIdle);
  std::vector<Reply> replies;
  REQUIRE(ReadReplies(client, {}, 50, &replies));
  for (int i = 1; i <= 50; ++i) {
    Reply expected =
        i % 2 ? Reply{"add", i, std::to_string(i + 1000)} : Reply{"echo", i, std::to_string(i)};
    CHECK(replies[i - 1] == expected);
  }
  CHECK(worker.slot().requests.load() == 50);
}

/// An echo call exactly `size` bytes long (buffered binary).
std::string EchoCallOfSize(std::size_t size, std::int32_t seqid) {
  std::size_t overhead = EchoCall("", seqid).size();
  std::string call = EchoCall(std::string(size - overhead, 'e'), seqid);
  REQUIRE(call.size() == size);
  return call;
}

TEST_CASE("regression: a message ending exactly at a 16 KiB buffer's end is served, and the next") {
  // A receive that filled its buffer must read again: the socket may hold
  // more, and an edge-triggered poller says nothing more about it.
  TestWorker worker;
  SocketPair pair = MakeSocketPair();
  int client = pair.client.get();
  Connection connection(std::move(pair.server), worker.runtime(), worker.runtime().listener(0));
  std::string first = EchoCallOfSize(16 * 1024, 1);
  std::vector<Reply> replies;

  SUBCASE("the next call right behind it") {
    REQUIRE(SendAll(client, first + PingCall(2)));
    CHECK(Turn(connection) == Phase::kIdle);
    REQUIRE(ReadReplies(client, {}, 2, &replies));
    CHECK(replies[0].seqid == 1);
    CHECK(replies[0].value.size() == 16 * 1024 - 24);
    CHECK(replies[1] == Reply{"ping", 2, "pong"});
  }
  SUBCASE("the next call later") {
    REQUIRE(SendAll(client, first));
    CHECK(Turn(connection) == Phase::kIdle);
    REQUIRE(ReadReplies(client, {}, 1, &replies));
    CHECK(replies[0].seqid == 1);
    REQUIRE(SendAll(client, PingCall(2)));
    CHECK(Turn(connection) == Phase::kIdle);
    REQUIRE(ReadReplies(client, {}, 1, &replies));
    CHECK(replies[0] == Reply{"ping", 2, "pong"});
  }
  SUBCASE("calls filling the 64 KiB read-ahead exactly, and one more") {
    std::string calls;
    for (int i = 1; i <= 4; ++i) calls += EchoCallOfSize(16 * 1024, i);
    REQUIRE(SendAll(client, calls + PingCall(5)));
    CHECK(Turn(connection) == Phase::kIdle);
    REQUIRE(ReadReplies(client, {}, 5, &replies));
    for (int i = 1; i <= 4; ++i) CHECK(replies[i - 1].seqid == i);
    CHECK(replies[4] == Reply{"ping", 5, "pong"});
  }
}

/// A compact echo call whose arguments start with a field the processor
/// does not know (it skips it): `count` i64s, each a two-byte varint.
/// *elements_at: where the first of them starts.
std::string CompactEchoWithPadding(int count, const std::string& data, std::size_t* elements_at) {
  using namespace apache::thrift::protocol;
  ClientStack stack = MakeClientStack({"buffered", "compact"});
  TProtocol& out = *stack.protocol;
  out.writeMessageBegin("echo", T_CALL, 1);
  out.writeStructBegin("args");
  out.writeFieldBegin("padding", T_LIST, 2);
  out.writeListBegin(T_I64, static_cast<std::uint32_t>(count));
  *elements_at = stack.memory->available_read();
  for (int i = 0; i < count; ++i) out.writeI64(1000);  // zigzag 2000: two bytes
  out.writeListEnd();
  out.writeFieldEnd();
  out.writeFieldBegin("data", T_STRING, 1);
  out.writeBinary(data);
  out.writeFieldEnd();
  out.writeFieldStop();
  out.writeStructEnd();
  out.writeMessageEnd();
  return stack.memory->getBufferAsString();
}

TEST_CASE("regression: a compact message with a varint across the 64 KiB read-ahead is served") {
  // The scanner asked for no byte past those it held (a varint's first
  // byte was there, not its last), and the turn spun forever reading nothing.
  Wire compact{"buffered", "compact"};
  TestWorker worker(SettingsFor(compact));
  SocketPair pair = MakeSocketPair();
  int client = pair.client.get();
  Connection connection(std::move(pair.server), worker.runtime(), worker.runtime().listener(0));
  std::size_t elements_at = 0;
  std::string call = CompactEchoWithPadding(40000, "padded", &elements_at);
  REQUIRE((64 * 1024 - 1 - elements_at) % 2 == 0);  // an element starts at the last byte read
  std::vector<Reply> replies;
  REQUIRE(Exchange(connection, client, compact, call, 1, &replies));
  CHECK(replies[0] == Reply{"echo", 1, "padded"});
}

TEST_CASE("a 1 MiB call is served at once, and its 1 MiB reply arrives whole, in every protocol") {
  std::string data(1 << 20, 0);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + i / 251);
  for (const Wire& wire :
       {Wire{"buffered", "binary"}, Wire{"buffered", "compact"}, Wire{"buffered", "json"},
        Wire{"framed", "binary"}, Wire{"header", "header"}, Wire{"framed", "header"}}) {
    SUBCASE(wire.Name().c_str()) {
      TestWorker worker(SettingsFor(wire));
      SocketPair pair = MakeSocketPair();
      int client = pair.client.get();
      Connection connection(std::move(pair.server), worker.runtime(), worker.runtime().listener(0));
      std::vector<Reply> replies;
      std::int64_t turns_ms = 0;
      REQUIRE(Exchange(connection, client, wire, EchoCall(data, 3, wire) + PingCall(4, wire), 2,
                       &replies, &turns_ms));
      // Regression: past 64 KiB a JSON message was read a byte per recv():
      // its turns took 1.1 s (1.6 s under ASan); now 45 ms (140 ms).
      CHECK(turns_ms < 300 * kSanitizerSlowdown);
      CHECK(replies[0] == Reply{"echo", 3, data});
      CHECK(replies[1] == Reply{"ping", 4, "pong"});
      CHECK(Turn(connection) == Phase::kIdle);
      CHECK_FALSE(connection.holds_buffers());
    }
  }
}

TEST_CASE(
    "a client that does not read its replies: kWriteBlocked, and what is held stays bounded") {
  constexpr int kCalls = 64;
  constexpr std::size_t kPayload = 32 * 1024;
  TestWorker worker;
  SocketPair pair = MakeSocketPair();
  int client = pair.client.get();
  Connection connection(std::move(pair.server), worker.runtime(), worker.runtime().listener(0));
  std::string calls;
  for (int i = 1; i <= kCalls; ++i) calls += EchoCall(std::string(kPayload, 'a' + i % 26), i);
  std::string_view unsent = calls;
  // Send and serve until neither moves a byte more.
  Phase phase = Phase::kIdle;
  for (;;) {
    std::size_t sent = SendSome(client, unsent);
    unsent.remove_prefix(sent);
    bool progressed = false;
    phase = connection.RunTurn(&progressed);
    if (sent == 0 && !progressed) break;
  }
  CHECK(phase == Phase::kWriteBlocked);
  CHECK_FALSE(connection.CanHandOver());
  int served = worker.handler().calls.load();
  CHECK(served > 0);
  CHECK(served < kCalls);
  CHECK(!unsent.empty());
  // Held output stops at 256 KiB (plus the reply that crossed it); input
  // at the 64 KiB read-ahead (plus a message).
  std::size_t call_size = calls.size() / kCalls;
  CHECK(connection.buffered_out() >= 256 * 1024);
  CHECK(connection.buffered_out() < 256 * 1024 + call_size);
  CHECK(connection.buffered_in() <= 64 * 1024 + call_size);
  for (int i = 0; i < 5; ++i) CHECK(Turn(connection) == Phase::kWriteBlocked);
  CHECK(worker.handler().calls.load() == served);

  // The client catches up: every reply arrives, in order.
  std::vector<Reply> replies;
  REQUIRE(Exchange(connection, client, {}, unsent, kCalls, &replies));
  for (int i = 1; i <= kCalls; ++i) {
    REQUIRE(replies[i - 1].seqid == i);
    REQUIRE(replies[i - 1].value == std::string(kPayload, 'a' + i % 26));
  }
  CHECK(Turn(connection) == Phase::kIdle);
  CHECK_FALSE(connection.holds_buffers());
}

TEST_CASE("bytes no Thrift client writes close the connection, and it is logged") {
  LogCapture log;
  TestWorker worker;
  SocketPair pair = MakeSocketPair();
  int client = pair.client.get();
  Connection connection(std::move(pair.server), worker.runtime(), worker.runtime().listener(0));
  REQUIRE(SendAll(client, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  CHECK(Turn(connection) == Phase::kClosed);
  CHECK_FALSE(connection.holds_buffers());
  CHECK(WaitForClose(client));
  CHECK(log.Text().find("[WARNING] closing connection from unix socket: protocol error: no binary "
                        "protocol version (an unversioned or non-Thrift message)\n") !=
        std::string::npos);
  int protocol_error = static_cast<int>(CallOutcome::kProtocolError);
  CHECK(worker.slot().unlisted_calls[protocol_error].load() == 1);
  CHECK(worker.slot().errors.load() == 1);
  CHECK(worker.handler().calls.load() == 0);
  // Closed stays closed.
  CHECK(Turn(connection) == Phase::kClosed);
}

TEST_CASE("an unknown method is answered with an exception; the connection stays open") {
  TestWorker worker;
  SocketPair pair = MakeSocketPair();
  int client = pair.client.get();
  Connection connection(std::move(pair.server), worker.runtime(), worker.runtime().listener(0));
  std::string unknown = EncodeMessage({}, "nosuch", apache::thrift::protocol::T_CALL, 5,
                                      pingpong::PingPong_ping_pargs());
  REQUIRE(SendAll(client, unknown + PingCall(6)));
  CHECK(Turn(connection) == Phase::kIdle);
  std::vector<Reply> replies;
  REQUIRE(ReadReplies(client, {}, 2, &replies));
  CHECK(replies[0] == Reply{"nosuch", 5, "exception: Invalid method name: 'nosuch'"});
  CHECK(replies[1] == Reply{"ping", 6, "pong"});
  int application_exception = static_cast<int>(CallOutcome::kApplicationException);
  CHECK(worker.slot().unlisted_calls[application_exception].load() == 1);
  CHECK(worker.MethodCalls("ping") == 1);
}

TEST_CASE("regression: a call's duration ends at its reply, not at the work after it") {
  // An unknown method's call is recorded once the processor returns; the
  // processor here works on for 50 ms after the reply went out. That time
  // (a preemption there, in a loaded worker) is not latency the client saw:
  // it made the access log's duration exceed the client's round trip.
  TempDir dir;
  WorkerSettings settings;
  settings.accesslog = dir.Join("access.log");
  settings.access_log_format = "{method} {duration_us}";
  TestWorker worker(settings);
  static constexpr std::int64_t kAfterReplyUs = 50000;
  worker.handler().after_call = [](Connection&) {
    std::this_thread::sleep_for(std::chrono::microseconds(kAfterReplyUs));
  };
  SocketPair pair = MakeSocketPair();
  int client = pair.client.get();
  Connection connection(std::move(pair.server), worker.runtime(), worker.runtime().listener(0));
  REQUIRE(SendAll(client, EncodeMessage({}, "nosuch", apache::thrift::protocol::T_CALL, 5,
                                        pingpong::PingPong_ping_pargs())));
  auto turn_start = Clock::now();
  CHECK(Turn(connection) == Phase::kIdle);
  std::int64_t turn_us =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - turn_start).count();
  std::vector<Reply> replies;
  REQUIRE(ReadReplies(client, {}, 1, &replies));
  std::string line = ReadFile(settings.accesslog);
  REQUIRE(line.rfind("nosuch ", 0) == 0);
  std::int64_t duration_us = std::stoll(line.substr(7));
  // The turn held the call up to its reply, then the 50 ms after it.
  CHECK(duration_us <= turn_us - kAfterReplyUs);
}

TEST_CASE("an empty frame (a header client's goodbye) is skipped") {
  Wire framed{"framed", "binary"};
  TestWorker worker(SettingsFor(framed));
  SocketPair pair = MakeSocketPair();
  int client = pair.client.get();
  Connection connection(std::move(pair.server), worker.runtime(), worker.runtime().listener(0));
  REQUIRE(SendAll(client, PingCall(1, framed) + std::string(4, '\0') + PingCall(2, framed)));
  CHECK(Turn(connection) == Phase::kIdle);
  std::vector<Reply> replies;
  REQUIRE(ReadReplies(client, framed, 2, &replies));
  CHECK(replies[0] == Reply{"ping", 1, "pong"});
  CHECK(replies[1] == Reply{"ping", 2, "pong"});
  CHECK(worker.slot().requests.load() == 2);
}

TEST_CASE("the client closing ends the connection") {
  TestWorker worker;
  SocketPair pair = MakeSocketPair();
  Connection connection(std::move(pair.server), worker.runtime(), worker.runtime().listener(0));
  SUBCASE("between calls") { pair.client.Reset(); }
  SUBCASE("mid-message") {
    REQUIRE(SendAll(pair.client.get(), PingCall(1).substr(0, 5)));
    CHECK(Turn(connection) == Phase::kPartial);
    pair.client.Reset();
  }
  CHECK(Turn(connection) == Phase::kClosed);
  CHECK_FALSE(connection.holds_buffers());
}

TEST_CASE("regression: a send that fails under the processor leaves it its message's bytes") {
  // The reply's flush failed (the client had gone), Close() gave the input
  // block back to the pool, and the processor's window still pointed into it.
  TestWorker worker;
  SocketPair pair = MakeSocketPair();
  Connection connection(std::move(pair.server), worker.runtime(), worker.runtime().listener(0));
  std::string call = PingCall(1);
  REQUIRE(SendAll(pair.client.get(), call));
  pair.client.Reset();  // gone before its reply
  std::size_t held_after_call = 0;
  bool holds_buffers_after_call = false;
  worker.handler().after_call = [&](Connection& serving) {
    held_after_call = serving.buffered_in();
    holds_buffers_after_call = serving.holds_buffers();
  };
  CHECK(Turn(connection) == Phase::kClosed);
  CHECK(worker.handler().calls.load() == 1);
  CHECK(held_after_call == call.size());  // the send failed in the call, and the bytes stayed
  CHECK(holds_buffers_after_call);
  CHECK_FALSE(connection.holds_buffers());  // given back once the processor returned
}

TEST_CASE("told of the peer's hang-up, a turn reads on to the end of file") {
  // The engine's case: a call and the client's close came as one event
  // (EPOLLRDHUP), and no later event will bring the end of file.
  TestWorker worker;
  SocketPair pair = MakeSocketPair();
  int client = pair.client.get();
  Connection connection(std::move(pair.server), worker.runtime(), worker.runtime().listener(0));
  REQUIRE(SendAll(client, PingCall(1)));
  REQUIRE(shutdown(client, SHUT_WR) == 0);
  SUBCASE("not told: the turn stops at the short read, with no further recv") {
    CHECK(Turn(connection) == Phase::kIdle);
  }
  SUBCASE("told: the reply goes, then the connection ends") {
    connection.OnPeerHangUp();
    CHECK(Turn(connection) == Phase::kClosed);
  }
  std::vector<Reply> replies;
  REQUIRE(ReadReplies(client, {}, 1, &replies));
  CHECK(replies[0] == Reply{"ping", 1, "pong"});
}

TEST_CASE("hand-over: the connection leaves with the start of the next message, which goes on") {
  TestWorker worker;
  SocketPair pair = MakeSocketPair();
  int client = pair.client.get();
  auto connection = std::make_unique<Connection>(std::move(pair.server), worker.runtime(),
                                                 worker.runtime().listener(0));
  std::string add = AddCall(20, 22, 2);
  REQUIRE(SendAll(client, PingCall(1) + add.substr(0, 10)));
  CHECK(Turn(*connection) == Phase::kPartial);
  std::vector<Reply> replies;
  REQUIRE(ReadReplies(client, {}, 1, &replies));
  CHECK(replies[0] == Reply{"ping", 1, "pong"});
  REQUIRE(connection->CanHandOver());

  std::string carried;
  UniqueFd fd = connection->ReleaseForHandOver(&carried);
  CHECK(carried == add.substr(0, 10));
  REQUIRE(fd.valid());
  CHECK(connection->fd() == -1);
  CHECK_FALSE(connection->holds_buffers());
  CHECK_FALSE(connection->CanHandOver());
  connection.reset();  // destroying what is left closes nothing of the client's

  Connection adopted(std::move(fd), worker.runtime(), worker.runtime().listener(0), carried);
  CHECK(adopted.buffered_in() == 10);
  REQUIRE(SendAll(client, add.substr(10)));
  CHECK(Turn(adopted) == Phase::kIdle);
  REQUIRE(ReadReplies(client, {}, 1, &replies));
  CHECK(replies[0] == Reply{"add", 2, "42"});
}

TEST_CASE("a connection holding more than the channel carries cannot be handed over") {
  TestWorker worker;
  SocketPair pair = MakeSocketPair();
  int client = pair.client.get();
  Connection connection(std::move(pair.server), worker.runtime(), worker.runtime().listener(0));
  std::string big = EchoCall(std::string(100 * 1024, 'b'), 1);
  // The message names the listener first: its key ("" here) and a NUL.
  const std::size_t most = kMaxChannelText - 1;
  REQUIRE(SendAll(client, big.substr(0, most)));
  CHECK(Turn(connection) == Phase::kPartial);
  CHECK(connection.buffered_in() == most);
  CHECK(connection.CanHandOver());
  REQUIRE(SendAll(client, big.substr(most, 1)));
  CHECK(Turn(connection) == Phase::kPartial);
  CHECK_FALSE(connection.CanHandOver());
}

TEST_CASE("Serve with a blocking waiter: a stop between messages ends it, not one mid-message") {
  TestWorker worker;
  SocketPair pair = MakeSocketPair();
  int client = pair.client.get();
  Connection connection(std::move(pair.server), worker.runtime(), worker.runtime().listener(0));
  std::unique_ptr<IoWaiter> waiter = worker.runtime().MakeBlockingWaiter();
  std::atomic<bool> returned{false};
  ThriftConnection::Outcome outcome = ThriftConnection::Outcome::kClosed;
  std::thread serving([&] {
    outcome = connection.Serve(*waiter);
    returned = true;
  });
  // However the test ends, the client goes away (which ends Serve) and the
  // thread is joined.
  struct Joiner {
    std::thread& thread;
    UniqueFd& client;
    ~Joiner() {
      if (!thread.joinable()) return;
      client.Reset();
      thread.join();
    }
  } joiner{serving, pair.client};
  std::vector<Reply> replies;
  REQUIRE(SendAll(client, PingCall(1)));
  CHECK(ReadReplies(client, {}, 1, &replies));
  CHECK(replies[0] == Reply{"ping", 1, "pong"});

  std::string add = AddCall(1, 2, 2);
  REQUIRE(SendAll(client, add.substr(0, 7)));
  // The message has started (a waiter that sees both its bytes and the
  // stop serves the bytes): the stop waits for it.
  worker.stop().RequestStop();
  CHECK_FALSE(WaitFor([&] { return returned.load(); }, 200ms));
  REQUIRE(SendAll(client, add.substr(7)));
  CHECK(ReadReplies(client, {}, 1, &replies));
  CHECK(replies[0] == Reply{"add", 2, "3"});
  CHECK(WaitFor([&] { return returned.load(); }));
  serving.join();
  CHECK(outcome == ThriftConnection::Outcome::kIdle);
  CHECK_FALSE(ClosedNow(client));  // the kind decides: close it or hand it over
}

TEST_CASE(
    "regression: Serve with a blocking waiter ends a connection mid-message at a quick stop") {
  // Inside a message the waiter answered a quick stop with kReady and Serve
  // waited again: a sync worker holding a half-sent call (or a client not
  // reading its reply) never returned from Run, and the quick stop's alarm
  // ended the process before OnWorkerExit ran.
  for (bool write_blocked : {false, true}) {
    for (bool graceful_first : {false, true}) {
      CAPTURE(write_blocked);
      CAPTURE(graceful_first);
      TestWorker worker;
      SocketPair pair = MakeSocketPair();
      int client = pair.client.get();
      if (write_blocked) {
        // The reply cannot go while the client does not read.
        int small = 4096;
        REQUIRE(setsockopt(pair.server.get(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small) == 0);
        REQUIRE(SendAll(client, EchoCall(std::string(64 * 1024, 'r'), 1)));
      } else {
        REQUIRE(SendAll(client, PingCall(1).substr(0, 5)));
      }
      // Serve's first turn reads what is there: it then waits inside the message.
      Connection connection(std::move(pair.server), worker.runtime(), worker.runtime().listener(0));
      std::unique_ptr<IoWaiter> waiter = worker.runtime().MakeBlockingWaiter();
      std::atomic<bool> returned{false};
      ThriftConnection::Outcome outcome = ThriftConnection::Outcome::kIdle;
      std::thread serving([&] {
        outcome = connection.Serve(*waiter);
        returned = true;
      });
      struct Joiner {  // however the test ends, the client goes away, ending Serve
        std::thread& thread;
        UniqueFd& client;
        ~Joiner() {
          client.Reset();
          thread.join();
        }
      } joiner{serving, pair.client};
      if (graceful_first) {
        worker.stop().RequestStop();
        CHECK_FALSE(WaitFor([&] { return returned.load(); }, 200ms));  // the message goes on
      }
      worker.stop().RequestStop(/*quick=*/true);
      REQUIRE(WaitFor([&] { return returned.load(); }));
      CHECK(outcome == ThriftConnection::Outcome::kClosed);
      CHECK(WaitForClose(client));
    }
  }
}

TEST_CASE("Serve closes a connection silent past thrift_client_timeout") {
  WorkerSettings settings;
  settings.thrift_client_timeout = 0.2;
  TestWorker worker(settings);
  SocketPair pair = MakeSocketPair();
  int client = pair.client.get();
  Connection connection(std::move(pair.server), worker.runtime(), worker.runtime().listener(0));
  std::unique_ptr<IoWaiter> waiter = worker.runtime().MakeBlockingWaiter();
  auto start = Clock::now();
  CHECK(connection.Serve(*waiter) == ThriftConnection::Outcome::kClosed);
  CHECK(MillisSince(start) >= 200);
  CHECK(MillisSince(start) < 3000);
  CHECK(WaitForClose(client));
}

}  // namespace
}  // namespace thriftd
