#include "src/master.h"

#include <event2/event.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <functional>

#include "src/app_schema.h"
#include "src/arbiter.h"
#include "src/base/channel.h"
#include "src/base/exit_codes.h"
#include "src/base/log.h"
#include "src/base/scoreboard.h"
#include "src/bind_entry.h"
#include "src/daemon.h"
#include "src/hand_over_relay.h"
#include "src/metrics.h"
#include "src/metrics_server.h"
#include "src/port_file.h"
#include "src/posix_process_ops.h"
#include "src/process_environment.h"
#include "src/process_title.h"
#include "src/start_checks.h"
#include "src/systemd_notifier.h"
#include "workers/registry.h"
#include "workers/worker_process.h"

namespace thriftd {
namespace {

constexpr timeval kTickInterval = {0, 200 * 1000};

struct EventDeleter {
  void operator()(event* e) const { event_free(e); }
};
using EventPtr = std::unique_ptr<event, EventDeleter>;

ArbiterOptions MakeArbiterOptions(const Config& config) {
  ArbiterOptions options;
  options.workers = config.workers;
  options.graceful_timeout = config.graceful_timeout;
  options.drain_delay = config.drain_delay;
  options.timeout = config.timeout;
  return options;
}

}  // namespace

// The loop. Every event (a signal, a worker's message, the timer) ends in
// Step(): reap, let the arbiter decide, follow the serving generation's
// master-wide settings. Exits reach the arbiter as events from here, after
// the worker's last messages, so no arbiter call ever calls back into the
// loop.
class Master::Impl {
 public:
  explicit Impl(MasterStart start)
      : args_(std::move(start.args)),
        env_args_(std::move(start.env_args)),
        command_(std::move(start.command)),
        listeners_(std::move(start.listeners)),
        pidfile_(std::move(start.pidfile)),
        predecessor_(std::move(start.predecessor)),
        log_path_(start.config.errorlog),
        log_level_(start.config.loglevel),
        title_(MasterTitle(start.config)),
        preloaded_(std::move(start.preloaded)),
        preloaded_fds_(std::move(start.preloaded_fds)),
        daemon_started_(std::move(start.daemon_started)),
        inherited_metrics_socket_(std::move(start.metrics_socket)) {
    metrics_bind_ = start.config.metrics_bind;
    metrics_bind_origin_ = start.config.OriginOf("metrics_bind").Describe();
    pidfile_path_ = start.config.pidfile;
    generations_[1].config = std::make_shared<Config>(std::move(start.config));
  }

  ~Impl() {
    metrics_server_.reset();  // before the event base it lives on
    // Before the upgrade channel closes: a new master takes the pidfile over
    // when it sees that, and removing ours after would remove its file.
    pidfile_.reset();
    successor_watch_.reset();
    predecessor_watch_.reset();
    channel_watches_.clear();
    signal_events_.clear();
    tick_.reset();
    relay_.reset();
    arbiter_.reset();
    ops_.reset();  // closes the channels, no longer watched
    if (base_) event_base_free(base_);
  }

  int Run() {
    Status status = Scoreboard::Create(&scoreboard_);
    if (!status.ok()) return FailStart(1, status.message());
    base_ = event_base_new();
    // Two priorities: signals (0) before everything else (1, the default).
    // A stop signal sent to the whole process group reaches the master
    // before its workers exit of it; handled first, it stops thriftd before
    // their exits (seen on their channels) could look like crashes to replace.
    if (base_ == nullptr || event_base_priority_init(base_, 2) != 0)
      return FailStart(1, "event_base_new failed");
    ops_ = std::make_unique<PosixProcessOps>(
        *scoreboard_,
        [this](const WorkerSpec& spec, PosixProcessOps::WorkerStart* start) {
          return PrepareWorker(spec, start);
        },
        [this](pid_t pid, int fd) { return WatchChannel(pid, fd); });
    arbiter_ = std::make_unique<Arbiter>(*ops_, MakeArbiterOptions(*generations_.at(1).config));
    relay_ = std::make_unique<HandOverRelay>(*scoreboard_,
                                             [this](pid_t pid) { return ops_->ChannelFd(pid); });

    THRIFTD_LOG(kInfo) << "Starting thriftd " << THRIFTD_VERSION;
    for (const Listener& listener : listeners_)
      THRIFTD_LOG(kInfo) << "Listening at: " << listener.display << " (" << getpid() << ")";
    Generation& first = generations_.at(1);
    THRIFTD_LOG(kInfo) << "Using worker: " << first.config->worker_class;
    status = ResolveWorkerCredentials(*first.config, &first.credentials);
    if (!status.ok()) return FailStart(1, status.message());
    workers_run_as_ = DescribeWorkerCredentials(first.credentials);
    first.listeners = ListenerSettingsFor(*first.config, ListenerKeys());
    THRIFTD_LOG(kInfo) << workers_run_as_;
    status = WatchSignalsAndTimer();
    // Beside the old master, this one is not systemd's main process until
    // the old one says so (MAINPID) and goes.
    if (predecessor_) notifier_.SetMainProcess(false);
    if (status.ok() && predecessor_) {
      THRIFTD_LOG(kInfo) << "Upgrading from the master with pid " << predecessor_->pid;
      status = Watch(predecessor_->channel.get(), &Impl::PredecessorThunk, &predecessor_watch_);
    }
    if (!status.ok()) return FailStart(1, status.message());
    if (!metrics_bind_.empty()) {
      status = StartMetricsServer();
      if (!status.ok()) return FailStart(kExitConfigError, status.message());
    }

    arbiter_->Start();
    Step();
    // The loop ends only by Step()'s loopbreak, once the arbiter is done.
    if (!arbiter_->done() && (event_base_dispatch(base_) != 0 || !arbiter_->done())) {
      // Not 0 with workers running: they stop as they see their channel's
      // end of file when the master is gone.
      THRIFTD_LOG(kCritical) << "the event loop failed (event_base_dispatch); exiting";
      RemoveUnixSocketPaths(listeners_);
      return 1;
    }
    // The other master's last word may still be unread: whether its
    // workers serve decides where held connections go.
    if (relay_->held() > 0) {
      DrainPredecessor();
      DrainSuccessor();
    }
    TellPredecessorWeFailed(last_boot_error_.empty()
                                ? "the new master stopped before it was ready"
                                : "the new master's workers failed to boot: " + last_boot_error_);
    ReportStarted(&daemon_started_,
                  last_boot_error_.empty() ? "thriftd stopped before its workers were ready"
                                           : "the workers failed to boot: " + last_boot_error_,
                  arbiter_->exit_code() != 0 ? arbiter_->exit_code() : 1);
    RemoveUnixSocketPaths(listeners_);
    THRIFTD_LOG(kInfo) << "Shutting down: Master";
    return arbiter_->exit_code();
  }

