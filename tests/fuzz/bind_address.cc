// Fuzz target: bind-address parsing (-b, bind:, metrics_bind). An address
// that parses must print in a form that parses back to the same address.
#include <cstddef>
#include <cstdint>
#include <string>

#include "src/base/bind_address.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  thriftd::BindAddress address;
  if (!thriftd::ParseBindAddress(text, &address)) return 0;
  std::string printed = address.ToString();
  thriftd::BindAddress again;
  if (!thriftd::ParseBindAddress(printed, &again) || again.ToString() != printed)
    thriftd_fuzz::Fail("bind_address: " + text + " parses, but its spelling " + printed +
                       " does not parse back to it");
  return 0;
}
