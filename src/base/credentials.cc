#include "src/base/credentials.h"

#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <vector>

namespace thriftd {
namespace {

// `text` as a non-negative decimal id, or -1.
long long NumericId(const std::string& text) {
  if (text.empty() || text.size() > 10) return -1;
  for (char c : text) {
    if (c < '0' || c > '9') return -1;
  }
  long long id = std::strtoll(text.c_str(), nullptr, 10);
  // (uid_t)-1 means "unchanged" to setuid and friends: never an id.
  return id >= UINT_MAX ? -1 : id;
}

// getpwnam_r/getgrnam_r into *entry, whose strings live in *buffer
// (grown on ERANGE).
template <typename Entry, typename Lookup>
Status Find(Lookup lookup, Entry* entry, std::vector<char>* buffer, bool* found) {
  buffer->resize(16384);
  for (;;) {
    Entry* result = nullptr;
    int err = lookup(entry, buffer->data(), buffer->size(), &result);
    if (err == ERANGE && buffer->size() < (1u << 24)) {
      buffer->resize(buffer->size() * 2);
      continue;
    }
    // ENOENT, ESRCH and friends also mean "not there" (getpwnam(3)).
    if (err != 0 && err != ENOENT && err != ESRCH && err != EBADF && err != EPERM)
      return Status::FromErrno("the user database", err);
    *found = result != nullptr;
    return Status::Ok();
  }
}

// The capabilities the process still holds in any set but the bounding one.
Status HeldCapabilities(bool* any) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &header, data) != 0) return Status::FromErrno("capget", errno);
  *any = false;
  for (const auto& word : data) *any = *any || word.effective || word.permitted || word.inheritable;
  return Status::Ok();
}

// A change of uid from root clears the capabilities, unless the securebits
// say otherwise (SECBIT_KEEP_CAPS, SECBIT_NO_SETUID_FIXUP, set by whoever
// started thriftd): then a worker "running as nobody" could still bind low
// ports, read any file or kill any process. Clears every set and checks.
Status DropCapabilities() {
  bool any = false;
  if (Status held = HeldCapabilities(&any); !held.ok()) return held;
  if (!any) return Status::Ok();
  // Ambient capabilities go with the permitted ones; clear them first all the
  // same, so a kernel that kept them cannot hand them to an exec'd program.
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    return Status::FromErrno("prctl(PR_CAP_AMBIENT_CLEAR_ALL)", errno);
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capset, &header, none) != 0) return Status::FromErrno("capset", errno);
  if (Status held = HeldCapabilities(&any); !held.ok()) return held;
  if (any) return Status::Error("capabilities remained after dropping them");
  return Status::Ok();
}

}  // namespace

Status LookUpUser(const std::string& text, uid_t* uid, gid_t* primary_gid, std::string* name) {
  passwd entry{};
  std::vector<char> buffer;
  bool found = false;
  long long id = NumericId(text);
  Status status =
      id >= 0 ? Find<passwd>(
                    [id](passwd* e, char* b, size_t n, passwd** r) {
                      return getpwuid_r(static_cast<uid_t>(id), e, b, n, r);
                    },
                    &entry, &buffer, &found)
              : Find<passwd>([&text](passwd* e, char* b, size_t n,
                                     passwd** r) { return getpwnam_r(text.c_str(), e, b, n, r); },
                             &entry, &buffer, &found);
  if (!status.ok()) return status;
  if (found) {
    *uid = entry.pw_uid;
    *primary_gid = entry.pw_gid;
    *name = entry.pw_name;
    return Status::Ok();
  }
  // A numeric id needs no entry (gunicorn takes one as is; so do containers
  // run with an arbitrary uid); a name does.
  if (id < 0) return Status::Error("no such user \"" + text + "\"");
  *uid = static_cast<uid_t>(id);
  *primary_gid = static_cast<gid_t>(-1);
  *name = text;
  return Status::Ok();
}

Status LookUpGroup(const std::string& text, gid_t* gid, std::string* name) {
  group entry{};
  std::vector<char> buffer;
  bool found = false;
  long long id = NumericId(text);
  Status status =
      id >= 0
          ? Find<group>([id](group* e, char* b, size_t n,
                             group** r) { return getgrgid_r(static_cast<gid_t>(id), e, b, n, r); },
                        &entry, &buffer, &found)
          : Find<group>([&text](group* e, char* b, size_t n,
                                group** r) { return getgrnam_r(text.c_str(), e, b, n, r); },
                        &entry, &buffer, &found);
  if (!status.ok()) return status;
  if (found) {
    *gid = entry.gr_gid;
    *name = entry.gr_name;
    return Status::Ok();
  }
  if (id < 0) return Status::Error("no such group \"" + text + "\"");
  *gid = static_cast<gid_t>(id);
  *name = text;
  return Status::Ok();
}

Status TakeCredentials(const Credentials& credentials, int pdeath_signal) {
  // Groups first: once the uid is no longer root, neither can change.
  if (credentials.has_user_entry) {
    if (initgroups(credentials.user_name.c_str(), credentials.gid) != 0)
      return Status::FromErrno("initgroups(" + credentials.user_name + ")", errno);
  } else if (setgroups(0, nullptr) != 0) {
    return Status::FromErrno("setgroups", errno);
  }
  if (setresgid(credentials.gid, credentials.gid, credentials.gid) != 0)
    return Status::FromErrno("setgid(" + std::to_string(credentials.gid) + ")", errno);
  if (setresuid(credentials.uid, credentials.uid, credentials.uid) != 0)
    return Status::FromErrno("setuid(" + std::to_string(credentials.uid) + ")", errno);
  uid_t ruid, euid, suid;
  gid_t rgid, egid, sgid;
  if (getresuid(&ruid, &euid, &suid) != 0) return Status::FromErrno("getresuid", errno);
  if (getresgid(&rgid, &egid, &sgid) != 0) return Status::FromErrno("getresgid", errno);
  if (ruid != credentials.uid || euid != credentials.uid || suid != credentials.uid ||
      rgid != credentials.gid || egid != credentials.gid || sgid != credentials.gid) {
    return Status::Error("the user and group did not change as asked");
  }
  if (credentials.uid != 0) {
    if (Status dropped = DropCapabilities(); !dropped.ok()) return dropped;
  }
  // The drop must be for good: a way back to root would undo it.
  if (credentials.uid != 0 && setuid(0) == 0)
    return Status::Error("setuid(0) succeeded after dropping to uid " +
                         std::to_string(credentials.uid) + ": the drop did not take");
  if (prctl(PR_SET_PDEATHSIG, pdeath_signal) != 0) return Status::FromErrno("prctl", errno);
  return Status::Ok();
}

}  // namespace thriftd
