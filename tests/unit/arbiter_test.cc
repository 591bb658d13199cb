// The arbiter's supervision decisions, through a fake OS seam: no process is
// forked. Each test states which workers are spawned and which signals are
// sent, in order.
#include "src/arbiter.h"

#include <doctest/doctest.h>
#include <signal.h>

#include <iterator>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "src/base/exit_codes.h"
#include "src/metrics.h"
#include "tests/unit/test_util.h"

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

// Hands out pids from 100 up and records what the arbiter asked for. Exits
// are not the seam's: a test reports them with arbiter.OnWorkerExited(), as
// the master's loop does after reaping.
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
};

/// A worker's exit(code), as the master's loop reports it once reaped.
ProcessExit Exited(pid_t pid, int code) { return {pid, (code & 0xff) << 8}; }
/// A worker's death by a signal, as the master's loop reports it once reaped.
ProcessExit KilledBy(pid_t pid, int signo) { return {pid, signo}; }

ArbiterOptions Options(int workers, double graceful_timeout = 30, double quick = 2) {
  ArbiterOptions options;
  options.workers = workers;
  options.graceful_timeout = graceful_timeout;
  options.quick_stop_timeout = quick;
  options.min_respawn_delay = 0;  // the crash-loop back-off has tests of its own
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

TEST_CASE("worker states: serving answers calls now, active counts towards the worker count") {
  using S = WorkerState;
  for (S state : {S::kBooting, S::kReady, S::kRetiring, S::kDraining, S::kAborted, S::kKilled}) {
    CAPTURE(static_cast<int>(state));
    CHECK(IsServing(state) == (state == S::kReady || state == S::kRetiring));
    CHECK(IsActive(state) == (state == S::kBooting || state == S::kReady));
    CHECK(IsStopping(state) ==
          (state == S::kDraining || state == S::kAborted || state == S::kKilled));
  }
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

TEST_CASE("a worker stopped by another process's TERM is replaced after a short hold") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(2));
  arbiter.Start();
  arbiter.OnWorkerReady(100);
  arbiter.OnWorkerReady(101);
  ops.TakeSpawns();
  arbiter.OnWorkerStopSignal(100, "SIGTERM from pid 42");
  CHECK(arbiter.workers().at(100).state == WorkerState::kDraining);
  CHECK(ops.TakeKills() == "");   // it stops on its own
  CHECK(ops.TakeSpawns() == "");  // held: the master may be getting the same signal
  ops.Advance(0.1);
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "102:w0g1");
  arbiter.OnWorkerExited(Exited(100, 0));
  CHECK(ops.TakeSpawns() == "");
  CHECK(arbiter.restarts().at(StopReason::kExited) == 1);
}

TEST_CASE("regression: a process-group TERM stops thriftd and replaces nobody") {
  // The workers got the signal first and said so; the master's own TERM
  // came a moment later. It used to fork a full set of new workers first.
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(2));
  arbiter.Start();
  arbiter.OnWorkerReady(100);
  arbiter.OnWorkerReady(101);
  ops.TakeSpawns();
  arbiter.OnWorkerStopSignal(100, "SIGTERM from pid 42");
  arbiter.OnWorkerStopSignal(101, "SIGTERM from pid 42");
  arbiter.OnWorkerExited(Exited(100, 0));
  ops.Advance(0.05);
  arbiter.HandleTerm();
  arbiter.OnWorkerExited(Exited(101, 0));
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "");
  CHECK(arbiter.done());
}

TEST_CASE("arbiter respawns a worker killed by SIGKILL in the same slot") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(3));
  arbiter.Start();
  ops.TakeSpawns();
  arbiter.OnWorkerExited(KilledBy(101, SIGKILL));
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "103:w1g1");
  CHECK(ops.TakeKills() == "");
  CHECK(Pids(arbiter) == "100 102 103");
  CHECK_FALSE(arbiter.done());
}

TEST_CASE("a worker dying before it is ready is respawned in its slot after a growing delay") {
  FakeProcessOps ops;
  ArbiterOptions options = Options(1);
  options.min_respawn_delay = 0.1;
  Arbiter arbiter(ops, options);
  arbiter.Start();
  CHECK(ops.TakeSpawns() == "100:w0g1");
  arbiter.OnWorkerExited(Exited(100, 0));
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "");  // not at once
  ops.Advance(0.05);
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "");
  ops.Advance(0.06);
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "101:w0g1");  // after 100 ms
  arbiter.OnWorkerExited(Exited(101, 0));
  arbiter.Tick();
  ops.Advance(0.15);
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "");  // the delay doubled
  ops.Advance(0.06);
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "102:w0g1");
  // One that was ready, however young, is replaced at once, and clears the
  // slot's delay.
  arbiter.OnWorkerReady(102);
  arbiter.OnWorkerExited(KilledBy(102, SIGKILL));
  CHECK(ops.TakeSpawns() == "103:w0g1");
}