  // Ends a start that cannot go on: one line in the log, and in the old
  // master's when this is a binary upgrade's new master.
  int FailStart(int exit_code, const std::string& why) {
    THRIFTD_LOG(kCritical) << why;
    TellPredecessorWeFailed(why);
    ReportStarted(&daemon_started_, why, exit_code);
    RemoveUnixSocketPaths(listeners_);
    return exit_code;
  }

 private:
  struct SignalBinding {
    Impl* self;
    void (Impl::*handler)();
  };
  // One per worker; its address is the channel event's callback argument.
  struct ChannelWatch {
    Impl* self = nullptr;
    pid_t pid = 0;
    EventPtr readable;
  };

  Status WatchSignalsAndTimer() {
    const std::pair<int, void (Impl::*)()> handlers[] = {
        {SIGTERM, &Impl::OnTerm},   {SIGINT, &Impl::OnQuickStop}, {SIGQUIT, &Impl::OnQuickStop},
        {SIGHUP, &Impl::OnHup},     {SIGTTIN, &Impl::OnTtin},     {SIGTTOU, &Impl::OnTtou},
        {SIGUSR1, &Impl::OnUsr1},   {SIGCHLD, &Impl::OnChild},    {SIGUSR2, &Impl::OnUsr2},
        {SIGWINCH, &Impl::OnWinch},
    };
    for (const auto& [signo, handler] : handlers) {
      auto* binding = new SignalBinding{this, handler};
      signal_bindings_.emplace_back(binding);
      EventPtr e(evsignal_new(base_, signo, &Impl::SignalThunk, binding));
      if (!e || event_priority_set(e.get(), 0) != 0 || event_add(e.get(), nullptr) != 0) {
        return Status::Error(std::string("cannot handle SIG") + sigabbrev_np(signo) +
                             ": evsignal_new/event_add failed");
      }
      signal_events_.push_back(std::move(e));
    }
    tick_.reset(event_new(base_, -1, EV_PERSIST, &Impl::TickThunk, this));
    if (!tick_ || event_add(tick_.get(), &kTickInterval) != 0)
      return Status::Error("cannot start the timer: event_new/event_add failed");
    return Status::Ok();
  }

  // The error names the setting's origin.
  Status StartMetricsServer() {
    BindAddress address;
    // Validated with the config already; checked all the same.
    if (!ParseBindAddress(metrics_bind_, &address))
      return Status::Error(metrics_bind_origin_ + ": not an address: " + metrics_bind_);
    auto render = [this] { return RenderPrometheus(Snapshot()); };
    auto health = [this] { return Health(); };
    Status status;
    if (inherited_metrics_socket_.valid()) {
      // A binary upgrade: the old master still holds the port.
      Listener listener;
      status = AdoptListener(inherited_metrics_socket_.get(), address, &listener);
      if (status.ok()) {
        inherited_metrics_socket_.Release();  // the listener's now
        status = MetricsServer::Serve(base_, std::move(listener), render, health, &metrics_server_);
      }
    } else {
      status =
          MetricsServer::Start(base_, address.host, address.port, render, health, &metrics_server_);
    }
    if (!status.ok()) return status.Prepend(metrics_bind_origin_);
    THRIFTD_LOG(kInfo) << "Serving metrics at: http://" << address.host << ":"
                       << metrics_server_->port() << "/metrics";
    ServeAppSchema(*generations_.at(1).config);  // the start's (the arbiter has not started)
    return Status::Ok();
  }

  // /schema: what the App's file embeds, read again at each HUP (a replaced
  // .so brings its schema) except when preloaded (the workers keep the code
  // loaded at start, so /schema keeps its schema). A file whose schema
  // cannot be read serves none, said once in the log and by /schema's 404.
  void ServeAppSchema(const Config& config) {
    if (metrics_server_ == nullptr) return;
    std::optional<std::string> schema;
    Status status = ReadAppSchema(config.app, &schema);
    if (!status.ok()) {
      THRIFTD_LOG(kWarning) << "cannot serve the App's schema at /schema: " << status.message();
      metrics_server_->SetSchemaError(status.message());
      return;
    }
    if (schema) {
      THRIFTD_LOG(kInfo) << "Serving the App's schema at /schema (" << schema->size() << " bytes)";
    }
    metrics_server_->SetSchema(std::move(schema), config.app);
  }

  // PosixProcessOps hooks -------------------------------------------------

