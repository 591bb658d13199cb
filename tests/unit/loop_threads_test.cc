// LoopThreads: the thread kind's pool, driven directly by test threads
// playing loop threads (the engine's tests drive it through real calls).
#include "workers/loop_threads.h"

#include <doctest/doctest.h>
#include <sys/epoll.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "tests/unit/worker_fixture.h"

namespace thriftd {
namespace {

using namespace thriftd_test;

constexpr std::uint64_t kKickTag = 4;

/// One poller; parked threads watch once an hour, so they come only when
/// called (or when the loop is done).
LoopThreads::Options OnePollerNoWatch(int threads) {
  LoopThreads::Options options;
  options.threads = threads;
  options.pollers = 1;
  options.watch_interval = std::chrono::hours(1);
  return options;
}

struct Pool {
  explicit Pool(int threads) : threads(OnePollerNoWatch(threads), done) {
    REQUIRE(epoll_fd.valid());
    REQUIRE(this->threads.Open(epoll_fd.get(), kKickTag).ok());
  }
  /// However the test ends, parked threads leave.
  ~Pool() {
    done = true;
    threads.WakeAll();
  }
  UniqueFd epoll_fd{epoll_create1(EPOLL_CLOEXEC)};
  std::atomic<bool> done{false};
  LoopThreads threads;
};

epoll_event EventTagged(std::uint64_t tag) {
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = tag;
  return event;
}

TEST_CASE("regression: a thread that parks just after events were shared takes them at once") {
  // It looked for shared events, found none, and parked; the events shared
  // in between called nobody (nobody was parked yet), so they waited for the
  // watcher's next look.
  Pool pool(2);
  pool.threads.Enter();
  REQUIRE(pool.threads.TakePollerRole());  // this thread polls, and is free
  epoll_event shared = EventTagged(1 << 20);
  pool.threads.Share(&shared, 1);
  std::atomic<bool> took{false};
  std::thread late([&] {
    pool.threads.Enter();
    if (!pool.threads.TakePollerRole()) pool.threads.Park();
    epoll_event event{};
    took = pool.threads.TakeShared(&event) && event.data.u64 == shared.data.u64;
    pool.threads.Leave();
  });
  CHECK(WaitFor([&] { return took.load(); }));
  pool.done = true;
  pool.threads.WakeAll();
  late.join();
  pool.threads.Leave();
}

TEST_CASE("events the only poller shares from a turn go to a parked thread") {
  Pool pool(2);
  // The main thread polls before the other starts, so the other can only park.
  pool.threads.Enter();
  REQUIRE(pool.threads.TakePollerRole());
  std::atomic<bool> took{false};
  std::thread parked([&] {
    pool.threads.Enter();
    while (!pool.done.load() && !took.load()) {
      epoll_event event{};
      if (pool.threads.TakeShared(&event)) {
        took = true;
        break;
      }
      if (!pool.threads.TakePollerRole()) pool.threads.Park();
    }
    pool.threads.Leave();
  });
  {
    LoopThreads::Turn turn(pool.threads);  // and stays in it, as a blocked handler would
    epoll_event shared = EventTagged(1 << 20);
    pool.threads.Share(&shared, 1);
    CHECK(WaitFor([&] { return took.load(); }));
  }
  pool.done = true;
  pool.threads.WakeAll();
  parked.join();
  pool.threads.Leave();
}

TEST_CASE("when the loop is done, WakeAll ends every Park") {
  Pool pool(4);
  pool.threads.Enter();
  REQUIRE(pool.threads.TakePollerRole());
  std::atomic<int> left{0};
  std::vector<std::thread> parked;
  for (int i = 0; i < 3; ++i) {
    parked.emplace_back([&] {
      pool.threads.Enter();
      if (!pool.threads.TakePollerRole()) pool.threads.Park();
      pool.threads.Leave();
      ++left;
    });
  }
  pool.done = true;
  pool.threads.WakeAll();
  CHECK(WaitFor([&] { return left.load() == 3; }));
  for (std::thread& thread : parked) thread.join();
  pool.threads.Leave();
}

}  // namespace
}  // namespace thriftd
