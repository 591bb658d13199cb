// A pingpong App that says which process constructed it, for the
// preload_app tests: the constructor appends its pid to the file named by
// THRIFTD_TEST_CONSTRUCTED (when set), and echo(data) answers
// "DATA from PID" with that pid, so a call tells whose code serves it. The
// constructor keeps that file open, and echo("fd") answers what the kept
// descriptor names in the serving process: a worker must not have closed
// what the preloaded App opened.
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

// What descriptor `fd` names in this process ("closed" when none).
std::string Target(int fd) {
  char target[4096];
  std::string link = "/proc/self/fd/" + std::to_string(fd);
  ssize_t n = fd < 0 ? -1 : readlink(link.c_str(), target, sizeof target);
  return n < 0 ? "closed" : std::string(target, static_cast<std::size_t>(n));
}

class Handler : public pingpong::PingPongIf {
 public:
  Handler(pid_t constructed_by, int kept_fd) : constructed_by_(constructed_by), kept_fd_(kept_fd) {}
  void ping(std::string& reply) override { reply = "pong"; }
  int32_t add(int32_t a, int32_t b) override { return a + b; }
  void echo(std::string& reply, const std::string& data) override {
    if (data == "fd") {
      reply = Target(kept_fd_);
      return;
    }
    reply = data + " from " + std::to_string(constructed_by_);
  }
  void sleep(int32_t ms) override { thriftd::sleep_for(std::chrono::milliseconds(ms)); }

 private:
  pid_t constructed_by_;
  int kept_fd_;
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
    if (written != static_cast<ssize_t>(line.size())) {
      close(fd);
      throw std::runtime_error("preload_app: short write");
    }
    kept_fd_ = fd;  // held as an App holds its files and sockets
  }
  ~PreloadApp() override {
    if (kept_fd_ >= 0) close(kept_fd_);
  }
  std::shared_ptr<apache::thrift::TProcessorFactory> ProcessorFactory() override {
    auto processor = std::make_shared<pingpong::PingPongProcessor>(
        std::make_shared<Handler>(constructed_by_, kept_fd_));
    return std::make_shared<apache::thrift::TSingletonProcessorFactory>(processor);
  }

 private:
  pid_t constructed_by_;
  int kept_fd_ = -1;
};

}  // namespace

THRIFTD_APP(PreloadApp)
