// An App that reports the process environment a worker starts in, then
// fails its start (thriftd exits 1): OnWorkerStart creates environment.out
// in the working directory, holding THRIFTD_TEST_VALUE, with mode 0666 as
// any program asks, so the file's directory and mode show chdir and umask.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include <thriftd/app.h>

namespace {

class EnvironmentApp : public thriftd::App {
 public:
  std::shared_ptr<apache::thrift::TProcessorFactory> ProcessorFactory() override {
    return nullptr;  // Never reached: OnWorkerStart() throws first.
  }
  void OnWorkerStart(const thriftd::AppContext& /*context*/) override {
    const char* value = std::getenv("THRIFTD_TEST_VALUE");
    std::string text = value ? value : "(unset)";
    int fd = open("environment.out", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) throw std::runtime_error(std::string("environment_app: ") + std::strerror(errno));
    ssize_t written = write(fd, text.data(), text.size());
    close(fd);
    if (written != static_cast<ssize_t>(text.size()))
      throw std::runtime_error("environment_app: short write");
    throw std::runtime_error("environment_app: reported");
  }
};

}  // namespace

THRIFTD_APP(EnvironmentApp)
