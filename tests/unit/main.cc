// The unit tests' main: doctest's runner, with thriftd's error log turned
// down so that the arbiter's "Booting worker" lines do not bury the report.
// THRIFTD_TEST_LOG=1 keeps them.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdlib>

#include "src/base/log.h"

int main(int argc, char** argv) {
  if (std::getenv("THRIFTD_TEST_LOG") == nullptr) {
    thriftd::Status status = thriftd::log::Configure("-", thriftd::LogLevel::kCritical);
    (void)status;  // stderr cannot fail to open.
  }
  doctest::Context context(argc, argv);
  return context.run();
}
