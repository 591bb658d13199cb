// ResolveProcessorFactory: which factory each `service` / `multiplexed`
// choice gives, and the boot errors naming what the App has. The calls
// through the factories it makes are tested end to end in
// tests/integration/test_services.py.
#include "workers/services.h"

#include <doctest/doctest.h>

#include <cstring>
#include <memory>
#include <string>

namespace thriftd {
namespace {

using apache::thrift::TProcessorFactory;

class NullProcessor : public apache::thrift::TProcessor {
 public:
  bool process(std::shared_ptr<apache::thrift::protocol::TProtocol> /*in*/,
               std::shared_ptr<apache::thrift::protocol::TProtocol> /*out*/,
               void* /*connection_context*/) override {
    return false;
  }
};

std::shared_ptr<TProcessorFactory> Factory() {
  return std::make_shared<apache::thrift::TSingletonProcessorFactory>(
      std::make_shared<NullProcessor>());
}

AppServices Services(bool with_default, std::initializer_list<const char*> names) {
  AppServices services;
  services.app_name = "svc::KvApp";
  if (with_default) services.default_service = Factory();
  for (const char* name : names) services.named[name] = Factory();
  return services;
}

std::string ResolveError(const AppServices& services, const ServiceChoice& choice) {
  ResolvedService resolved;
  Status status = ResolveProcessorFactory(services, choice, &resolved);
  if (status.ok()) return "resolved";
  CHECK(resolved.factory == nullptr);
  return status.message();
}

TEST_CASE("without service, the App's default service is served by its own factory, untagged") {
  AppServices services = Services(true, {"kv"});
  ResolvedService resolved;
  REQUIRE(ResolveProcessorFactory(services, {}, &resolved).ok());
  CHECK(resolved.factory == services.default_service);
  CHECK(resolved.tag == nullptr);
}

TEST_CASE(
    "a named service, or the only one of an App without a default, is its own factory, "
    "tagged") {
  AppServices services = Services(false, {"kv"});
  ResolvedService only, named;
  REQUIRE(ResolveProcessorFactory(services, {}, &only).ok());
  REQUIRE(ResolveProcessorFactory(services, {"kv", false}, &named).ok());
  // No dispatcher in between: the connection tags each call itself.
  for (const ResolvedService* resolved : {&only, &named}) {
    CHECK(resolved->factory == services.named["kv"]);
    REQUIRE(resolved->tag != nullptr);
    CHECK(resolved->tag->name() == "kv");
  }
}

TEST_CASE("multiplexed, connections get thriftd's dispatcher, which tags each call itself") {
  AppServices services = Services(true, {"kv", "admin"});
  for (const char* plain : {"", "kv"}) {
    ResolvedService resolved;
    REQUIRE(ResolveProcessorFactory(services, {plain, true}, &resolved).ok());
    REQUIRE(resolved.factory != nullptr);
    CHECK(resolved.factory != services.default_service);
    CHECK(resolved.factory != services.named["kv"]);
    CHECK(resolved.factory != services.named["admin"]);
    CHECK(resolved.tag == nullptr);
  }
}

TEST_CASE("an unknown service names the services the App has") {
  CHECK(ResolveError(Services(true, {"kv", "admin"}), {"kvv", false}) ==
        "App svc::KvApp has no service \"kvv\" (its services: admin, kv)");
  CHECK(ResolveError(Services(true, {"kv"}), {"kvv", true}) ==
        "App svc::KvApp has no service \"kvv\" (its services: kv)");
  CHECK(ResolveError(Services(true, {}), {"kv", false}) ==
        "App svc::KvApp has no service \"kv\" (it exports only its default service)");
}

TEST_CASE("an App with several named services and no default must be told which") {
  CHECK(ResolveError(Services(false, {"kv", "admin"}), {}) ==
        "App svc::KvApp has no default service: set service to one of admin, kv, or "
        "multiplexed");
  CHECK(ResolveError(Services(false, {}), {}) == "App svc::KvApp returned no processor factory");
}

TEST_CASE("multiplexed needs named services") {
  CHECK(ResolveError(Services(true, {}), {"", true}) ==
        "App svc::KvApp exports no named services to multiplex (App::Services() is empty)");
  CHECK(ResolveError(Services(false, {"kv", "admin"}), {"", true}) == "resolved");
  CHECK(ResolveError(Services(false, {"kv", "admin"}), {"kv", true}) == "resolved");
}

TEST_CASE("the App's service names are checked: not empty, no ':', a factory each") {
  CHECK(CheckAppServices(Services(true, {"kv", "admin"})).ok());
  CHECK(CheckAppServices(Services(true, {""})).message() ==
        "App svc::KvApp exports a service with an empty name");
  CHECK(CheckAppServices(Services(true, {"a:b"})).message() ==
        "App svc::KvApp exports service \"a:b\": a name may not hold ':' (the multiplexed "
        "separator)");
  AppServices null_factory = Services(true, {});
  null_factory.named["kv"] = nullptr;
  CHECK(CheckAppServices(null_factory).message() ==
        "App svc::KvApp exports service \"kv\" with no processor factory");
}

TEST_CASE("a service tag qualifies a method once, at a stable address") {
  ServiceTag tag("kv");
  static const char kGet[] = "KeyValue.get";
  const char* first = tag.Qualify(kGet);
  CHECK(std::strcmp(first, "kv:KeyValue.get") == 0);
  CHECK(tag.Qualify(kGet) == first);
  CHECK(std::strcmp(tag.Qualify("KeyValue.set"), "kv:KeyValue.set") == 0);
  CHECK(tag.Qualify(kGet) == first);
}

TEST_CASE("a tag made where another was qualifies with its own name (the threads' caches)") {
  static const char kGet[] = "KeyValue.get";
  for (const char* name : {"kv", "admin", "kv2"}) {
    // Each made, used and destroyed in turn: the next may well take its address.
    ServiceTag tag(name);
    CHECK(std::string(tag.Qualify(kGet)) == std::string(name) + ":KeyValue.get");
  }
}

}  // namespace
}  // namespace thriftd
