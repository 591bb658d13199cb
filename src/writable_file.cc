#include "src/writable_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace thriftd {
namespace {

Status CannotWrite(const std::string& path, int err, const std::string& where = "") {
  return Status::Error("cannot write " + path + ": " + (where.empty() ? "" : where + ": ") +
                       std::strerror(err));
}

// The directory a file at `path` lives in, as the kernel resolves it.
std::string DirectoryPart(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

Status CheckWritable(const std::string& path, FileWrite how) {
  if (path.empty() || path.back() == '/') return CannotWrite(path, EISDIR);
  struct stat st;
  bool exists = stat(path.c_str(), &st) == 0;
  if (!exists && errno != ENOENT) return CannotWrite(path, errno);
  if (exists && S_ISDIR(st.st_mode)) return CannotWrite(path, EISDIR);
  if (exists && how == FileWrite::kAppend) {
    if (faccessat(AT_FDCWD, path.c_str(), W_OK, AT_EACCESS) != 0) return CannotWrite(path, errno);
    return Status::Ok();
  }
  // Created (or renamed into place) in its directory: that must exist and
  // take new entries.
  std::string directory = DirectoryPart(path);
  if (stat(directory.c_str(), &st) != 0) return CannotWrite(path, errno, directory);
  if (!S_ISDIR(st.st_mode)) return CannotWrite(path, ENOTDIR, directory);
  if (faccessat(AT_FDCWD, directory.c_str(), W_OK | X_OK, AT_EACCESS) != 0)
    return CannotWrite(path, errno, directory);
  return Status::Ok();
}

}  // namespace thriftd