  // In the master, before fork: what worker `spec` starts from.
  Status PrepareWorker(const WorkerSpec& spec, PosixProcessOps::WorkerStart* start) {
    auto found = generations_.find(spec.generation);
    if (found == generations_.end()) return Status::Error("no configuration for generation");
    const Generation& generation = found->second;
    const Config& config = *generation.config;
    // Shared: std::function needs a copyable body, and a WorkerLaunch owns its kind.
    auto launch = std::make_shared<WorkerLaunch>();
    launch->index = spec.index;
    launch->generation = spec.generation;
    launch->slot = spec.slot;
    launch->settings = WorkerSettingsOf(config);
    launch->master_pid = getpid();  // taken before fork: the worker compares, never guesses
    launch->preloaded = preloaded_.get();
    // Looked up with the configuration (start, HUP), not at each fork: the
    // user database may be LDAP or NIS, and a lookup that hangs here would
    // stop the master's loop, the watchdog and every restart with it.
    launch->credentials = generation.credentials;
    Status status = CreateWorker(config.worker_class, &launch->kind);
    if (!status.ok()) return status;
    launch->scoreboard = scoreboard_.get();
    for (const Listener& listener : listeners_) launch->listen_fds.push_back(listener.fd.get());
    launch->listener_settings = generation.listeners;
    start->inherited_fds = launch->listen_fds;
    start->inherited_fds.insert(start->inherited_fds.end(), preloaded_fds_.begin(),
                                preloaded_fds_.end());
    // Built here: after fork the worker only copies it into place.
    std::string title = WorkerTitle(config, spec.index);
    start->run = [launch, title](int channel_fd) {
      Status titled = SetProcessTitle(title);
      if (!titled.ok())
        THRIFTD_LOG(kWarning) << "cannot set the process title: " << titled.message();
      launch->channel_fd = channel_fd;
      RunWorkerProcess(std::move(*launch));
    };
    return Status::Ok();
  }

  Status WatchChannel(pid_t pid, int fd) {
    auto watch = std::make_unique<ChannelWatch>();
    watch->self = this;
    watch->pid = pid;
    watch->readable.reset(
        event_new(base_, fd, EV_READ | EV_PERSIST, &Impl::ChannelThunk, watch.get()));
    if (!watch->readable || event_add(watch->readable.get(), nullptr) != 0)
      return Status::Error("cannot watch its channel: event_new/event_add failed");
    channel_watches_[pid] = std::move(watch);
    return Status::Ok();
  }

  // Watches `fd` for reading, calling `thunk` with this.
  Status Watch(int fd, event_callback_fn thunk, EventPtr* watch) {
    watch->reset(event_new(base_, fd, EV_READ | EV_PERSIST, thunk, this));
    if (!*watch || event_add(watch->get(), nullptr) != 0)
      return Status::Error("cannot watch the upgrade channel: event_new/event_add failed");
    return Status::Ok();
  }

  // Event callbacks ---------------------------------------------------------

  static void SignalThunk(evutil_socket_t, short, void* arg) {
    auto* binding = static_cast<SignalBinding*>(arg);
    (binding->self->*binding->handler)();
    binding->self->Step();
  }
  static void TickThunk(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<Impl*>(arg);
    self->relay_->ForgetForwarded();  // adopted by now: the scoreboard counts them
    self->Step();
    // Only while the loop turns: a master stuck anywhere stops pinging, and
    // systemd (WatchdogSec=) restarts it.
    self->notifier_.WatchdogTick(self->ops_->Now());
  }
  static void SuccessorThunk(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<Impl*>(arg);
    self->DrainSuccessor();
    self->Step();
  }
  static void PredecessorThunk(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<Impl*>(arg);
    self->DrainPredecessor();
    self->Step();
  }
  static void ChannelThunk(evutil_socket_t, short, void* arg) {
    auto* watch = static_cast<ChannelWatch*>(arg);
    Impl* self = watch->self;
    self->DrainChannel(watch->pid);  // may end the watch: `watch` is not used after
    self->Step();
  }

  // The loop, as verbs ------------------------------------------------------

  void Step() {
    ReapWorkers();
    arbiter_->Tick();
    // Held for want of room: a worker may have some now (a client left, a
    // replacement is ready), or thriftd stops and they are closed.
    relay_->RetryHeld(arbiter_->workers(), arbiter_->generation(), ops_->Now());
    FollowServingGeneration();
    TellPredecessorWhenReady();
    // daemon: the terminal's "started" means serving, as systemd's READY=1.
    if (arbiter_->all_ready()) ReportStarted(&daemon_started_, "");
    TellSuccessorWhetherWeServe();
    NotifySystemd();
    if (arbiter_->done()) event_base_loopbreak(base_);
  }

  // systemd (Type=notify): READY=1 once the serving generation is all ready
  // (at start, and to end a reload, kept or abandoned), STOPPING=1 once, and
  // a STATUS line whenever it changes.
  void NotifySystemd() {
    if (!notifier_.enabled()) return;
    std::string status = StatusLine();
    if (arbiter_->stopping()) {
      if (!told_stopping_) notifier_.Stopping(status);
      told_stopping_ = true;
      notifier_.Status(status);
    } else if (arbiter_->all_ready() && (!told_ready_ || reload_notified_)) {
      notifier_.Ready(status);
      told_ready_ = true;
      reload_notified_ = false;
    } else {
      notifier_.Status(status);
    }
  }

