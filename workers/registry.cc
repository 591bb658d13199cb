#include "workers/registry.h"

#include <functional>
#include <map>

#include "src/base/plugin_loader.h"
#include "workers/fiber_worker.h"
#include "workers/sync_worker.h"
#include "workers/thread_worker.h"

namespace thriftd {
namespace {

using Factory = std::function<std::unique_ptr<Worker>()>;

const std::map<std::string, Factory>& BuiltinKinds() {
  static const std::map<std::string, Factory> kinds = {
      {"sync", [] { return std::make_unique<SyncWorker>(); }},
      {"thread", [] { return std::make_unique<ThreadWorker>(); }},
      {"fiber", [] { return std::make_unique<FiberWorker>(); }},
  };
  return kinds;
}

}  // namespace

Status CreateWorker(const std::string& worker_class, std::unique_ptr<Worker>* worker) {
  auto builtin = BuiltinKinds().find(worker_class);
  if (builtin != BuiltinKinds().end()) {
    *worker = builtin->second();
    return Status::Ok();
  }
  static const PluginKind kKind{"worker kind",    "worker kind",     "thriftd_worker",
                                "THRIFTD_WORKER", kWorkerAbiVersion, kWorkerAbiVersion,
                                nullptr};
  LoadedPlugin<Worker> loaded;
  Status status = LoadPlugin<Worker, WorkerEntry>(kKind, worker_class, &loaded);
  if (!status.ok()) return status;
  *worker = std::move(loaded.object);  // the object stays loaded: its code runs until exit
  return Status::Ok();
}

}  // namespace thriftd
