// What the test Apps share: an App that hands out a processor answering
// nothing. The loader tests only look at the App, never serve with it.
#ifndef THRIFTD_TESTS_UNIT_APPS_TEST_APP_H_
#define THRIFTD_TESTS_UNIT_APPS_TEST_APP_H_

#include <memory>

#include "thriftd/app.h"

namespace thriftd_test {

class NullProcessor : public apache::thrift::TProcessor {
 public:
  using apache::thrift::TProcessor::process;
  bool process(std::shared_ptr<apache::thrift::protocol::TProtocol> /*in*/,
               std::shared_ptr<apache::thrift::protocol::TProtocol> /*out*/,
               void* /*connection_context*/) override {
    return false;
  }
};

class TestApp : public thriftd::App {
 public:
  std::shared_ptr<apache::thrift::TProcessorFactory> ProcessorFactory() override {
    return std::make_shared<apache::thrift::TSingletonProcessorFactory>(
        std::make_shared<NullProcessor>());
  }
};

}  // namespace thriftd_test

#endif  // THRIFTD_TESTS_UNIT_APPS_TEST_APP_H_
