// InflateHeaderFrame: a header frame the zlib transform compressed becomes
// the same frame uncompressed, which Apache Thrift's THeaderTransport reads
// as the call the client sent; what does not inflate, or inflates past the
// frame size limit, is refused without Thrift seeing it.
#include "workers/header_inflate.h"

#include <doctest/doctest.h>

#include <zlib.h>

#include <cstdint>
#include <string>

#include <thrift/protocol/THeaderProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/THeaderTransport.h>

#include "tests/unit/worker_fixture.h"

namespace thriftd {
namespace {

using apache::thrift::protocol::T_CALL;
using apache::thrift::protocol::THeaderProtocol;
using apache::thrift::transport::TFramedTransport;
using apache::thrift::transport::THeaderTransport;
using apache::thrift::transport::TMemoryBuffer;
using apache::thrift::transport::TTransport;

constexpr std::int64_t kMaxFrame = 16384000;

/// An echo call as a header client with the zlib transform writes it
/// (over framed: inside a framed frame, as Apache Thrift's TestClient).
std::string ZlibEchoCall(const std::string& data, bool framed, int transforms = 1) {
  auto memory = std::make_shared<TMemoryBuffer>();
  std::shared_ptr<TTransport> below = memory;
  if (framed) below = std::make_shared<TFramedTransport>(memory);
  THeaderProtocol protocol(below);
  auto header = std::static_pointer_cast<THeaderTransport>(protocol.getTransport());
  for (int i = 0; i < transforms; ++i) header->setTransform(THeaderTransport::ZLIB_TRANSFORM);
  header->setHeader("trace", "abc");
  pingpong::PingPong_echo_pargs args;
  args.data = &data;
  protocol.writeMessageBegin("echo", T_CALL, 9);
  args.write(&protocol);
  protocol.writeMessageEnd();
  header->flush();
  return memory->getBufferAsString();
}

/// What a THeaderProtocol server reads from `bytes`: the echo call's data.
std::string ReadEcho(const std::string& bytes, bool framed, std::string* trace) {
  auto memory = std::make_shared<TMemoryBuffer>(
      reinterpret_cast<std::uint8_t*>(const_cast<char*>(bytes.data())),
      static_cast<std::uint32_t>(bytes.size()), TMemoryBuffer::COPY);
  std::shared_ptr<TTransport> below = memory;
  if (framed) below = std::make_shared<TFramedTransport>(memory);
  THeaderProtocol protocol(below);
  std::string name;
  apache::thrift::protocol::TMessageType type;
  std::int32_t seqid = 0;
  protocol.readMessageBegin(name, type, seqid);
  CHECK(name == "echo");
  CHECK(seqid == 9);
  std::string data;
  pingpong::PingPong_echo_args args;
  args.read(&protocol);
  protocol.readMessageEnd();
  auto header = std::static_pointer_cast<THeaderTransport>(protocol.getTransport());
  *trace = header->getHeaders().count("trace") != 0 ? header->getHeaders().at("trace") : "";
  CHECK(memory->available_read() == 0);
  return args.data;
}

Status Inflate(const std::string& message, std::size_t prefix, std::string* out,
               std::int64_t max_frame = kMaxFrame) {
  return InflateHeaderFrame(reinterpret_cast<const std::uint8_t*>(message.data()), message.size(),
                            prefix, max_frame, out);
}

TEST_CASE("a zlib header frame is inflated into the same call, over header and over framed") {
  std::string data(100000, 'z');
  for (std::size_t i = 0; i < data.size(); i += 7) data[i] = static_cast<char>(i);
  for (bool framed : {false, true}) {
    SUBCASE(framed ? "framed" : "header") {
      std::string call = ZlibEchoCall(data, framed);
      CHECK(call.size() < data.size() / 2);  // it was compressed
      std::string inflated;
      REQUIRE(Inflate(call, framed ? 4 : 0, &inflated).ok());
      REQUIRE_FALSE(inflated.empty());
      std::string trace;
      CHECK(ReadEcho(inflated, framed, &trace) == data);
      CHECK(trace == "abc");
    }
  }
}

TEST_CASE("a frame compressed twice is inflated twice") {
  std::string inflated;
  REQUIRE(Inflate(ZlibEchoCall("twice", false, 2), 0, &inflated).ok());
  std::string trace;
  CHECK(ReadEcho(inflated, false, &trace) == "twice");
}

TEST_CASE("a frame without the zlib transform, or no header frame, is left as it is") {
  std::string inflated = "left over";
  REQUIRE(Inflate(ZlibEchoCall("plain", false, 0), 0, &inflated).ok());
  CHECK(inflated.empty());
  REQUIRE(Inflate(thriftd_test::PingCall(1, {"framed", "binary"}), 0, &inflated).ok());
  CHECK(inflated.empty());
  REQUIRE(Inflate(thriftd_test::PingCall(1, {"buffered", "binary"}), 0, &inflated).ok());
  CHECK(inflated.empty());
}

TEST_CASE("regression: zlib data that does not inflate is refused before Thrift reads it") {
  // THeaderTransport 0.17 left the z_stream of such a frame behind: about
  // 7 KiB leaked per frame.
  std::string call = ZlibEchoCall(std::string(1000, 'a'), false);
  std::string broken = call.substr(0, call.size() - 8) + std::string(8, '\xee');
  std::string inflated;
  Status status = Inflate(broken, 0, &inflated);
  REQUIRE_FALSE(status.ok());
  CHECK(status.message().rfind("zlib data does not inflate (", 0) == 0);
  // Cut short: the frame's length says less than the stream needs.
  std::string cut = call.substr(0, call.size() - 20);
  cut[3] = static_cast<char>(cut[3] - 20);
  status = Inflate(cut, 0, &inflated);
  REQUIRE_FALSE(status.ok());
  CHECK(status.message() == "zlib data does not inflate (the stream stops short)");
}

TEST_CASE("regression: a zlib bomb is refused at thrift_max_frame_size, not inflated whole") {
  std::string call = ZlibEchoCall(std::string(5000000, '\0'), false);
  CHECK(call.size() < 10000);
  std::string inflated;
  Status status = Inflate(call, 0, &inflated, 1 << 20);
  REQUIRE_FALSE(status.ok());
  CHECK(status.message().rfind("zlib data inflates past thrift_max_frame_size (", 0) == 0);
  CHECK(inflated.empty());
  CHECK(Inflate(call, 0, &inflated).ok());  // within the default limit it is a call
}

TEST_CASE("the zlib transform mixed with another is refused") {
  std::string call = ZlibEchoCall("x", false);
  // The header after the fixed part: protocol id, transform count 1, id 1.
  REQUIRE(call[15] == '\x01');
  REQUIRE(call[16] == '\x01');
  call[15] = '\x02';
  call[17] = '\x05';  // the first info header's id becomes a second transform: 5
  std::string inflated;
  Status status = Inflate(call, 0, &inflated);
  REQUIRE_FALSE(status.ok());
  CHECK(status.message() == "header transform 5 with the zlib transform is not supported");
}

}  // namespace
}  // namespace thriftd
