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
// ProcessorFactory() (or Services(), for an App with several services) until
// the worker stops, and calls OnWorkerExit().
//
// Several services: an App may export named services instead of (or beside)
// its default one:
//
//   thriftd::ServiceMap Services() override {
//     return {{"kv", std::make_shared<KeyValueProcessorFactory>(...)},
//             {"admin", std::make_shared<AdminProcessorFactory>(...)}};
//   }
//
// `service: kv` serves one of them; `multiplexed: true` serves all of them on
// one listener, under their names, to Apache Thrift's TMultiplexedProtocol
// clients (the default service, if any, answers clients that name none).
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
/// an object built against another version, naming both, except the versions
/// it still loads (kOldestAppAbiVersion and up). Version 2 added Services()
/// at the end of App's virtual functions (a version 1 App is never asked for
/// it) and the registration THRIFTD_APP makes (AppEntryLink); version 1 Apps
/// export their entries as `thriftd_app_NAME` symbols, which still load.
inline constexpr std::uint32_t kAppAbiVersion = 2;
inline constexpr std::uint32_t kOldestAppAbiVersion = 1;

/// What a worker tells its App about where it runs. Valid for the worker's life.
struct AppContext {
  int worker_index = 0;  ///< 0 .. workers-1; stable across restarts of that slot.
  pid_t pid = 0;         ///< The worker process.
  /// `app_config` from the config file and `--app-config KEY=VALUE` flags.
  std::map<std::string, std::string> app_config;
};

/// An App's named services: name -> the factory of its processors. A name
/// is what `service:` and a multiplexed client (TMultiplexedProtocol) say;
/// it may not be empty or hold ':' (the multiplexed separator).
using ServiceMap = std::map<std::string, std::shared_ptr<apache::thrift::TProcessorFactory>>;

/// A Thrift service as thriftd serves it. Runs in a worker process; one App
/// object per worker. Exceptions thrown from the constructor or
/// OnWorkerStart() stop thriftd with their what() as the error.
class App {
 public:
  virtual ~App() = default;

  /// The App's default service: the processors that serve connections when
  /// no `service` is set. Called once per worker, after OnWorkerStart(). The
  /// factory is asked for a processor per connection. An App that exports
  /// only named services (Services()) leaves it: null means none.
  virtual std::shared_ptr<apache::thrift::TProcessorFactory> ProcessorFactory() { return nullptr; }

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

  /// ABI version 2: the App's named services (ServiceMap). Called once per
  /// worker, after OnWorkerStart() and ProcessorFactory(). Declared last, so
  /// that a version 1 App's virtual functions keep their places.
  virtual ServiceMap Services() { return {}; }
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

/// An App's entry. abi_version is the first member so that a mismatch is
/// detectable whatever else changed.
struct AppEntry {
  std::uint32_t abi_version;
  const char* name;  ///< the class as THRIFTD_APP names it: "KvApp", "svc::KvApp"
  App* (*create)();
};

/// The Apps a shared object registered with THRIFTD_APP, in the order they
/// were constructed (link order, then order in the source file).
struct AppEntryLink {
  const AppEntry* entry;
  AppEntryLink* next;
};

namespace internal {

// This object's list. Hidden: every shared object (and thriftd itself) has
// its own, shared by all its source files; constant-initialized, so ready
// before any registration runs.
inline AppEntryLink* app_list_head __attribute__((visibility("hidden"))) = nullptr;
inline AppEntryLink** app_list_tail __attribute__((visibility("hidden"))) = &app_list_head;

/// What THRIFTD_APP defines: an entry, added to the list as the object loads.
class AppRegistration {
 public:
  AppRegistration(const char* name, App* (*create)())
      : entry_{kAppAbiVersion, name, create}, link_{&entry_, nullptr} {
    *app_list_tail = &link_;
    app_list_tail = &link_.next;
  }
  AppRegistration(const AppRegistration&) = delete;
  AppRegistration& operator=(const AppRegistration&) = delete;

 private:
  AppEntry entry_;
  AppEntryLink link_;
};

}  // namespace internal
}  // namespace thriftd

/// What thriftd looks up in a loaded object (ABI 2): its list of Apps. Found
/// with dlsym() on the object's own handle, so each object answers for
/// itself; `used`, so every object that includes this header exports it.
extern "C" inline __attribute__((visibility("default"), used)) const ::thriftd::AppEntryLink*
thriftd_app_list() {
  return ::thriftd::internal::app_list_head;
}

#define THRIFTD_APP_CONCAT_INNER(a, b) a##b
#define THRIFTD_APP_CONCAT(a, b) THRIFTD_APP_CONCAT_INNER(a, b)

/// Exports Class as an App. Class may be namespaced (`svc::KvApp`), and one
/// source file may export several. The App is found as `PATH.so:NAME`, NAME
/// being Class as written here (`lib.so:svc::KvApp`), and a plain `PATH.so`
/// finds the first App registered (name the one you want when an object
/// exports several). Use it at namespace scope.
#define THRIFTD_APP(Class)                                                                      \
  namespace {                                                                                   \
  const ::thriftd::internal::AppRegistration THRIFTD_APP_CONCAT(                                \
      thriftd_app_registration_, __COUNTER__)(#Class,                                           \
                                              []() -> ::thriftd::App* { return new Class(); }); \
  }

#endif  // THRIFTD_APP_H_
