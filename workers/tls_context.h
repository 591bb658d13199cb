// TlsContext: a TLS server context (OpenSSL's SSL_CTX) built from one
// listener's TlsOptions: the certificate chain and its key, the CAs client
// certificates are verified against, the oldest version and the TLS 1.2
// ciphers accepted. Every connection of that listener shares it.
//
// Built by each worker after fork, before it drops privileges (a key only
// root may read works, as in nginx), so new workers read the files again on
// HUP; built and thrown away by the master to check a configuration
// (--check-config, start, HUP) with the same errors. Immutable once built:
// connections on several threads use it at once.
#ifndef THRIFTD_WORKERS_TLS_CONTEXT_H_
#define THRIFTD_WORKERS_TLS_CONTEXT_H_

#include <memory>
#include <string>

#include "src/base/status.h"
#include "workers/tls_options.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace thriftd {

class TlsContext {
 public:
  /// Builds the context of `options` (enabled()). On failure *setting names
  /// the setting at fault ("keyfile") and the status says what is wrong with
  /// it, naming its file ("/etc/x.key does not match certfile /etc/x.pem").
  static Status Create(const TlsOptions& options, std::unique_ptr<TlsContext>* out,
                       std::string* setting);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* get() const { return context_; }

 private:
  explicit TlsContext(SSL_CTX* context) : context_(context) {}

  SSL_CTX* context_;
};

/// OpenSSL's queued errors on this thread as one line (and the queue
/// emptied), or `otherwise` when none is queued.
std::string TakeOpenSslErrors(const std::string& otherwise);

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_TLS_CONTEXT_H_
