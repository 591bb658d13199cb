// An App whose OnWorkerStart() never returns (a database that never
// answers, and no timeout): --check-config gives up after `timeout`, as the
// master would kill the worker.
#include <unistd.h>

#include <memory>

#include <thriftd/app.h>

namespace {

class StartHangsApp : public thriftd::App {
 public:
  std::shared_ptr<apache::thrift::TProcessorFactory> ProcessorFactory() override {
    return nullptr;  // Never reached.
  }
  void OnWorkerStart(const thriftd::AppContext& /*context*/) override {
    for (;;) pause();
  }
};

}  // namespace

THRIFTD_APP(StartHangsApp)
