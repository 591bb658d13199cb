#include "src/listener.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "src/base/socket_address.h"

namespace thriftd {
namespace {

Status Failed(const BindAddress& address, const char* what, int err) {
  return Status::Error("cannot listen on " + address.ToString() + ": " + what + ": " +
                       std::strerror(err));
}

Status SetNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
    return Status::FromErrno("fcntl(O_NONBLOCK)", errno);
  return Status::Ok();
}

struct AddrInfoDeleter {
  void operator()(addrinfo* info) const { freeaddrinfo(info); }
};

// The address `address`'s host resolves to (an empty host: all IPv4
// interfaces, as gunicorn's ":PORT" does), port 0: each port tried is set
// in it (OpenTcpPort).
Status ResolveTcp(const BindAddress& address, SocketAddress* resolved, socklen_t* length) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(address.host.empty() ? nullptr : address.host.c_str(), "0", &hints, &found);
  if (rc != 0) {
    return Status::Error("cannot listen on " + address.ToString() + ": " + gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, AddrInfoDeleter> owned(found);
  addrinfo* chosen = found;
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    if (address.host.empty() && ai->ai_family == AF_INET) chosen = ai;
  }
  if (chosen->ai_addrlen > sizeof resolved->storage)
    return Failed(address, "getaddrinfo", EAFNOSUPPORT);
  *resolved = SocketAddress{};
  std::memcpy(&resolved->storage, chosen->ai_addr, chosen->ai_addrlen);
  *length = chosen->ai_addrlen;
  return Status::Ok();
}

// Listens on `port` of the resolved address `at`. *in_use: bind said the
// port is taken.
Status OpenTcpPort(const BindAddress& address, SocketAddress at, socklen_t length, int port,
                   int backlog, bool reuse_port, Listener* listener, bool* in_use) {
  *in_use = false;
  if (at.any.sa_family == AF_INET6) {
    at.v6.sin6_port = htons(static_cast<uint16_t>(port));
  } else {
    at.v4.sin_port = htons(static_cast<uint16_t>(port));
  }
  UniqueFd fd(socket(at.any.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Failed(address, "socket", errno);
  int one = 1;
  if (setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
    return Failed(address, "setsockopt(SO_REUSEADDR)", errno);
  // Before bind: the kernel lets a socket join a port's group only if every
  // socket bound there set it, and all belong to the same user.
  if (reuse_port && setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
    return Failed(address, "setsockopt(SO_REUSEPORT)", errno);
  if (at.any.sa_family == AF_INET6 &&
      setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0)
    return Failed(address, "setsockopt(IPV6_V6ONLY)", errno);
  if (bind(fd.get(), &at.any, length) < 0) {
    *in_use = errno == EADDRINUSE;
    return Failed(address, "bind", errno);
  }
  if (listen(fd.get(), backlog) < 0) return Failed(address, "listen", errno);
  SocketAddress bound = LocalAddressOf(fd.get());
  if (bound.any.sa_family == AF_UNSPEC) return Failed(address, "getsockname", errno);
  listener->display = SocketAddressText(bound);
  listener->port = SocketAddressPort(bound);
  listener->fd = std::move(fd);
  return Status::Ok();
}

// A port range (HOST:FIRST-LAST) takes its first port no one listens on,
// as thriftworker's port_range does; a single port is a range of one. The
// host is resolved once, whatever the number of ports tried.
Status OpenTcp(const BindAddress& address, int backlog, bool reuse_port, Listener* listener) {
  SocketAddress resolved;
  socklen_t length = 0;
  Status status = ResolveTcp(address, &resolved, &length);
  if (!status.ok()) return status;
  int last = address.last_port != 0 ? address.last_port : address.port;
  for (int port = address.port; port <= last; ++port) {
    bool in_use = false;
    status = OpenTcpPort(address, resolved, length, port, backlog, reuse_port, listener, &in_use);
    if (!in_use || address.last_port == 0) return status;
  }
  return Status::Error("cannot listen on " + address.ToString() +
                       ": no free port in the range (bind: " + std::strerror(EADDRINUSE) + ")");
}

// A leftover socket file from a crashed run is removed; a live one (someone
// accepts on it) is "in use", as a TCP port would be.
Status ClearStaleUnixPath(const BindAddress& address, const sockaddr_un& sun) {
  struct stat st;
  if (lstat(address.path.c_str(), &st) != 0) return Status::Ok();
  if (!S_ISSOCK(st.st_mode)) return Failed(address, "bind", EEXIST);
  UniqueFd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (probe.valid() &&
      connect(probe.get(), reinterpret_cast<const sockaddr*>(&sun), sizeof sun) == 0) {
    return Failed(address, "bind", EADDRINUSE);
  }
  unlink(address.path.c_str());
  return Status::Ok();
}

Status OpenUnix(const BindAddress& address, int backlog, const UnixSocketAccess& access,
                Listener* listener) {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  if (address.path.size() >= sizeof sun.sun_path) return Failed(address, "bind", ENAMETOOLONG);
  std::memcpy(sun.sun_path, address.path.c_str(), address.path.size());
  Status status = ClearStaleUnixPath(address, sun);
  if (!status.ok()) return status;
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Failed(address, "socket", errno);
  // bind() creates the file with 0777 & ~umask, and AF_UNIX has no fchmod
  // before bind: bound under 0777 the file has no permission bits until
  // fchmodat sets them, so it is never, even briefly, more open than asked
  // (under the default umask 0 it would be connectable by anyone). The
  // umask is this process's; the master binds before any thread starts.
  mode_t old_mask = umask(0777);
  int bound = bind(fd.get(), reinterpret_cast<const sockaddr*>(&sun), sizeof sun);
  int bind_errno = errno;
  umask(old_mask);
  if (bound < 0) return Failed(address, "bind", bind_errno);
  listener->owns_unix_path = true;
  // AT_SYMLINK_NOFOLLOW: a link put in place of the socket meanwhile is
  // not followed (fails instead) by a master that may be root.
  if ((access.group != static_cast<gid_t>(-1) &&
       fchownat(AT_FDCWD, address.path.c_str(), static_cast<uid_t>(-1), access.group,
                AT_SYMLINK_NOFOLLOW) != 0) ||
      fchmodat(AT_FDCWD, address.path.c_str(), access.mode, AT_SYMLINK_NOFOLLOW) != 0) {
    int err = errno;
    unlink(address.path.c_str());
    return Failed(address, access.group != static_cast<gid_t>(-1) ? "chown/chmod" : "chmod", err);
  }
  if (listen(fd.get(), backlog) < 0) {
    int err = errno;
    unlink(address.path.c_str());
    return Failed(address, "listen", err);
  }
  listener->display = address.ToString();
  listener->fd = std::move(fd);
  return Status::Ok();
}

// Whether listening socket `fd` is bound where `address` says: the port of a
// TCP address (the host is the kernel's spelling of it), the path of a unix one.
Status CheckBoundTo(int fd, const BindAddress& address) {
  SocketAddress bound = LocalAddressOf(fd);
  switch (address.kind) {
    case BindAddress::Kind::kTcp:
      if (bound.any.sa_family != AF_INET && bound.any.sa_family != AF_INET6)
        return Status::Error("it is not a TCP socket");
      if (address.last_port != 0) {  // a range: any port of it
        int port = SocketAddressPort(bound);
        if (port < address.port || port > address.last_port)
          return Status::Error("it is bound to " + SocketAddressText(bound));
      } else if (address.port != 0 && SocketAddressPort(bound) != address.port) {
        return Status::Error("it is bound to " + SocketAddressText(bound));
      }
      return Status::Ok();
    case BindAddress::Kind::kUnix: {
      if (bound.any.sa_family != AF_UNIX) return Status::Error("it is not a unix socket");
      const sockaddr_un& sun = reinterpret_cast<const sockaddr_un&>(bound.storage);
      std::string path(sun.sun_path, strnlen(sun.sun_path, sizeof sun.sun_path));
      if (path != address.path) return Status::Error("it is bound to unix:" + path);
      return Status::Ok();
    }
    case BindAddress::Kind::kFd:
    case BindAddress::Kind::kSystemd:
      return Status::Ok();
  }
  return Status::Ok();
}

// "127.0.0.1:9090" for an inet socket, `fallback` for anything else.
std::string BoundText(int fd, const std::string& fallback) {
  SocketAddress bound = LocalAddressOf(fd);
  if (bound.any.sa_family == AF_INET || bound.any.sa_family == AF_INET6)
    return SocketAddressText(bound);
  return fallback;
}

}  // namespace

Status OpenListener(const BindAddress& address, int backlog, Listener* listener, bool reuse_port,
                    const UnixSocketAccess& unix_access) {
  listener->address = address;
  Status status;
  switch (address.kind) {
    case BindAddress::Kind::kTcp:
      status = OpenTcp(address, backlog, reuse_port, listener);
      break;
    case BindAddress::Kind::kUnix:
      status = OpenUnix(address, backlog, unix_access, listener);
      break;
    case BindAddress::Kind::kFd:
      return AdoptListener(address.fd, address, listener);
    case BindAddress::Kind::kSystemd:
      return Status::Error("cannot listen on " + address.ToString() +
                           ": systemd passed no socket of that name");
  }
  if (!status.ok()) return status;
  return SetNonBlocking(listener->fd.get());
}

Status AdoptListener(int fd, const BindAddress& address, Listener* listener) {
  listener->address = address;
  int accepting = 0;
  socklen_t length = sizeof accepting;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length) < 0)
    return Failed(address, "getsockopt", errno);
  int type = 0;
  length = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) < 0)
    return Failed(address, "getsockopt", errno);
  if (!accepting || type != SOCK_STREAM) {
    return Status::Error("cannot listen on " + address.ToString() + ": descriptor " +
                         std::to_string(fd) + " is not a listening stream socket");
  }
  Status status = CheckBoundTo(fd, address);
  if (!status.ok()) {
    return status.Prepend("cannot listen on " + address.ToString() + ": descriptor " +
                          std::to_string(fd) + " is not bound there");
  }
  if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) return Failed(address, "fcntl(FD_CLOEXEC)", errno);
  status = SetNonBlocking(fd);
  if (!status.ok()) return status;
  // TCP: the real address (the port the kernel chose for :0); fd:// and
  // systemd: entries name the descriptor and where it listens.
  if (address.kind == BindAddress::Kind::kTcp) {
    listener->display = BoundText(fd, address.ToString());
  } else if (address.kind == BindAddress::Kind::kUnix) {
    listener->display = address.ToString();
  } else {
    listener->display = address.ToString() + " (" + BoundText(fd, "unix socket") + ")";
  }
  listener->port = SocketAddressPort(LocalAddressOf(fd));
  listener->owns_unix_path = false;
  listener->fd.Reset(fd);
  return Status::Ok();
}

void RemoveUnixSocketPaths(const std::vector<Listener>& listeners) {
  for (const Listener& listener : listeners) {
    if (listener.owns_unix_path) unlink(listener.address.path.c_str());
  }
}

}  // namespace thriftd
