#include "src/pidfile.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>

namespace thriftd {
namespace {

pid_t ReadPid(const std::string& path) {
  std::ifstream file(path);
  long pid = 0;
  if (file >> pid) return static_cast<pid_t>(pid);
  return 0;
}

}  // namespace

Status Pidfile::Create(const std::string& path, pid_t pid, pid_t replacing) {
  pid_t existing = ReadPid(path);
  // EPERM: alive, and someone else's; only ESRCH means the process is gone.
  if (existing > 0 && existing != pid && existing != replacing &&
      (kill(existing, 0) == 0 || errno == EPERM)) {
    return Status::Error("pidfile " + path + " names a running process (pid " +
                         std::to_string(existing) + "); is thriftd already running?");
  }
  std::string temporary = path + ".tmp" + std::to_string(pid);
  {
    std::ofstream file(temporary, std::ios::trunc);
    if (!(file << pid << "\n")) return Status::FromErrno("write(" + temporary + ")", errno);
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
