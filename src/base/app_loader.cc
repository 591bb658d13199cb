#include "src/base/app_loader.h"

namespace thriftd {

Status LoadApp(const std::string& spec_text, LoadedApp* loaded) {
  static const PluginKind kApp{"app",
                               "App",
                               "thriftd_app",
                               "THRIFTD_APP",
                               kAppAbiVersion,
                               kOldestAppAbiVersion,
                               "thriftd_app_list"};
  return LoadPlugin<App, AppEntry>(kApp, spec_text, loaded);
}

}  // namespace thriftd
