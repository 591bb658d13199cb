// Builds the Thrift transport and protocol stack for one connection, with the
// configured limits applied. Apache Thrift 0.17's stock factories ignore a
// TConfiguration and default to non-strict binary reads, which let one stray
// "GET / HTTP/1.1" make a server allocate a gigabyte; these do not.
// Runs in a worker, once per connection.
#ifndef THRIFTD_WORKERS_THRIFT_FACTORIES_H_
#define THRIFTD_WORKERS_THRIFT_FACTORIES_H_

#include <cstdint>
#include <memory>
#include <string>

#include <thrift/TConfiguration.h>
#include <thrift/protocol/TProtocol.h>
#include <thrift/transport/TTransport.h>

namespace thriftd {

struct ThriftSettings {
  std::string transport = "buffered";  ///< buffered | framed | header
  std::string protocol = "binary";     ///< binary | compact | json | header
  std::int64_t max_frame_size = 16384000;
  std::int64_t max_message_size = 100 * 1024 * 1024;
};

struct ConnectionStack {
  std::shared_ptr<apache::thrift::transport::TTransport> transport;  ///< the outermost one
  std::shared_ptr<apache::thrift::protocol::TProtocol> protocol;     ///< reads and writes
};

/// Wraps `socket` per `settings`. The header protocol needs the header
/// transport (the config check refuses other pairs).
ConnectionStack MakeConnectionStack(const ThriftSettings& settings,
                                    std::shared_ptr<apache::thrift::transport::TTransport> socket);

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_THRIFT_FACTORIES_H_
