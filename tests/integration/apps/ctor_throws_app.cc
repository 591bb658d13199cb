// An App whose constructor throws: loading it fails with the App's message.
#include <memory>
#include <stdexcept>

#include <thriftd/app.h>

namespace {

class CtorThrowsApp : public thriftd::App {
 public:
  CtorThrowsApp() { throw std::runtime_error("ctor_throws_app: missing license key"); }
  std::shared_ptr<apache::thrift::TProcessorFactory> ProcessorFactory() override { return nullptr; }
};

}  // namespace

THRIFTD_APP(CtorThrowsApp)
