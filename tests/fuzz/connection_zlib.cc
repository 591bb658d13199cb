// Fuzz target: a client connection to a worker serving the zlib transport
// (see connection_driver.h): what the fuzzer writes is the client's zlib
// stream, inflated by the connection before the scanner walks it.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/connection_driver.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  thriftd_fuzz::DriveConnection("zlib", data, size);
  return 0;
}
