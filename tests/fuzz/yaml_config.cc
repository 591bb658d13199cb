// Fuzz target: the YAML config loader, through the path thriftd takes
// (ResolveConfig with -c FILE: reading, every setting's parsing, the checks
// across settings). A config that loads must print (--print-config) as YAML
// that loads back to the same config.
#include <cstddef>
#include <cstdint>
#include <string>

#include "src/config.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string directory = thriftd_fuzz::ScratchDirectory();
  const std::string path = directory + "/thriftd.yaml";
  thriftd_fuzz::WriteFile(path, std::string(reinterpret_cast<const char*>(data), size));
  thriftd::Config config;
  if (!thriftd::ResolveConfig({"-c", path}, std::nullopt, &config).ok()) return 0;
  std::string printed = thriftd::PrintConfig(config);
  const std::string reprinted_path = directory + "/printed.yaml";
  thriftd_fuzz::WriteFile(reprinted_path, printed);
  thriftd::Config again;
  thriftd::Status status = thriftd::ResolveConfig({"-c", reprinted_path}, std::nullopt, &again);
  if (!status.ok())
    thriftd_fuzz::Fail("yaml_config: the printed config does not load: " + status.message() + "\n" +
                       printed);
  if (thriftd::PrintConfig(again) != printed)
    thriftd_fuzz::Fail("yaml_config: the printed config loads as another:\n" + printed + "---\n" +
                       thriftd::PrintConfig(again));
  return 0;
}
