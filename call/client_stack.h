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

namespace thriftd::call {

/// The largest string or container a reply may claim (binary and compact,
/// also inside the header protocol; the JSON protocol is bounded by the
/// transport's 100 MiB message limit): as thriftd's own default
/// thrift_max_message_size.
constexpr std::int32_t kMaxReplyBytes = 100 * 1024 * 1024;

struct StackOptions {
  std::string address;                 ///< HOST:PORT, [IPv6]:PORT or unix:PATH
  std::string transport = "buffered";  ///< buffered, framed, header, zlib
  std::string protocol = "binary";     ///< binary, compact, json, header
  int timeout_ms = 10000;              ///< connect, send and receive, each
  bool verbose = false;                ///< hex-dump the bytes to stderr
};

struct ClientStack {
  std::shared_ptr<apache::thrift::transport::TTransport> transport;  ///< open and close this
  std::shared_ptr<apache::thrift::protocol::TProtocol> protocol;
};

/// Checks the options (a bad name or address is an error naming it) and
/// builds the stack, not yet opened.
Status MakeClientStack(const StackOptions& options, ClientStack* stack);

}  // namespace thriftd::call

#endif  // THRIFTD_CALL_CLIENT_STACK_H_
