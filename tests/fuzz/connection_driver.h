// Drives thriftd's own read path with fuzz bytes: a real Connection (the
// socket reads, the MessageScanner's framing and limits, the transport and
// protocol stack of MakeProtocol, the generated PingPong processor) over a
// socketpair, as a worker serves a client. What the fuzzer writes is the
// client's side of the conversation; the targets connection_buffered,
// connection_framed, connection_header and connection_zlib each fix the
// transport.
#ifndef THRIFTD_TESTS_FUZZ_CONNECTION_DRIVER_H_
#define THRIFTD_TESTS_FUZZ_CONNECTION_DRIVER_H_

#include <cstddef>
#include <cstdint>

namespace thriftd_fuzz {

/// The first byte picks the protocol (binary, compact, json; header too
/// when `transport` is "header" or "framed") and how the rest arrives: at once, or in
/// pieces of 1, 3 or 61 bytes with a turn after each. The rest is sent,
/// then the client's side is shut for writing; the connection must then
/// close within a bounded number of turns, with no allocation above the
/// configured message size (see allocation_limit.h).
void DriveConnection(const char* transport, const std::uint8_t* data, std::size_t size);

}  // namespace thriftd_fuzz

#endif  // THRIFTD_TESTS_FUZZ_CONNECTION_DRIVER_H_
