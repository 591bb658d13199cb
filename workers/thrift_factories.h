// Builds the Thrift protocol stack of one connection, with the configured
// limits applied. Apache Thrift 0.17's stock factories ignore a TConfiguration
// and default to non-strict binary reads, which let one stray "GET / HTTP/1.1"
// make a server allocate a gigabyte; these do not. Runs in a worker.
#ifndef THRIFTD_WORKERS_THRIFT_FACTORIES_H_
#define THRIFTD_WORKERS_THRIFT_FACTORIES_H_

#include <cstdint>
#include <memory>
#include <string>

#include <thrift/protocol/TProtocol.h>

#include "workers/connection_socket.h"

namespace thriftd {

struct ThriftSettings {
  std::string transport = "buffered";  ///< buffered | framed | header
  std::string protocol = "binary";     ///< binary | compact | json | header
  std::int64_t max_frame_size = 16384000;
  std::int64_t max_message_size = 100 * 1024 * 1024;
};

/// The protocol a connection's processor reads and writes, over `socket`.
/// `buffered` is the socket itself (it buffers); binary and compact are
/// instantiated over the concrete socket type, so their reads inline. The
/// header protocol needs the header transport (the config check refuses
/// other pairs).
std::shared_ptr<apache::thrift::protocol::TProtocol> MakeProtocol(
    const ThriftSettings& settings, const std::shared_ptr<ConnectionSocket>& socket);

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_THRIFT_FACTORIES_H_
