#include "workers/app_start.h"

#include <unistd.h>

#include <algorithm>
#include <exception>
#include <string>

#include "workers/services.h"

namespace thriftd {

Status StartApp(const WorkerSettings& settings, const std::vector<ListenerSettings>& listeners,
                int worker_index, StartedApp* app, LoadedApp* preloaded) {
  if (preloaded != nullptr) {
    // The fork's copy: the master's own stays in the master.
    app->loaded = std::move(*preloaded);
  } else {
    Status status = LoadApp(settings.app, &app->loaded);
    if (!status.ok()) return status;
  }
  app->context.worker_index = worker_index;
  app->context.pid = getpid();
  app->context.app_config = settings.app_config;
  const std::string& name = app->loaded.name;
  AppServices services;
  services.app_name = name;
  try {
    App& object = *app->loaded.object;
    object.OnWorkerStart(app->context);
    services.default_service = object.ProcessorFactory();
    // An App built for ABI version 1 has no Services() in its vtable.
    if (app->loaded.abi_version >= 2) services.named = object.Services();
  } catch (const std::exception& error) {
    return Status::Error("App " + name + " failed to start in worker: " + error.what());
  } catch (...) {
    return Status::Error("App " + name + " failed to start in worker");
  }
  Status status = CheckAppServices(services);
  if (!status.ok()) return status;
  // One factory per distinct choice: listeners serving the same service
  // share its processors' state (a named service's tag among them).
  std::vector<std::pair<ServiceChoice, ResolvedService>> made;
  app->services.clear();
  for (const ListenerSettings& listener : listeners) {
    ServiceChoice choice = ServiceChoiceOf(listener);
    auto same = std::find_if(made.begin(), made.end(), [&choice](const auto& entry) {
      return entry.first.service == choice.service && entry.first.multiplexed == choice.multiplexed;
    });
    if (same == made.end()) {
      ResolvedService resolved;
      status = ResolveProcessorFactory(services, choice, &resolved);
      if (!status.ok()) {
        return listeners.size() > 1 ? status.Prepend("listener " + listener.key) : status;
      }
      same = made.insert(made.end(), {choice, std::move(resolved)});
    }
    app->services.push_back(same->second);
  }
  return Status::Ok();
}

Status StopApp(StartedApp& app) {
  try {
    app.loaded.object->OnWorkerExit(app.context);
  } catch (const std::exception& thrown) {
    return Status::Error("App " + app.loaded.name + " worker exit hook threw: " + thrown.what());
  } catch (...) {
    return Status::Error("App " + app.loaded.name + " worker exit hook threw");
  }
  return Status::Ok();
}

}  // namespace thriftd
