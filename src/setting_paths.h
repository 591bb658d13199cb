// Relative paths in settings that come from the config file: they are taken
// from the file's directory, so `app: ./libcalc.so` names the object beside
// the file whatever the working directory is (systemd starts services in /).
// Values from the command line and THRIFTD_CMD_ARGS are not resolved here:
// they stay relative to the working directory, as the user typed them.
// Runs in the master (at start and on HUP).
#ifndef THRIFTD_SRC_SETTING_PATHS_H_
#define THRIFTD_SRC_SETTING_PATHS_H_

#include <string>

#include "src/base/status.h"
#include "src/settings.h"

namespace thriftd {

/// The absolute directory holding `file`, a path as given (relative to the
/// working directory, or absolute). Symbolic links are not followed: the
/// directory is the one the path names. Fails only when the working
/// directory cannot be found (getcwd).
Status DirectoryOf(const std::string& file, std::string* directory);

/// `path` taken from `directory` (absolute); an absolute `path` is kept.
/// "." components and repeated slashes go; ".." stays, since through a
/// symbolic link "a/b/.." need not be "a".
std::string JoinPath(const std::string& directory, const std::string& path);

/// `value`, a value of `setting`, with every relative path in it taken from
/// `directory`: a kFile value (but "" and "-"), the PATH of a kPlugin's
/// PATH.so[:NAME] and of a kWorkerClass custom kind (not a built-in kind's
/// name), the PATH of kBind's unix:PATH entries. Other kinds are returned
/// unchanged.
SettingValue ResolvePaths(const Setting& setting, const SettingValue& value,
                          const std::string& directory);

}  // namespace thriftd

#endif  // THRIFTD_SRC_SETTING_PATHS_H_