TEST_CASE("regression: ready workers killed from outside one after another are replaced at once") {
  // The OOM killer, or kill -9 every half second: the old global back-off
  // took every young worker's death for a crash loop and left no worker at
  // all for seconds.
  FakeProcessOps ops;
  ArbiterOptions options = Options(2);
  options.min_respawn_delay = 0.1;
  Arbiter arbiter(ops, options);
  arbiter.Start();
  arbiter.OnWorkerReady(100);
  arbiter.OnWorkerReady(101);
  ops.TakeSpawns();
  pid_t victim = 100;
  for (int round = 0; round < 5; ++round) {
    ops.Advance(0.5);
    arbiter.OnWorkerExited(KilledBy(victim, SIGKILL));
    std::string spawned = ops.TakeSpawns();
    REQUIRE_MESSAGE(!spawned.empty(), "round " << round);
    pid_t successor = std::stoi(spawned.substr(0, spawned.find(':')));
    ops.Advance(0.05);
    arbiter.OnWorkerReady(successor);
    victim = successor;
  }
  CHECK(arbiter.workers().size() == 2);
}

TEST_CASE("one slot's crash loop does not delay another slot's respawn") {
  FakeProcessOps ops;
  ArbiterOptions options = Options(2);
  options.min_respawn_delay = 1;
  Arbiter arbiter(ops, options);
  arbiter.Start();
  arbiter.OnWorkerReady(101);
  ops.TakeSpawns();
  arbiter.OnWorkerExited(Exited(100, 1));  // slot 0 dies booting: backs off
  CHECK(ops.TakeSpawns() == "");
  arbiter.OnWorkerExited(KilledBy(101, SIGKILL));  // slot 1 was ready: at once
  CHECK(ops.TakeSpawns() == "102:w1g1");
  ops.Advance(1);
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
  arbiter.OnWorkerExited(Exited(100, 0));
  arbiter.OnWorkerExited(Exited(101, 1));
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "102:w0g1, 103:w1g1");
  CHECK(ops.TakeKills() == "");
}

TEST_CASE("arbiter ignores the exit of a child that is not its worker") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(1));
  arbiter.Start();
  ops.TakeSpawns();
  arbiter.OnWorkerExited(Exited(4242, 3));
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
  arbiter.OnWorkerExited(KilledBy(100, SIGKILL));
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "100:w0g1, 101:w1g1, 102:w0g1");
  // 101 (started at 1000) is now older than 102 (started at 1005).
  arbiter.HandleTtou();
  CHECK(ops.TakeKills() == "RETIRE 101");
  CHECK(arbiter.desired_workers() == 1);
  CHECK(arbiter.workers().at(101).state == WorkerState::kDraining);
  arbiter.OnWorkerExited(Exited(101, 0));
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
  arbiter.OnWorkerExited(Exited(100, 0));
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

  arbiter.OnWorkerExited(KilledBy(101, SIGKILL));
  arbiter.Tick();
  CHECK_FALSE(arbiter.done());
  arbiter.OnWorkerExited(KilledBy(102, SIGKILL));
  arbiter.Tick();
  CHECK(arbiter.done());
  CHECK(arbiter.exit_code() == kExitOk);
  CHECK(ops.TakeSpawns() == "");
}

TEST_CASE("TERM with a drain_delay: stopping at once, the workers stopped only after it") {
  FakeProcessOps ops;
  ArbiterOptions options = Options(2, /*graceful_timeout=*/30);
  options.drain_delay = 5;
  Arbiter arbiter(ops, options);
  arbiter.Start();
  arbiter.HandleTerm();
  CHECK(arbiter.stopping());  // /healthz says 503 from now on
  CHECK(arbiter.draining());
  CHECK(ops.TakeKills() == "");
  ops.Advance(4.9);
  arbiter.Tick();
  CHECK(ops.TakeKills() == "");
  ops.Advance(0.1);
  arbiter.Tick();
  CHECK(ops.TakeKills() == "TERM 100, TERM 101");
  CHECK_FALSE(arbiter.draining());
  arbiter.OnWorkerExited(Exited(100, 0));
  arbiter.OnWorkerExited(Exited(101, 0));
  CHECK(arbiter.done());
}

TEST_CASE("a quick stop ends a drain at once") {
  FakeProcessOps ops;
  ArbiterOptions options = Options(1);
  options.drain_delay = 5;
  Arbiter arbiter(ops, options);
  arbiter.Start();
  arbiter.HandleTerm();
  arbiter.HandleQuickStop();
  CHECK(ops.TakeKills() == "QUIT 100");
  arbiter.OnWorkerExited(Exited(100, 0));
  CHECK(arbiter.done());
}

TEST_CASE("TERM with a new master ready hands every worker's connections over") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(2));
  arbiter.Start();
  arbiter.HandleTerm(Handover::kToSuccessors);
  CHECK(ops.TakeKills() == "RETIRE 100, RETIRE 101");
  arbiter.OnWorkerExited(Exited(100, 0));
  arbiter.OnWorkerExited(Exited(101, 0));
  CHECK(arbiter.done());
  CHECK(ops.TakeSpawns() == "100:w0g1, 101:w1g1");  // the first generation only
}

// --- WINCH: the master stays, its workers go -----------------------------------

TEST_CASE("a reload says how many workers it starts, one as one") {
  thriftd_test::LogCapture log(LogLevel::kInfo);
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(1));
  arbiter.Start();
  arbiter.Reload(Options(1));
  arbiter.Reload(Options(3));
  CHECK(log.Text().find("Reloading: starting generation 2 with 1 worker\n") != std::string::npos);
  CHECK(log.Text().find("Reloading: starting generation 3 with 3 workers\n") != std::string::npos);
}

