// Services: which of the App's services a connection is served by. An App
// has a default service (App::ProcessorFactory()) and named ones
// (App::Services()); the `service` and `multiplexed` settings choose among
// them, and ResolveProcessorFactory turns that choice into the processor
// factory connections take their processors from. Named services tag each
// call with their name (ServiceTag), so the metrics, the access log, the
// watchdog and the hang report name the service a call went to, multiplexed
// or not. Runs in a worker (and in --check-config's trial start).
#ifndef THRIFTD_WORKERS_SERVICES_H_
#define THRIFTD_WORKERS_SERVICES_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <thrift/TProcessor.h>

#include "src/base/listener_settings.h"
#include "src/base/status.h"
#include "thriftd/app.h"

namespace thriftd {

/// What a listener serves: `service` ("" for the App's default service)
/// and `multiplexed`.
struct ServiceChoice {
  std::string service;
  bool multiplexed = false;
};

/// The choice a listener's settings make (its bind entry's own, else the
/// global rows).
ServiceChoice ServiceChoiceOf(const ListenerSettings& settings);

/// The App's services, as the worker took them after OnWorkerStart().
struct AppServices {
  std::string app_name;  ///< for errors: "App KvApp ..."
  std::shared_ptr<apache::thrift::TProcessorFactory> default_service;  ///< null: none
  ServiceMap named;
};

/// Checks the names the App exports: each non-empty, without ':' (the
/// multiplexed separator), with a factory. "App NAME exports ...".
Status CheckAppServices(const AppServices& services);

class ServiceTag;

/// What a listener's connections are served by.
struct ResolvedService {
  std::shared_ptr<apache::thrift::TProcessorFactory> factory;
  /// A single named service's tag: every call on the listener is that
  /// service's. Null for the default service, and when multiplexed (the
  /// dispatcher tags each call as it routes it).
  std::shared_ptr<const ServiceTag> tag;
};

/// What connections use for `choice`:
/// - not multiplexed, no service: the default service; an App without one
///   but with exactly one named service serves that one;
/// - not multiplexed, `service`: that named service (its own factory, and
///   its tag);
/// - multiplexed: every named service under its name (as Apache Thrift's
///   TMultiplexedProcessor does), and for clients that name none, `service`
///   when set, else the default service if the App has one.
/// Errors name the service asked for and the ones the App has:
/// "App KvApp has no service \"kv2\" (its services: admin, kv)".
Status ResolveProcessorFactory(const AppServices& services, const ServiceChoice& choice,
                               ResolvedService* resolved);

/// A named service, as its calls are recorded: the processor's
/// "Service.method" becomes "NAME:Service.method". Lives as long as the
/// processor factory that made it (the worker's life).
class ServiceTag {
 public:
  explicit ServiceTag(std::string name);
  ServiceTag(const ServiceTag&) = delete;
  ServiceTag& operator=(const ServiceTag&) = delete;

  const std::string& name() const { return name_; }
  /// "NAME:fn_name" for a processor's literal fn_name, as a string that
  /// stays put for the tag's life (the watchdog, the hang report and the
  /// method counters keep the pointer). Thread-safe; on a call's path:
  /// each thread takes the lock once per method, not per call.
  const char* Qualify(const char* fn_name) const;

 private:
  std::string name_;
  std::uint64_t serial_;  // tells tags apart in the threads' caches (an address may be reused)
  mutable std::mutex mutex_;
  // Keyed by the literal's address; unordered_map never moves its values.
  mutable std::unordered_map<const char*, std::string> qualified_;
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_SERVICES_H_
