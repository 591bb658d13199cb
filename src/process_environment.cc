#include "src/process_environment.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <utility>

#include "src/base/unique_fd.h"

namespace thriftd {

Status ApplyChdir(const Config& config) {
  if (config.chdir.empty()) return Status::Ok();
  if (chdir(config.chdir.c_str()) != 0) {
    return Status::FromErrno("chdir(" + config.chdir + ")", errno)
        .Prepend(config.OriginOf("chdir").Describe());
  }
  return Status::Ok();
}

Status ApplyUmaskAndEnvironment(const Config& config) {
  // umask() cannot fail; the value was checked to be within 0777.
  umask(static_cast<mode_t>(config.umask));
  for (const auto& [name, value] : config.raw_env) {
    // setenv refuses a name holding '=', which KEY=VALUE parsing cannot
    // give, and fails with ENOMEM; either way the line names the setting.
    if (setenv(name.c_str(), value.c_str(), 1) != 0) {
      return Status::FromErrno("setenv(" + name + ")", errno)
          .Prepend(config.OriginOf("raw_env").Describe());
    }
  }
  return Status::Ok();
}

}  // namespace thriftd

namespace thriftd {
namespace {

Status AtSetting(const Config& config, const std::string& name, Status status) {
  return status.Prepend(config.OriginOf(name).Describe());
}

// The master is root and the workers' user may write where the logs are:
// only a plain file of its own is given away. Not a link (a symbolic one,
// or a hard link to a file of root's, which chown would hand over), not a
// FIFO (whose open would hang the master without O_NONBLOCK).
Status GiveFile(const std::string& path, const Credentials& credentials) {
  UniqueFd fd(open(path.c_str(),
                   O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644));
  if (!fd.valid()) {
    int err = errno;
    if (err == ELOOP)
      return Status::Error("cannot give " + path + " to the workers' user: it is a symbolic link");
    return Status::FromErrno("open(" + path + ")", err);
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return Status::FromErrno("fstat(" + path + ")", errno);
  if (!S_ISREG(st.st_mode))
    return Status::Error("cannot give " + path + " to the workers' user: not a regular file");
  if (st.st_nlink != 1) {
    return Status::Error("cannot give " + path + " to the workers' user: it has " +
                         std::to_string(st.st_nlink) + " hard links");
  }
  if (fchown(fd.get(), credentials.uid, credentials.gid) != 0)
    return Status::FromErrno("chown(" + path + ")", errno);
  return Status::Ok();
}

}  // namespace

Status ResolveWorkerCredentials(const Config& config, std::optional<Credentials>* credentials) {
  credentials->reset();
  const uid_t my_uid = geteuid();
  const gid_t my_gid = getegid();
  Credentials wanted;
  wanted.uid = my_uid;
  wanted.gid = my_gid;
  gid_t user_gid = static_cast<gid_t>(-1);
  if (!config.user.empty()) {
    Status status = LookUpUser(config.user, &wanted.uid, &user_gid, &wanted.user_name);
    if (!status.ok()) return AtSetting(config, "user", std::move(status));
    wanted.has_user_entry = user_gid != static_cast<gid_t>(-1);
  }
  if (!config.user.empty() && !wanted.has_user_entry && config.group.empty() &&
      wanted.uid != my_uid) {
    // Its group would be the master's (root's): not what dropping to it means.
    return AtSetting(config, "user",
                     Status::Error("user " + config.user +
                                   " has no passwd entry to take a group from: set group too"));
  }
  if (!config.group.empty()) {
    Status status = LookUpGroup(config.group, &wanted.gid, &wanted.group_name);
    if (!status.ok()) return AtSetting(config, "group", std::move(status));
  } else if (user_gid != static_cast<gid_t>(-1)) {
    wanted.gid = user_gid;
    gid_t same;
    if (!LookUpGroup(std::to_string(user_gid), &same, &wanted.group_name).ok())
      wanted.group_name = std::to_string(user_gid);
  }
  bool changes = wanted.uid != my_uid || wanted.gid != my_gid;
  if (changes && my_uid != 0) {
    // gunicorn ignores what it cannot do and runs the workers as itself;
    // a service that believes its workers are confined, and is not, is
    // worse than one that does not start.
    bool group_only = wanted.uid == my_uid && !config.group.empty();
    std::string target = group_only             ? "with group " + config.group
                         : wanted.uid != my_uid ? "as user " + config.user
                                                : "with user " + config.user + "'s group";
    return AtSetting(config, group_only ? "group" : "user",
                     Status::Error("thriftd runs as uid " + std::to_string(my_uid) +
                                   ", not root: it cannot run the workers " + target +
                                   " (start it as root, or unset the setting)"));
  }
  if (config.refuse_root_workers && wanted.uid == 0) {
    return AtSetting(config, "refuse_root_workers",
                     Status::Error("the workers would run as root (set user to another user)"));
  }
  if (!changes) return Status::Ok();
  if (wanted.user_name.empty()) {
    uid_t uid;
    gid_t gid;
    if (!LookUpUser(std::to_string(wanted.uid), &uid, &gid, &wanted.user_name).ok())
      wanted.user_name = std::to_string(wanted.uid);
    // The master's own user: its supplementary groups are root's; drop them.
    wanted.has_user_entry = false;
  }
  if (wanted.group_name.empty()) {
    gid_t gid;
    if (!LookUpGroup(std::to_string(wanted.gid), &gid, &wanted.group_name).ok())
      wanted.group_name = std::to_string(wanted.gid);
  }
  *credentials = wanted;
  return Status::Ok();
}

std::string DescribeWorkerCredentials(const std::optional<Credentials>& credentials) {
  Credentials described;
  if (credentials) {
    described = *credentials;
  } else {
    // No change: the master's own, named as a change would be.
    described.uid = geteuid();
    described.gid = getegid();
    gid_t primary;
    if (!LookUpUser(std::to_string(described.uid), &described.uid, &primary, &described.user_name)
             .ok())
      described.user_name = std::to_string(described.uid);
    if (!LookUpGroup(std::to_string(described.gid), &described.gid, &described.group_name).ok())
      described.group_name = std::to_string(described.gid);
  }
  return "Workers run as user " + described.user_name + " (uid " + std::to_string(described.uid) +
         "), group " + described.group_name + " (gid " + std::to_string(described.gid) + ")";
}

Status GiveLogFilesToWorkers(const Config& config, const std::optional<Credentials>& credentials) {
  if (!credentials) return Status::Ok();
  const std::pair<const char*, const std::string*> logs[] = {{"errorlog", &config.errorlog},
                                                             {"accesslog", &config.accesslog}};
  for (const auto& [name, path] : logs) {
    if (path->empty() || *path == "-") continue;
    Status status = GiveFile(*path, *credentials);
    if (!status.ok()) return AtSetting(config, name, std::move(status));
  }
  return Status::Ok();
}

Status ResolveUnixSocketAccess(const Config& config, UnixSocketAccess* access) {
  access->mode = static_cast<mode_t>(config.unix_socket_mode);
  access->group = static_cast<gid_t>(-1);
  const char* name = !config.unix_socket_group.empty() ? "unix_socket_group" : "group";
  const std::string& text =
      !config.unix_socket_group.empty() ? config.unix_socket_group : config.group;
  if (text.empty()) return Status::Ok();
  std::string group_name;
  return AtSetting(config, name, LookUpGroup(text, &access->group, &group_name));
}

}  // namespace thriftd
