// The Worker contract: what every worker kind (sync, and later thread, fiber
// and custom kinds) implements, and the WorkerContext each one is given.
//
// Lifecycle, as gunicorn's Worker: the kind object is constructed in the
// master before fork(); InitProcess() and Run() run in the worker process.
#ifndef THRIFTD_WORKERS_WORKER_H_
#define THRIFTD_WORKERS_WORKER_H_

#include <memory>
#include <string>
#include <vector>

#include <thrift/TProcessor.h>

#include "workers/stop_signal.h"
#include "workers/thrift_factories.h"

namespace thriftd {

/// Everything a worker kind needs to serve. Built in the worker after fork.
struct WorkerContext {
  int worker_index = 0;
  std::vector<int> listen_fds;  ///< inherited, non-blocking, shared with the other workers
  std::shared_ptr<apache::thrift::TProcessorFactory> processor_factory;
  ThriftSettings thrift;         ///< transport, protocol, frame and message limits
  double client_timeout = 0;     ///< seconds idle between messages; 0 = never
  double graceful_timeout = 30;  ///< seconds in-flight calls may take to finish
  StopSignal* stop = nullptr;    ///< set by TERM (graceful) or master death
  int channel_fd = -1;           ///< to the master; EOF means the master is gone
};

class Worker {
 public:
  virtual ~Worker() = default;
  /// In the worker, after fork and after the App started; may fail (boot error).
  virtual Status InitProcess(WorkerContext& context) = 0;
  /// Serves until a graceful stop is requested and in-flight calls finished.
  virtual void Run(WorkerContext& context) = 0;
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_WORKER_H_
