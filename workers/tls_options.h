// TlsOptions: one listener's TLS settings for its server context (certfile,
// keyfile, ca_certs, cert_reqs, ciphers, ssl_version; the connection reads
// tls_handshake_timeout from the listener's settings), read from the
// settings in one place (TlsOptionsOf) so that a per-listener source of the
// same rows only has to change that function. Plain data; used by the master
// to check a configuration and by a worker to build its server context.
#ifndef THRIFTD_WORKERS_TLS_OPTIONS_H_
#define THRIFTD_WORKERS_TLS_OPTIONS_H_

#include <string>

#include "src/base/listener_settings.h"

namespace thriftd {

struct TlsOptions {
  /// cert_reqs: whether (and how strictly) clients are asked for a certificate.
  enum class ClientCert { kNone, kOptional, kRequired };

  std::string certfile;  ///< empty: the listener is plain
  std::string keyfile;   ///< empty: the key is in certfile
  std::string ca_certs;  ///< empty: no client certificate can be verified
  ClientCert cert_reqs = ClientCert::kNone;
  std::string ciphers;                  ///< empty: OpenSSL's default list
  std::string min_version = "TLSv1.2";  ///< "TLSv1.2" or "TLSv1.3"

  bool enabled() const { return !certfile.empty(); }
  /// Listeners that agree on these share one server context.
  bool operator==(const TlsOptions& other) const {
    return certfile == other.certfile && keyfile == other.keyfile && ca_certs == other.ca_certs &&
           cert_reqs == other.cert_reqs && ciphers == other.ciphers &&
           min_version == other.min_version;
  }
};

/// The TLS options of one listener (its bind entry's own, else the global
/// rows).
TlsOptions TlsOptionsOf(const ListenerSettings& settings);

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_TLS_OPTIONS_H_
