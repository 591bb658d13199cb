// A pingpong App that says which process constructed it, for the
// preload_app tests: the constructor appends its pid to the file named by
// THRIFTD_TEST_CONSTRUCTED (when set), and echo(data) answers
// "DATA from PID" with that pid, so a call tells whose code serves it.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include <thriftd/app.h>

#include "PingPong.h"

namespace {

class Handler : public pingpong::PingPongIf {
 public:
  explicit Handler(pid_t constructed_by) : constructed_by_(constructed_by) {}
  void ping(std::string& reply) override { reply = "pong"; }
  int32_t add(int32_t a, int32_t b) override { return a + b; }
  void echo(std::string& reply, const std::string& data) override {
    reply = data + " from " + std::to_string(constructed_by_);
  }
  void sleep(int32_t ms) override { thriftd::sleep_for(std::chrono::milliseconds(ms)); }

 private:
  pid_t constructed_by_;
};

class PreloadApp : public thriftd::App {
 public:
  PreloadApp() : constructed_by_(getpid()) {
    const char* path = std::getenv("THRIFTD_TEST_CONSTRUCTED");
    if (path == nullptr) return;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error(std::string("preload_app: ") + std::strerror(errno));
    std::string line = std::to_string(constructed_by_) + "\n";
    ssize_t written = write(fd, line.data(), line.size());
    close(fd);
    if (written != static_cast<ssize_t>(line.size()))
      throw std::runtime_error("preload_app: short write");
  }
  std::shared_ptr<apache::thrift::TProcessorFactory> ProcessorFactory() override {
    auto processor =
        std::make_shared<pingpong::PingPongProcessor>(std::make_shared<Handler>(constructed_by_));
    return std::make_shared<apache::thrift::TSingletonProcessorFactory>(processor);
  }

 private:
  pid_t constructed_by_;
};

}  // namespace

THRIFTD_APP(PreloadApp)
