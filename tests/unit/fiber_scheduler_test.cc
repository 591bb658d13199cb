// FiberScheduler: each turn in a fiber on the engine's one loop thread, so
// that thriftd::sleep_for parks only its own call.
#include "workers/fiber_scheduler.h"

#include <doctest/doctest.h>

#include <boost/context/stack_traits.hpp>
#include <string>
#include <vector>

#include "tests/unit/worker_fixture.h"

namespace thriftd {
namespace {

using namespace thriftd_test;

UniqueFd Connect(TestWorker& worker, std::string_view first_bytes) {
  SocketPair pair = MakeSocketPair();
  REQUIRE(SendAll(pair.client.get(), first_bytes));
  worker.Adopt(std::move(pair.server));
  return std::move(pair.client);
}

TEST_CASE("sleep_for parks only its own call: the loop answers others meanwhile") {
  TestWorker worker;
  EngineRunner runner(worker, Kind::kFiber);
  UniqueFd sleeper = Connect(worker, SleepCall(500, 1));
  REQUIRE(WaitFor([&] { return worker.handler().sleeping.load() == 1; }));
  UniqueFd other = Connect(worker, PingCall(2) + AddCall(1, 1, 3));
  std::vector<Reply> replies;
  REQUIRE(ReadReplies(other.get(), {}, 2, &replies));
  CHECK(replies[0] == Reply{"ping", 2, "pong"});
  CHECK(replies[1] == Reply{"add", 3, "2"});
  CHECK(worker.handler().sleeping.load() == 1);  // answered while the other sleeps
  REQUIRE(ReadReplies(sleeper.get(), {}, 1, &replies));
  CHECK(replies[0] == Reply{"sleep", 1, ""});
  worker.stop().RequestStop();
  CHECK(runner.WaitUntilStopped());
}

TEST_CASE("sleep_for never wakes a fiber early") {
  TestWorker worker;
  EngineRunner runner(worker, Kind::kFiber);
  std::vector<UniqueFd> clients;
  for (int ms = 1; ms <= 30; ++ms) clients.push_back(Connect(worker, SleepCall(ms, ms)));
  for (int ms = 1; ms <= 30; ++ms) {
    std::vector<Reply> replies;
    REQUIRE(ReadReplies(clients[ms - 1].get(), {}, 1, &replies));
    CHECK(replies[0] == Reply{"sleep", ms, ""});
  }
  CHECK(worker.handler().shortest_sleep_over_asked.load() >= 0);
  worker.stop().RequestStop();
  CHECK(runner.WaitUntilStopped());
}

TEST_CASE(
    "regression: a fiber stack that cannot be mapped closes that connection, not the worker") {
  // The stack's allocation threw through Dispatch and Run, and the worker
  // ended with every connection it held.
  if (!boost::context::stack_traits::is_unbounded()) {
    MESSAGE("skipped: RLIMIT_STACK has a hard limit, which Boost.Context asserts stacks fit in");
    return;
  }
  LogCapture log;  // before the engine's threads start, after they end
  {
    WorkerSettings settings;
    settings.fiber_stack_size = std::int64_t{1} << 50;  // past any address space
    TestWorker worker(settings);
    EngineRunner runner(worker, Kind::kFiber);
    UniqueFd first = Connect(worker, PingCall(1));
    UniqueFd second = Connect(worker, PingCall(2));
    CHECK(WaitForClose(first.get()));
    CHECK(WaitForClose(second.get()));
    CHECK(WaitFor([&] { return runner.engine().held() == 0; }));
    CHECK_FALSE(runner.Stopped());
    worker.stop().RequestStop();
    CHECK(runner.WaitUntilStopped());
  }
  CHECK(log.Text().find("[WARNING] closing connection from unix socket: no fiber to serve it (a "
                        "1125899906842624-byte stack): std::bad_alloc\n") != std::string::npos);
}

TEST_CASE("outside a fiber, sleep_for sleeps the calling thread") {
  CHECK_FALSE(FiberScheduler::SleepInCurrentFiber(1));
  auto start = Clock::now();
  thriftd::sleep_for(std::chrono::milliseconds(20));
  CHECK(MillisSince(start) >= 20);
}

TEST_CASE("200 calls asleep at once run in 200 fibers; then at most kMaxIdleFibers are kept") {
  constexpr int kCalls = 200;
  static_assert(kCalls > static_cast<int>(FiberScheduler::kMaxIdleFibers));
  TestWorker worker;
  EngineRunner runner(worker, Kind::kFiber);
  // All 200 are parked at the gate before any sleeps its 200 ms.
  worker.handler().gate_closed = true;
  std::vector<UniqueFd> clients;
  for (int i = 0; i < kCalls; ++i) clients.push_back(Connect(worker, SleepCall(200, i)));
  REQUIRE(
      WaitFor([&] { return worker.handler().sleeping.load() == kCalls; }, 5s * kSanitizerSlowdown));
  EngineRunner::FiberCounts busy = runner.ProbeFibers();
  CHECK(busy.fibers == kCalls);
  CHECK(busy.idle == 0);
  auto start = Clock::now();
  worker.handler().gate_closed = false;
  int wrong = 0;
  for (int i = 0; i < kCalls; ++i) {
    std::vector<Reply> replies;
    if (!ReadReplies(clients[i].get(), {}, 1, &replies) || !(replies[0] == Reply{"sleep", i, ""}))
      ++wrong;
  }
  CHECK(wrong == 0);
  // One after another they would take 40 s.
  CHECK(MillisSince(start) < 2000 * kSanitizerSlowdown);
  EngineRunner::FiberCounts after = runner.ProbeFibers();
  CHECK(after.fibers == FiberScheduler::kMaxIdleFibers);
  CHECK(after.idle == FiberScheduler::kMaxIdleFibers);
  // The fibers kept serve the next calls.
  for (int i = 0; i < kCalls; ++i) REQUIRE(SendAll(clients[i].get(), PingCall(1000 + i)));
  for (int i = 0; i < kCalls; ++i) {
    std::vector<Reply> replies;
    if (!ReadReplies(clients[i].get(), {}, 1, &replies) ||
        !(replies[0] == Reply{"ping", 1000 + i, "pong"}))
      ++wrong;
  }
  CHECK(wrong == 0);
  CHECK(runner.ProbeFibers().fibers == FiberScheduler::kMaxIdleFibers);
  worker.stop().RequestStop();
  CHECK(runner.WaitUntilStopped());
}

TEST_CASE("the watchdog warns when a handler blocks the loop, naming the method") {
  LogCapture log;  // before the loop and its watchdog start, after they end
  WorkerSettings settings;
  settings.fiber_check_interval = 0.1;
  TestWorker worker(settings);
  worker.handler().block_loop = true;
  {
    EngineRunner runner(worker, Kind::kFiber);
    UniqueFd client = Connect(worker, SleepCall(400, 1));
    std::vector<Reply> replies;
    REQUIRE(ReadReplies(client.get(), {}, 1, &replies));
    CHECK(replies[0] == Reply{"sleep", 1, ""});
    worker.stop().RequestStop();
    CHECK(runner.WaitUntilStopped());
  }
  std::string text = log.Text();
  CHECK(text.find("[WARNING] fiber worker: a handler has blocked the event loop for ") !=
        std::string::npos);
  CHECK(text.find(" s (method PingPong.sleep); use thriftd::sleep_for, not a blocking wait\n") !=
        std::string::npos);
}

}  // namespace
}  // namespace thriftd
