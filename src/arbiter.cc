#include "src/arbiter.h"

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <vector>

#include "src/base/exit_codes.h"
#include "src/base/log.h"

namespace thriftd {
namespace {

// How long spawns wait after a worker reported a stop signal from another
// process: far longer than a process-group signal takes to reach every
// member, far shorter than anyone would notice one worker fewer.
constexpr double kSignalHold = 0.1;

}  // namespace

std::string DescribeExit(int wait_status) {
  if (WIFSIGNALED(wait_status)) {
    const char* name = sigabbrev_np(WTERMSIG(wait_status));
    return std::string("was sent SIG") + (name ? name : std::to_string(WTERMSIG(wait_status)));
  }
  return "exited with code " + std::to_string(WEXITSTATUS(wait_status));
}

const char* StopReasonName(StopReason reason) {
  switch (reason) {
    case StopReason::kNone:
      return "none";
    case StopReason::kStop:
      return "stop";
    case StopReason::kReload:
      return "reload";
    case StopReason::kTtou:
      return "ttou";
    case StopReason::kMaxRequests:
      return "max_requests";
    case StopReason::kTimeout:
      return "timeout";
    case StopReason::kBootError:
      return "boot_error";
    case StopReason::kExited:
      return "exited";
    case StopReason::kKilled:
      return "killed";
    case StopReason::kWinch:
      return "winch";
  }
  return "?";
}

bool CountsAsRestart(StopReason reason) {
  switch (reason) {
    case StopReason::kExited:
    case StopReason::kKilled:
    case StopReason::kTimeout:
    case StopReason::kMaxRequests:
    case StopReason::kReload:
    case StopReason::kBootError:
      return true;
    case StopReason::kNone:
    case StopReason::kStop:
    case StopReason::kTtou:
    case StopReason::kWinch:
      return false;
  }
  return false;
}

Arbiter::Arbiter(ProcessOps& ops, ArbiterOptions options)
    : ops_(ops), options_(options), desired_(std::max(1, options.workers)) {}

void Arbiter::Start() {
  generation_ = last_generation_ = 1;
  ManageWorkers();
}

void Arbiter::HandleTerm(Handover handover) {
  if (stopping_) return;
  stopping_ = true;
  if (options_.drain_delay > 0) {
    THRIFTD_LOG(kInfo) << "Handling signal: term; draining: the workers serve on for "
                       << options_.drain_delay << " s, then stop gracefully";
    drain_until_ = ops_.Now() + options_.drain_delay;
    drain_handover_ = handover;
    return;
  }
  THRIFTD_LOG(kInfo) << "Handling signal: term; stopping gracefully"
                     << (handover == Handover::kToSuccessors
                             ? ", handing idle connections to the new master"
                             : "");
  for (auto& [pid, worker] : workers_) Retire(worker, handover, StopReason::kStop);
}

void Arbiter::EndDrain() {
  if (drain_until_ == 0 || ops_.Now() < drain_until_) return;
  drain_until_ = 0;
  THRIFTD_LOG(kInfo) << "Drained; stopping gracefully";
  for (auto& [pid, worker] : workers_) Retire(worker, drain_handover_, StopReason::kStop);
}

void Arbiter::HandleWinch(Handover handover) {
  if (stopping_) return;
  THRIFTD_LOG(kInfo) << "Handling signal: winch; stopping the workers gracefully"
                     << (handover == Handover::kToSuccessors
                             ? ", handing idle connections to the new master"
                             : "")
                     << "; HUP starts them again";
  // Nothing to fall back to: a reload in flight is stopped with the rest.
  previous_generation_ = 0;
  desired_ = 0;
  for (auto& [pid, worker] : workers_) Retire(worker, handover, StopReason::kWinch);
}

int Arbiter::serving_workers() const {
  int serving = 0;
  for (const auto& [pid, worker] : workers_) serving += IsServing(worker.state) ? 1 : 0;
  return serving;
}

bool Arbiter::all_ready() const {
  return !stopping_ && !reloading() && desired_ > 0 &&
         CountActive(generation_, /*ready_only=*/true) >= desired_;
}

void Arbiter::HandleQuickStop() {
  THRIFTD_LOG(kInfo) << "Handling signal: quick stop";
  stopping_ = true;
  drain_until_ = 0;
  for (auto& [pid, worker] : workers_) {
    // A quick stop overrides a graceful one already under way.
    double deadline = ops_.Now() + options_.quick_stop_timeout;
    if (!IsStopping(worker.state)) {
      worker.state = WorkerState::kDraining;
      worker.kill_at = deadline;
    } else if (deadline < worker.kill_at) {
      worker.kill_at = deadline;
    }
    if (worker.stop_reason == StopReason::kNone) worker.stop_reason = StopReason::kStop;
    Signal(worker, SIGQUIT);
  }
}

void Arbiter::HandleTtin() {
  if (stopping_) return;
  ++desired_;
  // Also for the generation an abandoned reload would bring back: the
  // operator asked for one more worker, whichever generation serves.
  if (reloading()) ++previous_desired_;
  THRIFTD_LOG(kInfo) << "Handling signal: ttin; workers: " << desired_;
  ManageWorkers();
}

void Arbiter::HandleTtou() {
  if (stopping_) return;
  // Never below one; none stays none (after WINCH).
  if (desired_ > 1) --desired_;
  if (reloading() && previous_desired_ > 1) --previous_desired_;
  THRIFTD_LOG(kInfo) << "Handling signal: ttou; workers: " << desired_;
  ManageWorkers();
}

std::uint64_t Arbiter::Reload(const ArbiterOptions& options) {
  // Stopping is final: a new generation would only be stopped again, and
  // its options (graceful_timeout) would change the stop under way.
  if (stopping_) {
    THRIFTD_LOG(kInfo) << "Reload ignored: thriftd is stopping";
    return generation_;
  }
  // What to fall back to is the generation serving before any reload in
  // flight: one still booting may fail as well.
  if (!reloading()) {
    previous_generation_ = generation_;
    previous_desired_ = desired_;
    previous_options_ = options_;
  }
  generation_ = ++last_generation_;
  options_ = options;
  backoff_.clear();  // new code, or a fixed resource: no reason to wait
  desired_ = std::max(1, options.workers);
  THRIFTD_LOG(kInfo) << "Reloading: starting generation " << generation_ << " with " << desired_
                     << (desired_ == 1 ? " worker" : " workers");
  ManageWorkers();
  return generation_;
}

void Arbiter::OnWorkerReady(pid_t pid) {
  auto it = workers_.find(pid);
  if (it == workers_.end() || it->second.state != WorkerState::kBooting) return;
  it->second.state = WorkerState::kReady;
  it->second.was_ready = true;
  THRIFTD_LOG(kInfo) << "Worker (pid:" << pid << ") is ready";
  ManageWorkers();
}

void Arbiter::OnWorkerRetiring(pid_t pid) {
  auto it = workers_.find(pid);
  if (it == workers_.end()) return;
  if (!IsActive(it->second.state)) return;
  it->second.state = WorkerState::kRetiring;
  THRIFTD_LOG(kInfo) << "Worker (pid:" << pid << ") reached max_requests; starting its successor";
  ManageWorkers();
}

void Arbiter::OnWorkerBootError(pid_t pid, const std::string& message) {
  THRIFTD_LOG(kError) << message;
  auto it = workers_.find(pid);
  if (it != workers_.end()) {
    WorkerRecord& worker = it->second;
    bool already_stopping = IsStopping(worker.state);
    // It exits by itself; SIGKILL only if it does not, as for any stop.
    if (!already_stopping) {
      worker.state = WorkerState::kDraining;
      worker.kill_at = ops_.Now() + options_.graceful_timeout;
    }
    worker.stop_reason = StopReason::kBootError;
    if (already_stopping || worker.spec.generation != generation_) return;
  }
  if (stopping_) return;
  if (reloading()) {
    AbandonReload();
    return;
  }
  // Only the very first start stops thriftd: the App cannot start at all.
  if (!ever_all_ready_) {
    Halt(kExitAppError);
    return;
  }
  // A replacement could not start (a transient failure in OnWorkerStart, a
  // resource gone): keep serving with the workers there are, and retry in
  // that slot with back-off.
  THRIFTD_LOG(kWarning) << "Worker (pid:" << pid << ") could not start; " << serving_workers()
                        << " of " << desired_ << " worker(s) serve; retrying";
}

void Arbiter::OnWorkerStopSignal(pid_t pid, const std::string& why) {
  auto it = workers_.find(pid);
  if (stopping_ || it == workers_.end() || IsStopping(it->second.state)) return;
  WorkerRecord& worker = it->second;
  THRIFTD_LOG(kInfo) << "Worker (pid:" << pid << ") got " << why << "; it stops gracefully";
  // As if it had exited unasked, which it is about to do; until it has, the
  // graceful timeout holds it as any stopping worker.
  worker.state = WorkerState::kDraining;
  worker.stop_reason = StopReason::kExited;
  worker.kill_at = ops_.Now() + options_.graceful_timeout;
  hold_spawns_until_ = ops_.Now() + kSignalHold;
}

void Arbiter::OnWorkerReaped(pid_t pid) {
  auto it = workers_.find(pid);
  if (it != workers_.end()) it->second.reaped = true;
}

void Arbiter::OnWorkerExited(const ProcessExit& exit) {
  auto it = workers_.find(exit.pid);
  if (it == workers_.end()) return;
  bool boot_error =
      WIFEXITED(exit.wait_status) && WEXITSTATUS(exit.wait_status) == kWorkerExitBootError;
  // A boot error is normally reported over the channel first; without
  // that report (the message was lost) the exit code alone tells.
  if (boot_error && !IsStopping(it->second.state)) {
    OnWorkerBootError(exit.pid, "Worker (pid:" + std::to_string(exit.pid) + ") failed to boot");
  }
  WorkerRecord& worker = it->second;
  bool expected = IsStopping(worker.state) || stopping_;
  if (worker.stop_reason == StopReason::kNone && !stopping_)
    worker.stop_reason = WIFSIGNALED(exit.wait_status) ? StopReason::kKilled : StopReason::kExited;
  if (!stopping_ &&
      (worker.stop_reason == StopReason::kKilled || worker.stop_reason == StopReason::kExited ||
       worker.stop_reason == StopReason::kBootError)) {
    NoteDeath(worker);
  }
  if (CountsAsRestart(worker.stop_reason)) ++restarts_[worker.stop_reason];
  std::string what =
      "Worker (pid:" + std::to_string(exit.pid) + ") " + DescribeExit(exit.wait_status);
  if (expected || boot_error) {
    THRIFTD_LOG(kInfo) << what;
  } else {
    THRIFTD_LOG(kWarning) << what << "; replacing it";
  }
  workers_.erase(it);
  ManageWorkers();
}

void Arbiter::NoteDeath(const WorkerRecord& worker) {
  int index = worker.spec.index;
  if (worker.was_ready) {
    backoff_.erase(index);  // killed from outside (OOM, kill -9): replaced at once
    return;
  }
  // A worker that dies before it is ready would otherwise be forked again
  // at once, thousands of times a second. Per slot: the others' deaths say
  // nothing of this one's.
  Backoff& backoff = backoff_[index];
  double now = ops_.Now();
  backoff.delay =
      std::min(options_.max_respawn_delay, std::max(options_.min_respawn_delay, backoff.delay * 2));
  backoff.not_before = now + backoff.delay;
  if (backoff.delay > 0) {
    THRIFTD_LOG(kWarning) << "Worker (pid:" << worker.pid << ") died "
                          << static_cast<int>((now - worker.started_at) * 1000)
                          << " ms after its start, before it was ready; next start in its slot in "
                          << static_cast<int>(backoff.delay * 1000) << " ms";
  }
}

bool Arbiter::BackingOff(int index, double now) const {
  auto it = backoff_.find(index);
  return it != backoff_.end() && now < it->second.not_before;
}

void Arbiter::Tick() {
  EndDrain();
  KillUnresponsiveWorkers();
  KillOverdueWorkers();
  ManageWorkers();
}

void Arbiter::KillUnresponsiveWorkers() {
  if (options_.timeout <= 0) return;
  double now = ops_.Now();
  for (auto& [pid, worker] : workers_) {
    if (worker.state == WorkerState::kAborted || worker.state == WorkerState::kKilled) continue;
    if (worker.reaped) continue;  // gone; its exit is being reported
    // Before its first heartbeat a worker counts from its start.
    double last_sign = std::max(worker.started_at, ops_.LastHeartbeat(worker.spec.slot));
    if (now - last_sign <= options_.timeout) continue;
    THRIFTD_LOG(kCritical) << "WORKER TIMEOUT (pid:" << pid << ")";
    worker.stop_reason = StopReason::kTimeout;
    if (!IsStopping(worker.state) || worker.kill_at > now + options_.abort_grace)
      worker.kill_at = now + options_.abort_grace;
    worker.state = WorkerState::kAborted;
    Signal(worker, SIGABRT);
  }
}

void Arbiter::SignalAll(int signo) {
  for (const auto& [pid, worker] : workers_) Signal(worker, signo);
}

void Arbiter::KillOverdueWorkers() {
  double now = ops_.Now();
  for (auto& [pid, worker] : workers_) {
    bool waiting = worker.state == WorkerState::kDraining || worker.state == WorkerState::kAborted;
    if (waiting && now >= worker.kill_at && !worker.reaped) {
      THRIFTD_LOG(kWarning) << "Worker (pid:" << pid << ") did not stop in time; killing it";
      Signal(worker, SIGKILL);
      worker.state = WorkerState::kKilled;  // Once; its exit follows.
    }
  }
}

void Arbiter::ManageWorkers() {
  if (stopping_) {
    if (workers_.empty() && !draining()) done_ = true;
    return;
  }
  ReplaceSuperseded();
  MatchWorkerCount();
  if (all_ready()) ever_all_ready_ = true;
}

void Arbiter::ReplaceSuperseded() {
  // A reload (or a max_requests recycle) finishes when the replacements are
  // all ready: only then are the old workers asked to stop, so no request
  // finds nobody accepting.
  if (CountActive(generation_, /*ready_only=*/true) < desired_) return;
  bool reloaded = reloading() || HasOlderGeneration();
  for (auto& [pid, worker] : workers_) {
    if (worker.state == WorkerState::kRetiring) {
      Retire(worker, Handover::kToSuccessors, StopReason::kMaxRequests);
    } else if (worker.spec.generation < generation_) {
      Retire(worker, Handover::kToSuccessors, StopReason::kReload);
    }
  }
  if (reloaded) {
    // Done: nothing to fall back to any more, even if every worker of the
    // previous generation had died meanwhile.
    previous_generation_ = 0;
    THRIFTD_LOG(kInfo) << "Generation " << generation_ << " is serving";
  }
}

void Arbiter::MatchWorkerCount() {
  std::set<int> used;
  std::vector<WorkerRecord*> active;
  for (auto& [pid, worker] : workers_) {
    if (worker.spec.generation == generation_ && IsActive(worker.state)) {
      used.insert(worker.spec.index);
      active.push_back(&worker);
    }
  }
  int count = static_cast<int>(active.size());
  // The free slots, lowest first; one backing off keeps its turn (no other
  // slot is started in its place) until its delay is over.
  double now = ops_.Now();
  if (count < desired_ && now < hold_spawns_until_) return;
  int missing = desired_ - count;
  for (int index = 0; missing > 0; ++index) {
    if (used.count(index)) continue;
    --missing;
    if (BackingOff(index, now)) continue;
    if (!Spawn(index)) break;  // fork failed; the next tick tries again
    ++count;
  }
  if (count > desired_) {
    // TTOU: retire the oldest first, as gunicorn does.
    std::sort(active.begin(), active.end(), [](const WorkerRecord* a, const WorkerRecord* b) {
      return a->sequence < b->sequence;
    });
    for (int i = 0; i < count - desired_; ++i)
      Retire(*active[i], Handover::kToSuccessors, StopReason::kTtou);
  }
}

bool Arbiter::Spawn(int index) {
  WorkerSpec spec{index, generation_, FreeSlot()};
  pid_t pid = 0;
  Status status = ops_.Spawn(spec, &pid);
  if (!status.ok()) {
    THRIFTD_LOG(kError) << "cannot start a worker: " << status.message();
    return false;
  }
  WorkerRecord record;
  record.pid = pid;
  record.spec = spec;
  record.started_at = ops_.Now();
  record.sequence = ++spawn_sequence_;
  workers_[pid] = record;
  THRIFTD_LOG(kInfo) << "Booting worker with pid: " << pid;
  return true;
}

void Arbiter::Retire(WorkerRecord& worker, Handover handover, StopReason reason) {
  if (IsStopping(worker.state)) return;
  worker.state = WorkerState::kDraining;
  worker.stop_reason = reason;
  worker.kill_at = ops_.Now() + options_.graceful_timeout;
  if (worker.reaped) return;  // see Signal()
  if (handover == Handover::kToSuccessors) {
    ops_.Retire(worker.pid);
  } else {
    ops_.Kill(worker.pid, SIGTERM);
  }
}

void Arbiter::Signal(const WorkerRecord& worker, int signo) {
  // A reaped worker's pid may be another process's by now.
  if (!worker.reaped) ops_.Kill(worker.pid, signo);
}

void Arbiter::AbandonReload() {
  THRIFTD_LOG(kError) << "Reload failed; keeping generation " << previous_generation_;
  // Every generation started since, not only the current one: a reload
  // superseded by a newer HUP would otherwise boot on, unwatched, and its
  // boot error would find no reload to abandon and halt thriftd.
  for (auto& [pid, worker] : workers_) {
    if (worker.spec.generation > previous_generation_)
      Retire(worker, Handover::kNone, StopReason::kStop);
  }
  // Everything the reload changed goes back: the worker count and every
  // option (graceful_timeout, the liveness timeout, ...).
  generation_ = previous_generation_;
  desired_ = previous_desired_;
  options_ = previous_options_;
  previous_generation_ = 0;
}

void Arbiter::Halt(int exit_code) {
  if (stopping_) return;
  THRIFTD_LOG(kInfo) << "Shutting down";
  exit_code_ = exit_code;
  stopping_ = true;
  for (auto& [pid, worker] : workers_) Retire(worker, Handover::kNone, StopReason::kStop);
}

int Arbiter::FreeSlot() const {
  std::set<int> used;
  for (const auto& [pid, worker] : workers_) used.insert(worker.spec.slot);
  int slot = 0;
  while (used.count(slot)) ++slot;
  return slot;
}

int Arbiter::CountActive(std::uint64_t generation, bool ready_only) const {
  int count = 0;
  for (const auto& [pid, worker] : workers_) {
    if (worker.spec.generation != generation) continue;
    bool counted = ready_only ? worker.state == WorkerState::kReady : IsActive(worker.state);
    if (counted) ++count;
  }
  return count;
}

bool Arbiter::HasOlderGeneration() const {
  for (const auto& [pid, worker] : workers_) {
    if (worker.spec.generation < generation_ && !IsStopping(worker.state)) return true;
  }
  return false;
}

}  // namespace thriftd
