// --check-config's trial start of the App: in a child process, exactly as a
// worker starts it (workers/app_start.h: load and construct it,
// OnWorkerStart(), a processor factory), then its exit hook. In a child,
// never in the master: a worker loads the App after fork, so an App that
// starts threads or opens connections in its constructor or start hook does
// so in a process that then goes. Runs in the master, before it serves.
#ifndef THRIFTD_SRC_APP_TRIAL_H_
#define THRIFTD_SRC_APP_TRIAL_H_

#include <optional>
#include <string>
#include <vector>

#include "src/base/credentials.h"
#include "src/base/listener_settings.h"
#include "src/base/status.h"
#include "src/base/worker_settings.h"

namespace thriftd {

/// Starts and stops the App of `settings` as worker 0 would (taking a
/// processor factory for each of `listeners`), in a child
/// process, and waits for it: at most `timeout` seconds when it is > 0, as
/// the master would before killing a worker that has not reported; the child
/// is then killed. On success *app_name is the App's name. The error is the
/// one line the worker would report ("App StartThrowsApp failed to start in
/// worker: ..."), or says how the child ended without one. With
/// `credentials` the child takes them on first, as a worker does.
Status TryApp(const WorkerSettings& settings, const std::vector<ListenerSettings>& listeners,
              double timeout, const std::optional<Credentials>& credentials, std::string* app_name);

}  // namespace thriftd

#endif  // THRIFTD_SRC_APP_TRIAL_H_
