#include "src/pidfile.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>

#include "src/base/unique_fd.h"

namespace thriftd {
namespace {

pid_t ReadPid(const std::string& path) {
  std::ifstream file(path);
  long pid = 0;
  if (file >> pid) return static_cast<pid_t>(pid);
  return 0;
}

// Creates `path` afresh with mode 0644 whatever the umask (readable by
// everyone who must signal the master, writable by no one else), never
// through a link: a leftover of ours (a crash between write and rename) is
// removed first, and O_EXCL | O_NOFOLLOW refuse whatever appears meanwhile.
Status WriteNewFile(const std::string& path, const std::string& text) {
  if (unlink(path.c_str()) != 0 && errno != ENOENT)
    return Status::FromErrno("unlink(" + path + ")", errno);
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!fd.valid()) return Status::FromErrno("open(" + path + ")", errno);
  // The umask may have taken bits away (umask 077 gives 0600); 0644 is set
  // explicitly, and only ever narrower than asked otherwise.
  if (fchmod(fd.get(), 0644) != 0) return Status::FromErrno("fchmod(" + path + ")", errno);
  ssize_t written = write(fd.get(), text.data(), text.size());
  if (written < 0) return Status::FromErrno("write(" + path + ")", errno);
  if (static_cast<size_t>(written) != text.size())
    return Status::Error("write(" + path + "): short write");
  if (close(fd.Release()) != 0) return Status::FromErrno("close(" + path + ")", errno);
  return Status::Ok();
}

}  // namespace

Status Pidfile::Create(const std::string& path, pid_t pid, pid_t replacing) {
  // A link where the pidfile goes is refused, not read or replaced: in a
  // directory others may write to, it is how a root master would be made
  // to write, or to report on, a file it was never meant to.
  struct stat st;
  if (lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
    return Status::Error("pidfile " + path + " is a symbolic link; refusing to write through it");
  pid_t existing = ReadPid(path);
  // EPERM: alive, and someone else's; only ESRCH means the process is gone.
  if (existing > 0 && existing != pid && existing != replacing &&
      (kill(existing, 0) == 0 || errno == EPERM)) {
    return Status::Error("pidfile " + path + " names a running process (pid " +
                         std::to_string(existing) + "); is thriftd already running?");
  }
  std::string temporary = path + ".tmp" + std::to_string(pid);
  Status status = WriteNewFile(temporary, std::to_string(pid) + "\n");
  if (!status.ok()) {
    unlink(temporary.c_str());
    return status;
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    int err = errno;
    unlink(temporary.c_str());
    return Status::FromErrno("rename(" + path + ")", err);
  }
  path_ = path;
  pid_ = pid;
  return Status::Ok();
}

void Pidfile::Remove() {
  if (path_.empty()) return;
  if (ReadPid(path_) == pid_) unlink(path_.c_str());
  path_.clear();
}

}  // namespace thriftd
