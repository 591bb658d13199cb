// The master's pidfile. Runs in the master.
#ifndef THRIFTD_SRC_PIDFILE_H_
#define THRIFTD_SRC_PIDFILE_H_

#include <sys/types.h>

#include <string>

#include "src/base/status.h"

namespace thriftd {

class Pidfile {
 public:
  Pidfile() = default;
  ~Pidfile() { Remove(); }
  Pidfile(const Pidfile&) = delete;
  Pidfile& operator=(const Pidfile&) = delete;

  /// Writes `pid` to `path` (atomically, via a temporary file). Fails when
  /// the file names another live process (that thriftd is still running),
  /// unless it is `replacing`: the master a binary upgrade replaces, which
  /// may not be reaped yet when it hands over.
  Status Create(const std::string& path, pid_t pid, pid_t replacing = 0);
  /// What Create() refuses of a file already at `path` before it writes:
  /// a symbolic link, something other than a regular file. For
  /// --check-config, which must fail with the same line.
  static Status CheckPath(const std::string& path);
  /// Removes the file if it still holds our pid.
  void Remove();

 private:
  std::string path_;
  pid_t pid_ = 0;
};

}  // namespace thriftd

#endif  // THRIFTD_SRC_PIDFILE_H_
