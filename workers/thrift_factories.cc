#include "workers/thrift_factories.h"

#include <thrift/TConfiguration.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TCompactProtocol.h>
#include <thrift/protocol/THeaderProtocol.h>
#include <thrift/protocol/TJSONProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/THeaderTransport.h>

namespace thriftd {

using apache::thrift::TConfiguration;
using namespace apache::thrift::protocol;
using namespace apache::thrift::transport;

namespace {

template <typename Transport>
std::shared_ptr<TProtocol> Payload(const ThriftSettings& settings,
                                   const std::shared_ptr<Transport>& transport) {
  auto limit = static_cast<int32_t>(settings.max_message_size);
  if (settings.protocol == "compact")
    return std::make_shared<TCompactProtocolT<Transport>>(transport, limit, limit);
  if (settings.protocol == "json") return std::make_shared<TJSONProtocol>(transport);
  return std::make_shared<TBinaryProtocolT<Transport>>(transport, limit, limit,
                                                       /*strict_read=*/true,
                                                       /*strict_write=*/true);
}

}  // namespace

std::shared_ptr<TProtocol> MakeProtocol(const ThriftSettings& settings,
                                        const std::shared_ptr<ConnectionSocket>& socket) {
  auto config = std::make_shared<TConfiguration>(static_cast<int>(settings.max_message_size),
                                                 static_cast<int>(settings.max_frame_size));
  if (settings.protocol == "header") {
    auto protocol = std::make_shared<THeaderProtocol>(socket);
    auto header = std::static_pointer_cast<THeaderTransport>(protocol->getTransport());
    header->setConfiguration(config);
    header->setMaxFrameSize(static_cast<uint32_t>(settings.max_frame_size));
    return protocol;
  }
  if (settings.transport == "framed") {
    return Payload<TTransport>(settings, std::make_shared<TFramedTransport>(socket, config));
  }
  if (settings.transport == "header") {
    auto header = std::make_shared<THeaderTransport>(socket, config);
    header->setMaxFrameSize(static_cast<uint32_t>(settings.max_frame_size));
    return Payload<TTransport>(settings, header);
  }
  return Payload<ConnectionSocket>(settings, socket);
}

}  // namespace thriftd
