// The arbiter's supervision decisions, through a fake OS seam: no process is
// forked. Each test states which workers are spawned and which signals are
// sent, in order.
#include "src/arbiter.h"

#include <doctest/doctest.h>
#include <signal.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "src/base/exit_codes.h"

namespace thriftd {
namespace {

std::string SignalName(int signo) {
  switch (signo) {
    case SIGTERM:
      return "TERM";
    case SIGKILL:
      return "KILL";
    case SIGQUIT:
      return "QUIT";
    case SIGUSR1:
      return "USR1";
    case SIGABRT:
      return "ABRT";
  }
  return std::to_string(signo);
}

// Hands out pids from 100 up, records what the arbiter asked for, and
// returns the exits a test queued on the next Reap().
class FakeProcessOps : public ProcessOps {
 public:
  Status Spawn(const WorkerSpec& spec, pid_t* pid) override {
    if (failing_spawns_ > 0) {
      --failing_spawns_;
      return Status::Error("fork: Resource temporarily unavailable");
    }
    *pid = next_pid_++;
    Append(&spawns_, std::to_string(*pid) + ":w" + std::to_string(spec.index) + "g" +
                         std::to_string(spec.generation));
    return Status::Ok();
  }
  void Kill(pid_t pid, int signo) override {
    Append(&kills_, SignalName(signo) + " " + std::to_string(pid));
  }
  /// Recorded with the signals, as "RETIRE PID" (hand-over, then TERM).
  void Retire(pid_t pid) override { Append(&kills_, "RETIRE " + std::to_string(pid)); }
  std::vector<ProcessExit> Reap() override { return std::exchange(exits_, {}); }
  double Now() override { return now_; }
  double LastHeartbeat(int slot) override {
    auto it = heartbeats_.find(slot);
    return it == heartbeats_.end() ? 0 : it->second;
  }
  /// The worker in `slot` reports alive now.
  void Heartbeat(int slot) { heartbeats_[slot] = now_; }

  /// The spawns since the last call, "PID:wINDEXgGENERATION, ...".
  std::string TakeSpawns() { return std::exchange(spawns_, ""); }
  /// The signals since the last call, "TERM 100, KILL 101".
  std::string TakeKills() { return std::exchange(kills_, ""); }

  /// Queues a worker's exit(code) for the next Reap().
  void Exit(pid_t pid, int code) { exits_.push_back({pid, (code & 0xff) << 8}); }
  /// Queues a worker's death by a signal for the next Reap().
  void KilledBy(pid_t pid, int signo) { exits_.push_back({pid, signo}); }

  void Advance(double seconds) { now_ += seconds; }
  void FailNextSpawns(int count) { failing_spawns_ = count; }

 private:
  static void Append(std::string* list, const std::string& item) {
    if (!list->empty()) *list += ", ";
    *list += item;
  }

  std::map<int, double> heartbeats_;
  pid_t next_pid_ = 100;
  double now_ = 1000;
  int failing_spawns_ = 0;
  std::string spawns_;
  std::string kills_;
  std::vector<ProcessExit> exits_;
};

ArbiterOptions Options(int workers, double graceful_timeout = 30, double quick = 2) {
  ArbiterOptions options;
  options.workers = workers;
  options.graceful_timeout = graceful_timeout;
  options.quick_stop_timeout = quick;
  options.min_worker_life = 0;  // the crash-loop back-off has tests of its own
  return options;
}

std::string Pids(const Arbiter& arbiter) {
  std::string out;
  for (const auto& [pid, worker] : arbiter.workers()) {
    if (!out.empty()) out += " ";
    out += std::to_string(pid);
  }
  return out;
}

TEST_CASE("arbiter spawns `workers` workers of generation 1 at start") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(3));
  arbiter.Start();
  CHECK(ops.TakeSpawns() == "100:w0g1, 101:w1g1, 102:w2g1");
  CHECK(ops.TakeKills() == "");
  CHECK(arbiter.generation() == 1);
  CHECK(arbiter.desired_workers() == 3);
  for (const auto& [pid, worker] : arbiter.workers()) {
    CHECK(worker.pid == pid);
    CHECK(worker.state == WorkerState::kBooting);
  }
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "");
  CHECK_FALSE(arbiter.done());
}

