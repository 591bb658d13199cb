#include "src/base/socket_address.h"

#include <arpa/inet.h>

namespace thriftd {
namespace {

SocketAddress Unspecified() {
  SocketAddress address{};
  address.any.sa_family = AF_UNSPEC;
  return address;
}

}  // namespace

std::string SocketAddressText(const SocketAddress& address) {
  char host[INET6_ADDRSTRLEN] = {};
  switch (address.any.sa_family) {
    case AF_INET:
      inet_ntop(AF_INET, &address.v4.sin_addr, host, sizeof host);
      return std::string(host) + ":" + std::to_string(SocketAddressPort(address));
    case AF_INET6:
      inet_ntop(AF_INET6, &address.v6.sin6_addr, host, sizeof host);
      return "[" + std::string(host) + "]:" + std::to_string(SocketAddressPort(address));
    case AF_UNIX:
      return "unix socket";
    default:
      return "unknown peer";
  }
}

int SocketAddressPort(const SocketAddress& address) {
  if (address.any.sa_family == AF_INET) return ntohs(address.v4.sin_port);
  if (address.any.sa_family == AF_INET6) return ntohs(address.v6.sin6_port);
  return 0;
}

SocketAddress LocalAddressOf(int fd) {
  SocketAddress address{};
  socklen_t length = sizeof address;
  if (getsockname(fd, &address.any, &length) != 0) return Unspecified();
  return address;
}

SocketAddress PeerAddressOf(int fd) {
  SocketAddress address{};
  socklen_t length = sizeof address;
  if (getpeername(fd, &address.any, &length) != 0) return Unspecified();
  return address;
}

}  // namespace thriftd
