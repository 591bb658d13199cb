// A process's private copy of a plugin file, for dlopen(): the bytes the file
// held when it was copied, which nothing later done to the file can change.
// dlopen() of the file itself maps its inode, so `cp new.so app.so` over a
// loaded object (truncate, then rewrite the same inode) pulls the code from
// under the process: SIGBUS, or the new file's bytes run as the old code.
#ifndef THRIFTD_SRC_BASE_PRIVATE_COPY_H_
#define THRIFTD_SRC_BASE_PRIVATE_COPY_H_

#include <string>

#include "src/base/status.h"
#include "src/base/unique_fd.h"

namespace thriftd {

/// Sets *load_path to "/proc/PID/fd/N": a descriptor of this process holding
/// a copy of the regular file open as `source` (the file at `path`), for
/// dlopen(). The copy made of the same version of the file (device, inode,
/// size, modification and change times) is given again, so that loading an
/// object again (the master creates a custom kind for each worker it forks)
/// costs no new copy and dlopen() returns the object it already loaded; a
/// file changed since (a deployment) is copied afresh.
///
/// The descriptor stays open until the process exits or execs (close-on-exec):
/// glibc knows a loaded object by the name it was opened by, so a number
/// closed and given to the next copy would make dlopen() of that next copy
/// return the object loaded before. The PID in the name keeps a worker's own
/// copies apart from those it inherited, by fork, from the master.
///
/// Errors: "is not a regular file"; "cannot copy it: SYSCALL: why"; "it
/// kept changing while it was copied" (an unfinished `cp`, three times).
Status PrivateCopyOf(int source, const std::string& path, std::string* load_path);

/// Closes the copy named `load_path` (a name PrivateCopyOf gave), for when
/// dlopen() refused it: nothing is loaded under its name, so its number may
/// be reused.
void DropPrivateCopy(const std::string& load_path);

/// A new, empty file for a copy of the file named `name` (its base name):
/// a memfd, which /proc/PID/maps shows as "/memfd:NAME (deleted)"; or, when
/// the kernel has no memfd_create, an unlinked temporary file in $TMPDIR or
/// /tmp (CreateTemporaryCopyFile). Close-on-exec.
Status CreateCopyFile(const std::string& name, UniqueFd* file);
Status CreateTemporaryCopyFile(const std::string& name, UniqueFd* file);

/// Writes everything `source` holds (from offset 0, whatever its offset) into
/// `copy`, at copy's offset.
Status CopyContents(int source, int copy);

}  // namespace thriftd

#endif  // THRIFTD_SRC_BASE_PRIVATE_COPY_H_
