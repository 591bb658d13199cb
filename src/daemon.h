// daemon (-D): detach from the terminal as gunicorn does (fork, setsid,
// fork), late enough that a start that cannot work still prints its one
// line to the terminal and exits non-zero, and with the pidfile written by
// the process that stays. Runs in the master, once, at start.
#ifndef THRIFTD_SRC_DAEMON_H_
#define THRIFTD_SRC_DAEMON_H_

#include <string>

#include "src/base/status.h"
#include "src/base/unique_fd.h"
#include "src/config.h"

namespace thriftd {

/// Whether daemon mode can be used here: not under systemd (NOTIFY_SOCKET
/// set: the unit's main process must not go away) nor as PID 1 (a
/// container's init whose exit ends the container). The error names the
/// setting's origin. Ok when `daemon` is off.
Status CheckDaemonAllowed(const Config& config);

/// Detaches: returns in the daemon only, the grandchild of the calling
/// process, in a new session with stdin, stdout and stderr on /dev/null
/// (the error log, when a file, is already open and stays). The working
/// directory and umask stay as they are (gunicorn keeps the directory;
/// chdir and umask are settings of their own). The calling process waits
/// for the daemon's word on *started (ReportStarted), prints an error it
/// sends as its one line, and exits with the status the daemon names
/// (`failure_code` when it names none), or 0 once the daemon's workers all
/// serve; it never returns. The error (fork, setsid, pipe)
/// is for the caller to print while it still has the terminal.
Status Daemonize(int failure_code, UniqueFd* started);

/// In the daemon: tells the waiting terminal process that the start
/// succeeded (`error` empty) or why it did not, and the status to exit
/// with then; closes *started. Does nothing once *started is closed, so
/// the first word is the one the terminal gets.
void ReportStarted(UniqueFd* started, const std::string& error, int exit_code = 1);

}  // namespace thriftd

#endif  // THRIFTD_SRC_DAEMON_H_
