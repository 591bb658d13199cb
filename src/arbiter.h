// Arbiter: the master's supervision decisions. It keeps the worker table
// (pid -> slot, generation, state), and decides whom to spawn, signal and
// kill; ProcessOps carries the decisions out. Runs in the master, in its one
// event loop thread; never touches a client byte.
//
// The master's event loop (src/master.cc) feeds it events: signals, worker
// messages, worker exits (it reaps), and a periodic Tick(). None of the
// arbiter's calls into ProcessOps calls back into the arbiter. Unit-tested
// through a fake ProcessOps (tests/unit/arbiter_test.cc).
#ifndef THRIFTD_SRC_ARBITER_H_
#define THRIFTD_SRC_ARBITER_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>

#include "src/process_ops.h"

namespace thriftd {

/// Where a worker is in its life. Booting -> ready -> (retiring ->)
/// draining or aborted -> killed, any of which may end in its exit.
enum class WorkerState {
  kBooting,   ///< forked; has not reported ready yet
  kReady,     ///< serving
  kRetiring,  ///< reached max_requests: serves on until its successor is ready
  kDraining,  ///< asked to stop (SIGTERM / SIGQUIT, or its boot failed); SIGKILL at kill_at
  kAborted,   ///< silent past `timeout`: sent SIGABRT; SIGKILL at kill_at
  kKilled,    ///< sent SIGKILL; only its exit is left
};

/// Whether the worker was asked to stop (or was killed): it will not serve again.
inline bool IsStopping(WorkerState state) {
  return state == WorkerState::kDraining || state == WorkerState::kAborted ||
         state == WorkerState::kKilled;
}

/// Whether the worker answers calls now: ready, or retiring (it serves on
/// until its successor is ready).
inline bool IsServing(WorkerState state) {
  return state == WorkerState::kReady || state == WorkerState::kRetiring;
}

/// Whether the worker counts towards its generation's worker count: booting
/// or ready. Not retiring: its successor is counted in its place.
inline bool IsActive(WorkerState state) {
  return state == WorkerState::kBooting || state == WorkerState::kReady;
}

/// Why a worker stopped, or was asked to.
enum class StopReason {
  kNone,         ///< not asked to stop (yet)
  kStop,         ///< thriftd stops (TERM, INT, QUIT, a halt), or its reload was abandoned
  kReload,       ///< a newer generation took over (HUP)
  kTtou,         ///< one worker fewer (TTOU)
  kMaxRequests,  ///< served max_requests; its successor took over
  kTimeout,      ///< silent past `timeout`
  kBootError,    ///< could not load or start the App
  kExited,       ///< exited unasked
  kKilled,       ///< died unasked, by a signal
  kWinch,        ///< WINCH: the master stops its workers and stays
};

/// Whether a stopping worker's idle connections go to the workers that stay
/// (a reload, TTOU, max_requests, or a new master after a binary upgrade) or
/// are closed (thriftd stops).
enum class Handover { kNone, kToSuccessors };

/// The one name of each reason, for logs and metric labels: "none", "stop",
/// "reload", "ttou", "max_requests", "timeout", "boot_error", "exited", "killed", "winch".
const char* StopReasonName(StopReason reason);
/// "exited with code N", "was sent SIGKILL": a wait status for the log.
std::string DescribeExit(int wait_status);
/// Whether a worker's exit for `reason` counts as a restart (it was, or
/// would have been, replaced): exited, killed, timeout, max_requests,
/// reload and boot_error; not stop or ttou (nobody takes its place).
bool CountsAsRestart(StopReason reason);

struct WorkerRecord {
  pid_t pid = 0;
  WorkerSpec spec;
  WorkerState state = WorkerState::kBooting;
  StopReason stop_reason = StopReason::kNone;
  double started_at = 0;
  std::uint64_t sequence = 0;  ///< spawn order, to find the oldest
  bool was_ready = false;      ///< it reported ready once: its death is no crash loop
  double kill_at = 0;          ///< kDraining, kAborted: when SIGKILL follows
  /// Its exit was collected (OnWorkerReaped) and is not yet reported: it is
  /// never signalled, since the kernel may have given its pid to another process.
  bool reaped = false;
};

struct ArbiterOptions {
  int workers = 1;
  double graceful_timeout = 30;
  /// TERM: how long the workers serve on (while /healthz says 503, so a load
  /// balancer moves new connections elsewhere) before they are stopped.
  double drain_delay = 0;
  double quick_stop_timeout = 2;  ///< INT/QUIT: how long before SIGKILL
  double timeout = 30;            ///< liveness: silence before SIGABRT; 0 = never
  /// After SIGABRT, before SIGKILL. The handler writes one line and exits in
  /// microseconds; a worker that cannot run it (SIGSTOPped, stuck in the
  /// kernel) is killed within a second of the timeout, tick included.
  double abort_grace = 0.5;
  /// A worker that dies before it reports ready (a crash loop, a boot error
  /// once thriftd has served) is respawned in its slot after this delay,
  /// doubling for each such death in that slot up to max_respawn_delay. A
  /// worker that was ready is replaced at once, however young.
  double min_respawn_delay = 0.1;
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
  /// Graceful stop. kToSuccessors when a new master (binary upgrade) is
  /// ready to take the idle connections.
  void HandleTerm(Handover handover = Handover::kNone);
  /// WINCH: stops every worker gracefully and keeps the master, with no
  /// workers until a HUP (or TTIN) starts them again.
  void HandleWinch(Handover handover);
  void HandleQuickStop();  ///< INT, QUIT
  void HandleTtin();
  void HandleTtou();
  /// HUP after the new configuration validated: start a new generation of
  /// `options.workers` workers under `options` (every option: timeouts
  /// too); the old ones are stopped gracefully once the new ones are all
  /// ready. If the new generation cannot boot while the old one serves,
  /// the reload is abandoned: every generation started since the last one
  /// that was all ready is stopped, and that one is served again with its
  /// options and worker count (TTIN/TTOU meanwhile included). A HUP while
  /// a reload is in flight supersedes it, and falls back to the same
  /// generation. Ignored while thriftd stops. Returns the new generation
  /// number (the current one when ignored).
  std::uint64_t Reload(const ArbiterOptions& options);
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
  /// gracefully (handing its connections over) once the successor is ready.
  void OnWorkerRetiring(pid_t pid);
  /// Another process sent the worker a stop signal (`why`: "SIGTERM from
  /// pid 42"): it stops on its own, and its successor starts on the next
  /// tick after a short hold, unless the master got a stop signal meanwhile
  /// (the signal went to the whole process group). Ignored while thriftd
  /// stops.
  void OnWorkerStopSignal(pid_t pid, const std::string& why);
  /// The loop collected worker `pid`'s exit. Called for every exit of a
  /// batch before any is handled (OnWorkerExited, after that worker's last
  /// messages): handling one may stop the others, and no signal may reach a
  /// pid already reaped. A pid that is not a worker is ignored.
  void OnWorkerReaped(pid_t pid);
  /// The worker exited (reaped by the loop, after its last messages were
  /// delivered). Counts the restart, replaces it if it should be, and logs
  /// the exit. An exit code of kWorkerExitBootError from a worker nobody
  /// asked to stop is a boot error even without its report. A pid that is
  /// not a worker (an orphan reaped as PID 1) is ignored.
  void OnWorkerExited(const ProcessExit& exit);

