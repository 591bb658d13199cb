#include "workers/worker_process.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <exception>
#include <random>

#include "src/base/app_loader.h"
#include "src/base/channel.h"
#include "src/base/exit_codes.h"
#include "src/base/log.h"
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

}  // namespace

void RunWorkerProcess(WorkerLaunch launch) {
  // A master that dies without stopping us (SIGKILL) must not leave workers behind.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  signal(SIGCHLD, SIG_DFL);  // The App may run children of its own.
  StopSignal stop;
  Status status = stop.Install();
  if (!status.ok()) BootFailed(launch.channel_fd, status.message());
  if (getppid() == 1) _exit(kWorkerExitOk);  // The master died before PDEATHSIG was set.

  const WorkerSettings& config = launch.settings;
  LoadedApp loaded;
  status = LoadApp(config.app, &loaded);
  if (!status.ok()) BootFailed(launch.channel_fd, status.message());

  AppContext app_context;
  app_context.worker_index = launch.index;
  app_context.pid = getpid();
  app_context.app_config = config.app_config;

  std::shared_ptr<apache::thrift::TProcessorFactory> processor_factory;
  try {
    loaded.object->OnWorkerStart(app_context);
    processor_factory = loaded.object->ProcessorFactory();
  } catch (const std::exception& error) {
    BootFailed(launch.channel_fd,
               "App " + loaded.name + " failed to start in worker: " + error.what());
  } catch (...) {
    BootFailed(launch.channel_fd, "App " + loaded.name + " failed to start in worker");
  }
  if (!processor_factory) {
    BootFailed(launch.channel_fd, "App " + loaded.name + " returned no processor factory");
  }

  WorkerRuntime::Options options;
  options.thrift.transport = config.thrift_transport_factory;
  options.thrift.protocol = config.thrift_protocol_factory;
  options.thrift.max_frame_size = config.thrift_max_frame_size;
  options.thrift.max_message_size = config.thrift_max_message_size;
  options.processor_factory = processor_factory;
  options.scoreboard = launch.scoreboard;
  options.slot = launch.slot;
  options.stop = &stop;
  options.channel_fd = launch.channel_fd;
  options.max_requests = MaxRequestsWithJitter(config.max_requests, config.max_requests_jitter);
  options.access_log = config.accesslog;
  options.access_log_format = config.access_log_format;
  WorkerRuntime context(std::move(options));
  context.worker_index = launch.index;
  context.listen_fds = launch.listen_fds;
  context.threads = static_cast<int>(config.threads);
  context.worker_connections = static_cast<int>(config.worker_connections);
  context.client_timeout = config.thrift_client_timeout;
  context.graceful_timeout = config.graceful_timeout;
  context.fiber_check_interval = config.fiber_check_interval;
  context.fiber_stack_size = static_cast<std::size_t>(config.fiber_stack_size);

  ScoreboardSlot& slot = context.slot();
  stop.ReportHangsFrom(&slot, log::Fd());
  slot.pid.store(getpid(), std::memory_order_relaxed);
  slot.generation.store(launch.generation, std::memory_order_relaxed);
  slot.Store(SlotState::kBooting);
  context.Heartbeat();

  std::string error;
  try {
    if (!launch.kind->InitProcess(context, &error)) BootFailed(launch.channel_fd, error);
  } catch (const std::exception& thrown) {
    BootFailed(launch.channel_fd, std::string("worker kind failed to start: ") + thrown.what());
  }
  slot.connection_limit.store(context.worker_connections, std::memory_order_relaxed);
  slot.Store(SlotState::kReady);
  (void)SendChannelMessage(launch.channel_fd, kChannelReady);
  try {
    launch.kind->Run(context);
  } catch (const std::exception& thrown) {
    THRIFTD_LOG(kError) << "worker kind " << config.worker_class << " failed: " << thrown.what();
  }
  slot.Store(SlotState::kDraining);

  try {
    loaded.object->OnWorkerExit(app_context);
  } catch (const std::exception& thrown) {
    THRIFTD_LOG(kError) << "App " << loaded.name << " worker exit hook threw: " << thrown.what();
  }
  THRIFTD_LOG(kInfo) << "Worker exiting (pid: " << getpid() << ")";
  // _exit: the master's objects, copied by fork, are not ours to destroy.
  _exit(kWorkerExitOk);
}

}  // namespace thriftd