  // "2/2 workers ready, generation 3", for `systemctl status`.
  std::string StatusLine() const {
    int ready = 0;
    for (const auto& [pid, worker] : arbiter_->workers()) {
      if (worker.spec.generation == arbiter_->generation() && IsServing(worker.state)) ++ready;
    }
    std::string line;
    if (arbiter_->stopping()) {
      line = "Stopping: " + std::to_string(arbiter_->workers().size()) + " worker(s) left";
    } else if (arbiter_->desired_workers() == 0) {
      line = "No workers (WINCH); HUP starts them";
    } else {
      line = std::to_string(ready) + "/" + std::to_string(arbiter_->desired_workers()) +
             " workers ready, generation " + std::to_string(arbiter_->generation());
    }
    if (successor_) {
      line += "; upgrading to the new master, pid " + std::to_string(successor_->pid) +
              (successor_->ready ? " (serving)" : " (starting)");
    }
    return line;
  }

  // Each exit in the order the worker lived it: what it said before it
  // exited (a boot error, connections it handed over) first, then its
  // counters are kept, then the arbiter hears of the exit (and may give its
  // slot to a new worker). The arbiter learns of every reaped pid first:
  // handling one exit may stop the other workers, and a pid reaped in the
  // same batch may already be another process's.
  void ReapWorkers() {
    std::vector<ProcessExit> exits = ops_->Reap();
    for (const ProcessExit& exit : exits) arbiter_->OnWorkerReaped(exit.pid);
    for (const ProcessExit& exit : exits) {
      if (successor_ && exit.pid == successor_->pid) {
        OnSuccessorExited(exit);
        continue;
      }
      DrainChannel(exit.pid);
      channel_watches_.erase(exit.pid);
      ops_->CloseChannel(exit.pid);
      KeepCounters(exit.pid);
      arbiter_->OnWorkerExited(exit);
    }
  }

  void DrainChannel(pid_t pid) {
    int fd = ops_->ChannelFd(pid);
    if (fd < 0) return;
    ChannelRead result;
    for (;;) {
      ChannelMessage message;
      result = ReceiveChannelMessage(fd, &message);
      if (result != ChannelRead::kMessage) break;
      OnWorkerMessage(pid, std::move(message));
    }
    // EOF: the worker is exiting; stop watching, the reap follows.
    if (result == ChannelRead::kClosed) {
      auto watch = channel_watches_.find(pid);
      if (watch != channel_watches_.end()) watch->second->readable.reset();
    }
  }

  void OnWorkerMessage(pid_t pid, ChannelMessage message) {
    switch (message.kind) {
      case kChannelReady:
        arbiter_->OnWorkerReady(pid);
        break;
      case kChannelBootError: {
        // The worker knows the App's path; the config knows who named it.
        auto worker = arbiter_->workers().find(pid);
        auto generation = worker == arbiter_->workers().end()
                              ? generations_.end()
                              : generations_.find(worker->second.spec.generation);
        last_boot_error_ =
            (generation == generations_.end() ? "" : AppOriginPrefix(*generation->second.config)) +
            message.text;
        arbiter_->OnWorkerBootError(pid, last_boot_error_);
        break;
      }
      case kChannelRetire:
        arbiter_->OnWorkerRetiring(pid);
        break;
      case kChannelStopSignal:
        arbiter_->OnWorkerStopSignal(pid, message.text);
        break;
      case kChannelConnection:
        if (!message.passed.valid()) break;
        // This master stops (TERM) or keeps no workers (WINCH): the other
        // master of an upgrade takes the connection, if its workers serve.
        if ((arbiter_->stopping() || arbiter_->desired_workers() == 0) &&
            ForwardToPeer(message.passed, message.text))
          break;
        relay_->Forward(arbiter_->workers(), arbiter_->generation(), pid, std::move(message.passed),
                        message.text, ops_->Now());
        break;
    }
  }

  // Binary upgrade: the old master's side ------------------------------------

  void OnUsr2() {
    if (arbiter_->stopping()) {
      THRIFTD_LOG(kInfo) << "Handling signal: usr2; ignored while stopping";
      return;
    }
    if (successor_) {
      THRIFTD_LOG(kWarning) << "Handling signal: usr2; ignored: an upgrade is in progress (new "
                               "master pid "
                            << successor_->pid << ")";
      return;
    }
    if (predecessor_) {
      THRIFTD_LOG(kWarning) << "Handling signal: usr2; ignored: this master is itself an upgrade "
                               "in progress; stop the old master (pid "
                            << predecessor_->pid << ") first";
      return;
    }
    THRIFTD_LOG(kInfo) << "Handling signal: usr2; upgrading: starting " << command_.argv[0];
    Successor successor;
    std::vector<PassedSocket> sockets;
    for (const Listener& listener : listeners_)
      sockets.push_back({listener.fd.get(), listener.key});
    if (metrics_server_)
      sockets.push_back({metrics_server_->fd(), MetricsSocketKey(metrics_bind_)});
    Status status = StartSuccessor(command_, sockets, &successor);
    if (status.ok())
      status = Watch(successor.channel.get(), &Impl::SuccessorThunk, &successor_watch_);
    if (!status.ok()) {
      THRIFTD_LOG(kError) << "Upgrade failed: " << status.message() << "; this master (pid "
                          << getpid() << ") serves on";
      return;
    }
    THRIFTD_LOG(kInfo) << "Upgrade: the new master has pid " << successor.pid;
    successor_ = std::move(successor);
    peer_unreachable_ = false;
  }

  void DrainSuccessor() {
    if (!successor_) return;
    bool open = DrainPeer(successor_->channel.get(), [this](const ChannelMessage& message) {
      if (message.kind == kChannelBootError) successor_->error = message.text;
      if (message.kind == kChannelUpgradeReady && !successor_->ready) OnSuccessorReady();
    });
    ForwardHeldToPeer();
    if (!open) successor_watch_.reset();  // it is exiting: its reap follows
  }

