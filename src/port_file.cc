#include "src/port_file.h"

#include "src/replace_file.h"

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
  return ReplaceFile(path, PortFileText(listeners)).Prepend("cannot write the port file " + path);
}

}  // namespace thriftd
