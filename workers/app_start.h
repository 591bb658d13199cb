// Starting and stopping the App as a worker does: load and construct it,
// OnWorkerStart(), its processor factory; OnWorkerExit(). One sequence for a
// worker (workers/worker_process.cc) and for --check-config's trial start
// (src/app_trial.h), so the check fails exactly where a worker would.
#ifndef THRIFTD_WORKERS_APP_START_H_
#define THRIFTD_WORKERS_APP_START_H_

#include <memory>
#include <vector>

#include <thrift/TProcessor.h>

#include "src/base/app_loader.h"
#include "src/base/listener_settings.h"
#include "src/base/status.h"
#include "src/base/worker_settings.h"
#include "thriftd/app.h"
#include "workers/services.h"

namespace thriftd {

/// The App, started in this process.
struct StartedApp {
  LoadedApp loaded;
  AppContext context;
  /// What each listener's connections are served by, in the order of the
  /// listeners given to StartApp (listeners with the same service settings
  /// share one).
  std::vector<ResolvedService> services;
};

/// Loads `settings.app` (PATH.so[:NAME]), runs OnWorkerStart() with the
/// context of worker `worker_index` (this process's pid, `settings.app_config`)
/// and takes its processor factory. Each failure is the one line a worker
/// reports: LoadApp's, "App NAME failed to start in worker: what()" (the
/// hook, ProcessorFactory() or Services() threw), "App NAME returned no
/// processor factory", or the `service` / `multiplexed` settings naming
/// what the App does not have (workers/services.h), naming the listener when
/// there are several. One factory per listener of `listeners` (each one's
/// `service` and `multiplexed` settings choose it). With `preloaded` (preload_app: loaded and
/// constructed in the master before fork), this process's copy of it is taken over instead of
/// loading: OnWorkerStart and the factory still run here, per worker.
Status StartApp(const WorkerSettings& settings, const std::vector<ListenerSettings>& listeners,
                int worker_index, StartedApp* app, LoadedApp* preloaded = nullptr);

/// Runs the App's OnWorkerExit(). An exception from it is the error ("App
/// NAME worker exit hook threw: what()"): the worker is done either way.
Status StopApp(StartedApp& app);

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_APP_START_H_
