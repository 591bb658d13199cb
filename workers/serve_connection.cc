#include "workers/serve_connection.h"

#include <cmath>

#include <thrift/protocol/TProtocolException.h>
#include <thrift/transport/TTransportException.h>

#include "src/log.h"
#include "workers/connection_socket.h"

namespace thriftd {

using apache::thrift::TConnectionInfo;
using apache::thrift::protocol::TProtocolException;
using apache::thrift::transport::TTransportException;

void ServeConnection(int fd, const WorkerContext& context, IoWaiter& waiter) {
  int timeout_ms =
      context.client_timeout > 0 ? static_cast<int>(std::ceil(context.client_timeout * 1000)) : -1;
  auto socket =
      std::make_shared<ConnectionSocket>(fd, waiter, timeout_ms, context.thrift.max_message_size);
  try {
    ConnectionStack stack = MakeConnectionStack(context.thrift, socket);
    TConnectionInfo info{stack.protocol, stack.protocol, socket};
    auto processor = context.processor_factory->getProcessor(info);
    for (;;) {
      socket->BeginMessage();
      if (!processor->process(stack.protocol, stack.protocol, nullptr)) break;
    }
  } catch (const TTransportException& error) {
    switch (error.getType()) {
      case TTransportException::INTERRUPTED:
      case TTransportException::TIMED_OUT:
        THRIFTD_LOG(kDebug) << "closing connection from " << socket->getOrigin() << ": "
                            << error.what();
        break;
      case TTransportException::END_OF_FILE:
        if (socket->peer_closed()) break;  // The ordinary end of a connection.
        [[fallthrough]];
      default:
        THRIFTD_LOG(kWarning) << "closing connection from " << socket->getOrigin() << ": "
                              << error.what();
    }
  } catch (const TProtocolException& error) {
    THRIFTD_LOG(kWarning) << "closing connection from " << socket->getOrigin()
                          << ": protocol error: " << error.what();
  } catch (const std::exception& error) {
    THRIFTD_LOG(kError) << "closing connection from " << socket->getOrigin() << ": "
                        << error.what();
  }
}

}  // namespace thriftd
