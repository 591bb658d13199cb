// WorkerSettings: the settings a worker process acts on, the worker-side
// part of the master's Config. The master fills it from the configuration
// of the worker's generation and hands it over with the fork; workers never
// see the master's Config.
//
// Its fields are generated: one per row of THRIFTD_SETTINGS
// (src/base/setting_list.h) whose scope is kWorker, with the row's name, C++
// type and default. A default-constructed WorkerSettings holds the defaults.
#ifndef THRIFTD_SRC_BASE_WORKER_SETTINGS_H_
#define THRIFTD_SRC_BASE_WORKER_SETTINGS_H_

#include <cstdint>
#include <map>
#include <string>

#include "src/base/setting_list.h"

namespace thriftd {

struct WorkerSettings {
#define THRIFTD_WORKER_SETTINGS_FIELD(name, flag, short_flag, kind, type, default_value, choices, \
                                      range, metavar, section, scope, help)                   \
  THRIFTD_IF_WORKER_SCOPE(scope, type name = default_value;)
  THRIFTD_SETTINGS(THRIFTD_WORKER_SETTINGS_FIELD)
#undef THRIFTD_WORKER_SETTINGS_FIELD
};

}  // namespace thriftd

#endif  // THRIFTD_SRC_BASE_WORKER_SETTINGS_H_
