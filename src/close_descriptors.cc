#include "src/close_descriptors.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <memory>

#include "src/base/log.h"

namespace thriftd {
namespace {

// Closes [first, last].
void CloseRange(unsigned first, unsigned last) {
  if (close_range(first, last, 0) == 0) return;
  // Before Linux 5.9, or under a seccomp filter that refuses close_range:
  // one at a time, up to the descriptor limit.
  rlimit limit{};
  unsigned highest = 65535;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY &&
      limit.rlim_cur > 0 && limit.rlim_cur - 1 < UINT_MAX) {
    highest = static_cast<unsigned>(limit.rlim_cur - 1);
  }
  for (unsigned fd = first; fd <= std::min(last, highest); ++fd) ::close(static_cast<int>(fd));
}

}  // namespace

Status OpenDescriptors(std::vector<int>* fds) {
  struct CloseDir {
    void operator()(DIR* dir) const { (void)closedir(dir); }  // read-only: nothing to lose
  };
  std::unique_ptr<DIR, CloseDir> dir(opendir("/proc/self/fd"));
  if (!dir) return Status::FromErrno("opendir(/proc/self/fd)", errno);
  int own = dirfd(dir.get());
  fds->clear();
  errno = 0;
  while (dirent* entry = readdir(dir.get())) {
    if (entry->d_name[0] == '.') continue;
    int fd = std::atoi(entry->d_name);
    if (fd != own) fds->push_back(fd);
  }
  if (errno != 0) return Status::FromErrno("readdir(/proc/self/fd)", errno);
  std::sort(fds->begin(), fds->end());
  return Status::Ok();
}

std::vector<int> DescriptorsToKeep(std::vector<int> keep) {
  keep.insert(keep.end(), {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO, log::Fd()});
  keep.erase(std::remove_if(keep.begin(), keep.end(), [](int fd) { return fd < 0; }), keep.end());
  std::sort(keep.begin(), keep.end());
  keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
  return keep;
}

void CloseAllBut(const std::vector<int>& keep) {
  unsigned first = 0;
  for (int fd : keep) {
    if (static_cast<unsigned>(fd) > first) CloseRange(first, static_cast<unsigned>(fd) - 1);
    first = static_cast<unsigned>(fd) + 1;
  }
  CloseRange(first, UINT_MAX);
}

}  // namespace thriftd
