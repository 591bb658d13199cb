// WorkerRuntime: what a worker's connections report to, and what decides
// whether it accepts, with a private scoreboard and the test as the master.
#include "workers/worker_runtime.h"

#include <doctest/doctest.h>
#include <sys/resource.h>
#include <sys/un.h>

#include <new>
#include <string>
#include <vector>

#include "tests/unit/worker_fixture.h"

namespace thriftd {
namespace {

using namespace thriftd_test;

TEST_CASE("ShouldAccept: not at worker_connections, not while stopping") {
  WorkerSettings settings;
  settings.worker_connections = 3;
  TestWorker worker(settings);
  CHECK(worker.runtime().ShouldAccept(0));
  CHECK(worker.runtime().ShouldAccept(2));
  CHECK_FALSE(worker.runtime().ShouldAccept(3));
  worker.runtime().LimitConnections(1);
  CHECK(worker.runtime().worker_connections() == 1);
  CHECK_FALSE(worker.runtime().ShouldAccept(1));
  worker.stop().RequestStop();
  CHECK_FALSE(worker.runtime().ShouldAccept(0));
}

TEST_CASE("out of descriptors: Accept backs off, and says so once until it accepts again") {
  LogCapture log(LogLevel::kInfo);
  UniqueFd listener(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  REQUIRE(listener.valid());
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::string name = "thriftd-unit-accept-" + std::to_string(getpid());
  std::copy(name.begin(), name.end(), address.sun_path + 1);  // abstract: no file to remove
  socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  REQUIRE(bind(listener.get(), reinterpret_cast<sockaddr*>(&address), length) == 0);
  REQUIRE(listen(listener.get(), 4) == 0);
  std::vector<UniqueFd> clients;
  for (int i = 0; i < 3; ++i) {
    clients.emplace_back(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(connect(clients.back().get(), reinterpret_cast<sockaddr*>(&address), length) == 0);
  }
  TestWorker worker;
  WorkerRuntime& runtime = worker.runtime();

  // No descriptor left: the lowest free one is the limit.
  rlimit saved{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &saved) == 0);
  {
    UniqueFd lowest_free(dup(0));
    REQUIRE(lowest_free.valid());
    rlimit none = saved;
    none.rlim_cur = static_cast<rlim_t>(lowest_free.get());
    lowest_free.Reset();
    REQUIRE(setrlimit(RLIMIT_NOFILE, &none) == 0);
  }
  int first = runtime.Accept(listener.get());
  int second = runtime.Accept(listener.get());
  bool declined = !runtime.ShouldAccept(0);
  REQUIRE(setrlimit(RLIMIT_NOFILE, &saved) == 0);
  CHECK(first == -1);
  CHECK(second == -1);
  CHECK(declined);  // for kBackoffMs

  UniqueFd accepted(runtime.Accept(listener.get()));
  CHECK(accepted.valid());
  std::string text = log.Text();
  const std::string said =
      "[ERROR] accept: Too many open files; backing off until descriptors are free\n";
  CHECK(text.find(said) != std::string::npos);
  CHECK(text.find(said) == text.rfind(said));  // once
  CHECK(text.find("[INFO] accept: accepting again\n") != std::string::npos);
}

TEST_CASE("ShouldAccept: a worker holding more than its share of the others' average declines") {
  std::unique_ptr<Scoreboard> board;
  REQUIRE(Scoreboard::Create(&board).ok());
  // This worker is slot 0; slot 1 is another ready worker holding 10.
  board->Reset(0);
  board->Reset(1);
  ScoreboardSlot& other = board->slot(1);
  other.pid.store(4242);
  other.Store(SlotState::kReady);
  other.connections.store(10);
  other.connection_limit.store(100);
  StopSignal stop;
  REQUIRE(stop.Open().ok());
  WorkerRuntime::Options options;
  options.scoreboard = board.get();
  options.slot = 0;
  options.stop = &stop;
  WorkerRuntime runtime(std::move(options));
  // held < 1.25 x 10 + 2
  CHECK(runtime.ShouldAccept(14));
  CHECK_FALSE(runtime.ShouldAccept(15));
  // A full worker is no measure: it could not take them anyway.
  other.connections.store(100);
  CHECK(runtime.ShouldAccept(500));
  // Nor one that is not ready.
  other.connections.store(0);
  other.Store(SlotState::kDraining);
  CHECK(runtime.ShouldAccept(500));
}

TEST_CASE("the master gone: PollChannel says so and requests a stop") {
  TestWorker worker;
  CHECK(worker.runtime().PollChannel());
  CHECK_FALSE(worker.runtime().stop_requested());
  worker.CloseMasterEnd();
  CHECK_FALSE(worker.runtime().PollChannel());
  CHECK(worker.runtime().stop_requested());
  CHECK_FALSE(worker.runtime().quick_stop_requested());
}

TEST_CASE("a connection is handed over only when the master asked for it") {
  TestWorker worker;
  SocketPair pair = MakeSocketPair();
  auto connection = worker.runtime().NewConnection(std::move(pair.server), 0);
  REQUIRE(connection);
  CHECK_FALSE(worker.runtime().HandOverConnection(*connection));
  CHECK(connection->fd() >= 0);  // still here
  worker.RequestHandOver();
  CHECK(worker.runtime().PollChannel());
  CHECK(worker.runtime().hand_over_requested());
  CHECK(worker.runtime().HandOverConnection(*connection));
  CHECK(connection->fd() == -1);
  ChannelMessage message = worker.ReceiveFromWorker();
  CHECK(message.kind == kChannelConnection);
  CHECK(message.passed.valid());
}

TEST_CASE("at max_requests the worker asks the master for a successor") {
  TestWorker worker({}, /*max_requests=*/2);
  SocketPair pair = MakeSocketPair();
  int client = pair.client.get();
  Connection connection(std::move(pair.server), worker.runtime(), worker.runtime().listener(0));
  bool progressed = false;
  REQUIRE(SendAll(client, PingCall(1)));
  CHECK(connection.RunTurn(&progressed) == Connection::Phase::kIdle);
  CHECK_FALSE(worker.runtime().retiring());
  CHECK(worker.runtime().ShouldAccept(0));
  REQUIRE(SendAll(client, PingCall(2)));
  CHECK(connection.RunTurn(&progressed) == Connection::Phase::kIdle);
  CHECK(worker.runtime().retiring());
  CHECK_FALSE(worker.runtime().ShouldAccept(0));
  CHECK(worker.ReceiveFromWorker().kind == kChannelRetire);
  CHECK(worker.runtime().calls_served() == 2);
}

/// Calls of "PingPong.ping" counted in `board`'s slot 0.
std::uint64_t PingCalls(Scoreboard& board) {
  for (MethodStats& entry : board.slot(0).methods) {
    if (entry.used.load() == 1 && std::string(entry.name) == "PingPong.ping")
      return entry.calls[0].load();
  }
  return 0;
}

TEST_CASE("regression: a runtime made where an earlier one was counts in its own scoreboard") {
  // A thread remembered where each method's counters were, keyed by the
  // runtime's address: a later runtime at that address counted its calls
  // in the earlier runtime's scoreboard (unmapped, in the tests).
  std::unique_ptr<Scoreboard> boards[2];
  StopSignal stop;
  REQUIRE(stop.Open().ok());
  auto handler = std::make_shared<TestHandler>();
  auto factory = std::make_shared<apache::thrift::TSingletonProcessorFactory>(
      std::make_shared<pingpong::PingPongProcessor>(handler));
  alignas(WorkerRuntime) unsigned char storage[sizeof(WorkerRuntime)];
  for (int round = 0; round < 2; ++round) {
    REQUIRE(Scoreboard::Create(&boards[round]).ok());
    boards[round]->Reset(0);
    WorkerRuntime::Options options;
    options.listeners = {{{}, {factory, nullptr}, nullptr}};
    options.scoreboard = boards[round].get();
    options.stop = &stop;
    auto* runtime = new (storage) WorkerRuntime(std::move(options));  // the same address each time
    {
      SocketPair pair = MakeSocketPair();
      Connection connection(std::move(pair.server), *runtime, runtime->listener(0));
      REQUIRE(SendAll(pair.client.get(), PingCall(round)));
      bool progressed = false;
      CHECK(connection.RunTurn(&progressed) == Connection::Phase::kIdle);
    }
    runtime->~WorkerRuntime();
  }
  CHECK(PingCalls(*boards[0]) == 1);
  CHECK(PingCalls(*boards[1]) == 1);
}

}  // namespace
}  // namespace thriftd
