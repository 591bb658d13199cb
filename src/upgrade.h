// Binary upgrade (USR2), as nginx's: the old master forks and execs the
// thriftd binary again, by the path it was started with, so a newly
// installed binary is the one that runs. The new master adopts the old
// one's listening sockets (THRIFTD_LISTENERS, src/open_listeners.h) and
// talks to it over a channel of their own (THRIFTD_UPGRADE_FD): it says when
// its workers are all ready, or why it failed to start; the old master,
// told to stop (TERM, or WINCH for its workers alone), hands its workers'
// idle connections to it, which passes them to its own workers as a HUP
// does. The conversation is written down in src/base/channel.h. Runs in
// the master.
#ifndef THRIFTD_SRC_UPGRADE_H_
#define THRIFTD_SRC_UPGRADE_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "src/base/status.h"
#include "src/base/unique_fd.h"
#include "src/open_listeners.h"

namespace thriftd {

/// How this thriftd was started: what a binary upgrade runs again.
struct ExecCommand {
  std::vector<std::string> argv;  ///< as given; argv[0] a path, or a name looked up in PATH
  std::string cwd;                ///< the directory it was started in, where argv[0] is found
};
/// argv as given, and the current directory.
ExecCommand CaptureExecCommand(int argc, char** argv);

inline constexpr char kUpgradeFdVariable[] = "THRIFTD_UPGRADE_FD";
inline constexpr char kUpgradeFromVariable[] = "THRIFTD_UPGRADE_FROM";

/// The old master's side: the new master it started.
struct Successor {
  pid_t pid = 0;
  UniqueFd channel;    ///< this end of the channel between the two masters
  bool ready = false;  ///< its first generation is all ready
  std::string error;   ///< why it failed, when it said so before exiting
};

/// Forks, and in the child execs `command` with the environment of this
/// process, `sockets` (the listeners, the metrics socket) passed in THRIFTD_LISTENERS and one end
/// of a new channel in THRIFTD_UPGRADE_FD. systemd's LISTEN_* are not passed (the sockets they
/// named are listeners now, passed as such); WATCHDOG_PID, when set, names the child. A failed exec
/// is said on the channel (kChannelBootError) before the child exits with 127.
Status StartSuccessor(const ExecCommand& command, const std::vector<PassedSocket>& sockets,
                      Successor* successor);

/// The new master's side: the master it replaces.
struct Predecessor {
  pid_t pid = 0;
  UniqueFd channel;
};

/// Takes THRIFTD_UPGRADE_FD and THRIFTD_UPGRADE_FROM, and unsets them (a
/// later upgrade sets its own). Leaves *predecessor empty when this thriftd
/// was not started by a binary upgrade.
Status TakePredecessor(std::optional<Predecessor>* predecessor);

}  // namespace thriftd

#endif  // THRIFTD_SRC_UPGRADE_H_
