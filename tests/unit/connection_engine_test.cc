// ConnectionEngine, run as the thread kind runs it (turns on the pool
// thread that took the event) and as the fiber kind does (turns in fibers on
// one loop thread). The test plays the master on the worker's channel:
// client connections reach the worker as the master relays hand-overs.
#include "workers/connection_engine.h"

#include <doctest/doctest.h>
#include <sys/resource.h>
#include <sys/un.h>

#include <algorithm>
#include <cstddef>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/worker_fixture.h"
#include "workers/fiber_worker.h"
#include "workers/thread_worker.h"

namespace thriftd {
namespace {

using namespace thriftd_test;

/// A client connected to the worker: the server's end goes over the
/// channel (the engine adopts it), after `first_bytes` were sent.
UniqueFd Connect(TestWorker& worker, std::string_view first_bytes = {}) {
  SocketPair pair = MakeSocketPair();
  if (!first_bytes.empty()) REQUIRE(SendAll(pair.client.get(), first_bytes));
  worker.Adopt(std::move(pair.server));
  return std::move(pair.client);
}

/// Stops the worker gracefully and waits for every loop thread to return.
void StopAndJoin(TestWorker& worker, EngineRunner& runner) {
  worker.stop().RequestStop();
  REQUIRE(runner.WaitUntilStopped());
}

#define FOR_EACH_KIND(kind)                        \
  Kind kind = Kind::kThread;                       \
  SUBCASE("thread kind") { kind = Kind::kThread; } \
  SUBCASE("fiber kind") { kind = Kind::kFiber; }   \
  CAPTURE(std::string(KindName(kind)))

TEST_CASE("pipelined calls on several connections are all answered, in order") {
  FOR_EACH_KIND(kind);
  TestWorker worker;
  EngineRunner runner(worker, kind, 3);
  constexpr int kClients = 5;
  constexpr int kCalls = 40;
  std::vector<UniqueFd> clients;
  for (int c = 0; c < kClients; ++c) {
    std::string calls;
    for (int i = 0; i < kCalls; ++i) {
      int seqid = c * 100 + i;
      calls += i % 2 ? AddCall(c, i, seqid) : EchoCall("c" + std::to_string(seqid), seqid);
    }
    clients.push_back(Connect(worker, calls));
  }
  for (int c = 0; c < kClients; ++c) {
    std::vector<Reply> replies;
    REQUIRE(ReadReplies(clients[c].get(), {}, kCalls, &replies));
    for (int i = 0; i < kCalls; ++i) {
      int seqid = c * 100 + i;
      Reply expected = i % 2 ? Reply{"add", seqid, std::to_string(c + i)}
                             : Reply{"echo", seqid, "c" + std::to_string(seqid)};
      CHECK(replies[i] == expected);
    }
  }
  CHECK(runner.engine().held() == kClients);
  // A call is counted after its reply is sent: the client may read the last
  // reply a moment before the count goes up.
  CHECK(WaitFor([&] { return worker.slot().requests.load() == kClients * kCalls; }));
  CHECK(WaitFor([&] { return worker.slot().connections.load() == kClients; }));
  StopAndJoin(worker, runner);
  CHECK(runner.engine().held() == 0);
  for (UniqueFd& client : clients) CHECK(WaitForClose(client.get()));
}

TEST_CASE("regression: a message ending at a 16 KiB buffer's end is served, and the next one") {
  // The engine's poller is edge-triggered: a receive that filled its buffer
  // and did not read on would never hear of the rest.
  FOR_EACH_KIND(kind);
  TestWorker worker;
  EngineRunner runner(worker, kind);
  std::string first = EchoCall(std::string(16 * 1024 - 24, 'x'), 1);
  REQUIRE(first.size() == 16 * 1024);
  UniqueFd client = Connect(worker, first + PingCall(2));
  std::vector<Reply> replies;
  REQUIRE(ReadReplies(client.get(), {}, 2, &replies));
  CHECK(replies[0].seqid == 1);
  CHECK(replies[1] == Reply{"ping", 2, "pong"});
  REQUIRE(SendAll(client.get(), first + PingCall(3)));
  REQUIRE(ReadReplies(client.get(), {}, 2, &replies));
  CHECK(replies[1] == Reply{"ping", 3, "pong"});
  StopAndJoin(worker, runner);
}

/// A client over TCP whose connection the engine holds, idle, while its one
/// loop thread is held in a handler (another connection's call, blocking
/// at the handler's gate) until the test calls LetTheLoopGo(): what the
/// client sends meanwhile has surely arrived before the engine looks.
struct ClientWhileLoopBlocked {
  UniqueFd client;
  UniqueFd blocker;
  std::atomic<bool>* gate_closed;
  void LetTheLoopGo() { gate_closed->store(false); }
  // Also when a check failed before the test let it go: the engine stops.
  ~ClientWhileLoopBlocked() { LetTheLoopGo(); }
};

ClientWhileLoopBlocked ConnectWhileLoopBlocked(TestWorker& worker, EngineRunner& runner) {
  // Over TCP: a unix socket's writer hears of every byte its reader takes,
  // which would bring the engine another event.
  SocketPair pair = MakeTcpPair();
  worker.Adopt(std::move(pair.server));
  UniqueFd blocker = Connect(worker);
  // Two calls on the other connection, the second surely through an event:
  // the loop thread has then handled every event the client's connection
  // had (the fiber kind handles a batch of events after a blocked turn).
  std::vector<Reply> replies;
  for (int seqid = 100; seqid < 102; ++seqid) {
    REQUIRE(SendAll(blocker.get(), PingCall(seqid)));
    REQUIRE(ReadReplies(blocker.get(), {}, 1, &replies));
  }
  worker.handler().block_loop = true;
  worker.handler().gate_closed = true;
  REQUIRE(SendAll(blocker.get(), SleepCall(0, 1)));
  REQUIRE(WaitFor([&] { return worker.handler().sleeping.load() == 1; }));
  REQUIRE(runner.engine().held() == 2);
  return {std::move(pair.client), std::move(blocker), &worker.handler().gate_closed};
}

// Connections are edge-triggered: a call and the end of file that came
// with it were one event, and a turn that stopped at the short read never
// read the end of file, so the connection was held for ever.
TEST_CASE("regression: a call and the client's shutdown(SHUT_WR) together: reply, then the end") {
  FOR_EACH_KIND(kind);
  TestWorker worker;
  EngineRunner runner(worker, kind, /*threads=*/1);
  ClientWhileLoopBlocked connected = ConnectWhileLoopBlocked(worker, runner);
  int client = connected.client.get();
  REQUIRE(SendAll(client, PingCall(2)));
  REQUIRE(shutdown(client, SHUT_WR) == 0);
  connected.LetTheLoopGo();
  std::vector<Reply> replies;
  REQUIRE(ReadReplies(client, {}, 1, &replies));
  CHECK(replies[0] == Reply{"ping", 2, "pong"});
  CHECK(WaitForClose(client));
  CHECK(WaitFor([&] { return runner.engine().held() == 1; }));  // the blocker's stays
  CHECK(WaitFor([&] { return worker.slot().connections.load() == 1; }));
  StopAndJoin(worker, runner);
}

TEST_CASE("regression: a oneway call and the client's close() together end the connection") {
  FOR_EACH_KIND(kind);
  TestWorker worker;
  EngineRunner runner(worker, kind, /*threads=*/1);
  ClientWhileLoopBlocked connected = ConnectWhileLoopBlocked(worker, runner);
  REQUIRE(SendAll(connected.client.get(), NotifyCall(2)));
  connected.client.Reset();
  connected.LetTheLoopGo();
  CHECK(WaitFor([&] { return worker.handler().notified.load() == 1; }));
  CHECK(WaitFor([&] { return runner.engine().held() == 1; }));  // the blocker's stays
  CHECK(WaitFor([&] { return worker.slot().connections.load() == 1; }));
  StopAndJoin(worker, runner);
}

TEST_CASE(
    "regression: connections adopted in one read of a channel that is not writable are all "
    "served") {
  // The engine takes one adopted connection per wakeup and re-arms the
  // channel for writing, to be woken at once for the next. While the master
  // had not read what this worker sent, the channel was not writable and the
  // rest waited for the master's next message.
  FOR_EACH_KIND(kind);
  TestWorker worker;
  worker.FillWorkerEnd();
  std::vector<UniqueFd> clients;  // sent before the engine runs: it reads them all at once
  for (int i = 0; i < 3; ++i) clients.push_back(Connect(worker, PingCall(i)));
  EngineRunner runner(worker, kind);
  for (int i = 0; i < 3; ++i) {
    std::vector<Reply> replies;
    REQUIRE(ReadReplies(clients[i].get(), {}, 1, &replies));
    CHECK(replies[0] == Reply{"ping", i, "pong"});
  }
  CHECK(runner.engine().held() == 3);
  StopAndJoin(worker, runner);
}

TEST_CASE("a connection silent past thrift_client_timeout is closed; an active one is not") {
  FOR_EACH_KIND(kind);
  WorkerSettings settings;
  settings.thrift_client_timeout = 0.3;
  TestWorker worker(settings);
  EngineRunner runner(worker, kind);
  auto start = Clock::now();
  UniqueFd silent = Connect(worker);
  UniqueFd active = Connect(worker);
  std::int64_t silent_closed_ms = -1;
  int seqid = 0;
  while (MillisSince(start) < 1000) {
    REQUIRE(SendAll(active.get(), PingCall(++seqid)));
    std::vector<Reply> replies;
    REQUIRE(ReadReplies(active.get(), {}, 1, &replies));
    REQUIRE(replies[0] == Reply{"ping", seqid, "pong"});
    // Paces the active client, and watches the silent one meanwhile.
    pollfd p{silent_closed_ms < 0 ? silent.get() : -1, POLLIN, 0};
    poll(&p, 1, 50);
    if (silent_closed_ms < 0 && ClosedNow(silent.get())) silent_closed_ms = MillisSince(start);
  }
  CHECK(silent_closed_ms >= 250);
  CHECK(silent_closed_ms < 1000);
  CHECK_FALSE(ClosedNow(active.get()));
  CHECK(runner.engine().held() == 1);
  StopAndJoin(worker, runner);
}

TEST_CASE("hand-over mid-burst: calls there whole are answered, the rest travels to the master") {
  FOR_EACH_KIND(kind);
  TestWorker worker;
  EngineRunner runner(worker, kind, 2);
  std::string add = AddCall(20, 22, 3);
  UniqueFd client = Connect(worker, SleepCall(300, 1) + PingCall(2) + add.substr(0, 9));
  UniqueFd idle = Connect(worker);
  REQUIRE(WaitFor([&] { return worker.handler().sleeping.load() == 1; }));
  REQUIRE(WaitFor([&] { return runner.engine().held() == 2; }));
  // The master replaces the worker: first the request, then the stop.
  worker.RequestHandOver();
  worker.stop().RequestStop();

  // Two connections arrive at the master: the idle one at once, the busy
  // one once its calls there whole are answered, with the rest it read.
  ChannelMessage first = worker.ReceiveFromWorker();
  ChannelMessage second = worker.ReceiveFromWorker();
  CHECK(first.kind == kChannelConnection);
  // Each names its listener (the test's has the key "") before the carried bytes.
  CHECK(first.text == std::string(1, '\0'));
  CHECK(second.kind == kChannelConnection);
  CHECK(second.text == '\0' + add.substr(0, 9));
  REQUIRE(first.passed.valid());
  REQUIRE(second.passed.valid());
  std::vector<Reply> replies;
  REQUIRE(ReadReplies(client.get(), {}, 2, &replies));
  CHECK(replies[0] == Reply{"sleep", 1, ""});
  CHECK(replies[1] == Reply{"ping", 2, "pong"});
  REQUIRE(runner.WaitUntilStopped());
  CHECK(runner.engine().held() == 0);
  CHECK_FALSE(ClosedNow(client.get()));
  CHECK_FALSE(ClosedNow(idle.get()));

  // Where the connection lands, the call goes on from the carried bytes.
  Connection adopted(std::move(second.passed), worker.runtime(), worker.runtime().listener(0),
                     second.text.substr(1));
  REQUIRE(SendAll(client.get(), add.substr(9)));
  bool progressed = false;
  CHECK(adopted.RunTurn(&progressed) == Connection::Phase::kIdle);
  REQUIRE(ReadReplies(client.get(), {}, 1, &replies));
  CHECK(replies[0] == Reply{"add", 3, "42"});
}

TEST_CASE("a graceful stop lets a call in flight finish, closes idle connections at once") {
  FOR_EACH_KIND(kind);
  TestWorker worker;
  EngineRunner runner(worker, kind, 2);
  UniqueFd busy = Connect(worker, SleepCall(600, 1));
  UniqueFd idle = Connect(worker);
  REQUIRE(WaitFor([&] { return worker.handler().sleeping.load() == 1; }));
  REQUIRE(WaitFor([&] { return runner.engine().held() == 2; }));
  worker.stop().RequestStop();
  CHECK(WaitForClose(idle.get()));
  CHECK(worker.handler().sleeping.load() == 1);  // still in its call
  CHECK_FALSE(runner.Stopped());
  std::vector<Reply> replies;
  REQUIRE(ReadReplies(busy.get(), {}, 1, &replies));
  CHECK(replies[0] == Reply{"sleep", 1, ""});
  CHECK(worker.handler().shortest_sleep_over_asked.load() >= 0);  // not cut short
  CHECK(runner.WaitUntilStopped());
  CHECK(WaitForClose(busy.get()));
  CHECK(runner.engine().held() == 0);
}

TEST_CASE("a graceful stop closes a connection stuck mid-message at graceful_timeout") {
  FOR_EACH_KIND(kind);
  LogCapture log;  // before the engine's threads start, after they end
  WorkerSettings settings;
  settings.graceful_timeout = 0.3;
  TestWorker worker(settings);
  {
    EngineRunner runner(worker, kind);
    UniqueFd stuck = Connect(worker, PingCall(1).substr(0, 5));
    REQUIRE(WaitFor([&] { return runner.engine().held() == 1; }));
    auto start = Clock::now();
    worker.stop().RequestStop();
    REQUIRE(runner.WaitUntilStopped());
    CHECK(MillisSince(start) >= 250);
    CHECK(MillisSince(start) < 3000);
    CHECK(WaitForClose(stuck.get()));
    CHECK(runner.engine().held() == 0);
  }
  CHECK(log.Text().find("[WARNING] closing connection from unix socket: unfinished at the end of "
                        "graceful_timeout\n") != std::string::npos);
}

TEST_CASE("a quick stop returns at once, whatever the connections hold") {
  FOR_EACH_KIND(kind);
  WorkerSettings settings;
  settings.graceful_timeout = 30;
  TestWorker worker(settings);
  EngineRunner runner(worker, kind);
  UniqueFd stuck = Connect(worker, PingCall(1).substr(0, 5));
  UniqueFd idle = Connect(worker);
  REQUIRE(WaitFor([&] { return runner.engine().held() == 2; }));
  SUBCASE("alone") {}
  SUBCASE("after a graceful one") {
    worker.stop().RequestStop();
    REQUIRE(WaitForClose(idle.get()));
    CHECK_FALSE(WaitFor([&] { return runner.Stopped(); }, 200ms));  // the stuck one holds it
  }
  auto start = Clock::now();
  worker.stop().RequestStop(/*quick=*/true);
  REQUIRE(runner.WaitUntilStopped());
  CHECK(MillisSince(start) < 1000);
}

TEST_CASE("the master going away stops the worker") {
  FOR_EACH_KIND(kind);
  TestWorker worker;
  EngineRunner runner(worker, kind);
  UniqueFd client = Connect(worker, PingCall(1));
  std::vector<Reply> replies;
  REQUIRE(ReadReplies(client.get(), {}, 1, &replies));
  worker.CloseMasterEnd();
  CHECK(runner.WaitUntilStopped());
  CHECK(worker.stop().stop_requested());
  CHECK(WaitForClose(client.get()));
}

void RaiseDescriptorLimit(rlim_t needed) {
  rlimit limit{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &limit) == 0);
  if (limit.rlim_cur >= needed) return;
  REQUIRE_MESSAGE(limit.rlim_max >= needed, "the hard RLIMIT_NOFILE is below " << needed);
  limit.rlim_cur = needed;
  REQUIRE(setrlimit(RLIMIT_NOFILE, &limit) == 0);
}

TEST_CASE("more than 1,024 connections at once are all held and served") {
  // The slot table grows by chunks of 1,024.
  FOR_EACH_KIND(kind);
  constexpr int kClients = 1100;
  RaiseDescriptorLimit(2 * kClients + 256);
  WorkerSettings settings;
  settings.worker_connections = 2 * kClients;
  TestWorker worker(settings);
  EngineRunner runner(worker, kind, 2);
  std::vector<UniqueFd> clients;
  for (int i = 0; i < kClients; ++i) clients.push_back(Connect(worker, PingCall(i)));
  int wrong = 0;
  for (int i = 0; i < kClients; ++i) {
    std::vector<Reply> replies;
    if (!ReadReplies(clients[i].get(), {}, 1, &replies) ||
        !(replies[0] == Reply{"ping", i, "pong"}))
      ++wrong;
  }
  CHECK(wrong == 0);
  CHECK(runner.engine().held() == kClients);
  // A second round on the same connections, in reverse.
  for (int i = kClients - 1; i >= 0; --i) REQUIRE(SendAll(clients[i].get(), AddCall(i, 1, i)));
  for (int i = 0; i < kClients; ++i) {
    std::vector<Reply> replies;
    if (!ReadReplies(clients[i].get(), {}, 1, &replies) ||
        !(replies[0] == Reply{"add", i, std::to_string(i + 1)}))
      ++wrong;
  }
  CHECK(wrong == 0);
  StopAndJoin(worker, runner);
  int open = 0;
  for (UniqueFd& client : clients) open += WaitForClose(client.get()) ? 0 : 1;
  CHECK(open == 0);
}

TEST_CASE("a connection past the slot table's limit is closed, logged and counted out") {
  // Unreachable in thriftd (2^26 slots, far past worker_connections), so
  // the limit is lowered here. It was closed with no log line, and neither
  // reported nor checked for the end of a stop.
  FOR_EACH_KIND(kind);
  LogCapture log;  // before the engine's threads start, after they end
  {
    TestWorker worker;
    ConnectionEngine::Options options;
    options.max_slots = 1;
    EngineRunner runner(worker, kind, 2, options);
    UniqueFd held = Connect(worker, PingCall(1));
    std::vector<Reply> replies;
    REQUIRE(ReadReplies(held.get(), {}, 1, &replies));
    UniqueFd refused = Connect(worker, PingCall(2));
    CHECK(WaitForClose(refused.get()));
    CHECK(WaitFor([&] { return runner.engine().held() == 1; }));
    CHECK(WaitFor([&] { return worker.slot().connections.load() == 1; }));
    REQUIRE(SendAll(held.get(), PingCall(3)));
    REQUIRE(ReadReplies(held.get(), {}, 1, &replies));
    CHECK(replies[0] == Reply{"ping", 3, "pong"});
    StopAndJoin(worker, runner);
  }
  CHECK(log.Text().find("[WARNING] closing connection from unix socket: no slot for it: the worker "
                        "holds 1 connections\n") != std::string::npos);
}

TEST_CASE("one pool thread: clients that sent half a message do not stop another") {
  FOR_EACH_KIND(kind);
  TestWorker worker;
  EngineRunner runner(worker, kind, /*threads=*/1);
  std::vector<UniqueFd> slow;
  std::vector<std::string> calls;
  for (int i = 0; i < 50; ++i) {
    calls.push_back(EchoCall("slow " + std::to_string(i), i));
    slow.push_back(Connect(worker, calls.back().substr(0, 10)));
  }
  UniqueFd good = Connect(worker, PingCall(1000));
  std::vector<Reply> replies;
  REQUIRE(ReadReplies(good.get(), {}, 1, &replies, 2s));
  CHECK(replies[0] == Reply{"ping", 1000, "pong"});
  CHECK(worker.handler().calls.load() == 1);
  CHECK(runner.engine().held() == 51);
  for (int i = 0; i < 50; ++i) REQUIRE(SendAll(slow[i].get(), calls[i].substr(10)));
  for (int i = 0; i < 50; ++i) {
    REQUIRE(ReadReplies(slow[i].get(), {}, 1, &replies));
    CHECK(replies[0] == Reply{"echo", i, "slow " + std::to_string(i)});
  }
  StopAndJoin(worker, runner);
}

TEST_CASE("one pool thread: a client that never reads its replies does not stop others") {
  FOR_EACH_KIND(kind);
  constexpr int kCalls = 64;
  constexpr std::size_t kPayload = 32 * 1024;
  TestWorker worker;
  EngineRunner runner(worker, kind, /*threads=*/1);
  std::string calls;
  for (int i = 1; i <= kCalls; ++i) calls += EchoCall(std::string(kPayload, 'g'), i);
  std::string_view unsent = calls;
  UniqueFd greedy = Connect(worker);
  // Sends until the worker takes no more: it holds replies, not reading on.
  while (!unsent.empty()) {
    unsent.remove_prefix(SendSome(greedy.get(), unsent));
    pollfd p{greedy.get(), POLLOUT, 0};
    if (poll(&p, 1, 200) == 0) break;
  }
  REQUIRE_FALSE(unsent.empty());
  UniqueFd good = Connect(worker, PingCall(1));
  std::vector<Reply> replies;
  REQUIRE(ReadReplies(good.get(), {}, 1, &replies, 2s));
  CHECK(replies[0] == Reply{"ping", 1, "pong"});
  int greedy_served = worker.handler().calls.load() - 1;
  CHECK(greedy_served > 0);
  CHECK(greedy_served < kCalls);

  // The greedy client catches up: all its replies come, in order.
  std::string received;
  auto deadline = Clock::now() + 10s;
  while (!DecodeReplies({}, received, kCalls, &replies) && Clock::now() < deadline) {
    unsent.remove_prefix(SendSome(greedy.get(), unsent));
    ReceiveSome(greedy.get(), &received);
    pollfd p{greedy.get(), POLLIN, 0};
    poll(&p, 1, 10);
  }
  REQUIRE(replies.size() == kCalls);
  for (int i = 1; i <= kCalls; ++i) REQUIRE(replies[i - 1].seqid == i);
  StopAndJoin(worker, runner);
}

TEST_CASE("the engine accepts from a listening socket") {
  FOR_EACH_KIND(kind);
  UniqueFd listener(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  REQUIRE(listener.valid());
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::string name = "thriftd-unit-" + std::to_string(getpid()) + "-" + KindName(kind);
  std::copy(name.begin(), name.end(), address.sun_path + 1);  // abstract: no file to remove
  socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  REQUIRE(bind(listener.get(), reinterpret_cast<sockaddr*>(&address), length) == 0);
  REQUIRE(listen(listener.get(), 16) == 0);
  TestWorker worker({}, 0, {listener.get()});
  EngineRunner runner(worker, kind);
  UniqueFd client(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(connect(client.get(), reinterpret_cast<sockaddr*>(&address), length) == 0);
  REQUIRE(fcntl(client.get(), F_SETFL, O_NONBLOCK) == 0);
  REQUIRE(SendAll(client.get(), PingCall(5)));
  std::vector<Reply> replies;
  REQUIRE(ReadReplies(client.get(), {}, 1, &replies));
  CHECK(replies[0] == Reply{"ping", 5, "pong"});
  StopAndJoin(worker, runner);
}

// --- several loop threads: pollers and parked threads ------------------------------

/// One poller and two parked threads, Run(16) as ThreadWorker runs it.
ConnectionEngine::Options OnePoller(std::chrono::milliseconds watch_interval) {
  ConnectionEngine::Options options;
  options.pollers = 1;
  options.watch_interval = watch_interval;
  return options;
}

/// Lets every sleep() call through the gate when the test ends, even early
/// (a failed REQUIRE), so the loop threads can be stopped.
struct OpenGateAtEnd {
  TestHandler& handler;
  ~OpenGateAtEnd() { handler.sleeps_admitted = INT_MAX; }
};

/// Connections the engine holds, each served once (so each is registered).
std::vector<UniqueFd> ConnectServed(TestWorker& worker, int count) {
  std::vector<UniqueFd> clients;
  for (int i = 0; i < count; ++i) {
    clients.push_back(Connect(worker));
    REQUIRE(SendAll(clients.back().get(), PingCall(100 + i)));
    std::vector<Reply> replies;
    REQUIRE(ReadReplies(clients.back().get(), {}, 1, &replies));
  }
  return clients;
}

TEST_CASE(
    "regression: a poller that shares events while the others are stuck calls a parked thread") {
  // The poller that shares is about to run a turn itself, but counted itself
  // free: no parked thread came until one looked on its own (after 10 ms
  // then; here the watching one is set to look once an hour).
  TestWorker worker;
  EngineRunner runner(worker, Kind::kThread, /*threads=*/3, OnePoller(std::chrono::hours(1)),
                      /*events_per_wait=*/16);
  std::vector<UniqueFd> clients = ConnectServed(worker, 3);
  TestHandler& handler = worker.handler();
  OpenGateAtEnd open_gate{handler};
  handler.sleeps_admitted = 0;
  REQUIRE(SendAll(clients[0].get(), SleepCall(0, 1)));
  REQUIRE(WaitFor([&] { return handler.sleeping.load() == 1; }));
  // The one poller is held in that call: the next two arrive before it
  // looks, so it takes both in one wait, keeps one and shares the other.
  REQUIRE(SendAll(clients[1].get(), SleepCall(0, 2)));
  REQUIRE(SendAll(clients[2].get(), SleepCall(0, 3)));
  handler.sleeps_admitted = 1;
  // The kept one holds the poller at the gate; a parked thread takes the other.
  CHECK(WaitFor([&] { return handler.sleeping.load() == 2; }));
  handler.sleeps_admitted = INT_MAX;
  for (int i = 0; i < 3; ++i) {
    std::vector<Reply> replies;
    REQUIRE(ReadReplies(clients[i].get(), {}, 1, &replies));
    CHECK(replies[0] == Reply{"sleep", i + 1, ""});
  }
  StopAndJoin(worker, runner);
}

TEST_CASE("with every poller stuck in a handler, parked threads join the pollers one by one") {
  // Calls that come one at a time, each once the last holds its thread: no
  // poller shares them, so the watching parked thread finds them, and the
  // one after it takes the watch.
  TestWorker worker;
  EngineRunner runner(worker, Kind::kThread, /*threads=*/3, OnePoller(10ms),
                      /*events_per_wait=*/16);
  std::vector<UniqueFd> clients = ConnectServed(worker, 3);
  TestHandler& handler = worker.handler();
  OpenGateAtEnd open_gate{handler};
  handler.sleeps_admitted = 0;
  for (int i = 0; i < 3; ++i) {
    REQUIRE(SendAll(clients[i].get(), SleepCall(0, i + 1)));
    REQUIRE(WaitFor([&] { return handler.sleeping.load() == i + 1; }));
  }
  handler.sleeps_admitted = INT_MAX;
  for (int i = 0; i < 3; ++i) {
    std::vector<Reply> replies;
    REQUIRE(ReadReplies(clients[i].get(), {}, 1, &replies));
    CHECK(replies[0] == Reply{"sleep", i + 1, ""});
  }
  StopAndJoin(worker, runner);
}

// --- the kinds themselves ------------------------------------------------------------

/// Runs a kind on its own thread, as a worker process's main thread would;
/// when the test ends (a failed REQUIRE included) stops the worker and joins.
class KindThread {
 public:
  template <typename Body>
  KindThread(TestWorker& worker, Body body)
      : worker_(worker), thread_([this, body] {
          body();
          returned_ = true;
        }) {}
  ~KindThread() {
    if (!thread_.joinable()) return;
    worker_.stop().RequestStop();
    thread_.join();
  }
  /// Waits until Run() has returned, then joins.
  bool WaitUntilReturned() {
    if (!WaitFor([this] { return returned_.load(); })) return false;
    thread_.join();
    return true;
  }

 private:
  TestWorker& worker_;
  std::atomic<bool> returned_{false};
  std::thread thread_;
};

TEST_CASE("regression: connections adopted together are served by several pool threads at once") {
  // ThreadWorker itself, with four threads. The master relayed eight
  // connections with a call each waiting: the thread that read the channel
  // ran their first turns one after another while the others idled.
  WorkerSettings settings;
  settings.threads = 4;
  TestWorker worker(settings);
  ThreadWorker kind;
  std::string error;
  REQUIRE(kind.InitProcess(worker.runtime(), &error));
  std::vector<UniqueFd> clients;
  for (int i = 0; i < 8; ++i) clients.push_back(Connect(worker, SleepCall(200, i)));
  KindThread serving(worker, [&] { kind.Run(worker.runtime()); });
  for (int i = 0; i < 8; ++i) {
    std::vector<Reply> replies;
    REQUIRE(ReadReplies(clients[i].get(), {}, 1, &replies));
    CHECK(replies[0] == Reply{"sleep", i, ""});
  }
  CHECK(worker.handler().peak_sleeping.load() == 4);
  worker.stop().RequestStop();
  CHECK(serving.WaitUntilReturned());
}

TEST_CASE("FiberWorker runs every sleeping call at once and returns from Run after a stop") {
  TestWorker worker;
  std::atomic<bool> ready{false};
  std::string error;
  // Init and Run on one thread: the scheduler belongs to the loop thread.
  KindThread loop(worker, [&] {
    FiberWorker kind;
    bool ok = kind.InitProcess(worker.runtime(), &error);
    ready = true;
    if (ok) kind.Run(worker.runtime());
  });
  REQUIRE(WaitFor([&] { return ready.load(); }));
  CHECK(error == "");
  std::vector<UniqueFd> clients;
  for (int i = 0; i < 8; ++i) clients.push_back(Connect(worker, SleepCall(200, i)));
  REQUIRE(WaitFor([&] { return worker.handler().sleeping.load() == 8; }));
  UniqueFd quick = Connect(worker, PingCall(100));
  std::vector<Reply> replies;
  REQUIRE(ReadReplies(quick.get(), {}, 1, &replies));
  CHECK(replies[0] == Reply{"ping", 100, "pong"});
  for (int i = 0; i < 8; ++i) {
    REQUIRE(ReadReplies(clients[i].get(), {}, 1, &replies));
    CHECK(replies[0] == Reply{"sleep", i, ""});
  }
  CHECK(worker.handler().peak_sleeping.load() == 8);
  worker.stop().RequestStop();
  CHECK(loop.WaitUntilReturned());
}

}  // namespace
}  // namespace thriftd
