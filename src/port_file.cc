#include "src/port_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "src/base/unique_fd.h"

namespace thriftd {

std::string PortFileText(const std::vector<Listener>& listeners) {
  std::string text;
  for (const Listener& listener : listeners) {
    if (listener.port > 0) text += std::to_string(listener.port) + "\n";
  }
  return text;
}

Status WritePortFile(const std::string& path, const std::vector<Listener>& listeners) {
  if (path.empty()) return Status::Ok();
  std::string text = PortFileText(listeners);
  std::string temporary = path + ".tmp";
  auto failed = [&](const char* call, int err) {
    unlink(temporary.c_str());
    return Status::FromErrno(call, err).Prepend("cannot write the port file " + path);
  };
  // O_EXCL after removing a leftover: never writes through a link someone put there.
  unlink(temporary.c_str());
  UniqueFd fd(open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd.valid())
    return Status::FromErrno("open", errno).Prepend("cannot write the port file " + path);
  std::size_t written = 0;
  while (written < text.size()) {
    ssize_t n = write(fd.get(), text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failed("write", errno);
    written += static_cast<std::size_t>(n);
  }
  if (close(fd.Release()) != 0) return failed("close", errno);
  if (rename(temporary.c_str(), path.c_str()) != 0) return failed("rename", errno);
  return Status::Ok();
}

}  // namespace thriftd
