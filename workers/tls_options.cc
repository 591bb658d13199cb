#include "workers/tls_options.h"

namespace thriftd {

TlsOptions TlsOptionsOf(const ListenerSettings& settings) {
  TlsOptions options;
  options.certfile = settings.certfile;
  options.keyfile = settings.keyfile;
  options.ca_certs = settings.ca_certs;
  // The setting's choices are validated with the configuration.
  if (settings.cert_reqs == "optional") options.cert_reqs = TlsOptions::ClientCert::kOptional;
  if (settings.cert_reqs == "required") options.cert_reqs = TlsOptions::ClientCert::kRequired;
  options.ciphers = settings.ciphers;
  options.min_version = settings.ssl_version;
  return options;
}

}  // namespace thriftd
