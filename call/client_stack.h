// The client side of a connection for `thriftd call`: a TSocket (TCP or
// unix), the transport and the protocol a thriftd is configured with, and
// with --verbose a tap that hex-dumps every byte to stderr.
#ifndef THRIFTD_CALL_CLIENT_STACK_H_
#define THRIFTD_CALL_CLIENT_STACK_H_

#include <cstdint>
#include <memory>
#include <string>

#include <thrift/protocol/TProtocol.h>
#include <thrift/transport/TTransport.h>

#include "src/base/status.h"

namespace apache::thrift::transport {
class TSSLSocketFactory;
}

namespace thriftd::call {

/// The largest string or container a reply may claim (binary and compact,
/// also inside the header protocol; the JSON protocol is bounded by the
/// transport's 100 MiB message limit): as thriftd's own default
/// thrift_max_message_size.
constexpr std::int32_t kMaxReplyBytes = 100 * 1024 * 1024;

/// TLS for `thriftd call` (--tls and the options that imply it).
struct TlsOptions {
  bool enabled = false;
  std::string cacert;     ///< --cacert: the CAs (PEM) the server's certificate is checked
                          ///< against; empty: the system's (/etc/ssl/certs)
  std::string cert;       ///< --cert: a client certificate (PEM, may hold its key too)
  std::string key;        ///< --key: its private key; empty: in `cert`
  bool insecure = false;  ///< --insecure: no check of the server's certificate or name
};

struct StackOptions {
  std::string address;                 ///< HOST:PORT, [IPv6]:PORT or unix:PATH
  std::string transport = "buffered";  ///< buffered, framed, header, zlib
  std::string protocol = "binary";     ///< binary, compact, json, header
  int timeout_ms = 10000;              ///< connect, send and receive, each
  bool verbose = false;                ///< hex-dump the bytes to stderr
  TlsOptions tls;
};

struct ClientStack {
  /// With TLS: the context the socket uses, kept as long as it (its
  /// destruction may clean OpenSSL up); declared first, destroyed last.
  std::shared_ptr<apache::thrift::transport::TSSLSocketFactory> tls;
  std::shared_ptr<apache::thrift::transport::TTransport> transport;  ///< open and close this
  std::shared_ptr<apache::thrift::protocol::TProtocol> protocol;
};

/// Checks the options (a bad name or address is an error naming it) and
/// builds the stack, not yet opened.
Status MakeClientStack(const StackOptions& options, ClientStack* stack);

}  // namespace thriftd::call

#endif  // THRIFTD_CALL_CLIENT_STACK_H_
