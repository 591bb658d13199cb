// `thriftd call`: grpcurl for Thrift. The entry point src/main.cc hands the
// command line to when its first argument is "call"; it runs in the thriftd
// process as a plain client and starts no master or worker.
#ifndef THRIFTD_CALL_CALL_COMMAND_H_
#define THRIFTD_CALL_CALL_COMMAND_H_

#include <string>
#include <vector>

namespace thriftd::call {

/// Runs `thriftd call ARGS...` (`args` without "thriftd" and "call") and
/// returns its exit status (kCallExit* in call/caller.h).
int RunCallCommand(const std::vector<std::string>& args);

}  // namespace thriftd::call

#endif  // THRIFTD_CALL_CALL_COMMAND_H_
