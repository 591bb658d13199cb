// Whether this process could write a file it has not opened yet, checked
// without creating anything: the access log (each worker opens its own, and
// could only log that it failed), and for --check-config the error log and
// the pidfile too. Runs in the master.
#ifndef THRIFTD_SRC_WRITABLE_FILE_H_
#define THRIFTD_SRC_WRITABLE_FILE_H_

#include <string>

#include "src/base/status.h"

namespace thriftd {

/// How the file will be written.
enum class FileWrite {
  kAppend,   ///< opened to append, created when missing (the logs)
  kReplace,  ///< written beside it and renamed over it (the pidfile)
};

/// Ok when `path` can be written as `how` says. kAppend: an existing file
/// must be writable and not a directory; a missing one needs its directory
/// to exist and be writable. kReplace: the directory must exist and be
/// writable. Checked for this process's effective user (faccessat
/// AT_EACCESS). Errors: "cannot write PATH: DIR: No such file or
/// directory", "cannot write PATH: Permission denied", "cannot write PATH:
/// Is a directory".
Status CheckWritable(const std::string& path, FileWrite how);

}  // namespace thriftd

#endif  // THRIFTD_SRC_WRITABLE_FILE_H_
