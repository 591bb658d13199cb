// ServedListener: one listen fd as a worker serves it: its settings (its
// bind entry's own, else the global ones), the service its choice resolved
// to (processor factory and tag), and its TLS context. Made once per worker
// process, in listen_fds() order; a connection keeps a reference to its
// listener's for its life. Runs in a worker.
#ifndef THRIFTD_WORKERS_SERVED_LISTENER_H_
#define THRIFTD_WORKERS_SERVED_LISTENER_H_

#include <memory>

#include "src/base/listener_settings.h"
#include "workers/services.h"
#include "workers/tls_context.h"

namespace thriftd {

struct ServedListener {
  ListenerSettings settings;
  ResolvedService service;
  std::shared_ptr<const TlsContext> tls;  ///< null: plain
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_SERVED_LISTENER_H_
