#include "workers/services.h"

#include <atomic>
#include <functional>
#include <map>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

#include <thrift/TApplicationException.h>
#include <thrift/processor/TMultiplexedProcessor.h>
#include <thrift/protocol/TProtocolException.h>

#include "workers/call_observer.h"
#include "workers/connection.h"

namespace thriftd {

using apache::thrift::TApplicationException;
using apache::thrift::TConnectionInfo;
using apache::thrift::TProcessor;
using apache::thrift::TProcessorFactory;
using apache::thrift::protocol::StoredMessageProtocol;
using apache::thrift::protocol::TMessageType;
using apache::thrift::protocol::TProtocol;
using apache::thrift::protocol::TProtocolException;

namespace {

// A processor the App made, for one service, with thriftd's observer on it.
struct Route {
  const ServiceTag* tag = nullptr;  // null: the default service, named by its IDL
  std::shared_ptr<TProcessor> processor;
};

// One multiplexed connection's processor: routes each call by the
// "service:method" name the client sent, as TMultiplexedProcessor does, and
// tags it with its service. Unlike TMultiplexedProcessor (which throws, and
// the connection was closed) an unknown service is answered with a
// TApplicationException and the connection stays open, as an unknown
// method is.
class ServiceDispatcher final : public TProcessor {
 public:
  // `plain`: the route of calls that name no service (no processor: refused).
  ServiceDispatcher(std::map<std::string, Route, std::less<>> routes, Route plain)
      : routes_(std::move(routes)), plain_(std::move(plain)) {}

  bool process(std::shared_ptr<TProtocol> in, std::shared_ptr<TProtocol> out,
               void* connection_context) override {
    auto* connection = static_cast<Connection*>(connection_context);
    std::string name;
    TMessageType type;
    std::int32_t seqid = 0;
    in->readMessageBegin(name, type, seqid);
    if (type != apache::thrift::protocol::T_CALL && type != apache::thrift::protocol::T_ONEWAY) {
      throw TProtocolException(TProtocolException::INVALID_DATA,
                               "a multiplexed listener got a message that is not a call");
    }
    const Route* route = nullptr;
    std::string method;
    std::size_t colon = name.find(':');
    if (colon == std::string::npos) {
      route = plain_.processor ? &plain_ : nullptr;
      method = name;
    } else {
      auto found = routes_.find(std::string_view(name).substr(0, colon));
      if (found != routes_.end()) route = &found->second;
      method = name.substr(colon + 1);
    }
    connection->SetService(route != nullptr ? route->tag : nullptr);
    if (route == nullptr) {
      Refuse(*in, *out, name, type, seqid,
             colon == std::string::npos
                 ? "Non-multiplexed call '" + name + "': this listener is multiplexed"
                 : "Unknown service: '" + name.substr(0, colon) + "'");
      return true;
    }
    return route->processor->process(
        std::make_shared<StoredMessageProtocol>(in, method, type, seqid), out, connection_context);
  }

 private:
  static void Refuse(TProtocol& in, TProtocol& out, const std::string& name, TMessageType type,
                     std::int32_t seqid, const std::string& why) {
    in.skip(apache::thrift::protocol::T_STRUCT);
    in.readMessageEnd();
    in.getTransport()->readEnd();
    if (type == apache::thrift::protocol::T_ONEWAY) return;  // nobody waits for an answer
    TApplicationException error(TApplicationException::UNKNOWN_METHOD, why);
    out.writeMessageBegin(name, apache::thrift::protocol::T_EXCEPTION, seqid);
    error.write(&out);
    out.writeMessageEnd();
    out.getTransport()->writeEnd();
    out.getTransport()->flush();
  }

  const std::map<std::string, Route, std::less<>> routes_;
  const Route plain_;
};

// A named service as the factory keeps it.
struct Source {
  std::shared_ptr<ServiceTag> tag;
  std::shared_ptr<TProcessorFactory> factory;
};

class MultiplexedProcessorFactory final : public TProcessorFactory {
 public:
  // `plain_service`: the named service that answers calls naming none ("":
  // `default_service`, which may be null: such calls are refused).
  MultiplexedProcessorFactory(std::vector<Source> named, std::string plain_service,
                              std::shared_ptr<TProcessorFactory> default_service)
      : named_(std::move(named)),
        plain_service_(std::move(plain_service)),
        default_service_(std::move(default_service)) {}