  // Reads what the other master of an upgrade sent: each connection goes to
  // this master's workers (the old master's hand-over, or a rollback's from
  // the new one), everything else to `on_message`. False at end of file.
  bool DrainPeer(int channel, const std::function<void(const ChannelMessage&)>& on_message) {
    for (;;) {
      ChannelMessage message;
      ChannelRead result = ReceiveChannelMessage(channel, &message);
      if (result != ChannelRead::kMessage) return result == ChannelRead::kEmpty;
      if (message.kind == kChannelConnection && message.passed.valid()) {
        relay_->Forward(arbiter_->workers(), arbiter_->generation(), /*from=*/0,
                        std::move(message.passed), message.text, ops_->Now());
      } else {
        on_message(message);
      }
    }
  }

  // While an upgrade is in flight, the new master hears whether this one's
  // workers serve (all ready: its own stop may hand connections back here,
  // a rollback) or not (WINCH, a stop, a reload under way).
  void TellSuccessorWhetherWeServe() {
    if (!successor_ || !successor_->ready) return;
    bool serving = arbiter_->all_ready();
    if (serving == told_successor_serving_) return;
    told_successor_serving_ = serving;
    Status status = TrySendChannelMessage(successor_->channel.get(),
                                          serving ? kChannelUpgradeReady : kChannelUpgradeIdle);
    if (!status.ok()) {
      THRIFTD_LOG(kWarning) << "cannot tell the new master how we serve: " << status.message();
      return;
    }
    THRIFTD_LOG(kInfo) << "Told the new master (pid " << successor_->pid << ") that this master "
                       << (serving ? "serves: its stop hands its connections back here"
                                   : "does not serve");
  }

  // Whether this master removes its unix socket paths when it exits: not
  // while another master (an upgrade's) serves on them. Only `unix:` binds
  // have a path to remove: systemd's sockets (systemd:) and fd:// ones are
  // their owners'.
  void OwnUnixPaths(bool own) {
    for (Listener& listener : listeners_)
      listener.owns_unix_path = own && listener.address.kind == BindAddress::Kind::kUnix;
  }

  void OnSuccessorReady() {
    successor_->ready = true;
    OwnUnixPaths(false);  // the new master's to remove now
    THRIFTD_LOG(kInfo) << "Upgrade: the new master (pid " << successor_->pid
                       << ") is serving; send this master (pid " << getpid()
                       << ") TERM to finish (its idle connections go to the new master), WINCH "
                          "to stop its workers only, or TERM the new master to roll back";
  }

  void OnSuccessorExited(const ProcessExit& exit) {
    // Its last words (why it could not execute) are in the channel before
    // its exit, but the reap may come first in the same turn.
    DrainSuccessor();
    if (!successor_->ready) {
      std::string why = successor_->error.empty()
                            ? "the new master (pid " + std::to_string(exit.pid) + ") " +
                                  DescribeExit(exit.wait_status) + " before it was ready"
                            : successor_->error;
      THRIFTD_LOG(kError) << "Upgrade failed: " << why << "; this master (pid " << getpid()
                          << ") serves on";
    } else {
      THRIFTD_LOG(kWarning) << "The new master (pid " << exit.pid << ") "
                            << DescribeExit(exit.wait_status) << "; this master (pid " << getpid()
                            << ") is the master again"
                            << (arbiter_->desired_workers() == 0 ? ": send it HUP to start workers"
                                                                 : "");
    }
    if (successor_->ready) OwnUnixPaths(true);
    successor_watch_.reset();
    successor_.reset();
  }

  // The channel to the other master of an upgrade whose workers serve: the
  // new one, or (a rollback) the old one; -1 when there is none.
  int ServingPeerChannel() const {
    if (peer_unreachable_) return -1;
    if (successor_ && successor_->ready) return successor_->channel.get();
    if (predecessor_ && predecessor_serving_) return predecessor_->channel.get();
    return -1;
  }

  // Hands `connection` to the serving other master; false (the connection
  // kept) when there is none, or the send failed.
  bool ForwardToPeer(UniqueFd& connection, const std::string& carried) {
    int channel = ServingPeerChannel();
    if (channel < 0) return false;
    // May wait (SO_SNDTIMEO) for it to read: it reads in its loop.
    Status status = SendChannelMessage(channel, kChannelConnection, carried, connection.get());
    if (status.ok()) {
      connection.Reset();
      return true;
    }
    // Once, not per connection: each would wait out the timeout, and the
    // loop with it. The rest go to this master's own workers, or wait.
    THRIFTD_LOG(kWarning) << "cannot hand a connection over to the other master: "
                          << status.message() << "; keeping its connections here";
    peer_unreachable_ = true;
    return false;
  }

  // A master that keeps no workers (stopping, or after WINCH) may hold
  // connections its workers handed over before it knew the other master's
  // workers serve (a TERM is handled before the other master's word that
  // they do, which may wait in its channel): they go there now, not close
  // with this master.
  void ForwardHeldToPeer() {
    if (relay_->held() == 0 || !(arbiter_->stopping() || arbiter_->desired_workers() == 0)) return;
    relay_->SendHeld([this](UniqueFd& connection, const std::string& carried) {
      return ForwardToPeer(connection, carried);
    });
  }

  // Binary upgrade: the new master's side ------------------------------------

