// The worker kind registry: `-k NAME` -> a factory. Runs in the master, which
// constructs the kind object before fork as the Worker contract says.
#ifndef THRIFTD_WORKERS_REGISTRY_H_
#define THRIFTD_WORKERS_REGISTRY_H_

#include <memory>
#include <string>
#include <vector>

#include "workers/worker.h"

namespace thriftd {

/// The built-in kinds' names, for the settings table and --help.
std::vector<std::string> BuiltinWorkerKinds();
/// The kind registered as `name`, or nullptr.
std::unique_ptr<Worker> CreateWorker(const std::string& name);

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_REGISTRY_H_
