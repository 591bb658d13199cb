// The listening sockets systemd passes a socket-activated service
// (sd_listen_fds(3)), taken once at startup. Runs in the master.
#ifndef THRIFTD_SRC_SOCKET_ACTIVATION_H_
#define THRIFTD_SRC_SOCKET_ACTIVATION_H_

#include <string>
#include <vector>

#include "src/base/status.h"

namespace thriftd {

struct ActivatedSocket {
  int fd;
  /// From LISTEN_FDNAMES (the socket unit's FileDescriptorName=, else its
  /// name); "unknown" when not given, as sd_listen_fds_with_names says.
  std::string name;
};

/// Takes the sockets systemd passed (LISTEN_FDS / LISTEN_PID / LISTEN_FDNAMES)
/// via sd_listen_fds_with_names(1, ...), unsetting those variables so nothing
/// we start sees them; marks each fd close-on-exec. An empty list when none
/// (or when LISTEN_PID names another process: the variables were meant for
/// it). Error when the variables are malformed (message names the variable).
/// The caller owns the descriptors, which start at 3, in LISTEN_FDS order.
Status TakeActivatedSockets(std::vector<ActivatedSocket>* sockets);

}  // namespace thriftd

#endif  // THRIFTD_SRC_SOCKET_ACTIVATION_H_
