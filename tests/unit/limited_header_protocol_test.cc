// LimitedHeaderProtocol: what it adds to THeaderProtocol's reading of a
// message header (the size limits are tested through connections in
// connection_test.cc).
#include "src/base/limited_header_protocol.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <memory>
#include <string>

#include <thrift/TApplicationException.h>
#include <thrift/transport/TBufferTransports.h>

namespace thriftd {
namespace {

using apache::thrift::TApplicationException;
using apache::thrift::transport::TMemoryBuffer;

std::string Be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

// A header frame whose header holds `protocol_id` (a varint) and no
// transform, padded to four bytes, and no payload.
std::string HeaderFrame(const std::string& protocol_id) {
  std::string header = protocol_id + std::string(1, '\0');  // no transforms
  header.append((4 - header.size() % 4) % 4, '\0');
  std::string frame = std::string("\x0f\xff\x00\x00", 4) + Be32(7) + std::string(1, '\0') +
                      static_cast<char>(header.size() / 4) + header;
  return Be32(static_cast<std::uint32_t>(frame.size())) + frame;
}

// The protocol id the reply in `bytes` (one header frame) names.
int ReplyProtocolId(const std::string& bytes) {
  REQUIRE(bytes.size() > 15);
  CHECK(bytes.substr(4, 2) == "\x0f\xff");
  return static_cast<unsigned char>(bytes[14]);  // a one-byte varint: 0 or 2
}

std::string Exchange(const std::string& frame) {
  auto wire = std::make_shared<TMemoryBuffer>();
  wire->write(reinterpret_cast<const std::uint8_t*>(frame.data()),
              static_cast<std::uint32_t>(frame.size()));
  LimitedHeaderProtocol limited(wire, 1024);
  // As processors call it: through TProtocol (THeaderProtocol's own
  // readMessageBegin, called on the class, is not the override).
  apache::thrift::protocol::TProtocol& protocol = limited;
  std::string name;
  apache::thrift::protocol::TMessageType type;
  std::int32_t seqid = 0;
  CHECK_THROWS_AS(protocol.readMessageBegin(name, type, seqid), TApplicationException);
  return wire->getBufferAsString();
}

TEST_CASE("an unknown protocol id is answered with an exception naming it back") {
  // As THeaderProtocol does: the reply's header carries the client's id.
  std::string reply = Exchange(HeaderFrame("\x05"));
  CHECK(ReplyProtocolId(reply) == 5);
}

TEST_CASE("regression: a negative protocol id is answered, in the protocol the reply is in") {
  // 0xffeb as a varint: -21 as THeaderTransport's int16. Writing it back,
  // THeaderTransport::writeVarint32 never ended and wrote over the stack.
  std::string reply = Exchange(HeaderFrame("\xeb\xff\x03"));
  int id = ReplyProtocolId(reply);
  CHECK((id == 0 || id == 2));  // binary or compact: THeaderProtocol's own
}

}  // namespace
}  // namespace thriftd
