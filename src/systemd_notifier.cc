#include "src/systemd_notifier.h"

#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "src/base/clock.h"
#include "src/base/log.h"

namespace thriftd {
namespace {

// A newline in a status would start another assignment: a status quoting,
// say, a config error must not be able to say STOPPING=1.
std::string OneLine(const std::string& status) {
  std::string line = status;
  for (char& c : line)
    if (c == '\n') c = ' ';
  return line;
}

}  // namespace

SystemdNotifier::SystemdNotifier() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  notify_socket_ = socket != nullptr && *socket != '\0';
  if (!notify_socket_) return;
  // 0: never unset the variables, which a re-executed thriftd must inherit.
  int watchdog = sd_watchdog_enabled(0, &watchdog_usec_);
  if (watchdog < 0) {
    THRIFTD_LOG(kWarning) << "systemd's watchdog is off: "
                          << thriftd::Status::FromErrno("sd_watchdog_enabled", -watchdog).message()
                          << " (WATCHDOG_USEC or WATCHDOG_PID malformed)";
  }
  if (watchdog <= 0) watchdog_usec_ = 0;
}

bool SystemdNotifier::enabled() const { return notify_socket_ && !handed_over_; }

bool SystemdNotifier::watchdog_enabled() const { return enabled() && watchdog_usec_ > 0; }

void SystemdNotifier::SetMainProcess(bool main) { main_process_ = main; }

void SystemdNotifier::Ready(const std::string& status) { SendWithStatus("READY=1", status); }

void SystemdNotifier::Reloading(const std::string& status) {
  // systemd (Type=notify-reload, 253+) pairs RELOADING=1 with the time it
  // was sent, to tell this reload from an earlier one's.
  SendWithStatus("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(MonotonicNanos() / 1000), status);
}

void SystemdNotifier::Stopping(const std::string& status) { SendWithStatus("STOPPING=1", status); }

void SystemdNotifier::Status(const std::string& status) { SendWithStatus("", status); }

void SystemdNotifier::MainPid(pid_t pid) {
  if (!enabled()) return;
  Send("MAINPID=" + std::to_string(pid));
  // Even when the send failed: the new master is the one serving now, and
  // this one speaking on (STOPPING=1 as it exits) would stop the unit.
  handed_over_ = true;
}

void SystemdNotifier::WatchdogTick(double now) {
  if (!watchdog_enabled()) return;
  double third = static_cast<double>(watchdog_usec_) / 3.0 / 1e6;
  if (last_ping_ && now - *last_ping_ < third) return;
  if (Send("WATCHDOG=1")) last_ping_ = now;
}

void SystemdNotifier::SendWithStatus(const std::string& state, const std::string& status) {
  if (!enabled()) return;
  std::string line = OneLine(status);
  bool with_state = !state.empty() && main_process_;
  if (!with_state && last_status_ == line) return;
  // A failed send leaves the last status as it was, so the next call retries.
  if (Send((with_state ? state + "\n" : "") + "STATUS=" + line)) last_status_ = line;
}

bool SystemdNotifier::Send(const std::string& message) {
  int sent = sd_notify(0, message.c_str());
  if (sent > 0) return true;
  // Once: the master would otherwise log on every 200 ms tick; and never
  // fatal, a service that cannot report still serves.
  if (!warned_) {
    warned_ = true;
    std::string what = message.substr(0, message.find('\n'));
    THRIFTD_LOG(kWarning)
        << "cannot notify systemd (further failures are not logged): "
        << (sent == 0 ? "sd_notify(" + what + "): NOTIFY_SOCKET is no longer set"
                      : thriftd::Status::FromErrno("sd_notify(" + what + ")", -sent).message());
  }
  return false;
}

}  // namespace thriftd
