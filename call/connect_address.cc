#include "call/connect_address.h"

namespace thriftd::call {

bool ParseConnectAddress(const std::string& text, UnixSockets unix_sockets, BindAddress* address) {
  BindAddress parsed;
  if (!ParseBindAddress(text, &parsed)) return false;
  switch (parsed.kind) {
    case BindAddress::Kind::kTcp:
      if (parsed.host.empty() || parsed.port == 0 || parsed.last_port != 0) return false;
      break;
    case BindAddress::Kind::kUnix:
      if (unix_sockets == UnixSockets::kRefused) return false;
      break;
    case BindAddress::Kind::kFd:
    case BindAddress::Kind::kSystemd:
      return false;  // a listening socket's, not somewhere to connect to
  }
  *address = std::move(parsed);
  return true;
}

}  // namespace thriftd::call
