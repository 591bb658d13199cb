// Accepting on the inherited, shared listening sockets. Runs in a worker.
#ifndef THRIFTD_WORKERS_ACCEPT_H_
#define THRIFTD_WORKERS_ACCEPT_H_

namespace thriftd {

enum class AcceptResult { kAccepted, kNone, kOutOfDescriptors };

/// Accepts one connection as a non-blocking, close-on-exec fd. Losing the race
/// to another worker (EAGAIN), a connection the peer already dropped
/// (ECONNABORTED) and EINTR are normal and give kNone; EMFILE / ENFILE (and
/// ENOBUFS / ENOMEM) give kOutOfDescriptors with the errno in *error, so the
/// caller backs off instead of spinning, and says so once.
AcceptResult AcceptConnection(int listen_fd, int* connection_fd, int* error);

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_ACCEPT_H_
