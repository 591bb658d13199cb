#include "src/base/bind_address.h"

#include <cctype>
#include <cstdlib>

namespace thriftd {
namespace {

bool ParseNumber(const std::string& text, int max, int* out) {
  if (text.empty() || text.size() > 10) return false;
  for (char c : text)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  long n = std::strtol(text.c_str(), nullptr, 10);
  if (n > max) return false;
  *out = static_cast<int>(n);
  return true;
}

bool ValidHostName(const std::string& host) {
  for (char c : host) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_')
      return false;
  }
  return true;
}

}  // namespace

std::string BindAddress::ToString() const {
  switch (kind) {
    case Kind::kUnix:
      return "unix:" + path;
    case Kind::kFd:
      return "fd://" + std::to_string(fd);
    case Kind::kSystemd:
      return "systemd:" + name;
    case Kind::kTcp: {
      std::string ports = std::to_string(port);
      if (last_port != 0) ports += "-" + std::to_string(last_port);
      if (host.find(':') != std::string::npos) return "[" + host + "]:" + ports;
      return (host.empty() ? "0.0.0.0" : host) + ":" + ports;
    }
  }
  return "?";
}

bool ParseBindAddress(const std::string& text, BindAddress* address) {
  BindAddress parsed;
  if (text.rfind("unix:", 0) == 0) {
    parsed.kind = BindAddress::Kind::kUnix;
    parsed.path = text.substr(5);
    if (parsed.path.empty()) return false;
    *address = parsed;
    return true;
  }
  if (text.rfind("systemd:", 0) == 0) {
    parsed.kind = BindAddress::Kind::kSystemd;
    parsed.name = text.substr(8);
    // FileDescriptorName= is printable ASCII without a colon (systemd's
    // rule); thriftd refuses a space as well, so that a bind entry stays one
    // word in the logs and on a command line.
    if (parsed.name.empty() || parsed.name.size() > 255) return false;
    for (char c : parsed.name)
      if (!std::isprint(static_cast<unsigned char>(c)) || c == ':' || c == ' ') return false;
    *address = parsed;
    return true;
  }
  if (text.rfind("fd://", 0) == 0) {
    parsed.kind = BindAddress::Kind::kFd;
    if (!ParseNumber(text.substr(5), 65535, &parsed.fd)) return false;
    *address = parsed;
    return true;
  }
  std::string port_text;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return false;
    parsed.host = text.substr(1, close - 1);
    if (parsed.host.empty() || parsed.host.find(':') == std::string::npos) return false;
    for (char c : parsed.host)
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) return false;
    parsed.host = text.substr(0, colon);
    if (parsed.host.find(':') != std::string::npos || !ValidHostName(parsed.host)) return false;
    port_text = text.substr(colon + 1);
  }
  // FIRST-LAST: a range of real ports (0, the kernel's choice, is no port of one).
  if (std::size_t dash = port_text.find('-'); dash != std::string::npos) {
    if (!ParseNumber(port_text.substr(0, dash), 65535, &parsed.port) ||
        !ParseNumber(port_text.substr(dash + 1), 65535, &parsed.last_port) || parsed.port == 0 ||
        parsed.last_port < parsed.port)
      return false;
    *address = parsed;
    return true;
  }
  if (!ParseNumber(port_text, 65535, &parsed.port)) return false;
  *address = parsed;
  return true;
}

}  // namespace thriftd
