// thriftd: serve a Thrift App with a supervised pool of worker processes.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <thrift/config.h>

#include "src/base/app_loader.h"
#include "src/base/exit_codes.h"
#include "src/base/log.h"
#include "src/config.h"
#include "src/listener.h"
#include "src/master.h"
#include "src/pidfile.h"
#include "workers/registry.h"

namespace thriftd {
namespace {

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "thriftd: %s\n", message.c_str());
  return code;
}

bool WantsHelp(const std::vector<std::string>& args) {
  for (const std::string& arg : args) {
    if (arg == "--") break;
    if (arg == "-h" || arg == "--help") return true;
  }
  return false;
}

// --check-config: everything a start would do short of listening and forking.
int CheckConfig(const Config& config) {
  LoadedApp loaded;
  Status status = LoadApp(config.app, &loaded);
  if (!status.ok()) return Fail(kExitAppError, status.message());
  std::printf("thriftd: configuration OK (App %s, %lld %s worker(s))\n", loaded.name.c_str(),
              static_cast<long long>(config.workers), config.worker_class.c_str());
  return kExitOk;
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (WantsHelp(args)) {
    std::cout << HelpText();
    return kExitOk;
  }
  std::optional<std::string> env_args;
  if (const char* env = std::getenv("THRIFTD_CMD_ARGS")) env_args = env;

  Config config;
  Status status = ResolveConfig(args, env_args, &config);
  if (!status.ok()) return Fail(kExitConfigError, status.message());
  if (config.version) {
    std::printf("thriftd %s (Apache Thrift %s)\n", THRIFTD_VERSION, PACKAGE_VERSION);
    return kExitOk;
  }
  if (config.print_config) {
    std::cout << PrintConfig(config);
    return kExitOk;
  }
  status = RequireApp(config);
  if (!status.ok()) return Fail(kExitConfigError, status.message());
  // A custom kind is loaded here once, so a bad one fails before anything starts.
  std::unique_ptr<Worker> kind;
  status = CreateWorker(config.worker_class, &kind);
  if (!status.ok()) return Fail(kExitAppError, status.message());
  status = log::Configure(config.errorlog, config.loglevel);
  if (!status.ok()) {
    return Fail(kExitConfigError, config.OriginOf("errorlog").Describe() + ": " + status.message());
  }
  log::CaptureThriftOutput();
  if (config.check_config) return CheckConfig(config);

  signal(SIGPIPE, SIG_IGN);
  std::vector<Listener> listeners;
  for (const std::string& text : config.bind) {
    BindAddress address;
    Listener listener;
    // Validated with the config already; checked all the same.
    if (!ParseBindAddress(text, &address)) {
      status = Status::Error("not an address: " + text);
    } else {
      status = OpenListener(address, config.backlog, &listener);
    }
    if (!status.ok()) {
      RemoveUnixSocketPaths(listeners);
      return Fail(kExitConfigError, config.OriginOf("bind").Describe() + ": " + status.message());
    }
    listeners.push_back(std::move(listener));
  }
  Pidfile pidfile;
  if (!config.pidfile.empty()) {
    status = pidfile.Create(config.pidfile, getpid());
    if (!status.ok()) {
      RemoveUnixSocketPaths(listeners);
      return Fail(kExitConfigError,
                  config.OriginOf("pidfile").Describe() + ": " + status.message());
    }
  }
  Master master(std::move(args), std::move(env_args), std::move(config), std::move(listeners));
  return master.Run();
}

}  // namespace
}  // namespace thriftd

int main(int argc, char** argv) {
  try {
    return thriftd::Main(argc, argv);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "thriftd: internal error: %s\n", error.what());
    return 70;
  }
}