  // Once, when the first generation is all ready: the old master may stop
  // now. PIDFILE.2 appears then, so an operator waiting for it knows too.
  void TellPredecessorWhenReady() {
    if (!predecessor_ || told_predecessor_ready_ || !arbiter_->all_ready()) return;
    told_predecessor_ready_ = true;
    if (!pidfile_path_.empty()) {
      Status written = pidfile_->Create(pidfile_path_ + ".2", getpid());
      if (!written.ok()) THRIFTD_LOG(kError) << "cannot write the pidfile: " << written.message();
    }
    Status status = TrySendChannelMessage(predecessor_->channel.get(), kChannelUpgradeReady);
    if (!status.ok())
      THRIFTD_LOG(kWarning) << "cannot tell the old master we are ready: " << status.message();
  }

  // At exit, before ever being ready: the old master logs why in one line.
  void TellPredecessorWeFailed(const std::string& why) {
    if (!predecessor_ || told_predecessor_ready_) return;
    (void)TrySendChannelMessage(predecessor_->channel.get(), kChannelBootError, why);
  }

  void DrainPredecessor() {
    if (!predecessor_) return;
    bool open = DrainPeer(predecessor_->channel.get(), [this](const ChannelMessage& message) {
      bool serving = predecessor_serving_;
      if (message.kind == kChannelUpgradeReady) serving = true;
      if (message.kind == kChannelUpgradeIdle) serving = false;
      if (serving == predecessor_serving_) return;
      predecessor_serving_ = serving;
      // For an operator rolling back: TERM to this master is safe now.
      THRIFTD_LOG(kInfo) << "The old master (pid " << predecessor_->pid << ") "
                         << (serving ? "serves again: a stop of this master hands its "
                                       "connections to it"
                                     : "no longer serves");
    });
    ForwardHeldToPeer();
    if (!open) OnPredecessorGone();
  }

  // The old master exited: this one is thriftd's master now.
  void OnPredecessorGone() {
    pid_t old_pid = predecessor_->pid;
    predecessor_watch_.reset();
    predecessor_.reset();
    THRIFTD_LOG(kInfo) << "The old master (pid " << old_pid << ") has exited; this master (pid "
                       << getpid() << ") takes over";
    notifier_.SetMainProcess(true);
    OwnUnixPaths(true);
    if (pidfile_path_.empty()) return;
    auto pidfile = std::make_unique<Pidfile>();
    Status status = pidfile->Create(pidfile_path_, getpid(), /*replacing=*/old_pid);
    if (!status.ok()) {
      THRIFTD_LOG(kError) << "cannot take the pidfile over: " << status.message();
      return;
    }
    pidfile_ = std::move(pidfile);  // the PIDFILE.2 one goes, and removes its file
  }

  // A worker's counters outlive it: fold them in before its slot is reused.
  void KeepCounters(pid_t pid) {
    auto worker = arbiter_->workers().find(pid);
    if (worker != arbiter_->workers().end())
      retired_.AddSlot(scoreboard_->slot(worker->second.spec.slot));
  }

  // Master-wide settings (the error log, umask, raw_env, the process title;
  // the liveness timeout is the arbiter's own) are those of the generation
  // being served: a reload applies its own, an abandoned reload brings the
  // previous ones back.
  void FollowServingGeneration() {
    if (arbiter_->generation() == settings_generation_) return;
    auto generation = generations_.find(arbiter_->generation());
    if (generation == generations_.end()) return;
    // Once, whether it works or not: a failure is logged, not retried at
    // every step (what was in force stays).
    Status status = UseMasterSettings(*generation->second.config);
    settings_generation_ = generation->first;
    if (!status.ok()) THRIFTD_LOG(kError) << status.message();
  }

  // Puts `config`'s master-wide settings in force: workers forked from now
  // on inherit them. On an error (naming the setting's origin) everything
  // stays as it was: the umask and raw_env, the one step that may fail
  // after them, are put back.
  Status UseMasterSettings(const Config& config) {
    Status status = ApplyUmaskAndEnvironment(config);
    if (status.ok() && (config.errorlog != log_path_ || config.loglevel != log_level_)) {
      status = log::Configure(config.errorlog, config.loglevel);
      if (status.ok()) {
        log_path_ = config.errorlog;
        log_level_ = config.loglevel;
      }
      status.Prepend(config.OriginOf("errorlog").Describe());
    }
    if (!status.ok()) {
      auto in_force = generations_.find(settings_generation_);
      if (in_force != generations_.end()) (void)ApplyUmaskAndEnvironment(*in_force->second.config);
      return status;
    }
    std::string title = MasterTitle(config);
    if (title != title_) {
      Status titled = SetProcessTitle(title);
      if (!titled.ok())
        THRIFTD_LOG(kWarning) << "cannot set the process title: " << titled.message();
      title_ = title;
    }
    return Status::Ok();
  }

  // Counters of the live workers plus those of every worker gone before.
  MetricsSnapshot Snapshot() const {
    MetricsSnapshot snapshot;
    snapshot.totals.Add(retired_);
    for (const auto& [pid, worker] : arbiter_->workers()) {
      const ScoreboardSlot& slot = scoreboard_->slot(worker.spec.slot);
      snapshot.totals.AddSlot(slot);
      snapshot.connections += slot.connections.load(std::memory_order_relaxed);
      switch (worker.state) {
        case WorkerState::kBooting:
          ++snapshot.workers_booting;
          break;
        case WorkerState::kReady:
        case WorkerState::kRetiring:  // serves until its successor is ready
          ++snapshot.workers_ready;
          break;
        case WorkerState::kDraining:
        case WorkerState::kAborted:
        case WorkerState::kKilled:
          ++snapshot.workers_draining;
          break;
      }
    }
    for (const auto& [reason, count] : arbiter_->restarts())
      snapshot.restarts_by_reason[StopReasonName(reason)] = count;
    snapshot.version = THRIFTD_VERSION;
    snapshot.thrift_version = THRIFT_LIBRARY_VERSION;
    return snapshot;
  }

