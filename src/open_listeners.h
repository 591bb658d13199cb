// Opening the listeners a master serves, from its bind entries and from the
// sockets it inherited: from the master it replaces (a binary upgrade, which
// names them in THRIFTD_LISTENERS) or from systemd (socket activation). An
// inherited socket is adopted, never opened again, so a port or path never
// stops accepting across an upgrade. Runs in the master, before it serves.
#ifndef THRIFTD_SRC_OPEN_LISTENERS_H_
#define THRIFTD_SRC_OPEN_LISTENERS_H_

#include <string>
#include <vector>

#include "src/base/status.h"
#include "src/base/unique_fd.h"
#include "src/listener.h"

namespace thriftd {

/// A listening socket another process opened and this one inherited.
struct InheritedSocket {
  UniqueFd fd;
  /// The bind entry it serves: "127.0.0.1:9090", "unix:/run/x.sock" (from an
  /// older master, its Listener::key), "systemd:NAME" (from systemd).
  std::string key;
};

/// The variable a master sets for the master it execs in a binary upgrade.
inline constexpr char kListenersVariable[] = "THRIFTD_LISTENERS";

/// A listening socket a master passes to the master it execs.
struct PassedSocket {
  int fd = -1;
  std::string key;  ///< a listener's bind entry, or MetricsSocketKey()
};

/// THRIFTD_LISTENERS's value for `sockets`: one "FD KEY" line each.
std::string ListenersVariable(const std::vector<PassedSocket>& sockets);

/// The key the metrics endpoint's socket passes under, so that a new
/// master with the same metrics_bind serves on it rather than bind again
/// (the old master holds the port).
inline std::string MetricsSocketKey(const std::string& metrics_bind) {
  return "metrics:" + metrics_bind;
}

/// Takes the sockets an older master passed in THRIFTD_LISTENERS, and unsets
/// it. An error names the variable and what is wrong with it.
Status TakeUpgradeSockets(std::vector<InheritedSocket>* sockets);

/// Opens a listener for each bind address in `binds` (BindAddresses(): the
/// entries without their own settings), adopting the inherited
/// socket with the same key when there is one (checked to listen where the
/// entry says). `systemd:NAME` entries must find theirs. When `binds` is
/// the default and systemd passed sockets, those sockets are the listeners
/// instead. Inherited sockets no entry uses are closed, with a warning. On
/// an error, what was opened is closed and its unix paths removed.
/// `reuse_port`: SO_REUSEPORT on the TCP listeners opened here;
/// `unix_access`: the mode and group of the unix sockets created here (an
/// adopted socket keeps what it has).
Status OpenListeners(const std::vector<std::string>& binds, bool binds_are_default, int backlog,
                     std::vector<InheritedSocket> inherited, std::vector<Listener>* listeners,
                     bool reuse_port = false, const UnixSocketAccess& unix_access = {});

}  // namespace thriftd

#endif  // THRIFTD_SRC_OPEN_LISTENERS_H_
