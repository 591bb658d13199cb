#include "workers/worker_process.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <exception>
#include <random>

#include "src/base/channel.h"
#include "src/base/exit_codes.h"
#include "src/base/log.h"
#include "src/base/socket_address.h"
#include "workers/app_start.h"
#include "workers/tls_context.h"
#include "workers/worker_runtime.h"

namespace thriftd {
namespace {

std::int64_t MaxRequestsWithJitter(std::int64_t max_requests, std::int64_t jitter) {
  if (max_requests <= 0) return 0;
  if (jitter <= 0) return max_requests;
  // Spread the restarts so workers started together do not all retire together.
  std::mt19937_64 random(static_cast<std::uint64_t>(getpid()) ^ std::random_device{}());
  return max_requests + std::uniform_int_distribution<std::int64_t>(0, jitter)(random);
}

[[noreturn]] void BootFailed(int channel_fd, const std::string& message) {
  // The master logs it: one line, from the process the operator watches.
  if (!SendChannelMessage(channel_fd, kChannelBootError, message).ok()) {
    THRIFTD_LOG(kError) << message;
  }
  _exit(kWorkerExitBootError);
}

// Each listen fd's TLS context (null: plain), read from the files now: a
// new generation's workers (HUP) read replaced certificates and keys. One
// per distinct configuration. TLS is for TCP listeners: a unix socket's
// connections stay plain; a socket whose family cannot be told is not
// served plain on a guess. A failure (the master checked the files, but
// they may have changed since) is the worker's boot error.
std::vector<std::shared_ptr<const TlsContext>> BuildTlsContexts(const WorkerLaunch& launch) {
  std::vector<std::pair<TlsOptions, std::shared_ptr<const TlsContext>>> made;
  std::vector<std::shared_ptr<const TlsContext>> contexts;
  for (std::size_t i = 0; i < launch.listen_fds.size(); ++i) {
    TlsOptions options = TlsOptionsOf(launch.listener_settings.at(i));
    int family = LocalAddressOf(launch.listen_fds[i]).any.sa_family;
    if (options.enabled() && family == AF_UNSPEC)
      BootFailed(launch.channel_fd, "getsockname of a TLS listener failed");
    if (!options.enabled() || (family != AF_INET && family != AF_INET6)) {
      contexts.push_back(nullptr);
      continue;
    }
    auto same = std::find_if(made.begin(), made.end(),
                             [&options](const auto& entry) { return entry.first == options; });
    if (same == made.end()) {
      std::unique_ptr<TlsContext> context;
      std::string setting;
      Status status = TlsContext::Create(options, &context, &setting);
      if (!status.ok()) BootFailed(launch.channel_fd, setting + ": " + status.message());
      same = made.insert(made.end(), {options, std::move(context)});
    }
    contexts.push_back(same->second);
  }
  return contexts;
}

WorkerRuntime::Options RuntimeOptions(const WorkerLaunch& launch, const StartedApp& app,
                                      const std::vector<std::shared_ptr<const TlsContext>>& tls,
                                      StopSignal* stop) {
  WorkerRuntime::Options options;
  options.settings = launch.settings;
  options.worker_index = launch.index;
  options.listen_fds = launch.listen_fds;
  for (std::size_t i = 0; i < launch.listen_fds.size(); ++i) {
    options.listeners.push_back({launch.listener_settings.at(i), app.services.at(i), tls.at(i)});
  }
  options.scoreboard = launch.scoreboard;
  options.slot = launch.slot;
  options.stop = stop;
  options.channel_fd = launch.channel_fd;
  options.max_requests =
      MaxRequestsWithJitter(launch.settings.max_requests, launch.settings.max_requests_jitter);
  return options;
}

}  // namespace

void RunWorkerProcess(WorkerLaunch launch) {
  // A master that dies without stopping us (SIGKILL) must not leave workers
  // behind; one that died before this line is caught by the check below.
  (void)prctl(PR_SET_PDEATHSIG, SIGTERM);  // cannot fail with a valid signal
  signal(SIGCHLD, SIG_DFL);                // the App may run children of its own
  std::vector<std::shared_ptr<const TlsContext>> tls = BuildTlsContexts(launch);
  // Before anything of the App runs; the death signal is set again inside
  // (a change of credentials clears it), and checked below.
  if (launch.credentials) {
    Status dropped = TakeCredentials(*launch.credentials, SIGTERM);
    if (!dropped.ok()) {
      BootFailed(launch.channel_fd, "cannot run the worker as user " +
                                        launch.credentials->user_name + ", group " +
                                        launch.credentials->group_name + ": " + dropped.message());
    }
  }
  StopSignal stop;
  Status status = stop.Open();
  if (!status.ok()) BootFailed(launch.channel_fd, status.message());
  ScoreboardSlot& slot = launch.scoreboard->slot(launch.slot);
  InstallWorkerSignalHandlers(&stop, &slot, log::Fd(), launch.master_pid, launch.channel_fd);
  // The master is gone already (PDEATHSIG came too late to tell).
  if (getppid() != launch.master_pid) _exit(kWorkerExitOk);

  StartedApp app;
  status =
      StartApp(launch.settings, launch.listener_settings, launch.index, &app, launch.preloaded);
  if (!status.ok()) BootFailed(launch.channel_fd, status.message());
  WorkerRuntime runtime(RuntimeOptions(launch, app, tls, &stop));
  slot.pid.store(getpid(), std::memory_order_relaxed);
  slot.generation.store(launch.generation, std::memory_order_relaxed);
  slot.Store(SlotState::kBooting);
  runtime.Heartbeat();

  std::string error;
  try {
    if (!launch.kind->InitProcess(runtime, &error)) BootFailed(launch.channel_fd, error);
  } catch (const std::exception& thrown) {
    BootFailed(launch.channel_fd, std::string("worker kind failed to start: ") + thrown.what());
  }
  slot.connection_limit.store(runtime.worker_connections(), std::memory_order_relaxed);
  slot.Store(SlotState::kReady);
  status = SendChannelMessage(launch.channel_fd, kChannelReady);
  if (!status.ok()) THRIFTD_LOG(kWarning) << status.message();  // the master is gone: EOF follows
  try {
    launch.kind->Run(runtime);
  } catch (const std::exception& thrown) {
    THRIFTD_LOG(kError) << "worker kind " << launch.settings.worker_class
                        << " failed: " << thrown.what();
  }
  slot.Store(SlotState::kDraining);
  status = StopApp(app);
  if (!status.ok()) THRIFTD_LOG(kError) << status.message();
  THRIFTD_LOG(kInfo) << "Worker exiting (pid: " << getpid() << ")";
  // _exit: the master's objects, copied by fork, are not ours to destroy.
  _exit(kWorkerExitOk);
}

}  // namespace thriftd
