// Serving one connection: the Thrift message loop every worker kind shares.
// Runs in a worker, in the thread (or fiber) that owns the connection.
#ifndef THRIFTD_WORKERS_SERVE_CONNECTION_H_
#define THRIFTD_WORKERS_SERVE_CONNECTION_H_

#include "workers/io_waiter.h"
#include "workers/worker.h"

namespace thriftd {

/// Serves the accepted, non-blocking `fd` (owned; closed on return) until
/// the peer closes, it idles past the client timeout, a message breaks the
/// protocol or the limits (logged as a warning), or a graceful stop arrives
/// between messages. Handler exceptions are the processor's business: they
/// become TApplicationException replies. Never throws.
void ServeConnection(int fd, const WorkerContext& context, IoWaiter& waiter);

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_SERVE_CONNECTION_H_
