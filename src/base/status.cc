#include "src/base/status.h"

#include <cstring>

namespace thriftd {

Status Status::FromErrno(const std::string& syscall_and_what, int err) {
  return Status::Error(syscall_and_what + ": " + std::strerror(err));
}

}  // namespace thriftd
