// Arbiter: the master's supervision decisions. It keeps the worker table
// (pid -> slot, generation, state), and decides whom to spawn, signal and
// kill; ProcessOps carries the decisions out. Runs in the master, in its one
// event loop thread; never touches a client byte.
//
// The event loop (src/master_loop) feeds it signals, worker messages and a
// periodic Tick(). Unit-tested through a fake ProcessOps.
#ifndef THRIFTD_SRC_ARBITER_H_
#define THRIFTD_SRC_ARBITER_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>

#include "src/process_ops.h"

namespace thriftd {

enum class WorkerState { kBooting, kReady, kDraining };

struct WorkerRecord {
  pid_t pid = 0;
  WorkerSpec spec;
  WorkerState state = WorkerState::kBooting;
  double started_at = 0;
  std::uint64_t sequence = 0;  ///< spawn order, to find the oldest
  double kill_at = 0;          ///< kDraining: when SIGKILL follows the stop request
  bool kill_sent = false;
  bool boot_failed = false;  ///< reported a boot error
  bool retiring = false;     ///< reached max_requests; stops once replaced
  bool hung = false;         ///< sent SIGABRT for silence past `timeout`
  std::string stop_reason;   ///< why it was asked to stop: "reload", "ttou", ... ("" = not asked)
};

struct ArbiterOptions {
  int workers = 1;
  double graceful_timeout = 30;
  double quick_stop_timeout = 2;  ///< INT/QUIT: how long before SIGKILL
  double timeout = 30;            ///< liveness: silence before SIGABRT; 0 = never
  double abort_grace = 2;         ///< after SIGABRT, before SIGKILL
  /// A worker that dies unasked sooner than this after its start counts as
  /// crashing: respawns then back off, doubling up to max_respawn_delay.
  double min_worker_life = 1;
  double max_respawn_delay = 5;
};

class Arbiter {
 public:
  Arbiter(ProcessOps& ops, ArbiterOptions options);
  Arbiter(const Arbiter&) = delete;
  Arbiter& operator=(const Arbiter&) = delete;

  /// Spawns the first generation.
  void Start();

  // Signals (the loop calls these; handlers only recorded the signal).
  void HandleTerm();       ///< graceful stop
  void HandleQuickStop();  ///< INT, QUIT
  void HandleTtin();
  void HandleTtou();
  /// HUP after the new configuration validated: start a new generation of
  /// `workers` workers; the old ones are stopped gracefully once the new
  /// ones are all ready. Returns the new generation number.
  std::uint64_t Reload(int workers, double graceful_timeout);
  /// The generation the next Reload() will create (to register its config).
  /// Generation numbers only grow, even across an abandoned reload.
  std::uint64_t next_generation() const { return last_generation_ + 1; }

  // Worker reports.
  void OnWorkerReady(pid_t pid);
  /// The worker could not load or start the App. During a reload the reload
  /// is abandoned and the old generation kept; otherwise thriftd halts. A
  /// report from a worker already being stopped, or of another generation
  /// than the current one, is only logged.
  void OnWorkerBootError(pid_t pid, const std::string& message);
  /// The worker reached max_requests: start its successor, and stop it
  /// gracefully once the successor is ready.
  void OnWorkerRetiring(pid_t pid);

  /// One pass of the loop: ReapWorkers(); KillUnresponsiveWorkers();
  /// KillOverdueWorkers(); ManageWorkers().
  void Tick();
  /// Replacements by why the old worker went: exited, killed, timeout,
  /// max_requests, reload (counted when the old worker is reaped).
  const std::map<std::string, std::uint64_t>& restarts() const { return restarts_; }
  bool stopping() const { return stopping_; }

  bool done() const { return done_; }
  int exit_code() const { return exit_code_; }
  std::uint64_t generation() const { return generation_; }
  int desired_workers() const { return desired_; }
  const std::map<pid_t, WorkerRecord>& workers() const { return workers_; }
  /// The liveness timeout (a reload may change it).
  void set_timeout(double seconds) { options_.timeout = seconds; }
  /// Signals every live worker (USR1 for log reopen).
  void SignalAll(int signo);

 private:
  void ReapWorkers();
  void KillOverdueWorkers();
  void KillUnresponsiveWorkers();
  void ManageWorkers();
  bool Spawn(int index);
  /// Whether a stopping worker's idle connections go to the workers that
  /// stay (a reload, TTOU, max_requests) or are closed (thriftd stops).
  enum class Handover { kNone, kToSuccessors };
  /// Asks the worker to stop gracefully; SIGKILL follows after graceful_timeout.
  void Retire(WorkerRecord& worker, Handover handover, const char* reason);
  void Halt(int exit_code);
  /// The lowest scoreboard slot no live worker (draining ones included) holds.
  int FreeSlot() const;
  int CountActive(std::uint64_t generation, bool ready_only) const;
  bool HasOlderGeneration() const;

  ProcessOps& ops_;
  ArbiterOptions options_;
  int desired_;
  std::uint64_t generation_ = 0;       // the generation being served (or booting)
  std::uint64_t last_generation_ = 0;  // the highest ever created
  std::uint64_t spawn_sequence_ = 0;   // orders workers started at the same instant
  // The generation to fall back to if a reload's workers cannot boot.
  std::uint64_t previous_generation_ = 0;
  int previous_desired_ = 0;
  double previous_graceful_timeout_ = 0;
  std::map<pid_t, WorkerRecord> workers_;
  std::map<std::string, std::uint64_t> restarts_;
  double respawn_delay_ = 0;  // grows while workers keep dying young
  double spawn_not_before_ = 0;
  bool stopping_ = false;
  bool done_ = false;
  int exit_code_ = 0;
};

}  // namespace thriftd

#endif  // THRIFTD_SRC_ARBITER_H_
