#include "src/start_checks.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "src/base/bind_address.h"
#include "src/bind_entry.h"
#include "src/listener.h"
#include "src/pidfile.h"
#include "src/process_environment.h"
#include "src/writable_file.h"
#include "workers/tls_context.h"
#include "workers/tls_options.h"

namespace thriftd {
namespace {

// A check's error, prefixed with where setting `name` came from.
Status AtSetting(const Config& config, const std::string& name, Status status) {
  return status.Prepend(config.OriginOf(name).Describe());
}

// Listens on `address`, held in *held until the check ends.
Status TryListening(const BindAddress& address, int backlog, bool reuse_port,
                    const UnixSocketAccess& unix_access, std::vector<Listener>* held) {
  held->emplace_back();
  return OpenListener(address, backlog, &held->back(), reuse_port, unix_access);
}

}  // namespace

Status CheckLogFiles(const Config& config) {
  const std::pair<const char*, const std::string*> logs[] = {{"errorlog", &config.errorlog},
                                                             {"accesslog", &config.accesslog}};
  for (const auto& [name, path] : logs) {
    if (path->empty() || *path == "-") continue;
    Status status = CheckWritable(*path, FileWrite::kAppend);
    if (!status.ok()) return AtSetting(config, name, std::move(status));
  }
  return Status::Ok();
}

// One listener's TLS settings; the error names the setting alone: the
// caller says where it was set. Files already loaded for the same options
// (`checked`: listeners sharing the global certfile) are not loaded again.
Status CheckListenerTls(const ListenerSettings& listener, bool unix_socket,
                        std::vector<TlsOptions>* checked, std::string* setting) {
  TlsOptions options = TlsOptionsOf(listener);
  if (!options.enabled()) {
    // Without certfile the listener is plain: a key or CAs given alone
    // were meant for a TLS that is not there.
    const std::pair<const char*, const std::string*> alone[] = {{"keyfile", &listener.keyfile},
                                                                {"ca_certs", &listener.ca_certs}};
    for (const auto& [name, value] : alone) {
      *setting = name;
      if (!value->empty()) return Status::Error("set, but certfile is not (TLS is off)");
    }
    return Status::Ok();
  }
  if (unix_socket) {
    *setting = "certfile";
    return Status::Error("TLS is for TCP listeners; a unix socket is served plain");
  }
  if (std::find(checked->begin(), checked->end(), options) != checked->end()) return Status::Ok();
  std::unique_ptr<TlsContext> context;
  Status status = TlsContext::Create(options, &context, setting);
  if (status.ok()) checked->push_back(options);
  return status;
}

Status CheckTls(const Config& config) {
  std::vector<TlsOptions> checked;
  for (const std::string& text : config.bind) {
    BindEntry entry;
    if (!ParseBindEntry(text, &entry).ok()) continue;  // checked with its source
    auto sets = [&entry](const std::string& name) {
      return std::any_of(entry.options.begin(), entry.options.end(),
                         [&name](const auto& option) { return option.first == name; });
    };
    bool unix_socket = entry.address.rfind("unix:", 0) == 0;
    // A global certfile makes the TCP listeners TLS and leaves unix sockets
    // plain; one a unix entry sets for itself is an error.
    std::string setting;
    Status status = CheckListenerTls(ListenerSettingsOf(config, entry),
                                     unix_socket && sets("certfile"), &checked, &setting);
    if (status.ok()) continue;
    if (sets(setting)) {
      return status.Prepend(config.OriginOf("bind").Describe() + ": " + entry.address + ": " +
                            setting);
    }
    return AtSetting(config, setting, std::move(status));
  }
  return Status::Ok();
}

Status CheckPidfileDirectory(const Config& config) {
  if (config.pidfile.empty()) return Status::Ok();
  Status status = Pidfile::CheckPath(config.pidfile);
  if (status.ok()) status = CheckWritable(config.pidfile, FileWrite::kReplace);
  return AtSetting(config, "pidfile", std::move(status));
}

Status CheckPortFileDirectory(const Config& config) {
  if (config.port_file.empty()) return Status::Ok();
  return AtSetting(config, "port_file", CheckWritable(config.port_file, FileWrite::kReplace));
}

Status CheckListeners(const Config& config, std::vector<std::string>* inherited) {
  std::vector<Listener> held;  // closed as it goes; the unix paths are removed below
  UnixSocketAccess unix_access;
  Status status = ResolveUnixSocketAccess(config, &unix_access);
  if (!status.ok()) return status;
  for (const std::string& text : BindAddresses(config)) {
    BindAddress address;
    // Validated with the config already; checked all the same.
    if (!ParseBindAddress(text, &address)) {
      status = AtSetting(config, "bind", Status::Error("not an address: " + text));
      break;
    }
    if (address.kind == BindAddress::Kind::kFd || address.kind == BindAddress::Kind::kSystemd) {
      inherited->push_back(text);
      continue;
    }
    // With reuse_port a port another thriftd of ours listens on is no conflict.
    status = AtSetting(config, "bind",
                       TryListening(address, static_cast<int>(config.backlog), config.reuse_port,
                                    unix_access, &held));
    if (!status.ok()) break;
  }
  if (status.ok() && !config.metrics_bind.empty()) {
    BindAddress address;
    status = ParseBindAddress(config.metrics_bind, &address)
                 ? TryListening(address, 64, false, {}, &held)  // as MetricsServer::Start opens it
                 : Status::Error("not an address");
    status = AtSetting(config, "metrics_bind", std::move(status));
  }
  RemoveUnixSocketPaths(held);
  return status;
}

}  // namespace thriftd