TEST_CASE("arbiter runs at least one worker") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(0));
  arbiter.Start();
  CHECK(ops.TakeSpawns() == "100:w0g1");
}

TEST_CASE("arbiter respawns a worker killed by SIGKILL in the same slot") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(3));
  arbiter.Start();
  ops.TakeSpawns();
  ops.KilledBy(101, SIGKILL);
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "103:w1g1");
  CHECK(ops.TakeKills() == "");
  CHECK(Pids(arbiter) == "100 102 103");
  CHECK_FALSE(arbiter.done());
}

TEST_CASE("a worker dying right after its start is respawned after a growing delay") {
  FakeProcessOps ops;
  ArbiterOptions options = Options(1);
  options.min_worker_life = 1;
  Arbiter arbiter(ops, options);
  arbiter.Start();
  CHECK(ops.TakeSpawns() == "100:w0g1");
  ops.Exit(100, 0);
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "");  // not at once
  ops.Advance(0.05);
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "");
  ops.Advance(0.06);
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "101:w0g1");  // after 100 ms
  ops.Exit(101, 0);
  arbiter.Tick();
  ops.Advance(0.15);
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "");  // the delay doubled
  ops.Advance(0.06);
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "102:w0g1");
  // One that lived a while resets the delay: its successor starts at once.
  ops.Advance(5);
  ops.Exit(102, 0);
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "103:w0g1");
}

TEST_CASE("arbiter respawns a worker that exits on its own, whatever its code") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(2));
  arbiter.Start();
  arbiter.OnWorkerReady(100);
  arbiter.OnWorkerReady(101);
  ops.TakeSpawns();
  ops.Exit(100, 0);
  ops.Exit(101, 1);
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "102:w0g1, 103:w1g1");
  CHECK(ops.TakeKills() == "");
}

TEST_CASE("arbiter ignores the exit of a child that is not its worker") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(1));
  arbiter.Start();
  ops.TakeSpawns();
  ops.Exit(4242, 3);
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "");
  CHECK(ops.TakeKills() == "");
  CHECK_FALSE(arbiter.done());
  CHECK(arbiter.exit_code() == kExitOk);
}

TEST_CASE("arbiter retries a failed spawn on the next tick") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(2));
  ops.FailNextSpawns(1);
  arbiter.Start();
  CHECK(ops.TakeSpawns() == "");
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "100:w0g1, 101:w1g1");
}

TEST_CASE("TTIN spawns one more worker in the next free slot") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(2));
  arbiter.Start();
  ops.TakeSpawns();
  arbiter.HandleTtin();
  CHECK(ops.TakeSpawns() == "102:w2g1");
  CHECK(arbiter.desired_workers() == 3);
  arbiter.HandleTtin();
  CHECK(ops.TakeSpawns() == "103:w3g1");
  CHECK(ops.TakeKills() == "");
}

TEST_CASE("TTOU retires the oldest worker with SIGTERM and does not replace it") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(2));
  arbiter.Start();  // 100 in slot 0, 101 in slot 1, both at t=1000
  ops.Advance(5);
  ops.KilledBy(100, SIGKILL);
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "100:w0g1, 101:w1g1, 102:w0g1");
  // 101 (started at 1000) is now older than 102 (started at 1005).
  arbiter.HandleTtou();
  CHECK(ops.TakeKills() == "RETIRE 101");
  CHECK(arbiter.desired_workers() == 1);
  CHECK(arbiter.workers().at(101).state == WorkerState::kDraining);
  ops.Exit(101, 0);
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "");
  CHECK(Pids(arbiter) == "102");
}

TEST_CASE("TTOU never goes below one worker") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(2));
  arbiter.Start();
  arbiter.HandleTtou();
  CHECK(ops.TakeKills() == "RETIRE 100");
  arbiter.HandleTtou();
  arbiter.HandleTtou();
  CHECK(ops.TakeKills() == "");
  CHECK(arbiter.desired_workers() == 1);
  arbiter.HandleTtin();
  CHECK(arbiter.desired_workers() == 2);
}

