#include "workers/tls_session.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

namespace thriftd {

Status TlsSession::Create(const TlsContext& context, int fd, std::unique_ptr<TlsSession>* out) {
  ERR_clear_error();
  SSL* ssl = SSL_new(context.get());
  if (ssl == nullptr) return Status::Error("SSL_new: " + TakeOpenSslErrors("out of memory"));
  std::unique_ptr<TlsSession> session(new TlsSession(ssl));
  if (SSL_set_fd(ssl, fd) != 1) return Status::Error("SSL_set_fd: " + TakeOpenSslErrors("failed"));
  BIO* socket = SSL_get_rbio(ssl);
  BIO_set_callback_ex(socket, &TlsSession::OnSocketIo);
  BIO_set_callback_arg(socket, reinterpret_cast<char*>(session.get()));
  SSL_set_accept_state(ssl);
  *out = std::move(session);
  return Status::Ok();
}

TlsSession::~TlsSession() {
  Shutdown();
  SSL_free(ssl_);
}

TlsSession::Step TlsSession::Handshake() {
  ERR_clear_error();
  errno = 0;  // SSL_ERROR_SYSCALL without errno: the peer went away
  int result = SSL_do_handshake(ssl_);
  if (result == 1) {
    established_ = true;
    return Step::kDone;
  }
  (void)Failed(result, /*reading=*/true);
  if (errno == EAGAIN) return Step::kWouldBlock;
  if (errno == EPIPE || errno == ECONNRESET) return Step::kClosed;
  if (error_.empty()) error_ = std::string("the socket failed: ") + std::strerror(errno);
  return Step::kFailed;
}

ssize_t TlsSession::Read(void* buffer, std::size_t length) {
  ERR_clear_error();
  errno = 0;  // SSL_ERROR_SYSCALL without errno: the peer went away
  int result = SSL_read(ssl_, buffer, static_cast<int>(std::min<std::size_t>(length, INT_MAX)));
  if (result > 0) return result;
  int error = SSL_get_error(ssl_, result);
  // The peer's close_notify, or (SSL_OP_IGNORE_UNEXPECTED_EOF) its plain
  // end of file: the end of the stream, as recv's 0.
  if (error == SSL_ERROR_ZERO_RETURN) return 0;
  return Failed(result, /*reading=*/true);
}

bool TlsSession::drained() const { return socket_drained_ && SSL_has_pending(ssl_) == 0; }

long TlsSession::OnSocketIo(BIO* bio, int operation, const char* /*argp*/, std::size_t length,
                            int /*argi*/, long /*argl*/, int ret, std::size_t* processed) {
  if (operation == (BIO_CB_READ | BIO_CB_RETURN)) {
    auto* session = reinterpret_cast<TlsSession*>(BIO_get_callback_arg(bio));
    // With read-ahead OpenSSL asks for all the room in its buffer: a read
    // that fills it may have left more in the socket. One that failed
    // (would block, or the end) left nothing.
    session->socket_drained_ = !(ret > 0 && processed != nullptr && *processed == length);
  }
  return ret;  // the operation's own result, untouched
}

ssize_t TlsSession::Write(const void* buffer, std::size_t length) {
  ERR_clear_error();
  errno = 0;  // SSL_ERROR_SYSCALL without errno: the peer went away
  int result = SSL_write(ssl_, buffer, static_cast<int>(std::min<std::size_t>(length, INT_MAX)));
  if (result > 0) return result;
  return Failed(result, /*reading=*/false);
}

ssize_t TlsSession::Failed(int result, bool reading) {
  int error = SSL_get_error(ssl_, result);
  switch (error) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      // What a read waits for is plain (the connection reads when readable);
      // what a handshake or a write waits for decides what Serve polls for.
      if (!reading || !established_) wants_read_ = error == SSL_ERROR_WANT_READ;
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_ZERO_RETURN:
      errno = reading ? ECONNRESET : EPIPE;
      return -1;
    case SSL_ERROR_SYSCALL:
      // The socket failed (errno says how); no errno: the peer went away.
      // OpenSSL forbids SSL_shutdown after this, as after a protocol error.
      shut_down_ = true;
      ERR_clear_error();
      if (errno == 0 || errno == EAGAIN) errno = reading ? ECONNRESET : EPIPE;
      return -1;
    default:
      error_ = TakeOpenSslErrors("TLS protocol error");
      // A fatal TLS error: OpenSSL must not send close_notify after it.
      shut_down_ = true;
      errno = EPROTO;
      return -1;
  }
}

void TlsSession::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  if (!established_) return;
  ERR_clear_error();
  // One attempt: close_notify goes if the socket takes it; the peer's own is
  // not waited for (the descriptor closes next).
  (void)SSL_shutdown(ssl_);
  ERR_clear_error();
}

std::string TlsSession::PeerSubject() const {
  X509* certificate = SSL_get1_peer_certificate(ssl_);
  if (certificate == nullptr) return "";
  std::string text;
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio != nullptr &&
      X509_NAME_print_ex(bio, X509_get_subject_name(certificate), 0, XN_FLAG_RFC2253) >= 0) {
    char* data = nullptr;
    long length = BIO_get_mem_data(bio, &data);
    if (length > 0) text.assign(data, static_cast<std::size_t>(length));
  }
  BIO_free(bio);
  X509_free(certificate);
  return text;
}

std::string TlsSession::Version() const { return SSL_get_version(ssl_); }

}  // namespace thriftd