  // /healthz: a worker can answer, and thriftd is not on its way out.
  HealthReport Health() const {
    HealthSnapshot health;
    health.stopping = arbiter_->stopping();
    health.workers_ready = arbiter_->serving_workers();
    health.workers_wanted = arbiter_->desired_workers();
    health.generation = arbiter_->generation();
    for (const Listener& listener : listeners_)
      health.listeners.push_back({listener.key, listener.display, listener.port});
    return RenderHealth(health);
  }

  // Signals -----------------------------------------------------------------

  // With the other master of an upgrade serving (the new one, or the old
  // one in a rollback), this one's idle connections go to it.
  Handover HandoverOnStop() const {
    return ServingPeerChannel() >= 0 ? Handover::kToSuccessors : Handover::kNone;
  }
  // What the other master of an upgrade said before a stop signal counts:
  // its word (its workers serve, or not) may still wait in the channel, as
  // signals are handled before other events.
  void HearPeers() {
    DrainPredecessor();
    DrainSuccessor();
  }
  void OnTerm() {
    HearPeers();
    // The upgrade is committed: the new master is the service's main process
    // from now on, so systemd does not take this one's exit for the
    // service's end. Not before: a rollback (HUP this one, TERM the new one)
    // never has to hand it back.
    if (successor_ && successor_->ready && !arbiter_->stopping())
      notifier_.MainPid(successor_->pid);
    arbiter_->HandleTerm(HandoverOnStop());
  }
  void OnWinch() {
    HearPeers();
    arbiter_->HandleWinch(HandoverOnStop());
  }
  void OnQuickStop() { arbiter_->HandleQuickStop(); }
  void OnTtin() { arbiter_->HandleTtin(); }
  void OnTtou() { arbiter_->HandleTtou(); }
  void OnChild() {}  // Step() reaps.
  void OnUsr1() {
    THRIFTD_LOG(kInfo) << "Handling signal: usr1; reopening log files";
    // A file logrotate's move left for the master to create is root's: the
    // workers, told to reopen next, must be able to. Given to them first:
    // where their user may write, the path may have become a link since,
    // and the master (root) does not reopen through one.
    const Generation& serving = generations_.at(arbiter_->generation());
    Status status = GiveLogFilesToWorkers(*serving.config, serving.credentials);
    if (!status.ok()) {
      THRIFTD_LOG(kError) << "cannot give the workers their log files: " << status.message()
                          << "; the logs stay as they were";
      return;
    }
    status = log::Reopen();
    if (!status.ok()) THRIFTD_LOG(kError) << "cannot reopen the error log: " << status.message();
    arbiter_->SignalAll(SIGUSR1);
  }

  void OnHup() {
    if (arbiter_->stopping()) {
      THRIFTD_LOG(kInfo) << "Handling signal: hup; ignored while stopping";
      return;
    }
    THRIFTD_LOG(kInfo) << "Handling signal: hup";
    auto fresh = std::make_shared<Config>();
    Status status = ResolveFromStartDirectory(fresh.get());
    if (status.ok()) status = RequireApp(*fresh);
    // As at start: an access log the new workers could not open would only be
    // logged by each, and they would serve without one.
    if (status.ok()) status = CheckLogFiles(*fresh);
    // The new workers read the certificate and key again: ones that would
    // fail to start keep the running generation.
    if (status.ok()) status = CheckTls(*fresh);
    std::optional<Credentials> credentials;
    if (status.ok()) status = ResolveWorkerCredentials(*fresh, &credentials);
    if (status.ok()) status = GiveLogFilesToWorkers(*fresh, credentials);
    if (!status.ok()) {
      THRIFTD_LOG(kError) << "Reload failed, keeping the running configuration: "
                          << status.message();
      return;
    }
    const Config& running = *generations_.at(arbiter_->generation()).config;
    // The sockets stay (a port the kernel chose stays the same); a bind
    // entry's own settings are read again, by its address, for the new
    // generation's workers (with the generation, below).
    if (BindAddresses(*fresh) != BindAddresses(running)) {
      THRIFTD_LOG(kWarning) << "bind address changes take effect on restart; keeping "
                            << listeners_.size() << " listener(s)";
    }
    if (fresh->unix_socket_mode != running.unix_socket_mode ||
        fresh->unix_socket_group != running.unix_socket_group) {
      THRIFTD_LOG(kWarning) << "unix_socket_mode and unix_socket_group changes take effect on "
                               "restart; the sockets keep theirs";
    }
    if (std::string run_as = DescribeWorkerCredentials(credentials); run_as != workers_run_as_) {
      workers_run_as_ = run_as;
      THRIFTD_LOG(kInfo) << run_as << " from this reload on";
    }
    if (preloaded_ && (fresh->app != running.app || !fresh->preload_app)) {
      THRIFTD_LOG(kWarning) << "the App was preloaded: app and preload_app changes take effect "
                               "on restart (or USR2); the workers keep its code";
    }
    if (preloaded_)
      THRIFTD_LOG(kInfo) << "preload_app: the new workers start from the App "
                         << "loaded at start, not from the file on disk";
    if (fresh->chdir != running.chdir) {
      THRIFTD_LOG(kWarning) << "chdir changes take effect on restart; keeping the directory "
                            << (running.chdir.empty() ? command_.cwd : running.chdir);
      // What is in force, which the next HUP reads its -c from.
      fresh->chdir = running.chdir;
    }
    // Before the reload is committed, so that an error log that cannot be
    // opened rejects it with everything as it was; and before the new
    // workers fork, since they inherit the error log, umask and environment
    // as they are then.
    status = UseMasterSettings(*fresh);
    if (!status.ok()) {
      THRIFTD_LOG(kError) << "Reload failed, keeping the running configuration: "
                          << status.message();
      return;
    }
    // The sockets stay, so do their ports; the file may have moved.
    status = WritePortFile(fresh->port_file, listeners_);
    if (!status.ok())
      THRIFTD_LOG(kError) << status.Prepend(fresh->OriginOf("port_file").Describe()).message();
    std::uint64_t generation = arbiter_->next_generation();
    // The bind entries are read once here, not at each fork.
    generations_[generation] = {fresh, credentials, ListenerSettingsFor(*fresh, ListenerKeys())};
    settings_generation_ = generation;
    notifier_.Reloading("Reloading: starting generation " + std::to_string(generation));
    reload_notified_ = true;
    arbiter_->Reload(MakeArbiterOptions(*fresh));
    if (!preloaded_) ServeAppSchema(*fresh);
    DropUnusedConfigs();
  }

