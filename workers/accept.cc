#include "workers/accept.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "src/base/log.h"

namespace thriftd {

AcceptResult AcceptConnection(int listen_fd, int* connection_fd, int* error) {
  int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd >= 0) {
    // Replies are written whole; do not let Nagle hold the last segment back.
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // Fails harmlessly on unix.
    *connection_fd = fd;
    return AcceptResult::kAccepted;
  }
  switch (errno) {
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
      *error = errno;
      return AcceptResult::kOutOfDescriptors;
    case EAGAIN:
    case ECONNABORTED:
    case EINTR:
    case EPROTO:
      return AcceptResult::kNone;
    default:
      THRIFTD_LOG(kWarning) << "accept: " << std::strerror(errno);
      return AcceptResult::kNone;
  }
}

}  // namespace thriftd
