// Bind addresses as the operator writes them: HOST:PORT, HOST:FIRST-LAST (a
// port range: the first free port in it, as thriftworker's port_range),
// :PORT, [V6]:PORT, unix:PATH, fd://N, systemd:NAME.
#ifndef THRIFTD_SRC_BASE_BIND_ADDRESS_H_
#define THRIFTD_SRC_BASE_BIND_ADDRESS_H_

#include <string>

namespace thriftd {

struct BindAddress {
  enum class Kind { kTcp, kUnix, kFd, kSystemd };
  Kind kind = Kind::kTcp;
  std::string host;   ///< kTcp: name or literal, without brackets; "" = all interfaces
  int port = 0;       ///< kTcp: 0..65535 (0 lets the kernel choose); a range's first port
  int last_port = 0;  ///< kTcp: a range's last port (>= port >= 1); 0 = a single port
  std::string path;   ///< kUnix
  int fd = -1;        ///< kFd: an already listening descriptor
  std::string name;   ///< kSystemd: the socket systemd passed under this name (LISTEN_FDNAMES)

  /// The canonical spelling, as logged ("127.0.0.1:9090", "[::1]:9090",
  /// "127.0.0.1:9000-9100", "unix:/run/x.sock").
  std::string ToString() const;
};

/// Parses one address; false when it is none of the accepted forms.
[[nodiscard]] bool ParseBindAddress(const std::string& text, BindAddress* address);

}  // namespace thriftd

#endif  // THRIFTD_SRC_BASE_BIND_ADDRESS_H_
