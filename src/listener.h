// Listeners: the bound, listening sockets the master opens before forking
// and every worker inherits. Runs in the master.
#ifndef THRIFTD_SRC_LISTENER_H_
#define THRIFTD_SRC_LISTENER_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "src/base/status.h"
#include "src/base/unique_fd.h"
#include "src/base/bind_address.h"

namespace thriftd {

struct Listener {
  BindAddress address;
  /// The address of the bind entry it serves, as configured ("127.0.0.1:9090",
  /// "systemd:web"; without the entry's own settings): what a binary upgrade
  /// names it by, so the new master finds it again whatever its settings, and
  /// what a handed-over connection names its listener by (ListenerSettings::key).
  std::string key;
  std::string display;  ///< "127.0.0.1:9090" with the real port when 0 was asked for
  int port = 0;         ///< TCP: the bound port (the kernel's choice when 0 was asked for)
  UniqueFd fd;          ///< non-blocking: workers race to accept and must not block on a loss
  bool owns_unix_path = false;  ///< unlink the path when done: this process created it
};

/// Who may connect to a unix socket thriftd creates (the
/// unix_socket_mode and unix_socket_group settings).
struct UnixSocketAccess {
  mode_t mode = 0660;
  gid_t group = static_cast<gid_t>(-1);  ///< -1: the creating process's
};

/// Opens one listening socket: non-blocking and close-on-exec (workers
/// inherit it by fork, which close-on-exec does not affect; a program the
/// master or a worker execs does not).
/// The error names the address and the failing call ("cannot listen on
/// 127.0.0.1:9090: bind: Address already in use"). `reuse_port` sets
/// SO_REUSEPORT on a TCP socket (unix sockets have no such option).
/// A unix socket's file gets `unix_access`: it is bound under umask 0777
/// (no one but root may connect while it is set up), then given its group
/// and mode, so it is never more open than asked, not even for a moment.
Status OpenListener(const BindAddress& address, int backlog, Listener* listener,
                    bool reuse_port = false, const UnixSocketAccess& unix_access = {});

/// Adopts `fd`, a listening socket another process opened (the master this
/// one replaces, or systemd), for `address`. Checks that it is a listening
/// stream socket and, for a TCP or unix address, that it is bound to that
/// port or path; makes it non-blocking and close-on-exec. On success the
/// listener owns `fd`; on an error the caller still does.
Status AdoptListener(int fd, const BindAddress& address, Listener* listener);

/// Removes the unix socket paths this process created.
void RemoveUnixSocketPaths(const std::vector<Listener>& listeners);

}  // namespace thriftd

#endif  // THRIFTD_SRC_LISTENER_H_