TEST_CASE("WINCH stops every worker, replaces none, and HUP starts them again") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(2));
  arbiter.Start();
  arbiter.OnWorkerReady(100);
  arbiter.OnWorkerReady(101);
  CHECK(arbiter.all_ready());
  ops.TakeSpawns();
  arbiter.HandleWinch(Handover::kToSuccessors);
  CHECK(ops.TakeKills() == "RETIRE 100, RETIRE 101");
  CHECK_FALSE(arbiter.all_ready());
  arbiter.OnWorkerExited(Exited(100, 0));
  arbiter.OnWorkerExited(Exited(101, 0));
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "");
  CHECK_FALSE(arbiter.done());  // the master stays
  CHECK(arbiter.restarts().empty());

  arbiter.HandleTtou();  // none stays none
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "");

  arbiter.Reload(Options(2));  // the rollback: HUP
  CHECK(ops.TakeSpawns() == "102:w0g2, 103:w1g2");
  arbiter.OnWorkerReady(102);
  CHECK_FALSE(arbiter.all_ready());
  arbiter.OnWorkerReady(103);
  CHECK(arbiter.all_ready());
}

TEST_CASE("WINCH during a reload stops both generations and falls back to none") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(1));
  arbiter.Start();
  arbiter.OnWorkerReady(100);
  arbiter.Reload(Options(1));
  CHECK(ops.TakeSpawns() == "100:w0g1, 101:w0g2");
  arbiter.HandleWinch(Handover::kNone);
  CHECK(ops.TakeKills() == "TERM 100, TERM 101");
  // A boot error of the reload's worker finds no reload to abandon, and
  // does not halt: it was asked to stop.
  arbiter.OnWorkerBootError(101, "boom");
  arbiter.OnWorkerExited(Exited(101, kWorkerExitBootError));
  arbiter.OnWorkerExited(Exited(100, 0));
  arbiter.Tick();
  CHECK_FALSE(arbiter.done());
  CHECK(ops.TakeSpawns() == "");
}

TEST_CASE(
    "all_ready: every wanted worker of the serving generation is ready, no reload in flight") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(2));
  arbiter.Start();
  CHECK_FALSE(arbiter.all_ready());
  arbiter.OnWorkerReady(100);
  CHECK_FALSE(arbiter.all_ready());
  arbiter.OnWorkerReady(101);
  CHECK(arbiter.all_ready());
  arbiter.Reload(Options(2));
  CHECK_FALSE(arbiter.all_ready());  // reloading
  arbiter.OnWorkerReady(102);
  arbiter.OnWorkerReady(103);
  CHECK(arbiter.all_ready());
  arbiter.HandleTerm();
  CHECK_FALSE(arbiter.all_ready());
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
  CHECK(arbiter.Reload(Options(4, /*graceful_timeout=*/5)) == 1);
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "");
  CHECK(ops.TakeKills() == "");
  // Nothing of the HUP applies: no generation, no option, no count.
  CHECK(arbiter.generation() == 1);
  CHECK(arbiter.next_generation() == 2);
  CHECK(arbiter.desired_workers() == 2);
  CHECK(arbiter.options().workers == 2);
  CHECK(arbiter.options().graceful_timeout == 30);
}

TEST_CASE("quick stop sends SIGQUIT and SIGKILLs after quick_stop_timeout") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(2, /*graceful_timeout=*/30, /*quick=*/2));
  arbiter.Start();
  ops.TakeSpawns();
  arbiter.HandleQuickStop();
  CHECK(ops.TakeKills() == "QUIT 100, QUIT 101");
  arbiter.OnWorkerExited(Exited(100, 0));
  ops.Advance(1.9);
  arbiter.Tick();
  CHECK(ops.TakeKills() == "");
  ops.Advance(0.1);
  arbiter.Tick();
  CHECK(ops.TakeKills() == "KILL 101");
  arbiter.OnWorkerExited(KilledBy(101, SIGKILL));
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
  CHECK(arbiter.Reload(Options(3, /*graceful_timeout=*/10)) == 2);
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
  arbiter.OnWorkerExited(Exited(100, 0));
  ops.Advance(10);
  arbiter.Tick();
  CHECK(ops.TakeKills() == "KILL 101");
  arbiter.OnWorkerExited(KilledBy(101, SIGKILL));
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
  arbiter.Reload(Options(1, 30));
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
  arbiter.Reload(Options(2, 30));
  CHECK(ops.TakeSpawns() == "102:w0g2, 103:w1g2");
  arbiter.OnWorkerExited(KilledBy(103, SIGSEGV));
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "104:w1g2");
  CHECK(ops.TakeKills() == "");
  arbiter.OnWorkerReady(102);
  arbiter.OnWorkerReady(104);
  CHECK(ops.TakeKills() == "RETIRE 100, RETIRE 101");
}

TEST_CASE("regression: a replacement that cannot start never stops a running service") {
  // Issue 10: a transient OnWorkerStart failure while a crashed worker was
  // replaced halted thriftd (exit 1), healthy workers included.
  FakeProcessOps ops;
  ArbiterOptions options = Options(2);
  options.min_respawn_delay = 0.5;
  Arbiter arbiter(ops, options);
  arbiter.Start();
  arbiter.OnWorkerReady(100);
  arbiter.OnWorkerReady(101);
  ops.TakeSpawns();
  arbiter.OnWorkerExited(KilledBy(100, SIGKILL));
  CHECK(ops.TakeSpawns() == "102:w0g1");
  arbiter.OnWorkerBootError(102, "OnWorkerStart threw: database unreachable");
  arbiter.OnWorkerExited(Exited(102, kWorkerExitBootError));
  CHECK(ops.TakeKills() == "");  // 101 serves on
  CHECK_FALSE(arbiter.stopping());
  CHECK(arbiter.restarts().at(StopReason::kBootError) == 1);
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "");  // backing off in slot 0
  ops.Advance(0.5);
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "103:w0g1");  // retried
  arbiter.OnWorkerReady(103);
  CHECK(arbiter.all_ready());
}

