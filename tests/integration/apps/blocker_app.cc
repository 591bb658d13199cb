// blocker_app: an App whose block(ms) holds its thread for ms milliseconds
// with std::this_thread::sleep_for. Under -k fiber that blocks the event loop
// (other connections wait), which the fiber watchdog must report by name
// ("Blocker.block"); under sync and thread it is an ordinary slow call.
// blockThenSleep(b, s) blocks b ms, then waits s ms with thriftd::sleep_for.
// With app_config exit_log=PATH, each worker appends "exit PID" to PATH in
// OnWorkerExit, for the tests that the hook runs on every kind of stop.
// With app_config fail_start_if=PATH, OnWorkerStart throws while PATH
// exists: a replacement worker that cannot start (a database gone, say).
// With orphan_done=PATH, OnWorkerStart leaves an orphan behind (a grandchild
// whose parent exits at once) that touches PATH and exits: as PID 1,
// thriftd adopts and must reap it.
// The same service is also exported by name, as "slow", so that
// `--multiplexed` serves it to TMultiplexedProtocol clients (and plain
// clients still reach it as the default service).
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include <chrono>
#include <fstream>
#include <memory>
#include <stdexcept>
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

// Forks a child that forks the orphan and exits; the orphan touches
// `done` and exits. The child is reaped here, so only the orphan is left.
void LeaveOrphan(const std::string& done) {
  pid_t child = fork();
  if (child < 0) throw std::runtime_error("blocker_app: fork failed");
  if (child == 0) {
    if (fork() == 0) {
      std::ofstream(done) << "orphan " << getpid() << "\n";
      _exit(0);
    }
    _exit(0);
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
}

class BlockerApp : public thriftd::App {
 public:
  std::shared_ptr<apache::thrift::TProcessorFactory> ProcessorFactory() override {
    auto processor =
        std::make_shared<blocker::BlockerProcessor>(std::make_shared<BlockerHandler>());
    return std::make_shared<apache::thrift::TSingletonProcessorFactory>(processor);
  }
  thriftd::ServiceMap Services() override { return {{"slow", ProcessorFactory()}}; }
  void OnWorkerStart(const thriftd::AppContext& context) override {
    auto done = context.app_config.find("orphan_done");
    if (done != context.app_config.end()) LeaveOrphan(done->second);
    auto path = context.app_config.find("fail_start_if");
    if (path != context.app_config.end() && access(path->second.c_str(), F_OK) == 0)
      throw std::runtime_error("blocker_app: " + path->second + " exists");
  }
  void OnWorkerExit(const thriftd::AppContext& context) override {
    auto path = context.app_config.find("exit_log");
    if (path == context.app_config.end()) return;
    std::ofstream(path->second, std::ios::app) << "exit " << getpid() << "\n";
  }
};

}  // namespace

THRIFTD_APP(BlockerApp)
