#include "workers/worker_process.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <exception>

#include "src/app_loader.h"
#include "src/channel.h"
#include "src/exit_codes.h"
#include "src/log.h"

namespace thriftd {
namespace {

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

  const Config& config = *launch.config;
  LoadedApp loaded;
  status = LoadApp(config.app, &loaded);
  if (!status.ok()) BootFailed(launch.channel_fd, status.message());

  AppContext app_context;
  app_context.worker_index = launch.spec.index;
  app_context.pid = getpid();
  app_context.app_config = config.app_config;

  WorkerContext context;
  context.worker_index = launch.spec.index;
  context.listen_fds = launch.listen_fds;
  context.thrift.transport = config.thrift_transport_factory;
  context.thrift.protocol = config.thrift_protocol_factory;
  context.thrift.max_frame_size = config.thrift_max_frame_size;
  context.thrift.max_message_size = config.thrift_max_message_size;
  context.client_timeout = config.thrift_client_timeout;
  context.graceful_timeout = config.graceful_timeout;
  context.stop = &stop;
  context.channel_fd = launch.channel_fd;

  try {
    loaded.app->OnWorkerStart(app_context);
    context.processor_factory = loaded.app->ProcessorFactory();
  } catch (const std::exception& error) {
    BootFailed(launch.channel_fd,
               "App " + loaded.name + " failed to start in worker: " + error.what());
  } catch (...) {
    BootFailed(launch.channel_fd, "App " + loaded.name + " failed to start in worker");
  }
  if (!context.processor_factory) {
    BootFailed(launch.channel_fd, "App " + loaded.name + " returned no processor factory");
  }
  status = launch.kind->InitProcess(context);
  if (!status.ok()) BootFailed(launch.channel_fd, status.message());

  (void)SendChannelMessage(launch.channel_fd, kChannelReady);
  launch.kind->Run(context);

  try {
    loaded.app->OnWorkerExit(app_context);
  } catch (const std::exception& error) {
    THRIFTD_LOG(kError) << "App " << loaded.name << " worker exit hook threw: " << error.what();
  }
  THRIFTD_LOG(kInfo) << "Worker exiting (pid: " << getpid() << ")";
  // _exit: the master's objects, copied by fork, are not ours to destroy.
  _exit(kWorkerExitOk);
}

}  // namespace thriftd
