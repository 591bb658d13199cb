// An App built against ABI version 1's header (tests/abi/v1): an object
// built before several services existed, which thriftd must still load
// without asking it for Services().
#include <memory>

#include "thriftd/app.h"

namespace {

class NullProcessor : public apache::thrift::TProcessor {
 public:
  using apache::thrift::TProcessor::process;
  bool process(std::shared_ptr<apache::thrift::protocol::TProtocol> /*in*/,
               std::shared_ptr<apache::thrift::protocol::TProtocol> /*out*/,
               void* /*connection_context*/) override {
    return false;
  }
};

static_assert(thriftd::kAppAbiVersion == 1, "built against the old header");

class OldApp : public thriftd::App {
 public:
  std::shared_ptr<apache::thrift::TProcessorFactory> ProcessorFactory() override {
    return std::make_shared<apache::thrift::TSingletonProcessorFactory>(
        std::make_shared<NullProcessor>());
  }
};

}  // namespace

THRIFTD_APP(OldApp)
