// Fuzz target: a client connection to a worker serving the buffered transport
// (see connection_driver.h).
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/connection_driver.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  thriftd_fuzz::DriveConnection("buffered", data, size);
  return 0;
}
