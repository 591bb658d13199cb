#include "src/app_loader.h"

#include <dlfcn.h>

namespace thriftd {

Status LoadApp(const std::string& spec_text, LoadedApp* loaded) {
  static const PluginKind kApp{"app", "App", "thriftd_app", "THRIFTD_APP", kAppAbiVersion};
  void* handle = nullptr;
  const void* address = nullptr;
  Status status = OpenPlugin(kApp, spec_text, &handle, &address);
  if (!status.ok()) return status;
  const auto* entry = static_cast<const AppEntry*>(address);
  try {
    loaded->app.reset(entry->create());
  } catch (const std::exception& error) {
    dlclose(handle);
    return PluginError(kApp, spec_text, std::string("App constructor threw: ") + error.what());
  } catch (...) {
    dlclose(handle);
    return PluginError(kApp, spec_text, "App constructor threw an unknown exception");
  }
  loaded->handle = handle;
  loaded->name = entry->name;
  return Status::Ok();
}

}  // namespace thriftd
