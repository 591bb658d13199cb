// What a start needs of the system before it serves, each checked on its own
// so that a real start (src/main.cc) and --check-config fail with the same
// line. Each error is one line naming the setting's origin
// ("thriftd.yaml:2: bind: cannot listen on 127.0.0.1:9090: bind: Address
// already in use"). Runs in the master, before any worker forks.
#ifndef THRIFTD_SRC_START_CHECKS_H_
#define THRIFTD_SRC_START_CHECKS_H_

#include <string>
#include <vector>

#include "src/base/status.h"
#include "src/config.h"

namespace thriftd {

/// The error log and the access log can be written (CheckWritable,
/// kAppend); "-" (a standard stream) and unset need nothing. A real start
/// needs the access log checked here: the workers open it, and a failure
/// there would only be logged, leaving thriftd serving without one.
Status CheckLogFiles(const Config& config);

/// The pidfile can be written as Create() writes it: nothing it refuses
/// is there (Pidfile::CheckPath), and its directory takes the file
/// (CheckWritable, kReplace).
Status CheckPidfileDirectory(const Config& config);

/// The port file's directory takes the file (CheckWritable, kReplace).
Status CheckPortFileDirectory(const Config& config);

/// Every bind entry, and metrics_bind when set, can be listened on, all at
/// once as a start holds them (two entries for one port fail as they would
/// there); then all are closed (and the socket file of a unix: entry
/// removed), so nothing is left listening. fd:// and systemd: entries name
/// sockets thriftd inherits, not binds: each is appended to *inherited,
/// unchecked.
Status CheckListeners(const Config& config, std::vector<std::string>* inherited);

/// TLS (certfile set): the certificate, its key and the CAs can be read
/// and belong together, and the cipher list means something, as a worker
/// will build its context from them (workers/tls_context.h); the context
/// built is thrown away. The TLS settings other than certfile need it.
Status CheckTls(const Config& config);

}  // namespace thriftd

#endif  // THRIFTD_SRC_START_CHECKS_H_
