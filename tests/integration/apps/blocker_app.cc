// blocker_app: an App whose block(ms) holds its thread for ms milliseconds
// with std::this_thread::sleep_for. Under -k fiber that blocks the event loop
// (other connections wait), which the fiber watchdog must report by name
// ("Blocker.block"); under sync and thread it is an ordinary slow call.
// blockThenSleep(b, s) blocks b ms, then waits s ms with thriftd::sleep_for.
// With app_config exit_log=PATH, each worker appends "exit PID" to PATH in
// OnWorkerExit, for the tests that the hook runs on every kind of stop.
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include <thriftd/app.h>

#include "Blocker.h"

namespace {

class BlockerHandler : public blocker::BlockerIf {
 public:
  void ping(std::string& reply) override { reply = "pong"; }
  // On purpose not thriftd::sleep_for: this is the mistake the watchdog exists for.
  void block(int32_t ms) override { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }
  void blockThenSleep(int32_t block_ms, int32_t sleep_ms) override {
    block(block_ms);
    thriftd::sleep_for(std::chrono::milliseconds(sleep_ms));
  }
};

class BlockerApp : public thriftd::App {
 public:
  std::shared_ptr<apache::thrift::TProcessorFactory> ProcessorFactory() override {
    auto processor =
        std::make_shared<blocker::BlockerProcessor>(std::make_shared<BlockerHandler>());
    return std::make_shared<apache::thrift::TSingletonProcessorFactory>(processor);
  }
  void OnWorkerExit(const thriftd::AppContext& context) override {
    auto path = context.app_config.find("exit_log");
    if (path == context.app_config.end()) return;
    std::ofstream(path->second, std::ios::app) << "exit " << getpid() << "\n";
  }
};

}  // namespace

THRIFTD_APP(BlockerApp)