TEST_CASE("a TTIN whose worker cannot start keeps the service") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(1));
  arbiter.Start();
  arbiter.OnWorkerReady(100);
  arbiter.HandleTtin();
  CHECK(ops.TakeSpawns() == "100:w0g1, 101:w1g1");
  arbiter.OnWorkerBootError(101, "boom");
  arbiter.OnWorkerExited(Exited(101, kWorkerExitBootError));
  CHECK_FALSE(arbiter.stopping());
  CHECK(ops.TakeKills() == "");
}

TEST_CASE("a boot error on first start halts with exit code 1 and respawns nothing") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(2));
  arbiter.Start();
  ops.TakeSpawns();
  arbiter.OnWorkerBootError(100, "cannot load app ./libx.so: No such file or directory");
  // The failing worker exits by itself; the others are stopped.
  CHECK(ops.TakeKills() == "TERM 101");
  arbiter.OnWorkerExited(Exited(100, kWorkerExitBootError));
  arbiter.Tick();
  CHECK_FALSE(arbiter.done());
  arbiter.OnWorkerExited(Exited(101, 0));
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
  arbiter.OnWorkerExited(Exited(101, kWorkerExitBootError));
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "");
  CHECK(ops.TakeKills() == "TERM 100");
  arbiter.OnWorkerExited(Exited(100, 0));
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
  arbiter.Reload(Options(3, 30));
  CHECK(ops.TakeSpawns() == "102:w0g2, 103:w1g2, 104:w2g2");
  arbiter.OnWorkerReady(102);

  arbiter.OnWorkerBootError(103, "cannot load app ./libx.so: App constructor threw: boom");
  CHECK(ops.TakeKills() == "TERM 102, TERM 104");  // 103 exits by itself; 100, 101 untouched
  CHECK(arbiter.generation() == 1);
  CHECK(arbiter.desired_workers() == 2);
  CHECK_FALSE(arbiter.done());

  arbiter.OnWorkerExited(Exited(102, 0));
  arbiter.OnWorkerExited(Exited(103, kWorkerExitBootError));
  arbiter.OnWorkerExited(
      Exited(104, kWorkerExitBootError));  // asked to stop while booting: not a new boot error
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "");
  CHECK(ops.TakeKills() == "");
  CHECK(Pids(arbiter) == "100 101");
  CHECK_FALSE(arbiter.done());
  CHECK(arbiter.exit_code() == kExitOk);

  // The old generation is supervised as before.
  arbiter.OnWorkerExited(KilledBy(100, SIGKILL));
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "105:w0g1");
}

TEST_CASE("a reload's worker exiting with code 3 abandons the reload") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(1));
  arbiter.Start();
  arbiter.OnWorkerReady(100);
  ops.TakeSpawns();
  arbiter.Reload(Options(2, 30));
  CHECK(ops.TakeSpawns() == "101:w0g2, 102:w1g2");
  arbiter.OnWorkerExited(Exited(101, kWorkerExitBootError));
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
  arbiter.OnWorkerExited(Exited(100, kWorkerExitBootError));
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
  arbiter.OnWorkerExited(Exited(100, kWorkerExitBootError));
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
  arbiter.Reload(Options(2, 30));
  CHECK(ops.TakeSpawns() == "102:w0g2, 103:w1g2");

  arbiter.OnWorkerBootError(102, "cannot load app ./libx.so: App constructor threw: boom");
  CHECK(ops.TakeKills() == "TERM 103");
  arbiter.OnWorkerBootError(103, "cannot load app ./libx.so: App constructor threw: boom");
  CHECK(ops.TakeKills() == "");  // actual: "TERM 100, TERM 101"
  arbiter.OnWorkerExited(Exited(102, kWorkerExitBootError));
  arbiter.OnWorkerExited(Exited(103, kWorkerExitBootError));
  arbiter.Tick();
  CHECK(arbiter.generation() == 1);
  CHECK_FALSE(arbiter.done());
  CHECK(arbiter.exit_code() == kExitOk);  // actual: 1
  CHECK(Pids(arbiter) == "100 101");
}

