// WorkerSettings: the settings a worker process acts on, the worker-side
// part of the master's Config. The master fills it from the configuration
// of the worker's generation and hands it over with the fork; workers never
// see the master's Config.
#ifndef THRIFTD_SRC_BASE_WORKER_SETTINGS_H_
#define THRIFTD_SRC_BASE_WORKER_SETTINGS_H_

#include <cstdint>
#include <map>
#include <string>

namespace thriftd {

struct WorkerSettings {
  std::string app;
  std::map<std::string, std::string> app_config;
  std::string worker_class = "sync";
  std::int64_t threads = 1;
  std::int64_t worker_connections = 1000;
  std::int64_t max_requests = 0;
  std::int64_t max_requests_jitter = 0;
  double graceful_timeout = 30;
  double fiber_check_interval = 1;
  std::int64_t fiber_stack_size = 262144;
  std::string thrift_transport_factory = "buffered";
  std::string thrift_protocol_factory = "binary";
  double thrift_client_timeout = 0;
  std::int64_t thrift_max_frame_size = 16384000;
  std::int64_t thrift_max_message_size = 104857600;
  std::string accesslog;
  std::string access_log_format;
};

}  // namespace thriftd

#endif  // THRIFTD_SRC_BASE_WORKER_SETTINGS_H_
