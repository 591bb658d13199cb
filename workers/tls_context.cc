#include "workers/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509err.h>
#include <unistd.h>

#include <cerrno>

namespace thriftd {
namespace {

// The session cache's context: sessions resumed with a verified client
// certificate need one, or OpenSSL refuses to resume them.
constexpr unsigned char kSessionIdContext[] = "thriftd";

// An encrypted key would make OpenSSL ask for its passphrase on the
// terminal, in a daemon: refused instead, as a key it cannot read.
int NoPassphrase(char* /*buffer*/, int /*size*/, int /*rwflag*/, void* /*user*/) { return 0; }

// Whether `path` can be opened for reading; otherwise why not.
Status CheckReadable(const std::string& path) {
  if (access(path.c_str(), R_OK) == 0) return Status::Ok();
  return Status::FromErrno("cannot read " + path, errno);
}

struct Failure {
  const char* setting;
  Status status;
};

// Loads what `options` names into `context`; the first failure.
Failure Configure(SSL_CTX* context, const TlsOptions& options) {
  const std::string& keyfile = options.keyfile.empty() ? options.certfile : options.keyfile;
  const char* key_setting = options.keyfile.empty() ? "certfile" : "keyfile";
  Status status = CheckReadable(options.certfile);
  if (!status.ok()) return {"certfile", status};
  if (SSL_CTX_use_certificate_chain_file(context, options.certfile.c_str()) != 1) {
    return {"certfile", Status::Error(options.certfile + " holds no usable PEM certificate: " +
                                      TakeOpenSslErrors("unknown error"))};
  }
  status = CheckReadable(keyfile);
  if (!status.ok()) return {key_setting, status};
  if (SSL_CTX_use_PrivateKey_file(context, keyfile.c_str(), SSL_FILETYPE_PEM) != 1) {
    // A readable key of another certificate fails here already, in X509.
    unsigned long last = ERR_peek_last_error();
    if (ERR_GET_LIB(last) == ERR_LIB_X509 && (ERR_GET_REASON(last) == X509_R_KEY_VALUES_MISMATCH ||
                                              ERR_GET_REASON(last) == X509_R_KEY_TYPE_MISMATCH)) {
      TakeOpenSslErrors("");
      return {key_setting,
              Status::Error(keyfile + " does not match the certificate in " + options.certfile)};
    }
    return {key_setting, Status::Error(keyfile +
                                       " holds no usable PEM private key (an encrypted key is "
                                       "not supported): " +
                                       TakeOpenSslErrors("unknown error"))};
  }
  if (SSL_CTX_check_private_key(context) != 1) {
    TakeOpenSslErrors("");
    return {key_setting,
            Status::Error(keyfile + " does not match the certificate in " + options.certfile)};
  }
  if (!options.ciphers.empty() && SSL_CTX_set_cipher_list(context, options.ciphers.c_str()) != 1) {
    TakeOpenSslErrors("");
    return {"ciphers", Status::Error("no cipher OpenSSL knows in \"" + options.ciphers + "\"")};
  }
  int verify = SSL_VERIFY_NONE;
  if (options.cert_reqs != TlsOptions::ClientCert::kNone) {
    if (options.ca_certs.empty()) {
      return {"cert_reqs",
              Status::Error(std::string("\"") +
                            (options.cert_reqs == TlsOptions::ClientCert::kRequired ? "required"
                                                                                    : "optional") +
                            "\" needs ca_certs, the CAs that client certificates "
                            "are verified against")};
    }
    verify = SSL_VERIFY_PEER;
    if (options.cert_reqs == TlsOptions::ClientCert::kRequired)
      verify |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  }
  if (!options.ca_certs.empty()) {
    status = CheckReadable(options.ca_certs);
    if (!status.ok()) return {"ca_certs", status};
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options.ca_certs.c_str());
    if (names == nullptr ||
        SSL_CTX_load_verify_locations(context, options.ca_certs.c_str(), nullptr) != 1) {
      if (names != nullptr) sk_X509_NAME_pop_free(names, X509_NAME_free);
      return {"ca_certs", Status::Error(options.ca_certs + " holds no usable PEM certificate: " +
                                        TakeOpenSslErrors("unknown error"))};
    }
    SSL_CTX_set_client_CA_list(context, names);  // takes `names`
  }
  SSL_CTX_set_verify(context, verify, nullptr);
  return {nullptr, Status::Ok()};
}

}  // namespace

std::string TakeOpenSslErrors(const std::string& otherwise) {
  std::string text;
  while (unsigned long error = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(error, buffer, sizeof buffer);
    if (!text.empty()) text.append("; ");
    text.append(buffer);
  }
  return text.empty() ? otherwise : text;
}

Status TlsContext::Create(const TlsOptions& options, std::unique_ptr<TlsContext>* out,
                          std::string* setting) {
  ERR_clear_error();
  SSL_CTX* context = SSL_CTX_new(TLS_server_method());
  if (context == nullptr) {
    *setting = "certfile";
    return Status::Error("SSL_CTX_new: " + TakeOpenSslErrors("out of memory"));
  }
  std::unique_ptr<TlsContext> built(new TlsContext(context));
  // The setting's choices are validated with the configuration: TLSv1.2 or TLSv1.3.
  SSL_CTX_set_min_proto_version(context,
                                options.min_version == "TLSv1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
  // No renegotiation (a client could make the server work at will); a peer
  // that closes without close_notify is an end of file, as on a plain socket.
  SSL_CTX_set_options(context, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                   SSL_OP_IGNORE_UNEXPECTED_EOF);
  // Partial writes: a reply goes as far as the socket takes it, and the rest
  // is retried from the connection's buffer, which may have moved. Buffers
  // released between messages: an idle connection holds as little as a
  // plain one.
  SSL_CTX_set_mode(context, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                SSL_MODE_RELEASE_BUFFERS);
  // Read-ahead: one recv() takes whatever the socket holds, not a record's
  // 5-byte header and then its body in two. The connection reads on until
  // OpenSSL would block anyway (bytes buffered inside it are invisible to
  // epoll), so nothing read ahead waits unseen. nginx sets it too.
  SSL_CTX_set_read_ahead(context, 1);
  SSL_CTX_set_default_passwd_cb(context, NoPassphrase);
  SSL_CTX_set_session_id_context(context, kSessionIdContext, sizeof kSessionIdContext - 1);
  Failure failure = Configure(context, options);
  if (!failure.status.ok()) {
    *setting = failure.setting;
    return failure.status;
  }
  *out = std::move(built);
  return Status::Ok();
}

TlsContext::~TlsContext() { SSL_CTX_free(context_); }

}  // namespace thriftd