  std::shared_ptr<TProcessor> getProcessor(const TConnectionInfo& info) override {
    std::map<std::string, Route, std::less<>> routes;
    for (const Source& source : named_)
      routes.emplace(source.tag->name(), Open(source.tag.get(), *source.factory, info));
    // A named service answering plain calls is the same route (one
    // processor, one tag), not a second one.
    Route plain = !plain_service_.empty() ? routes.at(plain_service_)
                  : default_service_      ? Open(nullptr, *default_service_, info)
                                          : Route{};
    return std::make_shared<ServiceDispatcher>(std::move(routes), std::move(plain));
  }

 private:
  static Route Open(const ServiceTag* tag, TProcessorFactory& factory,
                    const TConnectionInfo& info) {
    std::shared_ptr<TProcessor> processor = factory.getProcessor(info);
    if (!processor) throw std::runtime_error("a service's processor factory returned nothing");
    // The observer goes on the service's own processor: the dispatcher's
    // event handler would never be called (Connection attaches none to it).
    CallObserver::Attach(*processor);
    return Route{tag, std::move(processor)};
  }

  const std::vector<Source> named_;
  const std::string plain_service_;
  const std::shared_ptr<TProcessorFactory> default_service_;
};

std::string NamesOf(const ServiceMap& named) {
  std::string names;
  for (const auto& [name, factory] : named) names += (names.empty() ? "" : ", ") + name;
  return names;
}

}  // namespace

ServiceChoice ServiceChoiceOf(const ListenerSettings& settings) {
  return ServiceChoice{settings.service, settings.multiplexed};
}

Status CheckAppServices(const AppServices& services) {
  for (const auto& [name, factory] : services.named) {
    std::string prefix = "App " + services.app_name + " exports ";
    if (name.empty()) return Status::Error(prefix + "a service with an empty name");
    if (name.find(':') != std::string::npos) {
      return Status::Error(prefix + "service \"" + name +
                           "\": a name may not hold ':' (the multiplexed separator)");
    }
    if (!factory)
      return Status::Error(prefix + "service \"" + name + "\" with no processor factory");
  }
  return Status::Ok();
}

Status ResolveProcessorFactory(const AppServices& services, const ServiceChoice& choice,
                               ResolvedService* resolved) {
  const std::string app = "App " + services.app_name;
  if (!choice.service.empty() && services.named.count(choice.service) == 0) {
    return Status::Error(app + " has no service \"" + choice.service + "\" (" +
                         (services.named.empty() ? "it exports only its default service"
                                                 : "its services: " + NamesOf(services.named)) +
                         ")");
  }
  if (choice.multiplexed) {
    if (services.named.empty()) {
      return Status::Error(app +
                           " exports no named services to multiplex (App::Services() is empty)");
    }
    std::vector<Source> all;
    for (const auto& [name, factory] : services.named)
      all.push_back(Source{std::make_shared<ServiceTag>(name), factory});
    *resolved = ResolvedService{std::make_shared<MultiplexedProcessorFactory>(
                                    std::move(all), choice.service, services.default_service),
                                nullptr};
    return Status::Ok();
  }
  // One service for the whole listener: the App's own factory, tagged once.
  auto named = [&](const std::string& name) {
    return ResolvedService{services.named.at(name), std::make_shared<ServiceTag>(name)};
  };
  if (!choice.service.empty()) {
    *resolved = named(choice.service);
    return Status::Ok();
  }
  if (services.default_service) {
    *resolved = ResolvedService{services.default_service, nullptr};
    return Status::Ok();
  }
  if (services.named.empty()) return Status::Error(app + " returned no processor factory");
  if (services.named.size() == 1) {
    *resolved = named(services.named.begin()->first);
    return Status::Ok();
  }
  return Status::Error(app + " has no default service: set service to one of " +
                       NamesOf(services.named) + ", or multiplexed");
}

namespace {
std::atomic<std::uint64_t> tags_made{0};
}  // namespace

ServiceTag::ServiceTag(std::string name)
    : name_(std::move(name)), serial_(tags_made.fetch_add(1, std::memory_order_relaxed) + 1) {}

const char* ServiceTag::Qualify(const char* fn_name) const {
  // Processors name methods with string literals: (tag, literal) is a
  // stable key, so each thread looks a method up under the lock once, as
  // WorkerRuntime::StatsFor does for the counters.
  thread_local std::map<std::pair<std::uint64_t, const char*>, const char*> cache;
  auto key = std::make_pair(serial_, fn_name);
  auto cached = cache.find(key);
  if (cached != cache.end()) return cached->second;
  const char* qualified = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto [at, added] = qualified_.try_emplace(fn_name);
    if (added) at->second = name_ + ":" + fn_name;
    qualified = at->second.c_str();
  }
  cache.emplace(key, qualified);
  return qualified;
}

}  // namespace thriftd
