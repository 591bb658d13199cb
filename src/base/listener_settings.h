// ListenerSettings: the settings one listener's connections are served
// with, the per-listener part of a worker's settings. The master fills one
// per listening socket from the configuration of the worker's generation (a
// kListener setting's own value, unless the listener's bind entry sets its
// own: src/bind_entry.h) and hands them over with the fork, in the order of
// the worker's listen fds.
//
// Its fields are generated: one per row of THRIFTD_SETTINGS
// (src/base/setting_list.h) whose scope is kListener, with the row's name,
// C++ type and default. A default-constructed ListenerSettings holds the
// defaults.
#ifndef THRIFTD_SRC_BASE_LISTENER_SETTINGS_H_
#define THRIFTD_SRC_BASE_LISTENER_SETTINGS_H_

#include <cstdint>
#include <map>
#include <string>

#include "src/base/setting_list.h"

namespace thriftd {

struct ListenerSettings {
  /// The listener's bind address as configured ("127.0.0.1:9090",
  /// "systemd:web"): what a connection handed over between workers (and
  /// masters, in a binary upgrade) names its listener by.
  std::string key;

#define THRIFTD_LISTENER_SETTINGS_FIELD(name, flag, short_flag, kind, type, default_value, \
                                        choices, range, metavar, section, scope, help)     \
  THRIFTD_IF_LISTENER_SCOPE(scope, type name = default_value;)
  THRIFTD_SETTINGS(THRIFTD_LISTENER_SETTINGS_FIELD)
#undef THRIFTD_LISTENER_SETTINGS_FIELD
};

}  // namespace thriftd

#endif  // THRIFTD_SRC_BASE_LISTENER_SETTINGS_H_
