#include "src/replace_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "src/base/unique_fd.h"

namespace thriftd {
namespace {

Status WriteNewFile(const std::string& path, const std::string& text) {
  if (unlink(path.c_str()) != 0 && errno != ENOENT)
    return Status::FromErrno("unlink(" + path + ")", errno);
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!fd.valid()) return Status::FromErrno("open(" + path + ")", errno);
  // The umask may have taken bits away (umask 077 gives 0600); 0644 is set
  // explicitly, and only ever narrower than asked otherwise.
  if (fchmod(fd.get(), 0644) != 0) return Status::FromErrno("fchmod(" + path + ")", errno);
  std::size_t written = 0;
  while (written < text.size()) {
    ssize_t n = write(fd.get(), text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("write(" + path + ")", errno);
    written += static_cast<std::size_t>(n);
  }
  if (close(fd.Release()) != 0) return Status::FromErrno("close(" + path + ")", errno);
  return Status::Ok();
}

}  // namespace

Status ReplaceFile(const std::string& path, const std::string& text) {
  std::string temporary = path + ".tmp" + std::to_string(getpid());
  Status status = WriteNewFile(temporary, text);
  if (status.ok() && std::rename(temporary.c_str(), path.c_str()) != 0)
    status = Status::FromErrno("rename(" + path + ")", errno);
  if (!status.ok()) (void)unlink(temporary.c_str());  // nothing more to do if it fails too
  return status;
}

}  // namespace thriftd
