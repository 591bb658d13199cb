// Loads an App from a shared object: `PATH.so[:NAME]`. Runs in a worker after
// fork (and in --check-config's trial worker, src/app_trial.h).
#ifndef THRIFTD_SRC_BASE_APP_LOADER_H_
#define THRIFTD_SRC_BASE_APP_LOADER_H_

#include <string>

#include "src/base/plugin_loader.h"
#include "src/base/status.h"
#include "thriftd/app.h"

namespace thriftd {

/// An App and the object that holds its code (see LoadedPlugin).
using LoadedApp = LoadedPlugin<App>;

/// Loads and constructs the App. Each failure is one line: "cannot load app
/// PATH: <why>" (file missing, not a shared object, no entry point, ABI
/// version mismatch with both versions, the constructor threw).
Status LoadApp(const std::string& spec_text, LoadedApp* loaded);

}  // namespace thriftd

#endif  // THRIFTD_SRC_BASE_APP_LOADER_H_