  /// One pass of the loop's timer: KillUnresponsiveWorkers();
  /// KillOverdueWorkers(); ManageWorkers().
  void Tick();
  /// Replacements by why the old worker went (see CountsAsRestart),
  /// counted when the old worker exits.
  const std::map<StopReason, std::uint64_t>& restarts() const { return restarts_; }
  bool stopping() const { return stopping_; }
  /// TERM with a drain_delay: the workers still serve, until drain_until().
  bool draining() const { return drain_until_ > 0; }
  /// The serving generation's workers are all ready (and some are wanted):
  /// no reload in flight, nothing booting in their place.
  bool all_ready() const;
  /// Workers answering calls now (IsServing), of every generation.
  int serving_workers() const;

  bool done() const { return done_; }
  int exit_code() const { return exit_code_; }
  /// The generation being served, or booting to be served: Reload() moves
  /// it forward, an abandoned reload back.
  std::uint64_t generation() const { return generation_; }
  int desired_workers() const { return desired_; }
  /// The options in force (a reload changes them, an abandoned one restores them).
  const ArbiterOptions& options() const { return options_; }
  const std::map<pid_t, WorkerRecord>& workers() const { return workers_; }
  /// Signals every live worker (USR1 for log reopen).
  void SignalAll(int signo);

 private:
  void KillOverdueWorkers();
  /// Stops every worker gracefully once a TERM's drain_delay is over.
  void EndDrain();
  void KillUnresponsiveWorkers();
  void ManageWorkers();
  /// Once the serving generation's workers are all ready, retires those
  /// they replace (older generations, max_requests retirees).
  void ReplaceSuperseded();
  /// Spawns or retires (TTOU) workers of the serving generation to match desired_.
  void MatchWorkerCount();
  bool Spawn(int index);
  /// Asks the worker to stop gracefully; SIGKILL follows after graceful_timeout.
  void Retire(WorkerRecord& worker, Handover handover, StopReason reason);
  /// Stops every generation newer than previous_generation_ and serves it
  /// again, as it was before the first reload in flight.
  void AbandonReload();
  /// Sends `signo` to the worker, unless it is reaped.
  void Signal(const WorkerRecord& worker, int signo);
  /// Whether a reload is in flight: a generation started and not yet all
  /// ready, with previous_generation_ to fall back to.
  bool reloading() const { return previous_generation_ != 0; }
  void Halt(int exit_code);
  /// Backs the respawn in the worker's slot off when it died before it was
  /// ready; clears the slot's back-off when it had been ready.
  void NoteDeath(const WorkerRecord& worker);
  /// Whether slot (worker index) `index` waits before its next spawn.
  bool BackingOff(int index, double now) const;
  /// The lowest scoreboard slot no live worker (stopping ones included) holds.
  int FreeSlot() const;
  int CountActive(std::uint64_t generation, bool ready_only) const;
  bool HasOlderGeneration() const;

