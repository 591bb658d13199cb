// Replacing a small file the master publishes (the pidfile, the port file)
// in one step: whoever reads it sees the old text or the new, never a part.
// Runs in the master.
#ifndef THRIFTD_SRC_REPLACE_FILE_H_
#define THRIFTD_SRC_REPLACE_FILE_H_

#include <string>

#include "src/base/status.h"

namespace thriftd {

/// Writes `text` to PATH.tmpPID (this process's pid: two masters around a
/// binary upgrade never share one) and renames it over `path`. The file is
/// created afresh with mode 0644 whatever the umask (readable by the
/// scripts that read it, writable by no one else), never through a link: a
/// leftover of ours is removed first, and O_EXCL | O_NOFOLLOW refuse
/// whatever appears meanwhile. On an error nothing is left behind; the
/// message names the failing call and the path.
Status ReplaceFile(const std::string& path, const std::string& text);

}  // namespace thriftd

#endif  // THRIFTD_SRC_REPLACE_FILE_H_
