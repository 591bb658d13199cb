#include "src/base/read_whole_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "src/base/unique_fd.h"

namespace thriftd {

Status ReadWholeFile(const std::string& path, std::string* text) {
  auto failed = [&path](int err) { return Status::FromErrno("cannot read " + path, err); };
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return failed(errno);
  std::string read_so_far;
  char buffer[65536];
  for (;;) {
    ssize_t n = read(fd.get(), buffer, sizeof buffer);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return failed(errno);  // a directory: EISDIR
    }
    read_so_far.append(buffer, static_cast<size_t>(n));
  }
  *text = std::move(read_so_far);
  return Status::Ok();
}

}  // namespace thriftd