  ProcessOps& ops_;
  ArbiterOptions options_;
  int desired_;
  std::uint64_t generation_ = 0;       // the generation being served (or booting)
  std::uint64_t last_generation_ = 0;  // the highest ever created
  std::uint64_t spawn_sequence_ = 0;   // orders workers started at the same instant
  // What to fall back to if a reload's workers cannot boot: the generation
  // serving before the first reload still in flight; 0 when none is.
  std::uint64_t previous_generation_ = 0;
  int previous_desired_ = 0;
  ArbiterOptions previous_options_;
  std::map<pid_t, WorkerRecord> workers_;
  std::map<StopReason, std::uint64_t> restarts_;
  // Per worker index: the delay before its next spawn, doubling while the
  // workers started in it die before they are ready, and when that is.
  struct Backoff {
    double delay = 0;
    double not_before = 0;
  };
  std::map<int, Backoff> backoff_;
  // After a worker reported a stop signal from another process: no spawn
  // before this. A signal to the whole process group reaches the master too,
  // maybe a moment after the worker reported it; its TERM must find no
  // replacement forked meanwhile.
  double hold_spawns_until_ = 0;
  // The first generation was all ready once: from then on a worker that
  // cannot start never stops thriftd.
  bool ever_all_ready_ = false;
  bool stopping_ = false;
  // TERM with a drain_delay: when the workers are stopped, and with which hand-over; 0 when not
  // draining.
  double drain_until_ = 0;
  Handover drain_handover_ = Handover::kNone;
  bool done_ = false;
  int exit_code_ = 0;
};

}  // namespace thriftd

#endif  // THRIFTD_SRC_ARBITER_H_
