// Loads an App from a shared object: `PATH.so[:NAME]`. Runs in a worker after
// fork (or in the master for --check-config).
#ifndef THRIFTD_SRC_APP_LOADER_H_
#define THRIFTD_SRC_APP_LOADER_H_

#include <memory>
#include <string>

#include "src/plugin_loader.h"
#include "src/status.h"
#include "thriftd/app.h"

namespace thriftd {

/// An App and the object that holds its code. The object stays loaded for
/// the life of the process: the App's code, and objects it handed out, may
/// outlive the LoadedApp itself.
struct LoadedApp {
  void* handle = nullptr;
  std::string name;
  std::unique_ptr<App> app;
};

using AppSpec = PluginSpec;
inline AppSpec ParseAppSpec(const std::string& text) { return ParsePluginSpec(text); }

/// Loads and constructs the App. Each failure is one line: "cannot load app
/// PATH: <why>" (file missing, not a shared object, no entry point, ABI
/// version mismatch with both versions, the constructor threw).
Status LoadApp(const std::string& spec_text, LoadedApp* loaded);

}  // namespace thriftd

#endif  // THRIFTD_SRC_APP_LOADER_H_
