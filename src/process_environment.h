// The process environment gunicorn's users set: chdir, umask and raw_env,
// applied in the master, so that every worker it forks inherits them and
// the files both create (logs, the unix sockets, the App's) get the mask.
// Runs in the master, at start and on HUP.
#ifndef THRIFTD_SRC_PROCESS_ENVIRONMENT_H_
#define THRIFTD_SRC_PROCESS_ENVIRONMENT_H_

#include <optional>

#include "src/base/credentials.h"
#include "src/base/status.h"
#include "src/config.h"
#include "src/listener.h"

namespace thriftd {

/// Changes to `chdir` when set. At start only: before the App, the logs or
/// the binds are looked for, as gunicorn changes directory before loading
/// its app. The error names the setting's origin.
Status ApplyChdir(const Config& config);

/// Sets the umask and the raw_env variables (existing ones are replaced).
/// At start and on HUP: the workers of a reload fork after it.
Status ApplyUmaskAndEnvironment(const Config& config);

/// The credentials the workers take on after fork: none (*credentials
/// left empty) when neither `user` nor `group` asks for a change from this
/// process's. A group unset beside a user is the user's own group. Errors,
/// each naming the setting's origin: a name not in the user or group
/// database; a change this process cannot make, not being root ("thriftd
/// runs as uid 1000, not root: it cannot run the workers as nobody");
/// workers that would run as root with refuse_root_workers set. At start,
/// at --check-config, on HUP, and before each worker forks.
Status ResolveWorkerCredentials(const Config& config, std::optional<Credentials>* credentials);

/// The line the master logs once at start (and on a HUP that changes it):
/// "Workers run as user nobody (uid 65534), group nogroup (gid 65534)".
std::string DescribeWorkerCredentials(const std::optional<Credentials>& credentials);

/// Makes the log files the workers write (the error log, whose file they
/// reopen on USR1, and the access log they open) theirs when they run as
/// another user, as gunicorn chowns them: each is created when missing (as
/// the master would) and given to the workers' uid and gid. A symbolic link
/// is refused (O_NOFOLLOW): a root master must not chown what a link
/// points to. Nothing to do without credentials or for "-". At start, on
/// HUP, and on USR1 before the workers are told to reopen.
Status GiveLogFilesToWorkers(const Config& config, const std::optional<Credentials>& credentials);

/// The mode and group of the unix sockets this master creates:
/// unix_socket_mode, and unix_socket_group, else `group` when set (the
/// workers' group, as gunicorn chowns its socket), else none (-1: the
/// master's own). The error names the setting's origin.
Status ResolveUnixSocketAccess(const Config& config, UnixSocketAccess* access);

}  // namespace thriftd

#endif  // THRIFTD_SRC_PROCESS_ENVIRONMENT_H_
