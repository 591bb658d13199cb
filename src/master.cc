#include "src/master.h"
#include "src/base/clock.h"

#include <event2/event.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "src/arbiter.h"
#include "src/base/channel.h"
#include "src/base/exit_codes.h"
#include "src/base/log.h"
#include "src/base/scoreboard.h"
#include "src/metrics.h"
#include "src/metrics_server.h"
#include "workers/registry.h"
#include "workers/worker_process.h"

namespace thriftd {
namespace {

constexpr timeval kTickInterval = {0, 200 * 1000};

struct EventDeleter {
  void operator()(event* e) const { event_free(e); }
};
using EventPtr = std::unique_ptr<event, EventDeleter>;

}  // namespace

ArbiterOptions MakeArbiterOptions(const Config& config) {
  ArbiterOptions options;
  options.workers = config.workers;
  options.graceful_timeout = config.graceful_timeout;
  options.timeout = config.timeout;
  return options;
}

class Master::Impl final : public ProcessOps {
 public:
  Impl(std::vector<std::string> args, std::optional<std::string> env_args, Config config,
       std::vector<Listener> listeners)
      : args_(std::move(args)),
        env_args_(std::move(env_args)),
        listeners_(std::move(listeners)),
        arbiter_(*this, MakeArbiterOptions(config)) {
    metrics_bind_ = config.metrics_bind;
    metrics_bind_origin_ = config.OriginOf("metrics_bind").Describe();
    configs_[1] = std::make_shared<Config>(std::move(config));
  }

  ~Impl() override {
    metrics_server_.reset();  // before the event base it lives on
    channels_.clear();
    signal_events_.clear();
    tick_.reset();
    if (base_) event_base_free(base_);
  }

  int Run() {
    Status status = Scoreboard::Create(&scoreboard_);
    if (!status.ok()) {
      THRIFTD_LOG(kCritical) << status.message();
      return 1;
    }
    base_ = event_base_new();
    if (base_ == nullptr) {
      THRIFTD_LOG(kCritical) << "event_base_new failed";
      return 1;
    }
    THRIFTD_LOG(kInfo) << "Starting thriftd " << THRIFTD_VERSION;
    for (const Listener& listener : listeners_)
      THRIFTD_LOG(kInfo) << "Listening at: " << listener.display << " (" << getpid() << ")";
    THRIFTD_LOG(kInfo) << "Using worker: " << configs_[1]->worker_class;

    const std::pair<int, void (Impl::*)()> handlers[] = {
        {SIGTERM, &Impl::OnTerm}, {SIGINT, &Impl::OnQuickStop}, {SIGQUIT, &Impl::OnQuickStop},
        {SIGHUP, &Impl::OnHup},   {SIGTTIN, &Impl::OnTtin},     {SIGTTOU, &Impl::OnTtou},
        {SIGUSR1, &Impl::OnUsr1}, {SIGCHLD, &Impl::OnChild},
    };
    for (const auto& [signo, handler] : handlers) {
      auto* binding = new SignalBinding{this, handler};
      signal_bindings_.emplace_back(binding);
      EventPtr e(evsignal_new(base_, signo, &Impl::SignalThunk, binding));
      event_add(e.get(), nullptr);
      signal_events_.push_back(std::move(e));
    }
    tick_.reset(event_new(base_, -1, EV_PERSIST, &Impl::TickThunk, this));
    event_add(tick_.get(), &kTickInterval);
    if (!metrics_bind_.empty()) {
      BindAddress address;
      ParseBindAddress(metrics_bind_, &address);  // validated with the config
      status = MetricsServer::Start(
          base_, address.host, address.port, [this] { return RenderPrometheus(Snapshot()); },
          [this] { return Healthy(); }, &metrics_server_);
      if (!status.ok()) {
        THRIFTD_LOG(kError) << metrics_bind_origin_ << ": " << status.message();
        RemoveUnixSocketPaths(listeners_);
        return kExitConfigError;
      }
      THRIFTD_LOG(kInfo) << "Serving metrics at: http://" << address.host << ":"
                         << metrics_server_->port() << "/metrics";
    }

    arbiter_.Start();
    StepArbiter();
    if (!arbiter_.done()) event_base_dispatch(base_);
    RemoveUnixSocketPaths(listeners_);
    THRIFTD_LOG(kInfo) << "Shutting down: Master";
    return arbiter_.exit_code();
  }

