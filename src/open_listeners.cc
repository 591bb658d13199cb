#include "src/open_listeners.h"

#include <cstdlib>
#include <sstream>

#include "src/base/log.h"

namespace thriftd {
namespace {

constexpr char kSystemdPrefix[] = "systemd:";

bool FromSystemd(const InheritedSocket& socket) { return socket.key.rfind(kSystemdPrefix, 0) == 0; }

std::string NamesOf(const std::vector<InheritedSocket>& inherited) {
  std::string names;
  for (const InheritedSocket& socket : inherited) {
    if (!FromSystemd(socket)) continue;
    names += (names.empty() ? "" : ", ") + socket.key.substr(sizeof kSystemdPrefix - 1);
  }
  return names;
}

// The listener for `text`: the inherited socket of that key, or a new one.
Status OpenOne(const std::string& text, int backlog, bool reuse_port,
               const UnixSocketAccess& unix_access, std::vector<InheritedSocket>& inherited,
               Listener* listener) {
  BindAddress address;
  // Validated with the config already; checked all the same.
  if (!ParseBindAddress(text, &address)) return Status::Error("not an address: " + text);
  for (InheritedSocket& socket : inherited) {
    if (!socket.fd.valid() || socket.key != text) continue;
    Status status = AdoptListener(socket.fd.get(), address, listener);
    if (!status.ok()) return status;
    socket.fd.Release();  // the listener's now
    listener->key = text;
    return Status::Ok();
  }
  if (address.kind == BindAddress::Kind::kSystemd) {
    std::string names = NamesOf(inherited);
    return Status::Error("cannot listen on " + text + ": systemd passed no socket named " +
                         address.name +
                         (names.empty() ? " (it passed none: LISTEN_FDS is not set)"
                                        : " (LISTEN_FDNAMES: " + names + ")"));
  }
  Status status = OpenListener(address, backlog, listener, reuse_port, unix_access);
  listener->key = text;
  return status;
}

}  // namespace

std::string ListenersVariable(const std::vector<PassedSocket>& sockets) {
  std::string value;
  for (const PassedSocket& socket : sockets)
    value += std::to_string(socket.fd) + " " + socket.key + "\n";
  return value;
}

Status TakeUpgradeSockets(std::vector<InheritedSocket>* sockets) {
  const char* value = std::getenv(kListenersVariable);
  if (value == nullptr) return Status::Ok();
  std::istringstream lines{std::string(value)};
  unsetenv(kListenersVariable);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    std::size_t space = line.find(' ');
    char* end = nullptr;
    long fd = std::strtol(line.c_str(), &end, 10);
    if (space == std::string::npos || end != line.c_str() + space || fd < 0 || fd > 1 << 20 ||
        space + 1 == line.size()) {
      return Status::Error(std::string(kListenersVariable) +
                           ": expected lines of \"FD BIND\", got \"" + line + "\"");
    }
    sockets->push_back({UniqueFd(static_cast<int>(fd)), line.substr(space + 1)});
  }
  return Status::Ok();
}

Status OpenListeners(const std::vector<std::string>& binds, bool binds_are_default, int backlog,
                     std::vector<InheritedSocket> inherited, std::vector<Listener>* listeners,
                     bool reuse_port, const UnixSocketAccess& unix_access) {
  std::vector<std::string> entries = binds;
  // As gunicorn does under systemd: sockets passed and no bind asked for
  // means serve those.
  if (binds_are_default) {
    std::vector<std::string> passed;
    for (const InheritedSocket& socket : inherited)
      if (FromSystemd(socket)) passed.push_back(socket.key);
    if (!passed.empty()) entries = passed;
  }
  std::vector<Listener> opened;
  for (const std::string& text : entries) {
    Listener listener;
    Status status = OpenOne(text, backlog, reuse_port, unix_access, inherited, &listener);
    if (!status.ok()) {
      RemoveUnixSocketPaths(opened);
      return status;
    }
    opened.push_back(std::move(listener));
  }
  for (const InheritedSocket& socket : inherited) {
    if (socket.fd.valid()) {
      THRIFTD_LOG(kWarning) << "inherited socket " << socket.key << " (descriptor "
                            << socket.fd.get() << ") is not bound by the configuration; closing it";
    }
  }
  *listeners = std::move(opened);
  return Status::Ok();
}

}  // namespace thriftd
