#include "workers/registry.h"

#include <functional>
#include <map>

#include "src/plugin_loader.h"
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
  static const PluginKind kKind{"worker kind", "worker kind", "thriftd_worker", "THRIFTD_WORKER",
                                kWorkerAbiVersion};
  void* handle = nullptr;
  const void* address = nullptr;
  Status status = OpenPlugin(kKind, worker_class, &handle, &address);
  if (!status.ok()) return status;
  const auto* entry = static_cast<const WorkerEntry*>(address);
  try {
    worker->reset(entry->create());
  } catch (const std::exception& error) {
    return PluginError(kKind, worker_class, std::string("constructor threw: ") + error.what());
  }
  if (!*worker) return PluginError(kKind, worker_class, "create() returned no worker");
  return Status::Ok();
}

}  // namespace thriftd