  // ProcessOps ------------------------------------------------------------

  Status Spawn(const WorkerSpec& spec, pid_t* pid) override {
    auto config_it = configs_.find(spec.generation);
    if (config_it == configs_.end()) return Status::Error("no configuration for generation");
    std::shared_ptr<Config> config = config_it->second;
    WorkerLaunch launch;
    launch.index = spec.index;
    launch.generation = spec.generation;
    launch.slot = spec.slot;
    launch.settings = WorkerSettingsOf(*config);
    if (spec.slot >= Scoreboard::kMaxSlots) {
      return Status::Error("more than " + std::to_string(Scoreboard::kMaxSlots) + " workers");
    }
    Status status = CreateWorker(config->worker_class, &launch.kind);
    if (!status.ok()) return status;
    scoreboard_->Reset(spec.slot);
    launch.scoreboard = scoreboard_.get();
    for (const Listener& listener : listeners_) launch.listen_fds.push_back(listener.fd.get());
    ChannelPair channel;
    status = OpenChannel(&channel);
    if (!status.ok()) return status;

    // Signals stay blocked across fork() until the worker has installed its
    // own handlers: before that, libevent's handlers (inherited) would
    // forward a TERM meant for the worker to the master's loop.
    sigset_t all, previous;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &previous);
    pid_t child = fork();
    if (child != 0) sigprocmask(SIG_SETMASK, &previous, nullptr);
    if (child < 0) return Status::FromErrno("fork", errno);
    if (child == 0) {
      // In the worker: the master's ends of every channel are not ours; a
      // worker holding one would hide the master's death from that worker.
      channel.master_end.Reset();
      for (auto& [other_pid, other] : channels_) ::close(other.fd.Release());
      launch.channel_fd = channel.worker_end.Release();
      RunWorkerProcess(std::move(launch));
    }
    channel.worker_end.Reset();
    Channel& entry = channels_[child];  // map nodes are stable: safe as the callback's arg
    entry.master = this;
    entry.pid = child;
    entry.fd = std::move(channel.master_end);
    entry.readable.reset(
        event_new(base_, entry.fd.get(), EV_READ | EV_PERSIST, &Impl::ChannelThunk, &entry));
    event_add(entry.readable.get(), nullptr);
    *pid = child;
    return Status::Ok();
  }

  void Kill(pid_t pid, int signo) override {
    if (kill(pid, signo) < 0 && errno != ESRCH)
      THRIFTD_LOG(kWarning) << "kill(" << pid << "): " << std::strerror(errno);
  }

  void Retire(pid_t pid) override {
    auto it = channels_.find(pid);
    // The request goes first: by the time the worker sees its stop, it is
    // already waiting in the channel.
    if (it != channels_.end() && it->second.fd.valid())
      (void)SendChannelMessage(it->second.fd.get(), kChannelHandOver);
    Kill(pid, SIGTERM);
  }

  std::vector<ProcessExit> Reap() override {
    std::vector<ProcessExit> exits;
    for (;;) {
      int wait_status = 0;
      pid_t pid = waitpid(-1, &wait_status, WNOHANG);
      if (pid <= 0) break;
      // Its counters outlive it: fold them in before its slot is reused.
      auto worker = arbiter_.workers().find(pid);
      if (worker != arbiter_.workers().end())
        retired_.AddSlot(scoreboard_->slot(worker->second.spec.slot));
      // Messages sent just before exiting (a boot error) come first.
      DrainChannel(pid);
      channels_.erase(pid);
      exits.push_back({pid, wait_status});
    }
    return exits;
  }

  double Now() override { return MonotonicSeconds(); }

