#include "workers/thrift_factories.h"

#include <thrift/TConfiguration.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TCompactProtocol.h>
#include <thrift/protocol/THeaderProtocol.h>
#include <thrift/protocol/TJSONProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/THeaderTransport.h>

#include "src/base/limited_header_protocol.h"

namespace thriftd {

using apache::thrift::TConfiguration;
using namespace apache::thrift::protocol;
using namespace apache::thrift::transport;

namespace {

template <typename Transport>
std::shared_ptr<TProtocol> Payload(const WorkerSettings& settings, const ListenerSettings& listener,
                                   const std::shared_ptr<Transport>& transport) {
  auto limit = static_cast<int32_t>(settings.thrift_max_message_size);
  if (listener.thrift_protocol_factory == "compact")
    return std::make_shared<TCompactProtocolT<Transport>>(transport, limit, limit);
  if (listener.thrift_protocol_factory == "json") return std::make_shared<TJSONProtocol>(transport);
  return std::make_shared<TBinaryProtocolT<Transport>>(transport, limit, limit,
                                                       /*strict_read=*/true,
                                                       /*strict_write=*/true);
}

}  // namespace

std::shared_ptr<TProtocol> MakeProtocol(const WorkerSettings& settings,
                                        const ListenerSettings& listener,
                                        const std::shared_ptr<MessageTransport>& transport) {
  auto config = std::make_shared<TConfiguration>(static_cast<int>(settings.thrift_max_message_size),
                                                 static_cast<int>(settings.thrift_max_frame_size));
  auto max_frame = static_cast<uint32_t>(settings.thrift_max_frame_size);
  if (listener.thrift_protocol_factory == "header") {
    // Over framed, each header frame comes inside a framed frame and the
    // reply goes back the same way, as Apache Thrift's cross-test clients
    // (C++ and Python) and its stock servers do it.
    std::shared_ptr<TTransport> below = transport;
    if (listener.thrift_transport_factory == "framed")
      below = std::make_shared<TFramedTransport>(transport, config);
    auto protocol = std::make_shared<LimitedHeaderProtocol>(
        below, static_cast<int32_t>(settings.thrift_max_message_size));
    auto header = std::static_pointer_cast<THeaderTransport>(protocol->getTransport());
    header->setConfiguration(config);
    header->setMaxFrameSize(max_frame);
    return protocol;
  }
  if (listener.thrift_transport_factory == "framed") {
    return Payload<TTransport>(settings, listener,
                               std::make_shared<TFramedTransport>(transport, config));
  }
  if (listener.thrift_transport_factory == "header") {
    auto header = std::make_shared<THeaderTransport>(transport, config);
    header->setMaxFrameSize(max_frame);
    return Payload<TTransport>(settings, listener, header);
  }
  // buffered, and zlib: the connection inflates, the window holds what the
  // buffered transport would.
  return Payload<MessageTransport>(settings, listener, transport);
}

MessageScanner MakeScanner(const WorkerSettings& settings, const ListenerSettings& listener) {
  using Framing = MessageScanner::Framing;
  using Encoding = MessageScanner::Encoding;
  Framing framing = listener.thrift_transport_factory == "header"   ? Framing::kHeader
                    : listener.thrift_transport_factory != "framed" ? Framing::kBuffered
                    : listener.thrift_protocol_factory == "header"  ? Framing::kFramedHeader
                                                                    : Framing::kFramed;
  Encoding encoding = listener.thrift_protocol_factory == "compact" ? Encoding::kCompact
                      : listener.thrift_protocol_factory == "json"  ? Encoding::kJson
                                                                    : Encoding::kBinary;
  return MessageScanner(framing, encoding,
                        {settings.thrift_max_frame_size, settings.thrift_max_message_size});
}

bool CompressedStream(const ListenerSettings& listener) {
  return listener.thrift_transport_factory == "zlib";
}

int HeaderFrameOffset(const ListenerSettings& listener) {
  if (listener.thrift_transport_factory == "header") return 0;
  if (listener.thrift_transport_factory == "framed" && listener.thrift_protocol_factory == "header")
    return 4;
  return -1;
}

}  // namespace thriftd
