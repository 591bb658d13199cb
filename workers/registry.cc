#include "workers/registry.h"

#include <functional>
#include <map>

#include "workers/sync_worker.h"

namespace thriftd {
namespace {

using Factory = std::function<std::unique_ptr<Worker>()>;

const std::map<std::string, Factory>& Kinds() {
  static const std::map<std::string, Factory> kinds = {
      {"sync", [] { return std::make_unique<SyncWorker>(); }},
  };
  return kinds;
}

}  // namespace

std::vector<std::string> BuiltinWorkerKinds() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : Kinds()) names.push_back(name);
  return names;
}

std::unique_ptr<Worker> CreateWorker(const std::string& name) {
  auto it = Kinds().find(name);
  return it == Kinds().end() ? nullptr : it->second();
}

}  // namespace thriftd
