// Exit codes: thriftd's to the operator, and a worker's to its master
// (gunicorn's convention: a boot error halts the server instead of looping).
#ifndef THRIFTD_SRC_BASE_EXIT_CODES_H_
#define THRIFTD_SRC_BASE_EXIT_CODES_H_

namespace thriftd {

/// thriftd to the operator.
inline constexpr int kExitOk = 0;
inline constexpr int kExitAppError = 1;     ///< the App could not be loaded or started
inline constexpr int kExitConfigError = 2;  ///< bad configuration, address, port in use

/// A worker to its master.
inline constexpr int kWorkerExitOk = 0;
inline constexpr int kWorkerExitBootError = 3;  ///< the App failed to load or start: do not respawn
inline constexpr int kWorkerExitHung = 4;       ///< found hung (SIGABRT): reported, then exited

}  // namespace thriftd

#endif  // THRIFTD_SRC_BASE_EXIT_CODES_H_
