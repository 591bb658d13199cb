#include "src/start_checks.h"

#include <utility>

#include "src/bind_address.h"
#include "src/listener.h"
#include "src/writable_file.h"

namespace thriftd {
namespace {

// A check's error, prefixed with where setting `name` came from.
Status AtSetting(const Config& config, const std::string& name, Status status) {
  return status.Prepend(config.OriginOf(name).Describe());
}

// Listens on `address`, then closes the socket again.
Status TryListening(const BindAddress& address, int backlog, bool reuse_port) {
  std::vector<Listener> opened(1);
  Status status = OpenListener(address, backlog, &opened[0], reuse_port);
  RemoveUnixSocketPaths(opened);
  return status;
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

Status CheckPidfileDirectory(const Config& config) {
  if (config.pidfile.empty()) return Status::Ok();
  return AtSetting(config, "pidfile", CheckWritable(config.pidfile, FileWrite::kReplace));
}

Status CheckBinds(const Config& config, std::vector<std::string>* inherited) {
  for (const std::string& text : config.bind) {
    BindAddress address;
    // Validated with the config already; checked all the same.
    if (!ParseBindAddress(text, &address))
      return AtSetting(config, "bind", Status::Error("not an address: " + text));
    if (address.kind == BindAddress::Kind::kFd || address.kind == BindAddress::Kind::kSystemd) {
      inherited->push_back(text);
      continue;
    }
    // With reuse_port a port another thriftd of ours listens on is no conflict.
    Status status = TryListening(address, static_cast<int>(config.backlog), config.reuse_port);
    if (!status.ok()) return AtSetting(config, "bind", std::move(status));
  }
  return Status::Ok();
}

Status CheckMetricsBind(const Config& config) {
  if (config.metrics_bind.empty()) return Status::Ok();
  BindAddress address;
  if (!ParseBindAddress(config.metrics_bind, &address))
    return AtSetting(config, "metrics_bind", Status::Error("not an address"));
  // As MetricsServer::Start opens it (its backlog does not matter here).
  return AtSetting(config, "metrics_bind", TryListening(address, 64, false));
}

}  // namespace thriftd
