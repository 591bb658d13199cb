// everything_app: the Everything service (apps/everything.thrift), whose
// methods echo every Thrift type back, for `thriftd call`'s round trips.
// With app_config multiplexed=NAME it serves the service inside a
// TMultiplexedProcessor under NAME, as a multiplexed server would.
#include <atomic>
#include <memory>
#include <string>

#include <thrift/processor/TMultiplexedProcessor.h>
#include <thriftd/app.h>

#include "Everything.h"

namespace {

using everything::AllTypes;
using everything::Choice;
using everything_shared::Point;

class EverythingHandler : public everything::EverythingIf {
 public:
  void ping(std::string& reply) override { reply = "pong"; }
  void echoAll(AllTypes& reply, const AllTypes& value) override { reply = value; }
  bool echoBool(const bool value) override { return value; }
  int8_t echoByte(const int8_t value) override { return value; }
  int16_t echoI16(const int16_t value) override { return value; }
  int32_t echoI32(const int32_t value) override { return value; }
  int64_t echoI64(const int64_t value) override { return value; }
  double echoDouble(const double value) override { return value; }
  void echoString(std::string& reply, const std::string& value) override { reply = value; }
  void echoBinary(std::string& reply, const std::string& value) override { reply = value; }
  everything::Color::type echoEnum(const everything::Color::type value) override { return value; }
  everything::UserId echoTypedef(const everything::UserId value) override { return value; }
  void echoUnion(Choice& reply, const Choice& value) override { reply = value; }
  void echoList(std::vector<Point>& reply, const std::vector<Point>& value) override {
    reply = value;
  }
  void echoSet(std::set<int64_t>& reply, const std::set<int64_t>& value) override { reply = value; }
  void echoMap(std::map<int32_t, std::string>& reply,
               const std::map<int32_t, std::string>& value) override {
    reply = value;
  }
  int32_t add(const int32_t a, const int32_t b) override { return a + b; }
  void nothing() override {}
  void fail(const int32_t code, const std::string& message) override {
    if (code == 0) return;
    everything::Oops oops;
    oops.code = code;
    oops.message = message;
    throw oops;
  }
  void fire(const std::string&) override { ++fired_; }
  int32_t fired() override { return fired_.load(); }

 private:
  std::atomic<int32_t> fired_{0};
};

class EverythingApp : public thriftd::App {
 public:
  std::shared_ptr<apache::thrift::TProcessorFactory> ProcessorFactory() override {
    std::shared_ptr<apache::thrift::TProcessor> processor =
        std::make_shared<everything::EverythingProcessor>(handler_);
    if (!multiplexed_.empty()) {
      auto multiplexer = std::make_shared<apache::thrift::TMultiplexedProcessor>();
      multiplexer->registerProcessor(multiplexed_, processor);
      processor = multiplexer;
    }
    return std::make_shared<apache::thrift::TSingletonProcessorFactory>(processor);
  }
  void OnWorkerStart(const thriftd::AppContext& context) override {
    auto name = context.app_config.find("multiplexed");
    if (name != context.app_config.end()) multiplexed_ = name->second;
  }

 private:
  std::shared_ptr<EverythingHandler> handler_ = std::make_shared<EverythingHandler>();
  std::string multiplexed_;
};

}  // namespace

THRIFTD_APP(EverythingApp)