// Regression: Reload saved the generation to fall back to at every HUP, so
// a second HUP while the first was booting saved the booting generation 2.
// Whichever failed first, the other's boot error then found no serving
// generation to keep and halted thriftd, though generation 1 was serving.
TEST_CASE("two bad HUPs keep generation 1 serving") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(2, /*graceful_timeout=*/30));
  arbiter.Start();
  arbiter.OnWorkerReady(100);
  arbiter.OnWorkerReady(101);
  ops.TakeSpawns();
  CHECK(arbiter.Reload(Options(2, /*graceful_timeout=*/5)) == 2);
  CHECK(ops.TakeSpawns() == "102:w0g2, 103:w1g2");
  CHECK(arbiter.Reload(Options(3, /*graceful_timeout=*/7)) == 3);
  CHECK(ops.TakeSpawns() == "104:w0g3, 105:w1g3, 106:w2g3");
  CHECK(ops.TakeKills() == "");

  SUBCASE("the older reload fails first") {
    arbiter.OnWorkerBootError(102, "boom");  // generation 2 is superseded: only logged
    CHECK(ops.TakeKills() == "");
    CHECK(arbiter.generation() == 3);
    arbiter.OnWorkerBootError(104, "boom");
    CHECK(ops.TakeKills() == "TERM 103, TERM 105, TERM 106");
  }
  SUBCASE("the newer reload fails first") {
    arbiter.OnWorkerBootError(104, "boom");
    CHECK(ops.TakeKills() == "TERM 102, TERM 103, TERM 105, TERM 106");
    arbiter.OnWorkerBootError(102, "boom");  // stopped already: only logged
    CHECK(ops.TakeKills() == "");
  }
  CHECK(arbiter.generation() == 1);
  CHECK(arbiter.desired_workers() == 2);
  CHECK(arbiter.options().graceful_timeout == 30);
  CHECK_FALSE(arbiter.done());
  arbiter.OnWorkerExited(Exited(102, kWorkerExitBootError));
  arbiter.OnWorkerExited(Exited(104, kWorkerExitBootError));
  for (pid_t pid : {103, 105, 106}) arbiter.OnWorkerExited(Exited(pid, 0));
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "");
  CHECK(ops.TakeKills() == "");
  CHECK(Pids(arbiter) == "100 101");
  CHECK_FALSE(arbiter.done());
  CHECK(arbiter.exit_code() == kExitOk);

  // And the next HUP falls back to generation 1 again, or replaces it.
  CHECK(arbiter.Reload(Options(1)) == 4);
  CHECK(ops.TakeSpawns() == "107:w0g4");
  arbiter.OnWorkerReady(107);
  CHECK(ops.TakeKills() == "RETIRE 100, RETIRE 101");
}

TEST_CASE("a HUP superseding a reload that boots fine replaces both older generations") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(1));
  arbiter.Start();
  arbiter.OnWorkerReady(100);
  arbiter.Reload(Options(1));
  arbiter.Reload(Options(1));
  CHECK(ops.TakeSpawns() == "100:w0g1, 101:w0g2, 102:w0g3");
  arbiter.OnWorkerReady(101);  // generation 2 is ready, but superseded
  CHECK(ops.TakeKills() == "");
  arbiter.OnWorkerReady(102);
  CHECK(ops.TakeKills() == "RETIRE 100, RETIRE 101");
  CHECK(arbiter.generation() == 3);
  // Nothing left to fall back to: a later boot error is a replacement's,
  // which never stops a service that has served.
  arbiter.OnWorkerExited(Exited(100, 0));
  arbiter.OnWorkerExited(Exited(101, 0));
  arbiter.OnWorkerExited(KilledBy(102, SIGKILL));
  CHECK(ops.TakeSpawns() == "103:w0g3");
  arbiter.OnWorkerBootError(103, "boom");
  CHECK_FALSE(arbiter.stopping());
}

// Regression: an abandoned reload restored the worker count saved at the
// HUP, losing a TTIN or TTOU received while the reload was booting.
TEST_CASE("TTIN and TTOU during a reload apply to the generation an abandoned reload keeps") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(2));
  arbiter.Start();
  arbiter.OnWorkerReady(100);
  arbiter.OnWorkerReady(101);
  arbiter.Reload(Options(2));
  CHECK(ops.TakeSpawns() == "100:w0g1, 101:w1g1, 102:w0g2, 103:w1g2");

  SUBCASE("TTIN") {
    arbiter.HandleTtin();
    CHECK(ops.TakeSpawns() == "104:w2g2");
    arbiter.OnWorkerBootError(102, "boom");
    CHECK(ops.TakeKills() == "TERM 103, TERM 104");
    CHECK(arbiter.desired_workers() == 3);
    arbiter.Tick();
    CHECK(ops.TakeSpawns() == "105:w2g1");
  }
  SUBCASE("TTOU") {
    ops.Advance(1);
    arbiter.HandleTtou();
    CHECK(ops.TakeKills() == "RETIRE 102");
    arbiter.OnWorkerBootError(103, "boom");
    CHECK(arbiter.desired_workers() == 1);
    CHECK(ops.TakeKills() == "");  // 102 is stopping already (TTOU)
    arbiter.Tick();
    CHECK(ops.TakeKills() == "RETIRE 100");  // the oldest of generation 1
    CHECK(ops.TakeSpawns() == "");
  }
  CHECK(arbiter.generation() == 1);
}

