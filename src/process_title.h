// Process titles, as gunicorn's proc_name gives them (through
// setproctitle): "thriftd: master [NAME]" and "thriftd: worker [NAME] KIND
// N", so that ps and top tell the processes apart. The title overwrites
// the argv strings in place (what /proc/PID/cmdline shows; never longer
// than they were) and the thread name (/proc/PID/comm, 15 bytes).
// Runs in the master, and in a worker right after fork.
#ifndef THRIFTD_SRC_PROCESS_TITLE_H_
#define THRIFTD_SRC_PROCESS_TITLE_H_

#include <string>

#include "src/base/status.h"
#include "src/config.h"

namespace thriftd {

/// Takes the argv strings as the space titles are written to. Call once,
/// after everything that reads argv has copied it (the command line, the
/// binary upgrade's command): the strings are overwritten from then on.
void InitProcessTitle(int argc, char** argv);

/// The name in the titles: proc_name, or else the App's file name.
std::string ProcessName(const Config& config);

/// "thriftd: master [NAME]".
std::string MasterTitle(const Config& config);
/// "thriftd: worker [NAME] KIND N": KIND a built-in kind or a custom
/// kind's file name, N the worker's index in its generation.
std::string WorkerTitle(const Config& config, int index);

/// Sets the title, cut to the space InitProcessTitle took. Only memory
/// writes and prctl(): safe in a child between fork and anything else.
Status SetProcessTitle(const std::string& title);

}  // namespace thriftd

#endif  // THRIFTD_SRC_PROCESS_TITLE_H_