  double LastHeartbeat(int slot) override {
    return static_cast<double>(scoreboard_->slot(slot).heartbeat_ms.load()) / 1000.0;
  }

 private:
  struct Channel {
    Impl* master = nullptr;
    pid_t pid = 0;
    UniqueFd fd;
    EventPtr readable;
  };
  struct SignalBinding {
    Impl* self;
    void (Impl::*handler)();
  };

  static void SignalThunk(evutil_socket_t, short, void* arg) {
    auto* binding = static_cast<SignalBinding*>(arg);
    (binding->self->*binding->handler)();
    binding->self->StepArbiter();
  }
  static void TickThunk(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<Impl*>(arg);
    self->forwarded_.clear();  // adopted by now: the scoreboard counts them
    self->StepArbiter();
  }
  static void ChannelThunk(evutil_socket_t, short, void* arg) {
    auto* channel = static_cast<Channel*>(arg);
    Impl* self = channel->master;
    self->DrainChannel(channel->pid);
    self->StepArbiter();
  }

  void DrainChannel(pid_t pid) {
    auto it = channels_.find(pid);
    if (it == channels_.end() || !it->second.fd.valid()) return;
    ChannelMessage message;
    ChannelRead result;
    while ((result = ReceiveChannelMessage(it->second.fd.get(), &message)) ==
           ChannelRead::kMessage) {
      if (message.passed.valid()) ForwardConnection(pid, std::move(message.passed), message.text);
      if (message.kind == kChannelReady) arbiter_.OnWorkerReady(pid);
      if (message.kind == kChannelBootError) arbiter_.OnWorkerBootError(pid, message.text);
      if (message.kind == kChannelRetire) arbiter_.OnWorkerRetiring(pid);
    }
    // EOF: the worker is exiting; stop watching, the reap follows.
    if (result == ChannelRead::kClosed) it->second.readable.reset();
  }

  // A retiring worker handed over an idle connection: give it to the ready
  // worker of the current generation with the most room, or close it when
  // there is none (thriftd is stopping). Connections forwarded but not yet
  // adopted count too, so a burst does not all land on one worker.
  void ForwardConnection(pid_t from, UniqueFd connection, const std::string& carried) {
    const WorkerRecord* target = nullptr;
    std::int64_t best_room = INT64_MIN;
    for (const auto& [pid, worker] : arbiter_.workers()) {
      if (pid == from || worker.state != WorkerState::kReady || worker.retiring ||
          worker.spec.generation != arbiter_.generation())
        continue;
      const ScoreboardSlot& slot = scoreboard_->slot(worker.spec.slot);
      std::int64_t room =
          std::int64_t{slot.connection_limit.load()} - slot.connections.load() - forwarded_[pid];
      if (room > best_room) {
        best_room = room;
        target = &worker;
      }
    }
    if (target == nullptr) return;  // Closed as `connection` goes.
    auto it = channels_.find(target->pid);
    if (it == channels_.end() || !it->second.fd.valid()) return;
    Status status =
        SendChannelMessage(it->second.fd.get(), kChannelConnection, carried, connection.get());
    if (!status.ok()) {
      THRIFTD_LOG(kWarning) << "cannot hand a connection over: " << status.message();
      return;
    }
    ++forwarded_[target->pid];
  }

  // Counters of the live workers plus those of every worker gone before.
  MetricsSnapshot Snapshot() const {
    MetricsSnapshot snapshot;
    snapshot.totals.Add(retired_);
    for (const auto& [pid, worker] : arbiter_.workers()) {
      const ScoreboardSlot& slot = scoreboard_->slot(worker.spec.slot);
      snapshot.totals.AddSlot(slot);
      snapshot.connections += slot.connections.load(std::memory_order_relaxed);
      switch (worker.state) {
        case WorkerState::kBooting:
          ++snapshot.workers_booting;
          break;
        case WorkerState::kReady:
          ++snapshot.workers_ready;
          break;
        case WorkerState::kDraining:
          ++snapshot.workers_draining;
          break;
      }
    }
    snapshot.restarts_by_reason = arbiter_.restarts();
    snapshot.version = THRIFTD_VERSION;
    snapshot.thrift_version = THRIFT_LIBRARY_VERSION;
    return snapshot;
  }

