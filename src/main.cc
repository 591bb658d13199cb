// thriftd: serve a Thrift App with a supervised pool of worker processes.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <vector>

#include <thrift/config.h>

#include "call/call_command.h"
#include "src/app_trial.h"
#include "src/base/channel.h"
#include "src/base/exit_codes.h"
#include "src/base/log.h"
#include "src/bind_entry.h"
#include "src/close_descriptors.h"
#include "src/config.h"
#include "src/daemon.h"
#include "src/listener.h"
#include "src/master.h"
#include "src/open_listeners.h"
#include "src/pidfile.h"
#include "src/port_file.h"
#include "src/process_environment.h"
#include "src/process_title.h"
#include "src/socket_activation.h"
#include "src/start_checks.h"
#include "src/upgrade.h"
#include "workers/registry.h"

namespace thriftd {
namespace {

// `predecessor`: set when this thriftd is the new master of a binary
// upgrade; the old master logs why it could not start.
int Fail(int code, const std::string& message, const Predecessor* predecessor = nullptr) {
  std::fprintf(stderr, "thriftd: %s\n", message.c_str());
  if (predecessor != nullptr)
    (void)TrySendChannelMessage(predecessor->channel.get(), kChannelBootError, message);
  return code;
}

// The sockets this master did not open: an older master's (binary
// upgrade) and systemd's (socket activation).
Status TakeInheritedSockets(std::vector<InheritedSocket>* inherited) {
  Status status = TakeUpgradeSockets(inherited);
  if (!status.ok()) return status;
  std::vector<ActivatedSocket> activated;
  status = TakeActivatedSockets(&activated);
  if (!status.ok()) return status;
  for (ActivatedSocket& socket : activated)
    inherited->push_back({UniqueFd(socket.fd), "systemd:" + socket.name});
  return Status::Ok();
}

bool WantsHelp(const std::vector<std::string>& args) {
  for (const std::string& arg : args) {
    if (arg == "--") break;
    if (arg == "-h" || arg == "--help") return true;
  }
  return false;
}

// --check-config: what a start does, short of serving: the log files, the
// listeners and the metrics port (bound together, then closed), the
// pidfile's directory, then the App, started in a child as a worker
// starts it. Nothing it creates is left behind. The first failure is the
// line a start would fail with, and its exit status.
int CheckConfig(const Config& config, const std::optional<Credentials>& credentials) {
  std::vector<std::string> inherited;
  Status status = CheckLogFiles(config);
  if (status.ok()) status = CheckTls(config);
  if (status.ok()) status = CheckListeners(config, &inherited);
  if (status.ok()) status = CheckPidfileDirectory(config);
  if (status.ok()) status = CheckPortFileDirectory(config);
  if (!status.ok()) return Fail(kExitConfigError, status.message());
  std::string app_name;
  // As the workers would run it: an App that cannot read its files as
  // `user` fails here, not at the first fork.
  status = TryApp(WorkerSettingsOf(config), AllListenerSettings(config), config.timeout,
                  credentials, &app_name);
  if (!status.ok()) return Fail(kExitAppError, AppOriginPrefix(config) + status.message());
  for (const std::string& bind : inherited) {
    std::printf("thriftd: bind %s not checked: an inherited socket, not one thriftd binds\n",
                bind.c_str());
  }
  std::printf("thriftd: configuration OK (App %s, %lld %s worker(s))\n", app_name.c_str(),
              static_cast<long long>(config.workers), config.worker_class.c_str());
  return kExitOk;
}

// The metrics socket an older master passed for this metrics_bind (the
// listeners take the rest of `inherited`); none without.
UniqueFd TakeMetricsSocket(const Config& config, std::vector<InheritedSocket>* inherited) {
  if (config.metrics_bind.empty()) return UniqueFd();
  for (auto it = inherited->begin(); it != inherited->end(); ++it) {
    if (it->key != MetricsSocketKey(config.metrics_bind)) continue;
    UniqueFd fd = std::move(it->fd);
    inherited->erase(it);
    return fd;
  }
  return UniqueFd();
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::optional<Predecessor> predecessor;
  Status status = TakePredecessor(&predecessor);
  if (!status.ok()) return Fail(kExitConfigError, status.message());
  auto fail = [&predecessor](int code, const std::string& message) {
    return Fail(code, message, predecessor ? &*predecessor : nullptr);
  };
  if (WantsHelp(args)) {
    std::cout << HelpText();
    return kExitOk;
  }
  std::optional<std::string> env_args;
  if (const char* env = std::getenv("THRIFTD_CMD_ARGS")) env_args = env;

  Config config;
  status = ResolveConfig(args, env_args, &config);
  if (!status.ok()) return fail(kExitConfigError, status.message());
  if (config.version) {
    std::printf("thriftd %s (Apache Thrift %s)\n", THRIFTD_VERSION, PACKAGE_VERSION);
    return kExitOk;
  }
  if (config.print_config) {
    std::cout << PrintConfig(config);
    return kExitOk;
  }
  status = RequireApp(config);
  if (!status.ok()) return fail(kExitConfigError, status.message());
  // Before chdir: a binary upgrade runs argv[0] again from the directory
  // thriftd was started in, and the new master changes directory itself.
  ExecCommand command = CaptureExecCommand(argc, argv);
  // Before anything is looked for: the custom kind, the App, the logs and
  // the binds are found from the new directory, as a start and a check do.
  status = ApplyChdir(config);
  if (status.ok()) status = ApplyUmaskAndEnvironment(config);
  std::optional<Credentials> credentials;
  if (status.ok()) status = ResolveWorkerCredentials(config, &credentials);
  UnixSocketAccess unix_access;
  if (status.ok()) status = ResolveUnixSocketAccess(config, &unix_access);
  // The new master of a binary upgrade is started by a daemon already.
  if (status.ok() && !predecessor) status = CheckDaemonAllowed(config);
  if (!status.ok()) return fail(kExitConfigError, status.message());
  // A custom kind is loaded here once, so a bad one fails before anything starts.
  std::unique_ptr<Worker> kind;
  status = CreateWorker(config.worker_class, &kind);
  if (!status.ok()) return fail(kExitAppError, status.message());
  log::CaptureThriftOutput();
  // Before the error log is opened: a check leaves no file behind.
  if (config.check_config) return CheckConfig(config, credentials);
  // The access log too: the workers open it, where a failure would only be
  // logged and thriftd would serve without one.
  status = CheckLogFiles(config);
  if (status.ok()) status = CheckTls(config);
  if (!status.ok()) return fail(kExitConfigError, status.message());
  status = log::Configure(config.errorlog, config.loglevel);
  if (!status.ok()) {
    return fail(kExitConfigError, config.OriginOf("errorlog").Describe() + ": " + status.message());
  }
  status = GiveLogFilesToWorkers(config, credentials);
  if (!status.ok()) return fail(kExitConfigError, status.message());

  signal(SIGPIPE, SIG_IGN);
  std::vector<InheritedSocket> inherited;
  status = TakeInheritedSockets(&inherited);
  if (!status.ok()) return fail(kExitConfigError, status.message());
  UniqueFd metrics_socket = TakeMetricsSocket(config, &inherited);
  std::vector<Listener> listeners;
  status = OpenListeners(BindAddresses(config), config.OriginOf("bind").source == "default",
                         config.backlog, std::move(inherited), &listeners, config.reuse_port,
                         unix_access);
  if (!status.ok())
    return fail(kExitConfigError, config.OriginOf("bind").Describe() + ": " + status.message());
  // preload_app: the App's constructor runs once, here, before the master
  // forks; the loop is not running yet, so nothing of the App can hold it up.
  // Before detaching: a failure is the terminal's one line.
  std::unique_ptr<LoadedApp> preloaded;
  std::vector<int> preloaded_fds;
  if (config.preload_app) {
    preloaded = std::make_unique<LoadedApp>();
    // What the App opens as it loads, workers keep (they close the rest of
    // the master's): its objects use those descriptors in every worker.
    std::vector<int> before;
    status = OpenDescriptors(&before);
    if (status.ok()) status = LoadApp(config.app, preloaded.get());
    if (status.ok()) status = OpenDescriptors(&preloaded_fds);
    if (!status.ok()) {
      RemoveUnixSocketPaths(listeners);
      return fail(kExitAppError, AppOriginPrefix(config) + status.message());
    }
    std::vector<int> opened;
    std::set_difference(preloaded_fds.begin(), preloaded_fds.end(), before.begin(), before.end(),
                        std::back_inserter(opened));
    preloaded_fds = std::move(opened);
    THRIFTD_LOG(kInfo) << "Preloaded App " << preloaded->name << " in the master";
  }
  // Detached after everything a start can fail on at the terminal (the
  // config, the logs, the binds) and before the pidfile, which must hold
  // the daemon's pid; the terminal process waits for its word.
  UniqueFd daemon_started;
  if (config.daemon && !predecessor) {
    if (config.errorlog == "-") {
      std::fprintf(stderr,
                   "thriftd: daemon: the error log is stderr, which a daemon closes; set "
                   "--error-logfile to keep its lines\n");
    }
    status = Daemonize(kExitConfigError, &daemon_started);
    if (!status.ok()) {
      RemoveUnixSocketPaths(listeners);
      return fail(kExitConfigError, status.message());
    }
  }
  // A new master (binary upgrade) writes PIDFILE.2 once it serves, and takes
  // PIDFILE over when the old one exits (Master).
  auto pidfile = std::make_unique<Pidfile>();
  if (!config.pidfile.empty()) {
    status = CheckPidfileDirectory(config);
    if (status.ok() && !predecessor) {
      status = pidfile->Create(config.pidfile, getpid());
      if (!status.ok()) status.Prepend(config.OriginOf("pidfile").Describe());
    }
    if (!status.ok()) {
      RemoveUnixSocketPaths(listeners);
      if (daemon_started.valid()) THRIFTD_LOG(kError) << status.message();
      ReportStarted(&daemon_started, status.message(), kExitConfigError);
      return fail(kExitConfigError, status.message());
    }
  }
  // Before any worker serves, so that whoever waits for the file may connect
  // at once; a new master (USR2) writes the same ports, which it inherited.
  status = WritePortFile(config.port_file, listeners);
  if (!status.ok()) {
    status.Prepend(config.OriginOf("port_file").Describe());
    RemoveUnixSocketPaths(listeners);
    if (daemon_started.valid()) THRIFTD_LOG(kError) << status.message();
    ReportStarted(&daemon_started, status.message(), kExitConfigError);
    return fail(kExitConfigError, status.message());
  }
  // Last: argv has been copied (args, command), and is the title's space now.
  InitProcessTitle(argc, argv);
  status = SetProcessTitle(MasterTitle(config));
  if (!status.ok()) std::fprintf(stderr, "thriftd: %s\n", status.message().c_str());
  MasterStart start;
  start.args = std::move(args);
  start.env_args = std::move(env_args);
  start.command = std::move(command);
  start.config = std::move(config);
  start.listeners = std::move(listeners);
  start.pidfile = std::move(pidfile);
  start.metrics_socket = std::move(metrics_socket);
  start.predecessor = std::move(predecessor);
  start.preloaded = std::move(preloaded);
  start.preloaded_fds = std::move(preloaded_fds);
  start.daemon_started = std::move(daemon_started);
  Master master(std::move(start));
  return master.Run();
}

}  // namespace
}  // namespace thriftd

int main(int argc, char** argv) {
  try {
    // `thriftd call ...` is a client (call/call_command.h), not a server.
    if (argc > 1 && std::string(argv[1]) == "call")
      return thriftd::call::RunCallCommand(std::vector<std::string>(argv + 2, argv + argc));
    return thriftd::Main(argc, argv);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "thriftd: internal error: %s\n", error.what());
    return 70;
  }
}
