// pingpong: the smallest thriftd App, and the one the README walks through.
#include <chrono>
#include <memory>
#include <string>

#include <thriftd/app.h>

#include "PingPong.h"

namespace {

/// Stateless, so one handler serves every connection and thread.
class PingPongHandler : public pingpong::PingPongIf {
 public:
  void ping(std::string& reply) override { reply = "pong"; }
  int32_t add(int32_t a, int32_t b) override { return a + b; }
  void echo(std::string& reply, const std::string& data) override { reply = data; }
  // Fiber-aware: under -k fiber other connections are served meanwhile.
  void sleep(int32_t ms) override { thriftd::sleep_for(std::chrono::milliseconds(ms)); }
};

class PingPongApp : public thriftd::App {
 public:
  std::shared_ptr<apache::thrift::TProcessorFactory> ProcessorFactory() override {
    auto processor =
        std::make_shared<pingpong::PingPongProcessor>(std::make_shared<PingPongHandler>());
    return std::make_shared<apache::thrift::TSingletonProcessorFactory>(processor);
  }
};

}  // namespace

THRIFTD_APP(PingPongApp)
