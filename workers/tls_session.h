// TlsSession: the TLS layer of one connection (OpenSSL's SSL over the
// connection's non-blocking socket). It never waits: an operation that
// needs the socket answers "would block" (errno EAGAIN) and says whether it
// waits to read or to write, and the connection comes back when the socket
// is ready, as it does for plain recv/send.
//
// Bytes OpenSSL has taken from the socket but not yet handed out are
// invisible to poll and epoll: after a short Read the connection reads on
// unless drained() says OpenSSL holds nothing and its last read from the
// socket emptied it (as a short recv() does for a plain connection; an
// edge-triggered poller tells of what comes after). Runs in a worker, on whichever thread (or
// fiber) serves the connection, one at a time; OpenSSL's error queue is per thread, so each
// operation empties it first.
#ifndef THRIFTD_WORKERS_TLS_SESSION_H_
#define THRIFTD_WORKERS_TLS_SESSION_H_

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <string>

#include "src/base/status.h"
#include "workers/tls_context.h"

typedef struct ssl_st SSL;
typedef struct bio_st BIO;

namespace thriftd {

class TlsSession {
 public:
  /// A server session on `fd` (borrowed: the connection owns it).
  static Status Create(const TlsContext& context, int fd, std::unique_ptr<TlsSession>* out);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  enum class Step { kDone, kWouldBlock, kClosed, kFailed };
  /// Moves the handshake on as far as the socket allows. kClosed: the peer
  /// went away during it; kFailed: refused (error() says why).
  Step Handshake();
  bool established() const { return established_; }

  /// As recv(2)/send(2): bytes moved; recv 0 at the peer's end (close_notify
  /// or a plain end of file); -1 with errno EAGAIN (would block), EPIPE /
  /// ECONNRESET (gone), another errno from the socket, or EPROTO for a TLS
  /// failure (error() says which).
  ssize_t Read(void* buffer, std::size_t length);
  ssize_t Write(const void* buffer, std::size_t length);
  /// OpenSSL holds no byte it took from the socket (a record or read ahead),
  /// and its last read from the socket took less than it asked for (or
  /// found it empty): nothing more can be read until the socket says so.
  bool drained() const;
  /// The last handshake step or write that would block waits for the
  /// socket to be readable (true) or writable (false).
  bool wants_read() const { return wants_read_; }
  const std::string& error() const { return error_; }

  /// Sends close_notify if the socket takes it now; never waits for the
  /// peer's. Once per session.
  void Shutdown();

  /// The verified client certificate's subject, RFC 2253 ("CN=alice,O=Ex");
  /// empty when the client sent none. After the handshake.
  std::string PeerSubject() const;
  /// The negotiated version, as "TLSv1.3".
  std::string Version() const;

 private:
  explicit TlsSession(SSL* ssl) : ssl_(ssl) {}
  /// OpenSSL's socket BIO's callback: records whether each socket read
  /// filled what it asked for (socket_drained_).
  static long OnSocketIo(BIO* bio, int operation, const char* argp, std::size_t length, int argi,
                         long argl, int ret, std::size_t* processed);
  /// Turns a failed OpenSSL call's result into errno (and error_); -1.
  ssize_t Failed(int result, bool reading);

  SSL* ssl_;
  bool established_ = false;
  bool shut_down_ = false;
  bool wants_read_ = true;
  bool socket_drained_ = false;  // until a socket read says so, read on
  std::string error_;
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_TLS_SESSION_H_
