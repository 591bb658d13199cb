// An App whose ProcessorFactory() returns nothing: a worker cannot serve
// with it, so thriftd must stop with one line (exit 1), and --check-config
// must say so before a start does.
#include <memory>

#include <thriftd/app.h>

namespace {

class NullFactoryApp : public thriftd::App {
 public:
  std::shared_ptr<apache::thrift::TProcessorFactory> ProcessorFactory() override {
    return nullptr;
  }
};

}  // namespace

THRIFTD_APP(NullFactoryApp)
