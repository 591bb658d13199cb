// The process environment gunicorn's users set: chdir, umask and raw_env,
// applied in the master, so that every worker it forks inherits them and
// the files both create (logs, the unix sockets, the App's) get the mask.
// Runs in the master, at start and on HUP.
#ifndef THRIFTD_SRC_PROCESS_ENVIRONMENT_H_
#define THRIFTD_SRC_PROCESS_ENVIRONMENT_H_

#include "src/base/status.h"
#include "src/config.h"

namespace thriftd {

/// Changes to `chdir` when set. At start only: before the App, the logs or
/// the binds are looked for, as gunicorn changes directory before loading
/// its app. The error names the setting's origin.
Status ApplyChdir(const Config& config);

/// Sets the umask and the raw_env variables (existing ones are replaced).
/// At start and on HUP: the workers of a reload fork after it.
Status ApplyUmaskAndEnvironment(const Config& config);

}  // namespace thriftd

#endif  // THRIFTD_SRC_PROCESS_ENVIRONMENT_H_
