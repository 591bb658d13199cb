// Builds the Thrift protocol stack of one connection, with the configured
// limits applied. Apache Thrift 0.17's stock factories ignore a TConfiguration
// and default to non-strict binary reads, which let one stray "GET / HTTP/1.1"
// make a server allocate a gigabyte; these do not. Runs in a worker.
#ifndef THRIFTD_WORKERS_THRIFT_FACTORIES_H_
#define THRIFTD_WORKERS_THRIFT_FACTORIES_H_

#include <memory>

#include <thrift/protocol/TProtocol.h>

#include "src/base/listener_settings.h"
#include "src/base/worker_settings.h"
#include "workers/message_scanner.h"
#include "workers/message_transport.h"

namespace thriftd {

/// The protocol a connection's processor reads and writes, over `transport`
/// (the thrift_transport_factory and thrift_protocol_factory of `listener`,
/// the listener the connection came from, and the size limits of
/// `settings`). `buffered` is the message transport itself; binary and
/// compact are instantiated over its concrete type, so their reads inline.
/// The header protocol runs over the header transport, or over the framed
/// one (each header frame inside a framed frame; the config check refuses
/// buffered).
std::shared_ptr<apache::thrift::protocol::TProtocol> MakeProtocol(
    const WorkerSettings& settings, const ListenerSettings& listener,
    const std::shared_ptr<MessageTransport>& transport);

/// The scanner that finds where each message of such a connection ends.
MessageScanner MakeScanner(const WorkerSettings& settings, const ListenerSettings& listener);

/// Where the header frame starts in each message of such a connection:
/// 0 for the header transport, 4 for the header protocol over framed (after
/// the framed frame's length); -1 when it carries no header frames.
int HeaderFrameOffset(const ListenerSettings& listener);

/// Whether such a connection's bytes are one zlib stream each way (the
/// `zlib` transport: Apache Thrift's TZlibTransport), inflated before the
/// scanner and the protocol see them.
bool CompressedStream(const ListenerSettings& listener);

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_THRIFT_FACTORIES_H_
