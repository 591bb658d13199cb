// Socket addresses as text, the one place a sockaddr becomes a string:
// listeners logging where they listen, connections naming their peer.
#ifndef THRIFTD_SRC_BASE_SOCKET_ADDRESS_H_
#define THRIFTD_SRC_BASE_SOCKET_ADDRESS_H_

#include <netinet/in.h>
#include <sys/socket.h>

#include <string>

namespace thriftd {

/// Room for any address thriftd meets (IPv4, IPv6, unix).
union SocketAddress {
  sockaddr any;
  sockaddr_in v4;
  sockaddr_in6 v6;
  sockaddr_storage storage;
};

/// "127.0.0.1:9090", "[::1]:9090"; "unix socket" for a unix socket (a
/// client's end has no name); "unknown peer" for anything else.
std::string SocketAddressText(const SocketAddress& address);
/// The port of an IPv4 or IPv6 address, else 0.
int SocketAddressPort(const SocketAddress& address);

/// getsockname() / getpeername() of `fd`; the family is AF_UNSPEC when the
/// call fails (a peer that is already gone).
SocketAddress LocalAddressOf(int fd);
SocketAddress PeerAddressOf(int fd);

}  // namespace thriftd

#endif  // THRIFTD_SRC_BASE_SOCKET_ADDRESS_H_