// Regression: the loop reaped every exit first, then reported them one at
// a time. Handling the first (a boot error that halts thriftd or abandons
// a reload) stopped the workers left, SIGTERMing one already reaped in the
// same batch, whose pid the kernel may have handed to another process.
TEST_CASE("no signal reaches a worker reaped in the same batch as an exit that stops it") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(2));
  arbiter.Start();

  SUBCASE("a halt at first start") {
    arbiter.OnWorkerReaped(100);
    arbiter.OnWorkerReaped(101);
    arbiter.OnWorkerExited(Exited(100, kWorkerExitBootError));
    CHECK(ops.TakeKills() == "");  // actual: "TERM 101"
    arbiter.OnWorkerExited(Exited(101, 0));
    CHECK(arbiter.done());
    CHECK(arbiter.exit_code() == kExitAppError);
  }
  SUBCASE("an abandoned reload") {
    arbiter.OnWorkerReady(100);
    arbiter.OnWorkerReady(101);
    arbiter.Reload(Options(2));
    CHECK(ops.TakeSpawns() == "100:w0g1, 101:w1g1, 102:w0g2, 103:w1g2");
    arbiter.OnWorkerReaped(102);
    arbiter.OnWorkerReaped(103);
    arbiter.OnWorkerExited(Exited(102, kWorkerExitBootError));
    CHECK(ops.TakeKills() == "");  // actual: "TERM 103"
    arbiter.OnWorkerExited(Exited(103, 0));
    CHECK(arbiter.generation() == 1);
    CHECK(Pids(arbiter) == "100 101");
  }
  SUBCASE("USR1, a quick stop, and the liveness and stop deadlines passing") {
    arbiter.OnWorkerReaped(100);
    arbiter.SignalAll(SIGUSR1);
    arbiter.HandleQuickStop();
    ops.Advance(60);
    arbiter.Tick();
    CHECK(ops.TakeKills() == "USR1 101, QUIT 101, ABRT 101, KILL 101");  // none to 100
    arbiter.OnWorkerExited(KilledBy(100, SIGSEGV));
    arbiter.OnWorkerExited(KilledBy(101, SIGKILL));
    CHECK(arbiter.done());
  }
  CHECK(ops.TakeKills() == "");
}

// --- liveness ----------------------------------------------------------------

ArbiterOptions LivenessOptions(int workers) {
  ArbiterOptions options = Options(workers);
  options.timeout = 10;
  options.abort_grace = 2;
  return options;
}

/// The restarts counted so far, "reason=count ..." in the order of StopReason.
std::string Restarts(const Arbiter& arbiter) {
  std::string out;
  for (const auto& [reason, count] : arbiter.restarts()) {
    if (!out.empty()) out += " ";
    out += std::string(StopReasonName(reason)) + "=" + std::to_string(count);
  }
  return out;
}

TEST_CASE(
    "a silent worker gets SIGABRT after `timeout`, SIGKILL after abort_grace, and is replaced") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, LivenessOptions(2));
  arbiter.Start();  // 100 in slot 0, 101 in slot 1, at t=1000
  arbiter.OnWorkerReady(100);
  arbiter.OnWorkerReady(101);
  CHECK(ops.TakeSpawns() == "100:w0g1, 101:w1g1");
  // 100 reports once, at 1004, then falls silent; 101 keeps reporting.
  ops.Advance(4);
  ops.Heartbeat(0);
  for (double step : {5.0, 5.0}) {
    ops.Advance(step);
    ops.Heartbeat(1);
    arbiter.Tick();
  }
  CHECK(ops.TakeKills() == "");  // silent for exactly `timeout`: not past it
  ops.Advance(0.5);
  ops.Heartbeat(1);
  arbiter.Tick();
  CHECK(ops.TakeKills() == "ABRT 100");
  CHECK(arbiter.workers().at(100).state == WorkerState::kAborted);
  CHECK(arbiter.workers().at(100).stop_reason == StopReason::kTimeout);
  // It will not serve again: its replacement starts at once, in a slot of its own.
  CHECK(ops.TakeSpawns() == "102:w0g1");
  CHECK(arbiter.workers().at(102).spec.slot == 2);
  arbiter.Tick();
  CHECK(ops.TakeKills() == "");  // SIGABRT once

  for (double step : {1.5, 0.5, 30.0}) {
    ops.Advance(step);
    ops.Heartbeat(1);
    ops.Heartbeat(2);
    arbiter.Tick();
    CHECK(ops.TakeKills() == (step == 0.5 ? "KILL 100" : ""));  // once, abort_grace after ABRT
  }
  CHECK(arbiter.workers().at(100).state == WorkerState::kKilled);
  CHECK(Restarts(arbiter) == "");  // counted when it is gone

  arbiter.OnWorkerExited(KilledBy(100, SIGKILL));
  CHECK(ops.TakeSpawns() == "");
  CHECK(Restarts(arbiter) == "timeout=1");
  CHECK(Pids(arbiter) == "101 102");
}

TEST_CASE("a worker that never reported alive is silent from its start") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, LivenessOptions(1));
  arbiter.Start();
  ops.Advance(10);
  arbiter.Tick();
  CHECK(ops.TakeKills() == "");
  ops.Advance(0.1);
  arbiter.Tick();
  CHECK(ops.TakeKills() == "ABRT 100");
}

TEST_CASE("a hung worker that exits after SIGABRT is not SIGKILLed, and is replaced") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, LivenessOptions(1));
  arbiter.Start();
  arbiter.OnWorkerReady(100);
  ops.TakeSpawns();
  ops.Advance(11);
  arbiter.Tick();
  CHECK(ops.TakeKills() == "ABRT 100");
  CHECK(ops.TakeSpawns() == "101:w0g1");
  arbiter.OnWorkerExited(Exited(100, kWorkerExitHung));  // reported where it hung, and exited
  ops.Advance(5);
  ops.Heartbeat(1);
  arbiter.Tick();
  CHECK(ops.TakeKills() == "");
  CHECK(ops.TakeSpawns() == "");
  CHECK(Restarts(arbiter) == "timeout=1");
}

TEST_CASE("with timeout 0 a silent worker is never killed") {
  FakeProcessOps ops;
  ArbiterOptions options = LivenessOptions(1);
  options.timeout = 0;
  Arbiter arbiter(ops, options);
  arbiter.Start();
  ops.Advance(3600);
  arbiter.Tick();
  CHECK(ops.TakeKills() == "");
}