  // The configuration read again as at start: from the directory thriftd
  // was started in, so that a relative -c names the same file after chdir.
  // The master then returns to the directory it runs in.
  Status ResolveFromStartDirectory(Config* fresh) {
    if (generations_.at(arbiter_->generation()).config->chdir.empty())
      return ResolveConfig(args_, env_args_, fresh);
    char here[PATH_MAX];
    if (getcwd(here, sizeof here) == nullptr) return Status::FromErrno("getcwd", errno);
    if (chdir(command_.cwd.c_str()) != 0)
      return Status::FromErrno("chdir(" + command_.cwd + ")", errno);
    Status status = ResolveConfig(args_, env_args_, fresh);
    if (chdir(here) != 0) {
      // The App and the logs of the workers to come are found from there.
      Status back = Status::FromErrno(std::string("chdir(") + here + ")", errno);
      return back.Prepend("cannot return to the running directory");
    }
    return status;
  }

  // Configurations of generations with no worker left are dropped.
  void DropUnusedConfigs() {
    for (auto it = generations_.begin(); it != generations_.end();) {
      bool used = it->first == arbiter_->generation();
      for (const auto& [pid, worker] : arbiter_->workers())
        used = used || worker.spec.generation == it->first;
      it = used ? std::next(it) : generations_.erase(it);
    }
  }

  // The listeners' keys, in the order of the workers' listen fds.
  std::vector<std::string> ListenerKeys() const {
    std::vector<std::string> keys;
    for (const Listener& listener : listeners_) keys.push_back(listener.key);
    return keys;
  }

  std::vector<std::string> args_;
  std::optional<std::string> env_args_;
  ExecCommand command_;
  std::vector<Listener> listeners_;
  std::string pidfile_path_;
  std::unique_ptr<Pidfile> pidfile_;
  // Binary upgrade: the new master this one started (USR2), and the old
  // master this one replaces (it was started by a USR2).
  std::optional<Successor> successor_;
  EventPtr successor_watch_;
  std::optional<Predecessor> predecessor_;
  EventPtr predecessor_watch_;
  bool told_predecessor_ready_ = false;
  bool predecessor_serving_ = false;     // its workers are all ready (a rollback may go there)
  bool told_successor_serving_ = false;  // what the successor last heard from us
  bool peer_unreachable_ = false;        // a send to the other master failed: none go there
  std::string last_boot_error_;
  SystemdNotifier notifier_;
  bool told_ready_ = false;
  bool told_stopping_ = false;
  bool reload_notified_ = false;  // RELOADING=1 sent; READY=1 ends it
  // What a generation's workers start from, worked out once with its
  // config (start, HUP): the workers' user and group, each listener's settings.
  struct Generation {
    std::shared_ptr<Config> config;
    std::optional<Credentials> credentials;
    std::vector<ListenerSettings> listeners;  // in the order of listeners_
  };
  std::map<std::uint64_t, Generation> generations_;
  // The master-wide settings in force, and the generation they came from.
  std::uint64_t settings_generation_ = 1;
  std::string log_path_;
  LogLevel log_level_;
  std::string title_;                     // the master's process title in force
  std::string workers_run_as_;            // the last "Workers run as ..." logged
  std::unique_ptr<LoadedApp> preloaded_;  // preload_app: what every worker starts from
  std::vector<int> preloaded_fds_;        // what the preloaded App opened: workers keep them
  UniqueFd daemon_started_;               // daemon: the terminal waits for our word
  event_base* base_ = nullptr;
  std::unique_ptr<Scoreboard> scoreboard_;
  std::unique_ptr<PosixProcessOps> ops_;
  std::unique_ptr<Arbiter> arbiter_;
  std::unique_ptr<HandOverRelay> relay_;
  std::map<pid_t, std::unique_ptr<ChannelWatch>> channel_watches_;
  MetricsTotals retired_;  // counters of workers already reaped
  std::string metrics_bind_;
  std::string metrics_bind_origin_;
  UniqueFd inherited_metrics_socket_;  // from the master this one upgrades, if it passed one
  std::unique_ptr<MetricsServer> metrics_server_;
  std::vector<std::unique_ptr<SignalBinding>> signal_bindings_;
  std::vector<EventPtr> signal_events_;
  EventPtr tick_;
};

Master::Master(MasterStart start) : impl_(std::make_unique<Impl>(std::move(start))) {}

Master::~Master() = default;

int Master::Run() { return impl_->Run(); }

}  // namespace thriftd
