// Fuzz target: the access log's template (access_log_format), and the
// lines it makes from what a client chose: the method name it asked for
// (the peer is the socket's). Input: template NUL method NUL peer.
// Whatever they hold, a call is logged as one line (and one more for each
// newline the operator put in the template).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "src/base/access_log_format.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> parts = thriftd_fuzz::SplitAtNul(data, size);
  parts.resize(std::max<std::size_t>(parts.size(), 3));
  thriftd::AccessLogFormat format;
  if (!thriftd::AccessLogFormat::Parse(parts[0], &format).ok()) return 0;
  thriftd::CallRecord call;
  call.method = parts[1];
  call.peer = parts[2];
  call.seqid = -7;
  call.outcome = thriftd::CallOutcome::kProtocolError;
  call.duration_us = 123;
  call.bytes_in = 45;
  call.bytes_out = 6;
  call.pid = 789;
  std::string line = format.Format(call, 1700000000123456);
  // Only the operator's template may hold a newline (its own choice).
  auto newlines = [](const std::string& text) {
    return std::count(text.begin(), text.end(), '\n');
  };
  if (line.empty() || line.back() != '\n' || newlines(line) != newlines(parts[0]) + 1)
    thriftd_fuzz::Fail("access_log_format: a call made other than one line: " + line);
  return 0;
}