TEST_CASE("a worker retired by TTOU that ignores SIGTERM is killed after graceful_timeout") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(2, /*graceful_timeout=*/10));
  arbiter.Start();
  arbiter.HandleTtou();
  CHECK(ops.TakeKills() == "RETIRE 100");
  ops.Advance(9.5);
  arbiter.Tick();
  CHECK(ops.TakeKills() == "");
  ops.Advance(0.5);
  arbiter.Tick();
  CHECK(ops.TakeKills() == "KILL 100");
  arbiter.Tick();
  CHECK(ops.TakeKills() == "");  // SIGKILL is sent once
}

TEST_CASE("TERM stops every worker gracefully, then SIGKILLs those left after graceful_timeout") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(3, /*graceful_timeout=*/30));
  arbiter.Start();
  ops.TakeSpawns();
  arbiter.HandleTerm();
  CHECK(ops.TakeKills() == "TERM 100, TERM 101, TERM 102");

  ops.Advance(10);
  ops.Exit(100, 0);
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "");  // nobody is replaced while stopping
  CHECK(ops.TakeKills() == "");
  CHECK_FALSE(arbiter.done());

  ops.Advance(19.9);
  arbiter.Tick();
  CHECK(ops.TakeKills() == "");
  ops.Advance(0.1);
  arbiter.Tick();
  CHECK(ops.TakeKills() == "KILL 101, KILL 102");
  CHECK_FALSE(arbiter.done());  // not until every worker is reaped

  ops.KilledBy(101, SIGKILL);
  arbiter.Tick();
  CHECK_FALSE(arbiter.done());
  ops.KilledBy(102, SIGKILL);
  arbiter.Tick();
  CHECK(arbiter.done());
  CHECK(arbiter.exit_code() == kExitOk);
  CHECK(ops.TakeSpawns() == "");
}

TEST_CASE("a second TERM changes nothing") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(1, /*graceful_timeout=*/30));
  arbiter.Start();
  arbiter.HandleTerm();
  CHECK(ops.TakeKills() == "TERM 100");
  ops.Advance(20);
  arbiter.HandleTerm();
  CHECK(ops.TakeKills() == "");
  ops.Advance(10);
  arbiter.Tick();
  CHECK(ops.TakeKills() == "KILL 100");  // the first TERM's deadline holds
}

TEST_CASE("TTIN, TTOU and HUP start no workers while stopping") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(2));
  arbiter.Start();
  ops.TakeSpawns();
  arbiter.HandleTerm();
  ops.TakeKills();
  arbiter.HandleTtin();
  arbiter.HandleTtou();
  arbiter.Reload(4, 30);
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "");
  CHECK(ops.TakeKills() == "");
}

TEST_CASE("quick stop sends SIGQUIT and SIGKILLs after quick_stop_timeout") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(2, /*graceful_timeout=*/30, /*quick=*/2));
  arbiter.Start();
  ops.TakeSpawns();
  arbiter.HandleQuickStop();
  CHECK(ops.TakeKills() == "QUIT 100, QUIT 101");
  ops.Exit(100, 0);
  ops.Advance(1.9);
  arbiter.Tick();
  CHECK(ops.TakeKills() == "");
  ops.Advance(0.1);
  arbiter.Tick();
  CHECK(ops.TakeKills() == "KILL 101");
  ops.KilledBy(101, SIGKILL);
  arbiter.Tick();
  CHECK(arbiter.done());
  CHECK(arbiter.exit_code() == kExitOk);
  CHECK(ops.TakeSpawns() == "");
}

TEST_CASE("quick stop during a graceful stop shortens the deadline") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(1, /*graceful_timeout=*/30, /*quick=*/2));
  arbiter.Start();
  arbiter.HandleTerm();
  CHECK(ops.TakeKills() == "TERM 100");
  ops.Advance(1);
  arbiter.HandleQuickStop();
  CHECK(ops.TakeKills() == "QUIT 100");
  ops.Advance(2);
  arbiter.Tick();
  CHECK(ops.TakeKills() == "KILL 100");
}

TEST_CASE("SignalAll signals every live worker") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(2));
  arbiter.Start();
  arbiter.SignalAll(SIGUSR1);
  CHECK(ops.TakeKills() == "USR1 100, USR1 101");
}

