// Master: the master process's event loop. One libevent event_base,
// single-threaded: signal events (libevent's self-pipe; handlers only
// record), SIGCHLD reaping, each worker's control channel, a timer, and the
// metrics endpoint. It wires the Arbiter (decisions) to PosixProcessOps (the
// OS), the HandOverRelay (connections handed over) and the scoreboard
// (metrics). Runs in the master process.
#ifndef THRIFTD_SRC_MASTER_H_
#define THRIFTD_SRC_MASTER_H_

#include <map>
#include <memory>

#include <optional>
#include <string>
#include <vector>
#include "src/base/app_loader.h"

#include "src/config.h"
#include "src/listener.h"
#include "src/pidfile.h"
#include "src/upgrade.h"

namespace thriftd {

/// What main() hands the master: the configuration and how it was made,
/// the sockets, and the pidfile.
struct MasterStart {
  /// What the configuration was resolved from; HUP resolves them again
  /// (re-reading the config file).
  std::vector<std::string> args;
  std::optional<std::string> env_args;
  ExecCommand command;  ///< what USR2 runs again
  Config config;
  std::vector<Listener> listeners;
  /// The metrics endpoint's socket, when the master this one upgrades
  /// passed one for the same metrics_bind.
  UniqueFd metrics_socket;
  /// `config.pidfile`, written by main(); empty for a master started by a
  /// binary upgrade, which writes PIDFILE.2 once it serves and takes
  /// PIDFILE over when the old master exits.
  std::unique_ptr<Pidfile> pidfile;
  std::optional<Predecessor> predecessor;
  /// preload_app: the App, loaded and constructed by main() before the
  /// master forks anything; every worker of every generation starts from
  /// it (HUP does not load it again). nullptr without preload_app.
  std::unique_ptr<LoadedApp> preloaded;
  /// preload_app: the descriptors the App opened as it loaded (its
  /// constructor's files and sockets), which every worker keeps: the App's
  /// objects in the worker still use them.
  std::vector<int> preloaded_fds;
  /// daemon: the pipe to the terminal process waiting for the start's word
  /// (src/daemon.h). The master reports once its first generation is all
  /// ready, or why it stopped before; workers do not inherit it.
  UniqueFd daemon_started;
};

class Master {
 public:
  explicit Master(MasterStart start);
  ~Master();
  Master(const Master&) = delete;
  Master& operator=(const Master&) = delete;

  /// Serves until stopped; returns thriftd's exit code.
  int Run();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace thriftd

#endif  // THRIFTD_SRC_MASTER_H_
