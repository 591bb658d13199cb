// The worker kind registry: `-k NAME` -> a Worker. Built-in kinds by name; a
// custom kind from a shared object exporting THRIFTD_WORKER, `-k PATH.so[:NAME]`.
// Runs in the master, which constructs the kind before fork as the Worker
// contract says.
#ifndef THRIFTD_WORKERS_REGISTRY_H_
#define THRIFTD_WORKERS_REGISTRY_H_

#include <memory>
#include <string>

#include "src/base/status.h"
#include "thriftd/worker.h"

namespace thriftd {

/// Creates the kind `worker_class` names. A custom kind's failures are one
/// line each, as App loading's: "cannot load worker kind PATH: <why>".
Status CreateWorker(const std::string& worker_class, std::unique_ptr<Worker>* worker);

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_REGISTRY_H_