TEST_CASE("Reload retires the old generation only once every new worker is ready") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(2, /*graceful_timeout=*/30));
  arbiter.Start();
  arbiter.OnWorkerReady(100);
  arbiter.OnWorkerReady(101);
  ops.TakeSpawns();

  CHECK(arbiter.next_generation() == 2);
  CHECK(arbiter.Reload(3, /*graceful_timeout=*/10) == 2);
  CHECK(arbiter.generation() == 2);
  CHECK(arbiter.desired_workers() == 3);
  CHECK(ops.TakeSpawns() == "102:w0g2, 103:w1g2, 104:w2g2");
  CHECK(ops.TakeKills() == "");

  arbiter.OnWorkerReady(102);
  arbiter.OnWorkerReady(103);
  arbiter.Tick();
  CHECK(ops.TakeKills() == "");  // 104 still booting: the old ones keep serving
  arbiter.OnWorkerReady(104);
  CHECK(ops.TakeKills() == "RETIRE 100, RETIRE 101");
  CHECK(ops.TakeSpawns() == "");

  // The old generation drains with the new configuration's graceful_timeout.
  ops.Exit(100, 0);
  ops.Advance(10);
  arbiter.Tick();
  CHECK(ops.TakeKills() == "KILL 101");
  ops.KilledBy(101, SIGKILL);
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "");
  CHECK(Pids(arbiter) == "102 103 104");
  CHECK_FALSE(arbiter.done());
}

TEST_CASE("Reload to fewer workers retires every old worker once the new ones are ready") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(3));
  arbiter.Start();
  ops.TakeSpawns();
  arbiter.Reload(1, 30);
  CHECK(ops.TakeSpawns() == "103:w0g2");
  arbiter.OnWorkerReady(103);
  CHECK(ops.TakeKills() == "RETIRE 100, RETIRE 101, RETIRE 102");
  CHECK(arbiter.desired_workers() == 1);
}

TEST_CASE("a new-generation worker that crashes while booting is replaced in its generation") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(2));
  arbiter.Start();
  ops.TakeSpawns();
  arbiter.Reload(2, 30);
  CHECK(ops.TakeSpawns() == "102:w0g2, 103:w1g2");
  ops.KilledBy(103, SIGSEGV);
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "104:w1g2");
  CHECK(ops.TakeKills() == "");
  arbiter.OnWorkerReady(102);
  arbiter.OnWorkerReady(104);
  CHECK(ops.TakeKills() == "RETIRE 100, RETIRE 101");
}

TEST_CASE("a boot error on first start halts with exit code 1 and respawns nothing") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(2));
  arbiter.Start();
  ops.TakeSpawns();
  arbiter.OnWorkerBootError(100, "cannot load app ./libx.so: No such file or directory");
  // The failing worker exits by itself; the others are stopped.
  CHECK(ops.TakeKills() == "TERM 101");
  ops.Exit(100, kWorkerExitBootError);
  arbiter.Tick();
  CHECK_FALSE(arbiter.done());
  ops.Exit(101, 0);
  arbiter.Tick();
  CHECK(arbiter.done());
  CHECK(arbiter.exit_code() == kExitAppError);
  CHECK(ops.TakeSpawns() == "");
}

TEST_CASE("a worker exiting with code 3 on first start is a boot error") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(2));
  arbiter.Start();
  ops.TakeSpawns();
  ops.Exit(101, kWorkerExitBootError);
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "");
  CHECK(ops.TakeKills() == "TERM 100");
  ops.Exit(100, 0);
  arbiter.Tick();
  CHECK(arbiter.done());
  CHECK(arbiter.exit_code() == kExitAppError);
}