TEST_CASE("a draining worker that falls silent gets SIGABRT, and SIGKILL by the nearer deadline") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, LivenessOptions(2));
  arbiter.Start();
  arbiter.HandleTtou();
  CHECK(ops.TakeKills() == "RETIRE 100");  // SIGKILL due at 1030 (graceful_timeout)
  ops.Advance(10.5);
  ops.Heartbeat(1);
  arbiter.Tick();
  CHECK(ops.TakeKills() == "ABRT 100");
  ops.Advance(2);
  ops.Heartbeat(1);
  arbiter.Tick();
  CHECK(ops.TakeKills() == "KILL 100");  // abort_grace, not graceful_timeout
  arbiter.OnWorkerExited(KilledBy(100, SIGKILL));
  CHECK(ops.TakeSpawns() == "100:w0g1, 101:w1g1");  // not replaced: TTOU wanted it gone
}

// --- max_requests ---------------------------------------------------------------

TEST_CASE("max_requests starts the successor first and hands over once it is ready") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(2));
  arbiter.Start();
  arbiter.OnWorkerReady(100);
  arbiter.OnWorkerReady(101);
  ops.TakeSpawns();

  arbiter.OnWorkerRetiring(100);
  CHECK(ops.TakeSpawns() == "102:w0g1");  // its index, in a slot of its own
  CHECK(arbiter.workers().at(102).spec.slot == 2);
  CHECK(ops.TakeKills() == "");  // the old one serves on meanwhile
  CHECK(arbiter.workers().at(100).state == WorkerState::kRetiring);
  arbiter.OnWorkerRetiring(100);  // said twice: still one successor
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "");
  CHECK(ops.TakeKills() == "");

  arbiter.OnWorkerReady(102);
  CHECK(ops.TakeKills() == "RETIRE 100");  // with hand-over, then TERM
  CHECK(arbiter.workers().at(100).state == WorkerState::kDraining);
  CHECK(arbiter.workers().at(100).stop_reason == StopReason::kMaxRequests);
  arbiter.OnWorkerExited(Exited(100, 0));
  arbiter.Tick();
  CHECK(ops.TakeSpawns() == "");
  CHECK(ops.TakeKills() == "");
  CHECK(Pids(arbiter) == "101 102");
  CHECK(Restarts(arbiter) == "max_requests=1");
}

TEST_CASE("a retiring worker that dies before its successor is ready is counted as it died") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(1));
  arbiter.Start();
  arbiter.OnWorkerReady(100);
  arbiter.OnWorkerRetiring(100);
  CHECK(ops.TakeSpawns() == "100:w0g1, 101:w0g1");
  arbiter.OnWorkerExited(KilledBy(100, SIGSEGV));
  CHECK(ops.TakeSpawns() == "");  // its successor is already on its way
  arbiter.OnWorkerReady(101);
  CHECK(ops.TakeKills() == "");
  CHECK(Restarts(arbiter) == "killed=1");
}

// --- restarts by reason ---------------------------------------------------------

TEST_CASE("restarts are counted by reason: exited, killed, reload; not ttou nor stop") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(3));
  arbiter.Start();
  for (pid_t pid : {100, 101, 102}) arbiter.OnWorkerReady(pid);
  arbiter.OnWorkerExited(KilledBy(100, SIGSEGV));
  arbiter.OnWorkerExited(Exited(101, 1));
  CHECK(Restarts(arbiter) == "exited=1 killed=1");
  CHECK(ops.TakeSpawns() == "100:w0g1, 101:w1g1, 102:w2g1, 103:w0g1, 104:w1g1");

  arbiter.HandleTtou();
  CHECK(ops.TakeKills() == "RETIRE 102");
  arbiter.OnWorkerExited(Exited(102, 0));
  CHECK(Restarts(arbiter) == "exited=1 killed=1");  // TTOU replaces nobody

  arbiter.Reload(Options(1));
  CHECK(ops.TakeSpawns() == "105:w0g2");
  arbiter.OnWorkerReady(105);
  CHECK(ops.TakeKills() == "RETIRE 103, RETIRE 104");
  arbiter.OnWorkerExited(Exited(103, 0));
  arbiter.OnWorkerExited(KilledBy(104, SIGKILL));  // killed after graceful_timeout: still a reload
  CHECK(Restarts(arbiter) == "reload=2 exited=1 killed=1");

  arbiter.HandleTerm();
  arbiter.OnWorkerExited(Exited(105, 0));
  CHECK(arbiter.done());
  CHECK(Restarts(arbiter) == "reload=2 exited=1 killed=1");  // a stop replaces nobody
}

TEST_CASE("a worker dying unasked while thriftd stops is not a restart") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(1));
  arbiter.Start();
  arbiter.HandleQuickStop();
  arbiter.OnWorkerExited(KilledBy(100, SIGKILL));
  CHECK(arbiter.done());
  CHECK(Restarts(arbiter) == "");
}

