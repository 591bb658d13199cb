#include "src/base/private_copy.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <vector>

namespace thriftd {
namespace {

// A version of a file: what a rewrite in place changes (size, times) and a
// replacement by rename changes (the inode). A rewrite to the same size
// within one tick of the filesystem's clock would go unseen; a deployment
// comes seconds after the copy it replaces.
struct FileVersion {
  dev_t device;
  ino_t inode;
  off_t size;
  timespec modified;
  timespec changed;

  bool operator==(const FileVersion& other) const {
    return device == other.device && inode == other.inode && size == other.size &&
           modified.tv_sec == other.modified.tv_sec && modified.tv_nsec == other.modified.tv_nsec &&
           changed.tv_sec == other.changed.tv_sec && changed.tv_nsec == other.changed.tv_nsec;
  }
};

FileVersion VersionOf(const struct stat& st) {
  return {st.st_dev, st.st_ino, st.st_size, st.st_mtim, st.st_ctim};
}

struct Copy {
  FileVersion version;
  int fd;
};

// Every copy this process made. thriftd loads before a process starts any
// thread, but nothing in the interface says it must: hence the mutex.
struct Copies {
  std::mutex mutex;
  pid_t owner = 0;
  std::vector<Copy> list;
};

Copies& TheCopies() {
  static Copies copies;
  return copies;
}

// The copies of this process. After a fork the list is the parent's: its
// descriptors are closed in a worker (it closes all it inherits but a few),
// or are the parent's copies under the parent's names, so it is forgotten,
// not closed (a number may name something else by now).
std::vector<Copy>& OwnCopies(Copies& copies) {
  if (copies.owner != getpid()) {
    copies.list.clear();
    copies.owner = getpid();
  }
  return copies.list;
}

std::string LoadPath(int fd) {
  return "/proc/" + std::to_string(getpid()) + "/fd/" + std::to_string(fd);
}

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// A `cp` still writing the file changes its version under the copy: copy
// again, a few times, rather than load half a file.
constexpr int kCopyAttempts = 3;

}  // namespace

Status CreateTemporaryCopyFile(const std::string& name, UniqueFd* file) {
  const char* dir = std::getenv("TMPDIR");
  // Short enough for NAME_MAX whatever the plugin's own name.
  std::string pattern = std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/thriftd-" +
                        name.substr(0, 64) + "-XXXXXX";
  int fd = mkostemp(pattern.data(), O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("mkostemp(" + pattern + ")", errno);
  file->Reset(fd);
  // Unlinked at once: the copy lives as long as its descriptor and the
  // mappings of it, and a crash leaves nothing behind.
  if (unlink(pattern.c_str()) != 0) return Status::FromErrno("unlink(" + pattern + ")", errno);
  return Status::Ok();
}

Status CreateCopyFile(const std::string& name, UniqueFd* file) {
  // The name only labels the file (in /proc/PID/maps, and so in a core's
  // mappings); memfd_create refuses one over 249 bytes.
  int fd = memfd_create(name.substr(0, 249).c_str(), MFD_CLOEXEC);
  if (fd >= 0) {
    file->Reset(fd);
    return Status::Ok();
  }
  // memfd_create came with Linux 3.17, a seccomp filter may refuse it
  // (EPERM), and vm.memfd_noexec=2 (Linux 6.3) refuses an executable one
  // (EACCES). A file no one can reach by name is as private; it costs a
  // disk write where $TMPDIR is not a tmpfs.
  if (errno == ENOSYS || errno == EPERM || errno == EACCES)
    return CreateTemporaryCopyFile(name, file);
  return Status::FromErrno("memfd_create", errno);
}

Status CopyContents(int source, int copy) {
  std::vector<char> buffer(64 * 1024);
  off_t offset = 0;
  for (;;) {
    ssize_t got = pread(source, buffer.data(), buffer.size(), offset);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return Status::FromErrno("read", errno);
    if (got == 0) return Status::Ok();
    offset += got;
    for (ssize_t put = 0; put < got;) {
      ssize_t wrote = write(copy, buffer.data() + put, static_cast<size_t>(got - put));
      if (wrote < 0 && errno == EINTR) continue;
      if (wrote < 0) return Status::FromErrno("write", errno);
      put += wrote;
    }
  }
}

Status PrivateCopyOf(int source, const std::string& path, std::string* load_path) {
  Copies& copies = TheCopies();
  std::lock_guard<std::mutex> lock(copies.mutex);
  std::vector<Copy>& own = OwnCopies(copies);
  for (int attempt = 0; attempt < kCopyAttempts; ++attempt) {
    struct stat before;
    if (fstat(source, &before) != 0) return Status::FromErrno("fstat", errno);
    if (S_ISDIR(before.st_mode)) return Status::Error("is a directory");
    if (!S_ISREG(before.st_mode)) return Status::Error("is not a regular file");
    FileVersion version = VersionOf(before);
    auto made = std::find_if(own.begin(), own.end(),
                             [&](const Copy& copy) { return copy.version == version; });
    if (made != own.end()) {
      *load_path = LoadPath(made->fd);
      return Status::Ok();
    }
    UniqueFd file;
    Status status = CreateCopyFile(BaseName(path), &file);
    if (status.ok()) status = CopyContents(source, file.get());
    if (!status.ok()) return status.Prepend("cannot copy it");
    struct stat after;
    if (fstat(source, &after) != 0) return Status::FromErrno("fstat", errno);
    if (!(VersionOf(after) == version)) continue;
    std::string name = LoadPath(file.get());
    // Without /proc, dlopen() would say the copy's name does not exist, as
    // if the operator's file did not.
    if (access(name.c_str(), R_OK) != 0) {
      return Status::FromErrno("cannot open its copy as " + name + " (is /proc mounted?)", errno);
    }
    own.push_back(Copy{version, file.Release()});
    *load_path = name;
    return Status::Ok();
  }
  return Status::Error("it kept changing while it was copied (still being written?)");
}

void DropPrivateCopy(const std::string& load_path) {
  Copies& copies = TheCopies();
  std::lock_guard<std::mutex> lock(copies.mutex);
  std::vector<Copy>& own = OwnCopies(copies);
  auto copy = std::find_if(own.begin(), own.end(),
                           [&](const Copy& made) { return LoadPath(made.fd) == load_path; });
  if (copy == own.end()) return;
  UniqueFd closed(copy->fd);
  own.erase(copy);
}

}  // namespace thriftd