  // /healthz: a worker can answer, and thriftd is not on its way out.
  bool Healthy() const {
    if (arbiter_.stopping()) return false;
    for (const auto& [pid, worker] : arbiter_.workers())
      if (worker.state == WorkerState::kReady) return true;
    return false;
  }

  void StepArbiter() {
    arbiter_.Tick();
    if (arbiter_.done()) event_base_loopbreak(base_);
  }

  void OnTerm() { arbiter_.HandleTerm(); }
  void OnQuickStop() { arbiter_.HandleQuickStop(); }
  void OnTtin() { arbiter_.HandleTtin(); }
  void OnTtou() { arbiter_.HandleTtou(); }
  void OnChild() {}  // StepArbiter() reaps.
  void OnUsr1() {
    THRIFTD_LOG(kInfo) << "Handling signal: usr1; reopening log files";
    Status status = log::Reopen();
    if (!status.ok()) THRIFTD_LOG(kError) << "cannot reopen the error log: " << status.message();
    arbiter_.SignalAll(SIGUSR1);
  }

  void OnHup() {
    THRIFTD_LOG(kInfo) << "Handling signal: hup";
    auto fresh = std::make_shared<Config>();
    Status status = ResolveConfig(args_, env_args_, fresh.get());
    if (status.ok() && fresh->app.empty()) status = Status::Error("no App given");
    if (!status.ok()) {
      THRIFTD_LOG(kError) << "Reload failed, keeping the running configuration: "
                          << status.message();
      return;
    }
    const Config& running = *configs_.at(arbiter_.generation());
    if (fresh->bind != running.bind) {
      THRIFTD_LOG(kWarning) << "bind changes take effect on restart; keeping " << listeners_.size()
                            << " listener(s)";
    }
    if (fresh->errorlog != running.errorlog || fresh->loglevel != running.loglevel) {
      status = log::Configure(fresh->errorlog, fresh->loglevel);
      if (!status.ok()) THRIFTD_LOG(kError) << "errorlog: " << status.message();
    }
    configs_[arbiter_.next_generation()] = fresh;
    arbiter_.set_timeout(fresh->timeout);
    arbiter_.Reload(fresh->workers, fresh->graceful_timeout);
    // Configurations of generations with no worker left are dropped.
    for (auto it = configs_.begin(); it != configs_.end();) {
      bool used = it->first == arbiter_.generation();
      for (const auto& [pid, worker] : arbiter_.workers())
        used = used || worker.spec.generation == it->first;
      it = used ? std::next(it) : configs_.erase(it);
    }
  }

  std::vector<std::string> args_;
  std::optional<std::string> env_args_;
  std::vector<Listener> listeners_;
  std::map<std::uint64_t, std::shared_ptr<Config>> configs_;  // by generation
  Arbiter arbiter_;
  event_base* base_ = nullptr;
  std::map<pid_t, Channel> channels_;
  std::unique_ptr<Scoreboard> scoreboard_;
  MetricsTotals retired_;  // counters of workers already reaped
  std::string metrics_bind_;
  std::string metrics_bind_origin_;
  std::unique_ptr<MetricsServer> metrics_server_;
  std::map<pid_t, std::int64_t> forwarded_;  // connections forwarded this tick
  std::vector<std::unique_ptr<SignalBinding>> signal_bindings_;
  std::vector<EventPtr> signal_events_;
  EventPtr tick_;
};

Master::Master(std::vector<std::string> args, std::optional<std::string> env_args, Config config,
               std::vector<Listener> listeners)
    : impl_(std::make_unique<Impl>(std::move(args), std::move(env_args), std::move(config),
                                   std::move(listeners))) {}

Master::~Master() = default;

int Master::Run() { return impl_->Run(); }

}  // namespace thriftd
