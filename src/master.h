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

#include "src/config.h"
#include "src/listener.h"

namespace thriftd {

class Master {
 public:
  /// `args` / `env_args` are what the configuration was resolved from; HUP
  /// resolves them again (re-reading the config file).
  Master(std::vector<std::string> args, std::optional<std::string> env_args, Config config,
         std::vector<Listener> listeners);
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
