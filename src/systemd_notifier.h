// What the master tells systemd (sd_notify(3)): ready, reloading, stopping, a
// status line, watchdog pings, and the new main process after a binary
// upgrade. A thin layer over libsystemd's sd_notify: the protocol is
// systemd's, and so is the code speaking it. Runs in the master.
#ifndef THRIFTD_SRC_SYSTEMD_NOTIFIER_H_
#define THRIFTD_SRC_SYSTEMD_NOTIFIER_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "src/base/status.h"

namespace thriftd {

class SystemdNotifier {
 public:
  /// Reads NOTIFY_SOCKET and the watchdog (sd_watchdog_enabled(0, &usec)) once. Without
  /// NOTIFY_SOCKET every call below does nothing. Never unsets the environment: a re-executed
  /// thriftd (binary upgrade) must inherit NOTIFY_SOCKET.
  SystemdNotifier();
  SystemdNotifier(const SystemdNotifier&) = delete;
  SystemdNotifier& operator=(const SystemdNotifier&) = delete;

  /// Whether anything is sent: NOTIFY_SOCKET was set, and MainPid has not
  /// handed the service to another process.
  bool enabled() const;
  /// "READY=1\nSTATUS=<status>".
  void Ready(const std::string& status);
  /// "RELOADING=1\nMONOTONIC_USEC=<CLOCK_MONOTONIC usec>\nSTATUS=<status>"; READY
  /// ends the reload.
  void Reloading(const std::string& status);
  /// "STOPPING=1\nSTATUS=<status>".
  void Stopping(const std::string& status);
  /// "STATUS=<status>", only when different from the last status sent (the
  /// master may call it on every timer tick).
  void Status(const std::string& status);
  /// "MAINPID=<pid>"; afterwards this process is no longer the service's main
  /// process: every later call does nothing.
  void MainPid(pid_t pid);
  /// "WATCHDOG=1" when the watchdog is enabled and at least a third of
  /// WATCHDOG_USEC passed since the last ping (the first tick always pings);
  /// `now` is monotonic seconds (the master calls it from its 200 ms timer).
  void WatchdogTick(double now);
  /// Whether systemd expects pings from this process: WATCHDOG_USEC was set,
  /// WATCHDOG_PID (when set) named this process, and enabled().
  bool watchdog_enabled() const;

  /// For a master started by a binary upgrade, which runs beside the
  /// service's main process (the old master) until that one sends MAINPID
  /// for it. Until then systemd would take READY, RELOADING and STOPPING for
  /// the whole service's (a STOPPING=1 from this master, when a rollback
  /// TERMs it, would stop the unit), so with `main` false they are left out:
  /// only their STATUS goes, and watchdog pings. True (the default) sends all.
  void SetMainProcess(bool main);
  bool main_process() const { return main_process_; }

 private:
  /// One sd_notify; false when it failed (logged once per notifier).
  bool Send(const std::string& message);
  /// `state` (READY=1, ...) and STATUS. Without a state (none given, or
  /// dropped as this is not the main process), STATUS alone, and only when
  /// it changed.
  void SendWithStatus(const std::string& state, const std::string& status);

  bool notify_socket_ = false;
  bool handed_over_ = false;
  bool main_process_ = true;
  bool warned_ = false;
  std::uint64_t watchdog_usec_ = 0;  // 0: no watchdog
  std::optional<double> last_ping_;
  std::optional<std::string> last_status_;
};

}  // namespace thriftd

#endif  // THRIFTD_SRC_SYSTEMD_NOTIFIER_H_
