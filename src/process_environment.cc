#include "src/process_environment.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace thriftd {

Status ApplyChdir(const Config& config) {
  if (config.chdir.empty()) return Status::Ok();
  if (chdir(config.chdir.c_str()) != 0) {
    return Status::FromErrno("chdir(" + config.chdir + ")", errno)
        .Prepend(config.OriginOf("chdir").Describe());
  }
  return Status::Ok();
}

Status ApplyUmaskAndEnvironment(const Config& config) {
  // umask() cannot fail; the value was checked to be within 0777.
  umask(static_cast<mode_t>(config.umask));
  for (const auto& [name, value] : config.raw_env) {
    // setenv refuses a name holding '=', which KEY=VALUE parsing cannot
    // give, and fails with ENOMEM; either way the line names the setting.
    if (setenv(name.c_str(), value.c_str(), 1) != 0) {
      return Status::FromErrno("setenv(" + name + ")", errno)
          .Prepend(config.OriginOf("raw_env").Describe());
    }
  }
  return Status::Ok();
}

}  // namespace thriftd
