// The port file (the port_file setting): the TCP ports thriftd listens on,
// for a test harness, a sidecar or a script that started thriftd on port 0
// or a port range and must learn which port it got. One line per TCP
// listener, in the order of bind, each the port alone ("9042\n"): with one
// TCP listener the file is just its port. Unix sockets have no line.
// Written once the listeners are open, before any worker serves, and again
// on every HUP (the sockets, and so the ports, stay the same); a new master
// after USR2 inherits the sockets and writes the same ports. Replaced
// atomically (written beside it, renamed over it), so a reader never sees a
// half-written file. Runs in the master.
#ifndef THRIFTD_SRC_PORT_FILE_H_
#define THRIFTD_SRC_PORT_FILE_H_

#include <string>
#include <vector>

#include "src/base/status.h"
#include "src/listener.h"

namespace thriftd {

/// The file's text for `listeners`.
std::string PortFileText(const std::vector<Listener>& listeners);

/// Writes PortFileText(listeners) to `path` ("" : nothing to do). The
/// error names the path and the failing call.
Status WritePortFile(const std::string& path, const std::vector<Listener>& listeners);

}  // namespace thriftd

#endif  // THRIFTD_SRC_PORT_FILE_H_
