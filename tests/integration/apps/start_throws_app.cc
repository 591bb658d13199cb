// An App whose OnWorkerStart() throws: thriftd must stop with its message
// (exit 1) instead of forking replacement workers in a loop.
#include <memory>
#include <stdexcept>

#include <thriftd/app.h>

namespace {

class StartThrowsApp : public thriftd::App {
 public:
  std::shared_ptr<apache::thrift::TProcessorFactory> ProcessorFactory() override {
    return nullptr;  // Never reached: OnWorkerStart() throws first.
  }
  void OnWorkerStart(const thriftd::AppContext& /*context*/) override {
    throw std::runtime_error("start_throws_app: cannot reach the database");
  }
};

}  // namespace

THRIFTD_APP(StartThrowsApp)
