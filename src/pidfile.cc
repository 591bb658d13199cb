#include "src/pidfile.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "src/base/unique_fd.h"
#include "src/replace_file.h"

namespace thriftd {
namespace {

// The pid in the file at `path`, 0 when there is none or it holds none.
// Opened once, never through a link (in a directory others may write to,
// a link is how a root master would be made to report on a file it was
// never meant to) and never waiting (a FIFO there would hang the start).
Status ReadPid(const std::string& path, pid_t* pid) {
  *pid = 0;
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return Status::Ok();
    if (errno == ELOOP)
      return Status::Error("pidfile " + path + " is a symbolic link; refusing to write through it");
    return Status::FromErrno("open(" + path + ")", errno);
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return Status::FromErrno("fstat(" + path + ")", errno);
  if (!S_ISREG(st.st_mode)) return Status::Error("pidfile " + path + " is not a regular file");
  char text[32] = {};
  ssize_t n = read(fd.get(), text, sizeof text - 1);
  if (n < 0) return Status::FromErrno("read(" + path + ")", errno);
  long value = std::strtol(text, nullptr, 10);
  if (value > 0) *pid = static_cast<pid_t>(value);
  return Status::Ok();
}

}  // namespace

Status Pidfile::CheckPath(const std::string& path) {
  pid_t ignored = 0;
  return ReadPid(path, &ignored);
}

Status Pidfile::Create(const std::string& path, pid_t pid, pid_t replacing) {
  pid_t existing = 0;
  Status status = ReadPid(path, &existing);
  if (!status.ok()) return status;
  // EPERM: alive, and someone else's; only ESRCH means the process is gone.
  if (existing > 0 && existing != pid && existing != replacing &&
      (kill(existing, 0) == 0 || errno == EPERM)) {
    return Status::Error("pidfile " + path + " names a running process (pid " +
                         std::to_string(existing) + "); is thriftd already running?");
  }
  status = ReplaceFile(path, std::to_string(pid) + "\n");
  if (!status.ok()) return status;
  path_ = path;
  pid_ = pid;
  return Status::Ok();
}

void Pidfile::Remove() {
  if (path_.empty()) return;
  pid_t holder = 0;
  if (ReadPid(path_, &holder).ok() && holder == pid_) unlink(path_.c_str());
  path_.clear();
}

}  // namespace thriftd
