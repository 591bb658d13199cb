// Fuzz target: the MessageScanner, which decides from a connection's first
// bytes how long the message is, under thriftd's limits, before anything
// is allocated for it. The first byte picks the framing and the encoding
// (0x80 and up: the header protocol's frames inside framed frames).
// Besides not crashing, a scan must not depend on how the bytes arrived:
// the input scanned whole and scanned as it grows a byte at a time (as a
// slow client sends it) must come to the same answer.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "tests/fuzz/allocation_limit.h"
#include "workers/message_scanner.h"

namespace {

using thriftd::MessageScanner;

constexpr std::int64_t kMaxMessage = 64 * 1024;

[[noreturn]] void Fail(const char* what, const MessageScanner::Result& whole,
                       const MessageScanner::Result& grown, std::size_t at) {
  std::fprintf(stderr,
               "message_scanner: %s at %zu bytes: whole scan kind %d length %zu (%s), "
               "growing scan kind %d length %zu (%s)\n",
               what, at, whole.kind, whole.length, whole.error.c_str(), grown.kind, grown.length,
               grown.error.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const MessageScanner::Framing kFramings[] = {MessageScanner::Framing::kBuffered,
                                                      MessageScanner::Framing::kFramed,
                                                      MessageScanner::Framing::kHeader};
  static const MessageScanner::Encoding kEncodings[] = {MessageScanner::Encoding::kBinary,
                                                        MessageScanner::Encoding::kCompact,
                                                        MessageScanner::Encoding::kJson};
  MessageScanner::Framing framing =
      data[0] >= 0x80 ? MessageScanner::Framing::kFramedHeader : kFramings[data[0] % 3];
  MessageScanner::Encoding encoding = kEncodings[(data[0] / 3) % 3];
  MessageScanner::Limits limits{kMaxMessage, kMaxMessage};
  ++data;
  --size;

  // The scanner allocates nothing for a message's content: only its walk.
  thriftd_fuzz::AllocationLimit limit(4096);
  MessageScanner whole_scanner(framing, encoding, limits);
  MessageScanner::Result whole = whole_scanner.Scan(data, size);
  if (whole.kind != MessageScanner::Result::kIncomplete && whole.length > size)
    Fail("an answer past the bytes scanned", whole, whole, size);

  MessageScanner growing(framing, encoding, limits);
  for (std::size_t at = 0; at <= size; ++at) {
    MessageScanner::Result grown = growing.Scan(data, at);
    if (grown.kind == MessageScanner::Result::kIncomplete) {
      if (grown.length <= at) Fail("incomplete, yet needing no more bytes", whole, grown, at);
      continue;
    }
    // The first answer of the growing scan is the whole scan's.
    if (grown.kind != whole.kind || grown.length != whole.length)
      Fail("the answer depends on how the bytes arrived", whole, grown, at);
    return 0;
  }
  if (whole.kind != MessageScanner::Result::kIncomplete)
    Fail("the whole scan answered, the growing one did not", whole, whole, size);
  return 0;
}
