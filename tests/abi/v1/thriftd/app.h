// A copy of include/thriftd/app.h as ABI version 1 laid it out (thriftd before
// several services), kept so that the tests build Apps against it and show
// that they still load and serve. Never edit it: it stands for objects
// already built.
// thriftd/app.h: what a service author implements so thriftd can serve it.
//
// A service is a class deriving thriftd::App, built into a shared object and
// exported with THRIFTD_APP(Class):
//
//   class PingPongApp : public thriftd::App {
//    public:
//     std::shared_ptr<apache::thrift::TProcessorFactory> ProcessorFactory() override {
//       return std::make_shared<PingPongProcessorFactory>(...);
//     }
//   };
//   THRIFTD_APP(PingPongApp)
//
// thriftd loads the object with dlopen() in each worker process after fork()
// (so a HUP picks up a replaced .so), constructs the App once per worker, calls
// OnWorkerStart(), then serves connections with processors from
// ProcessorFactory() until the worker stops, and calls OnWorkerExit().
#ifndef THRIFTD_APP_H_
#define THRIFTD_APP_H_

#include <dlfcn.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include <thrift/TProcessor.h>

namespace thriftd {

/// Bumped whenever App, AppContext or AppEntry change layout. thriftd refuses
/// an object built against another version, naming both.
inline constexpr std::uint32_t kAppAbiVersion = 1;

/// What a worker tells its App about where it runs. Valid for the worker's life.
struct AppContext {
  int worker_index = 0;  ///< 0 .. workers-1; stable across restarts of that slot.
  pid_t pid = 0;         ///< The worker process.
  /// `app_config` from the config file and `--app-config KEY=VALUE` flags.
  std::map<std::string, std::string> app_config;
};

/// A Thrift service as thriftd serves it. Runs in a worker process; one App
/// object per worker. Exceptions thrown from the constructor or
/// OnWorkerStart() stop thriftd with their what() as the error.
class App {
 public:
  virtual ~App() = default;

  /// The processors that serve connections. Called once per worker, after
  /// OnWorkerStart(). The factory is asked for a processor per connection.
  virtual std::shared_ptr<apache::thrift::TProcessorFactory> ProcessorFactory() = 0;

  /// After fork, before serving: open database connections and the like here.
  virtual void OnWorkerStart(const AppContext& /*context*/) {}

  /// When the worker stops serving, before it exits. After a graceful stop
  /// (TERM, a reload): once its calls have finished. After a quick stop (INT,
  /// QUIT): as soon as the worker's main thread is out of the handler it may
  /// be running (under `sync` the one call; under `thread` the main thread is
  /// one of the pool's), while calls may still be running on other threads
  /// or parked in fibers. The process ends one second after the first INT or
  /// QUIT whatever it is doing, this hook included.
  virtual void OnWorkerExit(const AppContext& /*context*/) {}
};

/// Waits `duration` without blocking other connections: under the `fiber`
/// worker it parks the calling fiber (the loop serves other connections
/// meanwhile); elsewhere (sync, thread, or outside thriftd) it is
/// std::this_thread::sleep_for. Use it instead of a blocking sleep in
/// handlers that may run under `fiber`.
inline void sleep_for(std::chrono::milliseconds duration) {
  // Looked up at run time, so an App also links and runs outside thriftd.
  using Hook = bool (*)(std::int64_t);
  static const Hook hook = reinterpret_cast<Hook>(dlsym(RTLD_DEFAULT, "thriftd_fiber_sleep"));
  if (hook != nullptr && hook(duration.count())) return;
  std::this_thread::sleep_for(duration);
}

/// Lets the other connections of a fiber worker run before continuing; a
/// no-op elsewhere.
inline void yield() { sleep_for(std::chrono::milliseconds(0)); }

/// The exported entry point. abi_version is the first member so that a
/// mismatch is detectable whatever else changed.
struct AppEntry {
  std::uint32_t abi_version;
  const char* name;
  App* (*create)();
};

}  // namespace thriftd

/// Exports Class as an App. The entry is found as `PATH.so:Class`, and a
/// plain `PATH.so` finds it too (when an object exports several Apps, name
/// the one you want: without a name the first one linked is used).
#define THRIFTD_APP(Class)                                                                 \
  extern "C" __attribute__((visibility("default")))                                        \
  const ::thriftd::AppEntry thriftd_app_##Class = {                                        \
      ::thriftd::kAppAbiVersion, #Class, []() -> ::thriftd::App* { return new Class(); }}; \
  extern "C" __attribute__((visibility("default"), weak))                                  \
  const ::thriftd::AppEntry* const thriftd_app_default = &thriftd_app_##Class;

#endif  // THRIFTD_APP_H_