TEST_CASE("a boot error in a reload keeps the old generation and retires the new one") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(2));
  arbiter.Start();
  arbiter.OnWorkerReady(100);
  arbiter.OnWorkerReady(101);
  ops.TakeSpawns();
  arbiter.Reload(3, 30);
  CHECK(ops.TakeSpawns() == "102:w0g2, 103:w1g2, 104:w2g2");
  arbiter.OnWorkerReady(102);

  arbiter.OnWorkerBootError(103, "cannot load app ./libx.so: App constructor threw: boom");
  CHECK(ops.TakeKills() == "TERM 102, TERM 104");  // 103 exits by itself; 100, 101 untouched
  CHECK(arbiter.generation() == 1);
  CHECK(arbiter.desired_workers() == 2);
  CHECK_FALSE(arbiter.done());

  ops.Exit(102, 0);
  ops.Exit(103, kWorkerExitBootError);
  ops.Exit(104, kWorkerExitBootError);  // asked to stop while booting: not a new boot error
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "");
  CHECK(ops.TakeKills() == "");
  CHECK(Pids(arbiter) == "100 101");
  CHECK_FALSE(arbiter.done());
  CHECK(arbiter.exit_code() == kExitOk);

  // The old generation is supervised as before.
  ops.KilledBy(100, SIGKILL);
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "105:w0g1");
}

TEST_CASE("a reload's worker exiting with code 3 abandons the reload") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(1));
  arbiter.Start();
  arbiter.OnWorkerReady(100);
  ops.TakeSpawns();
  arbiter.Reload(2, 30);
  CHECK(ops.TakeSpawns() == "101:w0g2, 102:w1g2");
  ops.Exit(101, kWorkerExitBootError);
  arbiter.Tick();
  CHECK(ops.TakeKills() == "TERM 102");
  CHECK(ops.TakeSpawns() == "");
  CHECK(arbiter.generation() == 1);
  CHECK(arbiter.desired_workers() == 1);
  CHECK_FALSE(arbiter.done());
}

TEST_CASE("a worker that exits with code 3 after being asked to drain is not a boot error") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(1));
  arbiter.Start();
  ops.Advance(1);
  arbiter.HandleTtin();
  arbiter.HandleTtou();
  CHECK(ops.TakeKills() == "RETIRE 100");
  ops.Exit(100, kWorkerExitBootError);
  arbiter.Tick();
  CHECK(ops.TakeKills() == "");
  CHECK(ops.TakeSpawns() == "100:w0g1, 101:w1g1");
  CHECK_FALSE(arbiter.done());
  CHECK(arbiter.exit_code() == kExitOk);
}

TEST_CASE("a boot error while stopping does not change the exit code") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(1));
  arbiter.Start();
  arbiter.HandleTerm();
  arbiter.OnWorkerBootError(100, "boom");
  ops.Exit(100, kWorkerExitBootError);
  arbiter.Tick();
  CHECK(arbiter.done());
  CHECK(arbiter.exit_code() == kExitOk);
}

// Regression (src/arbiter.cc, OnWorkerBootError, fixed): every worker of a reload with a
// broken App fails the same way. The first boot error abandons the reload
// and reverts to generation 1; the second worker's report then no longer
// matches generation_ and takes the "first start" path: Halt() stops the old
// generation, which was serving fine, and thriftd exits 1. A boot error from
// a worker already asked to stop should only be logged.
TEST_CASE("regression: a second boot error from an abandoned reload does not halt thriftd") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(2));
  arbiter.Start();
  arbiter.OnWorkerReady(100);
  arbiter.OnWorkerReady(101);
  ops.TakeSpawns();
  arbiter.Reload(2, 30);
  CHECK(ops.TakeSpawns() == "102:w0g2, 103:w1g2");

  arbiter.OnWorkerBootError(102, "cannot load app ./libx.so: App constructor threw: boom");
  CHECK(ops.TakeKills() == "TERM 103");
  arbiter.OnWorkerBootError(103, "cannot load app ./libx.so: App constructor threw: boom");
  CHECK(ops.TakeKills() == "");  // actual: "TERM 100, TERM 101"
  ops.Exit(102, kWorkerExitBootError);
  ops.Exit(103, kWorkerExitBootError);
  arbiter.Tick();
  CHECK(arbiter.generation() == 1);
  CHECK_FALSE(arbiter.done());
  CHECK(arbiter.exit_code() == kExitOk);  // actual: 1
  CHECK(Pids(arbiter) == "100 101");
}

}  // namespace
}  // namespace thriftd
