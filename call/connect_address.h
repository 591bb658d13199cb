// The address a client connects to: spelled as thriftd's binds are
// (bind_address.h), but naming one endpoint, so what a bind accepts and a
// connection cannot use (a port range, port 0, no host) is refused rather
// than quietly connecting somewhere (a range's first port).
#ifndef THRIFTD_CALL_CONNECT_ADDRESS_H_
#define THRIFTD_CALL_CONNECT_ADDRESS_H_

#include <string>

#include "src/base/bind_address.h"

namespace thriftd::call {

enum class UnixSockets { kAccepted, kRefused };

/// Parses HOST:PORT or [IPv6]:PORT (a host, and one port of 1-65535), or
/// unix:PATH where `unix_sockets` is kAccepted; false for anything else (the caller
/// says what it expected).
[[nodiscard]] bool ParseConnectAddress(const std::string& text, UnixSockets unix_sockets,
                                       BindAddress* address);

}  // namespace thriftd::call

#endif  // THRIFTD_CALL_CONNECT_ADDRESS_H_
