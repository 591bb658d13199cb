// Fuzz target: the command line and THRIFTD_CMD_ARGS, through ResolveConfig
// as main() calls it. Input: the words of the command line, each ended by
// a NUL; after the last NUL, the value of THRIFTD_CMD_ARGS (split as a shell
// would by thriftd), absent when the input ends with a NUL. The process
// works in an empty directory, so a relative -c names no file.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "src/config.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)thriftd_fuzz::ScratchDirectory();
  std::vector<std::string> words = thriftd_fuzz::SplitAtNul(data, size);
  std::optional<std::string> environment = std::move(words.back());
  words.pop_back();
  if (environment->empty()) environment.reset();
  thriftd::Config config;
  if (thriftd::ResolveConfig(words, environment, &config).ok()) (void)thriftd::PrintConfig(config);
  return 0;
}
