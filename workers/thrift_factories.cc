#include "workers/thrift_factories.h"

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

// Buffered reads and writes: large enough that a small call is one read and
// one write system call.
constexpr uint32_t kBufferSize = 8192;

}  // namespace

ConnectionStack MakeConnectionStack(const ThriftSettings& settings,
                                    std::shared_ptr<TTransport> socket) {
  auto config = std::make_shared<TConfiguration>(static_cast<int>(settings.max_message_size),
                                                 static_cast<int>(settings.max_frame_size));
  auto limit = static_cast<int32_t>(settings.max_message_size);
  ConnectionStack stack;
  if (settings.protocol == "header") {
    auto protocol = std::make_shared<THeaderProtocol>(socket);
    auto header = std::static_pointer_cast<THeaderTransport>(protocol->getTransport());
    header->setConfiguration(config);
    header->setMaxFrameSize(static_cast<uint32_t>(settings.max_frame_size));
    stack.transport = header;
    stack.protocol = protocol;
    return stack;
  }
  if (settings.transport == "framed") {
    stack.transport = std::make_shared<TFramedTransport>(socket, config);
  } else if (settings.transport == "header") {
    auto header = std::make_shared<THeaderTransport>(socket, config);
    header->setMaxFrameSize(static_cast<uint32_t>(settings.max_frame_size));
    stack.transport = header;
  } else {
    stack.transport =
        std::make_shared<TBufferedTransport>(socket, kBufferSize, kBufferSize, config);
  }
  if (settings.protocol == "compact") {
    stack.protocol = std::make_shared<TCompactProtocol>(stack.transport, limit, limit);
  } else if (settings.protocol == "json") {
    stack.protocol = std::make_shared<TJSONProtocol>(stack.transport);
  } else {
    stack.protocol = std::make_shared<TBinaryProtocol>(stack.transport, limit, limit,
                                                       /*strict_read=*/true,
                                                       /*strict_write=*/true);
  }
  return stack;
}

}  // namespace thriftd