TEST_CASE("boot errors are counted as restarts, reported or told by the exit code") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(2));
  arbiter.Start();
  arbiter.OnWorkerReady(100);
  arbiter.OnWorkerReady(101);
  arbiter.Reload(Options(2));
  CHECK(ops.TakeSpawns() == "100:w0g1, 101:w1g1, 102:w0g2, 103:w1g2");
  arbiter.OnWorkerBootError(102, "cannot load app ./libx.so: No such file or directory");
  CHECK(ops.TakeKills() == "TERM 103");  // stopped with its generation: it did not fail
  arbiter.OnWorkerExited(Exited(102, kWorkerExitBootError));
  arbiter.OnWorkerExited(Exited(103, 0));
  CHECK(Restarts(arbiter) == "boot_error=1");

  // A second reload whose worker dies with code 3 and no report.
  arbiter.Reload(Options(1));
  CHECK(ops.TakeSpawns() == "104:w0g3");
  arbiter.OnWorkerExited(Exited(104, kWorkerExitBootError));
  CHECK(arbiter.generation() == 1);
  CHECK(Restarts(arbiter) == "boot_error=2");
  CHECK(Pids(arbiter) == "100 101");
}

TEST_CASE("a boot error on first start is counted though thriftd halts") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, Options(1));
  arbiter.Start();
  arbiter.OnWorkerBootError(100, "boom");
  arbiter.OnWorkerExited(Exited(100, kWorkerExitBootError));
  CHECK(arbiter.done());
  CHECK(arbiter.exit_code() == kExitAppError);
  CHECK(Restarts(arbiter) == "boot_error=1");
}

TEST_CASE("every reason counted as a restart is one the metrics always render") {
  std::set<std::string> rendered(std::begin(kRestartReasons), std::end(kRestartReasons));
  std::set<std::string> counted;
  for (StopReason reason :
       {StopReason::kNone, StopReason::kStop, StopReason::kReload, StopReason::kTtou,
        StopReason::kMaxRequests, StopReason::kTimeout, StopReason::kBootError, StopReason::kExited,
        StopReason::kKilled, StopReason::kWinch}) {
    if (CountsAsRestart(reason)) counted.insert(StopReasonName(reason));
  }
  CHECK(counted == rendered);
}

// --- an abandoned reload --------------------------------------------------------

TEST_CASE("an abandoned reload restores every option it applied") {
  FakeProcessOps ops;
  ArbiterOptions old_options = LivenessOptions(2);
  old_options.graceful_timeout = 30;
  Arbiter arbiter(ops, old_options);
  arbiter.Start();
  arbiter.OnWorkerReady(100);
  arbiter.OnWorkerReady(101);
  ops.TakeSpawns();

  ArbiterOptions fresh = Options(1, /*graceful_timeout=*/5, /*quick=*/1);
  fresh.timeout = 100;
  fresh.abort_grace = 7;
  fresh.min_respawn_delay = 3;
  fresh.max_respawn_delay = 9;
  arbiter.Reload(fresh);
  CHECK(arbiter.options().timeout == 100);
  CHECK(arbiter.options().graceful_timeout == 5);
  CHECK(ops.TakeSpawns() == "102:w0g2");
  arbiter.OnWorkerBootError(102, "boom");
  arbiter.OnWorkerExited(Exited(102, kWorkerExitBootError));
  CHECK(arbiter.generation() == 1);
  CHECK(arbiter.desired_workers() == 2);

  const ArbiterOptions& now = arbiter.options();
  CHECK(now.workers == old_options.workers);
  CHECK(now.graceful_timeout == old_options.graceful_timeout);
  CHECK(now.quick_stop_timeout == old_options.quick_stop_timeout);
  CHECK(now.timeout == old_options.timeout);
  CHECK(now.abort_grace == old_options.abort_grace);
  CHECK(now.min_respawn_delay == old_options.min_respawn_delay);
  CHECK(now.max_respawn_delay == old_options.max_respawn_delay);

  // And they act: the liveness timeout is 10 s again, not 100 ...
  ops.Advance(10.5);
  ops.Heartbeat(1);
  arbiter.Tick();
  CHECK(ops.TakeKills() == "ABRT 100");
  ops.Advance(2);
  ops.Heartbeat(1);
  arbiter.Tick();
  CHECK(ops.TakeKills() == "KILL 100");
  arbiter.OnWorkerExited(KilledBy(100, SIGKILL));
  CHECK(ops.TakeSpawns() == "103:w0g1");  // in slot 2, when 100 got SIGABRT
  // ... and a stop waits the old graceful_timeout (30 s), not 5.
  arbiter.HandleTerm();
  CHECK(ops.TakeKills() == "TERM 101, TERM 103");
  for (double step : {9.5, 9.5, 9.5, 1.0}) {  // reporting alive meanwhile
    ops.Advance(step);
    ops.Heartbeat(1);
    ops.Heartbeat(2);
    arbiter.Tick();
  }
  CHECK(ops.TakeKills() == "");
  ops.Advance(0.5);
  arbiter.Tick();
  CHECK(ops.TakeKills() == "KILL 101, KILL 103");
}

TEST_CASE("a reload that succeeds keeps its options") {
  FakeProcessOps ops;
  Arbiter arbiter(ops, LivenessOptions(1));
  arbiter.Start();
  arbiter.OnWorkerReady(100);
  ArbiterOptions fresh = Options(1);
  fresh.timeout = 100;
  arbiter.Reload(fresh);
  arbiter.OnWorkerReady(101);
  CHECK(ops.TakeKills() == "RETIRE 100");
  arbiter.OnWorkerExited(Exited(100, 0));
  CHECK(arbiter.options().timeout == 100);
  ops.Advance(50);
  arbiter.Tick();
  CHECK(ops.TakeKills() == "");
}

}  // namespace
}  // namespace thriftd
